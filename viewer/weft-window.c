/* weft-window.c — a window showing one trace (weft-window.h). */
#include "weft-window.h"

struct _WeftWindow
{
  GtkApplicationWindow parent_instance;

  GtkStack     *stack;
  GtkLabel     *error_label;
  GtkLabel     *details_label;
  GtkLabel     *locks_label;
  WeftTimeline *timeline;

  GCancellable *cancellable;
  GError       *error;
};

G_DEFINE_FINAL_TYPE (WeftWindow, weft_window, GTK_TYPE_APPLICATION_WINDOW)

enum { LOADED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
format_duration (char   *buf,
                 gsize   size,
                 gint64  ns)
{
  if (ns >= 10000000000)
    g_snprintf (buf, size, "%.1f s", ns / 1e9);
  else if (ns >= 1000000000)
    g_snprintf (buf, size, "%.2f s", ns / 1e9);
  else if (ns >= 1000000)
    g_snprintf (buf, size, "%.1f ms", ns / 1e6);
  else
    g_snprintf (buf, size, "%.1f µs", ns / 1e3);
}

static void
update_details (WeftWindow *self)
{
  WeftViewData *d = weft_timeline_get_data (self->timeline);
  gint64 s, e;
  double p, c;
  char span[32], from[32], to[32];
  g_autofree char *text = NULL;

  if (d == NULL)
    return;
  if (weft_timeline_get_selection (self->timeline, &s, &e))
    {
      weft_view_data_span_means (d, s, e, &p, &c);
      format_duration (from, sizeof from, s - d->start_ns);
      format_duration (to, sizeof to, e - d->start_ns);
      format_duration (span, sizeof span, e - s);
      text = g_strdup_printf ("Selection %s – %s (%s): mean parallelism P %.2f, "
                              "mean concurrency C %.2f on %u CPUs",
                              from, to, span, p, c, d->cpus);
    }
  else
    {
      weft_view_data_span_means (d, d->start_ns, d->end_ns, &p, &c);
      format_duration (span, sizeof span, d->end_ns - d->start_ns);
      text = g_strdup_printf ("Whole trace (%s): mean parallelism P %.2f, mean concurrency "
                              "C %.2f on %u CPUs, %u threads in %u process%s. "
                              "Drag to select a span.",
                              span, p, c, d->cpus, d->n_threads, d->n_processes,
                              d->n_processes == 1 ? "" : "es");
    }
  gtk_label_set_text (self->details_label, text);
}

static void
update_locks (WeftWindow *self,
              WeftViewData *d)
{
  g_autoptr(GString) text = g_string_new (NULL);

  if (d->n_locks == 0)
    {
      gtk_label_set_text (self->locks_label, "No object was waited for.");
      return;
    }
  g_string_append (text, "Most waited for:");
  for (guint i = 0; i < MIN (d->n_locks, 3); i++)
    {
      char total[32];

      format_duration (total, sizeof total, d->locks[i].wait_total_ns);
      g_string_append_printf (text, "%s %s (%s) %" G_GINT64_FORMAT " wait%s, %s",
                              i == 0 ? "" : ";", d->locks[i].name, d->locks[i].kind,
                              d->locks[i].waits, d->locks[i].waits == 1 ? "" : "s", total);
    }
  gtk_label_set_text (self->locks_label, text->str);
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
  update_details (self);
  update_locks (self, d);
  gtk_stack_set_visible_child_name (self->stack, "timeline");
  gtk_widget_grab_focus (GTK_WIDGET (self->timeline));
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;
  WeftViewData *d = weft_view_data_load (task_data, &error);

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

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (path == NULL)
    path = g_file_get_uri (file);
  gtk_stack_set_visible_child_name (self->stack, "loading");
  task = g_task_new (self, self->cancellable, load_done, NULL);
  g_task_set_source_tag (task, weft_window_load);
  g_task_set_task_data (task, g_steal_pointer (&path), g_free);
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
  g_clear_error (&self->error);
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
  gtk_widget_class_bind_template_child (widget_class, WeftWindow, locks_label);
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
}

static void
weft_window_init (WeftWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_swapped (self->timeline, "selection-changed",
                            G_CALLBACK (update_details), self);
}

WeftWindow *
weft_window_new (GtkApplication *app)
{
  return g_object_new (WEFT_TYPE_WINDOW, "application", app, NULL);
}
