/* test-analysis.c — the derived tables (collector/weft-analysis.c) on
 * synthetic traces whose thread states and profile are known exactly. */
#include <glib.h>
#include <glib/gstdio.h>

#include "report-fixture.h"
#include "weft-analysis.h"

#define T0 REPORT_T0_NS
#define MS REPORT_MS
#define S REPORT_S

typedef struct
{
  char      *dir;
  char      *path;
  WeftTrace *trace;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("weft-analysis-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "trace.db", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_pointer (&fixture->trace, weft_trace_free);
  g_unlink (fixture->path);
  g_rmdir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static WeftTrace *
create (Fixture *fixture,
        gint64   duration_ns,
        int      cpus)
{
  fixture->trace = report_fixture_create (fixture->path, duration_ns, cpus);
  return fixture->trace;
}

static void
analyse (WeftTrace *trace)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
}

static gint64
query_int (WeftTrace  *trace,
           const char *format,
           ...)
{
  g_autofree char *sql = NULL;
  va_list ap;

  va_start (ap, format);
  sql = g_strdup_vprintf (format, ap);
  va_end (ap);
  return report_fixture_int (trace, sql);
}

/* Time a thread spent in a state, from thread_states. */
static gint64
state_ns (WeftTrace  *trace,
          gint64      thread_id,
          const char *state)
{
  return query_int (trace, "SELECT coalesce(sum(end_ns - start_ns), 0) FROM thread_states"
                           " WHERE thread_id = %" G_GINT64_FORMAT " AND state = '%s'",
                    thread_id, state);
}

/* Mean of a profile column over [start_ns, end_ns). */
static double
profile_mean (WeftTrace  *trace,
              const char *expression,
              gint64      start_ns,
              gint64      end_ns)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT sum((%s) * (min(end_ns, %" G_GINT64_FORMAT ") - max(start_ns, %" G_GINT64_FORMAT ")))"
    " * 1.0 / %" G_GINT64_FORMAT " FROM profile WHERE start_ns < %" G_GINT64_FORMAT
    " AND end_ns > %" G_GINT64_FORMAT,
    expression, end_ns, start_ns, end_ns - start_ns, end_ns, start_ns);

  return report_fixture_double (trace, sql);
}

#define CONCURRENCY "running + runnable + lock + sync + io + blocked"

/* Every thread's rows tile its life exactly, and the profile tiles the trace
 * and agrees with thread_states at the start of each of its rows. */
static void
assert_tiling (WeftTrace *trace)
{
  /* No gap and no overlap: each row ends where the next begins. */
  g_assert_cmpint (query_int (trace,
    "SELECT count(*) FROM (SELECT end_ns, lead(start_ns) OVER (PARTITION BY thread_id ORDER BY start_ns) AS next"
    " FROM thread_states) WHERE next IS NOT NULL AND next != end_ns"), ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM thread_states WHERE end_ns <= start_ns"), ==, 0);
  /* From the thread's start to its end (meta end_ns when unknown), widened
   * to its slices. */
  g_assert_cmpint (query_int (trace,
    "SELECT count(*) FROM (SELECT t.id,"
    "   min(coalesce(t.start_ns, (SELECT value FROM meta WHERE key = 'start_ns')),"
    "       coalesce((SELECT min(start_ns) FROM cpu_slices c WHERE c.thread_id = t.id AND c.end_ns > c.start_ns), 1e18)) AS life_start,"
    "   max(coalesce(t.end_ns, (SELECT value FROM meta WHERE key = 'end_ns')),"
    "       coalesce((SELECT max(end_ns) FROM cpu_slices c WHERE c.thread_id = t.id AND c.end_ns > c.start_ns), 0)) AS life_end"
    "   FROM threads t) l"
    " WHERE life_start < life_end"
    " AND (life_start != (SELECT min(start_ns) FROM thread_states s WHERE s.thread_id = l.id)"
    "      OR life_end != (SELECT max(end_ns) FROM thread_states s WHERE s.thread_id = l.id))"), ==, 0);
  /* The profile: ordered, gap-free, over the whole trace. */
  g_assert_cmpint (query_int (trace,
    "SELECT count(*) FROM (SELECT end_ns, lead(start_ns) OVER (ORDER BY start_ns) AS next FROM profile)"
    " WHERE next IS NOT NULL AND next != end_ns"), ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT min(start_ns) FROM profile"), <=,
                   query_int (trace, "SELECT value FROM meta WHERE key = 'start_ns'"));
  g_assert_cmpint (query_int (trace, "SELECT max(end_ns) FROM profile"), >=,
                   query_int (trace, "SELECT value FROM meta WHERE key = 'end_ns'"));
  /* At each profile row's start, its counts are the thread_states there. */
  g_assert_cmpint (query_int (trace,
    "SELECT count(*) FROM profile p WHERE"
    " running != (SELECT count(*) FROM thread_states s WHERE s.state = 'running' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"
    " OR runnable != (SELECT count(*) FROM thread_states s WHERE s.state = 'runnable' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"
    " OR lock != (SELECT count(*) FROM thread_states s WHERE s.state = 'lock' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"
    " OR sync != (SELECT count(*) FROM thread_states s WHERE s.state = 'sync' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"
    " OR io != (SELECT count(*) FROM thread_states s WHERE s.state = 'io' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"
    " OR sleep != (SELECT count(*) FROM thread_states s WHERE s.state = 'sleep' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"
    " OR blocked != (SELECT count(*) FROM thread_states s WHERE s.state = 'blocked' AND s.start_ns <= p.start_ns AND s.end_ns > p.start_ns)"),
    ==, 0);
  /* thread_summary is the sum of thread_states. */
  g_assert_cmpint (query_int (trace,
    "SELECT count(*) FROM thread_summary m WHERE running_ns + runnable_ns + lock_ns + sync_ns + io_ns + sleep_ns + blocked_ns"
    " != (SELECT coalesce(sum(end_ns - start_ns), 0) FROM thread_states s WHERE s.thread_id = m.thread_id)"), ==, 0);
}

static void
test_parallel (Fixture       *fixture,
               gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 2);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 a = report_fixture_thread (trace, process, 100, "a", T0, T0 + S);
  gint64 b = report_fixture_thread (trace, process, 101, "b", T0, T0 + S);

  g_test_summary ("Two threads on a CPU each for the whole second of a 2-CPU trace: "
                  "P = C = 2 throughout, one running row per thread, one profile row.");
  /* Back-to-back slices, the first ones preempted: still one running row. */
  for (int i = 0; i < 10; i++)
    {
      report_fixture_slice (trace, a, 0, T0 + i * 100 * MS, T0 + (i + 1) * 100 * MS, i < 9);
      report_fixture_slice (trace, b, 1, T0 + i * 100 * MS, T0 + (i + 1) * 100 * MS, FALSE);
    }
  analyse (trace);

  g_assert_cmpint (state_ns (trace, a, "running"), ==, S);
  g_assert_cmpint (state_ns (trace, b, "running"), ==, S);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM thread_states"), ==, 2);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM profile"), ==, 1);
  g_assert_cmpfloat (profile_mean (trace, "running", T0, T0 + S), ==, 2.0);
  g_assert_cmpfloat (profile_mean (trace, CONCURRENCY, T0, T0 + S), ==, 2.0);
  assert_tiling (trace);
}

static void
test_sleep (Fixture       *fixture,
            gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 2);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 thread = report_fixture_thread (trace, process, 100, "sleeper", T0, T0 + S);

  g_test_summary ("A thread that runs for half its life and sleeps for the other half: "
                  "sleep is not concurrency, so mean C = mean P = 0.5.");
  report_fixture_slice (trace, thread, 0, T0, T0 + 500 * MS, FALSE);
  report_fixture_wait (trace, thread, 0, "sleep", T0 + 500 * MS, T0 + S, 0, 0);
  analyse (trace);

  g_assert_cmpint (state_ns (trace, thread, "sleep"), ==, 500 * MS);
  g_assert_cmpint (state_ns (trace, thread, "running"), ==, 500 * MS);
  g_assert_cmpfloat (profile_mean (trace, "running", T0, T0 + S), ==, 0.5);
  g_assert_cmpfloat (profile_mean (trace, CONCURRENCY, T0, T0 + S), ==, 0.5);
  g_assert_cmpfloat (profile_mean (trace, "sleep", T0, T0 + S), ==, 0.5);
  assert_tiling (trace);
}

static void
test_lock (Fixture       *fixture,
           gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 2);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 holder = report_fixture_thread (trace, process, 100, "holder", T0, T0 + S);
  gint64 waiter = report_fixture_thread (trace, process, 101, "waiter", T0, T0 + S);
  gint64 mutex = report_fixture_object (trace, process, 0x4000, "mutex", "counter_lock");
  gint64 stack = report_fixture_stack (trace, process, "add_one", "worker", "start_thread", NULL);
  gint64 wait;

  g_test_summary ("A waiter blocked 100 ms on a mutex held by a named holder: a lock "
                  "row of exactly that length pointing at the wait, the holder in blocking, "
                  "the wait in lock_stats and lock_stacks.");
  report_fixture_slice (trace, holder, 0, T0, T0 + S, FALSE);
  report_fixture_slice (trace, waiter, 1, T0, T0 + 200 * MS, FALSE);
  /* The failed try is on the CPU (inside the slice): running wins there. */
  wait = report_fixture_wait (trace, waiter, mutex, "mutex", T0 + 190 * MS, T0 + 300 * MS, holder, stack);
  report_fixture_slice (trace, waiter, 1, T0 + 300 * MS, T0 + S, FALSE);
  report_fixture_exec (trace, "INSERT INTO object_stats VALUES (1, 1, 50, 0, 40000000, 2000000, 50),"
                              " (1, 2, 10, 1, 1000000, 300000, 10)");
  analyse (trace);

  g_assert_cmpint (state_ns (trace, waiter, "lock"), ==, 100 * MS);
  g_assert_cmpint (query_int (trace, "SELECT wait_id FROM thread_states WHERE state = 'lock'"), ==, wait);
  g_assert_cmpint (query_int (trace, "SELECT start_ns FROM thread_states WHERE state = 'lock'"), ==, T0 + 200 * MS);
  g_assert_cmpint (state_ns (trace, waiter, "running"), ==, 900 * MS);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM blocking"), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT holder_thread_id FROM blocking WHERE waiter_thread_id = %" G_GINT64_FORMAT, waiter),
                   ==, holder);
  g_assert_cmpint (query_int (trace, "SELECT wait_total_ns FROM blocking"), ==, 110 * MS);
  g_assert_cmpint (query_int (trace, "SELECT waits FROM blocking"), ==, 1);
  /* lock_stats: counters from object_stats, waits from waits. */
  g_assert_cmpint (query_int (trace, "SELECT acquisitions FROM lock_stats WHERE object_id = %" G_GINT64_FORMAT, mutex), ==, 60);
  g_assert_cmpint (query_int (trace, "SELECT contentions FROM lock_stats"), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT waits FROM lock_stats"), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT wait_total_ns FROM lock_stats"), ==, 110 * MS);
  g_assert_cmpint (query_int (trace, "SELECT wait_p99_ns FROM lock_stats"), ==, 110 * MS);
  g_assert_cmpint (query_int (trace, "SELECT hold_total_ns FROM lock_stats"), ==, 41 * MS);
  g_assert_cmpint (query_int (trace, "SELECT hold_max_ns FROM lock_stats"), ==, 2 * MS);
  g_assert_cmpint (query_int (trace, "SELECT threads FROM lock_stats"), ==, 2);
  g_assert_cmpint (query_int (trace, "SELECT holders FROM lock_stats"), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT waits FROM lock_stacks WHERE stack_id = %" G_GINT64_FORMAT, stack), ==, 1);
  assert_tiling (trace);
}

static void
test_preempted (Fixture       *fixture,
                gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 1);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 a = report_fixture_thread (trace, process, 100, "a", T0, T0 + S);
  gint64 b = report_fixture_thread (trace, process, 101, "b", T0, T0 + S);

  g_test_summary ("Two threads sharing one CPU by preemption: each is runnable while the "
                  "other runs, even when a wait says otherwise; P = 1, C = 2.");
  for (int i = 0; i < 10; i++)
    report_fixture_slice (trace, i % 2 ? b : a, 0, T0 + i * 100 * MS, T0 + (i + 1) * 100 * MS, i < 9);
  /* A wait during a's preempted time does not make it lock. */
  report_fixture_wait (trace, a, 0, "mutex", T0 + 120 * MS, T0 + 180 * MS, 0, 0);
  analyse (trace);

  /* b was created at T0 and first ran at 100 ms: runnable before. */
  g_assert_cmpint (state_ns (trace, a, "running"), ==, 500 * MS);
  g_assert_cmpint (state_ns (trace, a, "runnable"), ==, 500 * MS);
  g_assert_cmpint (state_ns (trace, a, "blocked"), ==, 0);
  g_assert_cmpint (state_ns (trace, a, "lock"), ==, 0);
  g_assert_cmpint (state_ns (trace, b, "running"), ==, 500 * MS);
  g_assert_cmpint (state_ns (trace, b, "runnable"), ==, 500 * MS);
  g_assert_cmpfloat (profile_mean (trace, "running", T0, T0 + S), ==, 1.0);
  g_assert_cmpfloat (profile_mean (trace, CONCURRENCY, T0, T0 + S), ==, 2.0);
  assert_tiling (trace);
}

static void
test_wait_kinds (Fixture       *fixture,
                 gconstpointer  data)
{
  static const struct { const char *kind; const char *state; } cases[] = {
    { "mutex", "lock" }, { "rdlock", "lock" }, { "wrlock", "lock" }, { "sem", "lock" },
    { "cond", "sync" }, { "barrier", "sync" }, { "join", "sync" },
    { "poll", "io" }, { "select", "io" }, { "epoll", "io" }, { "sleep", "sleep" },
    { "something-new", "blocked" },
  };
  WeftTrace *trace = create (fixture, 2 * S, 4);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 thread = report_fixture_thread (trace, process, 100, "t", T0, T0 + S);
  gint64 first_wait = 0;

  g_test_summary ("Each wait kind maps to its state off CPU; the time between a blocking "
                  "slice and a wait is blocked; an unknown kind is blocked and an anomaly; "
                  "a thread without end_ns lives to the trace's end.");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 at = T0 + i * 10 * MS;
      gint64 id;

      report_fixture_slice (trace, thread, 0, at, at + 1 * MS, FALSE);
      id = report_fixture_wait (trace, thread, 0, cases[i].kind, at + 2 * MS, at + 9 * MS, 0, 0);
      first_wait = first_wait != 0 ? first_wait : id;
    }
  analyse (trace);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM thread_states WHERE wait_id = %"
                                              G_GINT64_FORMAT " AND state = '%s' AND end_ns - start_ns = %"
                                              G_GINT64_FORMAT, first_wait + (gint64) i, cases[i].state, 7 * MS);

      g_test_message ("%s → %s", cases[i].kind, cases[i].state);
      g_assert_cmpint (report_fixture_int (trace, sql), ==, 1);
    }
  /* Blocked: 1 ms before each wait, 1 ms after each but the last, the
   * unknown kind's 7 ms, and from the last wait's end to the thread's. */
  g_assert_cmpint (state_ns (trace, thread, "blocked"),
                   ==, 12 * MS + 11 * MS + 7 * MS + (S - 119 * MS));
  g_assert_cmpint (query_int (trace, "SELECT value FROM meta WHERE key = 'analysis_anomalies'"), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT value FROM meta WHERE key = 'analysis_version'"), ==, WEFT_ANALYSIS_VERSION);

  /* A thread never seen ending lives to meta end_ns. */
  report_fixture_exec (trace, "UPDATE threads SET end_ns = NULL");
  analyse (trace);
  g_assert_cmpint (query_int (trace, "SELECT max(end_ns) FROM thread_states"), ==, T0 + 2 * S);
  assert_tiling (trace);
}

static void
test_before_first_slice (Fixture       *fixture,
                         gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 2);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 fresh = report_fixture_thread (trace, process, 100, "fresh", T0 + 100 * MS, T0 + S);
  gint64 waiting = report_fixture_thread (trace, process, 101, "waiting", T0, T0 + S);

  g_test_summary ("Before its first slice a thread is runnable (created, not yet run) "
                  "unless a wait covers the time; spin waits are on CPU: running wins.");
  report_fixture_slice (trace, fresh, 0, T0 + 300 * MS, T0 + S, FALSE);
  report_fixture_wait (trace, waiting, 0, "cond", T0 + 100 * MS, T0 + 400 * MS, 0, 0);
  report_fixture_slice (trace, waiting, 1, T0 + 500 * MS, T0 + S, FALSE);
  report_fixture_wait (trace, waiting, 0, "spin", T0 + 600 * MS, T0 + 700 * MS, 0, 0);
  analyse (trace);

  g_assert_cmpint (state_ns (trace, fresh, "runnable"), ==, 200 * MS);
  g_assert_cmpint (query_int (trace, "SELECT min(start_ns) FROM thread_states WHERE thread_id = %" G_GINT64_FORMAT, fresh),
                   ==, T0 + 100 * MS);
  g_assert_cmpint (state_ns (trace, waiting, "runnable"), ==, 200 * MS);
  g_assert_cmpint (state_ns (trace, waiting, "sync"), ==, 300 * MS);
  g_assert_cmpint (state_ns (trace, waiting, "lock"), ==, 0);
  g_assert_cmpint (state_ns (trace, waiting, "running"), ==, 500 * MS);
  /* The profile starts at the trace start, with nobody alive for fresh. */
  g_assert_cmpfloat (profile_mean (trace, "running + runnable + lock + sync + io + sleep + blocked", T0, T0 + S),
                     ==, 1.9);
  assert_tiling (trace);
}

static void
test_anomalies (Fixture       *fixture,
                gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 2);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 thread = report_fixture_thread (trace, process, 100, "t", T0 + 100 * MS, T0 + 900 * MS);

  g_test_summary ("Slices outside the thread's recorded life widen it; overlapping slices "
                  "and waits, waits outside the life and rows of unknown threads are clipped "
                  "or left out (the states still tile the life) and counted in "
                  "analysis_anomalies.");
  report_fixture_slice (trace, thread, 0, T0, T0 + 200 * MS, FALSE);            /* starts before life */
  report_fixture_slice (trace, thread, 1, T0 + 150 * MS, T0 + 300 * MS, FALSE); /* overlaps */
  report_fixture_wait (trace, thread, 0, "sleep", T0 + 300 * MS, T0 + 500 * MS, 0, 0);
  report_fixture_wait (trace, thread, 0, "poll", T0 + 400 * MS, T0 + 600 * MS, 0, 0); /* overlaps */
  report_fixture_slice (trace, thread, 0, T0 + 800 * MS, T0 + 950 * MS, FALSE); /* ends after life */
  report_fixture_wait (trace, thread, 0, "cond", T0 + 940 * MS, T0 + S, 0, 0);  /* ends after life */
  report_fixture_slice (trace, 99, 0, T0, T0 + 1, FALSE);                       /* no such thread */
  analyse (trace);

  g_assert_cmpint (query_int (trace, "SELECT value FROM meta WHERE key = 'analysis_anomalies'"), ==, 4);
  g_assert_cmpint (query_int (trace, "SELECT min(start_ns) FROM thread_states"), ==, T0);
  g_assert_cmpint (query_int (trace, "SELECT max(end_ns) FROM thread_states"), ==, T0 + 950 * MS);
  g_assert_cmpint (state_ns (trace, thread, "running"), ==, 450 * MS);
  g_assert_cmpint (state_ns (trace, thread, "sleep"), ==, 200 * MS);
  g_assert_cmpint (state_ns (trace, thread, "io"), ==, 100 * MS);
  g_assert_cmpint (state_ns (trace, thread, "blocked"), ==, 200 * MS);
  g_assert_cmpint (state_ns (trace, thread, "sync"), ==, 0);
  assert_tiling (trace);
}

/* A random trace: threads with random lives, slices and waits that may
 * overlap anything. Whatever the input, the invariants hold. */
static void
test_random (Fixture       *fixture,
             gconstpointer  data)
{
  static const char * const kinds[] = { "mutex", "cond", "poll", "sleep", "spin", "join" };
  WeftTrace *trace = create (fixture, 1 * S, 4);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 slice_ns = 0;
  double mean_running;

  g_test_summary ("Random threads, slices and waits: every thread's states tile its life, "
                  "the profile tiles the trace and agrees with the states, and mean "
                  "parallelism × duration equals the (clipped) slice time.");
  report_fixture_exec (trace, "BEGIN");
  for (int t = 0; t < 6; t++)
    {
      gint64 start = T0 + g_test_rand_int_range (0, 200) * MS;
      gint64 end = start + g_test_rand_int_range (1, 800) * MS;
      gint64 thread = report_fixture_thread (trace, process, 100 + t, "t", start, end);
      gint64 at = start;

      while (at < end)
        {
          gint64 length = g_test_rand_int_range (1, 20000) * 1000;
          gint64 slice_end = MIN (at + length, end);

          report_fixture_slice (trace, thread, t % 4, at, slice_end, g_test_rand_bit ());
          slice_ns += slice_end - at;
          if (g_test_rand_int_range (0, 3) > 0)
            {
              gint64 wait_start = at + g_test_rand_int_range (0, (int) (length / 1000) + 1) * 1000;

              report_fixture_wait (trace, thread, 0, kinds[g_test_rand_int_range (0, G_N_ELEMENTS (kinds))],
                                   wait_start, wait_start + g_test_rand_int_range (0, 30000) * 1000, 0, 0);
            }
          at = slice_end + g_test_rand_int_range (0, 30000) * 1000;
        }
    }
  report_fixture_exec (trace, "COMMIT");
  analyse (trace);

  assert_tiling (trace);
  mean_running = profile_mean (trace, "running", T0, T0 + S);
  g_assert_cmpint ((gint64) (mean_running * S + 0.5), ==, slice_ns);
  g_assert_cmpint (query_int (trace, "SELECT sum(running * (end_ns - start_ns)) FROM profile"), ==, slice_ns);
  g_assert_cmpint (query_int (trace, "SELECT sum(running_ns) FROM thread_summary"), ==, slice_ns);
}

static void
test_idempotent (Fixture       *fixture,
                 gconstpointer  data)
{
  static const char checksum[] =
    "SELECT (SELECT total(start_ns * 3 + end_ns * 7 + length(state) + coalesce(wait_id, 0)) FROM thread_states)"
    " + (SELECT total(start_ns + end_ns * 3 + running * 5 + lock * 7 + blocked * 11) FROM profile)"
    " + (SELECT total(wait_total_ns + threads) FROM lock_stats)"
    " + (SELECT total(wait_total_ns + waits) FROM blocking)";
  WeftTrace *trace = create (fixture, 1 * S, 2);
  double first;

  g_test_summary ("Running the analysis again gives the same tables, not doubled rows; "
                  "an older trace without derived tables gets them.");
  report_fixture_big (trace, 4, 2000, S);
  analyse (trace);
  first = report_fixture_double (trace, checksum);
  g_assert_cmpfloat (first, >, 0);
  analyse (trace);
  g_assert_cmpfloat (report_fixture_double (trace, checksum), ==, first);

  report_fixture_exec (trace, "DROP TABLE thread_states; DROP TABLE profile; DELETE FROM meta WHERE key LIKE 'analysis%'");
  g_assert_false (weft_analysis_is_current (trace));
  analyse (trace);
  g_assert_true (weft_analysis_is_current (trace));
  g_assert_cmpfloat (report_fixture_double (trace, checksum), ==, first);
  assert_tiling (trace);
}

static void
test_scratch (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) readonly = NULL;
  WeftTrace *trace = create (fixture, 1 * S, 2);
  gint64 process = report_fixture_process (trace, 100, 0, "./prog");
  gint64 thread = report_fixture_thread (trace, process, 100, "t", T0, T0 + S);

  g_test_summary ("On a read-only connection to a trace that was never analysed, the "
                  "scratch analysis fills TEMP tables that unqualified queries see, and "
                  "the file is not changed.");
  report_fixture_slice (trace, thread, 0, T0, T0 + 250 * MS, FALSE);
  g_clear_pointer (&fixture->trace, weft_trace_free);

  readonly = weft_trace_open (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_false (weft_analysis_is_current (readonly));
  g_assert_true (weft_analysis_run_scratch (readonly, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state_ns (readonly, thread, "running"), ==, 250 * MS);
  g_assert_cmpint (state_ns (readonly, thread, "blocked"), ==, 750 * MS);
  g_assert_cmpint (report_fixture_int (readonly, "SELECT count(*) FROM main.thread_states"), ==, 0);
  /* Twice is fine too. */
  g_assert_true (weft_analysis_run_scratch (readonly, &error));
  g_assert_cmpint (state_ns (readonly, thread, "running"), ==, 250 * MS);
  assert_tiling (readonly);
}

static void
test_in_transaction (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace = create (fixture, 1 * S, 2);

  g_test_summary ("Called inside a transaction, the analysis refuses with an error.");
  report_fixture_exec (trace, "BEGIN");
  g_assert_false (weft_analysis_run (trace, &error));
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL);
  report_fixture_exec (trace, "COMMIT");
}

static void
test_empty (Fixture       *fixture,
            gconstpointer  data)
{
  WeftTrace *trace = create (fixture, 1 * S, 2);

  g_test_summary ("A trace with no thread: a profile of one row of zeros over the trace.");
  analyse (trace);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM thread_states"), ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM profile"), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT end_ns - start_ns FROM profile WHERE running = 0 AND blocked = 0"), ==, S);
}

int
main (int    argc,
      char **argv)
{
  static const struct { const char *path; void (*func) (Fixture *, gconstpointer); } tests[] = {
    { "/report/analysis/parallel", test_parallel },
    { "/report/analysis/sleep", test_sleep },
    { "/report/analysis/lock", test_lock },
    { "/report/analysis/preempted", test_preempted },
    { "/report/analysis/wait-kinds", test_wait_kinds },
    { "/report/analysis/before-first-slice", test_before_first_slice },
    { "/report/analysis/anomalies", test_anomalies },
    { "/report/analysis/random", test_random },
    { "/report/analysis/idempotent", test_idempotent },
    { "/report/analysis/scratch", test_scratch },
    { "/report/analysis/in-transaction", test_in_transaction },
    { "/report/analysis/empty", test_empty },
  };

  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (tests); i++)
    g_test_add (tests[i].path, Fixture, NULL, fixture_set_up, tests[i].func, fixture_tear_down);
  return g_test_run ();
}
