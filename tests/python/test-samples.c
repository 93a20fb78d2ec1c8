/* test-samples.c — record the Python samples of the parallel libraries and
 * patterns (samples/python/) under `weft record` with Debian's python3, and
 * check each one's signature in the trace and in the report's verdict.
 *
 * Debian's python3 is never skipped. joblib, dask, mpi4py and mpirun are
 * optional: a test whose module or program is absent is skipped, saying
 * what to install (scripts/setup installs them all).
 */
#include <string.h>
#include <unistd.h>

#include "weft-test-util.h"

#define PYTHON "/usr/bin/python3"
#define GIL_BOUND_PARALLELISM_MAX 1.15
#define PARALLEL_MIN 1.7
#define ATTEMPTS 3

static char *
python_sample (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "..", "samples", "python", name, NULL);
}

/* TRUE if python3 can import module; else skips the test, saying so. */
static gboolean
have_module (const char *module,
             const char *package)
{
  g_autofree char *code = g_strdup_printf ("import %s", module);
  const char *argv[] = { PYTHON, "-c", code, NULL };
  int status = 1;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    {
      g_autofree char *why = g_strdup_printf ("python3 has no module %s: install %s "
                                              "(scripts/setup does)", module, package);

      g_test_skip (why);
      return FALSE;
    }
  return TRUE;
}

/* Records PYTHON samples/python/SAMPLE ARGS… (or, with prefix, PREFIX…
 * PYTHON SAMPLE ARGS…); fails the test unless it exits 0 with a trace. */
static WeftRun *
record_sample (const char * const *prefix,
               const char         *sample,
               const char * const *args)
{
  g_autofree char *script = python_sample (sample);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  WeftRun *run;

  for (guint i = 0; prefix != NULL && prefix[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) prefix[i]);
  g_ptr_array_add (argv, (char *) PYTHON);
  g_ptr_array_add (argv, script);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  run = weft_test_record_argv (NULL, (const char * const *) argv->pdata);
  if (run->exit_status != 0)
    g_printerr ("weft record said:\n%s\n", run->err);
  g_assert_cmpint (run->exit_status, ==, 0);
  g_assert_nonnull (run->db);
  return run;
}

static gint64
trace_start_ns (WeftRun *run)
{
  return weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'start_ns'");
}

/* Mean parallelism over the sample's work window: CPU time of every thread
 * of every process inside it, divided by it. */
static double
window_parallelism (WeftRun *run)
{
  gint64 start_ns = weft_test_expect_int (run, "work_start_ns");
  gint64 end_ns = weft_test_expect_int (run, "work_end_ns");

  g_assert_cmpint (end_ns, >, start_ns);
  return weft_test_query_double (run,
                                 "SELECT total (max (0, min (end_ns, %lld) - max (start_ns, %lld)))"
                                 " / %lld FROM cpu_slices WHERE start_ns < %lld AND end_ns > %lld",
                                 (long long) end_ns, (long long) start_ns,
                                 (long long) (end_ns - start_ns), (long long) end_ns,
                                 (long long) start_ns);
}

/* `weft report --format FORMAT --span WORK` over the sample's work window. */
static char *
report_work (WeftRun    *run,
             const char *format)
{
  gint64 start_ns = trace_start_ns (run);
  g_autofree char *span = g_strdup_printf ("%" G_GINT64_FORMAT "us:%" G_GINT64_FORMAT "us",
                                           (weft_test_expect_int (run, "work_start_ns") - start_ns) / 1000,
                                           (weft_test_expect_int (run, "work_end_ns") - start_ns) / 1000 + 1);
  const char *argv[] = { g_getenv ("WEFT"), "report", "--format", format, "--span", span,
                         run->trace_path, NULL };
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  int status = 1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return out;
}

static char *
verdict_of (WeftRun *run)
{
  g_autofree char *text = report_work (run, "text");
  const char *line = strstr (text, "verdict: ");

  g_assert_nonnull (line);
  return g_strndup (line + 9, strcspn (line + 9, "\n"));
}

/* Threads of one process serialized by the GIL: one object GIL, the object
 * the threads that did the work (tids) waited on most, by at least two of them, a
 * parallelism of about 1, and a verdict that names the GIL. */
static void
assert_gil_bound (WeftRun    *run,
                  const char *tids)
{
  g_autofree char *verdict = verdict_of (run);
  gint64 gil = weft_test_query_int (run, "SELECT id FROM objects WHERE kind = 'gil' AND name = 'GIL'");
  double parallelism = window_parallelism (run);

  g_test_message ("parallelism %.3f (measured %.2f); verdict: %s", parallelism,
                  weft_test_expect_int (run, "parallelism_x100") / 100.0, verdict);
  g_assert_cmpint (gil, >, 0);
  /* Most waited on by the threads that did the work (the main thread of
   * a pool waits longer still, on its results queue). */
  g_assert_cmpint (weft_test_query_int (run, "SELECT w.object_id FROM waits w JOIN threads t"
                                        " ON t.id = w.thread_id WHERE w.object_id IS NOT NULL"
                                        " AND t.tid IN (%s) GROUP BY w.object_id"
                                        " ORDER BY sum (w.end_ns - w.start_ns) DESC LIMIT 1", tids),
                   ==, gil);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count (DISTINCT t.tid) FROM waits w"
                                        " JOIN threads t ON t.id = w.thread_id WHERE w.kind = 'gil'"
                                        " AND t.tid IN (%s)", tids), >=, 2);
  g_assert_cmpfloat (parallelism, <=, GIL_BOUND_PARALLELISM_MAX);
  g_assert_nonnull (strstr (verdict, "waiting for the GIL"));
  g_assert_nonnull (strstr (verdict, " threads wanted the CPU, "));
}

/* Processes with a GIL each: every listed process in the trace with CPU
 * slices, and a parallelism near the CPU count — unless the machine was so
 * busy that the program itself measured less (then retry, then skip). */
typedef WeftRun *(*Recorder) (void);

static void
assert_parallel (Recorder    record,
                 const char *pids_key)
{
  double want = MIN (PARALLEL_MIN, 0.85 * sysconf (_SC_NPROCESSORS_ONLN));

  if (sysconf (_SC_NPROCESSORS_ONLN) < 2)
    {
      g_test_skip ("one CPU: processes cannot run in parallel here");
      return;
    }
  for (guint attempt = 1; attempt <= ATTEMPTS; attempt++)
    {
      g_autoptr (WeftRun) run = record ();
      const char *pids = weft_test_expect (run, pids_key);
      g_auto (GStrv) list = g_strsplit (pids, ",", -1);
      double measured = weft_test_expect_int (run, "parallelism_x100") / 100.0;
      double parallelism = window_parallelism (run);
      g_autofree char *verdict = verdict_of (run);

      g_assert_cmpuint (strspn (pids, "0123456789,"), ==, strlen (pids));
      g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes p WHERE p.pid IN (%s)"
                                            " AND p.instrumented = 1 AND EXISTS (SELECT 1 FROM"
                                            " cpu_slices c JOIN threads t ON t.id = c.thread_id"
                                            " WHERE t.process_id = p.id)", pids),
                       ==, g_strv_length (list));
      g_test_message ("attempt %u: parallelism %.3f (measured %.2f); verdict: %s", attempt,
                      parallelism, measured, verdict);
      if (parallelism >= want)
        {
          if (parallelism >= 0.9 * sysconf (_SC_NPROCESSORS_ONLN) + 0.05)
            g_assert_true (g_str_has_prefix (verdict, "parallel: "));
          return;
        }
      g_assert_cmpfloat (measured, <, want);
    }
  g_test_skip ("the machine is too busy: the program never got its CPUs, by its own measure either");
}

static WeftRun *
record_futures_processes (void)
{
  const char *args[] = { "processes", NULL };

  return record_sample (NULL, "futures_pool.py", args);
}

static WeftRun *
record_joblib (void)
{
  return record_sample (NULL, "joblib_loky.py", NULL);
}

static WeftRun *
record_dask_processes (void)
{
  const char *args[] = { "processes", NULL };

  return record_sample (NULL, "dask_schedulers.py", args);
}

static const char * const mpirun_prefix[] = {
  "mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", NULL
};

static WeftRun *
record_mpi (void)
{
  return record_sample (mpirun_prefix, "mpi_ranks.py", NULL);
}

static void
test_futures_threads (void)
{
  const char *args[] = { "threads", NULL };
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("concurrent.futures.ThreadPoolExecutor with CPU-bound tasks: the GIL is "
                  "named, dominant, and the verdict says the threads waited for it");
  run = record_sample (NULL, "futures_pool.py", args);
  assert_gil_bound (run, weft_test_expect (run, "worker_tids"));
}

static void
test_futures_processes (void)
{
  g_test_summary ("concurrent.futures.ProcessPoolExecutor: every worker process traced, "
                  "parallelism near the CPU count");
  assert_parallel (record_futures_processes, "worker_pids");
}

static void
test_asyncio (void)
{
  g_autoptr (WeftRun) run = NULL;
  g_autofree char *verdict = NULL;
  gint64 loop, threads, work_start_ns, work_end_ns;
  double io_share;

  g_test_summary ("asyncio with many coroutines: one thread, mostly in state io, and the "
                  "verdict names the event loop");
  run = record_sample (NULL, "asyncio_many.py", NULL);
  g_assert_cmpint (weft_test_expect_int (run, "bytes"),
                   ==, weft_test_expect_int (run, "coroutines") * weft_test_expect_int (run, "rounds"));
  loop = weft_test_expect_int (run, "loop_tid");
  work_start_ns = weft_test_expect_int (run, "work_start_ns");
  work_end_ns = weft_test_expect_int (run, "work_end_ns");
  threads = weft_test_query_int (run, "SELECT count(*) FROM threads");
  /* Over the work window (start-up, imports, are CPU): the loop's share
   * of it in state io. */
  io_share = weft_test_query_double (run, "SELECT total (CASE WHEN s.state = 'io' THEN"
                                     " min (s.end_ns, %lld) - max (s.start_ns, %lld) END) / %lld"
                                     " FROM thread_states s JOIN threads t ON t.id = s.thread_id"
                                     " WHERE t.tid = %lld AND s.start_ns < %lld AND s.end_ns > %lld",
                                     (long long) work_end_ns, (long long) work_start_ns,
                                     (long long) (work_end_ns - work_start_ns), (long long) loop,
                                     (long long) work_end_ns, (long long) work_start_ns);
  verdict = verdict_of (run);
  g_test_message ("%" G_GINT64_FORMAT " thread(s); the loop's work window %.0f%% io; verdict: %s",
                  threads, 100 * io_share, verdict);
  g_assert_cmpint (threads, ==, 1);
  g_assert_cmpfloat (io_share, >=, 0.5);
  g_assert_cmpfloat (window_parallelism (run), <=, 0.5);
  g_assert_true (g_str_has_prefix (verdict, "event loop on one thread"));
}

static void
test_joblib (void)
{
  g_test_summary ("joblib with the loky backend: worker processes traced, parallel");
  if (have_module ("joblib", "python3-joblib"))
    assert_parallel (record_joblib, "worker_pids");
}

static void
test_dask_threads (void)
{
  const char *args[] = { "threads", NULL };
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("dask's threaded scheduler with pure-Python tasks: bound by the GIL");
  if (!have_module ("dask", "python3-dask"))
    return;
  run = record_sample (NULL, "dask_schedulers.py", args);
  assert_gil_bound (run, weft_test_expect (run, "task_tids"));
}

static void
test_dask_processes (void)
{
  g_test_summary ("dask's process scheduler: worker processes traced, parallel");
  if (have_module ("dask", "python3-dask"))
    assert_parallel (record_dask_processes, "task_pids");
}

static void
test_mpi (void)
{
  g_autofree char *mpirun = g_find_program_in_path ("mpirun");
  g_autoptr (WeftRun) run = NULL;
  const char *pids;

  g_test_summary ("mpirun -np 2 python3 mpi_ranks.py under weft record: both ranks are "
                  "processes of the one trace, below mpirun, with threads and CPU slices, "
                  "and they ran in parallel");
  if (mpirun == NULL)
    {
      g_test_skip ("no mpirun: install openmpi-bin (scripts/setup does)");
      return;
    }
  if (!have_module ("mpi4py", "python3-mpi4py"))
    return;
  run = record_mpi ();
  pids = weft_test_expect (run, "rank_pids");
  g_assert_cmpint (weft_test_expect_int (run, "ranks"), ==, 2);
  g_assert_cmpuint (strspn (pids, "0123456789,"), ==, strlen (pids));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes p WHERE p.pid IN (%s)"
                                        " AND p.parent_id IS NOT NULL"
                                        " AND (SELECT count(*) FROM threads t WHERE t.process_id = p.id) >= 1"
                                        " AND EXISTS (SELECT 1 FROM cpu_slices c JOIN threads t"
                                        " ON t.id = c.thread_id WHERE t.process_id = p.id)", pids), ==, 2);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes WHERE parent_id IS NULL"),
                   ==, 1);
  if (sysconf (_SC_NPROCESSORS_ONLN) >= 2)
    {
      g_test_message ("parallelism %.3f (measured %.2f)", window_parallelism (run),
                      weft_test_expect_int (run, "parallelism_x100") / 100.0);
      if (weft_test_expect_int (run, "parallelism_x100") >= 170)
        g_assert_cmpfloat (window_parallelism (run), >=, 1.5);
    }
}

/* Granularity of the work window from the JSON report: the pooled
 * count median of the bursts (summary) and the bursts' count. */
static void
work_granularity (WeftRun *run,
                  gint64  *median_ns,
                  gint64  *bursts)
{
  g_autofree char *json = report_work (run, "json");
  const char *summary = strstr (json, "\"summary\"");
  const char *grain = summary != NULL ? strstr (summary, "\"granularity\"") : NULL;
  const char *at;

  g_assert_nonnull (grain);
  g_assert_nonnull ((at = strstr (grain, "\"bursts\":")));
  *bursts = g_ascii_strtoll (at + strlen ("\"bursts\":"), NULL, 10);
  g_assert_nonnull ((at = strstr (grain, "\"median_ns\":")));
  *median_ns = g_ascii_strtoll (at + strlen ("\"median_ns\":"), NULL, 10);
}

static void
test_granularity (void)
{
  const char *small_args[] = { "small", NULL };
  const char *large_args[] = { "large", NULL };
  g_autoptr (WeftRun) small = NULL;
  g_autoptr (WeftRun) large = NULL;
  g_autofree char *small_verdict = NULL;
  g_autofree char *large_verdict = NULL;
  gint64 small_median, small_bursts, large_median, large_bursts;

  g_test_summary ("The same work in tasks too small (chunk size 1) and well sized: an "
                  "order of magnitude more bursts of CPU between waits, shorter bursts, "
                  "and only the small one gets the overhead verdict");
  small = record_sample (NULL, "granularity.py", small_args);
  large = record_sample (NULL, "granularity.py", large_args);
  g_assert_cmpint (weft_test_expect_int (small, "tasks"), ==, weft_test_expect_int (large, "tasks"));
  work_granularity (small, &small_median, &small_bursts);
  work_granularity (large, &large_median, &large_bursts);
  small_verdict = verdict_of (small);
  large_verdict = verdict_of (large);
  g_test_message ("small: %" G_GINT64_FORMAT " bursts, median %" G_GINT64_FORMAT " ns; verdict: %s",
                  small_bursts, small_median, small_verdict);
  g_test_message ("large: %" G_GINT64_FORMAT " bursts, median %" G_GINT64_FORMAT " ns; verdict: %s",
                  large_bursts, large_median, large_verdict);
  /* The order of magnitude shows in the number of bursts (~5000 vs ~40).
   * The median burst does not separate them reliably: measured 7-10 µs
   * (small) vs 19-45 µs (large) from run to run, because the well-sized
   * run's threads still wake briefly between tasks; it is printed above,
   * and the 10x on the median stays open. */
  g_assert_cmpint (small_bursts, >=, 10 * large_bursts);
  g_assert_cmpint (small_median, <, large_median);
  g_assert_true (g_str_has_prefix (small_verdict, "overhead: "));
  g_assert_nonnull (strstr (small_verdict, "make them larger"));
  g_assert_null (strstr (large_verdict, "overhead"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/python/futures/threads", test_futures_threads);
  g_test_add_func ("/python/futures/processes", test_futures_processes);
  g_test_add_func ("/python/asyncio/event-loop", test_asyncio);
  g_test_add_func ("/python/joblib/loky", test_joblib);
  g_test_add_func ("/python/dask/threads", test_dask_threads);
  g_test_add_func ("/python/dask/processes", test_dask_processes);
  g_test_add_func ("/python/mpi/ranks", test_mpi);
  g_test_add_func ("/python/granularity/pair", test_granularity);
  return g_test_run ();
}
