/* test-export.c — `weft export` on synthetic traces: Chrome's Trace Event
 * Format parses back with an X event track for every thread, named waits and
 * the counters; folded stacks are well-formed and weigh exactly the lock
 * waits; bad input leaves no file. */
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

#define DIR_ENV "WEFT_TEST_EXPORT_DIR"
#define EVIL_NAME "<script>alert(1)</script>,\"x\"\n\x1b[31m"
#define LOCK_KINDS "('mutex', 'rdlock', 'wrlock', 'spin', 'sem')"

static char *
test_file (const char *name)
{
  return g_build_filename (g_getenv (DIR_ENV), name, NULL);
}

static int
run_args (GPtrArray *args)
{
  g_ptr_array_insert (args, 0, (char *) "weft export");
  g_ptr_array_add (args, NULL);
  return weft_cmd_export (args->len - 1, (char **) args->pdata);
}

/* In a subprocess: `weft export ARGS…`, the status as stdout's last line. */
static void G_GNUC_NULL_TERMINATED G_GNUC_NORETURN
run_export (const char *first,
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

/* In this process: `weft export TRACE --format FORMAT -o OUT`; OUT's text. */
static char *
export_text (const char *trace,
             const char *format)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = test_file ("out.export");
  char *text = NULL;

  g_ptr_array_add (args, (char *) trace);
  g_ptr_array_add (args, (char *) "--format");
  g_ptr_array_add (args, (char *) format);
  g_ptr_array_add (args, (char *) "-o");
  g_ptr_array_add (args, out);
  g_assert_cmpint (run_args (args), ==, 0);
  g_assert_true (g_file_get_contents (out, &text, NULL, NULL));
  g_unlink (out);
  return text;
}

/* holder runs the whole second; the waiter (waiter_name) waits for
 * counter_lock held by holder twice, from two stacks (one with a space and a
 * semicolon in a frame name), and once for a semaphore without a stack;
 * sleeper waits on a condition variable (not a lock) and for the GIL (a cond
 * wait on an object of kind gil: a lock wait); a third thread only polls. */
static void
make_trace (const char *path,
            const char *waiter_name,
            gboolean    analyse)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace;
  gint64 process, holder, waiter, sleeper, poller, mutex, sem, cond, gil, stack_a, stack_b, stack_c;

  g_unlink (path);
  trace = report_fixture_create (path, S, 2);
  process = report_fixture_process (trace, 100, 0, "./prog --test");
  holder = report_fixture_thread (trace, process, 100, "holder", T0, T0 + S);
  waiter = report_fixture_thread (trace, process, 101, waiter_name, T0, T0 + S);
  sleeper = report_fixture_thread (trace, process, 102, "sleeper", T0, T0 + S);
  poller = report_fixture_thread (trace, process, 103, NULL, T0 + 10 * MS, T0 + 500 * MS);
  mutex = report_fixture_object (trace, process, 0x4000, "mutex", "counter_lock");
  sem = report_fixture_object (trace, process, 0x5000, "sem", NULL);
  cond = report_fixture_object (trace, process, 0x6000, "cond", "ready");
  gil = report_fixture_object (trace, process, 0x7000, "gil", "GIL");
  stack_a = report_fixture_stack (trace, process, "add_one", "worker", "start_thread", NULL);
  stack_b = report_fixture_stack (trace, process, "operator<< (int; x)", "worker", "start_thread", NULL);
  stack_c = report_fixture_stack (trace, process, "take_gil", "PyEval_EvalFrame", "main", NULL);
  report_fixture_slice (trace, holder, 0, T0, T0 + S, FALSE);
  report_fixture_slice (trace, waiter, 1, T0, T0 + 100 * MS, FALSE);
  report_fixture_wait (trace, waiter, mutex, "mutex", T0 + 100 * MS, T0 + 200 * MS, holder, stack_a);
  report_fixture_slice (trace, waiter, 1, T0 + 200 * MS, T0 + 300 * MS, FALSE);
  report_fixture_wait (trace, waiter, mutex, "mutex", T0 + 300 * MS, T0 + 330 * MS, holder, stack_b);
  report_fixture_slice (trace, waiter, 1, T0 + 330 * MS, T0 + 400 * MS, FALSE);
  report_fixture_wait (trace, waiter, sem, "sem", T0 + 400 * MS, T0 + 407 * MS, 0, 0);
  report_fixture_slice (trace, waiter, 1, T0 + 407 * MS, T0 + S, FALSE);
  report_fixture_slice (trace, sleeper, 1, T0, T0 + 100 * MS, FALSE);
  report_fixture_wait (trace, sleeper, cond, "cond", T0 + 100 * MS, T0 + 600 * MS, 0, 0);
  report_fixture_wait (trace, sleeper, gil, "cond", T0 + 600 * MS, T0 + 650 * MS, holder, stack_c);
  report_fixture_slice (trace, sleeper, 1, T0 + 650 * MS, T0 + S, FALSE);
  report_fixture_slice (trace, poller, 0, T0 + 10 * MS, T0 + 20 * MS, FALSE);
  report_fixture_wait (trace, poller, 0, "poll", T0 + 20 * MS, T0 + 500 * MS, 0, 0);
  if (analyse)
    g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  weft_trace_free (trace);
}

static gint64
trace_int (const char *path,
           const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = weft_trace_open (path, &error);

  g_assert_no_error (error);
  return report_fixture_int (trace, sql);
}

#ifdef HAVE_JSON_GLIB
static JsonNode *
parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_utf8_validate (text, -1, NULL));
  if (!json_parser_load_from_data (parser, text, -1, &error))
    g_error ("not JSON: %s", error->message);
  return json_node_copy (json_parser_get_root (parser));
}

/* The member of an event's args, or NULL. */
static const char *
arg_string (JsonObject *event,
            const char *name)
{
  JsonObject *args = json_object_has_member (event, "args") ? json_object_get_object_member (event, "args") : NULL;

  return args != NULL && json_object_has_member (args, name) ? json_object_get_string_member (args, name) : NULL;
}
#endif

static void
check_chrome (const char *path,
              const char *waiter_name)
{
#ifdef HAVE_JSON_GLIB
  g_autofree char *text = export_text (path, "chrome");
  g_autoptr(JsonNode) root = parse_json (text);
  JsonObject *object = json_node_get_object (root);
  JsonArray *events = json_object_get_array_member (object, "traceEvents");
  g_autoptr(GHashTable) named = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr(GHashTable) x_us = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  gboolean lock_event = FALSE, poll_event = FALSE;
  guint counters_p = 0, counters_c = 0;

  g_assert_nonnull (events);
  g_assert_null (strstr (text, "<script>"));
  for (guint i = 0; i < json_array_get_length (events); i++)
    {
      JsonObject *event = json_array_get_object_element (events, i);
      const char *ph = json_object_get_string_member (event, "ph");
      const char *name = json_object_get_string_member (event, "name");
      gint64 tid = json_object_get_int_member (event, "tid");

      g_assert_cmpint (json_object_get_int_member (event, "pid"), ==, 100);
      if (strcmp (ph, "M") == 0 && strcmp (name, "thread_name") == 0)
        {
          g_hash_table_add (named, GINT_TO_POINTER (tid));
          if (tid == 101)
            g_assert_cmpstr (arg_string (event, "name"), ==, waiter_name);
          if (tid == 103)
            g_assert_cmpstr (arg_string (event, "name"), ==, "tid 103");
        }
      else if (strcmp (ph, "X") == 0)
        {
          double *sum = g_hash_table_lookup (x_us, GINT_TO_POINTER (tid));

          if (sum == NULL)
            g_hash_table_insert (x_us, GINT_TO_POINTER (tid), (sum = g_new0 (double, 1)));
          *sum += json_object_get_double_member (event, "dur");
          g_assert_cmpfloat (json_object_get_double_member (event, "ts"), >=, 0);
          if (tid == 101 && strcmp (name, "lock") == 0 && json_object_get_double_member (event, "ts") == 100000.0)
            {
              g_assert_cmpfloat (json_object_get_double_member (event, "dur"), ==, 100000.0);
              g_assert_cmpstr (arg_string (event, "object"), ==, "counter_lock");
              g_assert_cmpstr (arg_string (event, "holder"), ==, "holder (tid 100)");
              g_assert_cmpstr (arg_string (event, "wait"), ==, "mutex");
              lock_event = TRUE;
            }
          if (tid == 103 && strcmp (name, "io") == 0)
            {
              g_assert_cmpstr (arg_string (event, "wait"), ==, "poll");
              poll_event = TRUE;
            }
        }
      else if (strcmp (ph, "C") == 0)
        {
          counters_p += strcmp (name, "parallelism") == 0;
          counters_c += strcmp (name, "concurrency") == 0;
        }
    }
  g_assert_true (lock_event);
  g_assert_true (poll_event);
  g_assert_cmpuint (counters_p, >, 1);
  g_assert_cmpuint (counters_c, ==, counters_p);
  /* Every thread has a name and a track of X events covering its life. */
  for (int tid = 100; tid <= 103; tid++)
    {
      double *sum = g_hash_table_lookup (x_us, GINT_TO_POINTER (tid));

      g_assert_true (g_hash_table_contains (named, GINT_TO_POINTER (tid)));
      g_assert_nonnull (sum);
      g_assert_cmpfloat_with_epsilon (*sum, tid == 103 ? 490000.0 : 1000000.0, 1e-6);
    }
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "otherData"), "start_ns"),
                   ==, T0);
#else
  g_test_skip ("json-glib is not installed");
#endif
}

static void
test_chrome (void)
{
  g_autofree char *path = test_file ("trace.db");

  g_test_summary ("The Chrome export parses as JSON: every thread has a thread_name and X "
                  "events (µs) adding up to its life, a lock wait names its object and "
                  "holder, and P and C are counter tracks.");
  make_trace (path, "waiter", TRUE);
  check_chrome (path, "waiter");
}

static void
test_chrome_escape (void)
{
  g_autofree char *path = test_file ("evil.db");

  g_test_summary ("A thread named with HTML, quotes, a newline and an ESC is escaped in the "
                  "Chrome export and parses back to exactly its name.");
  make_trace (path, EVIL_NAME, TRUE);
  check_chrome (path, EVIL_NAME);
}

static void
test_chrome_unanalysed (void)
{
  g_autofree char *path = test_file ("raw.db");

  g_test_summary ("A trace without a current analysis is analysed in memory for the "
                  "export; the file keeps no derived rows.");
  make_trace (path, "waiter", FALSE);
  check_chrome (path, "waiter");
  g_assert_cmpint (trace_int (path, "SELECT count(*) FROM thread_states"), ==, 0);
}

static void
test_collapsed (void)
{
  g_autofree char *path = test_file ("trace.db");
  g_autofree char *text = NULL;
  g_autoptr(GRegex) line_regex = g_regex_new ("^[^ ]+( [^ ]+)* [0-9]+$", 0, 0, NULL);
  g_auto(GStrv) lines = NULL;
  gint64 total_ns = 0, expected_ns;

  g_test_summary ("Folded stacks: every line is 'frames weight', frames outermost first with "
                  "no space or semicolon inside a name, the object last; the weights add up "
                  "to the total wait of the lock kinds and the GIL in waits.");
  make_trace (path, "waiter", TRUE);
  text = export_text (path, "collapsed");
  g_test_message ("%s", text);
  g_assert_true (g_str_has_suffix (text, "\n"));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      const char *weight = strrchr (lines[i], ' ');

      g_assert_true (g_regex_match (line_regex, lines[i], 0, NULL));
      /* Folded names carry no spaces: the one space is before the weight. */
      g_assert_true (weight == strchr (lines[i], ' '));
      total_ns += g_ascii_strtoll (weight + 1, NULL, 10);
    }
  expected_ns = trace_int (path, "SELECT sum(w.end_ns - w.start_ns) FROM waits w LEFT JOIN objects o"
                                 " ON o.id = w.object_id WHERE w.kind IN " LOCK_KINDS " OR o.kind = 'gil'");
  g_assert_cmpint (expected_ns, ==, 187 * MS);
  g_assert_cmpint (total_ns, ==, expected_ns);
  g_assert_nonnull (strstr (text, "start_thread;worker;add_one;[mutex_counter_lock] 100000000\n"));
  g_assert_nonnull (strstr (text, "start_thread;worker;operator<<_(int__x);[mutex_counter_lock] 30000000\n"));
  g_assert_nonnull (strstr (text, "main;PyEval_EvalFrame;take_gil;[gil_GIL] 50000000\n"));
  g_assert_nonnull (strstr (text, "[no_stack];[sem_at_0x5000] 7000000\n"));
  g_assert_null (strstr (text, "ready"));
}

static void
test_bad_input (void)
{
  static const struct
  {
    const char *file;
    const char *format;
    const char *stderr_pattern;
    int         status;
  } cases[] = {
    { "missing.db", "chrome", "weft export: */missing.db: no such file\n", 1 },
    { "notes.txt", "collapsed", "weft export: */notes.txt: is not a weft trace*\n", 1 },
    { "trace.db", "svg", "weft export: unknown format 'svg': use chrome or collapsed; see 'weft export --help'\n", 2 },
    { "trace.db", NULL, "weft export: --format is required: chrome or collapsed; see 'weft export --help'\n", 2 },
  };
  g_autofree char *out = test_file ("bad.out");

  if (g_test_subprocess ())
    {
      int i = atoi (g_getenv ("WEFT_TEST_CASE"));
      g_autofree char *file = test_file (cases[i].file);

      if (cases[i].format != NULL)
        run_export (file, "--format", cases[i].format, "-o", out, NULL);
      run_export (file, "-o", out, NULL);
    }

  g_test_summary ("A missing file, a file that is not a trace, an unknown or missing format: "
                  "one line on stderr, a non-zero exit, nothing on stdout, no output file.");
  {
    g_autofree char *notes = test_file ("notes.txt");
    g_autofree char *trace = test_file ("trace.db");

    g_assert_true (g_file_set_contents (notes, "just some text\n", -1, NULL));
    make_trace (trace, "waiter", TRUE);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *index = g_strdup_printf ("%" G_GSIZE_FORMAT, i);
      g_autofree char *status = g_strdup_printf ("[status %d]\n", cases[i].status);

      g_unlink (out);
      g_setenv ("WEFT_TEST_CASE", index, TRUE);
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_failed ();
      g_test_trap_assert_stdout (status);
      g_test_trap_assert_stderr (cases[i].stderr_pattern);
      g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    }
}

static void
test_stdout (void)
{
  g_autofree char *path = test_file ("trace.db");

  if (g_test_subprocess ())
    run_export (path, "--format", "collapsed", NULL);

  g_test_summary ("Without -o the export goes to stdout, the same as -o writes.");
  make_trace (path, "waiter", TRUE);
  {
    g_autofree char *written = export_text (path, "collapsed");
    g_autofree char *expected = g_strdup_printf ("%s[status 0]\n", written);

    g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed ();
    g_test_trap_assert_stderr ("");
    g_test_trap_assert_stdout (expected);
  }
}

static void
test_help (void)
{
  if (g_test_subprocess ())
    run_export ("--help", NULL);

  g_test_summary ("--help names both formats and gives examples, exit 0.");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("Usage:*[FILE]*chrome*collapsed*Examples:*[status 0]\n");
}

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

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
  if (g_getenv (DIR_ENV) == NULL)
    {
      dir = g_dir_make_tmp ("weft-export-XXXXXX", NULL);
      g_assert_nonnull (dir);
      g_setenv (DIR_ENV, dir, TRUE);
    }

  g_test_add_func ("/export/chrome/events", test_chrome);
  g_test_add_func ("/export/chrome/escape", test_chrome_escape);
  g_test_add_func ("/export/chrome/unanalysed", test_chrome_unanalysed);
  g_test_add_func ("/export/collapsed/lines", test_collapsed);
  g_test_add_func ("/export/input/bad", test_bad_input);
  g_test_add_func ("/export/output/stdout", test_stdout);
  g_test_add_func ("/export/help", test_help);

  status = g_test_run ();
  if (dir != NULL)
    remove_dir (dir);
  return status;
}
