/* test-view-data.c — the viewer's model: loading a trace into arrays and
 * aggregating it to the pixel (viewer/weft-view-data.c), on a small synthetic
 * trace whose answers are known exactly. No display needed.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "weft-trace.h"
#include "weft-view-data.h"

/* One process (pid 100) with two threads over [1000, 2000) ns:
 *   101 "main":   running 1000-1500, sleep 1500-2000
 *   102 "worker": lock 1000-1100, running 1100-2000
 * CPU 0 runs main 1000-1500 and worker 1500-2000; CPU 1 runs worker
 * 1100-1500. The profile is their counts. */
static const char fixture_sql[] =
  "INSERT INTO meta VALUES ('command', 'demo --x'), ('start_ns', 1000), ('end_ns', 2000), ('cpus', 2);"
  "INSERT INTO processes (id, pid, command, start_ns, end_ns) VALUES (1, 100, 'demo', 1000, 2000);"
  "INSERT INTO threads (id, process_id, tid, name, start_ns, end_ns) VALUES"
  "  (1, 1, 101, 'main', 1000, 2000), (2, 1, 102, 'work' || char(10) || 'er', 1000, 2000);"
  "INSERT INTO thread_states (thread_id, start_ns, end_ns, state) VALUES"
  "  (1, 1000, 1500, 'running'), (1, 1500, 2000, 'sleep'),"
  "  (2, 1000, 1100, 'lock'), (2, 1100, 2000, 'running');"
  "INSERT INTO cpu_slices VALUES (1, 0, 1000, 1500, 0), (2, 0, 1500, 2000, 0), (2, 1, 1100, 1500, 1);"
  "INSERT INTO objects (id, process_id, address, kind, name) VALUES (7, 1, 4096, 'mutex', 'big_lock'),"
  "  (8, 1, 8192, 'cond', NULL);"
  "INSERT INTO waits (id, thread_id, object_id, kind, start_ns, end_ns, result, holder_thread_id) VALUES"
  "  (1, 2, 7, 'mutex', 1000, 1100, 'ok', 1);"
  "INSERT INTO lock_stats VALUES (7, 5, 1, 1, 100, 100, 100, 100, 100, 400, 300, 5, 2, 1),"
  "  (8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);"
  "INSERT INTO thread_summary VALUES (1, 500, 0, 0, 0, 0, 500, 0, 0), (2, 900, 0, 100, 0, 0, 0, 0, 1);"
  "INSERT INTO profile VALUES"
  "  (1000, 1100, 1, 0, 1, 0, 0, 0, 0),"
  "  (1100, 1500, 2, 0, 0, 0, 0, 0, 0),"
  "  (1500, 2000, 1, 0, 0, 0, 0, 1, 0);";

typedef struct
{
  char         *dir;
  char         *path;
  WeftViewData *data;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = NULL;

  f->dir = g_dir_make_tmp ("weft-view-data-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "t.db", NULL);
  trace = weft_trace_create (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (weft_trace_exec (trace, fixture_sql, &error));
  g_assert_no_error (error);
  g_clear_pointer (&trace, weft_trace_free);
  f->data = weft_view_data_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->data);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  user_data)
{
  g_clear_pointer (&f->data, weft_view_data_unref);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
test_load (Fixture       *f,
           gconstpointer  user_data)
{
  WeftViewData *d = f->data;

  g_test_summary ("threads, states, slices and profile are read as the trace has them, "
                  "untrusted names made printable");
  g_assert_cmpstr (d->command, ==, "demo --x");
  g_assert_cmpint (d->start_ns, ==, 1000);
  g_assert_cmpint (d->end_ns, ==, 2000);
  g_assert_cmpuint (d->cpus, ==, 2);
  g_assert_cmpint (d->max_concurrency, ==, 2);
  g_assert_cmpuint (d->n_processes, ==, 1);
  g_assert_cmpuint (d->n_threads, ==, 2);
  g_assert_cmpint (d->threads[0].tid, ==, 101);   /* main thread first */
  g_assert_cmpstr (d->threads[1].name, ==, "work\xef\xbf\xbd" "er");
  g_assert_cmpuint (d->threads[1].n_states, ==, 2);
  g_assert_cmpuint (d->threads[1].state[0], ==, WEFT_STATE_LOCK);
  g_assert_cmpuint (d->cpu[0].n_slices, ==, 2);
  g_assert_cmpuint (d->cpu[1].n_slices, ==, 1);
  g_assert_cmpuint (d->n_profile, ==, 3);
}

static void
test_raster (Fixture       *f,
             gconstpointer  user_data)
{
  g_autoptr(WeftViewRaster) r = weft_view_raster_new (f->data, 1000, 2000, 10);

  g_test_summary ("each pixel column holds the dominant state, the dominant thread per CPU "
                  "and the mean count of threads per state");
  /* Column 0 = [1000, 1100): worker waits for the lock. */
  g_assert_cmpuint (r->thread_state[1 * 10 + 0], ==, WEFT_STATE_LOCK);
  g_assert_cmpuint (r->thread_state[0 * 10 + 0], ==, WEFT_STATE_RUNNING);
  g_assert_cmpuint (r->thread_state[0 * 10 + 7], ==, WEFT_STATE_SLEEP);
  g_assert_cmpuint (r->thread_state[1 * 10 + 7], ==, WEFT_STATE_RUNNING);
  g_assert_cmpint (r->cpu_thread[0 * 10 + 2], ==, 0);
  g_assert_cmpint (r->cpu_thread[0 * 10 + 8], ==, 1);
  g_assert_cmpint (r->cpu_thread[1 * 10 + 0], ==, -1);  /* idle */
  g_assert_cmpint (r->cpu_thread[1 * 10 + 3], ==, 1);
  g_assert_cmpint (r->cpu_thread[1 * 10 + 9], ==, -1);
  g_assert_cmpfloat_with_epsilon (r->chart[0 * WEFT_N_STATES + WEFT_STATE_LOCK], 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (r->chart[3 * WEFT_N_STATES + WEFT_STATE_RUNNING], 2.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (r->chart[9 * WEFT_N_STATES + WEFT_STATE_SLEEP], 1.0, 1e-6);
}

static void
test_raster_partial (Fixture       *f,
                     gconstpointer  user_data)
{
  /* 4 columns of 250 ns: column 0 is 100 ns lock + 150 ns running → running;
   * a column mixing 50/50 chart shares gives the mean. */
  g_autoptr(WeftViewRaster) r = weft_view_raster_new (f->data, 1000, 2000, 4);

  g_test_summary ("a column that mixes states shows the one with most time, and the chart "
                  "the time-weighted mean");
  g_assert_cmpuint (r->thread_state[1 * 4 + 0], ==, WEFT_STATE_RUNNING);
  g_assert_cmpfloat_with_epsilon (r->chart[0 * WEFT_N_STATES + WEFT_STATE_LOCK], 0.4, 1e-6);
  g_assert_cmpfloat_with_epsilon (r->chart[0 * WEFT_N_STATES + WEFT_STATE_RUNNING], 1.6, 1e-6);
}

static void
test_span_means (Fixture       *f,
                 gconstpointer  user_data)
{
  double p, c;

  g_test_summary ("mean P and C over a span come from the profile");
  weft_view_data_span_means (f->data, 1000, 2000, &p, &c);
  g_assert_cmpfloat_with_epsilon (p, (100 * 1 + 400 * 2 + 500 * 1) / 1000.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (c, (100 * 2 + 400 * 2 + 500 * 1) / 1000.0, 1e-9);
  weft_view_data_span_means (f->data, 1500, 2000, &p, &c);
  g_assert_cmpfloat_with_epsilon (p, 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (c, 1.0, 1e-9);
}

static void
test_locks_waits (Fixture       *f,
                  gconstpointer  user_data)
{
  WeftViewData *d = f->data;
  g_autoptr(WeftViewRaster) r = weft_view_raster_new_full (f->data, 1000, 2000, 10, 0);

  g_test_summary ("contended objects, thread summaries and waits are read; a wait is found by "
                  "time, and the raster marks the columns of the highlighted lock's waits");
  g_assert_cmpuint (d->n_locks, ==, 1);   /* the cond was never waited for */
  g_assert_cmpstr (d->locks[0].name, ==, "big_lock");
  g_assert_cmpint (d->locks[0].hold_total_ns, ==, 400);
  g_assert_cmpint (d->locks[0].holders, ==, 1);
  g_assert_cmpint (d->threads[1].state_ns[WEFT_STATE_LOCK], ==, 100);
  g_assert_cmpint (d->processes[0].running_ns, ==, 1400);
  g_assert_cmpuint (d->threads[1].n_waits, ==, 1);
  g_assert_cmpint (d->threads[1].wait_object[0], ==, 0);
  g_assert_cmpint (d->threads[1].wait_holder[0], ==, 0);
  g_assert_cmpint (weft_view_data_wait_at (d, 1, 1050), ==, 0);
  g_assert_cmpint (weft_view_data_wait_at (d, 1, 1100), ==, -1);
  g_assert_cmpint (weft_view_data_wait_at (d, 0, 1050), ==, -1);
  g_assert_cmpuint (r->thread_lock[1 * 10 + 0], ==, 1);
  g_assert_cmpuint (r->thread_lock[1 * 10 + 1], ==, 0);
  g_assert_cmpuint (r->thread_lock[0 * 10 + 0], ==, 0);
}

static void
test_lod (Fixture       *f,
          gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftViewData) lod = NULL;
  g_autoptr(WeftViewRaster) a = NULL, b = NULL;

  g_test_summary ("with the level-of-detail buckets, a zoomed-out raster has the same columns "
                  "as one computed from every interval, and span means are the same");
  g_setenv ("WEFT_VIEW_LOD_MIN_STATES", "0", TRUE);
  lod = weft_view_data_load (f->path, &error);
  g_unsetenv ("WEFT_VIEW_LOD_MIN_STATES");
  g_assert_no_error (error);
  g_assert_cmpuint (lod->lod_buckets, >, 0);
  g_assert_cmpuint (f->data->lod_buckets, ==, 0);
  a = weft_view_raster_new (f->data, 1000, 2000, 10);
  b = weft_view_raster_new (lod, 1000, 2000, 10);
  for (guint i = 0; i < 2 * 10; i++)
    g_assert_cmpuint (a->thread_state[i], ==, b->thread_state[i]);
  for (guint i = 0; i < 2 * 10; i++)
    g_assert_cmpint (a->cpu_thread[i], ==, b->cpu_thread[i]);
  for (guint i = 0; i < 10 * WEFT_N_STATES; i++)
    g_assert_cmpfloat_with_epsilon (a->chart[i], b->chart[i], 1e-3);

  /* Span means: whole buckets from the level of detail, the ends from the
   * profile rows: the same figures as from the rows alone. */
  for (gint64 s = 900; s < 2100; s += 37)
    for (gint64 e = s + 1; e < 2200; e += 91)
      {
        double p_rows, c_rows, p_lod, c_lod;

        weft_view_data_span_means (f->data, s, e, &p_rows, &c_rows);
        weft_view_data_span_means (lod, s, e, &p_lod, &c_lod);
        g_assert_cmpfloat_with_epsilon (p_lod, p_rows, 1e-6);
        g_assert_cmpfloat_with_epsilon (c_lod, c_rows, 1e-6);
      }
}

typedef struct
{
  GArray  *fractions;
  GPtrArray *phases;
  double   stop_at;   /* say stop once past this fraction */
} Progress;

static gboolean
on_progress (double      fraction,
             const char *what,
             gpointer    user_data)
{
  Progress *p = user_data;

  g_array_append_val (p->fractions, fraction);
  if (p->phases->len == 0 || g_strcmp0 (g_ptr_array_index (p->phases, p->phases->len - 1), what) != 0)
    g_ptr_array_add (p->phases, (gpointer) what);
  return fraction <= p->stop_at;
}

static void
test_progress (Fixture       *f,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftViewData) d = NULL;
  Progress p = { g_array_new (FALSE, FALSE, sizeof (double)), g_ptr_array_new (), 2 };

  g_test_summary ("loading tells its progress: phases in order, fractions never decreasing, "
                  "1 at the end; a progress callback that says stop cancels the load");
  d = weft_view_data_load_with_progress (f->path, on_progress, &p, &error);
  g_assert_no_error (error);
  g_assert_nonnull (d);
  g_assert_cmpuint (p.fractions->len, >=, 4);
  for (guint i = 1; i < p.fractions->len; i++)
    g_assert_cmpfloat (g_array_index (p.fractions, double, i), >=,
                       g_array_index (p.fractions, double, i - 1));
  g_assert_cmpfloat_with_epsilon (g_array_index (p.fractions, double, p.fractions->len - 1), 1.0, 1e-9);
  g_assert_cmpstr (g_ptr_array_index (p.phases, 0), ==, "thread states");
  g_assert_cmpstr (g_ptr_array_index (p.phases, 1), ==, "CPU slices");

  g_array_set_size (p.fractions, 0);
  g_ptr_array_set_size (p.phases, 0);
  p.stop_at = 0.0;
  g_clear_pointer (&d, weft_view_data_unref);
  d = weft_view_data_load_with_progress (f->path, on_progress, &p, &error);
  g_assert_null (d);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_array_unref (p.fractions);
  g_ptr_array_unref (p.phases);
}

/* One thread over [0, 100 000) ns with a wait every 100 ns, 40 ns long,
 * alternately on the mutex (object 1) and the cond (object 2). */
static char *
make_many_waits_trace (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "waits.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = weft_trace_create (path, &error);
  g_autoptr(GString) sql = g_string_new (
    "INSERT INTO meta VALUES ('command', 'w'), ('start_ns', 0), ('end_ns', 100000), ('cpus', 1);"
    "INSERT INTO processes (id, pid, command, start_ns, end_ns) VALUES (1, 10, 'w', 0, 100000);"
    "INSERT INTO threads (id, process_id, tid, name, start_ns, end_ns) VALUES (1, 1, 10, 'w', 0, 100000);"
    "INSERT INTO thread_states (thread_id, start_ns, end_ns, state) VALUES (1, 0, 100000, 'running');"
    "INSERT INTO objects (id, process_id, address, kind, name) VALUES (1, 1, 4096, 'mutex', 'm'),"
    "  (2, 1, 8192, 'cond', 'c');"
    "INSERT INTO lock_stats VALUES (1, 500, 500, 500, 20000, 40, 40, 40, 0, 0, 0, 0, 1, 0),"
    "  (2, 500, 500, 500, 20000, 40, 40, 40, 0, 0, 0, 0, 1, 0);"
    "INSERT INTO profile VALUES (0, 100000, 1, 0, 0, 0, 0, 0, 0);");
  gboolean ok;

  g_assert_no_error (error);
  for (guint i = 0; i < 1000; i++)
    g_string_append_printf (sql, "INSERT INTO waits (id, thread_id, object_id, kind, start_ns, end_ns,"
                            " result) VALUES (%u, 1, %u, '%s', %u, %u, 'ok');", i + 1, 1 + i % 2,
                            i % 2 ? "cond" : "mutex", i * 100, i * 100 + 40);
  ok = weft_trace_exec (trace, sql->str, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return g_steal_pointer (&path);
}

static void
test_lock_marks (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-view-data-XXXXXX", NULL);
  g_autofree char *path = make_many_waits_trace (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftViewData) d = weft_view_data_load (path, &error);
  /* (span, columns): wider and narrower columns than the waits' period */
  static const gint64 views[][3] = {
    { 0, 100000, 97 }, { 0, 100000, 3000 }, { 12345, 23456, 500 }, { 50, 90, 4 },
  };

  g_test_summary ("the outline of a lock's waits marks exactly the columns its waits touch, "
                  "whatever the zoom");
  g_assert_no_error (error);
  g_assert_cmpuint (d->n_locks, ==, 2);
  for (guint v = 0; v < G_N_ELEMENTS (views); v++)
    for (gint lock = 0; lock < 2; lock++)
      {
        g_autoptr(WeftViewRaster) r = weft_view_raster_new_full (d, views[v][0], views[v][1],
                                                                 (guint) views[v][2], lock);
        const WeftViewThread *t = &d->threads[0];
        double cols_per_ns = (double) r->columns / (r->end_ns - r->start_ns);

        for (guint c = 0; c < r->columns; c++)
          {
            gboolean want = FALSE;

            for (guint w = 0; w < t->n_waits && !want; w++)
              {
                double x0 = (t->wait_start_ns[w] - r->start_ns) * cols_per_ns;
                double x1 = (t->wait_end_ns[w] - r->start_ns) * cols_per_ns;

                want = t->wait_object[w] == lock && x1 > c && x0 < c + 1 && x1 > 0 && x0 < r->columns;
              }
            g_assert_cmpuint (r->thread_lock[c], ==, want);
          }
      }
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_not_finalized (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-view-data-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "raw.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = weft_trace_create (path, &error);
  WeftViewData *d;

  g_test_summary ("a trace without threads, or without the derived tables, is refused "
                  "with a message naming the file");
  g_assert_no_error (error);
  g_assert_true (weft_trace_exec (trace, "INSERT INTO meta VALUES ('start_ns', 0), ('end_ns', 10);", &error));
  d = weft_view_data_load (path, &error);
  g_assert_null (d);
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "no threads"));
  g_clear_error (&error);

  g_assert_true (weft_trace_exec (trace,
    "INSERT INTO processes (id, pid) VALUES (1, 5);"
    "INSERT INTO threads (id, process_id, tid) VALUES (1, 1, 5);", &error));
  d = weft_view_data_load (path, &error);
  g_assert_null (d);
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "not finalized"));
  g_clear_pointer (&trace, weft_trace_free);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/viewer/data/load", Fixture, NULL, fixture_set_up, test_load, fixture_tear_down);
  g_test_add ("/viewer/data/raster", Fixture, NULL, fixture_set_up, test_raster, fixture_tear_down);
  g_test_add ("/viewer/data/raster-partial", Fixture, NULL, fixture_set_up, test_raster_partial,
              fixture_tear_down);
  g_test_add ("/viewer/data/span-means", Fixture, NULL, fixture_set_up, test_span_means,
              fixture_tear_down);
  g_test_add ("/viewer/data/locks-waits", Fixture, NULL, fixture_set_up, test_locks_waits,
              fixture_tear_down);
  g_test_add ("/viewer/data/lod", Fixture, NULL, fixture_set_up, test_lod, fixture_tear_down);
  g_test_add ("/viewer/data/progress", Fixture, NULL, fixture_set_up, test_progress,
              fixture_tear_down);
  g_test_add_func ("/viewer/data/lock-marks", test_lock_marks);
  g_test_add_func ("/viewer/data/not-finalized", test_not_finalized);
  return g_test_run ();
}
