#!/usr/bin/env python3
"""dask_schedulers — the work of threads_cpu.py as a dask graph, computed
by dask's threaded scheduler (a pool of threads: one GIL) or its process
scheduler (a pool of processes: a GIL each).

Usage: dask_schedulers.py [threads|processes] [WORKERS=2] [TASKS=4] [ITERATIONS=2000000]
Needs python3-dask (scripts/setup installs it).

TASKS delayed calls of the pure-Python loop are summed and computed with
scheduler=MODE and num_workers=WORKERS. A warm-up compute first makes the
workers exist.

The trace must show, for threads: the object GIL, waited on the longest by
the workers (task_tids), and a mean parallelism over the work of about 1.
For processes: the worker processes (task_pids) with their CPU time, and a
mean parallelism of about min(WORKERS, CPUs). parallelism_x100 / 100 is what
this script measured from the CPU time its tasks report.
"""
import concurrent.futures
import multiprocessing
import time

import dask

from weftsample import arg, choice, expect, expect_window, spin

USAGE = "[threads|processes] [WORKERS] [TASKS] [ITERATIONS]"


def main():
    mode = choice(1, ["threads", "processes"], USAGE)
    workers = arg(2, 2, 1, 64, USAGE)
    tasks = arg(3, 4, 1, 10000, USAGE)
    iterations = arg(4, 2000000, 1, 10**9, USAGE)

    # The process scheduler would start a new pool for every compute(): give
    # it one, so that the warm-up starts the workers and the work reuses them.
    pool = (concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if mode == "processes" else None)
    # chunksize 1: the process scheduler would send up to 6 tasks as one batch.
    with dask.config.set(scheduler=mode, num_workers=workers, pool=pool, chunksize=1):
        # Warm-up: starts the workers (for processes, each imports dask).
        dask.compute(*[dask.delayed(spin)(1000) for _ in range(4 * workers)])
        work_start_ns = time.monotonic_ns()
        results = dask.compute(*[dask.delayed(spin)(iterations) for _ in range(tasks)])
        work_end_ns = time.monotonic_ns()
    if pool is not None:
        pool.shutdown()

    cpu_ns = sum(cpu for _, _, cpu in results)
    expect("mode", mode)
    expect("workers", workers)
    expect("tasks", tasks)
    if mode == "threads":
        expect("task_tids", {tid for _, tid, _ in results})
    else:
        expect("task_pids", {pid for pid, _, _ in results})
    wall_ns = expect_window(work_start_ns, work_end_ns, cpu_ns)
    print("dask's %s scheduler ran %d tasks on %d workers in %.0f ms using %.0f ms of CPU."
          % (mode, tasks, workers, wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
