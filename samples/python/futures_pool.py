#!/usr/bin/env python3
"""futures_pool — the work of threads_cpu.py through concurrent.futures,
in a ThreadPoolExecutor or a ProcessPoolExecutor.

Usage: futures_pool.py [threads|processes] [WORKERS=4] [ITERATIONS=2000000]

WORKERS tasks of the same pure-Python loop are submitted to an executor of
WORKERS workers, after a warm-up that makes every worker exist and report
its thread id (threads) or pid (processes).

The trace must show, for threads: one process whose workers (worker_tids)
take turns on the GIL — the object GIL, waited on the longest, and a mean
parallelism over the work of about 1. For processes: every worker process
(worker_pids) with its CPU time, and a mean parallelism of about
min(WORKERS, CPUs). parallelism_x100 / 100 is what this script measured
from the CPU time its tasks report.
"""
import concurrent.futures
import threading
import time

from weftsample import arg, choice, expect, expect_window, spin

USAGE = "[threads|processes] [WORKERS] [ITERATIONS]"


def hello(barrier_s):
    # Keeps each worker busy long enough that every worker gets one call.
    time.sleep(barrier_s)
    import os
    return os.getpid(), threading.get_native_id()


def main():
    mode = choice(1, ["threads", "processes"], USAGE)
    workers = arg(2, 4, 1, 64, USAGE)
    iterations = arg(3, 2000000, 1, 10**9, USAGE)
    executor_type = (concurrent.futures.ThreadPoolExecutor if mode == "threads"
                     else concurrent.futures.ProcessPoolExecutor)

    with executor_type(max_workers=workers) as pool:
        ids = list(pool.map(hello, [0.2] * workers))
        work_start_ns = time.monotonic_ns()
        futures = [pool.submit(spin, iterations) for _ in range(workers)]
        results = [f.result() for f in concurrent.futures.as_completed(futures)]
        work_end_ns = time.monotonic_ns()

    cpu_ns = sum(cpu for _, _, cpu in results)
    expect("mode", mode)
    expect("workers", workers)
    if mode == "threads":
        expect("worker_tids", {tid for _, tid in ids})
    else:
        expect("worker_pids", {pid for pid, _ in ids})
    wall_ns = expect_window(work_start_ns, work_end_ns, cpu_ns)
    print("%d tasks on %d worker %s took %.0f ms and %.0f ms of CPU: %s"
          % (workers, workers, mode, wall_ns / 1e6, cpu_ns / 1e6,
             "one GIL, taking turns." if mode == "threads" else "a GIL each, in parallel."))


if __name__ == "__main__":
    main()
