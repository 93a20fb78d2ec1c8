/* bench-view-trace.c — the synthetic trace of bench-view.c, built and
 * analysed with the report tests' fixture and the collector's analysis (kept
 * apart from the viewer's headers: both define the thread states). */
#include "bench-view-trace.h"
#include "report-fixture.h"
#include "weft-analysis.h"

void
bench_view_build_trace (const char *path,
                        gint64      events,
                        gint64     *counts)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace = report_fixture_create (path, 10 * REPORT_S, 4);

  report_fixture_big (trace, 16, events, 10 * REPORT_S);
  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  counts[0] = report_fixture_int (trace, "SELECT count(*) FROM cpu_slices");
  counts[1] = report_fixture_int (trace, "SELECT count(*) FROM waits");
  counts[2] = report_fixture_int (trace, "SELECT count(*) FROM thread_states");
  counts[3] = report_fixture_int (trace, "SELECT count(*) FROM profile");
  weft_trace_free (trace);
}
