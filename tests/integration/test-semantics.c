/* test-semantics.c — the traced program is never harmed, and the trace says
 * what happened, for programs that go where ordinary threads do not:
 * process-shared locks and semaphores, a library unloaded under a lock the
 * agent has seen, a program that closes every descriptor, exec from a
 * non-main thread, raw clone(2), and a child started without LD_PRELOAD.
 *
 * Every test checks the program's own verdict (exit status, output), then
 * concrete rows of the trace. Each check named after a defect this file
 * found (libunwind's pipe, the exec'ing thread's slice, phantom holders,
 * image names, reused pthread_t, raw clone counters) fails if it returns. */
#include <string.h>

#include "weft-test-util.h"

/* Pairs of on-CPU slices that overlap on one CPU (a CPU runs one thread at
 * a time, so any is a reconstruction error). */
static gint64
cpu_overlaps (WeftRun *run)
{
  return weft_test_query_int (run,
           "SELECT count(*) FROM cpu_slices a JOIN cpu_slices b"
           " ON a.cpu = b.cpu AND a.rowid < b.rowid"
           " AND a.start_ns < b.end_ns AND b.start_ns < a.end_ns");
}

/* Threads the trace never saw end: in a finished program, every thread
 * ended, and one that did not counts as alive to the end of the trace. */
static gint64
threads_unended (WeftRun *run)
{
  return weft_test_query_int (run, "SELECT count(*) FROM threads WHERE end_ns IS NULL");
}

static void
assert_threads_sound (WeftRun *run)
{
  g_assert_cmpint (cpu_overlaps (run), ==, 0);
  g_assert_cmpint (threads_unended (run), ==, 0);
}

/* ---------------------------------------------------------------------- */
/* Process-shared objects. */

/* The 'mutex' waits of the main thread of process pid, all on the object of
 * that process at address, between rounds and rounds + busy of them; and
 * the acquisitions its object_stats count. */
static void
assert_pshared_side (WeftRun *run,
                     gint64   pid,
                     gint64   address,
                     gint64   rounds,
                     gint64   busy,
                     gint64   acquisitions)
{
  static const char waits_of_main[] =
    " FROM waits w JOIN threads t ON t.id = w.thread_id"
    " JOIN processes p ON p.id = t.process_id"
    " WHERE p.pid = %d AND t.tid = %d AND w.kind = 'mutex'";
  g_autofree char *count_sql = g_strconcat ("SELECT count(*)", waits_of_main, NULL);
  g_autofree char *objects_sql = g_strconcat ("SELECT count(DISTINCT w.object_id)", waits_of_main, NULL);
  g_autofree char *own_sql = g_strconcat ("SELECT count(*)", waits_of_main,
                                          " AND w.object_id IN (SELECT o.id FROM objects o"
                                          " WHERE o.process_id = p.id AND o.address = %lld"
                                          " AND o.kind = 'mutex')", NULL);
  gint64 waits = weft_test_query_int (run, count_sql, (int) pid, (int) pid);

  g_assert_cmpint (waits, >=, rounds);
  g_assert_cmpint (waits, <=, rounds + busy);
  g_assert_cmpint (weft_test_query_int (run, objects_sql, (int) pid, (int) pid), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, own_sql, (int) pid, (int) pid, (long long) address),
                   ==, waits);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT sum(s.acquisitions) FROM object_stats s"
                     " JOIN objects o ON o.id = s.object_id JOIN processes p ON p.id = o.process_id"
                     " WHERE p.pid = %d AND o.address = %lld",
                     (int) pid, (long long) address), ==, acquisitions);
}

static void
test_pshared_mutex (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "3", "20000", NULL };
  gint64 root, child, address, rounds;

  g_test_summary ("A PTHREAD_PROCESS_SHARED mutex in MAP_SHARED memory contended by a parent "
                  "and its forked child: mutual exclusion holds (the program checks its "
                  "counter), each process's waits are in the trace on its own object at the "
                  "shared address (objects are per process, schema/weft.sql), and the lock "
                  "counters match the program's");
  run = weft_test_record (NULL, "pshared-mutex", args);
  weft_test_assert_complete (run, 0);
  g_assert_cmpint (weft_test_expect_int (run, "counter"), ==, 2 * 20000);
  root = weft_test_query_int (run, "SELECT pid FROM processes WHERE parent_id IS NULL");
  child = weft_test_expect_int (run, "child_pid");
  address = weft_test_expect_int (run, "lock_address");
  rounds = weft_test_expect_int (run, "rounds");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes r ON r.id = c.parent_id"
                     " WHERE r.parent_id IS NULL AND c.pid = %d AND c.instrumented = 1"
                     " AND c.exit_status = 0 AND r.instrumented = 1 AND r.exit_status = 0",
                     (int) child), ==, 1);

  assert_pshared_side (run, root, address, rounds, weft_test_expect_int (run, "parent_busy"),
                       weft_test_expect_int (run, "parent_acquisitions"));
  assert_pshared_side (run, child, address, rounds, weft_test_expect_int (run, "child_busy"),
                       weft_test_expect_int (run, "child_acquisitions"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(DISTINCT process_id) FROM objects"
                     " WHERE kind = 'mutex' AND address = %lld", (long long) address), ==, 2);
  g_assert_cmpint (cpu_overlaps (run), ==, 0);

  /* The holder of each wait is the other process's main thread, found in
   * that process: no thread is made up in the waiter's process for the
   * owner's tid (schema/weft.sql, waits.holder_thread_id). */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"), ==, 2);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " JOIN processes hp ON hp.id = h.process_id"
                     " WHERE h.process_id = t.process_id OR h.tid <> hp.pid"), ==, 0);
  /* The contended waits of the rounds, at least, name it. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " WHERE w.kind = 'mutex' AND h.process_id <> t.process_id"), >=, 2 * rounds);
}

/* The 'sem' waits ending with `result` of the main thread of process pid on
 * that process's object at address. */
static gint64
sem_waits (WeftRun    *run,
           gint64      pid,
           gint64      address,
           const char *result)
{
  return weft_test_query_int (run,
           "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
           " JOIN processes p ON p.id = t.process_id JOIN objects o ON o.id = w.object_id"
           " WHERE p.pid = %d AND t.tid = %d AND w.kind = 'sem' AND w.result = %Q"
           " AND o.kind = 'sem' AND o.address = %lld AND o.process_id = p.id",
           (int) pid, (int) pid, result, (long long) address);
}

static void
test_pshared_sem (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 root, child, unnamed, named;

  g_test_summary ("Process-shared semaphores (sem_init pshared = 1 in shared memory, and "
                  "sem_open): each process blocks in sem_wait once on each until the other "
                  "posts; the calls answer as they must (EAGAIN, ETIMEDOUT, values 0, "
                  "checked by the program); every wait is in the trace with its result");
  run = weft_test_record (NULL, "pshared-sem", NULL);
  weft_test_assert_complete (run, 0);
  assert_threads_sound (run);
  root = weft_test_query_int (run, "SELECT pid FROM processes WHERE parent_id IS NULL");
  child = weft_test_expect_int (run, "child_pid");
  unnamed = weft_test_expect_int (run, "unnamed_address");
  named = weft_test_expect_int (run, "named_address");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"
                                             " WHERE instrumented = 1 AND exit_status = 0"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"), ==, 2);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"
                                             " WHERE pid = %d AND parent_id IS NOT NULL",
                                        (int) child), ==, 1);

  g_assert_cmpint (sem_waits (run, root, unnamed, "ok"), ==, 1);
  g_assert_cmpint (sem_waits (run, root, named, "ok"), ==, 1);
  g_assert_cmpint (sem_waits (run, child, unnamed, "ok"), ==, 1);
  g_assert_cmpint (sem_waits (run, child, named, "ok"), ==, 1);
  g_assert_cmpint (sem_waits (run, root, unnamed, "timeout"),
                   ==, weft_test_expect_int (run, "parent_timeouts"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'sem'"),
                   ==, 2 * weft_test_expect_int (run, "sem_waits_per_process")
                       + weft_test_expect_int (run, "parent_timeouts"));
  /* The failed sem_trywait calls are no acquisition. */
  g_assert_cmpint (weft_test_query_int (run, "SELECT sum(acquisitions) FROM object_stats"), ==, 4);
}

/* ---------------------------------------------------------------------- */
/* A library unloaded under the agent's feet. */

static void
test_dlclose_reopen (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "3", NULL };
  gint64 loads, distinct;

  g_test_summary ("A mutex inside a dlopen'ed library, contended, then the library "
                  "dlclose'd and loaded again at another address, three times: the "
                  "program's output is intact, and each wait is on an object named "
                  "sample_lib_mutex with the library's function on its stack, although "
                  "that copy of the library was gone when weft finalized");
  run = weft_test_record (NULL, "dlclose-reopen", args);
  weft_test_assert_complete (run, 0);
  assert_threads_sound (run);
  loads = weft_test_expect_int (run, "loads");
  distinct = weft_test_expect_int (run, "distinct_addresses");
  g_assert_cmpint (loads, ==, 3);
  g_assert_cmpint (weft_test_expect_int (run, "unloaded"), ==, loads);
  g_assert_cmpint (distinct, >=, 1);
  g_assert_nonnull (strstr (run->out, "unloaded a library's mutex 3 times"));

  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(DISTINCT w.thread_id) FROM waits w"
                     " JOIN threads t ON t.id = w.thread_id JOIN threads h ON h.id = w.holder_thread_id"
                     " JOIN objects o ON o.id = w.object_id"
                     " WHERE w.kind = 'mutex' AND t.name LIKE 'waiter-%%' AND h.name = 'main'"
                     " AND o.kind = 'mutex' AND o.name = 'sample_lib_mutex'"),
                   ==, weft_test_expect_int (run, "mutex_waits"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'mutex'"),
                   ==, weft_test_expect_int (run, "mutex_waits"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM objects WHERE name = 'sample_lib_mutex'"), ==, distinct);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w WHERE w.kind = 'mutex' AND EXISTS"
                     " (SELECT 1 FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id"
                     "  WHERE sf.stack_id = w.stack_id AND sf.depth = 0"
                     "  AND f.function = 'sample_lib_lock'"
                     "  AND f.module LIKE '%%/libsample-lock-lib.so')"), ==, loads);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM modules WHERE path LIKE '%%/libsample-lock-lib.so'"),
                   ==, distinct);

  /* `main` joined waiter-1, -2 and -3 in turn; each new thread got the
   * stack (so the pthread_t) of the one joined before, and each join names
   * the thread that had it then. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(DISTINCT h.name) FROM waits w JOIN threads h ON h.id = w.holder_thread_id"
                     " WHERE w.kind = 'join' AND h.name LIKE 'waiter-%%'"), ==, loads);
}

/* ---------------------------------------------------------------------- */
/* Every descriptor closed. */

/* The trace of close-fds: the three waits before and after the closing,
 * with holder main, by four threads that all ended. */
static void
assert_close_fds_trace (WeftRun *run)
{
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"),
                   ==, weft_test_expect_int (run, "threads"));
  assert_threads_sound (run);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " WHERE w.kind = 'mutex' AND w.result = 'ok' AND h.name = 'main'"
                     " AND t.name IN ('before', 'after-1', 'after-2')"),
                   ==, weft_test_expect_int (run, "contended_waits"));
  g_assert_cmpint (weft_test_expect_int (run, "contended_waits"), ==, 3);
  g_assert_cmpint (weft_test_query_int (run, "SELECT exit_status FROM processes"),
                   ==, weft_test_expect_int (run, "exit_status"));
}

static void
test_close_fds (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "5", NULL };

  g_test_summary ("A program closes every descriptor (close_range and close of 0...1023 but "
                  "stdout and stderr), opens two pipes of its own and takes contended locks "
                  "in new threads: the agent keeps nothing open, so every event before and "
                  "after is recorded, nothing lost; and the program's own descriptors must "
                  "stay its own");
  run = weft_test_record (NULL, "close-fds", args);
  /* The program's verdict decides its status: 5, or 1 when its pipes were
   * tampered with. */
  weft_test_assert_complete (run, (int) weft_test_expect_int (run, "exit_status"));
  assert_close_fds_trace (run);
  g_assert_cmpint (weft_test_expect_int (run, "foreign_fds_at_end"), <=, 2);
  /* libunwind (agent/weft-stack.c) keeps a pipe to validate addresses and
   * re-opens it when the program closed it: it closes the descriptor
   * numbers it remembers, which are now the program's own. */
  /* libunwind's address-validation pipe once took over the program's own
   * descriptors (agent/weft-stack.c moves it out of their way). */
  g_assert_cmpint (weft_test_expect_int (run, "own_fds_intact"), ==, 1);
  g_assert_cmpint (run->exit_status, ==, 5);
}

static void
test_close_fds_no_stacks (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *record_args[] = { "--no-stacks", NULL };
  const char *args[] = { "5", NULL };

  g_test_summary ("The same program recorded with --no-stacks: the agent itself keeps no "
                  "descriptor, so the program's pipes are untouched, it exits 5, nothing is "
                  "left open behind it, and every wait is recorded");
  run = weft_test_record (record_args, "close-fds", args);
  weft_test_assert_complete (run, 5);
  g_assert_cmpint (weft_test_expect_int (run, "own_fds_intact"), ==, 1);
  g_assert_cmpint (weft_test_expect_int (run, "foreign_fds_at_end"), ==, 0);
  assert_close_fds_trace (run);
}

/* ---------------------------------------------------------------------- */
/* exec and clone. */

static void
test_exec_thread (void)
{
  g_autoptr (WeftRun) run = NULL;
  g_autofree char *exec_thread = weft_test_sample_path ("exec-thread");
  g_autofree char *child_poll = weft_test_sample_path ("child-poll");
  g_autofree char *command = NULL;
  const char *argv[] = { exec_thread, child_poll, "30", "3", NULL };
  gint64 pid, execer;

  g_test_summary ("A non-main thread of a multithreaded process execs another program: "
                  "that program's output and exit status (3) pass through, and the trace "
                  "holds both images in the one process: the first image's threads and "
                  "contended wait, the second's poll wait");
  run = weft_test_record_argv (NULL, argv);
  weft_test_assert_complete (run, 3);
  pid = weft_test_expect_int (run, "pid");
  execer = weft_test_expect_int (run, "execer_tid");
  g_assert_cmpint (weft_test_expect_int (run, "exit_status"), ==, 3);
  g_assert_cmpstr (weft_test_expect (run, "poll_result"), ==, "timeout");
  g_assert_nonnull (strstr (run->out, "Thread 'execer' runs "));

  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"), ==, 1);
  command = weft_test_query_text (run, "SELECT command FROM processes");
  g_assert_true (g_str_has_suffix (command, "child-poll 30 3"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE pid = %d AND exit_status = 3"
                     " AND instrumented = 1", (int) pid), ==, 1);
  /* First image: its threads (the main thread, tid = pid, is one thread
   * across the exec) and the contended wait of `locker`. */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"),
                   ==, weft_test_expect_int (run, "pre_exec_threads"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM threads WHERE name IN ('locker', 'sleeper')"
                     " AND end_ns IS NOT NULL"), ==, 2);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads WHERE tid = %d",
                                        (int) execer), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE w.kind = 'mutex' AND t.name = 'locker'"),
                   ==, weft_test_expect_int (run, "pre_exec_mutex_waits"));
  /* Second image: the former `execer`, now the main thread. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE w.kind = 'poll' AND w.result = 'timeout' AND t.tid = %d"
                     " AND t.name = 'child-poll'", (int) pid), ==, 1);

  /* The mutex lives in the first image, and is named from its modules. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM objects WHERE kind = 'mutex' AND name = 'lock'"), ==, 1);

  /* The exec'ing thread switched in under its old tid and out under the
   * pid: its slice under the old tid is never closed (until the end of the
   * trace), and nothing ends that thread. */
  /* The exec'ing thread's old tid leaves its CPU and ends at the exec
   * (collector/weft-sched-perf.c, COMM exec). */
  g_assert_cmpint (cpu_overlaps (run), ==, 0);
  g_assert_cmpint (threads_unended (run), ==, 0);
}

static void
test_raw_clone (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 root, thread_tid, child, burn_ns;

  g_test_summary ("Tasks made by clone(2) without pthreads: a thread (CLONE_VM|CLONE_THREAD|"
                  "..., own stack, the creator's TLS) and a process (SIGCHLD only, no atfork "
                  "handlers) run and end as they should. The agent's clone wrapper makes the "
                  "process a traced image of its own (its command, its waits and lock counts "
                  "in it, not in its parent's) and keeps the thread, which shares main's "
                  "thread state, out of main's slot (nothing of it recorded, main's counts "
                  "exact); the trace holds both tasks' CPU time and the child's exit status, "
                  "and the agent records normally afterwards");
  run = weft_test_record (NULL, "raw-clone", NULL);
  weft_test_assert_complete (run, 0);
  assert_threads_sound (run);
  root = weft_test_query_int (run, "SELECT pid FROM processes WHERE parent_id IS NULL");
  thread_tid = weft_test_expect_int (run, "clone_thread_tid");
  child = weft_test_expect_int (run, "clone_child_pid");
  burn_ns = weft_test_expect_int (run, "burn_ms") * 1000000;
  g_assert_cmpint (weft_test_expect_int (run, "clone_child_status"), ==, 4);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));

  /* The thread: in this process, on the CPUs about as long as its own CPU
   * clock counted (half of it is enough: /proc sampling, where perf is not
   * allowed, misses up to a period at each end). By design
   * (agent/weft-hooks-process.c, clone) it is never recorded: it shares
   * main's TLS, so while it lives main's thread state is set aside and both
   * pass through the agent. Its thread_locks acquisitions of `counted` are
   * in no counter: not its own (it has no slot), not main's. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM threads t JOIN processes p ON p.id = t.process_id"
                     " WHERE t.tid = %d AND p.pid = %d", (int) thread_tid, (int) root), ==, 1);
  g_assert_cmpfloat (weft_test_query_double (run,
                       "SELECT sum(s.end_ns - s.start_ns) FROM cpu_slices s"
                       " JOIN threads t ON t.id = s.thread_id WHERE t.tid = %d", (int) thread_tid),
                     >=, burn_ns * 0.5);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE t.tid = %d", (int) thread_tid), ==, 0);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM object_stats s JOIN threads t ON t.id = s.thread_id"
                     " WHERE t.tid = %d", (int) thread_tid), ==, 0);

  /* The process: under the root, instrumented (the agent's clone wrapper
   * ran the fork child's path in it) with the root's command, its exit
   * status from the parent's waitpid, its CPU time, its own sleep waits and
   * its own acquisitions of its copy of `counted` (c.command = r.command
   * also says neither is NULL). */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes r ON r.id = c.parent_id"
                     " WHERE c.pid = %d AND r.parent_id IS NULL AND c.exit_status = %d"
                     " AND c.instrumented = 1 AND c.uninstrumented_reason IS NULL"
                     " AND c.command = r.command",
                     (int) child, (int) weft_test_expect_int (run, "clone_child_status")), ==, 1);
  g_assert_cmpfloat (weft_test_query_double (run,
                       "SELECT sum(s.end_ns - s.start_ns) FROM cpu_slices s"
                       " JOIN threads t ON t.id = s.thread_id JOIN processes p ON p.id = t.process_id"
                       " WHERE p.pid = %d", (int) child), >=, burn_ns * 0.5);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN processes p ON p.id = t.process_id"
                     " WHERE p.pid = %d AND t.tid = %d AND w.kind = 'sleep'", (int) child, (int) child),
                   ==, weft_test_expect_int (run, "child_sleeps"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN processes p ON p.id = t.process_id WHERE p.pid = %d", (int) child),
                   ==, weft_test_expect_int (run, "child_sleeps"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT sum(s.acquisitions) FROM object_stats s JOIN objects o ON o.id = s.object_id"
                     " JOIN threads t ON t.id = s.thread_id JOIN processes p ON p.id = o.process_id"
                     " WHERE o.name = 'counted' AND p.pid = %d AND t.tid = %d", (int) child, (int) child),
                   ==, weft_test_expect_int (run, "child_locks"));

  /* Afterwards, as ever: one contended wait of `worker`, holder `main`. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " WHERE w.kind = 'mutex' AND t.name = 'worker' AND h.tid = %d", (int) root),
                   ==, weft_test_expect_int (run, "contended_waits"));

  /* main's counters hold main's acquisitions only: none of the child's
   * (it has a slot of its own), none of the raw thread's (main's state was
   * set aside while it lived, and given back when it returned). */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT sum(s.acquisitions) FROM object_stats s JOIN objects o ON o.id = s.object_id"
                     " JOIN threads t ON t.id = s.thread_id WHERE o.name = 'counted' AND t.tid = %d",
                     (int) root), ==, weft_test_expect_int (run, "parent_locks"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT sum(s.acquisitions) FROM object_stats s JOIN objects o ON o.id = s.object_id"
                     " JOIN processes p ON p.id = o.process_id WHERE o.name = 'counted' AND p.pid = %d",
                     (int) root), ==, weft_test_expect_int (run, "parent_locks"));
}

/* ---------------------------------------------------------------------- */
/* A child started without LD_PRELOAD. */

static void
test_unset_preload (void)
{
  g_autoptr (WeftRun) run = NULL;
  g_autofree char *unset_preload = weft_test_sample_path ("unset-preload");
  g_autofree char *child_poll = weft_test_sample_path ("child-poll");
  const char *argv[] = { unset_preload, child_poll, "30", "3", "--quiet", NULL };
  static const char *ways[] = { "exec", "execve", "spawn" };

  g_test_summary ("A program unsets LD_PRELOAD and runs a child by execv, by execve with "
                  "an environment of its own and by posix_spawn with an empty one: by "
                  "design (agent/weft-env.c) the whole tree stays traced, so each child "
                  "is in the trace, instrumented, with its status and its poll wait");
  run = weft_test_record_argv (NULL, argv);
  weft_test_assert_complete (run, 0);
  assert_threads_sound (run);
  g_assert_cmpstr (weft_test_expect (run, "parent_preload"), ==, "unset");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  for (guint i = 0; i < G_N_ELEMENTS (ways); i++)
    {
      g_autofree char *pid_key = g_strdup_printf ("%s_pid", ways[i]);
      g_autofree char *status_key = g_strdup_printf ("%s_status", ways[i]);
      gint64 pid = weft_test_expect_int (run, pid_key);

      g_assert_cmpint (weft_test_expect_int (run, status_key), ==, 3);
      g_assert_cmpint (weft_test_query_int (run,
                         "SELECT count(*) FROM processes c JOIN processes r ON r.id = c.parent_id"
                         " WHERE c.pid = %d AND r.parent_id IS NULL AND c.instrumented = 1"
                         " AND c.exit_status = 3 AND c.command LIKE '%%child-poll 30 3 --quiet'",
                         (int) pid), ==, 1);
      g_assert_cmpint (weft_test_query_int (run,
                         "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                         " JOIN processes p ON p.id = t.process_id"
                         " WHERE p.pid = %d AND w.kind = 'poll' AND w.result = 'timeout'",
                         (int) pid), ==, 1);
    }
}

static void
test_unset_preload_env (void)
{
  g_autoptr (WeftRun) run = NULL;
  g_autofree char *unset_preload = weft_test_sample_path ("unset-preload");
  g_autofree char *agent_base = NULL;
  const char *printenv = "/usr/bin/printenv";
  const char *argv[] = { unset_preload, printenv, "LD_PRELOAD", "WEFT_SESSION", NULL };
  const char *agent = g_getenv ("WEFT_AGENT");
  g_auto (GStrv) lines = NULL;
  guint agent_lines = 0;

  g_test_summary ("The same with printenv as the child: what the design costs the program "
                  "is visible, each child's environment has LD_PRELOAD naming the agent "
                  "(and WEFT_SESSION) back, though its parent removed it");
  if (!g_file_test (printenv, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/printenv");
      return;
    }
  g_assert_nonnull (agent);
  run = weft_test_record_argv (NULL, argv);
  weft_test_assert_complete (run, 0);
  for (guint i = 0; i < 3; i++)
    {
      static const char *ways[] = { "exec", "execve", "spawn" };
      g_autofree char *status_key = g_strdup_printf ("%s_status", ways[i]);

      g_assert_cmpint (weft_test_expect_int (run, status_key), ==, 0);
    }
  /* LD_PRELOAD=<agent>: the path the agent was preloaded as. */
  agent_base = g_path_get_basename (agent);
  lines = g_strsplit (run->out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_suffix (lines[i], agent_base))
      agent_lines++;
  g_assert_cmpuint (agent_lines, ==, 3);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE parent_id IS NOT NULL"
                     " AND instrumented = 1 AND exit_status = 0"), ==, 3);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/agent/semantics/pshared-mutex", test_pshared_mutex);
  g_test_add_func ("/agent/semantics/pshared-sem", test_pshared_sem);
  g_test_add_func ("/agent/semantics/dlclose-reopen", test_dlclose_reopen);
  g_test_add_func ("/agent/semantics/close-fds", test_close_fds);
  g_test_add_func ("/agent/semantics/close-fds-no-stacks", test_close_fds_no_stacks);
  g_test_add_func ("/agent/semantics/exec-thread", test_exec_thread);
  g_test_add_func ("/agent/semantics/raw-clone", test_raw_clone);
  g_test_add_func ("/agent/semantics/unset-preload", test_unset_preload);
  g_test_add_func ("/agent/semantics/unset-preload-env", test_unset_preload_env);

  return g_test_run ();
}
