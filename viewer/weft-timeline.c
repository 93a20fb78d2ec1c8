/* weft-timeline.c — the timeline widget (weft-timeline.h). */
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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
#define CHART_TOP    (RULER_H + 8)            /* the chart's plot area, y */
#define CHART_BOTTOM (RULER_H + CHART_H - 6)  /* its zero line (the axis is the row below) */
#define CHART_ROWS   (CHART_BOTTOM - CHART_TOP + 1)

/* What snapshot() paints of a raster, made with it in the worker: one
 * texture per lane, a row of texels per pixel column, which GSK stretches to
 * the lane's height (and, while a new raster is being computed, to the
 * zoomed span), and one for the chart. The GL renderer uploads a texture
 * once and reuses it for every frame that draws it, so a frame costs a
 * quad per lane instead of a rectangle per run of columns. */
typedef struct
{
  WeftViewRaster *raster;
  GdkTexture     *chart;     /* columns × CHART_ROWS */
  guint           n_cpus;
  GdkTexture    **cpu;       /* n_cpus rows of thread colours; NULL when idle throughout */
  guint           n_threads;
  GdkTexture    **thread;    /* n_threads rows of state colours; NULL when not alive */
  gboolean       *thread_opaque; /* n_threads: the row has no transparent texel */
  GdkTexture    **lock_bar;  /* n_threads; the outlines of the highlighted lock's */
  GdkTexture    **lock_edge; /* waits (top and bottom bars, left and right edges); NULL without */
} Picture;

struct _WeftTimeline
{
  GtkWidget       parent_instance;

  WeftViewData   *data;
  WeftViewRaster *raster;        /* what is painted (hit-testing reads it) */
  Picture        *picture;       /* raster's textures */
  gint64          view_start_ns;
  gint64          view_end_ns;
  gboolean        computing;     /* a raster job is running */
  guint           cpu_h;         /* height of a CPU lane */

  /* Text, laid out when the data is set (labels) or reused per frame. */
  PangoLayout   **thread_labels; /* n_threads */
  PangoLayout   **process_labels;/* n_processes */
  PangoLayout    *legend[WEFT_N_STATES + 1];
  PangoLayout    *cpu_label;
  PangoLayout    *cpu_count;     /* "4 CPUs" on the chart's line */
  PangoLayout    *thread_section;
  PangoLayout    *ruler_text[N_RULER_TEXT];

  GtkAdjustment  *vadjustment;   /* of the scrolled window around it, or NULL */
  gulong          vadjustment_handlers[2];
  double          visible_y0;    /* the part of it on screen, set by snapshot() */
  double          visible_y1;

  double          pointer_x;
  gboolean        has_selection;
  gint64          sel_start_ns;
  gint64          sel_end_ns;
  gint64          drag_anchor_ns;

  gint            lock;          /* highlighted lock, or -1 */
  gint            sel_thread;    /* selected wait, or -1 */
  gint            sel_wait;

  /* Thread lanes grouped by process; a collapsed process shows its header
   * band alone. Laid out by layout_lanes(). */
  gboolean       *collapsed;     /* n_processes */
  int            *band_y;        /* n_processes: y of each process's header */
  int            *lane_y;        /* n_threads: y of each lane, -1 if hidden */
  int             lanes_end;     /* y below the last lane or band */
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

/* Places each process's header band and, unless it is collapsed, the
 * lanes of its threads (an index range, in process order) under it. */
static void
layout_lanes (WeftTimeline *self)
{
  WeftViewData *d = self->data;
  int y = threads_y (self);

  for (guint p = 0; p < d->n_processes; p++)
    {
      const WeftViewProcess *proc = &d->processes[p];

      self->band_y[p] = y;
      y += PROCESS_H;
      for (guint i = proc->first_thread; i < proc->first_thread + proc->n_threads; i++)
        {
          self->lane_y[i] = self->collapsed[p] ? -1 : y;
          if (!self->collapsed[p])
            y += THREAD_H + LANE_GAP;
        }
    }
  self->lanes_end = y;
}

/* y of thread lane i from the top of the widget, -1 if its process is
 * collapsed. */
static int
thread_lane_y (WeftTimeline *self,
               guint         i)
{
  return self->lane_y[i];
}

/* y of what stands for thread i: its lane, or its collapsed process's band. */
static int
thread_or_band_y (WeftTimeline *self,
                  guint         i)
{
  return self->lane_y[i] >= 0 ? self->lane_y[i] : self->band_y[self->data->threads[i].process];
}

static int
total_height (WeftTimeline *self)
{
  if (self->data == NULL)
    return RULER_H + CHART_H;
  return self->lanes_end + 8;
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
  g_clear_object (&self->cpu_count);
  g_clear_object (&self->thread_section);
}

/* "▾ process PID  COMMAND", or "▸ …  (N threads)" when collapsed. */
static PangoLayout *
process_label (WeftTimeline *self,
               guint         p)
{
  const WeftViewProcess *proc = &self->data->processes[p];
  g_autofree char *hidden = g_strdup_printf ("  (%u thread%s)", proc->n_threads,
                                             proc->n_threads == 1 ? "" : "s");
  g_autofree char *text = g_strdup_printf ("%s process %" G_GINT64_FORMAT "  %s%s",
                                           self->collapsed[p] ? "\u25B8" : "\u25BE",
                                           proc->pid, proc->command,
                                           self->collapsed[p] ? hidden : "");

  return make_label (self, text, 700, TRUE);
}

static void
clear_lanes (WeftTimeline *self)
{
  g_clear_pointer (&self->collapsed, g_free);
  g_clear_pointer (&self->band_y, g_free);
  g_clear_pointer (&self->lane_y, g_free);
}

static void
build_labels (WeftTimeline *self)
{
  WeftViewData *d = self->data;
  g_autofree char *cpus = g_strdup_printf ("CPUs (%u)", d->cpus);
  g_autofree char *cpus_line = g_strdup_printf ("%u CPU%s", d->cpus, d->cpus == 1 ? "" : "s");
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
    self->process_labels[i] = process_label (self, i);
  self->cpu_label = make_label (self, cpus, LABEL_W - 10, TRUE);
  self->cpu_count = make_label (self, cpus_line, 200, FALSE);
  {
    PangoAttrList *attrs = pango_attr_list_new ();

    pango_attr_list_insert (attrs, pango_attr_scale_new (PANGO_SCALE_SMALL));
    pango_layout_set_attributes (self->cpu_count, attrs);
    pango_attr_list_unref (attrs);
  }
  self->thread_section = make_label (self, threads, 600, TRUE);
}

/* Pictures: a raster made into textures (any thread) */

static void
picture_free (Picture *p)
{
  if (p == NULL)
    return;
  for (guint i = 0; i < p->n_cpus; i++)
    g_clear_object (&p->cpu[i]);
  for (guint i = 0; i < p->n_threads; i++)
    {
      g_clear_object (&p->thread[i]);
      g_clear_object (&p->lock_bar[i]);
      g_clear_object (&p->lock_edge[i]);
    }
  g_free (p->cpu);
  g_free (p->thread);
  g_free (p->thread_opaque);
  g_free (p->lock_bar);
  g_free (p->lock_edge);
  g_clear_object (&p->chart);
  g_clear_pointer (&p->raster, weft_view_raster_unref);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Picture, picture_free)

/* Premultiplied BGRA bytes: cairo's own format on little-endian machines
 * (the cairo renderer then copies a texture without converting it), and
 * one that desktop GL uploads as it is. */
static inline guint32
texel (WeftRgb c,
       guint8  alpha)
{
  guint8 px[4] = { c.b * alpha / 255, c.g * alpha / 255, c.r * alpha / 255, alpha };
  guint32 v;

  memcpy (&v, px, 4);
  return v;
}

/* Takes pixels (width × height texels). */
static GdkTexture *
texture_take (guint32 *pixels,
              guint    width,
              guint    height)
{
  g_autoptr(GBytes) bytes = g_bytes_new_take (pixels, (gsize) width * height * 4);

  return gdk_memory_texture_new ((int) width, (int) height, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED,
                                 bytes, (gsize) width * 4);
}

/* The chart's scale, px per thread: the larger of the CPU count and the
 * highest concurrency fits, with a margin. */
static double
chart_scale (WeftViewData *d)
{
  double ymax = MAX ((double) d->cpus, (double) d->max_concurrency) * 1.08;

  return (CHART_BOTTOM - CHART_TOP) / MAX (ymax, 1);
}

static inline void
blend (guint32 *dst,
       WeftRgb  c,
       double   alpha)
{
  guint8 *px = (guint8 *) dst;

  px[0] = (guint8) (px[0] + (c.b - px[0]) * alpha);
  px[1] = (guint8) (px[1] + (c.g - px[1]) * alpha);
  px[2] = (guint8) (px[2] + (c.r - px[2]) * alpha);
}

/* The stacked areas, one texel column per raster column: per layer, from
 * the sum of the layers below to that plus its own mean; over them the
 * dashed line at the CPU count, and the axis in the last row. */
static GdkTexture *
chart_texture (WeftViewData   *d,
               WeftViewRaster *r)
{
  static const WeftState stack[] = {
    WEFT_STATE_RUNNING, WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC,
    WEFT_STATE_IO, WEFT_STATE_BLOCKED,
  };
  const WeftRgb background = { 247, 247, 250 }, axis = { 128, 128, 140 };
  guint32 *px = g_new (guint32, (gsize) r->columns * CHART_ROWS);
  double scale = chart_scale (d);
  int line = (int) round (CHART_BOTTOM - d->cpus * scale);

  for (gsize i = 0; i < (gsize) r->columns * (CHART_ROWS - 1); i++)
    px[i] = texel (background, 255);
  for (guint col = 0; col < r->columns; col++)
    {
      const float *v = &r->chart[col * WEFT_N_STATES];
      double lower = 0;

      for (guint k = 0; k < G_N_ELEMENTS (stack); k++)
        {
          double upper = lower + v[stack[k]];
          int ylo = MIN ((int) round (CHART_BOTTOM - lower * scale), CHART_BOTTOM);
          int yhi = MAX ((int) round (CHART_BOTTOM - upper * scale), CHART_TOP);
          guint32 c = texel (weft_palette_states[stack[k]], 255);

          for (int y = yhi; y < ylo; y++)
            px[(gsize) (y - CHART_TOP) * r->columns + col] = c;
          lower = upper;
        }
      /* A 1.5 px line, dashed 6 on, 3 off from the plot's left edge. */
      if (col % 9 < 6)
        for (int y = line - 1; y <= line + 1; y++)
          if (y >= CHART_TOP && y < CHART_BOTTOM)
            blend (&px[(gsize) (y - CHART_TOP) * r->columns + col], weft_palette_cpu_line,
                   y == line ? 1.0 : 0.25);
      px[(gsize) (CHART_ROWS - 1) * r->columns + col] = texel (axis, 255);
    }
  return texture_take (px, r->columns, CHART_ROWS);
}

/* One row per CPU, coloured by the thread on it; NULL when idle throughout. */
static GdkTexture *
cpu_texture (WeftViewRaster *r,
             guint           cpu)
{
  const gint32 *row = &r->cpu_thread[(gsize) cpu * r->columns];
  guint32 *px = NULL;

  for (guint col = 0; col < r->columns; col++)
    if (row[col] >= 0)
      {
        if (px == NULL)
          px = g_new0 (guint32, r->columns);
        /* Neighbours share a colour: look it up once per run. */
        px[col] = col > 0 && row[col] == row[col - 1] ? px[col - 1]
                                                      : texel (weft_palette_thread ((guint) row[col]), 255);
      }
  return px != NULL ? texture_take (px, r->columns, 1) : NULL;
}

/* One row per thread, coloured by state; NULL when not alive in the span.
 * *opaque: alive in every column (it then covers the background: see
 * draw_background()). */
static GdkTexture *
thread_texture (WeftViewRaster *r,
                guint           thread,
                gboolean       *opaque)
{
  const guint8 *row = &r->thread_state[(gsize) thread * r->columns];
  guint32 colors[WEFT_N_STATES];
  guint32 *px = NULL;

  *opaque = TRUE;
  for (guint s = 0; s < WEFT_N_STATES; s++)
    colors[s] = texel (weft_palette_states[s], 255);
  for (guint col = 0; col < r->columns; col++)
    if (row[col] < WEFT_N_STATES)
      {
        if (px == NULL)
          px = g_new0 (guint32, r->columns);
        px[col] = colors[row[col]];
      }
    else
      *opaque = FALSE;
  return px != NULL ? texture_take (px, r->columns, 1) : NULL;
}

/* The outlines of the runs of columns where the highlighted lock was waited
 * for, as two rows: the bars above and below a run reach one column past
 * each end, the edges are the two columns around each end. */
static void
lock_textures (WeftViewRaster *r,
               guint           thread,
               GdkTexture    **bar,
               GdkTexture    **edge)
{
  const WeftRgb ink = { 255, 214, 0 };
  const guint8 *row = &r->thread_lock[(gsize) thread * r->columns];
  guint32 *bars = NULL, *edges = NULL, c = texel (ink, 255);
  guint n = r->columns;

  for (guint col = 0; col < n;)
    {
      guint end = col + 1;

      if (!row[col])
        {
          col++;
          continue;
        }
      while (end < n && row[end])
        end++;
      if (bars == NULL)
        {
          bars = g_new0 (guint32, n);
          edges = g_new0 (guint32, n);
        }
      for (guint i = col > 0 ? col - 1 : 0; i <= end && i < n; i++)
        bars[i] = c;
      if (col > 0)
        edges[col - 1] = c;
      edges[col] = c;
      edges[end - 1] = c;
      if (end < n)
        edges[end] = c;
      col = end;
    }
  *bar = bars != NULL ? texture_take (bars, n, 1) : NULL;
  *edge = edges != NULL ? texture_take (edges, n, 1) : NULL;
}

/* Makes the textures of raster r of d (a reference is taken). Any thread. */
static Picture *
picture_new (WeftViewData   *d,
             WeftViewRaster *r)
{
  Picture *p = g_new0 (Picture, 1);

  p->raster = weft_view_raster_ref (r);
  p->chart = chart_texture (d, r);
  p->n_cpus = r->n_cpus;
  p->cpu = g_new0 (GdkTexture *, MAX (r->n_cpus, 1));
  for (guint c = 0; c < r->n_cpus; c++)
    p->cpu[c] = cpu_texture (r, c);
  p->n_threads = r->n_threads;
  p->thread = g_new0 (GdkTexture *, MAX (r->n_threads, 1));
  p->thread_opaque = g_new0 (gboolean, MAX (r->n_threads, 1));
  p->lock_bar = g_new0 (GdkTexture *, MAX (r->n_threads, 1));
  p->lock_edge = g_new0 (GdkTexture *, MAX (r->n_threads, 1));
  for (guint t = 0; t < r->n_threads; t++)
    {
      p->thread[t] = thread_texture (r, t, &p->thread_opaque[t]);
      if (r->thread_lock != NULL)
        lock_textures (r, t, &p->lock_bar[t], &p->lock_edge[t]);
    }
  return p;
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

/* The raster thread: one for the process, at a lower priority (nice 10)
 * than the main thread and the renderer's, so that while the user pans and
 * zooms (a raster per step, each outdated by the time it is ready) the
 * frames come first on a busy machine and rasters take what is left. */
static void
raster_thread_func (gpointer data,
                    gpointer user_data)
{
  static __thread gboolean lowered;
  g_autoptr(GTask) task = data;
  RasterJob *job = g_task_get_task_data (task);
  g_autoptr(WeftViewRaster) raster = NULL;

  if (!lowered)
    {
      lowered = TRUE;
      /* Linux: the nice value of this thread only. */
      setpriority (PRIO_PROCESS, (id_t) gettid (), 10);
    }
  raster = weft_view_raster_new_full (job->data, job->start_ns, job->end_ns, job->columns, job->lock);
  g_task_return_pointer (task, picture_new (job->data, raster), (GDestroyNotify) picture_free);
}

static void
run_raster_job (GTask *task)
{
  static GThreadPool *pool;

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, g_thread_pool_new (raster_thread_func, NULL, 1, TRUE, NULL));
  g_thread_pool_push (pool, task, NULL);
}

/* One column per device pixel: a lane texture stretched over twice its
 * width at display scale 2 would be filtered soft. */
static guint
wanted_columns (WeftTimeline *self)
{
  return (guint) plot_w (self) * (guint) gtk_widget_get_scale_factor (GTK_WIDGET (self));
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

/* Paints picture from now on (taking it; NULL: nothing). */
static void
set_picture (WeftTimeline *self,
             Picture      *picture)
{
  g_clear_pointer (&self->picture, picture_free);
  g_clear_pointer (&self->raster, weft_view_raster_unref);
  self->picture = picture;
  if (picture != NULL)
    self->raster = weft_view_raster_ref (picture->raster);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
raster_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  WeftTimeline *self = WEFT_TIMELINE (source);
  g_autoptr(Picture) picture = g_task_propagate_pointer (G_TASK (result), NULL);
  RasterJob *job = g_task_get_task_data (G_TASK (result));

  self->computing = FALSE;
  if (picture != NULL && job->data == self->data)
    set_picture (self, g_steal_pointer (&picture));

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
  run_raster_job (g_steal_pointer (&task));
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
  gboolean keep_folds = keep_view && data->n_processes == self->data->n_processes;
  g_autofree gboolean *collapsed = g_steal_pointer (&self->collapsed);

  clear_labels (self);
  clear_lanes (self);
  set_picture (self, NULL);
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
      /* A preview comes with its raster (small: one sample per column);
       * the real one replaces it. */
      if (data->preview != NULL)
        set_picture (self, picture_new (data, data->preview));
      /* The full load of a previewed trace keeps what the user collapsed. */
      self->collapsed = keep_folds ? g_steal_pointer (&collapsed) : g_new0 (gboolean, data->n_processes);
      self->band_y = g_new (int, data->n_processes);
      self->lane_y = g_new (int, data->n_threads);
      layout_lanes (self);
      build_labels (self);
    }
  gtk_widget_queue_resize (GTK_WIDGET (self));
  request_raster (self);
}

void
weft_timeline_set_process_collapsed (WeftTimeline *self,
                                     guint         process,
                                     gboolean      collapsed)
{
  g_return_if_fail (self->data != NULL && process < self->data->n_processes);

  if (self->collapsed[process] == collapsed)
    return;
  self->collapsed[process] = collapsed;
  g_clear_object (&self->process_labels[process]);
  self->process_labels[process] = process_label (self, process);
  layout_lanes (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

gboolean
weft_timeline_get_process_collapsed (WeftTimeline *self,
                                     guint         process)
{
  g_return_val_if_fail (self->data != NULL && process < self->data->n_processes, FALSE);

  return self->collapsed[process];
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
  return thread_or_band_y (self, i) + THREAD_H / 2;
}

double
weft_timeline_time_x (WeftTimeline *self,
                      gint64        t)
{
  return t_to_x (self, t);
}

/* Process whose header band is under y, or -1. */
static gint
band_at_y (WeftTimeline *self,
           double        y)
{
  for (guint p = 0; self->data != NULL && p < self->data->n_processes; p++)
    if (y >= self->band_y[p] && y < self->band_y[p] + PROCESS_H)
      return (gint) p;
  return -1;
}

/* Thread lane under y, or -1. */
static gint
thread_at_y (WeftTimeline *self,
             double        y)
{
  for (guint i = 0; self->data != NULL && i < self->data->n_threads; i++)
    {
      int ly = thread_lane_y (self, i);

      if (ly >= 0 && y >= ly && y < ly + THREAD_H)
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
  for (guint p = 0; p < self->data->n_processes; p++)
    fprintf (out, "process %" G_GINT64_FORMAT " %d %d %s\n", self->data->processes[p].pid,
             (int) oy + self->band_y[p], (int) oy + self->band_y[p] + PROCESS_H,
             self->collapsed[p] ? "collapsed" : "expanded");
  for (guint i = 0; i < self->data->n_threads; i++)
    {
      int y = (int) oy + thread_lane_y (self, i);

      if (thread_lane_y (self, i) >= 0)
        fprintf (out, "thread %" G_GINT64_FORMAT " %d %d %s\n", self->data->threads[i].tid,
                 y, y + THREAD_H, self->data->threads[i].name);
    }
}

/* Painting */

/* The rows of the widget on screen: all of it, or what the scrolled window
 * around it shows (its child is placed at minus the adjustment's value). */
static void
update_visible (WeftTimeline *self)
{
  double height = gtk_widget_get_height (GTK_WIDGET (self));

  self->visible_y0 = 0;
  self->visible_y1 = height;
  if (self->vadjustment != NULL && gtk_adjustment_get_page_size (self->vadjustment) > 0)
    {
      self->visible_y0 = CLAMP (gtk_adjustment_get_value (self->vadjustment), 0, height);
      self->visible_y1 = CLAMP (self->visible_y0 + gtk_adjustment_get_page_size (self->vadjustment),
                                self->visible_y0, height);
    }
}

static gboolean
is_visible (WeftTimeline *self,
            double        y0,
            double        y1)
{
  return y1 > self->visible_y0 && y0 < self->visible_y1;
}

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
            GtkSnapshot  *snapshot)
{
  double grid_y0 = MAX (RULER_H - 6, self->visible_y0);
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

      if (self->visible_y1 > grid_y0)
        gtk_snapshot_append_color (snapshot, &grid_color,
                                   &GRAPHENE_RECT_INIT (x, grid_y0, 1, self->visible_y1 - grid_y0));
      format_time (buf, sizeof buf, t - origin, step);
      if (self->ruler_text[n] == NULL)
        self->ruler_text[n] = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
      pango_layout_set_text (self->ruler_text[n], buf, -1);
      pango_layout_get_pixel_size (self->ruler_text[n], &text_w, NULL);
      if (x + 3 + text_w <= gtk_widget_get_width (GTK_WIDGET (self)) && is_visible (self, 0, RULER_H))
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
    "running (P)", "runnable: no core", "lock", "sync: cond, join, child…",
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

/* Where the painted raster's columns go: the first at *x0, *px wide (not
 * the plot's own when the raster lags the view: it is stretched to where
 * its span is now). */
static void
raster_geometry (WeftTimeline *self,
                 double       *x0,
                 double       *width)
{
  WeftViewRaster *r = self->raster;

  *x0 = t_to_x (self, r->start_ns);
  *width = t_to_x (self, r->end_ns) - *x0;
}

/* Rows [a, b) of the plot are covered: paints white from *y (the first row
 * not yet painted nor covered) to a, and moves *y past b (up to y1). */
static void
skip_covered (GtkSnapshot *snapshot,
              double       left,
              double       right,
              double      *y,
              double       y1,
              double       a,
              double       b)
{
  const GdkRGBA white = { 1, 1, 1, 1 };

  if (a > *y && a < y1)
    gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (left, *y, right - left, a - *y));
  *y = MAX (*y, MIN (b, y1));
}

/* White where nothing opaque is painted: the label column and the margin
 * in full, and in the plot the rows between the chart, the CPU lanes, the
 * process bands and the lanes of threads alive throughout, which cover the
 * plot's width when the painted raster does. (With GL on a software
 * rasterizer, a pixel painted twice costs twice.) */
static void
draw_background (WeftTimeline *self,
                 GtkSnapshot  *snapshot)
{
  const GdkRGBA white = { 1, 1, 1, 1 };
  WeftViewData *d = self->data;
  double width = gtk_widget_get_width (GTK_WIDGET (self));
  double left = plot_x0 (self), right = plot_x0 (self) + plot_w (self);
  double y = self->visible_y0, y1 = self->visible_y1, x0, raster_w;

  gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (0, y, left, y1 - y));
  gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (right, y, width - right, y1 - y));
  if (d != NULL && self->picture != NULL)
    raster_geometry (self, &x0, &raster_w);
  if (d != NULL && self->picture != NULL && x0 <= left && x0 + raster_w >= right)
    {
      skip_covered (snapshot, left, right, &y, y1, CHART_TOP, CHART_TOP + CHART_ROWS);
      for (guint c = 0; c < d->cpus; c++)
        skip_covered (snapshot, left, right, &y, y1, cpus_y (self) + c * self->cpu_h,
                      cpus_y (self) + (c + 1) * self->cpu_h - 1);
      for (guint p = 0; p < d->n_processes; p++)
        {
          const WeftViewProcess *proc = &d->processes[p];
          int band = self->band_y[p];

          skip_covered (snapshot, left, right, &y, y1, band + 1, band + PROCESS_H - 2);
          for (guint i = proc->first_thread; i < proc->first_thread + proc->n_threads; i++)
            if (self->picture->thread_opaque[i] && thread_lane_y (self, i) >= 0)
              skip_covered (snapshot, left, right, &y, y1, thread_lane_y (self, i),
                            thread_lane_y (self, i) + THREAD_H);
        }
    }
  if (y < y1)
    gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (left, y, right - left, y1 - y));
}

/* A one-row texture stretched over [x0, x0 + width) × [y, y + h). */
static void
draw_row (GtkSnapshot *snapshot,
          GdkTexture  *texture,
          double       x0,
          double       width,
          double       y,
          double       h)
{
  if (texture != NULL)
    gtk_snapshot_append_texture (snapshot, texture, &GRAPHENE_RECT_INIT (x0, y, width, h));
}

static void
push_plot_clip (WeftTimeline *self,
                GtkSnapshot  *snapshot,
                double        y,
                double        h)
{
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (plot_x0 (self), y, plot_w (self), h));
}

static void
draw_chart (WeftTimeline *self,
            GtkSnapshot  *snapshot)
{
  GdkRGBA box = { 1, 1, 1, 0.85 };
  double x0, width, line = round (CHART_BOTTOM - self->data->cpus * chart_scale (self->data));
  int text_w, text_h;
  double lx, ly;

  raster_geometry (self, &x0, &width);
  push_plot_clip (self, snapshot, CHART_TOP, CHART_ROWS);
  gtk_snapshot_append_texture (snapshot, self->picture->chart,
                               &GRAPHENE_RECT_INIT (x0, CHART_TOP, width, CHART_ROWS));
  gtk_snapshot_pop (snapshot);

  /* "4 CPUs" above the right end of the line at the CPU count. */
  pango_layout_get_pixel_size (self->cpu_count, &text_w, &text_h);
  lx = plot_x0 (self) + plot_w (self) - text_w - 6;
  ly = MAX (line - text_h - 2, CHART_TOP);
  gtk_snapshot_append_color (snapshot, &box, &GRAPHENE_RECT_INIT (lx - 3, ly, text_w + 6, text_h));
  draw_text (snapshot, self->cpu_count, lx, ly, text_color);
}

static void
draw_cpus (WeftTimeline *self,
           GtkSnapshot  *snapshot)
{
  int y0 = cpus_y (self);
  GdkRGBA idle = { 0.94, 0.94, 0.95, 1 };
  double x0, width;

  raster_geometry (self, &x0, &width);
  draw_text (snapshot, self->cpu_label, 8, y0 - SECTION_H + 2, text_color);
  for (guint c = 0; c < self->data->cpus; c++)
    gtk_snapshot_append_color (snapshot, &idle,
                               &GRAPHENE_RECT_INIT (plot_x0 (self), y0 + c * self->cpu_h,
                                                    plot_w (self), self->cpu_h - 1));
  push_plot_clip (self, snapshot, y0, self->data->cpus * self->cpu_h);
  for (guint c = 0; c < self->picture->n_cpus; c++)
    draw_row (snapshot, self->picture->cpu[c], x0, width, y0 + c * self->cpu_h, self->cpu_h - 1);
  gtk_snapshot_pop (snapshot);
}

static void
draw_threads (WeftTimeline *self,
              GtkSnapshot  *snapshot)
{
  WeftViewData *d = self->data;
  Picture *p = self->picture;
  GdkRGBA band = { 0.90, 0.91, 0.93, 1 };
  double x0, width;

  raster_geometry (self, &x0, &width);
  if (is_visible (self, threads_y (self) - SECTION_H, threads_y (self)))
    draw_text (snapshot, self->thread_section, 8, threads_y (self) - SECTION_H, text_color);
  for (guint i = 0; i < d->n_processes; i++)
    {
      int y = self->band_y[i];

      if (!is_visible (self, y, y + PROCESS_H))
        continue;
      gtk_snapshot_append_color (snapshot, &band,
                                 &GRAPHENE_RECT_INIT (0, y + 1, gtk_widget_get_width (GTK_WIDGET (self)),
                                                      PROCESS_H - 3));
      draw_text (snapshot, self->process_labels[i], 8, y + 1, text_color);
    }
  for (guint i = 0; i < d->n_threads; i++)
    {
      int y = thread_lane_y (self, i);
      GdkRGBA swatch = rgba (weft_palette_thread (i), 1);

      if (y < 0 || !is_visible (self, y, y + THREAD_H))
        continue;
      gtk_snapshot_append_color (snapshot, &swatch, &GRAPHENE_RECT_INIT (10, y + 4, 10, 10));
      draw_text (snapshot, self->thread_labels[i], 24, y + 1, text_color);
    }
  push_plot_clip (self, snapshot, threads_y (self), total_height (self) - threads_y (self));
  for (guint i = 0; i < p->n_threads; i++)
    if (thread_lane_y (self, i) >= 0
        && is_visible (self, thread_lane_y (self, i), thread_lane_y (self, i) + THREAD_H))
      draw_row (snapshot, p->thread[i], x0, width, thread_lane_y (self, i), THREAD_H);
  gtk_snapshot_pop (snapshot);
}

/* Outlines (yellow) of the runs of columns where the highlighted lock was
 * waited for: bars above and below, edges at both ends, each one texture
 * per lane (lock_textures()). */
static void
draw_lock_marks (WeftTimeline *self,
                 GtkSnapshot  *snapshot)
{
  Picture *p = self->picture;
  double x0, width;

  if (self->raster->thread_lock == NULL)
    return;
  raster_geometry (self, &x0, &width);
  /* Widened by the outline's overhang past the plot's ends. */
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (plot_x0 (self) - 1, threads_y (self) - 2,
                                                         plot_w (self) + 2,
                                                         total_height (self) - threads_y (self) + 2));
  for (guint i = 0; i < p->n_threads; i++)
    {
      int y = thread_lane_y (self, i);

      if (y < 0 || !is_visible (self, y - 2, y + THREAD_H + 2))
        continue;
      draw_row (snapshot, p->lock_bar[i], x0, width, y - 2, 2);
      draw_row (snapshot, p->lock_bar[i], x0, width, y + THREAD_H, 2);
      draw_row (snapshot, p->lock_edge[i], x0, width, y - 2, THREAD_H + 4);
    }
  gtk_snapshot_pop (snapshot);
}

/* A frame of width 2 centred on the edges of rect, as cairo strokes it. */
static void
draw_frame (GtkSnapshot           *snapshot,
            const graphene_rect_t *rect,
            const GdkRGBA         *color)
{
  const GdkRGBA colors[4] = { *color, *color, *color, *color };
  const float widths[4] = { 2, 2, 2, 2 };
  GskRoundedRect outer;

  gsk_rounded_rect_init_from_rect (&outer, &GRAPHENE_RECT_INIT (rect->origin.x - 1, rect->origin.y - 1,
                                                                rect->size.width + 2,
                                                                rect->size.height + 2), 0);
  gtk_snapshot_append_border (snapshot, &outer, widths, colors);
}

/* The arrowhead at (x, tip) pointing along dir (±1 in y), and the dot at
 * the waiter's end (x, y0): small cairo nodes, only as large as they are. */
static void
draw_arrow_ends (GtkSnapshot *snapshot,
                 double       x,
                 double       y0,
                 double       tip,
                 double       dir)
{
  double top = MIN (tip, tip - dir * 8);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (x - 6, top - 1, 12, 10));

  cairo_set_source_rgb (cr, 0.15, 0.35, 0.85);
  cairo_move_to (cr, x, tip);
  cairo_line_to (cr, x - 5, tip - dir * 8);
  cairo_line_to (cr, x + 5, tip - dir * 8);
  cairo_close_path (cr);
  cairo_fill (cr);
  cairo_destroy (cr);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (x - 4, y0 - 4, 8, 8));
  cairo_set_source_rgb (cr, 0.15, 0.35, 0.85);
  cairo_arc (cr, x, y0, 3.5, 0, 2 * G_PI);
  cairo_fill (cr);
  cairo_destroy (cr);
}

/* The selected wait: its outline, the holder's lane over the same interval,
 * and a line from the waiter to the holder. */
static void
draw_selected_wait (WeftTimeline *self,
                    GtkSnapshot  *snapshot)
{
  const GdkRGBA dark = { 0.05, 0.05, 0.1, 1 }, tint = { 0.15, 0.45, 0.95, 0.30 };
  const GdkRGBA blue = { 0.15, 0.35, 0.85, 1 };
  const WeftViewThread *t;
  double a, b, left = plot_x0 (self), right = plot_x0 (self) + plot_w (self);
  int y;
  gint holder;

  if (self->sel_thread < 0)
    return;
  t = &self->data->threads[self->sel_thread];
  a = CLAMP (t_to_x (self, t->wait_start_ns[self->sel_wait]), left, right);
  b = CLAMP (t_to_x (self, t->wait_end_ns[self->sel_wait]), left, right);
  b = MAX (b, a + 1);
  y = thread_or_band_y (self, self->sel_thread);
  holder = t->wait_holder[self->sel_wait];
  draw_frame (snapshot, &GRAPHENE_RECT_INIT (a - 1, y - 2, b - a + 2, THREAD_H + 4), &dark);
  if (holder >= 0)
    {
      int hy = thread_or_band_y (self, holder);
      double xm = a + MIN (6.0, (b - a) / 2);
      double y0 = y + THREAD_H / 2.0, y1 = hy + THREAD_H / 2.0;
      double dir = y1 > y0 ? 1 : -1;
      double tip = y1 - dir * (THREAD_H / 2.0 + 2);

      gtk_snapshot_append_color (snapshot, &tint, &GRAPHENE_RECT_INIT (a, hy - 2, b - a, THREAD_H + 4));
      draw_frame (snapshot, &GRAPHENE_RECT_INIT (a - 1, hy - 2, b - a + 2, THREAD_H + 4), &blue);
      /* The link: from the waiter down/up to the holder, arrow at the holder. */
      gtk_snapshot_append_color (snapshot, &blue,
                                 &GRAPHENE_RECT_INIT (xm - 1, MIN (y0, tip), 2, fabs (tip - y0)));
      draw_arrow_ends (snapshot, xm, y0, tip, dir);
    }
}

static void
weft_timeline_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  WeftTimeline *self = WEFT_TIMELINE (widget);
  int width = gtk_widget_get_width (widget);
  double y0, y1;

  /* Only what is on screen: the scrolled window's clip does not keep GSK
   * from spending time on what lies outside it (with GL on a software
   * rasterizer, the shading of every pixel a node covers). */
  update_visible (self);
  y0 = self->visible_y0;
  y1 = self->visible_y1;
  draw_background (self, snapshot);
  if (self->data == NULL)
    return;
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, y0, width, y1 - y0));
  draw_ruler (self, snapshot);
  if (is_visible (self, RULER_H, RULER_H + CHART_H))
    draw_legend (self, snapshot);
  if (self->picture != NULL)
    {
      if (is_visible (self, RULER_H, RULER_H + CHART_H))
        draw_chart (self, snapshot);
      if (is_visible (self, cpus_y (self) - SECTION_H, threads_y (self)))
        draw_cpus (self, snapshot);
      draw_threads (self, snapshot);
      draw_lock_marks (self, snapshot);
      draw_selected_wait (self, snapshot);
    }
  if (self->has_selection)
    {
      GdkRGBA sel = { 0.20, 0.45, 0.85, 0.18 };
      double a = MAX (t_to_x (self, self->sel_start_ns), plot_x0 (self));
      double b = MIN (t_to_x (self, self->sel_end_ns), plot_x0 (self) + plot_w (self));
      double top = MAX (y0, RULER_H);

      if (b > a && y1 > top)
        gtk_snapshot_append_color (snapshot, &sel, &GRAPHENE_RECT_INIT (a, top, MAX (b - a, 1), y1 - top));
    }
  gtk_snapshot_pop (snapshot);
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

/* A new display scale wants a raster of as many columns as device pixels. */
static void
on_scale_factor (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  request_raster (WEFT_TIMELINE (object));
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
      if (band_at_y (self, y) >= 0)
        return;   /* on_click() folds or unfolds the process */
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

/* A click on a process's header band folds or unfolds its lanes. */
static void
on_click (GtkGestureClick *gesture,
          int              n_press,
          double           x,
          double           y,
          WeftTimeline    *self)
{
  gint process = band_at_y (self, y);

  if (process >= 0 && n_press == 1)
    weft_timeline_set_process_collapsed (self, (guint) process, !self->collapsed[process]);
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

/* The part on screen changes when the scrolled window around the timeline
 * scrolls or resizes: paint again (snapshot() paints only that part). */
static void
weft_timeline_realize (GtkWidget *widget)
{
  WeftTimeline *self = WEFT_TIMELINE (widget);
  GtkWidget *scrolled = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);

  GTK_WIDGET_CLASS (weft_timeline_parent_class)->realize (widget);
  if (scrolled == NULL)
    return;
  self->vadjustment = g_object_ref (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled)));
  self->vadjustment_handlers[0] = g_signal_connect_swapped (self->vadjustment, "value-changed",
                                                            G_CALLBACK (gtk_widget_queue_draw), self);
  self->vadjustment_handlers[1] = g_signal_connect_swapped (self->vadjustment, "changed",
                                                            G_CALLBACK (gtk_widget_queue_draw), self);
}

static void
forget_vadjustment (WeftTimeline *self)
{
  if (self->vadjustment == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->vadjustment_handlers); i++)
    g_clear_signal_handler (&self->vadjustment_handlers[i], self->vadjustment);
  g_clear_object (&self->vadjustment);
}

static void
weft_timeline_unrealize (GtkWidget *widget)
{
  forget_vadjustment (WEFT_TIMELINE (widget));
  GTK_WIDGET_CLASS (weft_timeline_parent_class)->unrealize (widget);
}

/* GObject */

static void
weft_timeline_dispose (GObject *object)
{
  WeftTimeline *self = WEFT_TIMELINE (object);

  clear_labels (self);
  clear_lanes (self);
  forget_vadjustment (self);
  for (guint i = 0; i < G_N_ELEMENTS (self->legend); i++)
    g_clear_object (&self->legend[i]);
  for (guint i = 0; i < N_RULER_TEXT; i++)
    g_clear_object (&self->ruler_text[i]);
  g_clear_pointer (&self->picture, picture_free);
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
  widget_class->realize = weft_timeline_realize;
  widget_class->unrealize = weft_timeline_unrealize;

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
  GtkGesture *drag, *click;

  self->pointer_x = -1;
  self->lock = -1;
  self->sel_thread = self->sel_wait = -1;
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  g_signal_connect (self, "query-tooltip", G_CALLBACK (on_query_tooltip), NULL);
  g_signal_connect (self, "notify::scale-factor", G_CALLBACK (on_scale_factor), NULL);

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  click = gtk_gesture_click_new ();
  g_signal_connect (click, "released", G_CALLBACK (on_click), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
}
