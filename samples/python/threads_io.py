#!/usr/bin/env python3
"""threads_io — threads that wait on sockets and sleeps: concurrency
without parallelism.

Usage: threads_io.py [THREADS=4] [ROUNDS=20]

A feeder thread sleeps 10 ms, then sends one byte to each of THREADS
socket pairs, ROUNDS times. Each reader waits for its byte with a timed
recv (a socket with a timeout polls before it reads, GIL released), does a
little work and waits again. So THREADS + 1 threads are alive and in
progress the whole time, and almost none of them is on a CPU: the GIL is
hardly ever contended, because nobody holds it for long.

The trace must show: the readers' waits of kind 'poll' (readers_polls in
all: one per byte at least), the feeder's sleeps (rounds), and a mean
parallelism over the work (work_start_ns .. work_end_ns) far below 1
(parallelism_x100 / 100, measured by this script from its own CPU time).
"""
import socket
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
        sys.exit("%s: bad argument %r (%d..%d)\nUsage: %s [THREADS] [ROUNDS]"
                 % (sys.argv[0], sys.argv[index], low, high, sys.argv[0]))
    return value


def main():
    threads = arg(1, 4, 1, 64)
    rounds = arg(2, 20, 1, 100000)
    pairs = [socket.socketpair() for _ in range(threads)]
    received = [0] * threads
    tids = [0] * threads

    def reader(index):
        tids[index] = threading.get_native_id()
        sock = pairs[index][1]
        sock.settimeout(5.0)
        while received[index] < rounds:
            data = sock.recv(64)
            if not data:
                break
            received[index] += len(data)
            sum(i * i for i in range(200))   # a little work per message

    def feeder():
        for _ in range(rounds):
            time.sleep(0.010)
            for sender, _ in pairs:
                sender.send(b"x")

    readers = [threading.Thread(target=reader, args=(i,), name="reader-%d" % (i + 1))
               for i in range(threads)]
    feed = threading.Thread(target=feeder, name="feeder")
    work_start_ns = time.monotonic_ns()
    cpu_start_ns = time.process_time_ns()
    for thread in readers + [feed]:
        thread.start()
    for thread in readers + [feed]:
        thread.join()
    cpu_ns = time.process_time_ns() - cpu_start_ns
    work_end_ns = time.monotonic_ns()
    for sender, receiver in pairs:
        sender.close()
        receiver.close()

    wall_ns = work_end_ns - work_start_ns
    print("expect readers %d" % threads)
    print("expect reader_tids %s" % ",".join(str(tid) for tid in tids))
    print("expect rounds %d" % rounds)
    print("expect bytes %d" % sum(received))
    print("expect work_start_ns %d" % work_start_ns)
    print("expect work_end_ns %d" % work_end_ns)
    print("expect cpu_ms %d" % round(cpu_ns / 1e6))
    print("expect wall_ms %d" % round(wall_ns / 1e6))
    print("expect parallelism_x100 %d" % round(100 * cpu_ns / wall_ns))
    print("%d readers and a feeder were in progress for %.0f ms but used %.0f ms "
          "of CPU: concurrent, hardly ever parallel." % (threads, wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
