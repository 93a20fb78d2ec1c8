/* weft-window.c — a window showing one trace (weft-window.h). */
#include <glib/gstdio.h>

#include "weft-tables.h"
#include "weft-window.h"

struct _WeftWindow
{
  GtkApplicationWindow parent_instance;

  GtkStack     *stack;
  GtkLabel     *error_label;
  GtkLabel     *details_label;
  GtkLabel     *info_label;
  GtkProgressBar *load_bar;   /* on the loading page */
  GtkProgressBar *preview_bar;/* beside the details line, while a preview shows */
  GtkNotebook  *tables;
  GtkPaned     *main_paned;
  WeftTimeline *timeline;
  GtkWidget    *table[3];     /* WeftTableKind */

  GCancellable *cancellable;
  GCancellable *info_cancellable;
  GError       *error;
};

G_DEFINE_FINAL_TYPE (WeftWindow, weft_window, GTK_TYPE_APPLICATION_WINDOW)

enum { LOADED, INFO_SHOWN, N_SIGNALS };
static guint signals[N_SIGNALS];

#define format_duration weft_view_format_duration

/* The details line: mean P and C of the selection, else of the visible
 * span, else of the whole trace (weft_view_data_span_means() is cheap). */
static void
update_details (WeftWindow *self)
{
  WeftViewData *d = weft_timeline_get_data (self->timeline);
  gint64 s, e;
  double p, c;
  char span[32], from[32], to[32], total[32];
  g_autofree char *text = NULL;

  /* A preview has no profile: the line says it is loading. */
  if (d == NULL || d->preview != NULL)
    return;
  format_duration (total, sizeof total, d->end_ns - d->start_ns);
  if (weft_timeline_get_selection (self->timeline, &s, &e))
    {
      weft_view_data_span_means (d, s, e, &p, &c);
      format_duration (from, sizeof from, s - d->start_ns);
      format_duration (to, sizeof to, e - d->start_ns);
      format_duration (span, sizeof span, e - s);
      text = g_strdup_printf ("Selection %s – %s (%s): mean parallelism P %.2f, "
                              "mean concurrency C %.2f on %u CPUs. Enter zooms to it.",
                              from, to, span, p, c, d->cpus);
    }
  else
    {
      weft_timeline_get_view (self->timeline, &s, &e);
      weft_view_data_span_means (d, s, e, &p, &c);
      if (s == d->start_ns && e == d->end_ns)
        text = g_strdup_printf ("Whole trace (%s): mean parallelism P %.2f, mean concurrency "
                                "C %.2f on %u CPUs, %u threads in %u process%s. "
                                "Drag to select a span.",
                                total, p, c, d->cpus, d->n_threads, d->n_processes,
                                d->n_processes == 1 ? "" : "es");
      else
        {
          format_duration (from, sizeof from, s - d->start_ns);
          format_duration (to, sizeof to, e - d->start_ns);
          format_duration (span, sizeof span, e - s);
          text = g_strdup_printf ("Span %s – %s (%s of %s): mean parallelism P %.2f, mean "
                                  "concurrency C %.2f on %u CPUs. Home shows the whole trace.",
                                  from, to, span, total, p, c, d->cpus);
        }
    }
  gtk_label_set_text (self->details_label, text);
}

/* The details pane: what nothing selected shows. */
static void
show_overview (WeftWindow   *self,
               WeftViewData *d)
{
  g_autoptr(GString) text = g_string_new (NULL);

  if (d->n_locks == 0)
    g_string_append (text, "<b>No object was waited for.</b>\n");
  else
    g_string_append (text, "<b>Most waited for</b>\n");
  for (guint i = 0; i < MIN (d->n_locks, 5); i++)
    {
      char total[32];
      g_autofree char *line = NULL;

      format_duration (total, sizeof total, d->locks[i].wait_total_ns);
      line = g_markup_printf_escaped ("    %s (%s): %" G_GINT64_FORMAT " wait%s, %s\n",
                                      d->locks[i].name, d->locks[i].kind, d->locks[i].waits,
                                      d->locks[i].waits == 1 ? "" : "s", total);
      g_string_append (text, line);
    }
  g_string_append (text, "\nSelect an object in the table to mark its waits on the timeline; "
                         "click a wait in a thread lane to see its holder and stack.");
  gtk_label_set_markup (self->info_label, text->str);
}

typedef struct
{
  WeftViewData *data;
  gint          lock;     /* describe this lock, or */
  gint          thread;   /* this wait */
  gint          wait;
} InfoJob;

static void
info_job_free (gpointer p)
{
  InfoJob *job = p;

  weft_view_data_unref (job->data);
  g_free (job);
}

static void
info_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  InfoJob *job = task_data;
  GError *error = NULL;
  char *markup = job->lock >= 0
    ? weft_view_data_describe_lock (job->data, job->lock, &error)
    : weft_view_data_describe_wait (job->data, job->thread, job->wait, &error);

  if (markup == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, markup, g_free);
}

static void
info_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  WeftWindow *self = WEFT_WINDOW (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *markup = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    return;
  if (markup != NULL)
    gtk_label_set_markup (self->info_label, markup);
  else
    gtk_label_set_text (self->info_label, error->message);
  g_signal_emit (self, signals[INFO_SHOWN], 0);
}

/* Reads what the details pane shows in a worker (SQL), then shows it. */
static void
request_info (WeftWindow *self,
              gint        lock,
              gint        thread,
              gint        wait)
{
  WeftViewData *d = weft_timeline_get_data (self->timeline);
  g_autoptr(GTask) task = NULL;
  InfoJob *job;

  if (self->info_cancellable != NULL)
    g_cancellable_cancel (self->info_cancellable);
  g_clear_object (&self->info_cancellable);
  if (d == NULL)
    return;
  if (lock < 0 && thread < 0)
    {
      show_overview (self, d);
      return;
    }
  self->info_cancellable = g_cancellable_new ();
  job = g_new0 (InfoJob, 1);
  job->data = weft_view_data_ref (d);
  job->lock = lock;
  job->thread = thread;
  job->wait = wait;
  task = g_task_new (self, self->info_cancellable, info_done, NULL);
  g_task_set_source_tag (task, request_info);
  g_task_set_task_data (task, job, info_job_free);
  g_task_run_in_thread (task, info_thread);
}

static void
lock_selected (GtkSingleSelection *selection,
               GParamSpec         *pspec,
               WeftWindow         *self)
{
  WeftTableRow *row = gtk_single_selection_get_selected_item (selection);
  gint lock = row != NULL ? (gint) weft_table_row_get_index (row) : -1;

  if (lock == weft_timeline_get_lock (self->timeline))
    return;
  weft_timeline_set_lock (self->timeline, lock);
  if (lock >= 0)
    weft_timeline_select_wait (self->timeline, -1, -1);
  request_info (self, lock, -1, -1);
}

static void
wait_selected (WeftTimeline *timeline,
               WeftWindow   *self)
{
  guint thread, wait;

  if (weft_timeline_get_selected_wait (timeline, &thread, &wait))
    request_info (self, -1, (gint) thread, (gint) wait);
  else
    request_info (self, weft_timeline_get_lock (timeline), -1, -1);
}

static void
apply_data (WeftWindow   *self,
            WeftViewData *d)
{
  char duration[32];
  g_autofree char *title = NULL;

  format_duration (duration, sizeof duration, d->end_ns - d->start_ns);
  title = g_strdup_printf ("%s — %s", d->command, duration);
  gtk_window_set_title (GTK_WINDOW (self), title);
  weft_timeline_set_data (self->timeline, d);
  for (guint i = 0; i < G_N_ELEMENTS (self->table); i++)
    weft_table_set_data (self->table[i], d);
  update_details (self);
  show_overview (self, d);
  gtk_stack_set_visible_child_name (self->stack, "timeline");
  gtk_widget_grab_focus (GTK_WIDGET (self->timeline));
}

typedef struct
{
  GWeakRef      window;
  GCancellable *cancellable;
  WeftViewData *data;
} Preview;

static gboolean
apply_preview (gpointer user_data)
{
  Preview *p = user_data;
  g_autoptr(WeftWindow) self = g_weak_ref_get (&p->window);

  if (self != NULL && !g_cancellable_is_cancelled (p->cancellable)
      && weft_timeline_get_data (self->timeline) == NULL)
    {
      char duration[32];
      g_autofree char *title = NULL;

      format_duration (duration, sizeof duration, p->data->end_ns - p->data->start_ns);
      title = g_strdup_printf ("%s — %s (loading…)", p->data->command, duration);
      gtk_window_set_title (GTK_WINDOW (self), title);
      weft_timeline_set_data (self->timeline, p->data);
      gtk_label_set_text (self->details_label, "Loading the whole trace… until then the timeline "
                          "shows samples, one per pixel column.");
      gtk_widget_set_visible (GTK_WIDGET (self->preview_bar), TRUE);
      gtk_label_set_text (self->info_label, "Loading…");
      gtk_stack_set_visible_child_name (self->stack, "timeline");
    }
  g_weak_ref_clear (&p->window);
  g_object_unref (p->cancellable);
  weft_view_data_unref (p->data);
  g_free (p);
  return G_SOURCE_REMOVE;
}

/* Traces at least this large (bytes) are shown first as a preview. */
#define PREVIEW_MIN_BYTES (64 * 1024 * 1024)

/* How far the load is, passed from the loading thread to the main loop:
 * the thread stores the latest fraction and schedules at most one idle at
 * a time to show it. */
typedef struct
{
  gatomicrefcount ref;
  GWeakRef        window;
  GCancellable   *cancellable;
  GMutex          mutex;
  double          fraction;  /* under mutex */
  const char     *what;      /* under mutex */
  gboolean        pending;   /* under mutex: an idle will show them */
} LoadProgress;

static LoadProgress *
load_progress_ref (LoadProgress *p)
{
  g_atomic_ref_count_inc (&p->ref);
  return p;
}

static void
load_progress_unref (LoadProgress *p)
{
  if (!g_atomic_ref_count_dec (&p->ref))
    return;
  g_weak_ref_clear (&p->window);
  g_object_unref (p->cancellable);
  g_mutex_clear (&p->mutex);
  g_free (p);
}

/* Main thread: shows the fraction on the loading page's bar, and on the
 * one beside the details line while a preview is shown. */
static gboolean
show_progress (gpointer user_data)
{
  LoadProgress *p = user_data;
  g_autoptr(WeftWindow) self = g_weak_ref_get (&p->window);
  g_autofree char *text = NULL;
  double fraction;
  const char *what;

  g_mutex_lock (&p->mutex);
  fraction = p->fraction;
  what = p->what;
  p->pending = FALSE;
  g_mutex_unlock (&p->mutex);
  if (self == NULL || g_cancellable_is_cancelled (p->cancellable))
    return G_SOURCE_REMOVE;
  text = g_strdup_printf ("Loading the trace: %s… %d %%", what, (int) (fraction * 100));
  gtk_progress_bar_set_fraction (self->load_bar, fraction);
  gtk_progress_bar_set_text (self->load_bar, text);
  gtk_progress_bar_set_fraction (self->preview_bar, fraction);
  gtk_progress_bar_set_text (self->preview_bar, text);
  return G_SOURCE_REMOVE;
}

/* Loading thread (WeftViewProgress). */
static gboolean
on_load_progress (double      fraction,
                  const char *what,
                  gpointer    user_data)
{
  LoadProgress *p = user_data;

  g_mutex_lock (&p->mutex);
  p->fraction = fraction;
  p->what = what;
  if (!p->pending)
    {
      p->pending = TRUE;
      g_idle_add_full (G_PRIORITY_DEFAULT, show_progress, load_progress_ref (p),
                       (GDestroyNotify) load_progress_unref);
    }
  g_mutex_unlock (&p->mutex);
  return !g_cancellable_is_cancelled (p->cancellable);
}

typedef struct
{
  char         *path;
  LoadProgress *progress;
} LoadJob;

static void
load_job_free (gpointer data)
{
  LoadJob *job = data;

  g_free (job->path);
  load_progress_unref (job->progress);
  g_free (job);
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadJob *job = task_data;
  GError *error = NULL;
  WeftViewData *d;
  GStatBuf st;
  const char *min = g_getenv ("WEFT_VIEW_PREVIEW_MIN_BYTES");   /* for tests */
  gint64 min_bytes = min != NULL ? g_ascii_strtoll (min, NULL, 10) : PREVIEW_MIN_BYTES;

  /* A large trace takes seconds to read whole: show a sampled preview first. */
  if (g_stat (job->path, &st) == 0 && st.st_size >= min_bytes)
    {
      WeftViewData *preview = weft_view_data_load_preview (job->path, 1280, NULL);

      if (preview != NULL)
        {
          Preview *p = g_new0 (Preview, 1);

          g_weak_ref_init (&p->window, source);
          p->cancellable = g_object_ref (cancellable);
          p->data = preview;
          g_main_context_invoke (NULL, apply_preview, p);
        }
    }
  d = weft_view_data_load_with_progress (job->path, on_load_progress, job->progress, &error);

  if (d == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, d, (GDestroyNotify) weft_view_data_unref);
}

static void
load_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  WeftWindow *self = WEFT_WINDOW (source);
  GError *error = NULL;
  g_autoptr(WeftViewData) d = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    {
      g_clear_error (&error);
      return;
    }
  g_clear_error (&self->error);
  gtk_widget_set_visible (GTK_WIDGET (self->preview_bar), FALSE);
  if (d == NULL)
    {
      self->error = error;
      gtk_label_set_text (self->error_label, error->message);
      gtk_window_set_title (GTK_WINDOW (self), "weft — cannot open trace");
      gtk_stack_set_visible_child_name (self->stack, "error");
    }
  else
    apply_data (self, d);
  g_signal_emit (self, signals[LOADED], 0);
}

void
weft_window_load (WeftWindow *self,
                  GFile      *file)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *path = g_file_get_path (file);
  LoadJob *job;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (path == NULL)
    path = g_file_get_uri (file);
  gtk_stack_set_visible_child_name (self->stack, "loading");
  gtk_progress_bar_set_fraction (self->load_bar, 0);
  gtk_progress_bar_set_text (self->load_bar, "Opening the trace…");
  gtk_widget_set_visible (GTK_WIDGET (self->preview_bar), FALSE);
  weft_timeline_set_data (self->timeline, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (self->table); i++)
    weft_table_set_data (self->table[i], NULL);
  job = g_new0 (LoadJob, 1);
  job->path = g_steal_pointer (&path);
  job->progress = g_new0 (LoadProgress, 1);
  g_atomic_ref_count_init (&job->progress->ref);
  g_weak_ref_init (&job->progress->window, self);
  job->progress->cancellable = g_object_ref (self->cancellable);
  g_mutex_init (&job->progress->mutex);
  task = g_task_new (self, self->cancellable, load_done, NULL);
  g_task_set_source_tag (task, weft_window_load);
  g_task_set_task_data (task, job, load_job_free);
  g_task_run_in_thread (task, load_thread);
}

const GError *
weft_window_get_error (WeftWindow *self)
{
  return self->error;
}

WeftTimeline *
weft_window_get_timeline (WeftWindow *self)
{
  return self->timeline;
}

GtkWidget *
weft_window_get_table (WeftWindow    *self,
                       WeftTableKind  kind)
{
  return self->table[kind];
}

void
weft_window_select_lock (WeftWindow *self,
                         gint        lock)
{
  weft_table_select (self->table[WEFT_TABLE_LOCKS], lock);
}

const char *
weft_window_get_info (WeftWindow *self)
{
  return gtk_label_get_text (self->info_label);
}

/* Actions */

static void
open_response (GtkNativeDialog *dialog,
               int              response,
               WeftWindow      *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        weft_window_load (self, file);
    }
  g_object_unref (dialog);
}

static void
open_activated (GtkWidget  *widget,
                const char *action,
                GVariant   *param)
{
  GtkFileChooserNative *dialog =
    gtk_file_chooser_native_new ("Open a weft trace", GTK_WINDOW (widget),
                                 GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");

  GtkFileFilter *traces = gtk_file_filter_new ();
  GtkFileFilter *all = gtk_file_filter_new ();

  gtk_file_filter_set_name (traces, "weft traces (*.db)");
  gtk_file_filter_add_pattern (traces, "*.db");
  gtk_file_filter_add_pattern (traces, "*.db.old");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), traces);
  gtk_file_filter_set_name (all, "All files");
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), all);
  g_object_unref (traces);
  g_object_unref (all);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (open_response), widget);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
view_activated (GtkWidget  *widget,
                const char *action,
                GVariant   *param)
{
  WeftWindow *self = WEFT_WINDOW (widget);

  if (g_str_equal (action, "win.zoom-in"))
    weft_timeline_zoom (self->timeline, 1 / 1.5, -1);
  else if (g_str_equal (action, "win.zoom-out"))
    weft_timeline_zoom (self->timeline, 1.5, -1);
  else if (g_str_equal (action, "win.zoom-all"))
    weft_timeline_zoom_all (self->timeline);
  else if (g_str_equal (action, "win.pan-left"))
    weft_timeline_pan (self->timeline, -0.2);
  else if (g_str_equal (action, "win.pan-right"))
    weft_timeline_pan (self->timeline, 0.2);
  else if (g_str_equal (action, "win.zoom-selection"))
    weft_timeline_zoom_selection (self->timeline);
}

static void
weft_window_dispose (GObject *object)
{
  WeftWindow *self = WEFT_WINDOW (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->info_cancellable != NULL)
    g_cancellable_cancel (self->info_cancellable);
  g_clear_object (&self->info_cancellable);
  g_clear_error (&self->error);
  /* The stack is the window's child: let the window drop it, or
   * gtk_widget_dispose_template() unparents it behind GtkWindow's back and
   * the window's own dispose unparents a freed widget. */
  gtk_window_set_child (GTK_WINDOW (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), WEFT_TYPE_WINDOW);
  G_OBJECT_CLASS (weft_window_parent_class)->dispose (object);
}

static void
weft_window_class_init (WeftWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  static const char * const view_actions[] = {
    "win.zoom-in", "win.zoom-out", "win.zoom-all", "win.pan-left", "win.pan-right",
    "win.zoom-selection",
  };

  G_OBJECT_CLASS (klass)->dispose = weft_window_dispose;
  g_type_ensure (WEFT_TYPE_TIMELINE);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/weft/Viewer/weft-window.ui");
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, error_label);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, details_label);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, info_label);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, load_bar);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, preview_bar);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, tables);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, main_paned);
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, timeline);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, open_activated);
  for (guint i = 0; i < G_N_ELEMENTS (view_actions); i++)
    gtk_widget_class_install_action (widget_class, view_actions[i], NULL, view_activated);

  /* Shortcuts of the actions (window-wide). */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, 0, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, 0, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, 0, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, GDK_CONTROL_MASK, "win.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, 0, "win.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, 0, "win.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, GDK_CONTROL_MASK, "win.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Home, 0, "win.zoom-all", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, GDK_CONTROL_MASK, "win.zoom-all", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Left, 0, "win.pan-left", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Right, 0, "win.pan-right", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, 0, "win.zoom-selection", NULL);

  signals[LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* The details pane shows what was asked for last (tests wait on it). */
  signals[INFO_SHOWN] = g_signal_new ("info-shown", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

/* The timeline gets most of the height: the tables and the details pane
 * below it take a third of the paned, within [150, 280] px (max-position
 * already leaves the tables their minimum height, so it is not the
 * paned's height). Applied whenever the window's height changes; a drag of
 * the handle holds until then. */
static void
paned_resized (GtkPaned   *paned,
               GParamSpec *pspec,
               WeftWindow *self)
{
  int max, height = gtk_widget_get_height (GTK_WIDGET (paned));
  int bottom = CLAMP (height / 3, 150, 280);

  g_object_get (paned, "max-position", &max, NULL);
  if (height > 0)
    gtk_paned_set_position (paned, CLAMP (height - bottom, 0, max));
}

static void
bottom_resized (GtkPaned   *paned,
                GParamSpec *pspec,
                WeftWindow *self)
{
  int max;

  g_object_get (paned, "max-position", &max, NULL);
  gtk_paned_set_position (paned, max * 2 / 3);
}

/* Drag and drop: a trace file dropped anywhere on the window opens in it. */
static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         WeftWindow    *self)
{
  GFile *file = NULL;

  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = g_value_get_boxed (value);

      file = files != NULL ? files->data : NULL;
    }
  else if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    file = g_value_get_object (value);
  if (file == NULL)
    return FALSE;
  weft_window_load (self, file);
  return TRUE;
}

static void
setup_drop (WeftWindow *self)
{
  GtkDropTarget *target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);

  gtk_drop_target_set_gtypes (target, (GType[]) { GDK_TYPE_FILE_LIST, G_TYPE_FILE }, 2);
  g_signal_connect (target, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));
}

/* Without a compositing manager (Xvfb, VNC, X forwarding, a bare X server)
 * GTK draws the client-side decorations "solid": Adwaita's frame is then
 * three inset box-shadows as large as the window, which GSK's GL renderer
 * shades over every pixel of the window at each frame. On Mesa's software
 * rasterizer, which such displays usually have, that alone took 80 ms per
 * frame while the timeline pans (bench-view). The frame keeps its 1 px
 * border. */
static void
install_css_once (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
      GdkDisplay *display = gdk_display_get_default ();

      gtk_css_provider_load_from_data (css, "window.solid-csd { box-shadow: none; }", -1);
      if (display != NULL)
        gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (css),
                                                    GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
      g_once_init_leave (&done, 1);
    }
}

static void
weft_window_init (WeftWindow *self)
{
  static const char * const titles[] = { "Objects", "Threads", "Processes" };

  install_css_once ();
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_swapped (self->timeline, "selection-changed",
                            G_CALLBACK (update_details), self);
  /* The visible span changed and its raster is painted. */
  g_signal_connect_swapped (self->timeline, "settled", G_CALLBACK (update_details), self);
  g_signal_connect (self->timeline, "wait-selected", G_CALLBACK (wait_selected), self);
  for (guint i = 0; i < G_N_ELEMENTS (self->table); i++)
    {
      self->table[i] = weft_table_new ((WeftTableKind) i);
      gtk_notebook_append_page (self->tables, self->table[i], gtk_label_new (titles[i]));
    }
  g_signal_connect (gtk_column_view_get_model (weft_table_get_view (self->table[WEFT_TABLE_LOCKS])),
                    "notify::selected", G_CALLBACK (lock_selected), self);
  /* The timeline gets most of the height; the tables a band below it. */
  g_signal_connect (self->main_paned, "notify::max-position", G_CALLBACK (paned_resized), self);
  g_signal_connect (gtk_paned_get_end_child (self->main_paned), "notify::max-position",
                    G_CALLBACK (bottom_resized), self);
  setup_drop (self);
}

WeftWindow *
weft_window_new (GtkApplication *app)
{
  return g_object_new (WEFT_TYPE_WINDOW, "application", app, NULL);
}
