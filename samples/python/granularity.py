#!/usr/bin/env python3
"""granularity — the same total work cut into tasks that are too small,
or well sized, on a multiprocessing.Pool.

Usage: granularity.py [small|large] [PROCESSES=2] [TASKS=10000] [ITERATIONS=500]

TASKS tasks of ITERATIONS iterations of the pure-Python loop (about 25 µs of
work each) are mapped onto PROCESSES worker processes. small: chunksize 1,
so every task travels alone: pickled, sent through the pool's pipe, taken
off its queue under a lock, its result sent back — the overhead is larger
than the work. large: chunksize TASKS / (4 × PROCESSES), so a worker gets a
few big chunks and computes for milliseconds between two waits.

The trace must show the workers' granularity (CPU time between two
consecutive waits) an order of magnitude apart between the two modes: about
the time of one task for small (tens of µs, plus the overhead's own CPU),
the time of a chunk for large. task_us is the mean CPU time of one task as
measured by the tasks themselves; parallelism_x100 / 100 what this script
measured over the work from the CPU time the tasks report (work only, not
the overhead).
"""
import multiprocessing
import os
import time

from weftsample import arg, choice, expect, expect_window, spin

USAGE = "[small|large] [PROCESSES] [TASKS] [ITERATIONS]"


def hello(delay_s):
    time.sleep(delay_s)   # long enough that every worker gets a call
    return os.getpid()


def main():
    mode = choice(1, ["small", "large"], USAGE)
    processes = arg(2, 2, 1, 64, USAGE)
    tasks = arg(3, 10000, 1, 10**7, USAGE)
    iterations = arg(4, 500, 1, 10**9, USAGE)
    chunksize = 1 if mode == "small" else max(1, tasks // (4 * processes))

    with multiprocessing.Pool(processes) as pool:
        pids = set(pool.map(hello, [0.2] * processes, chunksize=1))
        work_start_ns = time.monotonic_ns()
        results = pool.map(spin, [iterations] * tasks, chunksize=chunksize)
        work_end_ns = time.monotonic_ns()
        pool.close()
        pool.join()

    cpu_ns = sum(cpu for _, _, cpu in results)
    expect("mode", mode)
    expect("processes", processes)
    expect("tasks", tasks)
    expect("chunksize", chunksize)
    expect("worker_pids", pids)
    expect("task_us", round(cpu_ns / tasks / 1e3))
    wall_ns = expect_window(work_start_ns, work_end_ns, cpu_ns)
    print("%d tasks of %.0f µs each, in chunks of %d, took %.0f ms on %d processes: "
          "%.0f ms of it was the tasks' own work." % (tasks, cpu_ns / tasks / 1e3, chunksize,
                                                      wall_ns / 1e6, processes, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
