/* test-process-identity.c — a row of `processes` is one process of the
 * kernel, and says what that process did.
 *
 * A pid names a process from its fork to its reap; then the kernel may
 * give it to another process of the same recording (pid_max is 32768 on
 * many machines). pid-reuse makes that happen at once (clone3 with set_tid,
 * or ns_last_pid then fork: both need root, else the tests skip): the trace
 * must hold two processes with that pid, each with its own life, parent,
 * exit status, threads, waits, objects and CPU slices, in `weft report`
 * too; and with /proc sampling, whose times are only bounds, the same rows.
 *
 * glibc's system() and popen() start /bin/sh with an internal posix_spawn
 * and reap it with an internal waitpid, which the agent's wrappers never
 * see (no SPAWN, no REAP record). The kernel's FORK and EXIT, and the
 * shell's own agent image, still give each child its place in the tree,
 * its start and end, and its exit status when its last image had the agent
 * and called exit. What only the parent learned, from its internal waitpid,
 * is not in the trace: the status of a child whose last image had no agent
 * (a static or setuid program) and the signal that killed one. The agent
 * could only learn the child's pid by reimplementing system() and popen()
 * (see agent/weft-hooks-process.c); the trace leaves those unknown (NULL),
 * and these tests check that it never says anything else. */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

#include "weft-test-util.h"

/* Exit status as expected, a finalized trace whose analysis had nothing to
 * clip, nothing lost, no CPU running two slices at once, every thread
 * ended. */
static void
assert_sound (WeftRun *run,
              int      status)
{
  weft_test_assert_complete (run, status);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM cpu_slices a JOIN cpu_slices b"
                     " ON a.cpu = b.cpu AND a.rowid < b.rowid"
                     " AND a.start_ns < b.end_ns AND b.start_ns < a.end_ns"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads WHERE end_ns IS NULL"),
                   ==, 0);
}

/* ---------------------------------------------------------------------- */
/* `weft report --format json`, parsed back. */

#ifdef HAVE_JSON_GLIB
/* The JSON that `weft COMMAND FORMAT_OPTION FORMAT TRACE` prints. */
static JsonNode *
weft_json (WeftRun    *run,
           const char *command,
           const char *format_option,
           const char *format)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { g_getenv ("WEFT"), command, format_option, format, run->trace_path, NULL };
  int wait_status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &out, NULL, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonNode *
report_json (WeftRun *run)
{
  return weft_json (run, "report", "--format", "json");
}

static JsonArray *
report_processes (JsonNode *root)
{
  return json_object_get_array_member (json_node_get_object (root), "processes");
}
#endif

/* ---------------------------------------------------------------------- */
/* A pid given again. */

/* Rows of the two processes with pid, by start: *first and *second. */
static void
reused_pid_rows (WeftRun *run,
                 gint64   pid,
                 gint64  *first,
                 gint64  *second)
{
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes WHERE pid = %d",
                                        (int) pid), ==, 2);
  *first = weft_test_query_int (run, "SELECT id FROM processes WHERE pid = %d"
                                " ORDER BY start_ns LIMIT 1", (int) pid);
  *second = weft_test_query_int (run, "SELECT id FROM processes WHERE pid = %d"
                                 " ORDER BY start_ns LIMIT 1 OFFSET 1", (int) pid);
}

/* Process row: under root, with its start before its end, and exit status. */
static void
assert_process (WeftRun *run,
                gint64   row,
                gint64   root,
                gint64   status)
{
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE id = %lld AND parent_id = %lld"
                     " AND start_ns < end_ns AND exit_status = %d AND exit_signal IS NULL"
                     " AND instrumented = 1",
                     (long long) row, (long long) root, (int) status), ==, 1);
}

/* Each thread of process row with its tid and name, the main one's tid
 * being pid, and CPU slices; with exact times (perf), none of them outside
 * the process's life. */
static void
assert_threads (WeftRun    *run,
                gint64      row,
                gint64      pid,
                const char *other_name,
                gboolean    exact)
{
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM threads WHERE process_id = %lld",
                                        (long long) row), ==, 2);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM threads WHERE process_id = %lld AND tid = %d",
                     (long long) row, (int) pid), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM threads WHERE process_id = %lld AND tid != %d AND name = %Q",
                     (long long) row, (int) pid, other_name), ==, 1);
  if (exact)
    g_assert_cmpint (weft_test_query_int (run,
                       "SELECT count(*) FROM cpu_slices s JOIN threads t ON t.id = s.thread_id"
                       " JOIN processes p ON p.id = t.process_id"
                       " WHERE p.id = %lld AND (s.start_ns < p.start_ns OR s.end_ns > p.end_ns)",
                       (long long) row), ==, 0);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM cpu_slices s JOIN threads t ON t.id = s.thread_id"
                     " WHERE t.process_id = %lld", (long long) row), >, 0);
}

/* The contended 'mutex' waits of process row: `waits` of them, each by the
 * thread named waiter, on an object of that process, its holder that
 * process's main thread (the other process's main thread has the same
 * tid). */
static void
assert_waits (WeftRun    *run,
              gint64      row,
              gint64      pid,
              const char *waiter,
              gint64      waits)
{
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE t.process_id = %lld AND w.kind = 'mutex'", (long long) row), ==, waits);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " JOIN threads h ON h.id = w.holder_thread_id"
                     " JOIN objects o ON o.id = w.object_id"
                     " WHERE t.process_id = %lld AND w.kind = 'mutex' AND t.name = %Q"
                     " AND h.process_id = %lld AND h.tid = %d AND o.process_id = %lld",
                     (long long) row, waiter, (long long) row, (int) pid, (long long) row), ==, waits);
}

/* The report lists both processes with pid, under root_pid, with their
 * statuses and thread counts. */
static void
assert_report (WeftRun *run,
               gint64   pid,
               gint64   root_pid)
{
#ifdef HAVE_JSON_GLIB
  g_autoptr (JsonNode) root = report_json (run);
  JsonArray *processes = report_processes (root);
  guint found = 0, statuses = 0;

  g_assert_cmpuint (json_array_get_length (processes), ==, weft_test_expect_int (run, "processes"));
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *process = json_array_get_object_element (processes, i);

      if (json_object_get_int_member (process, "pid") != pid)
        continue;
      found++;
      g_assert_cmpint (json_object_get_int_member (process, "parent"), ==, root_pid);
      g_assert_cmpint (json_object_get_int_member (process, "threads"), ==, 2);
      statuses |= 1u << json_object_get_int_member (process, "exit_status");
    }
  g_assert_cmpuint (found, ==, 2);
  g_assert_cmpuint (statuses, ==, (1u << weft_test_expect_int (run, "a_status"))
                                  | (1u << weft_test_expect_int (run, "b_status")));
#else
  g_test_message ("json-glib is not installed: the report is not checked");
#endif
}

/* `weft export --format chrome`: the two processes with pid get two tracks
 * (the later one a number no kernel pid has, its pid in its name), and
 * each state event lies on a track of one of the processes named. */
static void
assert_chrome_tracks (WeftRun *run,
                      gint64   pid)
{
#ifdef HAVE_JSON_GLIB
  g_autoptr (JsonNode) root = weft_json (run, "export", "--format", "chrome");
  JsonArray *events = json_object_get_array_member (json_node_get_object (root), "traceEvents");
  g_autoptr (GHashTable) named = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autofree char *suffix = g_strdup_printf (" (pid %d)", (int) pid);
  guint tracks_of_pid = 0, labelled = 0;

  for (guint i = 0; i < json_array_get_length (events); i++)
    {
      JsonObject *event = json_array_get_object_element (events, i);
      const char *ph = json_object_get_string_member (event, "ph");
      const char *name = json_object_get_string_member (event, "name");
      gint64 track = json_object_get_int_member (event, "pid");

      if (strcmp (ph, "M") == 0 && strcmp (name, "process_name") == 0)
        {
          const char *label = json_object_get_string_member (json_object_get_object_member (event, "args"),
                                                             "name");

          g_assert_true (g_hash_table_add (named, GINT_TO_POINTER (track)));
          tracks_of_pid += track == pid || track >= 4194304;
          labelled += track >= 4194304 && g_str_has_suffix (label, suffix);
        }
      else if (strcmp (ph, "X") == 0)
        g_assert_true (g_hash_table_contains (named, GINT_TO_POINTER (track)));
    }
  g_assert_cmpuint (tracks_of_pid, ==, 2);
  g_assert_cmpuint (labelled, ==, 1);
#endif
}

/* Records pid-reuse in mode with record_args. With /proc sampling (not
 * exact), times are bounds (an end is the first sample that missed the
 * thread, a slice is placed at the end of its period): the two processes
 * and their threads are told apart all the same, by what /proc first saw
 * of each. */
static void
check_pid_reuse (const char         *mode,
                 const char * const *record_args,
                 gboolean            exact)
{
  g_autofree char *exit_status = weft_test_sample_path ("exit-status");
  const char *args[] = { mode, exit_status, "5", NULL };
  g_autoptr (WeftRun) run = weft_test_record (record_args, "pid-reuse", args);
  gint64 pid, root, root_pid, a, b;

  if (g_hash_table_contains (run->expect, "skip"))
    {
      g_test_skip (weft_test_expect (run, "skip"));
      return;
    }
  if (exact)
    assert_sound (run, 0);
  else
    weft_test_assert_status (run, 0);
  pid = weft_test_expect_int (run, "a_pid");
  g_assert_cmpint (weft_test_expect_int (run, "b_pid"), ==, pid);
  g_assert_cmpint (weft_test_expect_int (run, "a_status"), ==, 3);
  g_assert_cmpint (weft_test_expect_int (run, "b_status"), ==, 5);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  root = weft_test_query_int (run, "SELECT id FROM processes WHERE parent_id IS NULL");
  root_pid = weft_test_query_int (run, "SELECT pid FROM processes WHERE id = %lld", (long long) root);
  reused_pid_rows (run, pid, &a, &b);

  /* A: a fork of the root (its command), B: the program it exec'd; one
   * after the other. */
  assert_process (run, a, root, weft_test_expect_int (run, "a_status"));
  assert_process (run, b, root, weft_test_expect_int (run, "b_status"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes a, processes b, processes r"
                     " WHERE a.id = %lld AND b.id = %lld AND r.id = %lld"
                     " AND a.command = r.command AND b.command LIKE '%%exit-status 5'"
                     " AND (a.end_ns <= b.start_ns OR %d = 0)",
                     (long long) a, (long long) b, (long long) root, exact), ==, 1);

  assert_threads (run, a, pid, "a-worker", exact);
  assert_threads (run, b, pid, "worker", exact);
  assert_waits (run, a, pid, "a-worker", weft_test_expect_int (run, "a_waits"));
  assert_waits (run, b, pid, "worker", weft_test_expect_int (run, "contended_waits"));
  assert_report (run, pid, root_pid);
  assert_chrome_tracks (run, pid);
}

static void
test_pid_reuse_clone3 (void)
{
  g_test_summary ("A child (threads, a contended wait, exit 3) is reaped, then clone3 with "
                  "set_tid gives its pid to a second child that runs another program (exit 5): "
                  "two processes with that pid, one after the other, each with its parent, "
                  "exit status, threads, waits, objects and CPU slices, in the trace and in "
                  "`weft report --format json`");
  check_pid_reuse ("clone3", NULL, TRUE);
}

static void
test_pid_reuse_fork (void)
{
  g_test_summary ("The same with the pid given through /proc/sys/kernel/ns_last_pid and "
                  "fork (the agent's fork wrapper, a FORK record for each child)");
  check_pid_reuse ("fork", NULL, TRUE);
}

static void
test_pid_reuse_proc (void)
{
  const char *record_args[] = { "--sched=proc", NULL };

  g_test_summary ("The same (clone3) with scheduling sampled from /proc: two processes with "
                  "the pid, each with its own threads (one row each, though /proc sees them "
                  "later than the agent does), waits, objects and exit status, although "
                  "/proc reports the first process's end only after the second began");
  check_pid_reuse ("clone3", record_args, FALSE);
}

/* ---------------------------------------------------------------------- */
/* Children of system() and popen(). */

/* The row of the child that printed key_pid: under the root, with its
 * start before its end and CPU slices. */
static gint64
child_row (WeftRun    *run,
           const char *key)
{
  g_autofree char *pid_key = g_strdup_printf ("%s_pid", key);
  gint64 pid = weft_test_expect_int (run, pid_key);

  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes r ON r.id = c.parent_id"
                     " WHERE c.pid = %d AND r.parent_id IS NULL AND c.start_ns < c.end_ns",
                     (int) pid), ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM cpu_slices s JOIN threads t ON t.id = s.thread_id"
                     " JOIN processes p ON p.id = t.process_id WHERE p.pid = %d", (int) pid), >, 0);
  return weft_test_query_int (run, "SELECT id FROM processes WHERE pid = %d", (int) pid);
}

/* A child whose last image had the agent and called exit: its status. */
static void
assert_exited (WeftRun    *run,
               const char *key)
{
  g_autofree char *status_key = g_strdup_printf ("%s_status", key);
  gint64 row = child_row (run, key);

  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE id = %lld AND instrumented = 1"
                     " AND exit_status = %d AND exit_signal IS NULL AND cpu_ns > 0",
                     (long long) row, (int) weft_test_expect_int (run, status_key)), ==, 1);
}

/* A child without the agent at its end (why: reason) or killed: the status
 * or signal only its parent's internal waitpid saw is unknown, never
 * another one. */
static void
assert_unknown_end (WeftRun    *run,
                    const char *key,
                    const char *reason)
{
  g_autofree char *status_key = g_strdup_printf ("%s_status", key);
  g_autofree char *signal_key = g_strdup_printf ("%s_signal", key);
  const char *status = g_hash_table_lookup (run->expect, status_key);
  const char *signal = g_hash_table_lookup (run->expect, signal_key);
  gint64 row = child_row (run, key);

  g_assert_true (status != NULL || signal != NULL);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE id = %lld"
                     " AND (exit_status IS NULL OR exit_status = %d)"
                     " AND (exit_signal IS NULL OR exit_signal = %d)",
                     (long long) row, status != NULL ? atoi (status) : -1,
                     signal != NULL ? atoi (signal) : -1), ==, 1);
  if (reason != NULL)
    g_assert_cmpint (weft_test_query_int (run,
                       "SELECT count(*) FROM processes WHERE id = %lld AND instrumented = 0"
                       " AND uninstrumented_reason LIKE '%q%%'", (long long) row, reason), ==, 1);
  else
    g_assert_cmpint (weft_test_query_int (run,
                       "SELECT instrumented FROM processes WHERE id = %lld", (long long) row), ==, 1);
}

static gboolean
have_static_child (void)
{
  g_autofree char *path = weft_test_sample_path ("child-poll-static");

  if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    return TRUE;
  g_test_skip ("no static child-poll (this toolchain cannot link statically)");
  return FALSE;
}

static void
test_system_popen (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("Children of system() and popen(), made and reaped inside glibc: each is "
                  "under the program, with its start, end and CPU slices; those that end "
                  "with the agent by exit have their status; a static one is named not "
                  "instrumented (statically linked); what only the parent's internal "
                  "waitpid saw (a static child's status, the signal that killed a shell) "
                  "is unknown, never wrong");
  if (!have_static_child ())
    return;
  run = weft_test_record (NULL, "system-popen", NULL);
  assert_sound (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  assert_exited (run, "system_exit");
  assert_exited (run, "system_dynamic");
  assert_exited (run, "popen_dynamic");
  assert_unknown_end (run, "system_static", "statically linked");
  assert_unknown_end (run, "popen_static", "statically linked");
  assert_unknown_end (run, "system_kill", NULL);
  g_assert_cmpint (weft_test_expect_int (run, "system_kill_signal"), ==, 9);
}

static void
test_system_setuid (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *program = weft_test_make_setuid_copy (dir);
  g_autofree char *samples = weft_test_sample_path ("");
  g_autoptr (WeftRun) run = NULL;
  const char *args[] = { samples, program, NULL };
  gint64 row;

  g_test_summary ("A setuid program run by system(): named not instrumented (setuid or "
                  "setgid), and its threads and CPU use still recorded (through /proc: the "
                  "kernel detaches perf at a setuid exec)");
  if (program == NULL || !have_static_child ())
    {
      g_rmdir (dir);
      return;
    }
  run = weft_test_record (NULL, "system-popen", args);
  g_unlink (program);
  g_rmdir (dir);
  weft_test_assert_status (run, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"),
                   ==, weft_test_expect_int (run, "processes"));
  row = child_row (run, "system_setuid");
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes WHERE id = %lld AND instrumented = 0"
                     " AND uninstrumented_reason LIKE 'setuid or setgid%%'"
                     " AND (exit_status IS NULL OR exit_status = %d)",
                     (long long) row, (int) weft_test_expect_int (run, "system_setuid_status")),
                   ==, 1);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM threads WHERE process_id = %lld",
                     (long long) row), ==, weft_test_expect_int (run, "threads") + 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/collector/process-identity/pid-reuse-clone3", test_pid_reuse_clone3);
  g_test_add_func ("/collector/process-identity/pid-reuse-fork", test_pid_reuse_fork);
  g_test_add_func ("/collector/process-identity/pid-reuse-proc", test_pid_reuse_proc);
  g_test_add_func ("/collector/process-identity/system-popen", test_system_popen);
  g_test_add_func ("/collector/process-identity/system-setuid", test_system_setuid);

  return g_test_run ();
}
