/* bench-view.c — how fast weft-view shows a large trace, and how smoothly it
 * pans and zooms.
 *
 * Builds a synthetic trace (tests/report/report-fixture.c: 16 threads,
 * slices and waits; 10 million events under -m perf, 100 000 otherwise),
 * analyses it (collector/weft-analysis.c), opens it in a WeftWindow in this
 * process (run it under xvfb-run) and measures with the window's frame
 * clock:
 *   - time from the window mapping to the first frame that shows the whole
 *     trace's timeline (loading included: it starts when the window is
 *     presented);
 *   - the duration of each frame (frame clock "before-paint" to
 *     "after-paint") during a scripted pan and zoom driven by a tick
 *     callback: 60 frames zooming in, 60 panning right, 60 panning left, 60
 *     zooming out, one step per frame; and how many of those frames still
 *     painted the previous raster (the aggregation runs in a worker thread).
 * It prints the figures (p50, p95, max) and asserts nothing about speed
 * (DESIGN.md): only that the window showed the trace and the script ran.
 */
#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "bench-view-trace.h"
#include "weft-window.h"

#define SCRIPT_FRAMES 240
#define TIMEOUT_S     600

typedef struct
{
  GMainLoop    *loop;
  WeftWindow   *window;
  WeftTimeline *timeline;
  gint64        present_us;
  gint64        map_us;
  gint64        first_any_us;   /* first frame painted at all */
  gint64        first_preview_us; /* first frame with a timeline (maybe a preview) */
  gint64        first_us;       /* first frame with the trace's timeline */
  gint64        frame_start_us;
  gboolean      scripting;
  guint         step;
  GArray       *frame_ms;       /* double, one per frame of the script */
  guint         stale_frames;
  gboolean      timed_out;
  gboolean      done;
} Bench;

static void
on_map (GtkWidget *widget,
        Bench     *b)
{
  if (b->map_us == 0)
    b->map_us = g_get_monotonic_time ();
}

static void
before_paint (GdkFrameClock *clock,
              Bench         *b)
{
  b->frame_start_us = g_get_monotonic_time ();
}

static gboolean
script_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       user_data)
{
  Bench *b = user_data;
  guint s = b->step++;

  if (s >= SCRIPT_FRAMES)
    {
      b->scripting = FALSE;
      return G_SOURCE_REMOVE;
    }
  if (s < 60)
    weft_timeline_zoom (b->timeline, 0.93, -1);
  else if (s < 120)
    weft_timeline_pan (b->timeline, 0.03);
  else if (s < 180)
    weft_timeline_pan (b->timeline, -0.03);
  else
    weft_timeline_zoom (b->timeline, 1 / 0.93, -1);
  return G_SOURCE_CONTINUE;
}

static void
after_paint (GdkFrameClock *clock,
             Bench         *b)
{
  gint64 now = g_get_monotonic_time ();

  if (b->first_any_us == 0)
    b->first_any_us = now;
  if (b->first_preview_us == 0 && weft_timeline_get_data (b->timeline) != NULL)
    b->first_preview_us = now;
  if (b->first_us == 0 && weft_timeline_is_settled (b->timeline))
    {
      b->first_us = now;
      b->scripting = TRUE;
      gtk_widget_add_tick_callback (GTK_WIDGET (b->timeline), script_tick, b, NULL);
      return;
    }
  if (b->scripting && b->frame_start_us > 0)
    {
      double ms = (now - b->frame_start_us) / 1000.0;

      g_array_append_val (b->frame_ms, ms);
      if (g_getenv ("BENCH_VIEW_TRACE") != NULL)
        g_printerr ("frame %u: %.2f ms settled %d\n", b->step, ms, weft_timeline_is_settled (b->timeline));
      b->stale_frames += !weft_timeline_is_settled (b->timeline);
    }
  if (b->first_us != 0 && !b->scripting && weft_timeline_is_settled (b->timeline) && !b->done)
    {
      b->done = TRUE;
      g_main_loop_quit (b->loop);
    }
}

static void
on_realize (GtkWidget *widget,
            Bench     *b)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  g_signal_connect (clock, "before-paint", G_CALLBACK (before_paint), b);
  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint), b);
}

static void
on_loaded (WeftWindow *window,
           Bench      *b)
{
  const GError *error = weft_window_get_error (window);

  g_assert_no_error ((GError *) error);
  g_test_message ("loaded %.3f s after presenting the window",
                  (g_get_monotonic_time () - b->present_us) / 1e6);
  /* Keep frames coming while the script waits for rasters. */
  gtk_widget_queue_draw (GTK_WIDGET (b->timeline));
}

static gboolean
on_timeout (gpointer user_data)
{
  Bench *b = user_data;

  b->timed_out = TRUE;
  g_main_loop_quit (b->loop);
  return G_SOURCE_REMOVE;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
percentile (GArray *sorted,
            double  p)
{
  guint rank;

  if (sorted->len == 0)
    return 0;
  rank = (guint) MAX (1.0, (p / 100.0) * sorted->len + 0.999999);
  return g_array_index (sorted, double, MIN (rank, sorted->len) - 1);
}

static void
bench_view (void)
{
  gint64 events = g_test_perf () ? 10000000 : 100000;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("weft-bench-view-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "big.db", NULL);
  g_autoptr(GFile) file = NULL;
  gint64 counts[4];
  Bench b = { 0 };
  gint64 start_us;
  guint timeout;
  gint64 n_states, n_profile, n_slices, n_waits;
  double first_s;

  g_test_summary ("Times weft-view on a trace of 10 million events (-m perf): first frame after "
                  "the window maps, and frame times of a scripted pan and zoom.");
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run -a)");
      return;
    }
  g_assert_no_error (error);
  start_us = g_get_monotonic_time ();
  bench_view_build_trace (path, events, counts);
  n_slices = counts[0];
  n_waits = counts[1];
  n_states = counts[2];
  n_profile = counts[3];
  g_test_message ("built and analysed the trace in %.1f s: %" G_GINT64_FORMAT " slices + %"
                  G_GINT64_FORMAT " waits, %" G_GINT64_FORMAT " thread_states, %" G_GINT64_FORMAT
                  " profile rows", (g_get_monotonic_time () - start_us) / 1e6,
                  n_slices, n_waits, n_states, n_profile);

  b.loop = g_main_loop_new (NULL, FALSE);
  b.frame_ms = g_array_new (FALSE, FALSE, sizeof (double));
  b.window = weft_window_new (NULL);
  b.timeline = weft_window_get_timeline (b.window);
  gtk_window_set_default_size (GTK_WINDOW (b.window), 1280, 800);
  g_signal_connect (b.window, "map", G_CALLBACK (on_map), &b);
  g_signal_connect (b.window, "realize", G_CALLBACK (on_realize), &b);
  g_signal_connect (b.window, "loaded", G_CALLBACK (on_loaded), &b);
  file = g_file_new_for_path (path);
  b.present_us = g_get_monotonic_time ();
  weft_window_load (b.window, file);
  gtk_window_present (GTK_WINDOW (b.window));
  timeout = g_timeout_add_seconds (TIMEOUT_S, on_timeout, &b);
  g_main_loop_run (b.loop);
  if (!b.timed_out)
    g_source_remove (timeout);
  g_assert_false (b.timed_out);
  g_assert_cmpint (b.map_us, >, 0);
  g_assert_cmpint (b.first_us, >, 0);
  g_assert_cmpuint (b.step, >=, SCRIPT_FRAMES);

  g_array_sort (b.frame_ms, compare_double);
  first_s = (b.first_us - b.map_us) / 1e6;
  g_test_minimized_result ((b.first_preview_us - b.map_us) / 1e6,
                           "%" G_GINT64_FORMAT " events: first frame of the timeline %.3f s after the "
                           "window mapped (target 1 s; a sampled preview for a large trace); first "
                           "frame with per-pixel aggregates of the whole trace %.3f s; first frame at "
                           "all %.3f s", n_slices + n_waits, (b.first_preview_us - b.map_us) / 1e6,
                           first_s, (b.first_any_us - b.map_us) / 1e6);
  g_test_minimized_result (percentile (b.frame_ms, 95),
                           "pan/zoom: %u frames, frame time p50 %.2f ms, p95 %.2f ms, max %.2f ms "
                           "(target p95 < 16 ms); %u frames painted a raster that was still being "
                           "recomputed", b.frame_ms->len, percentile (b.frame_ms, 50),
                           percentile (b.frame_ms, 95), percentile (b.frame_ms, 100), b.stale_frames);

  gtk_window_destroy (GTK_WINDOW (b.window));
  g_array_unref (b.frame_ms);
  g_main_loop_unref (b.loop);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Xvfb has no session bus: GTK warns about it; only criticals fail. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_setenv ("GTK_A11Y", "none", TRUE);
  g_test_add_func ("/viewer/bench/pan-zoom", bench_view);
  return g_test_run ();
}
