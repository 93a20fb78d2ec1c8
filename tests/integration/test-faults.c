/* test-faults.c — `weft record` against faults, hostile programs and bad
 * input: programs the agent cannot enter, crashes and kills (of the program
 * and of weft itself), full disks, thread and process storms, and the
 * privacy of what it leaves on disk. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glob.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft-test-util.h"

/* How many times needle occurs in haystack. */
static guint
count_occurrences (const char *haystack,
                   const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* ---------------------------------------------------------------------- */
/* Programs the agent cannot enter. */

static void
test_static_program (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "2", "200", NULL };
  g_autofree char *line = NULL;
  gint64 pid;

  g_test_summary ("A statically linked program: its CPU slices are recorded, it is marked "
                  "instrumented = 0 with the reason, it has no waits, and weft says so once");
  run = weft_test_record (NULL, "cpu-parallel-static", args);
  weft_test_assert_complete (run, 0);
  pid = weft_test_query_int (run, "SELECT pid FROM processes");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE instrumented = 0"
                     " AND uninstrumented_reason = 'statically linked'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"),
                   ==, weft_test_expect_int (run, "threads") + 1);
  g_assert_cmpfloat (weft_test_query_double (run, "SELECT sum(end_ns - start_ns) FROM cpu_slices"),
                     >=, weft_test_expect_int (run, "cpu_ms") * 1e6 * 0.9);
  line = g_strdup_printf ("weft record: process %d (cpu-parallel-st) was not instrumented:"
                          " statically linked; its CPU use is recorded, its locks are not\n",
                          (int) pid);
  g_assert_cmpuint (count_occurrences (run->err, line), ==, 1);
  g_assert_cmpuint (count_occurrences (run->err, "not instrumented"), ==, 1);
}

static void
test_static_child (void)
{
  g_autoptr (WeftRun) run = NULL;
  g_autofree char *run_child = weft_test_sample_path ("run-child");
  g_autofree char *child = weft_test_sample_path ("cpu-parallel-static");
  const char *argv[] = { run_child, child, "1", "200", NULL };
  gint64 child_pid;

  g_test_summary ("An instrumented program that runs a static child: the parent keeps its "
                  "lock profile, the child is recorded on the CPUs and marked not instrumented");
  run = weft_test_record_argv (NULL, argv);
  weft_test_assert_complete (run, 0);
  child_pid = weft_test_expect_int (run, "child_pid");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN processes p ON p.id = t.process_id"
                     " WHERE p.parent_id IS NULL AND p.instrumented = 1 AND w.kind = 'mutex'"),
                   ==, weft_test_expect_int (run, "contended_waits"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE pid = %d AND parent_id IS NOT NULL"
                     " AND instrumented = 0 AND uninstrumented_reason = 'statically linked'"
                     " AND exit_status = %d",
                     (int) child_pid, (int) weft_test_expect_int (run, "child_exit_status")), ==, 1);
  g_assert_cmpfloat (weft_test_query_double (run,
                       "SELECT sum(s.end_ns - s.start_ns) FROM cpu_slices s"
                       " JOIN threads t ON t.id = s.thread_id JOIN processes p ON p.id = t.process_id"
                       " WHERE p.pid = %d", (int) child_pid), >=, 200 * 1e6 * 0.9);
  g_assert_cmpuint (count_occurrences (run->err, "not instrumented"), ==, 1);
}

static void
test_setuid_program (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *program = weft_test_make_setuid_copy (dir);
  g_autoptr (WeftRun) run = NULL;
  const char *argv[] = { program, "2", "200", NULL };

  g_test_summary ("A setuid program (LD_PRELOAD is ignored): marked not instrumented with "
                  "the reason, its threads and CPU use still recorded (through /proc, since "
                  "the kernel detaches perf at a setuid exec)");
  if (program == NULL)
    {
      g_rmdir (dir);
      return;
    }
  run = weft_test_record_argv (NULL, argv);
  g_unlink (program);
  g_rmdir (dir);
  weft_test_assert_status (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE instrumented = 0"
                     " AND uninstrumented_reason LIKE 'setuid or setgid%%'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"),
                   ==, weft_test_expect_int (run, "threads") + 1);
  /* Sampling loses at most a period or two at the start. */
  g_assert_cmpfloat (weft_test_query_double (run, "SELECT sum(end_ns - start_ns) FROM cpu_slices"),
                     >=, weft_test_expect_int (run, "cpu_ms") * 1e6 * 0.5);
  g_assert_cmpuint (count_occurrences (run->err, "was not instrumented: setuid or setgid"), ==, 1);
}

/* ---------------------------------------------------------------------- */
/* The program dies. */

static void
test_fork_kill (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("A threaded process forks, its child takes locks, both die of SIGKILL "
                  "mid-wait: weft exits 137 and every finished wait of both is in the trace");
  run = weft_test_record (NULL, "fork-kill", NULL);
  weft_test_assert_complete (run, 137);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes WHERE exit_signal = 9"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " JOIN processes p ON p.id = t.process_id"
                     " WHERE w.kind = 'mutex' AND p.parent_id IS NULL"
                     " AND t.name = 'worker' AND h.name = 'main'"),
                   ==, weft_test_expect_int (run, "parent_waits"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " JOIN processes p ON p.id = t.process_id"
                     " JOIN processes r ON r.id = p.parent_id AND r.parent_id IS NULL"
                     " WHERE w.kind = 'mutex' AND t.name = 'c-worker' AND h.name = 'c-main'"),
                   ==, weft_test_expect_int (run, "child_waits"));
}

static void
test_segv (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "7", "--segv", NULL };

  g_test_summary ("A program that crashes with SIGSEGV mid-run: weft exits 139 and the "
                  "finalized trace holds the waits that ended before the crash");
  run = weft_test_record (NULL, "exit-status", args);
  weft_test_assert_complete (run, 128 + SIGSEGV);
  g_assert_cmpint (weft_test_query_int (run, "SELECT exit_signal FROM processes"),
                   ==, weft_test_expect_int (run, "exit_signal"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'mutex'"),
                   ==, weft_test_expect_int (run, "contended_waits"));
}

/* The program truncates weft's ring files under it: weft reads them through
 * a mapping, which raises SIGBUS past the end of a shrunken file. */
static void
test_truncated_rings (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("A program truncates its ring files while weft records it: weft survives, "
                  "exits with the program's status, keeps what it had drained and counts "
                  "the loss");
  run = weft_test_record (NULL, "truncate-rings", NULL);
  weft_test_assert_status (run, 0);
  g_assert_cmpint (weft_test_expect_int (run, "truncated"), >=, 1);
  g_assert_nonnull (strstr (run->err, "were truncated while recording"));
  g_assert_nonnull (strstr (run->err, "from rings the program damaged"));
  g_assert_nonnull (run->db);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'lost_events'"),
                   >=, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " WHERE w.kind = 'mutex' AND t.name = 'waiter' AND h.name = 'main'"),
                   ==, weft_test_expect_int (run, "contended_waits"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT exit_status FROM processes"), ==, 0);
}

/* ---------------------------------------------------------------------- */
/* weft itself dies. */

/* The first child of pid, once it has one (0 after ~5 s). */
static pid_t
first_child_of (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/children", (int) pid, (int) pid);

  for (int i = 0; i < 500; i++)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL) && text[0] != '\0')
        return (pid_t) g_ascii_strtoll (text, NULL, 10);
      g_usleep (10000);
    }
  return 0;
}

static char *
session_dir_of (pid_t collector)
{
  g_autofree char *pattern = g_strdup_printf ("/dev/shm/weft-%d-*", (int) collector);
  glob_t found = { 0 };
  char *dir = NULL;

  if (glob (pattern, 0, NULL, &found) == 0 && found.gl_pathc == 1)
    dir = g_strdup (found.gl_pathv[0]);
  globfree (&found);
  return dir;
}

/* Runs weft record -o trace -- lock-heavy with the program's stdout in
 * out_path, kills weft with SIGKILL after ~150 ms and returns the exit
 * status of the program, which this process (a subreaper) inherits. */
static int
record_and_kill_weft (const char  *trace,
                      const char  *out_path,
                      char       **session_dir)
{
  g_autofree char *program = weft_test_sample_path ("lock-heavy");
  const char *argv[] = { g_getenv ("WEFT"), "record", "-o", trace, "--",
                         program, "60000000", "2", NULL };
  g_autoptr (GError) error = NULL;
  int out_fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  GPid weft;
  pid_t child;
  int status;

  g_assert_cmpint (out_fd, >=, 0);
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  g_assert_true (g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                         NULL, NULL, &weft, -1, out_fd, -1, &error));
  g_assert_no_error (error);
  close (out_fd);
  child = first_child_of (weft);
  g_assert_cmpint (child, >, 0);
  g_usleep (150000);
  *session_dir = session_dir_of (weft);
  g_assert_nonnull (*session_dir);
  g_assert_cmpint (kill (weft, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (weft, &status, 0), ==, weft);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  prctl (PR_SET_CHILD_SUBREAPER, 0);
  return status;
}

static void
test_collector_killed (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *trace = g_build_filename (dir, "trace.db", NULL);
  g_autofree char *out_path = g_build_filename (dir, "out.txt", NULL);
  g_autofree char *recovered = g_build_filename (dir, "recovered.db", NULL);
  g_autofree char *session_dir = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (WeftRun) run = g_new0 (WeftRun, 1);
  const char *weft = g_getenv ("WEFT");
  int status;

  g_test_summary ("weft killed with SIGKILL while a lock-heavy program runs: the program "
                  "finishes with its normal output and status, and `weft record --recover` "
                  "turns the session it left in /dev/shm into a valid trace with every "
                  "lock acquisition counted, then removes it");
  status = record_and_kill_weft (trace, out_path, &session_dir);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_true (g_file_get_contents (out_path, &out, NULL, NULL));
  g_assert_nonnull (strstr (out, "expect acquisitions 120000000\n"));
  g_assert_false (g_file_test (trace, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (session_dir, G_FILE_TEST_IS_DIR));

  {
    const char *argv[] = { weft, "record", "--recover", session_dir, "-o", recovered, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                                 NULL, NULL, NULL, &err, &status, NULL));
  }
  if (!g_spawn_check_wait_status (status, NULL))
    g_printerr ("weft record --recover said:\n%s\n", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_false (g_file_test (session_dir, G_FILE_TEST_EXISTS));
  g_assert_cmpint (sqlite3_open_v2 (recovered, &run->db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  run->expect = g_hash_table_new (g_str_hash, g_str_equal);
  {
    g_autofree char *source = weft_test_query_text (run, "SELECT value FROM meta WHERE key = 'sched_source'");

    g_assert_cmpstr (source, ==, "none");
  }
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"
                                             " WHERE command LIKE '%%lock-heavy 60000000 2'"
                                             " AND exit_status = 0"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads WHERE name LIKE 'hammer-%%'"),
                   ==, 2);
  g_assert_cmpint (weft_test_query_int (run, "SELECT sum(acquisitions) FROM object_stats"),
                   ==, 120000000);
  /* The main thread has its name and end without the kernel's records. */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads t JOIN processes p"
                                             " ON p.id = t.process_id WHERE t.tid = p.pid"
                                             " AND t.name = 'lock-heavy' AND t.end_ns = p.end_ns"),
                   ==, 1);
  {
    /* No scheduling data: the report must not measure P from it. */
    const char *argv[] = { weft, "report", "--format", "json", recovered, NULL };
    g_autofree char *json = NULL;

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, &json, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_nonnull (strstr (json, "\"cpu_known\": false"));
    g_assert_nonnull (strstr (json, "\"mean_parallelism\": null"));
    g_assert_null (strstr (json, "CPUs busy"));
  }

  g_unlink (trace);
  g_unlink (out_path);
  g_unlink (recovered);
  {
    /* weft died before it could remove its temporary trace. */
    g_autofree char *pattern = g_build_filename (dir, ".trace.db.*.tmp", NULL);
    glob_t found = { 0 };

    if (glob (pattern, 0, NULL, &found) == 0)
      for (gsize i = 0; i < found.gl_pathc; i++)
        g_unlink (found.gl_pathv[i]);
    globfree (&found);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* 'Z' once pid has exited and waits to be reaped; 0 if it is gone. */
static char
process_state (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (paren = strrchr (text, ')')) == NULL)
    return 0;
  return paren[1] == ' ' ? paren[2] : 0;
}

/* Rings overflow: weft is stopped (SIGSTOP) while a program makes hundreds
 * of thousands of waits into 64 KiB rings. The program must run to its end
 * all the same (the agent drops, never waits for room), and the drops must
 * be counted in the trace, the report and weft's summary. */
static void
test_ring_storm (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *trace = g_build_filename (dir, "trace.db", NULL);
  g_autofree char *out_path = g_build_filename (dir, "out.txt", NULL);
  g_autofree char *err_path = g_build_filename (dir, "err.txt", NULL);
  g_autofree char *program = weft_test_sample_path ("condvar-pingpong");
  const char *argv[] = { g_getenv ("WEFT"), "record", "--ring-kib", "64", "-o", trace, "--",
                         program, "100000", "1", NULL };
  g_autoptr (WeftRun) run = g_new0 (WeftRun, 1);
  g_autoptr (GError) error = NULL;
  int out_fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_autofree char *report = NULL;
  GPid weft;
  pid_t child;
  int status, waited_ms = 0;
  gboolean ended;
  gint64 recorded, lost;

  g_test_summary ("A program overflows its 64 KiB rings while weft is stopped: it runs to "
                  "its end without waiting for weft, and the dropped events are counted in "
                  "the trace, the report header and weft's summary line");
  g_assert_true (g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                         NULL, NULL, &weft, -1, out_fd, err_fd, &error));
  g_assert_no_error (error);
  close (out_fd);
  close (err_fd);
  child = first_child_of (weft);
  g_assert_cmpint (child, >, 0);
  g_usleep (50000);
  g_assert_cmpint (kill (weft, SIGSTOP), ==, 0);
  /* weft cannot reap it while stopped: the program's end shows as a zombie. */
  while (process_state (child) != 'Z' && waited_ms < 300000)
    {
      g_usleep (10000);
      waited_ms += 10;
    }
  ended = process_state (child) == 'Z';
  g_test_message ("the program ended %.1f s after weft was stopped", waited_ms / 1000.0);
  g_assert_cmpint (kill (weft, SIGCONT), ==, 0);
  g_assert_true (ended);
  g_assert_cmpint (waitpid (weft, &status, 0), ==, weft);
  g_assert_true (g_file_get_contents (out_path, &run->out, NULL, NULL));
  g_assert_true (g_file_get_contents (err_path, &run->err, NULL, NULL));
  g_assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) != 0)
    g_printerr ("weft record said:\n%s\n", run->err);
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_nonnull (strstr (run->out, "expect items 100000\n"));
  g_assert_nonnull (strstr (run->err, "LOST events: "));
  g_assert_nonnull (strstr (run->err, "from full thread rings (try a larger --ring-kib)"));

  g_assert_cmpint (sqlite3_open_v2 (trace, &run->db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  run->expect = g_hash_table_new (g_str_hash, g_str_equal);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  lost = weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'lost_events'");
  recorded = weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'cond'");
  g_test_message ("%" G_GINT64_FORMAT " events lost, %" G_GINT64_FORMAT " cond waits recorded",
                  lost, recorded);
  g_assert_cmpint (lost, >, 0);
  g_assert_cmpint (recorded, <, 200000);
  {
    const char *report_argv[] = { g_getenv ("WEFT"), "report", trace, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) report_argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, &report, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  {
    g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT " (the figures miss what they did)",
                                             lost);

    g_assert_nonnull (strstr (report, line));
  }
  g_unlink (trace);
  g_unlink (out_path);
  g_unlink (err_path);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_recover_bad_dir (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *trace = g_build_filename (dir, "trace.db", NULL);
  g_autofree char *err = NULL;
  const char *argv[] = { g_getenv ("WEFT"), "record", "--recover", dir, "-o", trace, NULL };
  int status;

  g_test_summary ("--recover on a directory that is no session: one line on stderr, exit 1, "
                  "no trace, the directory untouched");
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &err, &status, NULL));
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_true (g_str_has_prefix (err, "weft record: "));
  g_assert_nonnull (strstr (err, "is not a weft session directory"));
  g_assert_cmpint (strlen (err), ==, strchr (err, '\n') - err + 1);
  g_assert_false (g_file_test (trace, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ---------------------------------------------------------------------- */
/* Full filesystems. */

/* A 1 MiB tmpfs at a new directory, or NULL (test skipped) when this
 * process may not mount. */
static char *
mount_small_tmpfs (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);

  if (geteuid () != 0 || mount ("weft-test", dir, "tmpfs", 0, "size=1m,mode=0700") != 0)
    {
      g_test_skip ("cannot mount a small tmpfs here (needs root)");
      g_rmdir (dir);
      return NULL;
    }
  return g_steal_pointer (&dir);
}

static void
unmount_small_tmpfs (char *dir)
{
  g_assert_cmpint (umount (dir), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (dir);
}

static void
test_trace_disk_full (void)
{
  char *mnt = mount_small_tmpfs ();
  g_autofree char *trace = NULL;
  g_autofree char *sample = weft_test_sample_path ("condvar-pingpong");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GDir) left = NULL;
  const char *argv[] = { g_getenv ("WEFT"), "record", "-o", NULL, "--", sample, "30000", NULL };
  int status;

  g_test_summary ("The trace's filesystem fills up: one clear line, exit 1, the program "
                  "runs to its end, and nothing is left under the output name (nor the "
                  "temporary file)");
  if (mnt == NULL)
    return;
  trace = g_build_filename (mnt, "trace.db", NULL);
  argv[3] = trace;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, &err, &status, NULL));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 1)
    g_printerr ("weft record said:\n%s\n", err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (out, "expect cond_waits"));
  g_assert_true (g_str_has_prefix (err, "weft record: "));
  g_assert_nonnull (strstr (err, "full"));
  g_assert_cmpint (strlen (err), ==, strchr (err, '\n') - err + 1);
  left = g_dir_open (mnt, 0, NULL);
  g_assert_null (g_dir_read_name (left));
  g_clear_pointer (&left, g_dir_close);
  unmount_small_tmpfs (mnt);
}

static void
test_session_disk_full (void)
{
  char *mnt = mount_small_tmpfs ();
  g_autofree char *session_arg = NULL;
  g_autoptr (WeftRun) run = NULL;
  const char *items[] = { "100000", NULL };
  const char *record_args[] = { NULL, NULL };

  g_test_summary ("The shared memory fills up (a 1 MiB session directory): the program is "
                  "never hurt (no SIGBUS), it runs to its end, and the trace counts the "
                  "events that had no room as lost");
  if (mnt == NULL)
    return;
  session_arg = g_strdup_printf ("--session-dir=%s", mnt);
  record_args[0] = session_arg;
  run = weft_test_record (record_args, "condvar-pingpong", items);
  weft_test_assert_status (run, 0);
  g_assert_nonnull (run->db);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'lost_agent_events'"),
                   >, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'cond'"),
                   <, weft_test_expect_int (run, "cond_waits"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'cond'"),
                   >, 0);
  unmount_small_tmpfs (mnt);
}

/* ---------------------------------------------------------------------- */
/* Storms. */

static void
test_storm_alive (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "alive", "2000", NULL };

  g_test_summary ("2000 threads alive at once: every one in the trace, nothing lost");
  run = weft_test_record (NULL, "thread-storm", args);
  weft_test_assert_complete (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"),
                   ==, weft_test_expect_int (run, "threads"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(DISTINCT tid) FROM threads"),
                   ==, weft_test_expect_int (run, "threads"));
}

static void
test_storm_churn (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "churn", "100000", "100", NULL };

  g_test_summary ("100 000 short-lived threads, 100 at a time: exactly 100 001 threads in "
                  "the trace although the kernel reuses their tids, one join wait each, "
                  "nothing lost");
  run = weft_test_record (NULL, "thread-storm", args);
  weft_test_assert_complete (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads"),
                   ==, weft_test_expect_int (run, "threads"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'join'"),
                   >=, weft_test_expect_int (run, "created"));
}

static void
test_process_tree (void)
{
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { "200", "4", NULL };

  g_test_summary ("A tree of 200 processes: every one in the trace, instrumented, under "
                  "its parent, exit status 0, nothing lost");
  run = weft_test_record (NULL, "process-tree", args);
  weft_test_assert_complete (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE instrumented = 1 AND exit_status = 0"),
                   ==, weft_test_expect_int (run, "processes"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes WHERE parent_id IS NULL"),
                   ==, 1);
}

/* ---------------------------------------------------------------------- */
/* Security. */

static void
test_session_private (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("Seen from inside the traced program, the session directory is mode "
                  "0700 and every file in it 0600, all owned by the user");
  run = weft_test_record (NULL, "session-mode", NULL);
  weft_test_assert_complete (run, 0);
  g_assert_cmpstr (weft_test_expect (run, "session_mode"), ==, "700");
  g_assert_cmpstr (weft_test_expect (run, "file_modes"), ==, "600");
  g_assert_cmpint (weft_test_expect_int (run, "chunk_files"), >=, 1);
  g_assert_cmpint (weft_test_expect_int (run, "owned_by_me"), ==, 1);
}

static void
test_no_shell (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *program = g_build_filename (dir, "echo; touch pwned-1 #", NULL);
  g_autofree char *contents = NULL;
  g_autoptr (WeftRun) run = NULL;
  const char *argv[] = { program, "$(touch pwned-2)", "`touch pwned-3`;", "a  b", NULL };
  g_autofree char *command = NULL;
  g_autofree char *expected_command = NULL;
  gsize length;

  g_test_summary ("A program whose name holds ';', '#' and spaces and arguments full of "
                  "shell syntax run literally: no shell ever sees them");
  g_assert_true (g_file_get_contents ("/bin/echo", &contents, &length, NULL));
  g_assert_true (g_file_set_contents (program, contents, length, NULL));
  g_assert_cmpint (chmod (program, 0755), ==, 0);
  run = weft_test_record_argv (NULL, argv);
  weft_test_assert_complete (run, 0);
  g_assert_cmpstr (run->out, ==, "$(touch pwned-2) `touch pwned-3`; a  b\n");
  for (int i = 1; i <= 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("pwned-%d", i);
      g_autofree char *in_run = g_build_filename (run->dir, name, NULL);

      g_assert_false (g_file_test (name, G_FILE_TEST_EXISTS));
      g_assert_false (g_file_test (in_run, G_FILE_TEST_EXISTS));
    }
  command = weft_test_query_text (run, "SELECT command FROM processes");
  expected_command = g_strjoinv (" ", (char **) argv);
  g_assert_cmpstr (command, ==, expected_command);
  g_unlink (program);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/collector/faults/static-program", test_static_program);
  g_test_add_func ("/collector/faults/static-child", test_static_child);
  g_test_add_func ("/collector/faults/setuid-program", test_setuid_program);
  g_test_add_func ("/collector/faults/fork-kill", test_fork_kill);
  g_test_add_func ("/collector/faults/segv", test_segv);
  g_test_add_func ("/collector/faults/truncated-rings", test_truncated_rings);
  g_test_add_func ("/collector/faults/collector-killed", test_collector_killed);
  g_test_add_func ("/collector/faults/recover-bad-dir", test_recover_bad_dir);
  g_test_add_func ("/collector/faults/ring-storm", test_ring_storm);
  g_test_add_func ("/collector/faults/trace-disk-full", test_trace_disk_full);
  g_test_add_func ("/collector/faults/session-disk-full", test_session_disk_full);
  g_test_add_func ("/collector/faults/storm-alive", test_storm_alive);
  g_test_add_func ("/collector/faults/storm-churn", test_storm_churn);
  g_test_add_func ("/collector/faults/process-tree", test_process_tree);
  g_test_add_func ("/collector/faults/session-private", test_session_private);
  g_test_add_func ("/collector/faults/no-shell", test_no_shell);

  return g_test_run ();
}
