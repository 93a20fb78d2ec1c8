/* bench-analysis.c — how long the analysis takes on a large trace.
 *
 * Builds a synthetic trace (report-fixture.c: 16 threads, slices and waits in
 * time order) of 10 million events under -m perf, 100 000 otherwise, runs
 * weft_analysis_run on it and prints the rows read and written and the time.
 * It asserts nothing about speed (DESIGN.md: no timed assertions), only that
 * the analysis succeeds and its profile agrees with the slices. */
#include <glib.h>
#include <glib/gstdio.h>

#include "report-fixture.h"
#include "weft-analysis.h"

static void
bench_analysis (void)
{
  gint64 events = g_test_perf () ? 10000000 : 100000;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("weft-bench-analysis-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "big.db", NULL);
  WeftTrace *trace;
  gint64 start_us;
  double seconds;

  g_test_summary ("Times the analysis of a trace of 10 million slices and waits (-m perf).");
  g_assert_no_error (error);
  trace = report_fixture_create (path, 10 * REPORT_S, 4);
  start_us = g_get_monotonic_time ();
  report_fixture_big (trace, 16, events, 10 * REPORT_S);
  g_test_message ("built the trace in %.1f s", (g_get_monotonic_time () - start_us) / 1e6);

  start_us = g_get_monotonic_time ();
  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  seconds = (g_get_monotonic_time () - start_us) / 1e6;

  g_assert_cmpint (report_fixture_int (trace, "SELECT sum(running * (end_ns - start_ns)) FROM profile"),
                   ==, report_fixture_int (trace, "SELECT sum(end_ns - start_ns) FROM cpu_slices"));
  g_test_minimized_result (seconds,
                           "analysis of %" G_GINT64_FORMAT " slices + %" G_GINT64_FORMAT " waits:"
                           " %.2f s, wrote %" G_GINT64_FORMAT " thread_states and %" G_GINT64_FORMAT
                           " profile rows",
                           report_fixture_int (trace, "SELECT count(*) FROM cpu_slices"),
                           report_fixture_int (trace, "SELECT count(*) FROM waits"), seconds,
                           report_fixture_int (trace, "SELECT count(*) FROM thread_states"),
                           report_fixture_int (trace, "SELECT count(*) FROM profile"));
  weft_trace_free (trace);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/report/analysis/bench", bench_analysis);
  return g_test_run ();
}
