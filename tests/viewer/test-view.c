/* test-view.c — weft-view draws what the trace says, and refuses bad files.
 *
 * Each case records a sample with the real weft (weft-test-util.h), runs
 * `xvfb-run -a weft-view --screenshot OUT.png --print-layout TRACE`, reads
 * the layout it prints (where the plot and each thread lane are) and checks
 * pixels of the PNG against the palette (viewer/weft-palette.h).
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#include "weft-palette.h"
#include "weft-test-util.h"

#define SHOT_W 1200
#define SHOT_H 800

typedef struct
{
  gint64  tid;
  int     y0, y1;
  char   *name;
} Lane;

typedef struct
{
  gint64    pid;
  int       y0, y1;      /* its header band */
  gboolean  collapsed;
} Band;

typedef struct
{
  int        status;     /* exit status of weft-view */
  char      *err;
  char      *dir;
  char      *png_path;
  GdkPixbuf *png;        /* NULL if none was written */
  int        plot_x0, plot_x1;
  gint64     start_ns, end_ns;
  GArray    *lanes;      /* Lane */
  GArray    *bands;      /* Band, one per process */
  char      *renderer;   /* the GSK renderer's type name */
} Shot;

static void
shot_free (Shot *shot)
{
  for (guint i = 0; shot->lanes != NULL && i < shot->lanes->len; i++)
    g_free (g_array_index (shot->lanes, Lane, i).name);
  g_clear_pointer (&shot->lanes, g_array_unref);
  g_clear_pointer (&shot->bands, g_array_unref);
  g_clear_object (&shot->png);
  if (shot->png_path != NULL)
    g_unlink (shot->png_path);
  if (shot->dir != NULL)
    g_rmdir (shot->dir);
  g_free (shot->dir);
  g_free (shot->png_path);
  g_free (shot->err);
  g_free (shot->renderer);
  g_free (shot);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Shot, shot_free)

static gboolean
have_xvfb (void)
{
  g_autofree char *path = g_find_program_in_path ("xvfb-run");

  if (path == NULL)
    g_test_skip ("xvfb-run is not installed");
  return path != NULL;
}

static void
parse_layout (Shot       *shot,
              const char *out)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

  shot->lanes = g_array_new (FALSE, TRUE, sizeof (Lane));
  shot->bands = g_array_new (FALSE, TRUE, sizeof (Band));
  for (guint i = 0; lines[i] != NULL; i++)
    {
      Lane lane = { 0 };
      Band band = { 0 };
      char name[256] = "";

      if (g_str_has_prefix (lines[i], "plot "))
        g_assert_cmpint (sscanf (lines[i], "plot %d %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
                                 &shot->plot_x0, &shot->plot_x1, &shot->start_ns, &shot->end_ns),
                         ==, 4);
      else if (sscanf (lines[i], "thread %" G_GINT64_FORMAT " %d %d %255[^\n]",
                       &lane.tid, &lane.y0, &lane.y1, name) >= 3)
        {
          lane.name = g_strdup (name);
          g_array_append_val (shot->lanes, lane);
        }
      else if (sscanf (lines[i], "process %" G_GINT64_FORMAT " %d %d %255s",
                       &band.pid, &band.y0, &band.y1, name) == 4)
        {
          band.collapsed = strcmp (name, "collapsed") == 0;
          g_array_append_val (shot->bands, band);
        }
      else if (g_str_has_prefix (lines[i], "renderer "))
        shot->renderer = g_strdup (lines[i] + strlen ("renderer "));
    }
}

/* Runs weft-view --screenshot on trace with extra arguments (NULL-ended). */
static Shot *
screenshot (const char *trace,
            const char *extra,
            ...)
{
  Shot *shot = g_new0 (Shot, 1);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *dir = g_dir_make_tmp ("weft-view-XXXXXX", NULL);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  va_list ap;
  int wait_status;

  g_assert_nonnull (dir);
  shot->png_path = g_build_filename (dir, "shot.png", NULL);
  g_ptr_array_add (argv, (char *) "xvfb-run");
  g_ptr_array_add (argv, (char *) "-a");
  g_ptr_array_add (argv, (char *) WEFT_VIEW_PATH);
  g_ptr_array_add (argv, (char *) "--screenshot");
  g_ptr_array_add (argv, shot->png_path);
  g_ptr_array_add (argv, (char *) "--size");
  g_ptr_array_add (argv, (char *) G_STRINGIFY (SHOT_W) "x" G_STRINGIFY (SHOT_H));
  g_ptr_array_add (argv, (char *) "--print-layout");
  va_start (ap, extra);
  for (const char *a = extra; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, (char *) trace);
  g_ptr_array_add (argv, NULL);

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &shot->err, &wait_status, &error);
  g_assert_no_error (error);
  shot->status = g_spawn_check_wait_status (wait_status, NULL) ? 0
               : WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : 128;
  g_test_message ("weft-view exit %d, stderr: %s", shot->status, shot->err);
  parse_layout (shot, out);
  if (g_file_test (shot->png_path, G_FILE_TEST_EXISTS))
    {
      shot->png = gdk_pixbuf_new_from_file (shot->png_path, &error);
      g_assert_no_error (error);
    }
  shot->dir = g_steal_pointer (&dir);
  return shot;
}

static const Lane *
lane_of (Shot   *shot,
         gint64  tid)
{
  for (guint i = 0; i < shot->lanes->len; i++)
    if (g_array_index (shot->lanes, Lane, i).tid == tid)
      return &g_array_index (shot->lanes, Lane, i);
  g_assert_not_reached ();
  return NULL;
}

static int
x_of (Shot   *shot,
      gint64  t_ns)
{
  return shot->plot_x0 + (int) ((double) (t_ns - shot->start_ns) * (shot->plot_x1 - shot->plot_x0)
                                / (double) (shot->end_ns - shot->start_ns));
}

static gboolean
pixel_is (Shot      *shot,
          int        x,
          int        y,
          WeftState  state)
{
  int n = gdk_pixbuf_get_n_channels (shot->png);
  const guint8 *p = gdk_pixbuf_read_pixels (shot->png)
                    + y * gdk_pixbuf_get_rowstride (shot->png) + x * n;
  WeftRgb c = weft_palette_states[state];

  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (x, <, gdk_pixbuf_get_width (shot->png));
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (y, <, gdk_pixbuf_get_height (shot->png));
  return ABS (p[0] - c.r) <= 12 && ABS (p[1] - c.g) <= 12 && ABS (p[2] - c.b) <= 12;
}

/* Share of the lane's pixels in [t0, t1) (its middle row) in state. */
static double
lane_share (Shot        *shot,
            const Lane  *lane,
            gint64       t0,
            gint64       t1,
            WeftState    state)
{
  int x0 = x_of (shot, t0), x1 = x_of (shot, t1), y = (lane->y0 + lane->y1) / 2, hits = 0;

  g_assert_cmpint (x1, >, x0);
  for (int x = x0; x < x1; x++)
    hits += pixel_is (shot, x, y, state);
  return (double) hits / (x1 - x0);
}

static WeftState
state_of (const char *name)
{
  for (guint i = 0; i < WEFT_N_STATES; i++)
    if (g_strcmp0 (name, weft_state_names[i]) == 0)
      return i;
  g_assert_not_reached ();
  return WEFT_STATE_NONE;
}

/* Every pixel column of the lane that one thread_states row covers whole
 * must have that row's colour (a column's colour is its dominant state).
 * Returns the share of such columns whose state is `state`. */
static double
assert_lane_matches_trace (Shot       *shot,
                           WeftRun    *run,
                           const Lane *lane,
                           WeftState   state)
{
  double ns_per_px = (double) (shot->end_ns - shot->start_ns) / (shot->plot_x1 - shot->plot_x0);
  guint checked = 0, matched = 0, in_state = 0;

  for (int x = shot->plot_x0; x < shot->plot_x1; x++)
    {
      gint64 a = shot->start_ns + (gint64) ((x - shot->plot_x0) * ns_per_px);
      gint64 b = shot->start_ns + (gint64) ((x - shot->plot_x0 + 1) * ns_per_px);
      g_autofree char *name = weft_test_query_text (run,
        "SELECT s.state FROM thread_states s JOIN threads t ON t.id = s.thread_id"
        " WHERE t.tid = %lld AND s.start_ns <= %lld AND s.end_ns >= %lld",
        (long long) lane->tid, (long long) a - 1000, (long long) b + 1000);

      if (name == NULL)
        continue;
      checked++;
      matched += pixel_is (shot, x, (lane->y0 + lane->y1) / 2, state_of (name));
      in_state += state_of (name) == state;
    }
  g_test_message ("lane %s: %u columns covered by one state, %u drawn in its colour",
                  lane->name, checked, matched);
  g_assert_cmpuint (checked, >, 0);
  g_assert_cmpuint (matched, >=, checked * 95 / 100);
  return (double) in_state / checked;
}

static void
assert_shot_ok (Shot    *shot,
                WeftRun *run)
{
  g_assert_cmpint (shot->status, ==, 0);
  g_assert_nonnull (shot->png);
  g_assert_cmpint (gdk_pixbuf_get_width (shot->png), ==, SHOT_W);
  g_assert_cmpint (gdk_pixbuf_get_height (shot->png), ==, SHOT_H);
  g_assert_cmpint (shot->plot_x1, >, shot->plot_x0 + 100);
  /* One lane per thread of the trace. */
  g_assert_cmpint (shot->lanes->len, ==, weft_test_query_int (run, "SELECT count(*) FROM threads"));
}

static void
test_cpu_parallel (void)
{
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(Shot) shot = NULL;
  guint burners = 0;

  g_test_summary ("cpu-parallel: each burner's lane is mostly the running colour");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "cpu-parallel", NULL);
  g_assert_cmpint (run->exit_status, ==, 0);
  shot = screenshot (run->trace_path, NULL);
  assert_shot_ok (shot, run);

  for (guint i = 0; i < shot->lanes->len; i++)
    {
      const Lane *lane = &g_array_index (shot->lanes, Lane, i);
      gint64 s, e;

      if (!g_str_has_prefix (lane->name, "burner-"))
        continue;
      burners++;
      s = weft_test_query_int (run, "SELECT min(s.start_ns) FROM thread_states s JOIN threads t"
                               " ON t.id = s.thread_id WHERE t.tid = %lld", (long long) lane->tid);
      e = weft_test_query_int (run, "SELECT max(s.end_ns) FROM thread_states s JOIN threads t"
                               " ON t.id = s.thread_id WHERE t.tid = %lld", (long long) lane->tid);
      /* The lane shows what the trace says, pixel for pixel. */
      assert_lane_matches_trace (shot, run, lane, WEFT_STATE_RUNNING);
      /* And a burner mostly runs: over the middle 80% of its life, its lane
       * is mostly green — unless the machine was too busy to give it a core
       * (then the trace says runnable, and so does the lane). */
      if (weft_test_query_double (run, "SELECT 1.0 * running_ns / (%lld - %lld) FROM thread_summary"
                                  " m JOIN threads t ON t.id = m.thread_id WHERE t.tid = %lld",
                                  (long long) e, (long long) s, (long long) lane->tid) >= 0.9)
        g_assert_cmpfloat (lane_share (shot, lane, s + (e - s) / 10, e - (e - s) / 10,
                                       WEFT_STATE_RUNNING), >=, 0.7);
      else
        g_test_message ("%s ran less than 90%% of its life: a busy machine", lane->name);
    }
  g_assert_cmpuint (burners, ==, 2);
}

/* GSK_RENDERER for the weft-view about to be started (NULL: unset). */
static void
set_renderer (const char *renderer)
{
  if (renderer != NULL)
    g_setenv ("GSK_RENDERER", renderer, TRUE);
  else
    g_unsetenv ("GSK_RENDERER");
}

/* weft-view draws with `expected` when GSK_RENDERER is `asked`, and the
 * picture is the trace's whatever the renderer. */
static void
check_mutex_contention (const char *asked,
                        const char *expected)
{
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(Shot) shot = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("GSK_RENDERER"));
  gint64 holder_tid;
  guint waiters = 0;

  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "mutex-contention", NULL);
  g_assert_cmpint (run->exit_status, ==, 0);
  set_renderer (asked);
  shot = screenshot (run->trace_path, NULL);
  set_renderer (saved);
  assert_shot_ok (shot, run);
  g_assert_cmpstr (shot->renderer, ==, expected);

  holder_tid = weft_test_query_int (run, "SELECT tid FROM threads WHERE name = 'holder'");
  g_assert_cmpint (holder_tid, >, 0);
  for (guint i = 0; i < shot->lanes->len; i++)
    {
      const Lane *lane = &g_array_index (shot->lanes, Lane, i);
      gint64 s, e, mid;

      if (!g_str_has_prefix (lane->name, "waiter-"))
        continue;
      waiters++;
      s = weft_test_query_int (run, "SELECT w.start_ns FROM waits w JOIN threads t ON t.id = w.thread_id"
                               " WHERE t.tid = %lld AND w.kind = 'mutex'", (long long) lane->tid);
      e = weft_test_query_int (run, "SELECT w.end_ns FROM waits w JOIN threads t ON t.id = w.thread_id"
                               " WHERE t.tid = %lld AND w.kind = 'mutex'", (long long) lane->tid);
      g_assert_cmpint (e, >, s);
      mid = s + (e - s) / 2;
      g_assert_true (pixel_is (shot, x_of (shot, mid), (lane->y0 + lane->y1) / 2, WEFT_STATE_LOCK));
      g_assert_cmpfloat (lane_share (shot, lane, s + (e - s) / 5, e - (e - s) / 5, WEFT_STATE_LOCK),
                         >=, 0.9);
      {
        const Lane *holder = lane_of (shot, holder_tid);

        g_assert_true (pixel_is (shot, x_of (shot, mid), (holder->y0 + holder->y1) / 2,
                                 WEFT_STATE_SLEEP));
      }
    }
  g_assert_cmpuint (waiters, ==, 2);
  for (guint i = 0; i < shot->lanes->len; i++)
    assert_lane_matches_trace (shot, run, &g_array_index (shot->lanes, Lane, i), WEFT_STATE_LOCK);
}

/* Under Xvfb OpenGL is Mesa's llvmpipe (or absent): weft-view picks cairo
 * (viewer/weft-renderer.c) unless told otherwise. */
static void
test_mutex_contention (void)
{
  g_test_summary ("mutex-contention: waiter lanes are the lock colour during their wait, "
                  "while the holder's lane is the sleep colour; drawn with cairo, which "
                  "weft-view picks where OpenGL is a software rasterizer");
  check_mutex_contention (NULL, "GskCairoRenderer");
}

/* The renderer machines with a GPU get: same picture. */
static void
test_mutex_contention_gl (void)
{
  const char *gdk_debug = g_getenv ("GDK_DEBUG");

  g_test_summary ("mutex-contention drawn with GSK's GL renderer (GSK_RENDERER=gl): the same "
                  "picture");
  if (gdk_debug != NULL && strstr (gdk_debug, "gl-disable") != NULL)
    {
      g_test_skip ("OpenGL is disabled (GDK_DEBUG=gl-disable, the sanitizer build)");
      return;
    }
  check_mutex_contention ("gl", "GskGLRenderer");
}

static void
test_span (void)
{
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(Shot) shot = NULL;
  gint64 start_ns;

  g_test_summary ("--span shows exactly the asked span of the trace");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "cpu-parallel", NULL);
  shot = screenshot (run->trace_path, "--span", "20ms:60ms", NULL);
  g_assert_cmpint (shot->status, ==, 0);
  g_assert_nonnull (shot->png);
  start_ns = weft_test_query_int (run, "SELECT min(start_ns) FROM profile");
  start_ns = MIN (start_ns, weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'start_ns'"));
  g_assert_cmpint (shot->start_ns - start_ns, ==, 20000000);
  g_assert_cmpint (shot->end_ns - shot->start_ns, ==, 40000000);
}

/* Folding a process hides its lanes and moves the ones below up; the
 * others still show the trace. */
static void
test_collapse (void)
{
  g_autoptr(WeftRun) run = NULL;
  g_autoptr(Shot) open = NULL, folded = NULL;
  g_autofree char *pid = NULL;
  gint64 child, hidden;

  g_test_summary ("--collapse-process (a click on a process's header): its thread lanes "
                  "are gone, its band stays, the lanes below move up by as much");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "fork-exec", NULL);
  g_assert_cmpint (run->exit_status, ==, 0);
  child = weft_test_query_int (run, "SELECT pid FROM processes WHERE parent_id IS NOT NULL"
                               " ORDER BY start_ns LIMIT 1");
  hidden = weft_test_query_int (run, "SELECT count(*) FROM threads t JOIN processes p"
                                " ON p.id = t.process_id WHERE p.pid = %lld", (long long) child);
  g_assert_cmpint (hidden, >, 0);
  pid = g_strdup_printf ("%" G_GINT64_FORMAT, child);
  open = screenshot (run->trace_path, NULL);
  folded = screenshot (run->trace_path, "--collapse-process", pid, NULL);
  assert_shot_ok (open, run);
  g_assert_cmpint (folded->status, ==, 0);
  g_assert_cmpuint (folded->lanes->len, ==, open->lanes->len - hidden);
  g_assert_cmpuint (folded->bands->len, ==, open->bands->len);
  for (guint i = 0; i < folded->bands->len; i++)
    {
      const Band *a = &g_array_index (open->bands, Band, i);
      const Band *b = &g_array_index (folded->bands, Band, i);

      g_assert_cmpint (a->pid, ==, b->pid);
      g_assert_false (a->collapsed);
      g_assert_cmpint (b->collapsed, ==, b->pid == child);
      if (i + 1 < folded->bands->len)
        {
          /* What a band holds: its lanes, or nothing when folded. */
          int next = g_array_index (folded->bands, Band, i + 1).y0;

          if (b->collapsed)
            g_assert_cmpint (next, ==, b->y1);
          else
            g_assert_cmpint (next, >, b->y1);
        }
    }
  for (guint i = 0; i < folded->lanes->len; i++)
    {
      const Lane *lane = &g_array_index (folded->lanes, Lane, i);
      const Lane *before = lane_of (open, lane->tid);

      g_assert_nonnull (before);
      g_assert_cmpint (lane->y0, <=, before->y0);
      assert_lane_matches_trace (folded, run, lane, WEFT_STATE_RUNNING);
    }
}

/* A bad file: exit status 1, no PNG, a "weft-view: FILE: reason" line. */
static void
assert_refused (const char *path,
                const char *reason)
{
  g_autoptr(Shot) shot = screenshot (path, NULL);
  g_auto(GStrv) lines = g_strsplit (shot->err, "\n", -1);
  guint ours = 0;

  g_assert_cmpint (shot->status, ==, 1);
  g_assert_null (shot->png);
  g_assert_false (g_file_test (shot->png_path, G_FILE_TEST_EXISTS));
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "weft-view: "))
      {
        ours++;
        g_assert_nonnull (strstr (lines[i], path));
        g_assert_nonnull (strstr (lines[i], reason));
      }
  g_assert_cmpuint (ours, ==, 1);
}

static void
test_foreign (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-view-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "other.db", NULL);
  sqlite3 *db = NULL;

  g_test_summary ("an SQLite file that is not a trace: exit 1 and one line saying so");
  if (!have_xvfb ())
    return;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE t (a); INSERT INTO t VALUES (1);",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  assert_refused (path, "not a weft trace");
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_truncated (void)
{
  g_autoptr(WeftRun) run = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *path = NULL;
  gsize size;

  g_test_summary ("a trace cut short: exit 1 and one line saying so");
  if (!have_xvfb ())
    return;
  run = weft_test_record (NULL, "mutex-contention", NULL);
  g_assert_true (g_file_get_contents (run->trace_path, &contents, &size, NULL));
  g_assert_cmpuint (size, >, 8192);
  path = g_build_filename (run->dir, "cut.db", NULL);
  g_assert_true (g_file_set_contents (path, contents, 8192, NULL));
  assert_refused (path, "truncated");
  g_unlink (path);
}

static void
test_empty (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-view-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "empty.db", NULL);

  g_test_summary ("an empty file: exit 1 and one line saying so");
  if (!have_xvfb ())
    return;
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  assert_refused (path, "empty");
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/viewer/screenshot/cpu-parallel", test_cpu_parallel);
  g_test_add_func ("/viewer/screenshot/mutex-contention", test_mutex_contention);
  g_test_add_func ("/viewer/screenshot/mutex-contention-gl", test_mutex_contention_gl);
  g_test_add_func ("/viewer/screenshot/span", test_span);
  g_test_add_func ("/viewer/screenshot/collapse", test_collapse);
  g_test_add_func ("/viewer/refuse/foreign", test_foreign);
  g_test_add_func ("/viewer/refuse/truncated", test_truncated);
  g_test_add_func ("/viewer/refuse/empty", test_empty);
  return g_test_run ();
}
