/* bench-analysis.c — how long the analysis and `weft report` take on a large
 * trace, against the time sqlite3 takes to scan the raw tables once.
 *
 * Builds a synthetic trace (report-fixture.c: 16 threads, slices and waits in
 * time order) of 10 million events under -m perf, 100 000 otherwise, runs
 * weft_analysis_run on it and prints the rows read and written and the time.
 * Then it times `weft report` (text and json, $WEFT) on the trace and
 * `sqlite3 FILE 'SELECT count(*), sum(end_ns) FROM waits; …cpu_slices'`
 * (when a sqlite3 program is on PATH), and prints both and their ratio.
 *
 * WEFT_BENCH_TRACE=PATH keeps the built trace at PATH and reuses it when it
 * is already there (building 10 million events takes half a minute).
 *
 * It asserts nothing about speed (DESIGN.md: no timed assertions), only that
 * the analysis succeeds, its profile agrees with the slices and the commands
 * exit 0. */
#include <glib.h>
#include <glib/gstdio.h>

#include "report-fixture.h"
#include "weft-analysis.h"
#include "weft-report.h"

/* The whole-trace figures the analysis stores (granularity) are the ones the
 * report computes from thread_states: checked on the smoke run's trace. */
static void
check_stored_granularity (WeftTrace *trace)
{
  g_autoptr(GError) error = NULL;
  WeftReportOptions options = { 0 };
  WeftReport *report = weft_report_load (trace, &options, &error);
  g_autofree char *sql = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (report_fixture_int (trace, "SELECT bursts FROM granularity WHERE process_id IS NULL"),
                   ==, report->bursts);
  g_assert_cmpint (report_fixture_int (trace, "SELECT p50_ns FROM granularity WHERE process_id IS NULL"),
                   ==, report->granularity_p50_ns);
  g_assert_cmpint (report_fixture_int (trace, "SELECT p90_ns FROM granularity WHERE process_id IS NULL"),
                   ==, report->granularity_p90_ns);
  g_assert_cmpint (report_fixture_int (trace, "SELECT cpu_p50_ns FROM granularity WHERE process_id IS NULL"),
                   ==, report->granularity_cpu_p50_ns);
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      g_free (sql);
      sql = g_strdup_printf ("SELECT bursts * 1000003 + p50_ns * 31 + p90_ns * 7 + cpu_p50_ns"
                             " FROM granularity WHERE thread_id = %" G_GINT64_FORMAT, thread->id);
      g_assert_cmpint (report_fixture_int (trace, sql), ==,
                       thread->bursts * 1000003 + thread->granularity_p50_ns * 31
                       + thread->granularity_p90_ns * 7 + thread->granularity_cpu_p50_ns);
    }
  weft_report_free (report);
}

/* Runs argv, its output thrown away; returns the wall time in seconds. */
static double
time_command (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 start_us = g_get_monotonic_time ();
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
  return (g_get_monotonic_time () - start_us) / 1e6;
}

/* The best of a few runs, to keep a cold cache out of the figure. */
static double
best_of (const char * const *argv,
         int                 runs)
{
  double best = G_MAXDOUBLE;

  for (int i = 0; i < runs; i++)
    best = MIN (best, time_command (argv));
  return best;
}

static void
time_report (const char *path)
{
  const char *weft = g_getenv ("WEFT");
  g_autofree char *sqlite3 = g_find_program_in_path ("sqlite3");
  static const char scan_sql[] =
    "SELECT count(*), sum(end_ns) FROM waits; SELECT count(*), sum(end_ns) FROM cpu_slices";
  const char *scan_argv[] = { sqlite3, path, scan_sql, NULL };
  const char *text_argv[] = { weft, "report", path, NULL };
  const char *json_argv[] = { weft, "report", "--format", "json", path, NULL };
  double scan_s, text_s, json_s;

  if (weft == NULL)
    {
      g_test_message ("WEFT is not set: `weft report` is not timed");
      return;
    }
  text_s = best_of (text_argv, 3);
  json_s = best_of (json_argv, 3);
  if (sqlite3 == NULL)
    {
      g_test_message ("weft report: text %.2f s, json %.2f s (no sqlite3 on PATH to compare)",
                      text_s, json_s);
      return;
    }
  scan_s = best_of (scan_argv, 3);
  g_test_message ("sqlite3 scan of waits and cpu_slices: %.2f s", scan_s);
  g_test_message ("weft report: text %.2f s (%.2fx the scan), json %.2f s (%.2fx the scan)",
                  text_s, text_s / scan_s, json_s, json_s / scan_s);
}

static void
bench_analysis (void)
{
  gint64 events = g_test_perf () ? 10000000 : 100000;
  const char *keep = g_getenv ("WEFT_BENCH_TRACE");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  WeftTrace *trace;
  gint64 start_us;
  double seconds;

  g_test_summary ("Times the analysis of a trace of 10 million slices and waits (-m perf),"
                  " and `weft report` on it against a sqlite3 scan of the raw tables.");
  if (keep != NULL)
    path = g_strdup (keep);
  else
    {
      dir = g_dir_make_tmp ("weft-bench-analysis-XXXXXX", &error);
      g_assert_no_error (error);
      path = g_build_filename (dir, "big.db", NULL);
    }
  if (keep != NULL && g_file_test (path, G_FILE_TEST_EXISTS))
    {
      trace = weft_trace_open_rw (path, &error);
      g_assert_no_error (error);
    }
  else
    {
      trace = report_fixture_create (path, 10 * REPORT_S, 4);
      start_us = g_get_monotonic_time ();
      report_fixture_big (trace, 16, events, 10 * REPORT_S);
      g_test_message ("built the trace in %.1f s", (g_get_monotonic_time () - start_us) / 1e6);
    }

  start_us = g_get_monotonic_time ();
  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  seconds = (g_get_monotonic_time () - start_us) / 1e6;

  g_assert_cmpint (report_fixture_int (trace, "SELECT sum(running * (end_ns - start_ns)) FROM profile"),
                   ==, report_fixture_int (trace, "SELECT sum(end_ns - start_ns) FROM cpu_slices"));
  /* The stored whole-trace summary agrees with the profile it sums. */
  g_assert_cmpint (report_fixture_int (trace, "SELECT sum(running * time_ns) FROM profile_summary"),
                   ==, report_fixture_int (trace, "SELECT sum(end_ns - start_ns) FROM cpu_slices"));
  g_assert_cmpint (report_fixture_int (trace, "SELECT sum(lock_ns) FROM profile_summary"),
                   ==, report_fixture_int (trace, "SELECT sum(lock * (end_ns - start_ns)) FROM profile"));
  if (!g_test_perf ())
    check_stored_granularity (trace);
  g_test_minimized_result (seconds,
                           "analysis of %" G_GINT64_FORMAT " slices + %" G_GINT64_FORMAT " waits:"
                           " %.2f s, wrote %" G_GINT64_FORMAT " thread_states and %" G_GINT64_FORMAT
                           " profile rows",
                           report_fixture_int (trace, "SELECT count(*) FROM cpu_slices"),
                           report_fixture_int (trace, "SELECT count(*) FROM waits"), seconds,
                           report_fixture_int (trace, "SELECT count(*) FROM thread_states"),
                           report_fixture_int (trace, "SELECT count(*) FROM profile"));
  weft_trace_free (trace);

  time_report (path);
  if (keep == NULL)
    {
      g_unlink (path);
      g_rmdir (dir);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/report/analysis/bench", bench_analysis);
  return g_test_run ();
}
