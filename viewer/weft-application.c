/* weft-application.c — the weft-view application (weft-application.h). */
#include <stdio.h>
#include <string.h>

#include "weft-application.h"
#include "weft-renderer.h"
#include "weft-window.h"

#define SCREENSHOT_TIMEOUT_S 120

struct _WeftApplication
{
  GtkApplication parent_instance;

  /* Command line */
  char      *screenshot;   /* OUT.png, or NULL for the interactive viewer */
  int        width;
  int        height;
  gboolean   has_span;
  gint64     span_start_ns; /* relative to the trace's start */
  gint64     span_end_ns;
  gboolean   print_layout;
  gboolean   print_tables;
  char      *select_object; /* name of a lock to select */
  gint64     collapse_pid;  /* a process to fold, or 0 */
  gint64     select_tid;    /* with select_at_ns: a wait to select */
  gint64     select_at_ns;
  gboolean   wait_for_info; /* a selection was asked: wait for the details */
  gboolean   info_shown;

  WeftWindow *shot_window;
  guint       shot_ticks;
  guint       resizes;
  int         exit_status;
};

G_DEFINE_FINAL_TYPE (WeftApplication, weft_application, GTK_TYPE_APPLICATION)

static const GOptionEntry entries[] = {
  { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    "Render the window with FILE's trace into OUT.png and exit", "OUT.png" },
  { "size", 0, 0, G_OPTION_ARG_STRING, NULL,
    "Window size for --screenshot (default 1280x800)", "WxH" },
  { "span", 0, 0, G_OPTION_ARG_STRING, NULL,
    "Show only this span: seconds from the trace's start (a unit ns, us, ms or s may follow each number)",
    "START:END" },
  { "print-layout", 0, 0, G_OPTION_ARG_NONE, NULL,
    "With --screenshot, print where the plot and each lane are drawn (for tests)", NULL },
  { "print-tables", 0, 0, G_OPTION_ARG_NONE, NULL,
    "With --screenshot, print the rows of the tables and the details pane (for tests)", NULL },
  { "select-object", 0, 0, G_OPTION_ARG_STRING, NULL,
    "With --screenshot, select this object in the objects table", "NAME" },
  { "select-wait", 0, 0, G_OPTION_ARG_STRING, NULL,
    "With --screenshot, select the wait of thread TID at this time from the trace's start",
    "TID@TIME" },
  { "collapse-process", 0, 0, G_OPTION_ARG_INT64, NULL,
    "With --screenshot, fold the thread lanes of process PID under its header", "PID" },
  { NULL },
};

/* "1.5", "200ms", "3 us" → ns. */
static gboolean
parse_time (const char *text,
            gint64     *ns)
{
  char *end;
  double v = g_ascii_strtod (text, &end);
  double mult = 1e9;

  while (*end == ' ')
    end++;
  if (end == text)
    return FALSE;
  if (strcmp (end, "ns") == 0)
    mult = 1;
  else if (strcmp (end, "us") == 0 || strcmp (end, "µs") == 0)
    mult = 1e3;
  else if (strcmp (end, "ms") == 0)
    mult = 1e6;
  else if (*end != '\0' && strcmp (end, "s") != 0)
    return FALSE;
  if (v < 0)
    return FALSE;
  *ns = (gint64) (v * mult);
  return TRUE;
}

static gboolean
parse_span (WeftApplication *self,
            const char      *text)
{
  g_auto(GStrv) parts = g_strsplit (text, ":", 2);

  if (g_strv_length (parts) != 2 || !parse_time (parts[0], &self->span_start_ns)
      || !parse_time (parts[1], &self->span_end_ns) || self->span_end_ns <= self->span_start_ns)
    return FALSE;
  self->has_span = TRUE;
  return TRUE;
}

static int
weft_application_handle_local_options (GApplication *app,
                                       GVariantDict *options)
{
  WeftApplication *self = WEFT_APPLICATION (app);
  const char *size = NULL, *span = NULL;

  g_variant_dict_lookup (options, "screenshot", "^ay", &self->screenshot);
  g_variant_dict_lookup (options, "print-layout", "b", &self->print_layout);
  g_variant_dict_lookup (options, "print-tables", "b", &self->print_tables);
  g_variant_dict_lookup (options, "select-object", "s", &self->select_object);
  g_variant_dict_lookup (options, "collapse-process", "x", &self->collapse_pid);
  if (g_variant_dict_lookup (options, "select-wait", "&s", &span))
    {
      g_auto(GStrv) parts = g_strsplit (span, "@", 2);

      if (g_strv_length (parts) != 2 || (self->select_tid = g_ascii_strtoll (parts[0], NULL, 10)) <= 0
          || !parse_time (parts[1], &self->select_at_ns))
        {
          fprintf (stderr, "weft-view: --select-wait wants TID@TIME, e.g. 1234@50ms (got '%s')\n", span);
          return 2;
        }
      span = NULL;
    }
  if (g_variant_dict_lookup (options, "size", "&s", &size)
      && (sscanf (size, "%dx%d", &self->width, &self->height) != 2
          || self->width < 200 || self->height < 150 || self->width > 8192 || self->height > 8192))
    {
      fprintf (stderr, "weft-view: --size wants WIDTHxHEIGHT in pixels, e.g. 1280x800 (got '%s')\n", size);
      return 2;
    }
  if (g_variant_dict_lookup (options, "span", "&s", &span) && !parse_span (self, span))
    {
      fprintf (stderr, "weft-view: --span wants START:END, seconds from the trace's start, "
               "e.g. 0.5:1.25 or 100ms:300ms (got '%s')\n", span);
      return 2;
    }
  return -1;
}

static void
fail (WeftApplication *self,
      const char      *message)
{
  fprintf (stderr, "weft-view: %s\n", message);
  self->exit_status = 1;
  g_application_quit (G_APPLICATION (self));
}

static gboolean
save_screenshot (WeftApplication *self,
                 GError         **error)
{
  GtkWidget *window = GTK_WIDGET (self->shot_window);
  int w = gtk_widget_get_width (window), h = gtk_widget_get_height (window);
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (window);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GBytes) png = NULL;
  graphene_rect_t bounds;

  /* The paintable covers the window's bounds, which reach past its
   * allocation by the invisible resize borders; draw it unscaled and cut
   * the window out of it. */
  if (!gtk_widget_compute_bounds (window, window, &bounds))
    bounds = GRAPHENE_RECT_INIT (0, 0, w, h);
  gdk_paintable_snapshot (paintable, snapshot, bounds.size.width, bounds.size.height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the window drew nothing");
      return FALSE;
    }
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (-bounds.origin.x, -bounds.origin.y, w, h));
  png = gdk_texture_save_to_png_bytes (texture);
  /* g_file_set_contents writes a temporary file and renames it: no half PNG
   * under the asked-for name. */
  return g_file_set_contents (self->screenshot, g_bytes_get_data (png, NULL),
                              g_bytes_get_size (png), error);
}

static gboolean
screenshot_tick (GtkWidget     *widget,
                 GdkFrameClock *clock,
                 gpointer       user_data)
{
  WeftApplication *self = user_data;
  WeftTimeline *timeline = weft_window_get_timeline (self->shot_window);
  g_autoptr(GError) error = NULL;

  /* Wait until the raster matches the laid-out width, then one more frame so
   * the layout that produced it is the one we paint. */
  /* The default size counts the invisible borders of client-side
   * decorations; grow it until the window itself has the asked size. */
  if ((gtk_widget_get_width (widget) != self->width || gtk_widget_get_height (widget) != self->height)
      && gtk_widget_get_width (widget) > 0 && self->resizes < 4)
    {
      int w, h;

      gtk_window_get_default_size (GTK_WINDOW (widget), &w, &h);
      gtk_window_set_default_size (GTK_WINDOW (widget), w + self->width - gtk_widget_get_width (widget),
                                   h + self->height - gtk_widget_get_height (widget));
      self->resizes++;
      self->shot_ticks = 0;
      return G_SOURCE_CONTINUE;
    }
  if (!weft_timeline_is_settled (timeline) || (self->wait_for_info && !self->info_shown))
    {
      self->shot_ticks = 0;
      return G_SOURCE_CONTINUE;
    }
  if (self->shot_ticks++ < 2)
    return G_SOURCE_CONTINUE;
  if (!save_screenshot (self, &error))
    {
      g_autofree char *msg = g_strdup_printf ("cannot write %s: %s", self->screenshot, error->message);

      fail (self, msg);
    }
  else
    {
      if (self->print_layout)
        {
          weft_timeline_print_layout (timeline, widget, stdout);
          printf ("renderer %s\n", G_OBJECT_TYPE_NAME (gtk_native_get_renderer (GTK_NATIVE (widget))));
        }
      if (self->print_tables)
        {
          g_auto(GStrv) lines = g_strsplit (weft_window_get_info (self->shot_window), "\n", -1);

          for (guint k = 0; k < 3; k++)
            weft_table_print (weft_window_get_table (self->shot_window, k), stdout);
          for (guint i = 0; lines[i] != NULL; i++)
            printf ("info\t%s\n", lines[i]);
        }
      fflush (stdout);
      g_application_quit (G_APPLICATION (self));
    }
  return G_SOURCE_REMOVE;
}

static void
info_shown (WeftWindow      *window,
            WeftApplication *self)
{
  self->info_shown = TRUE;
}

/* --collapse-process: as a click on the process's band would. */
static gboolean
collapse_process (WeftApplication *self,
                  WeftTimeline    *timeline)
{
  WeftViewData *d = weft_timeline_get_data (timeline);
  gboolean found = FALSE;

  for (guint i = 0; i < d->n_processes; i++)
    if (d->processes[i].pid == self->collapse_pid)
      {
        weft_timeline_set_process_collapsed (timeline, i, TRUE);
        found = TRUE;
      }
  if (!found)
    {
      g_autofree char *msg = g_strdup_printf ("%s: no process %" G_GINT64_FORMAT " in the trace",
                                              d->path, self->collapse_pid);

      fail (self, msg);
    }
  return found;
}

/* --select-object, --select-wait: as a click in the table or the lane would. */
static gboolean
select_things (WeftApplication *self,
               WeftWindow      *window)
{
  WeftTimeline *timeline = weft_window_get_timeline (window);
  WeftViewData *d = weft_timeline_get_data (timeline);

  if (self->collapse_pid != 0 && !collapse_process (self, timeline))
    return FALSE;

  g_signal_connect (window, "info-shown", G_CALLBACK (info_shown), self);
  if (self->select_object != NULL)
    {
      gint lock = -1;

      for (guint i = 0; i < d->n_locks && lock < 0; i++)
        if (g_strcmp0 (d->locks[i].name, self->select_object) == 0)
          lock = (gint) i;
      if (lock < 0)
        {
          g_autofree char *msg = g_strdup_printf ("%s: no contended object is named '%s'",
                                                  d->path, self->select_object);

          fail (self, msg);
          return FALSE;
        }
      self->wait_for_info = TRUE;
      weft_window_select_lock (window, lock);
    }
  if (self->select_tid > 0)
    {
      gint thread = -1, wait = -1;

      for (guint i = 0; i < d->n_threads && thread < 0; i++)
        if (d->threads[i].tid == self->select_tid)
          thread = (gint) i;
      if (thread >= 0)
        wait = weft_view_data_wait_at (d, thread, d->start_ns + self->select_at_ns);
      if (wait < 0)
        {
          g_autofree char *msg = g_strdup_printf ("%s: thread %" G_GINT64_FORMAT " has no wait at that time",
                                                  d->path, self->select_tid);

          fail (self, msg);
          return FALSE;
        }
      self->wait_for_info = TRUE;
      self->info_shown = FALSE;
      weft_timeline_select_wait (timeline, thread, wait);
    }
  return TRUE;
}

static void
screenshot_loaded (WeftWindow      *window,
                   WeftApplication *self)
{
  const GError *error = weft_window_get_error (window);
  WeftTimeline *timeline = weft_window_get_timeline (window);

  if (error != NULL)
    {
      fail (self, error->message);
      return;
    }
  if (self->has_span)
    {
      WeftViewData *d = weft_timeline_get_data (timeline);

      weft_timeline_set_view (timeline, d->start_ns + self->span_start_ns,
                              d->start_ns + self->span_end_ns);
    }
  if (!select_things (self, window))
    return;
  gtk_widget_add_tick_callback (GTK_WIDGET (window), screenshot_tick, self, NULL);
}

static gboolean
screenshot_timeout (gpointer user_data)
{
  fail (user_data, "timed out while drawing the screenshot");
  return G_SOURCE_REMOVE;
}

static void
start_screenshot (WeftApplication *self,
                  GFile           *file)
{
  self->shot_window = weft_window_new (GTK_APPLICATION (self));
  if (self->width <= 0)
    {
      self->width = 1280;
      self->height = 800;
    }
  gtk_window_set_default_size (GTK_WINDOW (self->shot_window), self->width, self->height);
  g_signal_connect (self->shot_window, "loaded", G_CALLBACK (screenshot_loaded), self);
  gtk_window_present (GTK_WINDOW (self->shot_window));
  weft_window_load (self->shot_window, file);
  g_timeout_add_seconds (SCREENSHOT_TIMEOUT_S, screenshot_timeout, self);
}

static void
weft_application_open (GApplication  *app,
                       GFile        **files,
                       int            n_files,
                       const char    *hint)
{
  WeftApplication *self = WEFT_APPLICATION (app);

  if (self->screenshot != NULL)
    {
      if (n_files != 1)
        {
          fail (self, "--screenshot takes exactly one trace");
          return;
        }
      start_screenshot (self, files[0]);
      return;
    }
  for (int i = 0; i < n_files; i++)
    {
      WeftWindow *window = weft_window_new (GTK_APPLICATION (app));

      weft_window_load (window, files[i]);
      gtk_window_present (GTK_WINDOW (window));
    }
}

static void
weft_application_activate (GApplication *app)
{
  WeftApplication *self = WEFT_APPLICATION (app);
  g_autoptr(GFile) fallback = g_file_new_for_path ("weft.db");
  gboolean have_fallback = g_file_query_exists (fallback, NULL);

  if (have_fallback)
    {
      weft_application_open (app, &fallback, 1, "");
      return;
    }
  if (self->screenshot != NULL)
    {
      fail (self, "--screenshot needs a trace: weft-view --screenshot OUT.png FILE");
      return;
    }
  gtk_window_present (GTK_WINDOW (weft_window_new (GTK_APPLICATION (app))));
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *param,
                gpointer       app)
{
  g_application_quit (app);
}

static void
weft_application_startup (GApplication *app)
{
  static const GActionEntry actions[] = {
    { "quit", quit_activated, NULL, NULL, NULL, { 0 } },
  };
  static const char * const quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (weft_application_parent_class)->startup (app);
  weft_renderer_choose (gdk_display_get_default ());
  g_action_map_add_action_entries (G_ACTION_MAP (app), actions, G_N_ELEMENTS (actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
}

static void
weft_application_finalize (GObject *object)
{
  WeftApplication *self = WEFT_APPLICATION (object);

  g_free (self->screenshot);
  g_free (self->select_object);
  G_OBJECT_CLASS (weft_application_parent_class)->finalize (object);
}

static void
weft_application_class_init (WeftApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = weft_application_finalize;
  app_class->handle_local_options = weft_application_handle_local_options;
  app_class->startup = weft_application_startup;
  app_class->activate = weft_application_activate;
  app_class->open = weft_application_open;
}

static void
weft_application_init (WeftApplication *self)
{
  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_parameter_string (G_APPLICATION (self), "[FILE…]");
  g_application_set_option_context_summary (G_APPLICATION (self),
    "Shows weft traces: how many threads ran at once (parallelism), how many\n"
    "wanted to (concurrency), and what each thread and CPU was doing.");
}

WeftApplication *
weft_application_new (void)
{
  return g_object_new (WEFT_TYPE_APPLICATION,
                       "application-id", "org.weft.Viewer",
                       "flags", G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE,
                       NULL);
}

int
weft_application_get_exit_status (WeftApplication *self)
{
  return self->exit_status;
}
