#!/usr/bin/env python3
"""processes_pool — the work of threads_cpu.py in a multiprocessing.Pool:
each process has its own GIL, so the work runs in parallel.

Usage: processes_pool.py [PROCESSES=4] [ITERATIONS=4000000]

The pool's worker processes are started (and have reported their pids)
before the work begins; then PROCESSES tasks of the same loop as
threads_cpu.py are mapped onto them, one each.

The trace must show: every worker process (worker_pids), with its CPU
time (processes.cpu_ns); and a mean parallelism over the work
(work_start_ns .. work_end_ns, CLOCK_MONOTONIC) of about
min(PROCESSES, CPUs) on an idle machine — parallelism_x100 / 100, which
this script measures from the CPU time of the work the tasks report.
"""
import multiprocessing
import os
import sys
import time


def arg(index, default, low, high):
    if len(sys.argv) <= index:
        return default
    try:
        value = int(sys.argv[index])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        sys.exit("%s: bad argument %r (%d..%d)\nUsage: %s [PROCESSES] [ITERATIONS]"
                 % (sys.argv[0], sys.argv[index], low, high, sys.argv[0]))
    return value


def work(iterations):
    cpu_start_ns = time.process_time_ns()
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return os.getpid(), time.process_time_ns() - cpu_start_ns


def hello(delay_s):
    # Holds each worker long enough that every worker gets one call.
    time.sleep(delay_s)
    return os.getpid()


def main():
    processes = arg(1, 4, 1, 64)
    iterations = arg(2, 4000000, 1, 10**9)
    with multiprocessing.Pool(processes) as pool:
        pids = sorted(set(pool.map(hello, [0.2] * processes, chunksize=1)))
        work_start_ns = time.monotonic_ns()
        results = pool.map(work, [iterations] * processes, chunksize=1)
        work_end_ns = time.monotonic_ns()
        pool.close()
        pool.join()

    cpu_ns = sum(cpu for _, cpu in results)
    wall_ns = work_end_ns - work_start_ns
    print("expect processes %d" % processes)
    print("expect worker_pids %s" % ",".join(str(pid) for pid in pids))
    print("expect work_start_ns %d" % work_start_ns)
    print("expect work_end_ns %d" % work_end_ns)
    print("expect cpu_ms %d" % round(cpu_ns / 1e6))
    print("expect wall_ms %d" % round(wall_ns / 1e6))
    print("expect parallelism_x100 %d" % round(100 * cpu_ns / wall_ns))
    print("%d processes did %d iterations each in %.0f ms using %.0f ms of CPU: "
          "one GIL each, so they ran in parallel." % (processes, iterations, wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
