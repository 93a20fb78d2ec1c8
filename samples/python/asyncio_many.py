#!/usr/bin/env python3
"""asyncio_many — many coroutines on one event loop, all waiting for I/O.

Usage: asyncio_many.py [COROUTINES=100] [ROUNDS=10]

COROUTINES reader coroutines each wait for a byte on their own socket pair
(loop.sock_recv), ROUNDS times; a feeder coroutine sleeps
(asyncio.sleep) 20 ms, then writes one byte to every pair.
Everything runs on the main thread: while every
coroutine awaits, the event loop blocks in epoll_wait.

The trace must show: one thread (loop_tid) doing all the work, its time
mostly in state io (epoll_wait of kind 'poll' or 'epoll'), no other thread
of the process busy; a mean parallelism over the work far below 1
(parallelism_x100 / 100, measured by this script from its CPU time).
"""
import asyncio
import socket
import threading
import time

from weftsample import arg, expect, expect_window

USAGE = "[COROUTINES] [ROUNDS]"


async def reader(loop, sock, rounds, received, index):
    while received[index] < rounds:
        data = await loop.sock_recv(sock, 64)
        if not data:
            break
        received[index] += len(data)


async def feeder(pairs, rounds):
    for _ in range(rounds):
        await asyncio.sleep(0.020)
        for sender, _ in pairs:
            sender.send(b"x")


async def run(coroutines, rounds):
    loop = asyncio.get_running_loop()
    pairs = [socket.socketpair() for _ in range(coroutines)]
    for sender, receiver in pairs:
        receiver.setblocking(False)
    received = [0] * coroutines
    await asyncio.gather(feeder(pairs, rounds),
                         *(reader(loop, receiver, rounds, received, i)
                           for i, (_, receiver) in enumerate(pairs)))
    for sender, receiver in pairs:
        sender.close()
        receiver.close()
    return sum(received)


def main():
    coroutines = arg(1, 100, 1, 500, USAGE)
    rounds = arg(2, 10, 1, 100000, USAGE)
    work_start_ns = time.monotonic_ns()
    cpu_start_ns = time.process_time_ns()
    received = asyncio.run(run(coroutines, rounds))
    cpu_ns = time.process_time_ns() - cpu_start_ns
    work_end_ns = time.monotonic_ns()

    expect("coroutines", coroutines)
    expect("rounds", rounds)
    expect("bytes", received)
    expect("loop_tid", threading.get_native_id())
    expect("threads", threading.active_count())
    wall_ns = expect_window(work_start_ns, work_end_ns, cpu_ns)
    print("%d coroutines on one event loop were in progress for %.0f ms and used %.0f ms "
          "of CPU: concurrent on one thread, waiting for I/O." % (coroutines, wall_ns / 1e6, cpu_ns / 1e6))


if __name__ == "__main__":
    main()
