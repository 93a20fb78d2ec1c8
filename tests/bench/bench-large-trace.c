/* bench-large-trace — a trace of about 1 GB, recorded and reported.
 *
 * condvar-pingpong with a one-slot queue makes a wait and two context
 * switches per item: 1.4 million items (-m perf) give about 1.8 million waits
 * and 5 million CPU slices, a trace file of about 1.1 GB. The benchmark
 * checks that nothing was lost and that the trace says exactly what the
 * program counted, then prints the time of the program alone and under
 * `weft record` (its ratio), the file size, and `weft report` (text, json)
 * and `weft info` against one sqlite3 scan of the waits and cpu_slices.
 *
 * The suite runs it with 20 000 items so it cannot rot. It asserts nothing
 * about time: the machines are noisy. */
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "weft-test-util.h"

/* Wall seconds of argv, its output thrown away; fails the test if it fails. */
static double
time_command (const char * const *argv)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return (g_get_monotonic_time () - start) / 1e6;
}

static void
bench_large_trace (void)
{
  const char *items = g_test_perf () ? "1400000" : "20000";
  const char *args[] = { items, "1", NULL };
  const char *weft = g_getenv ("WEFT");
  g_autofree char *sample = weft_test_sample_path ("condvar-pingpong");
  g_autofree char *sqlite3 = g_find_program_in_path ("sqlite3");
  const char *plain_argv[] = { sample, items, "1", NULL };
  g_autoptr (WeftRun) run = NULL;
  double plain_s, record_s, report_s, json_s, info_s;
  gint64 start_us;
  GStatBuf st;

  g_test_summary ("A trace of about 1 GB (-m perf): recorded with no event lost, its cond "
                  "waits exactly those the program counted, reported; prints the times");
  plain_s = time_command (plain_argv);
  start_us = g_get_monotonic_time ();
  run = weft_test_record (NULL, "condvar-pingpong", args);
  record_s = (g_get_monotonic_time () - start_us) / 1e6;
  g_assert_cmpint (run->exit_status, ==, 0);
  g_assert_nonnull (run->db);

  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'lost_events'"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'cond'"),
                   ==, weft_test_expect_int (run, "cond_waits"));
  g_assert_cmpint (g_stat (run->trace_path, &st), ==, 0);

  {
    const char *text_argv[] = { weft, "report", run->trace_path, NULL };
    const char *json_argv[] = { weft, "report", "--format", "json", run->trace_path, NULL };
    const char *info_argv[] = { weft, "info", run->trace_path, NULL };

    report_s = time_command (text_argv);
    json_s = time_command (json_argv);
    info_s = time_command (info_argv);
  }
  g_test_message ("%s items: %" G_GINT64_FORMAT " waits, %" G_GINT64_FORMAT " cpu slices, "
                  "trace %.2f GB", items,
                  weft_test_query_int (run, "SELECT count(*) FROM waits"),
                  weft_test_query_int (run, "SELECT count(*) FROM cpu_slices"),
                  st.st_size / 1e9);
  g_test_message ("program %.2f s alone, %.2f s under weft record (%.2fx, finalize included)",
                  plain_s, record_s, record_s / plain_s);
  if (sqlite3 != NULL)
    {
      const char *scan_argv[] = { sqlite3, run->trace_path,
        "SELECT count(*), total(end_ns) FROM waits; SELECT count(*), total(end_ns) FROM cpu_slices",
        NULL };
      double scan_s = time_command (scan_argv);

      g_test_message ("sqlite3 scan %.2f s; weft report text %.2f s (%.2fx), json %.2f s (%.2fx), "
                      "info %.2f s", scan_s, report_s, report_s / scan_s, json_s, json_s / scan_s,
                      info_s);
    }
  else
    g_test_message ("weft report text %.2f s, json %.2f s, info %.2f s (no sqlite3 to compare)",
                    report_s, json_s, info_s);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bench/large-trace/condvar-pingpong", bench_large_trace);
  return g_test_run ();
}
