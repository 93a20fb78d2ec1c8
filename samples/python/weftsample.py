"""weftsample — what the Python samples share (imported from the script's
own directory; not a sample itself).

Every sample prints its ground truth as lines `expect KEY VALUE` on stdout,
then one sentence (the convention of samples/sample.h): counted or measured
by the program itself, never constants it merely claims. The work window
(work_start_ns .. work_end_ns) is on CLOCK_MONOTONIC, the trace's clock.
"""
import os
import sys
import time


def arg(index, default, low, high, usage):
    """sys.argv[index] as an integer in [low, high], or default; exits 2 on bad input."""
    if len(sys.argv) <= index:
        return default
    try:
        value = int(sys.argv[index])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        sys.exit("%s: bad argument %r (%d..%d)\nUsage: %s %s"
                 % (sys.argv[0], sys.argv[index], low, high, sys.argv[0], usage))
    return value


def choice(index, choices, usage):
    """sys.argv[index], which must be one of choices (the first is the default)."""
    if len(sys.argv) <= index:
        return choices[0]
    if sys.argv[index] not in choices:
        sys.exit("%s: bad argument %r (one of %s)\nUsage: %s %s"
                 % (sys.argv[0], sys.argv[index], ", ".join(choices), sys.argv[0], usage))
    return sys.argv[index]


def spin(iterations):
    """The CPU-bound work of every sample: a pure-Python loop (holds the GIL).
    Returns (pid, tid, CPU ns this call used on its thread)."""
    cpu_start_ns = time.thread_time_ns()
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return os.getpid(), _native_id(), time.thread_time_ns() - cpu_start_ns


def _native_id():
    import threading
    return threading.get_native_id()


def expect(key, value):
    if isinstance(value, (list, tuple, set)):
        value = ",".join(str(v) for v in sorted(value))
    print("expect %s %s" % (key, value), flush=True)


def expect_window(work_start_ns, work_end_ns, cpu_ns):
    """The work window and the parallelism the program measured in it."""
    wall_ns = max(1, work_end_ns - work_start_ns)
    expect("work_start_ns", work_start_ns)
    expect("work_end_ns", work_end_ns)
    expect("cpu_ms", round(cpu_ns / 1e6))
    expect("wall_ms", round(wall_ns / 1e6))
    expect("parallelism_x100", round(100 * cpu_ns / wall_ns))
    return wall_ns
