/* test-child-wait.c — a thread blocked in waitpid and its family waits for
 * another process: the trace has a wait of kind 'child' for each call that
 * blocked (none for WNOHANG, none for a child already done), the thread is
 * in state sync meanwhile, not blocked, and the children still get their
 * exit statuses from the REAP records.
 *
 * The sample child-wait makes every blocking call certain to block, and
 * each 'ok' one last at least `child_ms` (samples/child-wait.c): the lower
 * bounds below follow from the order of events, not from timing. */
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

#include "weft-test-util.h"

/* The child waits of the root process's main thread, as a FROM clause
 * (w: the wait, t: its thread, p: its process). */
#define PARENT_WAITS \
  " FROM waits w JOIN threads t ON t.id = w.thread_id" \
  " JOIN processes p ON p.id = t.process_id" \
  " WHERE w.kind = 'child' AND p.parent_id IS NULL AND t.tid = p.pid"

static WeftRun *
record_child_wait (void)
{
  WeftRun *run = weft_test_record (NULL, "child-wait", NULL);

  weft_test_assert_complete (run, 0);
  g_assert_cmpint (weft_test_expect_int (run, "results_ok"), ==, 1);
  return run;
}

static gboolean
sched_exact (WeftRun *run)
{
  g_autofree char *source = weft_test_query_text (run,
                              "SELECT value FROM meta WHERE key = 'sched_source'");

  return g_strcmp0 (source, "perf") == 0;
}

static void
test_waits (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 waits, interrupted, any_child;

  g_test_summary ("Every wait-family call that blocked is one 'child' wait of the parent's "
                  "main thread, with its result, the pid asked for as arg, the child as "
                  "holder and the caller's stack; WNOHANG calls and a wait for a zombie "
                  "are none");
  run = record_child_wait ();
  waits = weft_test_expect_int (run, "child_waits");
  interrupted = weft_test_expect_int (run, "interrupted_waits");
  any_child = weft_test_expect_int (run, "any_child_waits");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'child'"),
                   ==, waits);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS), ==, waits);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS
                                        " AND w.result = 'interrupted' AND w.error = 0"),
                   ==, interrupted);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS " AND w.result = 'ok'"),
                   ==, waits - interrupted);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS
                                        " AND w.object_id IS NULL"), ==, waits);
  /* The holder is the main thread of a child of the parent; arg the pid
   * asked for: that child's, or -1 (wait, wait3). */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS
                                        " AND EXISTS (SELECT 1 FROM threads h"
                                        " JOIN processes c ON c.id = h.process_id"
                                        " WHERE h.id = w.holder_thread_id AND h.tid = c.pid"
                                        " AND c.parent_id = p.id"
                                        " AND (w.arg = c.pid OR w.arg = -1))"), ==, waits);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS " AND w.arg = -1"),
                   ==, any_child);
  g_assert_cmpint (weft_test_query_int (run, "SELECT min(w.end_ns - w.start_ns)" PARENT_WAITS
                                        " AND w.result = 'ok'"),
                   >=, weft_test_expect_int (run, "child_ms") * 1000000);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*)" PARENT_WAITS
                                        " AND EXISTS (SELECT 1 FROM stack_frames sf"
                                        " JOIN frames f ON f.id = sf.frame_id"
                                        " WHERE sf.stack_id = w.stack_id AND f.function = 'main')"),
                   ==, waits);
}

static void
test_states (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 waits;

  g_test_summary ("While the parent waits for a child, its thread is running, runnable or "
                  "sync, never blocked; with perf, each 'ok' wait holds at least child_ms of "
                  "sync, the time the child slept while the parent was asleep");
  run = record_child_wait ();
  waits = weft_test_expect_int (run, "child_waits");
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*)" PARENT_WAITS " AND EXISTS (SELECT 1 FROM thread_states s"
                     " WHERE s.thread_id = w.thread_id AND s.start_ns < w.end_ns"
                     " AND s.end_ns > w.start_ns"
                     " AND s.state NOT IN ('running', 'runnable', 'sync'))"), ==, 0);
  if (!sched_exact (run))
    {
      g_test_message ("no perf scheduling data: the sync time is not checked");
      return;
    }
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*)" PARENT_WAITS
                     " AND EXISTS (SELECT 1 FROM thread_states s WHERE s.wait_id = w.id"
                     " AND s.state = 'sync')"), ==, waits);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*)" PARENT_WAITS " AND w.result = 'ok'"
                     " AND (SELECT sum(s.end_ns - s.start_ns) FROM thread_states s"
                     "      WHERE s.wait_id = w.id AND s.state = 'sync') >= %lld",
                     (long long) weft_test_expect_int (run, "child_ms") * 1000000),
                   ==, waits - weft_test_expect_int (run, "interrupted_waits"));
}

static void
test_exit_status (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 first, exited;

  g_test_summary ("The children reaped by every call of the family, blocking or not, have "
                  "their exit status or signal in the trace");
  run = record_child_wait ();
  first = weft_test_expect_int (run, "first_status");
  exited = weft_test_expect_int (run, "exited_children");
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes p ON p.id = c.parent_id"
                     " WHERE p.parent_id IS NULL"), ==, weft_test_expect_int (run, "children"));
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(DISTINCT c.exit_status) FROM processes c"
                     " JOIN processes p ON p.id = c.parent_id"
                     " WHERE p.parent_id IS NULL AND c.exit_signal IS NULL"
                     " AND c.exit_status BETWEEN %lld AND %lld",
                     (long long) first, (long long) (first + exited - 1)), ==, exited);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM processes c JOIN processes p ON p.id = c.parent_id"
                     " WHERE p.parent_id IS NULL AND c.exit_status IS NULL AND c.exit_signal = %lld",
                     (long long) weft_test_expect_int (run, "kill_signal")),
                   ==, weft_test_expect_int (run, "killed_children"));
}

/* What `weft report TRACE ARGS…` printed on stdout. */
static char *
report (WeftRun    *run,
        const char *format,
        const char *table)
{
  const char *argv[] = { g_getenv ("WEFT"), "report", run->trace_path, "--format", format,
                         table != NULL ? "--table" : NULL, table, NULL };
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  int wait_status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &out, NULL, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  return out;
}

static guint
csv_column (char       **header,
            const char  *name)
{
  for (guint i = 0; header[i] != NULL; i++)
    if (strcmp (header[i], name) == 0)
      return i;
  g_error ("CSV: no column %s", name);
}

/* The CSV waits table names the kind, its waiter and its holder (a child
 * process's main thread: tid = its pid). Its fields here hold no comma or
 * quote (names are the sample's). */
static void
assert_csv_waits (WeftRun *run,
                  gint64   root_pid,
                  gint64   waits)
{
  g_autofree char *csv = report (run, "csv", "waits");
  g_auto (GStrv) lines = g_strsplit (csv, "\r\n", -1);
  g_auto (GStrv) header = g_strsplit (lines[0], ",", -1);
  guint kind = csv_column (header, "kind"), tid = csv_column (header, "tid");
  guint holder = csv_column (header, "holder_tid");
  gint64 found = 0;

  for (guint i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[i], ",", -1);

      g_assert_cmpuint (g_strv_length (fields), ==, g_strv_length (header));
      if (strcmp (fields[kind], "child") != 0)
        continue;
      g_assert_cmpint (g_ascii_strtoll (fields[tid], NULL, 10), ==, root_pid);
      g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes"
                                            " WHERE pid = %d AND parent_id IS NOT NULL",
                                            atoi (fields[holder])), ==, 1);
      found++;
    }
  g_assert_cmpint (found, ==, waits);
}

#ifdef HAVE_JSON_GLIB
/* The JSON report's parent thread: in sync at least as long as its 'ok'
 * waits' children slept, and the summary's sync mean above 0. */
static void
assert_json_sync (WeftRun *run,
                  gint64   root_pid,
                  gint64   sync_min_ns)
{
  g_autofree char *json = report (run, "json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *root, *summary;
  JsonArray *threads;
  gboolean found = FALSE;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  summary = json_object_get_object_member (root, "summary");
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (summary, "state_means"),
                                                    "sync"), >, 0);
  threads = json_object_get_array_member (root, "threads");
  for (guint i = 0; i < json_array_get_length (threads); i++)
    {
      JsonObject *thread = json_array_get_object_element (threads, i);
      JsonObject *states = json_object_get_object_member (thread, "states");

      if (json_object_get_int_member (thread, "tid") != root_pid)
        continue;
      g_assert_cmpint (json_object_get_int_member (states, "sync"), >=, sync_min_ns);
      found = TRUE;
    }
  g_assert_true (found);
}
#endif

static void
test_report (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 root_pid, waits, ok_waits;

  g_test_summary ("weft report names the kind: its CSV waits table has the 'child' waits "
                  "of the parent with their holders, its JSON puts their time in sync");
  run = record_child_wait ();
  root_pid = weft_test_query_int (run, "SELECT pid FROM processes WHERE parent_id IS NULL");
  waits = weft_test_expect_int (run, "child_waits");
  ok_waits = waits - weft_test_expect_int (run, "interrupted_waits");
  assert_csv_waits (run, root_pid, waits);
#ifdef HAVE_JSON_GLIB
  if (sched_exact (run))
    assert_json_sync (run, root_pid, ok_waits * weft_test_expect_int (run, "child_ms") * 1000000);
#else
  (void) ok_waits;
  g_test_message ("json-glib is not installed: the JSON report is not checked");
#endif
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/collector/child-wait/waits", test_waits);
  g_test_add_func ("/collector/child-wait/states", test_states);
  g_test_add_func ("/collector/child-wait/exit-status", test_exit_status);
  g_test_add_func ("/collector/child-wait/report", test_report);

  return g_test_run ();
}
