/* test-report.c — `weft report` on synthetic traces: the figures, both
 * formats, escaping of untrusted names, spans, and bad input. The command
 * runs in a subprocess when its stdout, stderr and exit status are checked,
 * and in this process with -o when its output is parsed. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_JSON_GLIB
#include <json-glib/json-glib.h>
#endif

#include "report-fixture.h"
#include "weft-analysis.h"
#include "weft-commands.h"

#define T0 REPORT_T0_NS
#define MS REPORT_MS
#define S REPORT_S

/* The parent's temporary directory, passed to subprocesses in the environment. */
#define DIR_ENV "WEFT_TEST_REPORT_DIR"

#define EVIL_NAME "<script>alert(1)</script>,\"x\"\n\x1b[31m"

static char *
test_file (const char *name)
{
  return g_build_filename (g_getenv (DIR_ENV), name, NULL);
}

static int
run_args (GPtrArray *args)
{
  g_ptr_array_insert (args, 0, (char *) "weft report");
  g_ptr_array_add (args, NULL);
  return weft_cmd_report (args->len - 1, (char **) args->pdata);
}

/* In a subprocess: runs `weft report ARGS…`, prints the exit status as the
 * last line of stdout and exits with it. */
static void G_GNUC_NULL_TERMINATED G_GNUC_NORETURN
run_report (const char *first,
            ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  int status;

  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  status = run_args (args);
  printf ("[status %d]\n", status);
  fflush (stdout);
  exit (status);
}

/* In this process: `weft report TRACE -o OUT ARGS…` (NULL-terminated);
 * returns OUT's text. */
static char * G_GNUC_NULL_TERMINATED
report_text (const char *trace,
             ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = test_file ("out.report");
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  va_list ap;

  g_ptr_array_add (args, (char *) trace);
  g_ptr_array_add (args, (char *) "-o");
  g_ptr_array_add (args, out);
  va_start (ap, trace);
  for (const char *arg = va_arg (ap, const char *); arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_assert_cmpint (run_args (args), ==, 0);
  g_assert_true (g_file_get_contents (out, &text, NULL, &error));
  g_assert_no_error (error);
  g_unlink (out);
  return text;
}

/* Traces */

/* holder runs the whole second; the waiter (named waiter_name) waits 100 ms
 * off CPU for counter_lock, held by holder; sleeper sleeps 900 ms. */
static void
make_lock_trace (const char *path,
                 const char *waiter_name,
                 gboolean    analyse)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace;
  gint64 process, holder, waiter, sleeper, mutex, stack;

  g_unlink (path);
  trace = report_fixture_create (path, S, 2);
  process = report_fixture_process (trace, 100, 0, "./prog --test");
  holder = report_fixture_thread (trace, process, 100, "holder", T0, T0 + S);
  waiter = report_fixture_thread (trace, process, 101, waiter_name, T0, T0 + S);
  sleeper = report_fixture_thread (trace, process, 102, "sleeper", T0, T0 + S);
  mutex = report_fixture_object (trace, process, 0x4000, "mutex", "counter_lock");
  stack = report_fixture_stack (trace, process, "add_one", "worker", "start_thread", NULL);
  report_fixture_slice (trace, holder, 0, T0, T0 + S, FALSE);
  report_fixture_slice (trace, waiter, 1, T0 + 100 * MS, T0 + 200 * MS, FALSE);
  report_fixture_wait (trace, waiter, mutex, "mutex", T0 + 190 * MS, T0 + 300 * MS, holder, stack);
  report_fixture_slice (trace, waiter, 1, T0 + 300 * MS, T0 + S, FALSE);
  report_fixture_slice (trace, sleeper, 1, T0, T0 + 100 * MS, FALSE);
  report_fixture_wait (trace, sleeper, 0, "sleep", T0 + 100 * MS, T0 + S, 0, 0);
  report_fixture_exec (trace, "INSERT INTO object_stats VALUES (1, 1, 50, 0, 40000000, 2000000, 50),"
                              " (1, 2, 10, 1, 1000000, 300000, 10)");
  if (analyse)
    g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  weft_trace_free (trace);
}

/* Two threads on the two CPUs for the whole second. */
static void
make_parallel_trace (const char *path)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace;
  gint64 process;

  g_unlink (path);
  trace = report_fixture_create (path, S, 2);
  process = report_fixture_process (trace, 100, 0, "./cpu-parallel 2");
  for (int i = 0; i < 2; i++)
    {
      gint64 thread = report_fixture_thread (trace, process, 100 + i, "burn", T0, T0 + S);

      for (int k = 0; k < 4; k++)
        report_fixture_slice (trace, thread, i, T0 + k * 250 * MS, T0 + (k + 1) * 250 * MS, k < 3);
    }
  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  weft_trace_free (trace);
}

/* count threads, each off CPU in state kind for 80% of the second, on one CPU. */
static void
make_waiting_trace (const char *path,
                    const char *kind,
                    int         count,
                    gboolean    preempted)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace;
  gint64 process;

  g_unlink (path);
  trace = report_fixture_create (path, S, 1);
  process = report_fixture_process (trace, 100, 0, "./waits");
  for (int i = 0; i < count; i++)
    {
      gint64 thread = report_fixture_thread (trace, process, 100 + i, "w", T0, T0 + S);
      gint64 start = T0 + i * 200 * MS / count;

      report_fixture_slice (trace, thread, 0, start, start + 200 * MS / count, preempted);
      if (kind != NULL)
        report_fixture_wait (trace, thread, 0, kind, start + 200 * MS / count, T0 + S, 0, 0);
    }
  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  weft_trace_free (trace);
}

#ifdef HAVE_JSON_GLIB
static JsonNode *
parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonNode *
report_json (const char *trace,
             const char *span)
{
  g_autofree char *text = span != NULL ? report_text (trace, "--format", "json", "--span", span, NULL)
                                       : report_text (trace, "--format", "json", NULL);

  return parse_json (text);
}

static JsonNode *
path_node (JsonNode   *root,
           const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) found = json_path_query (path, root, &error);
  JsonArray *matches;

  g_assert_no_error (error);
  matches = json_node_get_array (found);
  if (json_array_get_length (matches) != 1)
    g_error ("%s: %u matches", path, json_array_get_length (matches));
  return json_node_copy (json_array_get_element (matches, 0));
}

/* Elements of the array at path (the node path_node returns is a copy that
 * keeps the array alive: it must not be left to leak). */
static guint
path_length (JsonNode   *root,
             const char *path)
{
  g_autoptr(JsonNode) node = path_node (root, path);

  return json_array_get_length (json_node_get_array (node));
}

static gint64
path_int (JsonNode   *root,
          const char *path)
{
  g_autoptr(JsonNode) node = path_node (root, path);

  return json_node_get_int (node);
}

static double
path_double (JsonNode   *root,
             const char *path)
{
  g_autoptr(JsonNode) node = path_node (root, path);

  return json_node_get_double (node);
}

static char *
path_string (JsonNode   *root,
             const char *path)
{
  g_autoptr(JsonNode) node = path_node (root, path);

  return json_node_dup_string (node);
}
#endif

/* Tests */

static void
test_text (void)
{
  g_autofree char *path = test_file ("lock.db");
  g_autofree char *text = NULL;

  g_test_summary ("The text report has the header, the summary with its verdict, the "
                  "contended lock with its stack and holder, the blocking pair, threads "
                  "and processes.");
  make_lock_trace (path, "waiter", TRUE);
  text = report_text (path, NULL);
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "  command       ./prog --test\n"));
  g_assert_nonnull (strstr (text, "  duration      1.00 s\n"));
  g_assert_nonnull (strstr (text, "  ran           1 process, 3 threads\n"));
  g_assert_nonnull (strstr (text, "  mean parallelism    1.90"));
  g_assert_nonnull (strstr (text, "  mean concurrency    2.10"));
  g_assert_nonnull (strstr (text, "    lock              0.10\n"));
  g_assert_nonnull (strstr (text, "verdict: parallel: 1.90 of 2 CPUs busy"));
  g_assert_nonnull (strstr (text, "counter_lock (mutex)            1    110.0 ms"));
  g_assert_nonnull (strstr (text, "stack   1 wait, 110.0 ms: add_one ← worker ← start_thread\n"));
  g_assert_nonnull (strstr (text, "holder  holder (100): 1 wait for it, 110.0 ms\n"));
  g_assert_nonnull (strstr (text, "waiter (101)  holder (100)  counter_lock      1"));
  g_assert_nonnull (strstr (text, "  101  waiter   100  1.00 s    80.0%"));
  g_assert_nonnull (strstr (text, "  100       -  0            -   1.90 s        3  ./prog --test\n"));
  g_assert_null (strstr (text, " \n"));
  g_assert_null (strstr (text, "\033"));
}

static void
test_json (void)
{
#ifdef HAVE_JSON_GLIB
  g_autofree char *path = test_file ("lock.db");
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *name = NULL;
  g_autofree char *holder = NULL;
  g_autofree char *frame = NULL;

  g_test_summary ("The JSON report parses back and carries the figures of the trace under "
                  "their documented names, in integer nanoseconds.");
  make_lock_trace (path, "waiter", TRUE);
  root = report_json (path, NULL);

  g_assert_cmpint (path_int (root, "$.format_version"), ==, 1);
  g_assert_cmpint (path_int (root, "$.trace.duration_ns"), ==, S);
  g_assert_cmpint (path_int (root, "$.trace.cpus"), ==, 2);
  g_assert_cmpint (path_int (root, "$.trace.lost_events"), ==, 0);
  g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.mean_parallelism"), 1.9, 1e-9);
  g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.mean_concurrency"), 2.1, 1e-9);
  g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.state_means.lock"), 0.1, 1e-9);
  g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.state_means.sleep"), 0.9, 1e-9);
  g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.parallelism_histogram[2]"), 0.9, 1e-9);
  name = path_string (root, "$.locks[0].name");
  g_assert_cmpstr (name, ==, "counter_lock");
  g_assert_cmpint (path_int (root, "$.locks[0].wait_total_ns"), ==, 110 * MS);
  g_assert_cmpint (path_int (root, "$.locks[0].acquisitions"), ==, 60);
  g_assert_cmpint (path_int (root, "$.locks[0].hold_total_ns"), ==, 41 * MS);
  g_assert_cmpint (path_int (root, "$.locks[0].top_stacks[0].count"), ==, 1);
  frame = path_string (root, "$.locks[0].top_stacks[0].frames[0]");
  g_assert_cmpstr (frame, ==, "add_one");
  holder = path_string (root, "$.blocking[0].holder.name");
  g_assert_cmpstr (holder, ==, "holder");
  g_assert_cmpint (path_int (root, "$.blocking[0].waiter.tid"), ==, 101);
  g_assert_cmpint (path_int (root, "$.blocking[0].count"), ==, 1);
  g_assert_cmpint (path_int (root, "$.blocking[0].wait_total_ns"), ==, 110 * MS);
  g_assert_cmpint (path_int (root, "$.threads[1].states.lock"), ==, 100 * MS);
  g_assert_cmpint (path_int (root, "$.threads[1].states.runnable"), ==, 100 * MS);
  g_assert_cmpint (path_int (root, "$.threads[2].states.sleep"), ==, 900 * MS);
  g_assert_cmpint (path_int (root, "$.processes[0].pid"), ==, 100);
  g_assert_cmpint (path_int (root, "$.processes[0].exit_status"), ==, 0);
#else
  g_test_skip ("json-glib is not installed");
#endif
}

static void
test_parallel (void)
{
  g_autofree char *path = test_file ("parallel.db");
  g_autofree char *text = NULL;

  g_test_summary ("Two threads busy on both CPUs for the whole trace: P = C = 2, all "
                  "the time at P = 2, and the verdict says parallel.");
  make_parallel_trace (path);
  text = report_text (path, NULL);
  g_assert_nonnull (strstr (text, "verdict: parallel: 2.00 of 2 CPUs busy\n"));
  g_assert_nonnull (strstr (text, "    2  100.0%"));
#ifdef HAVE_JSON_GLIB
  {
    g_autoptr(JsonNode) root = report_json (path, NULL);

    g_assert_cmpfloat (path_double (root, "$.summary.mean_parallelism"), ==, 2.0);
    g_assert_cmpfloat (path_double (root, "$.summary.mean_concurrency"), ==, 2.0);
    g_assert_cmpint (path_int (root, "$.summary.parallelism_ns[2]"), ==, S);
  }
#endif
}

static void
test_slice_time (void)
{
#ifdef HAVE_JSON_GLIB
  g_autofree char *path = test_file ("big.db");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) levels = NULL;
  WeftTrace *trace;
  gint64 slice_ns, weighted_ns = 0;
  JsonArray *array;

  g_test_summary ("Mean parallelism × duration in the report equals the total time of "
                  "cpu_slices, to the nanosecond in parallelism_ns.");
  g_unlink (path);
  trace = report_fixture_create (path, S, 4);
  report_fixture_big (trace, 6, 20000, S);
  g_assert_true (weft_analysis_run (trace, &error));
  slice_ns = report_fixture_int (trace, "SELECT sum(end_ns - start_ns) FROM cpu_slices");
  weft_trace_free (trace);

  root = report_json (path, NULL);
  levels = path_node (root, "$.summary.parallelism_ns");
  array = json_node_get_array (levels);
  for (guint level = 0; level < json_array_get_length (array); level++)
    weighted_ns += level * json_array_get_int_element (array, level);
  g_assert_cmpint (weighted_ns, ==, slice_ns);
  g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.mean_parallelism") * S, (double) slice_ns,
                                  1e-6 * S);
#else
  g_test_skip ("json-glib is not installed");
#endif
}

static void
test_escape_text (void)
{
  g_autofree char *path = test_file ("evil.db");
  g_autofree char *text = NULL;

  g_test_summary ("A thread named with HTML, quotes, a newline and a terminal escape comes "
                  "out of the text report as visible escapes, with no control byte.");
  make_lock_trace (path, EVIL_NAME, TRUE);
  text = report_text (path, NULL);
  g_assert_nonnull (strstr (text, "<script>alert(1)</script>,\"x\"\\x0a\\x1b[31m"));
  g_assert_null (strstr (text, "\x1b"));
  for (const char *p = text; *p != '\0'; p++)
    g_assert_true (*p == '\n' || (guchar) *p >= 0x20);
}

static void
test_escape_json (void)
{
#ifdef HAVE_JSON_GLIB
  g_autofree char *path = test_file ("evil.db");
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *name = NULL;
  g_autofree char *waiter = NULL;

  g_test_summary ("The same name in JSON is escaped (no raw control byte, no raw <) and "
                  "parses back to exactly the original string.");
  make_lock_trace (path, EVIL_NAME, TRUE);
  text = report_text (path, "--format", "json", NULL);
  g_assert_null (strstr (text, "<script>"));
  g_assert_nonnull (strstr (text, "\\u003cscript\\u003e"));
  for (const char *p = text; *p != '\0'; p++)
    g_assert_true (*p == '\n' || (guchar) *p >= 0x20);
  root = parse_json (text);
  name = path_string (root, "$.threads[1].name");
  g_assert_cmpstr (name, ==, EVIL_NAME);
  waiter = path_string (root, "$.blocking[0].waiter.name");
  g_assert_cmpstr (waiter, ==, EVIL_NAME);
#else
  g_test_skip ("json-glib is not installed");
#endif
}

static void
test_escape_invalid_utf8 (void)
{
  g_autofree char *path = test_file ("latin1.db");
  g_autofree char *text = NULL;
  g_autofree char *json = NULL;

  g_test_summary ("A name that is not UTF-8 becomes \\xNN in text and U+FFFD in JSON, "
                  "which stays valid UTF-8.");
  make_lock_trace (path, "caf\xe9\xff", TRUE);
  text = report_text (path, NULL);
  g_assert_nonnull (strstr (text, "caf\\xe9\\xff"));
  json = report_text (path, "--format", "json", NULL);
  g_assert_true (g_utf8_validate (json, -1, NULL));
  g_assert_nonnull (strstr (json, "\"caf\\ufffd\\ufffd\""));
#ifdef HAVE_JSON_GLIB
  {
    g_autoptr(JsonNode) root = parse_json (json);
    g_autofree char *name = path_string (root, "$.threads[1].name");

    g_assert_cmpstr (name, ==, "caf\xef\xbf\xbd\xef\xbf\xbd");
  }
#endif
}

static void
test_span (void)
{
  g_autofree char *path = test_file ("lock.db");
  g_autofree char *text = NULL;

  g_test_summary ("--span 150ms:250ms covers 100 ms: the wait clipped to 60 ms (it began on "
                  "the CPU at 190 ms), 50 ms of it in state lock, means over the span, and "
                  "acquisitions and hold times not shown.");
  make_lock_trace (path, "waiter", TRUE);
  text = report_text (path, "--span", "150ms:250ms", NULL);
  g_assert_nonnull (strstr (text, "  span          100.0 ms, from 150.0 ms to 250.0 ms after the start\n"));
  g_assert_nonnull (strstr (text, "counter_lock (mutex)            1     60.0 ms   60.0 ms   60.0 ms           -         -        1\n"));
#ifdef HAVE_JSON_GLIB
  {
    g_autoptr(JsonNode) root = report_json (path, "0.15s:0.25s");
    g_autoptr(JsonNode) acquisitions = path_node (root, "$.locks[0].acquisitions");

    g_assert_cmpint (path_int (root, "$.span.start_ns"), ==, 150 * MS);
    g_assert_cmpint (path_int (root, "$.span.duration_ns"), ==, 100 * MS);
    g_assert_cmpint (path_int (root, "$.summary.duration_ns"), ==, 100 * MS);
    g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.mean_parallelism"), 1.5, 1e-9);
    g_assert_cmpfloat_with_epsilon (path_double (root, "$.summary.state_means.lock"), 0.5, 1e-9);
    g_assert_cmpint (path_int (root, "$.locks[0].wait_total_ns"), ==, 60 * MS);
    g_assert_true (JSON_NODE_HOLDS_NULL (acquisitions));
    g_assert_cmpint (path_int (root, "$.blocking[0].wait_total_ns"), ==, 60 * MS);
    g_assert_cmpint (path_int (root, "$.threads[1].states.lock"), ==, 50 * MS);
    g_assert_cmpint (path_int (root, "$.threads[1].life_ns"), ==, 100 * MS);
  }
  {
    /* An open end reaches the end of the trace; an end past it stops there. */
    g_autoptr(JsonNode) open_end = report_json (path, "900ms:");
    g_autoptr(JsonNode) past_end = report_json (path, "900ms:5s");

    g_assert_cmpint (path_int (open_end, "$.span.duration_ns"), ==, 100 * MS);
    g_assert_cmpint (path_int (past_end, "$.span.duration_ns"), ==, 100 * MS);
  }
#endif
}

static void
test_unanalysed (void)
{
  g_autofree char *path = test_file ("raw.db");
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = NULL;

  g_test_summary ("A trace whose analysis never ran is analysed in memory for the report, "
                  "and the file is left as it was.");
  make_lock_trace (path, "waiter", FALSE);
  text = report_text (path, NULL);
  g_assert_nonnull (strstr (text, "verdict: parallel: 1.90 of 2 CPUs busy"));
  trace = weft_trace_open (path, &error);
  g_assert_no_error (error);
  g_assert_false (weft_analysis_is_current (trace));
  g_assert_cmpint (report_fixture_int (trace, "SELECT count(*) FROM thread_states"), ==, 0);
}

static void
test_verdicts (void)
{
  static const struct
  {
    const char *kind;
    int         threads;
    gboolean    preempted;
    const char *verdict;
  } cases[] = {
    { "poll", 2, FALSE, "verdict: mostly waiting for I/O (poll, select, epoll); 0.20 of 1 CPU busy\n" },
    { "cond", 2, FALSE, "verdict: threads mostly waited for each other (condition variables, barriers, joins, child processes)" },
    { NULL, 4, TRUE, "verdict: more runnable threads than CPUs: on average 3.80 threads waited for a CPU" },
    { NULL, 2, FALSE, "verdict: threads mostly blocked in the kernel outside locks and waits" },
    { "sleep", 1, FALSE, "verdict: threads mostly slept: 0.80 asleep on average; 0.20 of 1 CPU busy\n" },
  };
  g_autofree char *path = test_file ("verdict.db");
  g_autofree char *lock_path = test_file ("lock.db");
  g_autofree char *text = NULL;

  g_test_summary ("The verdict names what the gap C - P was made of: one lock, I/O, "
                  "waiting for each other, too few CPUs, the kernel; or that threads slept.");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *report = NULL;

      make_waiting_trace (path, cases[i].kind, cases[i].threads, cases[i].preempted);
      report = report_text (path, NULL);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, strstr (report, "verdict"));
      g_assert_nonnull (strstr (report, cases[i].verdict));
    }

  /* Around the lock wait, the lock is the whole gap. */
  make_lock_trace (lock_path, "waiter", TRUE);
  text = report_text (lock_path, "--span", "150ms:300ms", NULL);
  g_assert_nonnull (strstr (text, "verdict: threads mostly waited for one lock: counter_lock "
                                  "(100% of the lock waiting); 1.33 of 2 CPUs busy\n"));
}

static void
test_top (void)
{
#ifdef HAVE_JSON_GLIB
  g_autofree char *path = test_file ("big.db");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) all = NULL;
  g_autofree char *text = NULL;
  WeftTrace *trace;

  g_test_summary ("--top N keeps the N most waited-for objects and blocking pairs, "
                  "and says how many there were; --top 0 keeps all.");
  g_unlink (path);
  trace = report_fixture_create (path, S, 4);
  report_fixture_big (trace, 6, 5000, S);
  g_assert_true (weft_analysis_run (trace, &error));
  weft_trace_free (trace);

  text = report_text (path, "--top", "2", "--format", "json", NULL);
  root = parse_json (text);
  g_assert_cmpint (path_length (root, "$.locks"), ==, 2);
  g_assert_cmpint (path_int (root, "$.locks_total"), ==, 5);
  g_assert_cmpint (path_length (root, "$.blocking"), ==, 2);
  g_assert_cmpint (path_int (root, "$.locks[0].wait_total_ns"), >=, path_int (root, "$.locks[1].wait_total_ns"));
  g_clear_pointer (&text, g_free);
  text = report_text (path, "--top", "0", "--format", "json", NULL);
  all = parse_json (text);
  g_assert_cmpint (path_length (all, "$.locks"), ==, 5);
  g_clear_pointer (&text, g_free);
  text = report_text (path, "--top", "2", NULL);
  g_assert_nonnull (strstr (text, "contended objects (top 2 of 5, by total wait)"));
#else
  g_test_skip ("json-glib is not installed");
#endif
}

static void
test_missing_file (void)
{
  g_autofree char *path = test_file ("missing.db");
  g_autofree char *out = test_file ("missing.out");

  if (g_test_subprocess ())
    run_report (path, "-o", out, NULL);

  g_test_summary ("A missing trace: one line on stderr, exit 1, nothing on stdout, no -o file.");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 1]\n");
  g_test_trap_assert_stderr ("weft report: */missing.db: no such file\n");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

static void
test_not_a_trace (void)
{
  g_autofree char *path = test_file ("notes.txt");
  g_autofree char *out = test_file ("notes.out");

  if (g_test_subprocess ())
    run_report (path, "-o", out, NULL);

  g_test_summary ("A file that is not a trace: one line, exit 1; an existing -o file is "
                  "left as it was.");
  g_assert_true (g_file_set_contents (path, "just some text\n", -1, NULL));
  g_assert_true (g_file_set_contents (out, "previous report\n", -1, NULL));
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 1]\n");
  g_test_trap_assert_stderr ("weft report: */notes.txt: is not a weft trace*\n");
  {
    g_autofree char *kept = NULL;

    g_assert_true (g_file_get_contents (out, &kept, NULL, NULL));
    g_assert_cmpstr (kept, ==, "previous report\n");
  }
}

static void
test_bad_span (void)
{
  static const char * const spans[] = { "1s", "x:2s", "2s:1s", "1.5q:", "5s:6s" };
  g_autofree char *path = test_file ("lock.db");

  if (g_test_subprocess ())
    {
      int i = atoi (g_getenv ("WEFT_TEST_SPAN_CASE"));

      run_report (path, "--span", spans[i], NULL);
    }

  g_test_summary ("A span that does not parse, runs backwards or starts after the trace: "
                  "one line on stderr, exit 2, no report.");
  make_lock_trace (path, "waiter", TRUE);
  for (gsize i = 0; i < G_N_ELEMENTS (spans); i++)
    {
      g_autofree char *index = g_strdup_printf ("%" G_GSIZE_FORMAT, i);

      g_setenv ("WEFT_TEST_SPAN_CASE", index, TRUE);
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDIN);
      g_test_trap_assert_failed ();
      g_test_trap_assert_stdout ("[status 2]\n");
      g_test_trap_assert_stderr ("weft report: *span*; see 'weft report --help'\n");
    }
}

static void
test_bad_format (void)
{
  g_autofree char *path = test_file ("lock.db");

  if (g_test_subprocess ())
    run_report (path, "--format", "xml", NULL);

  g_test_summary ("An unknown --format: one line, exit 2.");
  make_lock_trace (path, "waiter", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 2]\n");
  g_test_trap_assert_stderr ("weft report: unknown format 'xml': use text, json, csv or html; "
                             "see 'weft report --help'\n");
}

static void
test_output_same_as_stdout (void)
{
  g_autofree char *path = test_file ("lock.db");

  if (g_test_subprocess ())
    run_report (path, "--format", "json", NULL);

  g_test_summary ("stdout gets the same report that -o writes; no colour when NO_COLOR "
                  "is set or stdout is not a terminal.");
  make_lock_trace (path, "waiter", TRUE);
  {
    g_autofree char *written = report_text (path, "--format", "json", NULL);
    g_autofree char *expected = g_strdup_printf ("%s[status 0]\n", written);

    g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed ();
    g_test_trap_assert_stderr ("");
    g_test_trap_assert_stdout (expected);
  }
}

static void
test_output_to_trace (void)
{
  g_autofree char *path = test_file ("lock.db");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;

  if (g_test_subprocess ())
    run_report (path, "-o", path, NULL);

  g_test_summary ("-o naming the trace itself is refused (exit 2) and the trace is intact.");
  make_lock_trace (path, "waiter", TRUE);
  g_assert_true (g_file_get_contents (path, &before, &before_len, NULL));
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 2]\n");
  g_test_trap_assert_stderr ("weft report: -o names the trace itself*\n");
  g_assert_true (g_file_get_contents (path, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);
}

static void
test_output_unwritable (void)
{
  g_autofree char *path = test_file ("lock.db");
  g_autofree char *out = test_file ("no-such-dir/report.txt");

  if (g_test_subprocess ())
    run_report (path, "-o", out, NULL);

  g_test_summary ("-o into a directory that does not exist: one line, exit 1, no file.");
  make_lock_trace (path, "waiter", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 1]\n");
  g_test_trap_assert_stderr ("weft report: *report.txt*\n");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

static void
test_help (void)
{
  if (g_test_subprocess ())
    run_report ("--help", NULL);

  g_test_summary ("--help prints the usage with the span syntax and examples, exit 0.");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("Usage:*[FILE]*--span START:END*Examples:*[status 0]\n");
  g_test_trap_assert_stderr ("");
}

/* CSV */

/* A strict RFC 4180 reader: records end in CRLF; a field is either quoted
 * (quotes inside doubled, followed by a comma or the end of the record) or
 * holds no quote, CR or LF. Fails the test on anything else. Returns the
 * records, each a GStrv. */
static GPtrArray *
parse_csv (const char *text)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  const char *p = text;

  while (*p != '\0')
    {
      g_autoptr(GStrvBuilder) fields = g_strv_builder_new ();

      for (;;)
        {
          g_autoptr(GString) field = g_string_new (NULL);

          if (*p == '"')
            {
              for (p++;; p++)
                {
                  if (*p == '\0')
                    g_error ("CSV: unterminated quoted field");
                  if (*p == '"' && p[1] == '"')
                    {
                      g_string_append_c (field, '"');
                      p++;
                    }
                  else if (*p == '"')
                    break;
                  else
                    g_string_append_c (field, *p);
                }
              p++;
            }
          else
            for (; *p != ',' && *p != '\r' && *p != '\0'; p++)
              {
                if (*p == '"' || *p == '\n')
                  g_error ("CSV: quote or LF in an unquoted field at %.20s", p);
                g_string_append_c (field, *p);
              }
          g_strv_builder_add (fields, field->str);
          if (*p == ',')
            {
              p++;
              continue;
            }
          if (p[0] != '\r' || p[1] != '\n')
            g_error ("CSV: a record must end in CRLF, found %.10s", p);
          p += 2;
          break;
        }
      g_ptr_array_add (records, g_strv_builder_end (fields));
    }
  return records;
}

/* The index of a column by its header name. */
static guint
csv_column (GPtrArray  *records,
            const char *name)
{
  char **header = records->pdata[0];

  for (guint i = 0; header[i] != NULL; i++)
    if (strcmp (header[i], name) == 0)
      return i;
  g_error ("CSV: no column %s", name);
}

/* Every record has as many fields as the header. */
static void
assert_rectangular (GPtrArray *records)
{
  guint columns;

  g_assert_cmpuint (records->len, >=, 1);
  columns = g_strv_length (records->pdata[0]);
  for (guint i = 1; i < records->len; i++)
    g_assert_cmpuint (g_strv_length (records->pdata[i]), ==, columns);
}

static GPtrArray *
report_csv (const char *trace,
            const char *table)
{
  g_autofree char *text = report_text (trace, "--format", "csv", "--table", table, NULL);

  g_assert_true (g_utf8_validate (text, -1, NULL));
  return parse_csv (text);
}

static void
test_csv_tables (void)
{
  static const char * const tables[] = { "locks", "threads", "processes", "waits", "states" };
  g_autofree char *path = test_file ("evil.db");

  g_test_summary ("Every CSV table parses back with a strict RFC 4180 reader, each record "
                  "with the header's column count, and the thread named with HTML, a comma, "
                  "quotes, a newline and an ESC comes back exactly.");
  make_lock_trace (path, EVIL_NAME, TRUE);
  for (gsize t = 0; t < G_N_ELEMENTS (tables); t++)
    {
      g_autoptr(GPtrArray) records = report_csv (path, tables[t]);

      g_test_message ("%s: %u records", tables[t], records->len);
      assert_rectangular (records);
      g_assert_cmpuint (records->len, >, 1);
    }
  {
    g_autoptr(GPtrArray) threads = report_csv (path, "threads");
    g_autoptr(GPtrArray) waits = report_csv (path, "waits");
    guint name = csv_column (threads, "name");
    guint waiter = csv_column (waits, "thread");
    guint kind = csv_column (waits, "kind");
    gboolean found = FALSE;

    g_assert_cmpstr (((char **) threads->pdata[2])[name], ==, EVIL_NAME);
    for (guint i = 1; i < waits->len; i++)
      if (strcmp (((char **) waits->pdata[i])[kind], "mutex") == 0)
        {
          g_assert_cmpstr (((char **) waits->pdata[i])[waiter], ==, EVIL_NAME);
          found = TRUE;
        }
    g_assert_true (found);
  }
}

static void
test_csv_figures (void)
{
  g_autofree char *path = test_file ("lock.db");
  g_autoptr(GPtrArray) locks = NULL;
  g_autoptr(GPtrArray) threads = NULL;
  g_autoptr(GPtrArray) states = NULL;
  g_autoptr(GPtrArray) waits = NULL;
  g_autoptr(GPtrArray) span_states = NULL;
  gint64 waiter_ns = 0, span_ns = 0;

  g_test_summary ("The CSV tables carry the report's figures in integer ns: the lock's waits, "
                  "the waiter's lock time, states that add up to each thread's life (also "
                  "clipped to a span), waits with their real times from the trace start.");
  make_lock_trace (path, "waiter", TRUE);
  locks = report_csv (path, "locks");
  g_assert_cmpstr (((char **) locks->pdata[1])[csv_column (locks, "name")], ==, "counter_lock");
  g_assert_cmpstr (((char **) locks->pdata[1])[csv_column (locks, "wait_total_ns")], ==, "110000000");
  g_assert_cmpstr (((char **) locks->pdata[1])[csv_column (locks, "acquisitions")], ==, "60");
  threads = report_csv (path, "threads");
  g_assert_cmpuint (threads->len, ==, 4);
  g_assert_cmpstr (((char **) threads->pdata[2])[csv_column (threads, "lock_ns")], ==, "100000000");
  g_assert_cmpstr (((char **) threads->pdata[2])[csv_column (threads, "life_ns")], ==, "1000000000");
  states = report_csv (path, "states");
  for (guint i = 1; i < states->len; i++)
    if (strcmp (((char **) states->pdata[i])[csv_column (states, "tid")], "101") == 0)
      waiter_ns += g_ascii_strtoll (((char **) states->pdata[i])[csv_column (states, "duration_ns")], NULL, 10);
  g_assert_cmpint (waiter_ns, ==, S);
  waits = report_csv (path, "waits");
  g_assert_cmpstr (((char **) waits->pdata[1])[csv_column (waits, "start_ns")], ==, "100000000");
  g_assert_cmpstr (((char **) waits->pdata[1])[csv_column (waits, "kind")], ==, "sleep");
  g_assert_cmpstr (((char **) waits->pdata[2])[csv_column (waits, "holder")], ==, "holder");
  g_assert_cmpstr (((char **) waits->pdata[2])[csv_column (waits, "wait_ns")], ==, "110000000");

  {
    g_autofree char *text = report_text (path, "--format", "csv", "--table", "states", "--span", "150ms:250ms", NULL);

    span_states = parse_csv (text);
  }
  for (guint i = 1; i < span_states->len; i++)
    if (strcmp (((char **) span_states->pdata[i])[csv_column (span_states, "tid")], "101") == 0)
      span_ns += g_ascii_strtoll (((char **) span_states->pdata[i])[csv_column (span_states, "duration_ns")], NULL, 10);
  g_assert_cmpint (span_ns, ==, 100 * MS);
}

static void
test_csv_formula (void)
{
  g_autofree char *path = test_file ("formula.db");
  g_autoptr(GPtrArray) threads = NULL;

  g_test_summary ("A name a spreadsheet would run as a formula gets a leading apostrophe.");
  make_lock_trace (path, "=HYPERLINK(\"http://x\")", TRUE);
  threads = report_csv (path, "threads");
  g_assert_cmpstr (((char **) threads->pdata[2])[csv_column (threads, "name")], ==, "'=HYPERLINK(\"http://x\")");
}

static void
test_csv_needs_table (void)
{
  g_autofree char *path = test_file ("lock.db");

  if (g_test_subprocess ())
    {
      if (g_strcmp0 (g_getenv ("WEFT_TEST_CSV_CASE"), "none") == 0)
        run_report (path, "--format", "csv", NULL);
      else if (g_strcmp0 (g_getenv ("WEFT_TEST_CSV_CASE"), "bad") == 0)
        run_report (path, "--format", "csv", "--table", "frames", NULL);
      else
        run_report (path, "--table", "locks", NULL);
    }

  g_test_summary ("--format csv without --table, an unknown table, or --table without csv: "
                  "one line, exit 2.");
  make_lock_trace (path, "waiter", TRUE);
  g_setenv ("WEFT_TEST_CSV_CASE", "none", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 2]\n");
  g_test_trap_assert_stderr ("weft report: --format csv needs --table *; see 'weft report --help'\n");
  g_setenv ("WEFT_TEST_CSV_CASE", "bad", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("weft report: unknown table 'frames'*\n");
  g_setenv ("WEFT_TEST_CSV_CASE", "html", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("weft report: --table goes with --format csv*\n");
}

/* HTML */

typedef struct
{
  GString *text;       /* all text content, concatenated */
  guint    elements;
  guint    scripts;    /* <script> elements */
  guint    svgs;
  guint    details;
  guint    external;   /* attributes that would fetch something: src, href */
} PageStats;

static void
page_start (GMarkupParseContext  *context,
            const char           *element,
            const char          **names,
            const char          **values,
            gpointer              data,
            GError              **error)
{
  PageStats *stats = data;

  stats->elements++;
  stats->scripts += strcmp (element, "script") == 0;
  stats->svgs += strcmp (element, "svg") == 0;
  stats->details += strcmp (element, "details") == 0;
  for (guint i = 0; names[i] != NULL; i++)
    stats->external += strcmp (names[i], "src") == 0 || strcmp (names[i], "href") == 0;
}

static void
page_text (GMarkupParseContext *context,
           const char          *text,
           gsize                len,
           gpointer             data,
           GError             **error)
{
  g_string_append_len (((PageStats *) data)->text, text, len);
}

/* Parses the page strictly as XML; fails the test if it is not well-formed. */
static void
parse_page (const char *html,
            PageStats  *stats)
{
  static const GMarkupParser parser = { page_start, NULL, page_text, NULL, NULL };
  g_autoptr(GMarkupParseContext) context = g_markup_parse_context_new (&parser, 0, stats, NULL);
  g_autoptr(GError) error = NULL;

  stats->text = g_string_new (NULL);
  if (!g_markup_parse_context_parse (context, html, -1, &error)
      || !g_markup_parse_context_end_parse (context, &error))
    g_error ("the HTML is not well-formed: %s", error->message);
}

static void
test_html_page (void)
{
  g_autofree char *path = test_file ("evil.db");
  g_autofree char *html = NULL;
  PageStats stats = { 0 };

  g_test_summary ("The HTML page is well-formed XML, has no script and fetches nothing, "
                  "draws the chart and the thread strips as SVG with the lock's stacks in "
                  "<details>, and shows the evil name only escaped.");
  make_lock_trace (path, EVIL_NAME, TRUE);
  html = report_text (path, "--format", "html", NULL);
  g_assert_true (g_utf8_validate (html, -1, NULL));
  parse_page (html, &stats);
  g_assert_cmpuint (stats.scripts, ==, 0);
  g_assert_cmpuint (stats.external, ==, 0);
  g_assert_cmpuint (stats.svgs, ==, 2);
  g_assert_cmpuint (stats.details, ==, 1);
  g_assert_null (strstr (html, "<script"));
  g_assert_null (strstr (html, "\x1b"));
  g_assert_null (strstr (html, "url("));
  g_assert_nonnull (strstr (html, "&lt;script&gt;alert(1)&lt;/script&gt;,&quot;x&quot;\\x0a\\x1b[31m"));
  /* Parsed back, the text shows the name as the terminal report does. */
  g_assert_nonnull (strstr (stats.text->str, "<script>alert(1)</script>,\"x\"\\x0a\\x1b[31m"));
  /* The summary has the text report's figures. */
  g_assert_nonnull (strstr (stats.text->str, "mean parallelism1.90"));
  g_assert_nonnull (strstr (stats.text->str, "mean concurrency2.10"));
  g_assert_nonnull (strstr (stats.text->str, "verdict: parallel: 1.90 of 2 CPUs busy"));
  g_assert_nonnull (strstr (stats.text->str, "add_one"));
  g_string_free (stats.text, TRUE);
}

static void
test_html_big (void)
{
  g_autofree char *path = test_file ("big.db");
  g_autofree char *html = NULL;
  g_autoptr(GError) error = NULL;
  PageStats stats = { 0 };
  WeftTrace *trace;

  g_test_summary ("A trace of 200 000 events makes a page of bounded size: the chart and the "
                  "strips are downsampled to columns.");
  g_unlink (path);
  trace = report_fixture_create (path, S, 4);
  report_fixture_big (trace, 6, 200000, S);
  g_assert_true (weft_analysis_run (trace, &error));
  weft_trace_free (trace);
  html = report_text (path, "--format", "html", NULL);
  parse_page (html, &stats);
  g_test_message ("%zu bytes", strlen (html));
  g_assert_cmpuint (strlen (html), <, 1500000);
  g_string_free (stats.text, TRUE);
}

static void
test_html_screenshot (void)
{
  const char *chromium = "/usr/bin/chromium";
  g_autofree char *path = test_file ("lock.db");
  g_autofree char *page = test_file ("page.html");
  g_autofree char *png = test_file ("page.png");
  g_autofree char *screenshot = g_strdup_printf ("--screenshot=%s", png);
  g_autofree char *url = NULL;
  g_autofree char *html = NULL;
  g_autoptr(GError) error = NULL;
  gint status = -1;

  g_test_summary ("Smoke check: headless Chromium renders the page to a PNG (skipped "
                  "without /usr/bin/chromium).");
  if (!g_file_test (chromium, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no /usr/bin/chromium");
      return;
    }
  make_lock_trace (path, "waiter", TRUE);
  html = report_text (path, "--format", "html", NULL);
  g_assert_true (g_file_set_contents (page, html, -1, NULL));
  url = g_filename_to_uri (page, NULL, NULL);
  {
    const char *argv[] = { chromium, "--headless", "--no-sandbox", "--disable-gpu", screenshot,
                           "--window-size=1280,1600", url, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, NULL, NULL, &status, &error));
  }
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
}

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_dir (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  g_setenv ("NO_COLOR", "1", TRUE);
  if (g_getenv (DIR_ENV) == NULL)
    {
      dir = g_dir_make_tmp ("weft-report-XXXXXX", NULL);
      g_assert_nonnull (dir);
      g_setenv (DIR_ENV, dir, TRUE);
    }

  g_test_add_func ("/report/text/sections", test_text);
  g_test_add_func ("/report/json/fields", test_json);
  g_test_add_func ("/report/figures/parallel", test_parallel);
  g_test_add_func ("/report/figures/slice-time", test_slice_time);
  g_test_add_func ("/report/figures/span", test_span);
  g_test_add_func ("/report/figures/verdicts", test_verdicts);
  g_test_add_func ("/report/figures/top", test_top);
  g_test_add_func ("/report/figures/unanalysed", test_unanalysed);
  g_test_add_func ("/report/escape/text", test_escape_text);
  g_test_add_func ("/report/escape/json", test_escape_json);
  g_test_add_func ("/report/escape/invalid-utf8", test_escape_invalid_utf8);
  g_test_add_func ("/report/input/missing-file", test_missing_file);
  g_test_add_func ("/report/input/not-a-trace", test_not_a_trace);
  g_test_add_func ("/report/input/bad-span", test_bad_span);
  g_test_add_func ("/report/input/bad-format", test_bad_format);
  g_test_add_func ("/report/output/stdout", test_output_same_as_stdout);
  g_test_add_func ("/report/output/trace-itself", test_output_to_trace);
  g_test_add_func ("/report/output/unwritable", test_output_unwritable);
  g_test_add_func ("/report/help", test_help);
  g_test_add_func ("/report/csv/tables", test_csv_tables);
  g_test_add_func ("/report/csv/figures", test_csv_figures);
  g_test_add_func ("/report/csv/formula", test_csv_formula);
  g_test_add_func ("/report/csv/needs-table", test_csv_needs_table);
  g_test_add_func ("/report/html/page", test_html_page);
  g_test_add_func ("/report/html/big", test_html_big);
  g_test_add_func ("/report/html/screenshot", test_html_screenshot);

  status = g_test_run ();
  if (dir != NULL)
    remove_dir (dir);
  return status;
}
