#!/usr/bin/env python3
"""joblib_loky — the work of threads_cpu.py with joblib.Parallel on its
default backend, loky: a pool of worker processes (started by fork+exec of
a fresh python3), so each has its own GIL.

Usage: joblib_loky.py [JOBS=2] [TASKS=4] [ITERATIONS=2000000]
Needs python3-joblib (scripts/setup installs it).

A warm-up call makes every worker exist and report its pid; then TASKS
tasks of the pure-Python loop are run on JOBS workers.

The trace must show: every worker process (worker_pids) in the trace with
its CPU time, and a mean parallelism over the work of about
min(JOBS, CPUs) (parallelism_x100 / 100, measured by this script).
"""
import os
import time

import joblib

from weftsample import arg, expect, expect_window, spin

USAGE = "[JOBS] [TASKS] [ITERATIONS]"


def hello(delay_s):
    time.sleep(delay_s)   # long enough that every worker gets a call
    return os.getpid()


def main():
    jobs = arg(1, 2, 1, 64, USAGE)
    tasks = arg(2, 4, 1, 10000, USAGE)
    iterations = arg(3, 2000000, 1, 10**9, USAGE)

    with joblib.Parallel(n_jobs=jobs, backend="loky") as parallel:
        pids = set(parallel(joblib.delayed(hello)(0.3) for _ in range(jobs)))
        work_start_ns = time.monotonic_ns()
        results = parallel(joblib.delayed(spin)(iterations) for _ in range(tasks))
        work_end_ns = time.monotonic_ns()

    cpu_ns = sum(cpu for _, _, cpu in results)
    expect("jobs", jobs)
    expect("tasks", tasks)
    expect("worker_pids", pids)
    expect("task_pids", {pid for pid, _, _ in results})
    wall_ns = expect_window(work_start_ns, work_end_ns, cpu_ns)
    print("joblib (loky) ran %d tasks on %d worker processes in %.0f ms using %.0f ms of CPU: "
          "in parallel." % (tasks, len(pids), wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
