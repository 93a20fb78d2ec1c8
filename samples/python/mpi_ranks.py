#!/usr/bin/env python3
"""mpi_ranks — the work of threads_cpu.py split over MPI ranks (mpi4py):
separate processes started by mpirun, each with its own GIL.

Usage: mpirun -np 2 python3 mpi_ranks.py [ITERATIONS=4000000]
  (as root: mpirun --allow-run-as-root --oversubscribe -np 2 …)
Needs python3-mpi4py and openmpi-bin (scripts/setup installs them).

Every rank runs ITERATIONS / size iterations of the pure-Python loop between
two barriers; rank 0 gathers each rank's pid and CPU time and prints the
expect lines.

The trace (weft record -- mpirun …) must show: mpirun's tree, with every
rank's process (rank_pids) in it, with its threads and CPU slices; and a
mean parallelism over the work of about min(size, CPUs).
"""
import os
import time

from mpi4py import MPI

from weftsample import arg, expect, expect_window, spin


def main():
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    iterations = arg(1, 4000000, 1, 10**9, "[ITERATIONS]")

    comm.Barrier()
    work_start_ns = time.monotonic_ns()
    _, _, cpu_ns = spin(iterations // size)
    comm.Barrier()
    work_end_ns = time.monotonic_ns()

    ranks = comm.gather((os.getpid(), cpu_ns, work_start_ns, work_end_ns), root=0)
    if rank != 0:
        return
    start_ns = min(r[2] for r in ranks)
    end_ns = max(r[3] for r in ranks)
    cpu_ns = sum(r[1] for r in ranks)
    expect("ranks", size)
    expect("rank_pids", {r[0] for r in ranks})
    wall_ns = expect_window(start_ns, end_ns, cpu_ns)
    print("%d MPI ranks shared %d iterations in %.0f ms using %.0f ms of CPU: "
          "one process and one GIL each." % (size, iterations, wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
