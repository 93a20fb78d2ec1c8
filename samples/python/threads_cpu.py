#!/usr/bin/env python3
"""threads_cpu — 4 threads of pure-Python CPU work: bound by the GIL.

Usage: threads_cpu.py [THREADS=4] [ITERATIONS=4000000]

Each worker runs the same arithmetic loop. The workers wait on a barrier
before and after the work, so that during the work they are the only
threads that want the GIL (the main thread sleeps in the barrier, GIL
released). Only one of them runs Python at a time: every 5 ms
(sys.getswitchinterval()) a waiting thread times out and asks the holder
to drop the GIL.

The trace must show: one object `GIL` of kind 'gil' in this process, the
object waited on the longest; GIL waits (kind 'gil') by each of the
workers, far fewer than the 5 ms timeouts they merge; and a mean
parallelism over the work (work_start_ns .. work_end_ns, CLOCK_MONOTONIC)
of about 1 — parallelism_x100 / 100, which this script measures itself
from its own CPU time.
"""
import sys
import threading
import time


def arg(index, default, low, high):
    if len(sys.argv) <= index:
        return default
    try:
        value = int(sys.argv[index])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        sys.exit("%s: bad argument %r (%d..%d)\nUsage: %s [THREADS] [ITERATIONS]"
                 % (sys.argv[0], sys.argv[index], low, high, sys.argv[0]))
    return value


def work(iterations):
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def main():
    threads = arg(1, 4, 1, 64)
    iterations = arg(2, 4000000, 1, 10**9)
    start = threading.Barrier(threads + 1)
    end = threading.Barrier(threads + 1)
    tids = [0] * threads

    def worker(index):
        tids[index] = threading.get_native_id()
        start.wait()
        work(iterations)
        end.wait()

    workers = [threading.Thread(target=worker, args=(i,), name="worker-%d" % (i + 1))
               for i in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    work_start_ns = time.monotonic_ns()
    cpu_start_ns = time.process_time_ns()
    end.wait()
    cpu_ns = time.process_time_ns() - cpu_start_ns
    work_end_ns = time.monotonic_ns()
    for thread in workers:
        thread.join()

    wall_ns = work_end_ns - work_start_ns
    print("expect workers %d" % threads)
    print("expect worker_tids %s" % ",".join(str(tid) for tid in tids))
    print("expect switch_interval_us %d" % round(sys.getswitchinterval() * 1e6))
    print("expect work_start_ns %d" % work_start_ns)
    print("expect work_end_ns %d" % work_end_ns)
    print("expect cpu_ms %d" % round(cpu_ns / 1e6))
    print("expect wall_ms %d" % round(wall_ns / 1e6))
    print("expect parallelism_x100 %d" % round(100 * cpu_ns / wall_ns))
    print("%d threads did %d iterations each in %.0f ms using %.0f ms of CPU: "
          "the GIL let only one of them run at a time."
          % (threads, iterations, wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
