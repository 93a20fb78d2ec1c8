/* test-tables.c — the viewer's tables and details pane say what
 * `weft report --format json` says, and selecting things marks the timeline.
 *
 * Records samples/mutex-contention with the real weft, runs
 * `weft report --format json --top 0` on it, and
 * `xvfb-run -a weft-view --screenshot … --print-tables --print-layout` with
 * --select-object / --select-wait. --print-tables writes the rows of the
 * objects, threads and processes tables as their GtkColumnView models hold
 * them (raw values, tab-separated) and the details pane's text.
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>

#include "weft-palette.h"
#include "weft-test-util.h"

typedef struct
{
  int        status;
  GPtrArray *rows;     /* GStrv per tab-separated output line */
  GString   *info;     /* the details pane, lines joined */
  GdkPixbuf *png;
  GHashTable *lanes;   /* tid → "y0 y1" */
  int        plot_x0, plot_x1;
  gint64     start_ns, end_ns;
} View;

static void
view_free (View *v)
{
  g_ptr_array_unref (v->rows);
  g_string_free (v->info, TRUE);
  g_clear_object (&v->png);
  g_hash_table_unref (v->lanes);
  g_free (v);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (View, view_free)

static gboolean
have_xvfb (void)
{
  g_autofree char *path = g_find_program_in_path ("xvfb-run");

  if (path == NULL)
    g_test_skip ("xvfb-run is not installed");
  return path != NULL;
}

static View *
run_view (WeftRun    *run,
          const char *option,
          const char *value)
{
  g_autofree char *png = g_build_filename (run->dir, "shot.png", NULL);
  const char *argv[] = { "xvfb-run", "-a", WEFT_VIEW_PATH, "--screenshot", png, "--size", "1280x800",
                         "--print-tables", "--print-layout", run->trace_path, option, value, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  View *v = g_new0 (View, 1);
  int wait_status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                &wait_status, &error);
  g_assert_no_error (error);
  g_test_message ("weft-view stderr: %s", err);
  v->status = g_spawn_check_wait_status (wait_status, NULL) ? 0 : 1;
  v->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  v->info = g_string_new (NULL);
  v->lanes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      gint64 tid;
      int y0, y1;

      if (g_str_has_prefix (lines[i], "info\t"))
        g_string_append_printf (v->info, "%s\n", lines[i] + 5);
      else if (g_str_has_prefix (lines[i], "lock\t") || g_str_has_prefix (lines[i], "thread\t")
               || g_str_has_prefix (lines[i], "process\t"))
        g_ptr_array_add (v->rows, g_strsplit (lines[i], "\t", -1));
      else if (sscanf (lines[i], "thread %" G_GINT64_FORMAT " %d %d", &tid, &y0, &y1) == 3)
        g_hash_table_insert (v->lanes, g_memdup2 (&tid, sizeof tid), g_strdup_printf ("%d %d", y0, y1));
      else if (g_str_has_prefix (lines[i], "plot "))
        sscanf (lines[i], "plot %d %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
                &v->plot_x0, &v->plot_x1, &v->start_ns, &v->end_ns);
    }
  if (g_file_test (png, G_FILE_TEST_EXISTS))
    {
      v->png = gdk_pixbuf_new_from_file (png, &error);
      g_assert_no_error (error);
      g_unlink (png);
    }
  return v;
}

static JsonNode *
report_json (WeftRun *run)
{
  const char *argv[] = { g_getenv ("WEFT"), "report", run->trace_path, "--format", "json",
                         "--top", "0", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int wait_status;

  g_assert_nonnull (argv[0]);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  return json_from_string (out, &error);
}

/* The table row of kind whose column col is text, or NULL. */
static char **
find_row (View       *v,
          const char *kind,
          guint       col,
          const char *text)
{
  for (guint i = 0; i < v->rows->len; i++)
    {
      char **row = v->rows->pdata[i];

      if (g_str_equal (row[0], kind) && g_strv_length (row) > col && g_str_equal (row[col], text))
        return row;
    }
  return NULL;
}

static guint
count_rows (View       *v,
            const char *kind)
{
  guint n = 0;

  for (guint i = 0; i < v->rows->len; i++)
    n += g_str_equal (((char **) v->rows->pdata[i])[0], kind);
  return n;
}

static gint64
num (char **row,
     guint  col)
{
  return g_ascii_strtoll (row[col], NULL, 10);
}

static void
test_tables_match_report (void)
{
  static const char * const states[] = { "running", "runnable", "lock", "sync", "io", "sleep", "blocked" };
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(View) v = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *report;
  JsonArray *locks, *threads, *processes;

  g_test_summary ("the objects, threads and processes tables hold what weft report --format json "
                  "says of the same trace");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "mutex-contention", NULL);
  g_assert_cmpint (run->exit_status, ==, 0);
  root = report_json (run);
  g_assert_nonnull (root);
  report = json_node_get_object (root);
  v = run_view (run, NULL, NULL);
  g_assert_cmpint (v->status, ==, 0);

  /* Objects: lock name, kind, contentions, waits, wait total and max, hold total. */
  locks = json_object_get_array_member (report, "locks");
  g_assert_cmpuint (json_array_get_length (locks), ==, json_object_get_int_member (report, "locks_total"));
  g_assert_cmpuint (count_rows (v, "lock"), ==, json_array_get_length (locks));
  g_assert_cmpuint (json_array_get_length (locks), >=, 1);
  for (guint i = 0; i < json_array_get_length (locks); i++)
    {
      JsonObject *lock = json_array_get_object_element (locks, i);
      const char *kind = json_object_get_string_member (lock, "kind");
      g_autofree char *name = json_object_get_null_member (lock, "name")
        ? g_strdup_printf ("%s@%s", kind, json_object_get_string_member (lock, "address"))
        : g_strdup (json_object_get_string_member (lock, "name"));
      char **row = find_row (v, "lock", 1, name);

      g_test_message ("object %s", name);
      g_assert_nonnull (row);
      g_assert_cmpstr (row[2], ==, kind);
      g_assert_cmpint (num (row, 3), ==, json_object_get_int_member (lock, "contentions"));
      g_assert_cmpint (num (row, 4), ==, json_object_get_int_member (lock, "waits"));
      g_assert_cmpint (num (row, 5), ==, json_object_get_int_member (lock, "wait_total_ns"));
      g_assert_cmpint (num (row, 6), ==, json_object_get_int_member (lock, "wait_max_ns"));
      if (!json_object_get_null_member (lock, "hold_total_ns"))
        g_assert_cmpint (num (row, 7), ==, json_object_get_int_member (lock, "hold_total_ns"));
    }
  /* Most waited-for first, as the report orders them. */
  g_assert_cmpstr (((char **) v->rows->pdata[0])[1], ==,
                   json_object_get_string_member (json_array_get_object_element (locks, 0), "name"));

  /* Threads: names and time in each state. */
  threads = json_object_get_array_member (report, "threads");
  g_assert_cmpuint (count_rows (v, "thread"), ==, json_array_get_length (threads));
  for (guint i = 0; i < json_array_get_length (threads); i++)
    {
      JsonObject *thread = json_array_get_object_element (threads, i);
      JsonObject *ns = json_object_get_object_member (thread, "states");
      g_autofree char *tid = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (thread, "tid"));
      char **row = find_row (v, "thread", 2, tid);

      g_assert_nonnull (row);
      g_assert_cmpstr (row[1], ==, json_object_get_string_member (thread, "name"));
      g_assert_cmpint (num (row, 3), ==, json_object_get_int_member (thread, "pid"));
      for (guint s = 0; s < G_N_ELEMENTS (states); s++)
        g_assert_cmpint (num (row, 4 + s), ==, json_object_get_int_member (ns, states[s]));
    }

  /* Processes: pid, command, threads, running time. */
  processes = json_object_get_array_member (report, "processes");
  g_assert_cmpuint (count_rows (v, "process"), ==, json_array_get_length (processes));
  for (guint i = 0; i < json_array_get_length (processes); i++)
    {
      JsonObject *process = json_array_get_object_element (processes, i);
      g_autofree char *pid = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (process, "pid"));
      char **row = find_row (v, "process", 1, pid);

      g_assert_nonnull (row);
      g_assert_cmpstr (row[3], ==, json_object_get_string_member (process, "command"));
      g_assert_cmpint (num (row, 4), ==, json_object_get_int_member (process, "threads"));
      g_assert_cmpint (num (row, 5), ==, json_object_get_int_member (process, "running_ns"));
    }
}

static gboolean
pixel_near (GdkPixbuf *png,
            int        x,
            int        y,
            guint8     r,
            guint8     g,
            guint8     b)
{
  const guint8 *p = gdk_pixbuf_read_pixels (png) + y * gdk_pixbuf_get_rowstride (png)
                    + x * gdk_pixbuf_get_n_channels (png);

  return ABS (p[0] - r) <= 16 && ABS (p[1] - g) <= 16 && ABS (p[2] - b) <= 16;
}

static void
lane (View   *v,
      gint64  tid,
      int    *y0,
      int    *y1)
{
  const char *text = g_hash_table_lookup (v->lanes, &tid);

  g_assert_nonnull (text);
  g_assert_cmpint (sscanf (text, "%d %d", y0, y1), ==, 2);
}

static int
x_of (View  *v,
      gint64 t)
{
  return v->plot_x0 + (int) ((double) (t - v->start_ns) * (v->plot_x1 - v->plot_x0)
                             / (double) (v->end_ns - v->start_ns));
}

static void
test_select_object (void)
{
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(View) v = NULL;
  guint marked = 0;

  g_test_summary ("selecting the mutex outlines its waits in the waiters' lanes, and the details "
                  "name its holder and the waiters' stack (function, file:line, module)");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "mutex-contention", NULL);
  g_assert_cmpint (run->exit_status, ==, 0);
  v = run_view (run, "--select-object", "lock");
  g_assert_cmpint (v->status, ==, 0);
  g_assert_nonnull (v->png);
  g_test_message ("details: %s", v->info->str);
  g_assert_nonnull (strstr (v->info->str, "lock (mutex"));
  g_assert_nonnull (strstr (v->info->str, "Held by"));
  g_assert_nonnull (strstr (v->info->str, "holder"));
  g_assert_nonnull (strstr (v->info->str, "waiter_main"));
  g_assert_nonnull (strstr (v->info->str, "mutex-contention.c:"));

  /* Each waiter's lane has the outline (above the lane) in the middle of its wait. */
  for (guint i = 0; i < 2; i++)
    {
      gint64 tid = weft_test_query_int (run, "SELECT tid FROM threads WHERE name = 'waiter-%d'", i + 1);
      gint64 s = weft_test_query_int (run, "SELECT w.start_ns FROM waits w JOIN threads t ON t.id = w.thread_id"
                                      " WHERE t.tid = %lld AND w.kind = 'mutex'", (long long) tid);
      gint64 e = weft_test_query_int (run, "SELECT w.end_ns FROM waits w JOIN threads t ON t.id = w.thread_id"
                                      " WHERE t.tid = %lld AND w.kind = 'mutex'", (long long) tid);
      int y0, y1, x = x_of (v, s + (e - s) / 2);

      lane (v, tid, &y0, &y1);
      for (int y = y0 - 3; y <= y0; y++)
        if (pixel_near (v->png, x, y, 0xff, 0xd6, 0x00))
          {
            marked++;
            break;
          }
    }
  g_assert_cmpuint (marked, ==, 2);
}

static void
test_select_wait (void)
{
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(View) v = NULL;
  gint64 tid, holder_tid, s, e;
  g_autofree char *at = NULL;
  int y0, y1, x;

  g_test_summary ("selecting a waiter's wait shows its kind, object, holder and stack, and "
                  "highlights the holder's lane over the wait");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "mutex-contention", NULL);
  g_assert_cmpint (run->exit_status, ==, 0);
  tid = weft_test_query_int (run, "SELECT tid FROM threads WHERE name = 'waiter-1'");
  holder_tid = weft_test_query_int (run, "SELECT tid FROM threads WHERE name = 'holder'");
  s = weft_test_query_int (run, "SELECT w.start_ns FROM waits w JOIN threads t ON t.id = w.thread_id"
                           " WHERE t.tid = %lld AND w.kind = 'mutex'", (long long) tid);
  e = weft_test_query_int (run, "SELECT w.end_ns FROM waits w JOIN threads t ON t.id = w.thread_id"
                           " WHERE t.tid = %lld AND w.kind = 'mutex'", (long long) tid);
  at = g_strdup_printf ("%" G_GINT64_FORMAT "@%" G_GINT64_FORMAT "ns", tid,
                        s + (e - s) / 2 - MIN (weft_test_query_int (run, "SELECT min(start_ns) FROM profile"),
                                               weft_test_query_int (run, "SELECT value FROM meta"
                                                                    " WHERE key = 'start_ns'")));
  v = run_view (run, "--select-wait", at);
  g_assert_cmpint (v->status, ==, 0);
  g_test_message ("details: %s", v->info->str);
  g_assert_nonnull (strstr (v->info->str, "mutex on lock"));
  g_assert_nonnull (strstr (v->info->str, "Holder: holder"));
  g_assert_nonnull (strstr (v->info->str, "waiter_main"));
  g_assert_nonnull (strstr (v->info->str, "mutex-contention.c:"));
  /* The holder's lane (sleep colour) is tinted blue over the wait. */
  lane (v, holder_tid, &y0, &y1);
  x = x_of (v, s + (e - s) / 2);
  g_assert_false (pixel_near (v->png, x, (y0 + y1) / 2, weft_palette_states[WEFT_STATE_SLEEP].r,
                              weft_palette_states[WEFT_STATE_SLEEP].g,
                              weft_palette_states[WEFT_STATE_SLEEP].b));
  {
    const guint8 *p = gdk_pixbuf_read_pixels (v->png) + (y0 + y1) / 2 * gdk_pixbuf_get_rowstride (v->png)
                      + x * gdk_pixbuf_get_n_channels (v->png);

    g_assert_cmpint (p[2], >, p[0] + 20);  /* bluish */
  }
}

static void
test_every_sample (void)
{
  static const char * const samples[] = {
    "mutex-contention", "rwlock", "condvar-pingpong", "barrier-phases", "semaphore-pool",
    "cpu-parallel", "io-poll", "child-poll", "fork-exec", "lock-heavy", "exit-status",
    "fork-kill", "thread-storm", "process-tree", "run-child",
  };

  g_test_summary ("every sample's trace opens, with one thread row per thread, one object row "
                  "per contended object and one process row per process of the trace");
  if (!have_xvfb ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
    {
      g_autoptr(WeftRun) run = weft_test_record (NULL, samples[i], NULL);
      g_autoptr(View) v = NULL;

      if (run->db == NULL)
        {
          g_test_message ("%s: no trace (weft exit %d): %s", samples[i], run->exit_status, run->err);
          g_test_fail ();
          continue;
        }
      v = run_view (run, NULL, NULL);
      g_test_message ("%s: weft-view exit %d, %u rows", samples[i], v->status, v->rows->len);
      g_assert_cmpint (v->status, ==, 0);
      g_assert_nonnull (v->png);
      g_assert_cmpint (count_rows (v, "thread"), ==, weft_test_query_int (run, "SELECT count(*) FROM threads"));
      g_assert_cmpint (count_rows (v, "process"), ==,
                       weft_test_query_int (run, "SELECT count(*) FROM processes"));
      g_assert_cmpint (count_rows (v, "lock"), ==,
                       weft_test_query_int (run, "SELECT count(*) FROM lock_stats"
                                            " WHERE waits > 0 OR contentions > 0"));
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/viewer/tables/match-report", test_tables_match_report);
  g_test_add_func ("/viewer/tables/select-object", test_select_object);
  g_test_add_func ("/viewer/tables/select-wait", test_select_wait);
  g_test_add_func ("/viewer/tables/every-sample", test_every_sample);
  return g_test_run ();
}
