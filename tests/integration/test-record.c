/* test-record.c — record every sample with `weft record` and check that the
 * trace says exactly what the sample knows happened (its `expect` lines). */
#include <glib/gstdio.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "weft-test-util.h"

/* Durations the samples measured themselves (ms) against the trace (ns):
 * the two clocks are the same, so only the instrumentation between the
 * sample's reading and ours separates them. */
#define WAIT_TOLERANCE_MS 10

/* The session's shared memory is gone: no chunk file of any process of the
 * trace is left in /dev/shm (it would hold memory until reboot). */
static void
assert_session_removed (WeftRun *run)
{
  sqlite3_stmt *stmt;

  g_assert_cmpint (sqlite3_prepare_v2 (run->db, "SELECT pid FROM processes", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      g_autofree char *pattern = g_strdup_printf ("/dev/shm/weft-*/p%d-*.chunk",
                                                  sqlite3_column_int (stmt, 0));
      glob_t found = { 0 };

      if (glob (pattern, 0, NULL, &found) == 0)
        g_error ("%s is left behind after recording", found.gl_pathv[0]);
      globfree (&found);
    }
  sqlite3_finalize (stmt);
}

static void
assert_recorded (WeftRun *run,
                 int      status)
{
  if (run->exit_status != status)
    g_printerr ("weft record said:\n%s\n", run->err);
  g_assert_cmpint (run->exit_status, ==, status);
  g_assert_nonnull (run->db);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  assert_session_removed (run);
}

static void
assert_no_loss (WeftRun *run)
{
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'lost_events'"), ==, 0);
}

static void
test_mutex_contended (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 waiters, wait_min_ms, wait_max_ms;

  g_test_summary ("Two threads blocked ~100 ms on a mutex held by a named third "
                  "thread give exactly two mutex waits of that length, with that "
                  "holder and the waiting function on the stack");
  run = weft_test_record (NULL, "mutex-contention", NULL);
  assert_recorded (run, 0);
  assert_no_loss (run);

  waiters = weft_test_expect_int (run, "contended_waits");
  wait_min_ms = weft_test_expect_int (run, "wait_ms");
  wait_max_ms = weft_test_expect_int (run, "wait_ms_max");
  g_assert_cmpint (waiters, ==, 2);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'mutex'"),
                   ==, waiters);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT min(end_ns - start_ns) / 1000000 FROM waits WHERE kind = 'mutex'"),
                   >=, wait_min_ms - WAIT_TOLERANCE_MS);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT max(end_ns - start_ns) / 1000000 FROM waits WHERE kind = 'mutex'"),
                   <=, wait_max_ms + WAIT_TOLERANCE_MS);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads h ON h.id = w.holder_thread_id"
                     " WHERE w.kind = 'mutex' AND h.name = %Q",
                     weft_test_expect (run, "holder_thread")), ==, waiters);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(DISTINCT w.thread_id) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE w.kind = 'mutex' AND t.name LIKE 'waiter-%%'"), ==, waiters);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w"
                     " JOIN stack_frames sf ON sf.stack_id = w.stack_id AND sf.depth = 0"
                     " JOIN frames f ON f.id = sf.frame_id"
                     " WHERE w.kind = 'mutex' AND f.function = %Q",
                     weft_test_expect (run, "waiter_function")), ==, waiters);
  /* The holder's one hold of the lock was timed, and lasted what it measured. */
  g_assert_cmpint (labs (weft_test_query_int (run,
                     "SELECT s.hold_ns / 1000000 FROM object_stats s"
                     " JOIN objects o ON o.id = s.object_id JOIN threads t ON t.id = s.thread_id"
                     " WHERE o.name = 'lock' AND t.name = %Q",
                     weft_test_expect (run, "holder_thread"))
                   - weft_test_expect_int (run, "hold_ms")), <=, WAIT_TOLERANCE_MS);
  /* All waits are on one object, the sample's global `lock`. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(DISTINCT object_id) FROM waits WHERE kind = 'mutex'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM objects o JOIN waits w ON w.object_id = o.id"
                     " WHERE w.kind = 'mutex' AND o.kind = 'mutex' AND o.name = 'lock'"), ==, waiters);
}

static void
test_rwlock_contended (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("Readers blocked by a writer give one rdlock wait each, the "
                  "writer blocked by readers one wrlock wait");
  run = weft_test_record (NULL, "rwlock", NULL);
  assert_recorded (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'rdlock'"),
                   ==, weft_test_expect_int (run, "contended_reader_waits"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'wrlock'"),
                   ==, weft_test_expect_int (run, "contended_writer_waits"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT min(end_ns - start_ns) / 1000000 FROM waits WHERE kind = 'rdlock'"),
                   >=, weft_test_expect_int (run, "reader_wait_ms") - WAIT_TOLERANCE_MS);
}

static void
test_cond_count (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("A producer/consumer pair: exactly as many condition waits as the "
                  "program counted, on one condition variable each side");
  run = weft_test_record (NULL, "condvar-pingpong", NULL);
  assert_recorded (run, 0);
  assert_no_loss (run);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'cond'"),
                   ==, weft_test_expect_int (run, "cond_waits"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN objects o ON o.id = w.object_id"
                     " WHERE w.kind = 'cond' AND o.kind = 'cond'"),
                   ==, weft_test_expect_int (run, "cond_waits"));
}

static void
test_barrier_count (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("T threads over P phases: T×P barrier waits");
  run = weft_test_record (NULL, "barrier-phases", NULL);
  assert_recorded (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'barrier'"),
                   ==, weft_test_expect_int (run, "barrier_waits"));
}

static void
test_sem_blocked (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("A semaphore-limited pool: one sem wait per sem_wait that blocked");
  run = weft_test_record (NULL, "semaphore-pool", NULL);
  assert_recorded (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'sem'"),
                   ==, weft_test_expect_int (run, "blocked_sem_waits"));
}

static void
test_cpu_parallel (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "2", "400", NULL };
  double slices_ns, kernel_ns, parallelism;

  g_test_summary ("CPU-bound threads: on-CPU time in cpu_slices within 5% of the "
                  "kernel's CPU time for the process, both CPUs used, nothing lost");
  run = weft_test_record (NULL, "cpu-parallel", args);
  assert_recorded (run, 0);
  assert_no_loss (run);
  slices_ns = weft_test_query_double (run,
                "SELECT sum(s.end_ns - s.start_ns) FROM cpu_slices s"
                " JOIN threads t ON t.id = s.thread_id JOIN processes p ON p.id = t.process_id"
                " WHERE p.parent_id IS NULL");
  kernel_ns = weft_test_query_double (run, "SELECT cpu_ns FROM processes WHERE parent_id IS NULL");
  g_assert_cmpfloat (kernel_ns, >, 0);
  g_assert_cmpfloat (kernel_ns, >=, weft_test_expect_int (run, "cpu_ms") * 1e6 * 0.9);
  g_assert_cmpfloat_with_epsilon (slices_ns / kernel_ns, 1.0, 0.05);
  /* The sample measured its own parallelism (CPU time / wall time of its
   * work); a loaded machine may give it one core, so compare with that fact
   * rather than with the core count. */
  parallelism = weft_test_expect_int (run, "parallelism_x100") / 100.0;
  if (parallelism >= 1.5)
    g_assert_cmpint (weft_test_query_int (run, "SELECT count(DISTINCT cpu) FROM cpu_slices"), >=, 2);
  g_assert_cmpfloat_with_epsilon (weft_test_query_double (run,
                                    "SELECT sum(s.end_ns - s.start_ns) * 1.0"
                                    "       / (max(s.end_ns) - min(s.start_ns))"
                                    "  FROM cpu_slices s JOIN threads t ON t.id = s.thread_id"
                                    " WHERE t.name LIKE 'burner-%%'"),
                                  parallelism, 0.15);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM cpu_slices a JOIN cpu_slices b"
                     " ON a.thread_id = b.thread_id AND a.rowid < b.rowid"
                     " AND a.start_ns < b.end_ns AND b.start_ns < a.end_ns"), ==, 0);
}

static void
test_io_poll (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("A poll on a pipe written after ~50 ms and an epoll_wait that "
                  "times out: one wait each, of the measured length and result");
  run = weft_test_record (NULL, "io-poll", NULL);
  assert_recorded (run, 0);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE w.kind = 'poll' AND w.result = 'ok' AND t.name = %Q",
                     weft_test_expect (run, "io_thread")), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT (end_ns - start_ns) / 1000000 FROM waits WHERE kind = 'poll' AND result = 'ok'"),
                   >=, weft_test_expect_int (run, "poll_wait_ms") - WAIT_TOLERANCE_MS);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits WHERE kind = 'epoll' AND result = 'timeout'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT (end_ns - start_ns) / 1000000 FROM waits WHERE kind = 'epoll'"),
                   >=, weft_test_expect_int (run, "epoll_wait_ms") - WAIT_TOLERANCE_MS);
}

static void
test_fork_exec (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 poll_ms;

  g_test_summary ("fork+exec and posix_spawn from a threaded process: both children "
                  "in the trace under their parent, with exit status and poll wait");
  run = weft_test_record (NULL, "fork-exec", NULL);
  assert_recorded (run, 0);
  poll_ms = weft_test_expect_int (run, "child_poll_ms");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes p ON p.id = c.parent_id"
                     " WHERE p.parent_id IS NULL AND c.command LIKE '%%child-poll%%'"
                     " AND c.exit_status = %d AND c.instrumented = 1",
                     (int) weft_test_expect_int (run, "child_exit_status")), ==, 2);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN processes p ON p.id = t.process_id"
                     " WHERE p.parent_id IS NOT NULL AND w.kind = 'poll'"
                     " AND (w.end_ns - w.start_ns) / 1000000 >= %d",
                     (int) (poll_ms - WAIT_TOLERANCE_MS)), ==, 2);
  /* The waits of the children carry their own stacks. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN processes p ON p.id = t.process_id"
                     " WHERE p.parent_id IS NOT NULL AND w.kind = 'poll' AND w.stack_id IS NOT NULL"
                     " AND EXISTS (SELECT 1 FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id"
                     "             WHERE sf.stack_id = w.stack_id AND f.function = 'main')"), ==, 2);
}

static void
test_exit_status (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "7", NULL };

  g_test_summary ("weft record exits with the program's status, and the trace has it");
  run = weft_test_record (NULL, "exit-status", args);
  assert_recorded (run, 7);
  g_assert_cmpint (weft_test_query_int (run, "SELECT exit_status FROM processes WHERE parent_id IS NULL"),
                   ==, 7);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'mutex'"),
                   ==, weft_test_expect_int (run, "contended_waits"));
}

static void
test_exit_sigkill (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "7", "--kill", NULL };

  g_test_summary ("A program killed by SIGKILL halfway: weft exits 137 and the trace "
                  "holds every wait that ended before the kill");
  run = weft_test_record (NULL, "exit-status", args);
  assert_recorded (run, 128 + 9);
  g_assert_cmpint (weft_test_query_int (run, "SELECT exit_signal FROM processes WHERE parent_id IS NULL"),
                   ==, 9);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'mutex'"),
                   ==, weft_test_expect_int (run, "contended_waits"));
}

static void
test_missing_program (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *argv[] = { "/nonexistent/weft-no-such-program", NULL };

  g_test_summary ("A missing program: a clear error, exit 127, and no trace file");
  run = weft_test_record_argv (NULL, argv);
  g_assert_cmpint (run->exit_status, ==, 127);
  g_assert_null (run->db);
  g_assert_nonnull (strstr (run->err, "weft record: cannot run '/nonexistent/weft-no-such-program'"));
}

static void
test_output_replaced (void)
{
  g_autoptr (WeftRun) run = NULL;
  g_autofree char *old = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { "/bin/echo", "hello, weft", NULL };
  struct stat st;

  g_test_summary ("The program's output passes through unchanged; the trace is "
                  "mode 0600; an existing trace is kept as FILE.old");
  run = weft_test_record_argv (NULL, argv);
  assert_recorded (run, 0);
  g_assert_cmpstr (run->out, ==, "hello, weft\n");
  g_assert_cmpint (g_stat (run->trace_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* Record again into the same file. */
  old = g_strdup_printf ("%s.old", run->trace_path);
  {
    g_autofree char *weft_out = NULL;
    const char *weft = g_getenv ("WEFT");
    const char *again[] = { weft, "record", "-o", run->trace_path, "--", "/bin/true", NULL };
    int status;

    g_assert_true (g_spawn_sync (NULL, (char **) again, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, &weft_out, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_true (g_file_test (old, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (run->trace_path, G_FILE_TEST_IS_REGULAR));
}

static void
test_sched_proc (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *record_args[] = { "--sched=proc", NULL };
  const char *args[] = { "2", "300", NULL };

  g_test_summary ("The /proc fallback records CPU slices and says so in meta");
  run = weft_test_record (record_args, "cpu-parallel", args);
  assert_recorded (run, 0);
  {
    g_autofree char *source = weft_test_query_text (run, "SELECT value FROM meta WHERE key = 'sched_source'");

    g_assert_cmpstr (source, ==, "proc");
  }
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'sched_period_ns'"),
                   >, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM cpu_slices"), >, 0);
}

static void
test_usage_errors (void)
{
  const char *weft = g_getenv ("WEFT");
  const char *no_program[] = { weft, "record", NULL };
  const char *bad_sched[] = { weft, "record", "--sched=magic", "--", "/bin/true", NULL };
  const char *const *cases[] = { no_program, bad_sched };

  g_test_summary ("Usage errors: one line on stderr, exit 2, no trace written");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
      g_autofree char *default_trace = g_build_filename (dir, "weft.db", NULL);
      int status;

      g_assert_true (g_spawn_sync (dir, (char **) cases[i], NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                                   NULL, NULL, NULL, &err, &status, NULL));
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 2);
      g_assert_true (g_str_has_prefix (err, "weft record: "));
      g_assert_cmpint (strlen (err), ==, strchr (err, '\n') - err + 1);
      g_assert_false (g_file_test (default_trace, G_FILE_TEST_EXISTS));
      g_rmdir (dir);
    }
}

static void
test_orphan_outlives_parent (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *argv[] = { "/bin/sh", "-c", "/bin/sleep 0.3 & exit 4", NULL };

  g_test_summary ("A child that outlives its parent is followed to its end: weft "
                  "waits for it, records it, and still exits with the root's status");
  run = weft_test_record_argv (NULL, argv);
  assert_recorded (run, 4);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"), ==, 2);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes p ON p.id = c.parent_id"
                     " WHERE c.command LIKE '%%sleep 0.3' AND c.exit_status = 0"
                     " AND c.end_ns > p.end_ns + 200000000"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT (SELECT value FROM meta WHERE key = 'end_ns')"
                     "     - (SELECT value FROM meta WHERE key = 'start_ns')"), >=, 300000000);
}

static void
test_sigterm_forwarded (void)
{
  const char *weft = g_getenv ("WEFT");
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *trace = g_build_filename (dir, "trace.db", NULL);
  const char *argv[] = { weft, "record", "-o", trace, "--", "/bin/sleep", "30", NULL };
  g_autoptr (GError) error = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  GPid pid;
  int status;

  g_test_summary ("SIGTERM to weft reaches the program; the trace is still written "
                  "and weft exits 128+15 as the program did");
  g_assert_true (g_spawn_async (dir, (char **) argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  g_usleep (300 * 1000);
  kill (pid, SIGTERM);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 128 + SIGTERM);

  g_assert_cmpint (sqlite3_open_v2 (trace, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT exit_signal FROM processes WHERE parent_id IS NULL",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, SIGTERM);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_unlink (trace);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/collector/record/mutex-contended", test_mutex_contended);
  g_test_add_func ("/collector/record/rwlock-contended", test_rwlock_contended);
  g_test_add_func ("/collector/record/cond-count", test_cond_count);
  g_test_add_func ("/collector/record/barrier-count", test_barrier_count);
  g_test_add_func ("/collector/record/sem-blocked", test_sem_blocked);
  g_test_add_func ("/collector/record/cpu-parallel", test_cpu_parallel);
  g_test_add_func ("/collector/record/io-poll", test_io_poll);
  g_test_add_func ("/collector/record/fork-exec", test_fork_exec);
  g_test_add_func ("/collector/record/exit-status", test_exit_status);
  g_test_add_func ("/collector/record/exit-sigkill", test_exit_sigkill);
  g_test_add_func ("/collector/record/missing-program", test_missing_program);
  g_test_add_func ("/collector/record/output-replaced", test_output_replaced);
  g_test_add_func ("/collector/record/sched-proc", test_sched_proc);
  g_test_add_func ("/collector/record/usage-errors", test_usage_errors);
  g_test_add_func ("/collector/record/orphan-outlives-parent", test_orphan_outlives_parent);
  g_test_add_func ("/collector/record/sigterm-forwarded", test_sigterm_forwarded);

  return g_test_run ();
}
