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
 *   - the duration of every frame of a scripted pan and zoom driven by a
 *     tick callback (60 frames zooming in, 60 panning right, 60 panning
 *     left, 60 zooming out, one step per frame): from the frame clock's
 *     "before-paint" to its "after-paint", which span the tick, the layout,
 *     the snapshot and GSK's rendering of the window (GdkSurface::render,
 *     seen by an emission hook) and handing it to the display. Every step
 *     of the script is one frame and is counted: a frame that rendered
 *     nothing would be reported apart, and so are the frames that painted
 *     a raster still being recomputed (the aggregation runs in a worker
 *     thread).
 * It chooses the GSK renderer as weft-view does (viewer/weft-renderer.c:
 * cairo where OpenGL is a software rasterizer, as under Xvfb, unless
 * GSK_RENDERER says otherwise) and prints which it ran with, the figures
 * (p50, p95, max), and the CPU time per frame of its threads by role (main,
 * Mesa's llvmpipe rasterizer, workers), which other load on the machine does
 * not inflate as it does the frame times. It asserts nothing about speed
 * (DESIGN.md): only that the window showed the trace and every step of the
 * script was rendered.
 *
 * WEFT_BENCH_VIEW_TRACE=PATH keeps the synthetic trace there and reuses it
 * on the next run while it opens as a trace of the current schema (building
 * the 10-million-event trace takes a minute).
 */
#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <string.h>
#include <unistd.h>

#include "bench-view-trace.h"
#include "weft-renderer.h"
#include "weft-trace.h"
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
  gint64        first_any_us;   /* first frame rendered at all */
  gint64        first_preview_us; /* first frame with a timeline (maybe a preview) */
  gint64        first_us;       /* first frame with the trace's timeline */
  gint64        frame_start_us; /* "before-paint" of the current frame */
  gboolean      rendered;       /* the current frame rendered */
  gboolean      scripting;
  guint         step;           /* script steps done (tick callbacks) */
  guint         rendered_step;  /* steps whose frame rendered */
  GArray       *frame_ms;       /* double, one per rendered frame of the script */
  gint64        script_start_us;
  gint64        script_end_us;
  gint64        cpu_start_ns[4]; /* thread_cpu_ns() when the script began */
  gint64        cpu_end_ns[4];   /* and when its last frame was done */
  guint         idle_frames;    /* frames of the script that rendered nothing */
  guint         stale_frames;
  gulong        render_hook;
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
  b->rendered = FALSE;
}

static gboolean
script_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       user_data)
{
  Bench *b = user_data;
  guint s = b->step;

  if (s >= SCRIPT_FRAMES)
    return G_SOURCE_REMOVE;
  b->step++;
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

/* CPU time (ns) of this process's threads so far, by role: [0] the main
 * thread, [1] Mesa's software rasterizer (llvmpipe-N threads: GL frames
 * are drawn there), [2] GLib's worker pool (loading, rasters), [3] the
 * rest. From /proc/self/task/N/schedstat: unlike the frame times, it does
 * not grow when other programs compete for the CPUs. */
static void
thread_cpu_ns (gint64 ns[4])
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  memset (ns, 0, 4 * sizeof (gint64));
  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *stat_path = g_strdup_printf ("/proc/self/task/%s/schedstat", tid);
      g_autofree char *comm_path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *stat = NULL, *comm = NULL;
      guint role;

      if (!g_file_get_contents (stat_path, &stat, NULL, NULL)
          || !g_file_get_contents (comm_path, &comm, NULL, NULL))
        continue;
      if (g_ascii_strtoll (tid, NULL, 10) == getpid ())
        role = 0;
      else if (g_str_has_prefix (comm, "llvmpipe"))
        role = 1;
      else if (g_str_has_prefix (comm, "pool"))
        role = 2;
      else
        role = 3;
      ns[role] += g_ascii_strtoll (stat, NULL, 10);
    }
}

/* An emission hook on GdkSurface::render: the frame being painted is drawn
 * by GSK (GtkWindow's handler stops the emission, so a handler of our own
 * would not run). */
static gboolean
render_hook (GSignalInvocationHint *hint,
             guint                  n_values,
             const GValue          *values,
             gpointer               user_data)
{
  Bench *b = user_data;

  b->rendered = TRUE;
  return TRUE;
}

/* The frame is done: GSK rendered it during the paint phase, if at all. */
static void
after_paint (GdkFrameClock *clock,
             Bench         *b)
{
  gint64 now = g_get_monotonic_time ();

  if (b->rendered && b->first_any_us == 0)
    b->first_any_us = now;
  if (b->rendered && b->first_preview_us == 0 && weft_timeline_get_data (b->timeline) != NULL)
    b->first_preview_us = now;
  if (b->first_us == 0 && b->rendered && weft_timeline_is_settled (b->timeline))
    {
      b->first_us = now;
      b->scripting = TRUE;
      b->script_start_us = now;
      thread_cpu_ns (b->cpu_start_ns);
      gtk_widget_add_tick_callback (GTK_WIDGET (b->timeline), script_tick, b, NULL);
      return;
    }
  if (b->scripting && b->step > b->rendered_step)
    {
      double ms = (now - b->frame_start_us) / 1000.0;

      if (!b->rendered)
        b->idle_frames++;
      else
        {
          g_array_append_val (b->frame_ms, ms);
          b->stale_frames += !weft_timeline_is_settled (b->timeline);
        }
      if (g_getenv ("BENCH_VIEW_FRAMES") != NULL)
        g_printerr ("frame %u: %.2f ms rendered %d settled %d\n", b->step, ms, b->rendered,
                    weft_timeline_is_settled (b->timeline));
      b->rendered_step = b->step;
      if (b->step == SCRIPT_FRAMES)
        {
          b->script_end_us = now;
          thread_cpu_ns (b->cpu_end_ns);
          b->scripting = FALSE;
        }
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
  b->render_hook = g_signal_add_emission_hook (g_signal_lookup ("render", GDK_TYPE_SURFACE), 0,
                                               render_hook, b, NULL);
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

/* The trace to open: WEFT_BENCH_VIEW_TRACE when it names an existing file
 * (reused), else built (there, or in a temporary directory). */
static char *
bench_trace (gint64     events,
             char     **tmp_dir)
{
  const char *keep = g_getenv ("WEFT_BENCH_VIEW_TRACE");
  g_autoptr(GError) error = NULL;
  char *path;
  gint64 counts[4];
  gint64 start_us;

  *tmp_dir = NULL;
  if (keep != NULL && g_file_test (keep, G_FILE_TEST_EXISTS))
    {
      g_autoptr(WeftTrace) trace = weft_trace_open (keep, &error);

      if (trace != NULL)
        {
          g_test_message ("reusing %s (WEFT_BENCH_VIEW_TRACE)", keep);
          return g_strdup (keep);
        }
      /* Made by an older schema, or cut short: build it again. */
      g_test_message ("rebuilding %s: %s", keep, error->message);
      g_clear_error (&error);
      g_unlink (keep);
    }
  if (keep != NULL)
    path = g_strdup (keep);
  else
    {
      *tmp_dir = g_dir_make_tmp ("weft-bench-view-XXXXXX", &error);
      g_assert_no_error (error);
      path = g_build_filename (*tmp_dir, "big.db", NULL);
    }
  start_us = g_get_monotonic_time ();
  bench_view_build_trace (path, events, counts);
  g_test_message ("built and analysed the trace in %.1f s: %" G_GINT64_FORMAT " slices + %"
                  G_GINT64_FORMAT " waits, %" G_GINT64_FORMAT " thread_states, %" G_GINT64_FORMAT
                  " profile rows", (g_get_monotonic_time () - start_us) / 1e6,
                  counts[0], counts[1], counts[2], counts[3]);
  return path;
}

static void
bench_view (void)
{
  gint64 events = g_test_perf () ? 10000000 : 100000;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;
  Bench b = { 0 };
  guint timeout;
  const char *renderer, *asked, *why;
  double first_s, script_s;

  g_test_summary ("Times weft-view on a trace of 10 million events (-m perf): first frame after "
                  "the window maps, and frame times of a scripted pan and zoom.");
  if (!gtk_init_check ())
    {
      g_test_skip ("no display (run under xvfb-run -a)");
      return;
    }
  asked = g_getenv ("GSK_RENDERER");
  why = weft_renderer_choose (gdk_display_get_default ());
  path = bench_trace (events, &dir);

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
  g_assert_cmpuint (b.step, ==, SCRIPT_FRAMES);
  g_assert_cmpuint (b.frame_ms->len + b.idle_frames, ==, SCRIPT_FRAMES);

  renderer = G_OBJECT_TYPE_NAME (gtk_native_get_renderer (GTK_NATIVE (b.window)));
  g_array_sort (b.frame_ms, compare_double);
  first_s = (b.first_us - b.map_us) / 1e6;
  script_s = (b.script_end_us - b.script_start_us) / 1e6;
  g_test_minimized_result ((b.first_preview_us - b.map_us) / 1e6,
                           "%" G_GINT64_FORMAT " events: first frame of the timeline %.3f s after the "
                           "window mapped (target 1 s; a sampled preview for a large trace); first "
                           "frame with per-pixel aggregates of the whole trace %.3f s; first frame at "
                           "all %.3f s", events, (b.first_preview_us - b.map_us) / 1e6,
                           first_s, (b.first_any_us - b.map_us) / 1e6);
  g_test_minimized_result (percentile (b.frame_ms, 95),
                           "pan/zoom with %s (GSK_RENDERER=%s, as weft-view chooses: %s): %u frames rendered in %.2f s, "
                           "frame time (before-paint to after-paint) p50 %.2f ms, p95 %.2f ms, "
                           "max %.2f ms (target p95 < 16 ms); %u frames painted a raster that was "
                           "still being recomputed, %u frame clock cycles rendered nothing",
                           renderer, asked != NULL ? asked : "unset", why, b.frame_ms->len, script_s,
                           percentile (b.frame_ms, 50), percentile (b.frame_ms, 95),
                           percentile (b.frame_ms, 100), b.stale_frames, b.idle_frames);
  g_test_message ("pan/zoom: CPU time per frame: main thread %.2f ms, GL software rasterizer "
                  "(llvmpipe threads) %.2f ms, worker threads (rasters) %.2f ms, other %.2f ms",
                  (b.cpu_end_ns[0] - b.cpu_start_ns[0]) / 1e6 / SCRIPT_FRAMES,
                  (b.cpu_end_ns[1] - b.cpu_start_ns[1]) / 1e6 / SCRIPT_FRAMES,
                  (b.cpu_end_ns[2] - b.cpu_start_ns[2]) / 1e6 / SCRIPT_FRAMES,
                  (b.cpu_end_ns[3] - b.cpu_start_ns[3]) / 1e6 / SCRIPT_FRAMES);

  g_signal_remove_emission_hook (g_signal_lookup ("render", GDK_TYPE_SURFACE), b.render_hook);
  gtk_window_destroy (GTK_WINDOW (b.window));
  g_array_unref (b.frame_ms);
  g_main_loop_unref (b.loop);
  if (dir != NULL)
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
  /* Xvfb has no session bus: GTK warns about it; only criticals fail. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_setenv ("GTK_A11Y", "none", TRUE);
  g_test_add_func ("/viewer/bench/pan-zoom", bench_view);
  return g_test_run ();
}
