/* bench-overhead — what `weft record` costs a program: the wall time of
 * real and sample programs with and without weft, run alternately several
 * times, as the ratio of the medians; the uncontended lock+unlock pair under
 * the agent against the plain pair; the fixed cost of recording `true`; and
 * the events lost in every trace (which must be 0).
 *
 * `meson test --benchmark` runs it with -m perf (full sizes, 5 runs each);
 * the test suite runs it small (1 run) so it cannot rot. It asserts nothing
 * about time: the machines are noisy. It fails only if events were lost. */
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "weft-test-util.h"

static char *work_dir;

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, values->len / 2);
}

/* Runs argv with stdout discarded (or captured into *out); returns seconds. */
static double
run_timed (const char * const *argv,
           char              **out)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  int status;

  g_spawn_sync (work_dir, (char **) argv, NULL,
                G_SPAWN_SEARCH_PATH | (out == NULL ? G_SPAWN_STDOUT_TO_DEV_NULL : 0)
                | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, out, NULL, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", argv[0], error->message);
  return (g_get_monotonic_time () - start) / 1e6;
}

static char *trace_path;

/* The same argv under `weft record`; *lost gets the trace's lost events. */
static double
run_recorded (const char * const *argv,
              gint64             *lost,
              char              **out)
{
  g_autoptr (GPtrArray) command = g_ptr_array_new ();
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  double seconds;

  g_ptr_array_add (command, (char *) g_getenv ("WEFT"));
  g_ptr_array_add (command, "record");
  g_ptr_array_add (command, "-o");
  g_ptr_array_add (command, trace_path);
  g_ptr_array_add (command, "--");
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (command, (char *) argv[i]);
  g_ptr_array_add (command, NULL);
  seconds = run_timed ((const char * const *) command->pdata, out);

  g_assert_cmpint (sqlite3_open_v2 (trace_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT value FROM meta WHERE key = 'lost_events'",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  *lost = MAX (*lost, sqlite3_column_int64 (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return seconds;
}

static guint
runs (void)
{
  return g_test_perf () ? 5 : 1;
}

/* Alternates plain and recorded runs so drift hits both alike. */
static void
compare (const char         *name,
         const char * const *argv)
{
  g_autoptr (GArray) plain = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) recorded = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 lost = 0;
  double plain_s, recorded_s;

  for (guint i = 0; i < runs (); i++)
    {
      double p = run_timed (argv, NULL);
      double r = run_recorded (argv, &lost, NULL);

      g_array_append_val (plain, p);
      g_array_append_val (recorded, r);
    }
  plain_s = median (plain);
  recorded_s = median (recorded);
  printf ("%-28s plain %8.3f s   weft %8.3f s   ratio %5.2fx   +%7.1f ms   lost %" G_GINT64_FORMAT "\n",
          name, plain_s, recorded_s, recorded_s / plain_s, (recorded_s - plain_s) * 1e3, lost);
  fflush (stdout);
  g_assert_cmpint (lost, ==, 0);
}

/* A file of text that compresses like real data (words, not zeros). */
static char *
make_input (gsize bytes)
{
  static const char *const words[] = {
    "thread", "lock", "wait", "core", "parallel", "concurrent", "mutex", "queue",
    "signal", "barrier", "the", "of", "and", "a", "to", "in", "is", "weft", "warp",
  };
  g_autofree char *path = g_build_filename (work_dir, "input.txt", NULL);
  GString *text = g_string_sized_new (bytes + 64);
  guint32 seed = 12345;

  while (text->len < bytes)
    {
      seed = seed * 1103515245 + 12345;
      g_string_append (text, words[(seed >> 16) % G_N_ELEMENTS (words)]);
      g_string_append_c (text, (seed >> 8) % 13 == 0 ? '\n' : ' ');
    }
  g_assert_true (g_file_set_contents (path, text->str, text->len, NULL));
  g_string_free (text, TRUE);
  return g_steal_pointer (&path);
}

static void
bench_lock_heavy (void)
{
  g_autofree char *sample = weft_test_sample_path ("lock-heavy");
  const char *iterations = g_test_perf () ? "20000000" : "200000";
  const char *argv[] = { sample, iterations, "2", NULL };

  g_test_summary ("A lock-heavy two-thread program under weft record against its plain run");
  compare ("lock-heavy (2 threads)", argv);
}

static void
bench_pigz (void)
{
  g_autofree char *input = make_input (g_test_perf () ? 96 << 20 : 4 << 20);
  g_autofree char *pigz = g_find_program_in_path ("pigz");
  const char *argv[] = { "pigz", "-p", "2", "-c", input, NULL };

  g_test_summary ("pigz -p 2 under weft record against its plain run");
  if (pigz == NULL)
    {
      g_test_skip ("pigz is not installed (scripts/setup installs it)");
      return;
    }
  compare ("pigz -p 2", argv);
}

static void
bench_xz (void)
{
  g_autofree char *input = make_input (g_test_perf () ? 24 << 20 : 2 << 20);
  const char *argv[] = { "xz", "-T2", "-1", "-c", input, NULL };

  g_test_summary ("xz -T2 under weft record against its plain run");
  compare ("xz -T2 -1", argv);
}

static void
bench_true (void)
{
  const char *argv[] = { "true", NULL };

  g_test_summary ("The fixed cost of recording: weft record -- true");
  compare ("true", argv);
}

static double
parse_ns_per_pair (const char *out)
{
  const char *line = strstr (out, "ns_per_pair ");

  g_assert_nonnull (line);
  return g_ascii_strtod (line + strlen ("ns_per_pair "), NULL);
}

static void
bench_lock_pair (void)
{
  g_autofree char *program = g_test_build_filename (G_TEST_BUILT, "bench", "bench-lockpair", NULL);
  const char *pairs = g_test_perf () ? "5000000" : "200000";
  const char *argv[] = { program, pairs, NULL };
  g_autoptr (GArray) plain = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) agent = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 lost = 0;

  g_test_summary ("An uncontended lock+unlock pair through the agent against the plain pair");
  for (guint i = 0; i < runs (); i++)
    {
      g_autofree char *plain_out = NULL;
      g_autofree char *agent_out = NULL;
      double ns;

      run_timed (argv, &plain_out);
      ns = parse_ns_per_pair (plain_out);
      g_array_append_val (plain, ns);
      run_recorded (argv, &lost, &agent_out);
      ns = parse_ns_per_pair (agent_out);
      g_array_append_val (agent, ns);
    }
  printf ("%-28s plain %8.2f ns  agent %8.2f ns  ratio %5.2fx   lost %" G_GINT64_FORMAT "\n",
          "uncontended lock+unlock", median (plain), median (agent),
          median (agent) / median (plain), lost);
  fflush (stdout);
  g_assert_cmpint (lost, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  work_dir = g_dir_make_tmp ("weft-bench-XXXXXX", &error);
  g_assert_no_error (error);
  trace_path = g_build_filename (work_dir, "bench.db", NULL);

  g_test_add_func ("/bench/overhead/lock-pair", bench_lock_pair);
  g_test_add_func ("/bench/overhead/lock-heavy", bench_lock_heavy);
  g_test_add_func ("/bench/overhead/pigz", bench_pigz);
  g_test_add_func ("/bench/overhead/xz", bench_xz);
  g_test_add_func ("/bench/overhead/true", bench_true);
  status = g_test_run ();

  {
    g_autofree char *input = g_build_filename (work_dir, "input.txt", NULL);
    g_autofree char *old = g_strdup_printf ("%s.old", trace_path);

    g_unlink (input);
    g_unlink (trace_path);
    g_unlink (old);
    g_rmdir (work_dir);
  }
  return status;
}
