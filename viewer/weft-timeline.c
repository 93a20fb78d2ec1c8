/* weft-timeline.c — the timeline widget (weft-timeline.h). */
#include <math.h>
#include <string.h>

#include "weft-timeline.h"

#define LABEL_W      200   /* label column, px */
#define RIGHT_PAD    10
#define RULER_H      22
#define CHART_H      132
#define SECTION_H    20
#define PROCESS_H    20
#define THREAD_H     18
#define LANE_GAP     2
#define N_RULER_TEXT 48

struct _WeftTimeline
{
  GtkWidget       parent_instance;

  WeftViewData   *data;
  WeftViewRaster *raster;
  gint64          view_start_ns;
  gint64          view_end_ns;
  gboolean        computing;     /* a raster job is running */
  guint           cpu_h;         /* height of a CPU lane */

  /* Text, laid out when the data is set (labels) or reused per frame. */
  PangoLayout   **thread_labels; /* n_threads */
  PangoLayout   **process_labels;/* n_processes */
  PangoLayout    *legend[WEFT_N_STATES + 1];
  PangoLayout    *cpu_label;
  PangoLayout    *thread_section;
  PangoLayout    *ruler_text[N_RULER_TEXT];

  double          pointer_x;
  gboolean        has_selection;
  gint64          sel_start_ns;
  gint64          sel_end_ns;
  gint64          drag_anchor_ns;

  gint            lock;          /* highlighted lock, or -1 */
  gint            sel_thread;    /* selected wait, or -1 */
  gint            sel_wait;
};

G_DEFINE_FINAL_TYPE (WeftTimeline, weft_timeline, GTK_TYPE_WIDGET)

enum { SETTLED, SELECTION_CHANGED, WAIT_SELECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void request_raster (WeftTimeline *self);

/* Geometry */

static double
plot_x0 (WeftTimeline *self)
{
  return LABEL_W;
}

static double
plot_w (WeftTimeline *self)
{
  return MAX (gtk_widget_get_width (GTK_WIDGET (self)) - LABEL_W - RIGHT_PAD, 1);
}

static double
t_to_x (WeftTimeline *self,
        gint64        t)
{
  return plot_x0 (self) + (double) (t - self->view_start_ns) * plot_w (self)
         / (double) (self->view_end_ns - self->view_start_ns);
}

static gint64
x_to_t (WeftTimeline *self,
        double        x)
{
  return self->view_start_ns + (gint64) ((x - plot_x0 (self)) / plot_w (self)
                                         * (double) (self->view_end_ns - self->view_start_ns));
}

static int
cpus_y (WeftTimeline *self)
{
  return RULER_H + CHART_H + SECTION_H;
}

static int
threads_y (WeftTimeline *self)
{
  return cpus_y (self) + (int) (self->data->cpus * self->cpu_h) + SECTION_H + 4;
}

/* y of thread lane i, from the top of the widget. */
static int
thread_lane_y (WeftTimeline *self,
               guint         i)
{
  guint process = self->data->threads[i].process;

  return threads_y (self) + (int) (process + 1) * PROCESS_H + (int) i * (THREAD_H + LANE_GAP);
}

static int
total_height (WeftTimeline *self)
{
  if (self->data == NULL)
    return RULER_H + CHART_H;
  return threads_y (self) + (int) self->data->n_processes * PROCESS_H
         + (int) self->data->n_threads * (THREAD_H + LANE_GAP) + 8;
}

static GdkRGBA
rgba (WeftRgb c,
      float   alpha)
{
  return (GdkRGBA) { c.r / 255.f, c.g / 255.f, c.b / 255.f, alpha };
}

/* Labels */

static PangoLayout *
make_label (WeftTimeline *self,
            const char   *text,
            int           width_px,
            gboolean      bold)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), text);

  pango_layout_set_width (layout, width_px * PANGO_SCALE);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  if (bold)
    {
      PangoAttrList *attrs = pango_attr_list_new ();

      pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
      pango_layout_set_attributes (layout, attrs);
      pango_attr_list_unref (attrs);
    }
  return layout;
}

static void
clear_labels (WeftTimeline *self)
{
  if (self->thread_labels != NULL && self->data != NULL)
    for (guint i = 0; i < self->data->n_threads; i++)
      g_clear_object (&self->thread_labels[i]);
  if (self->process_labels != NULL && self->data != NULL)
    for (guint i = 0; i < self->data->n_processes; i++)
      g_clear_object (&self->process_labels[i]);
  g_clear_pointer (&self->thread_labels, g_free);
  g_clear_pointer (&self->process_labels, g_free);
  g_clear_object (&self->cpu_label);
  g_clear_object (&self->thread_section);
}

static void
build_labels (WeftTimeline *self)
{
  WeftViewData *d = self->data;
  g_autofree char *cpus = g_strdup_printf ("CPUs (%u)", d->cpus);
  g_autofree char *threads = g_strdup_printf ("Threads (%u in %u process%s)", d->n_threads,
                                              d->n_processes, d->n_processes == 1 ? "" : "es");

  self->thread_labels = g_new0 (PangoLayout *, d->n_threads);
  self->process_labels = g_new0 (PangoLayout *, d->n_processes);
  for (guint i = 0; i < d->n_threads; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s  %" G_GINT64_FORMAT,
                                               d->threads[i].name, d->threads[i].tid);

      self->thread_labels[i] = make_label (self, text, LABEL_W - 26, FALSE);
    }
  for (guint i = 0; i < d->n_processes; i++)
    {
      g_autofree char *text = g_strdup_printf ("process %" G_GINT64_FORMAT "  %s",
                                               d->processes[i].pid, d->processes[i].command);

      self->process_labels[i] = make_label (self, text, 700, TRUE);
    }
  self->cpu_label = make_label (self, cpus, LABEL_W - 10, TRUE);
  self->thread_section = make_label (self, threads, 600, TRUE);
}

/* Raster jobs */

typedef struct
{
  WeftViewData *data;
  gint64        start_ns;
  gint64        end_ns;
  guint         columns;
  gint          lock;
} RasterJob;

static void
raster_job_free (gpointer p)
{
  RasterJob *job = p;

  weft_view_data_unref (job->data);
  g_free (job);
}

static void
raster_thread_func (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  RasterJob *job = task_data;

  g_task_return_pointer (task,
                         weft_view_raster_new_full (job->data, job->start_ns, job->end_ns,
                                                    job->columns, job->lock),
                         (GDestroyNotify) weft_view_raster_unref);
}

static guint
wanted_columns (WeftTimeline *self)
{
  return (guint) plot_w (self);
}

gboolean
weft_timeline_is_settled (WeftTimeline *self)
{
  return self->data != NULL && self->raster != NULL && !self->computing
         && self->data->preview == NULL
         && self->raster->start_ns == self->view_start_ns
         && self->raster->end_ns == self->view_end_ns
         && self->raster->columns == wanted_columns (self)
         && self->raster->lock == self->lock
         && gtk_widget_get_width (GTK_WIDGET (self)) > 0;
}

static void
raster_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  WeftTimeline *self = WEFT_TIMELINE (source);
  WeftViewRaster *raster = g_task_propagate_pointer (G_TASK (result), NULL);
  RasterJob *job = g_task_get_task_data (G_TASK (result));

  self->computing = FALSE;
  if (raster != NULL && job->data == self->data)
    {
      g_clear_pointer (&self->raster, weft_view_raster_unref);
      self->raster = raster;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
  else
    g_clear_pointer (&raster, weft_view_raster_unref);

  if (weft_timeline_is_settled (self))
    g_signal_emit (self, signals[SETTLED], 0);
  else
    request_raster (self);
}

static void
request_raster (WeftTimeline *self)
{
  g_autoptr(GTask) task = NULL;
  RasterJob *job;

  if (self->data == NULL || self->computing || gtk_widget_get_width (GTK_WIDGET (self)) <= 0
      || self->data->preview != NULL)
    return;
  if (weft_timeline_is_settled (self))
    return;
  job = g_new0 (RasterJob, 1);
  job->data = weft_view_data_ref (self->data);
  job->start_ns = self->view_start_ns;
  job->end_ns = self->view_end_ns;
  job->columns = wanted_columns (self);
  job->lock = self->lock;
  self->computing = TRUE;
  task = g_task_new (self, NULL, raster_done, NULL);
  g_task_set_source_tag (task, request_raster);
  g_task_set_task_data (task, job, raster_job_free);
  g_task_run_in_thread (task, raster_thread_func);
}

/* Public */

void
weft_timeline_set_data (WeftTimeline *self,
                        WeftViewData *data)
{
  gboolean keep_view = data != NULL && self->data != NULL && self->data->preview != NULL
                       && data->preview == NULL && g_strcmp0 (data->path, self->data->path) == 0
                       && data->start_ns == self->data->start_ns && data->end_ns == self->data->end_ns;
  gint64 view_start = self->view_start_ns, view_end = self->view_end_ns;

  clear_labels (self);
  g_clear_pointer (&self->raster, weft_view_raster_unref);
  g_clear_pointer (&self->data, weft_view_data_unref);
  self->has_selection = FALSE;
  self->lock = -1;
  self->sel_thread = self->sel_wait = -1;
  if (data != NULL)
    {
      self->data = weft_view_data_ref (data);
      self->cpu_h = data->cpus <= 16 ? 12 : data->cpus <= 64 ? 6 : 3;
      self->view_start_ns = keep_view ? view_start : data->start_ns;
      self->view_end_ns = keep_view ? view_end : data->end_ns;
      /* A preview comes with its raster; the real one replaces it. */
      if (data->preview != NULL)
        self->raster = weft_view_raster_ref (data->preview);
      build_labels (self);
    }
  gtk_widget_queue_resize (GTK_WIDGET (self));
  request_raster (self);
}

WeftViewData *
weft_timeline_get_data (WeftTimeline *self)
{
  return self->data;
}

void
weft_timeline_set_view (WeftTimeline *self,
                        gint64        start_ns,
                        gint64        end_ns)
{
  gint64 span;

  if (self->data == NULL)
    return;
  span = CLAMP (end_ns - start_ns, 1000, self->data->end_ns - self->data->start_ns);
  start_ns = CLAMP (start_ns, self->data->start_ns, self->data->end_ns - span);
  self->view_start_ns = start_ns;
  self->view_end_ns = start_ns + span;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  request_raster (self);
}

void
weft_timeline_get_view (WeftTimeline *self,
                        gint64       *start_ns,
                        gint64       *end_ns)
{
  *start_ns = self->view_start_ns;
  *end_ns = self->view_end_ns;
}

void
weft_timeline_zoom (WeftTimeline *self,
                    double        factor,
                    double        x)
{
  double span, frac;
  gint64 anchor;

  if (self->data == NULL)
    return;
  if (x < plot_x0 (self) || x > plot_x0 (self) + plot_w (self))
    x = plot_x0 (self) + plot_w (self) / 2;
  anchor = x_to_t (self, x);
  frac = (x - plot_x0 (self)) / plot_w (self);
  span = (double) (self->view_end_ns - self->view_start_ns) * factor;
  weft_timeline_set_view (self, anchor - (gint64) (frac * span),
                          anchor - (gint64) (frac * span) + (gint64) span);
}

void
weft_timeline_pan (WeftTimeline *self,
                   double        fraction)
{
  gint64 span = self->view_end_ns - self->view_start_ns;
  gint64 delta = (gint64) (fraction * (double) span);

  weft_timeline_set_view (self, self->view_start_ns + delta, self->view_end_ns + delta);
}

void
weft_timeline_zoom_all (WeftTimeline *self)
{
  if (self->data != NULL)
    weft_timeline_set_view (self, self->data->start_ns, self->data->end_ns);
}

gboolean
weft_timeline_get_selection (WeftTimeline *self,
                             gint64       *start_ns,
                             gint64       *end_ns)
{
  if (!self->has_selection)
    return FALSE;
  *start_ns = self->sel_start_ns;
  *end_ns = self->sel_end_ns;
  return TRUE;
}

void
weft_timeline_zoom_selection (WeftTimeline *self)
{
  if (self->has_selection)
    weft_timeline_set_view (self, self->sel_start_ns, self->sel_end_ns);
}

void
weft_timeline_set_lock (WeftTimeline *self,
                        gint          lock)
{
  if (self->data == NULL || lock >= (gint) self->data->n_locks)
    lock = -1;
  if (lock == self->lock)
    return;
  self->lock = lock;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  request_raster (self);
}

gint
weft_timeline_get_lock (WeftTimeline *self)
{
  return self->lock;
}

gboolean
weft_timeline_get_selected_wait (WeftTimeline *self,
                                 guint        *thread,
                                 guint        *wait)
{
  if (self->sel_thread < 0)
    return FALSE;
  *thread = (guint) self->sel_thread;
  *wait = (guint) self->sel_wait;
  return TRUE;
}

void
weft_timeline_select_wait (WeftTimeline *self,
                           gint          thread,
                           gint          wait)
{
  if (self->data == NULL || thread < 0 || (guint) thread >= self->data->n_threads
      || wait < 0 || (guint) wait >= self->data->threads[thread].n_waits)
    thread = wait = -1;
  if (thread == self->sel_thread && wait == self->sel_wait)
    return;
  self->sel_thread = thread;
  self->sel_wait = wait;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[WAIT_SELECTED], 0);
}

int
weft_timeline_thread_y (WeftTimeline *self,
                        guint         i)
{
  return thread_lane_y (self, i) + THREAD_H / 2;
}

double
weft_timeline_time_x (WeftTimeline *self,
                      gint64        t)
{
  return t_to_x (self, t);
}

/* Thread lane under y, or -1. */
static gint
thread_at_y (WeftTimeline *self,
             double        y)
{
  for (guint i = 0; self->data != NULL && i < self->data->n_threads; i++)
    {
      int ly = thread_lane_y (self, i);

      if (y >= ly && y < ly + THREAD_H)
        return (gint) i;
    }
  return -1;
}

char *
weft_timeline_describe_at (WeftTimeline *self,
                           double        x,
                           double        y,
                           gint         *thread_out,
                           gint         *wait_out)
{
  WeftViewData *d = self->data;
  WeftViewRaster *r = self->raster;
  gint thread, wait = -1;
  gint64 t;
  guint col;
  char at[32];

  if (thread_out != NULL)
    *thread_out = -1;
  if (wait_out != NULL)
    *wait_out = -1;
  if (d == NULL || r == NULL || x < plot_x0 (self) || x >= plot_x0 (self) + plot_w (self))
    return NULL;
  t = x_to_t (self, x);
  weft_view_format_duration (at, sizeof at, t - d->start_ns);
  /* The column of the painted raster under x (it may lag the view). */
  if (t < r->start_ns || t >= r->end_ns)
    return NULL;
  col = (guint) ((double) (t - r->start_ns) * r->columns / (double) (r->end_ns - r->start_ns));
  col = MIN (col, r->columns - 1);

  thread = thread_at_y (self, y);
  if (thread >= 0)
    {
      const WeftViewThread *th = &d->threads[thread];
      guint8 state = r->thread_state[(gsize) thread * r->columns + col];
      double ns_per_col = (double) (r->end_ns - r->start_ns) / r->columns;
      g_autoptr(GString) text = g_string_new (NULL);

      if (thread_out != NULL)
        *thread_out = thread;
      /* Prefer a wait under the pointer, or within the column it paints. */
      wait = weft_view_data_wait_at (d, thread, t);
      if (wait < 0 && (state == WEFT_STATE_LOCK || state == WEFT_STATE_SYNC
                       || state == WEFT_STATE_IO || state == WEFT_STATE_SLEEP))
        {
          gint64 c0 = r->start_ns + (gint64) (col * ns_per_col);

          for (gint64 u = c0; u < c0 + (gint64) ns_per_col && wait < 0; u += MAX ((gint64) ns_per_col / 8, 1))
            wait = weft_view_data_wait_at (d, thread, u);
        }
      g_string_append_printf (text, "%s %" G_GINT64_FORMAT " at %s: %s", th->name, th->tid, at,
                              state < WEFT_N_STATES ? weft_state_names[state] : "not alive");
      if (ns_per_col >= 1000)
        {
          char px[32];

          weft_view_format_duration (px, sizeof px, (gint64) ns_per_col);
          g_string_append_printf (text, " (most of this %s pixel)", px);
        }
      if (wait >= 0)
        {
          char dur[32];
          gint obj = th->wait_object[wait];
          gint holder = th->wait_holder[wait];

          weft_view_format_duration (dur, sizeof dur, th->wait_end_ns[wait] - th->wait_start_ns[wait]);
          g_string_append_printf (text, "\n%s wait of %s", weft_view_wait_kinds[th->wait_kind[wait]], dur);
          if (obj >= 0)
            g_string_append_printf (text, " on %s (%s)", d->locks[obj].name, d->locks[obj].kind);
          if (holder >= 0)
            g_string_append_printf (text, "\nheld by %s %" G_GINT64_FORMAT, d->threads[holder].name,
                                    d->threads[holder].tid);
          g_string_append (text, "\nclick to see it in the details");
          if (wait_out != NULL)
            *wait_out = wait;
        }
      return g_string_free (g_steal_pointer (&text), FALSE);
    }
  if (y >= cpus_y (self) && y < cpus_y (self) + (int) (d->cpus * self->cpu_h))
    {
      guint cpu = (guint) ((y - cpus_y (self)) / self->cpu_h);
      gint32 th = r->cpu_thread[(gsize) cpu * r->columns + col];

      if (th < 0)
        return g_strdup_printf ("CPU %u at %s: idle", cpu, at);
      return g_strdup_printf ("CPU %u at %s: %s %" G_GINT64_FORMAT, cpu, at,
                              d->threads[th].name, d->threads[th].tid);
    }
  if (y >= RULER_H && y < RULER_H + CHART_H)
    {
      const float *v = &r->chart[col * WEFT_N_STATES];
      double c = 0;

      for (guint s = 0; s < WEFT_N_STATES; s++)
        if (s != WEFT_STATE_SLEEP)
          c += v[s];
      return g_strdup_printf ("at %s: parallelism P %.2f, concurrency C %.2f\n"
                              "runnable %.2f, lock %.2f, sync %.2f, io %.2f, blocked %.2f",
                              at, v[WEFT_STATE_RUNNING], c, v[WEFT_STATE_RUNNABLE],
                              v[WEFT_STATE_LOCK], v[WEFT_STATE_SYNC], v[WEFT_STATE_IO],
                              v[WEFT_STATE_BLOCKED]);
    }
  return NULL;
}

void
weft_timeline_print_layout (WeftTimeline *self,
                            GtkWidget    *relative,
                            FILE         *out)
{
  double ox = 0, oy = 0;

  if (self->data == NULL)
    return;
  gtk_widget_translate_coordinates (GTK_WIDGET (self), relative, 0, 0, &ox, &oy);
  fprintf (out, "plot %d %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
           (int) (ox + plot_x0 (self)), (int) (ox + plot_x0 (self) + plot_w (self)),
           self->view_start_ns, self->view_end_ns);
  fprintf (out, "chart %d %d\n", (int) oy + RULER_H, (int) oy + RULER_H + CHART_H);
  for (guint c = 0; c < self->data->cpus; c++)
    fprintf (out, "cpu %u %d %d\n", c, (int) oy + cpus_y (self) + (int) (c * self->cpu_h),
             (int) oy + cpus_y (self) + (int) ((c + 1) * self->cpu_h) - 1);
  for (guint i = 0; i < self->data->n_threads; i++)
    {
      int y = (int) oy + thread_lane_y (self, i);

      fprintf (out, "thread %" G_GINT64_FORMAT " %d %d %s\n", self->data->threads[i].tid,
               y, y + THREAD_H, self->data->threads[i].name);
    }
}

/* Painting */

static void
draw_text (GtkSnapshot *snapshot,
           PangoLayout *layout,
           double       x,
           double       y,
           GdkRGBA      color)
{
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x, y));
  gtk_snapshot_append_layout (snapshot, layout, &color);
  gtk_snapshot_restore (snapshot);
}

static const GdkRGBA text_color = { 0.13, 0.13, 0.15, 1 };
static const GdkRGBA dim_color = { 0.40, 0.40, 0.45, 1 };
static const GdkRGBA grid_color = { 0.80, 0.81, 0.83, 1 };

static gint64
nice_step (double ns_per_px)
{
  double want = ns_per_px * 90;
  double base = pow (10, floor (log10 (MAX (want, 1))));

  for (int i = 0; i < 3; i++)
    {
      static const double mult[] = { 1, 2, 5 };

      if (base * mult[i] >= want)
        return (gint64) (base * mult[i]);
    }
  return (gint64) (base * 10);
}

static void
format_time (char   *buf,
             gsize   size,
             gint64  t_ns,
             gint64  step_ns)
{
  const char *unit = "ns";
  double div = 1;
  int decimals;

  if (step_ns >= 1000000000 / 10 * 10 || step_ns >= 100000000)
    unit = "s", div = 1e9;
  else if (step_ns >= 100000)
    unit = "ms", div = 1e6;
  else if (step_ns >= 100)
    unit = "µs", div = 1e3;
  decimals = MAX (0, (int) ceil (-log10 ((double) step_ns / div) - 1e-9));
  g_snprintf (buf, size, "%.*f %s", MIN (decimals, 6), (double) t_ns / div, unit);
}

static void
draw_ruler (WeftTimeline *self,
            GtkSnapshot  *snapshot,
            int           height)
{
  double ns_per_px = (double) (self->view_end_ns - self->view_start_ns) / plot_w (self);
  gint64 step = nice_step (ns_per_px);
  gint64 origin = self->data->start_ns;
  gint64 first = origin + ((self->view_start_ns - origin + step - 1) / step) * step;
  guint n = 0;

  for (gint64 t = first; t <= self->view_end_ns && n < N_RULER_TEXT; t += step, n++)
    {
      double x = floor (t_to_x (self, t));
      char buf[64];
      int text_w;

      gtk_snapshot_append_color (snapshot, &grid_color,
                                 &GRAPHENE_RECT_INIT (x, RULER_H - 6, 1, height - RULER_H + 6));
      format_time (buf, sizeof buf, t - origin, step);
      if (self->ruler_text[n] == NULL)
        self->ruler_text[n] = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
      pango_layout_set_text (self->ruler_text[n], buf, -1);
      pango_layout_get_pixel_size (self->ruler_text[n], &text_w, NULL);
      if (x + 3 + text_w <= gtk_widget_get_width (GTK_WIDGET (self)))
        draw_text (snapshot, self->ruler_text[n], x + 3, 2, dim_color);
    }
}

static void
draw_legend (WeftTimeline *self,
             GtkSnapshot  *snapshot)
{
  static const WeftState order[] = {
    WEFT_STATE_RUNNING, WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC,
    WEFT_STATE_IO, WEFT_STATE_BLOCKED, WEFT_STATE_SLEEP,
  };
  static const char * const text[] = {
    "running (P)", "runnable: no core", "lock", "sync: cond, barrier, join",
    "io: poll, select", "blocked: kernel", "sleep (not in C)",
  };
  double y = RULER_H + 4;

  for (guint i = 0; i < G_N_ELEMENTS (order); i++, y += 15)
    {
      GdkRGBA c = rgba (weft_palette_states[order[i]], 1);

      if (self->legend[i] == NULL)
        self->legend[i] = make_label (self, text[i], LABEL_W - 30, FALSE);
      gtk_snapshot_append_color (snapshot, &c, &GRAPHENE_RECT_INIT (8, y + 2, 14, 11));
      draw_text (snapshot, self->legend[i], 28, y - 1, text_color);
    }
  if (self->legend[WEFT_N_STATES] == NULL)
    self->legend[WEFT_N_STATES] = make_label (self, "— CPU count", LABEL_W - 30, FALSE);
  draw_text (snapshot, self->legend[WEFT_N_STATES], 8, y - 1, text_color);
}

/* The columns of the painted raster (first at x0, px wide) that fall in the
 * plot: a raster computed for a wider span may reach far outside it. */
static void
visible_columns (WeftTimeline *self,
                 double        x0,
                 double        px,
                 guint        *c_lo,
                 guint        *c_hi)
{
  guint n = self->raster->columns;

  *c_lo = (guint) CLAMP (floor ((plot_x0 (self) - x0) / px) - 1, 0, n);
  *c_hi = (guint) CLAMP (ceil ((plot_x0 (self) + plot_w (self) - x0) / px) + 1, *c_lo, n);
}

static void
draw_chart (WeftTimeline *self,
            GtkSnapshot  *snapshot)
{
  static const WeftState stack[] = {
    WEFT_STATE_RUNNING, WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC,
    WEFT_STATE_IO, WEFT_STATE_BLOCKED,
  };
  WeftViewRaster *r = self->raster;
  double x0 = t_to_x (self, r->start_ns);
  double px = (t_to_x (self, r->end_ns) - x0) / r->columns;
  double top = RULER_H + 8, bottom = RULER_H + CHART_H - 6;
  double ymax = MAX ((double) self->data->cpus, (double) self->data->max_concurrency) * 1.08;
  double scale = (bottom - top) / MAX (ymax, 1);
  guint c_lo, c_hi;
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot,
                                           &GRAPHENE_RECT_INIT (plot_x0 (self), RULER_H,
                                                                plot_w (self), CHART_H));

  cairo_set_source_rgb (cr, 0.97, 0.97, 0.98);
  cairo_rectangle (cr, plot_x0 (self), top, plot_w (self), bottom - top);
  cairo_fill (cr);

  /* While a new raster is being computed for a zoomed view, the painted
   * one may reach far outside the plot: path only the visible columns (cairo
   * would tessellate all of them). */
  c_lo = (guint) CLAMP (floor ((plot_x0 (self) - x0) / px) - 1, 0, r->columns);
  c_hi = (guint) CLAMP (ceil ((plot_x0 (self) + plot_w (self) - x0) / px) + 1, c_lo, r->columns);

  /* Layer k spans from the sum of the layers below it to that plus its own
   * share: per layer, one pixel-aligned box per run of columns of equal
   * extent, filled at once (rectilinear boxes are cairo's fast path; a
   * stepped polygon per layer made it tessellate thousands of edges). */
  for (guint k = 0; k < G_N_ELEMENTS (stack); k++)
    {
      WeftRgb c = weft_palette_states[stack[k]];
      double run_lo = 0, run_hi = 0;
      guint run_start = c_lo;

      cairo_new_path (cr);
      for (guint col = c_lo; col <= c_hi; col++)
        {
          double lower = 0, upper = 0, ylo = 0, yhi = 0;

          if (col < c_hi)
            {
              const float *v = &r->chart[col * WEFT_N_STATES];

              for (guint j = 0; j < k; j++)
                lower += v[stack[j]];
              upper = lower + v[stack[k]];
              ylo = round (bottom - lower * scale);
              yhi = round (bottom - upper * scale);
            }
          if (col == c_hi || col == c_lo || ylo != run_lo || yhi != run_hi)
            {
              if (col > c_lo && run_lo > run_hi)
                {
                  double xa = round (x0 + run_start * px), xb = round (x0 + col * px);

                  if (xb > xa)
                    cairo_rectangle (cr, xa, run_hi, xb - xa, run_lo - run_hi);
                }
              run_start = col;
              run_lo = ylo;
              run_hi = yhi;
            }
        }
      cairo_set_source_rgb (cr, c.r / 255., c.g / 255., c.b / 255.);
      cairo_fill (cr);
    }

  /* The CPU count, and the scale. */
  cairo_set_source_rgb (cr, weft_palette_cpu_line.r / 255., weft_palette_cpu_line.g / 255.,
                        weft_palette_cpu_line.b / 255.);
  cairo_set_line_width (cr, 1.5);
  cairo_set_dash (cr, (double[]) { 6, 3 }, 2, 0);
  cairo_move_to (cr, plot_x0 (self), round (bottom - self->data->cpus * scale) + 0.5);
  cairo_line_to (cr, plot_x0 (self) + plot_w (self), round (bottom - self->data->cpus * scale) + 0.5);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_source_rgb (cr, 0.5, 0.5, 0.55);
  cairo_set_line_width (cr, 1);
  cairo_move_to (cr, plot_x0 (self), bottom + 0.5);
  cairo_line_to (cr, plot_x0 (self) + plot_w (self), bottom + 0.5);
  cairo_stroke (cr);
  {
    char buf[32];

    cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (cr, 10);
    cairo_text_extents_t ext;
    double lx, ly;

    g_snprintf (buf, sizeof buf, "%u CPU%s", self->data->cpus, self->data->cpus == 1 ? "" : "s");
    cairo_text_extents (cr, buf, &ext);
    lx = plot_x0 (self) + plot_w (self) - ext.x_advance - 6;
    ly = round (bottom - self->data->cpus * scale) - 4;
    cairo_set_source_rgba (cr, 1, 1, 1, 0.85);
    cairo_rectangle (cr, lx - 3, ly - ext.height - 2, ext.x_advance + 6, ext.height + 4);
    cairo_fill (cr);
    cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
    cairo_move_to (cr, lx, ly);
    cairo_show_text (cr, buf);
  }
  cairo_destroy (cr);
}

static void
draw_cpus (WeftTimeline *self,
           GtkSnapshot  *snapshot)
{
  WeftViewRaster *r = self->raster;
  double x0 = t_to_x (self, r->start_ns);
  double px = (t_to_x (self, r->end_ns) - x0) / r->columns;
  int y0 = cpus_y (self);
  guint c_lo, c_hi;

  visible_columns (self, x0, px, &c_lo, &c_hi);
  draw_text (snapshot, self->cpu_label, 8, y0 - SECTION_H + 2, text_color);
  for (guint c = 0; c < r->n_cpus; c++)
    {
      const gint32 *row = &r->cpu_thread[(gsize) c * r->columns];
      double y = y0 + c * self->cpu_h;
      GdkRGBA idle = { 0.94, 0.94, 0.95, 1 };

      gtk_snapshot_append_color (snapshot, &idle,
                                 &GRAPHENE_RECT_INIT (plot_x0 (self), y, plot_w (self), self->cpu_h - 1));
      /* One rectangle per run of columns with the same thread. */
      for (guint col = c_lo; col < c_hi;)
        {
          guint end = col + 1;

          while (end < c_hi && row[end] == row[col])
            end++;
          if (row[col] >= 0)
            {
              GdkRGBA color = rgba (weft_palette_thread ((guint) row[col]), 1);

              gtk_snapshot_append_color (snapshot, &color,
                                         &GRAPHENE_RECT_INIT (x0 + col * px, y, (end - col) * px,
                                                              self->cpu_h - 1));
            }
          col = end;
        }
    }
}

static void
draw_threads (WeftTimeline *self,
              GtkSnapshot  *snapshot,
              int           visible_y0,
              int           visible_y1)
{
  WeftViewRaster *r = self->raster;
  WeftViewData *d = self->data;
  double x0 = t_to_x (self, r->start_ns);
  double px = (t_to_x (self, r->end_ns) - x0) / r->columns;
  GdkRGBA band = { 0.90, 0.91, 0.93, 1 };
  guint c_lo, c_hi;

  visible_columns (self, x0, px, &c_lo, &c_hi);

  draw_text (snapshot, self->thread_section, 8, threads_y (self) - SECTION_H, text_color);
  for (guint p = 0; p < d->n_processes; p++)
    {
      int y = thread_lane_y (self, d->processes[p].first_thread) - PROCESS_H;

      gtk_snapshot_append_color (snapshot, &band,
                                 &GRAPHENE_RECT_INIT (0, y + 1, gtk_widget_get_width (GTK_WIDGET (self)),
                                                      PROCESS_H - 3));
      draw_text (snapshot, self->process_labels[p], 8, y + 1, text_color);
    }
  for (guint i = 0; i < d->n_threads; i++)
    {
      const guint8 *row = &r->thread_state[(gsize) i * r->columns];
      int y = thread_lane_y (self, i);
      GdkRGBA swatch = rgba (weft_palette_thread (i), 1);

      if (y + THREAD_H < visible_y0 || y > visible_y1)
        continue;
      gtk_snapshot_append_color (snapshot, &swatch, &GRAPHENE_RECT_INIT (10, y + 4, 10, 10));
      draw_text (snapshot, self->thread_labels[i], 24, y + 1, text_color);
      for (guint col = c_lo; col < c_hi;)
        {
          guint end = col + 1;

          while (end < c_hi && row[end] == row[col])
            end++;
          if (row[col] < WEFT_N_STATES)
            {
              GdkRGBA color = rgba (weft_palette_states[row[col]], 1);

              gtk_snapshot_append_color (snapshot, &color,
                                         &GRAPHENE_RECT_INIT (x0 + col * px, y, (end - col) * px, THREAD_H));
            }
          col = end;
        }
    }
}

/* Outlines of the runs of columns where the highlighted lock was waited for. */
static void
draw_lock_marks (WeftTimeline *self,
                 GtkSnapshot  *snapshot)
{
  WeftViewRaster *r = self->raster;
  double x0 = t_to_x (self, r->start_ns);
  double px = (t_to_x (self, r->end_ns) - x0) / r->columns;
  GdkRGBA ink = { 1.0, 0.84, 0.0, 1 };
  const GdkRGBA inks[4] = { ink, ink, ink, ink };
  const float widths[4] = { 2, 2, 2, 2 };

  if (r->thread_lock == NULL)
    return;
  for (guint i = 0; i < self->data->n_threads; i++)
    {
      const guint8 *row = &r->thread_lock[(gsize) i * r->columns];
      int y = thread_lane_y (self, i);

      for (guint col = 0; col < r->columns;)
        {
          guint end = col + 1;

          if (!row[col])
            {
              col++;
              continue;
            }
          while (end < r->columns && row[end])
            end++;
          {
            GskRoundedRect rect;

            gsk_rounded_rect_init_from_rect (&rect, &GRAPHENE_RECT_INIT (x0 + col * px - 1, y - 2,
                                                                         (end - col) * px + 2, THREAD_H + 4), 0);
            gtk_snapshot_append_border (snapshot, &rect, widths, inks);
          }
          col = end;
        }
    }
}

/* The selected wait: its outline, the holder's lane over the same interval,
 * and a line from the waiter to the holder. */
static void
draw_selected_wait (WeftTimeline *self,
                    GtkSnapshot  *snapshot)
{
  const WeftViewThread *t;
  double a, b, left = plot_x0 (self), right = plot_x0 (self) + plot_w (self);
  int y;
  gint holder;
  cairo_t *cr;

  if (self->sel_thread < 0)
    return;
  t = &self->data->threads[self->sel_thread];
  a = CLAMP (t_to_x (self, t->wait_start_ns[self->sel_wait]), left, right);
  b = CLAMP (t_to_x (self, t->wait_end_ns[self->sel_wait]), left, right);
  b = MAX (b, a + 1);
  y = thread_lane_y (self, self->sel_thread);
  holder = t->wait_holder[self->sel_wait];
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (GTK_WIDGET (self)),
                                                                  gtk_widget_get_height (GTK_WIDGET (self))));
  cairo_set_line_width (cr, 2);
  cairo_set_source_rgb (cr, 0.05, 0.05, 0.1);
  cairo_rectangle (cr, a - 1, y - 2, b - a + 2, THREAD_H + 4);
  cairo_stroke (cr);
  if (holder >= 0)
    {
      int hy = thread_lane_y (self, holder);
      double xm = a + MIN (6.0, (b - a) / 2);

      cairo_set_source_rgba (cr, 0.15, 0.45, 0.95, 0.30);
      cairo_rectangle (cr, a, hy - 2, b - a, THREAD_H + 4);
      cairo_fill (cr);
      cairo_set_source_rgb (cr, 0.15, 0.35, 0.85);
      cairo_rectangle (cr, a - 1, hy - 2, b - a + 2, THREAD_H + 4);
      cairo_stroke (cr);
      /* The link: from the waiter down/up to the holder, arrow at the holder. */
      {
        double y0 = y + THREAD_H / 2.0, y1 = hy + THREAD_H / 2.0;
        double dir = y1 > y0 ? 1 : -1;
        double tip = y1 - dir * (THREAD_H / 2.0 + 2);

        cairo_set_line_width (cr, 2);
        cairo_move_to (cr, xm, y0);
        cairo_line_to (cr, xm, tip);
        cairo_stroke (cr);
        cairo_move_to (cr, xm, tip);
        cairo_line_to (cr, xm - 5, tip - dir * 8);
        cairo_line_to (cr, xm + 5, tip - dir * 8);
        cairo_close_path (cr);
        cairo_fill (cr);
        cairo_arc (cr, xm, y0, 3.5, 0, 2 * G_PI);
        cairo_fill (cr);
      }
    }
  cairo_destroy (cr);
}

static void
weft_timeline_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  WeftTimeline *self = WEFT_TIMELINE (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GdkRGBA background = { 1, 1, 1, 1 };

  gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (self->data == NULL)
    return;
  draw_ruler (self, snapshot, height);
  draw_legend (self, snapshot);
  if (self->raster != NULL)
    {
      draw_chart (self, snapshot);
      draw_cpus (self, snapshot);
      draw_threads (self, snapshot, 0, height);
      draw_lock_marks (self, snapshot);
      draw_selected_wait (self, snapshot);
    }
  if (self->has_selection)
    {
      GdkRGBA sel = { 0.20, 0.45, 0.85, 0.18 };
      double a = MAX (t_to_x (self, self->sel_start_ns), plot_x0 (self));
      double b = MIN (t_to_x (self, self->sel_end_ns), plot_x0 (self) + plot_w (self));

      if (b > a)
        gtk_snapshot_append_color (snapshot, &sel, &GRAPHENE_RECT_INIT (a, RULER_H, MAX (b - a, 1),
                                                                       height - RULER_H));
    }
}

static void
weft_timeline_measure (GtkWidget      *widget,
                       GtkOrientation  orientation,
                       int             for_size,
                       int            *minimum,
                       int            *natural,
                       int            *minimum_baseline,
                       int            *natural_baseline)
{
  WeftTimeline *self = WEFT_TIMELINE (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = *natural = LABEL_W + 200;
  else
    *minimum = *natural = total_height (self);
}

static void
weft_timeline_size_allocate (GtkWidget *widget,
                             int        width,
                             int        height,
                             int        baseline)
{
  request_raster (WEFT_TIMELINE (widget));
}

/* Input */

static gboolean
on_scroll (GtkEventControllerScroll *controller,
           double                    dx,
           double                    dy,
           WeftTimeline             *self)
{
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));

  if (self->data == NULL)
    return FALSE;
  if (mods & GDK_CONTROL_MASK)
    {
      weft_timeline_zoom (self, pow (1.25, dy), self->pointer_x);
      return TRUE;
    }
  if (mods & GDK_SHIFT_MASK)
    {
      weft_timeline_pan (self, 0.1 * (dy + dx));
      return TRUE;
    }
  if (dx != 0)
    {
      weft_timeline_pan (self, 0.1 * dx);
      return TRUE;
    }
  return FALSE;
}

static void
on_motion (GtkEventControllerMotion *controller,
           double                    x,
           double                    y,
           WeftTimeline             *self)
{
  self->pointer_x = x;
}

static void
on_drag_begin (GtkGestureDrag *gesture,
               double          x,
               double          y,
               WeftTimeline   *self)
{
  if (self->data == NULL || x < plot_x0 (self))
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  self->drag_anchor_ns = x_to_t (self, x);
}

static void
on_drag_update (GtkGestureDrag *gesture,
                double          dx,
                double          dy,
                WeftTimeline   *self)
{
  double x;
  gint64 t;

  if (fabs (dx) < 3)
    return;
  gtk_gesture_drag_get_start_point (gesture, &x, NULL);
  t = x_to_t (self, x + dx);
  t = CLAMP (t, self->data->start_ns, self->data->end_ns);
  self->has_selection = TRUE;
  self->sel_start_ns = MIN (t, self->drag_anchor_ns);
  self->sel_end_ns = MAX (t, self->drag_anchor_ns);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[SELECTION_CHANGED], 0);
}

static void
on_drag_end (GtkGestureDrag *gesture,
             double          dx,
             double          dy,
             WeftTimeline   *self)
{
  if (fabs (dx) < 3)
    {
      double x, y;
      gint thread, wait;
      g_autofree char *what = NULL;

      gtk_gesture_drag_get_start_point (gesture, &x, &y);
      what = weft_timeline_describe_at (self, x, y, &thread, &wait);
      weft_timeline_select_wait (self, thread, wait);
      if (self->has_selection)
        {
          self->has_selection = FALSE;
          gtk_widget_queue_draw (GTK_WIDGET (self));
          g_signal_emit (self, signals[SELECTION_CHANGED], 0);
        }
    }
}

static gboolean
on_query_tooltip (GtkWidget  *widget,
                  int         x,
                  int         y,
                  gboolean    keyboard,
                  GtkTooltip *tooltip,
                  gpointer    user_data)
{
  g_autofree char *text = NULL;

  if (keyboard)
    return FALSE;
  text = weft_timeline_describe_at (WEFT_TIMELINE (widget), x, y, NULL, NULL);
  if (text == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* GObject */

static void
weft_timeline_dispose (GObject *object)
{
  WeftTimeline *self = WEFT_TIMELINE (object);

  clear_labels (self);
  for (guint i = 0; i < G_N_ELEMENTS (self->legend); i++)
    g_clear_object (&self->legend[i]);
  for (guint i = 0; i < N_RULER_TEXT; i++)
    g_clear_object (&self->ruler_text[i]);
  g_clear_pointer (&self->raster, weft_view_raster_unref);
  g_clear_pointer (&self->data, weft_view_data_unref);
  G_OBJECT_CLASS (weft_timeline_parent_class)->dispose (object);
}

static void
weft_timeline_class_init (WeftTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = weft_timeline_dispose;
  widget_class->snapshot = weft_timeline_snapshot;
  widget_class->measure = weft_timeline_measure;
  widget_class->size_allocate = weft_timeline_size_allocate;

  signals[SETTLED] = g_signal_new ("settled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SELECTION_CHANGED] = g_signal_new ("selection-changed", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                             G_TYPE_NONE, 0);
  signals[WAIT_SELECTED] = g_signal_new ("wait-selected", G_TYPE_FROM_CLASS (klass),
                                         G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 0);
  gtk_widget_class_set_css_name (widget_class, "timeline");
}

static void
weft_timeline_init (WeftTimeline *self)
{
  GtkEventController *scroll, *motion;
  GtkGesture *drag;

  self->pointer_x = -1;
  self->lock = -1;
  self->sel_thread = self->sel_wait = -1;
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  g_signal_connect (self, "query-tooltip", G_CALLBACK (on_query_tooltip), NULL);

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
}
