/* test-gil.c — record the Python samples (samples/python/) under `weft
 * record` and check what the trace says about the GIL and parallelism.
 *
 * Debian's /usr/bin/python3 is always tested. The pyenv CPythons 3.9–3.13
 * ($PYENV_ROOT, else ~/.pyenv) are tested when installed, and skipped with
 * a message when not (a clean CI machine has none).
 */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "weft-test-util.h"

#define DEBIAN_PYTHON "/usr/bin/python3"

/* Python threads doing pure-Python work are serialized by the GIL: their
 * mean parallelism is 1 plus what the interpreter does outside it. */
#define GIL_BOUND_PARALLELISM_MAX 1.15
/* Processes of a pool have a GIL each. */
#define POOL_PARALLELISM_MIN 1.8
#define POOL_ATTEMPTS 3

static char *
python_sample (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "..", "samples", "python", name, NULL);
}

static WeftRun *
record_python (const char         *python,
               const char         *sample,
               const char * const *args)
{
  g_autofree char *script = python_sample (sample);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  WeftRun *run;

  g_ptr_array_add (argv, (char *) python);
  g_ptr_array_add (argv, script);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  run = weft_test_record_argv (NULL, (const char * const *) argv->pdata);
  if (run->exit_status != 0)
    g_printerr ("weft record said:\n%s\n", run->err);
  g_assert_cmpint (run->exit_status, ==, 0);
  g_assert_nonnull (run->db);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  return run;
}

/* An expect value that lists ids ("12,13,14"), checked to be only that, so
 * it can go into an SQL IN (…) list. */
static const char *
expect_id_list (WeftRun    *run,
                const char *key,
                guint       count)
{
  const char *list = weft_test_expect (run, key);
  g_auto (GStrv) ids = g_strsplit (list, ",", -1);

  g_assert_cmpuint (g_strv_length (ids), ==, count);
  for (guint i = 0; ids[i] != NULL; i++)
    {
      g_assert_cmpuint (strlen (ids[i]), >, 0);
      g_assert_cmpuint (strspn (ids[i], "0123456789"), ==, strlen (ids[i]));
    }
  return list;
}

/* Mean parallelism of the whole traced program over the sample's own work
 * window (CLOCK_MONOTONIC, the trace's clock): CPU time of every thread of
 * every process inside the window, divided by the window. */
static double
window_parallelism (WeftRun *run)
{
  gint64 start_ns = weft_test_expect_int (run, "work_start_ns");
  gint64 end_ns = weft_test_expect_int (run, "work_end_ns");

  g_assert_cmpint (end_ns, >, start_ns);
  return weft_test_query_double (run,
                                 "SELECT total (max (0, min (end_ns, %lld) - max (start_ns, %lld)))"
                                 " / %lld FROM cpu_slices WHERE start_ns < %lld AND end_ns > %lld",
                                 (long long) end_ns, (long long) start_ns,
                                 (long long) (end_ns - start_ns), (long long) end_ns,
                                 (long long) start_ns);
}

/* The GIL waits of threads_cpu.py's workers carry its Python frames: the
 * waiting function `work` (lines 38-42 of the script) inside the worker
 * (`main.<locals>.worker`, `worker` before 3.11, which has no qualified
 * names), with native frames below them. */
static void
assert_python_frames (WeftRun    *run,
                      const char *tids)
{
  static const char in_work[] =
    "EXISTS (SELECT 1 FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id"
    " WHERE sf.stack_id = w.stack_id AND f.kind = 'python' AND f.function = 'work'"
    " AND f.file LIKE '%%/samples/python/threads_cpu.py' AND f.line BETWEEN 38 AND 42)";
  double share;

  share = weft_test_query_double (run, "SELECT total (CASE WHEN %s THEN w.end_ns - w.start_ns END)"
                                  " / total (w.end_ns - w.start_ns) FROM waits w"
                                  " JOIN threads t ON t.id = w.thread_id"
                                  " WHERE w.kind = 'gil' AND t.tid IN (%s)", in_work, tids);
  g_test_message ("%.1f%% of the workers' GIL wait time has the frame of `work`", 100 * share);
  g_assert_cmpfloat (share, >=, 0.9);

  /* Order, innermost first: work, then worker, then a native frame. */
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT count(*) FROM waits w JOIN threads t ON t.id = w.thread_id"
                     " WHERE w.kind = 'gil' AND t.tid IN (%s) AND %s AND NOT EXISTS ("
                     " SELECT 1 FROM stack_frames a JOIN frames fa ON fa.id = a.frame_id,"
                     " stack_frames b JOIN frames fb ON fb.id = b.frame_id,"
                     " stack_frames c JOIN frames fc ON fc.id = c.frame_id"
                     " WHERE a.stack_id = w.stack_id AND b.stack_id = w.stack_id"
                     " AND c.stack_id = w.stack_id AND fa.function = 'work'"
                     " AND fb.kind = 'python' AND fb.function LIKE '%%worker'"
                     " AND fc.kind = 'native' AND a.depth < b.depth AND b.depth < c.depth)",
                     tids, in_work), ==, 0);
}

/* threads_cpu.py: the trace must show its GIL as one object that its
 * workers waited on, merged, and a mean parallelism of about 1. */
static void
assert_gil_bound (WeftRun    *run,
                  const char *python)
{
  gint64 workers = weft_test_expect_int (run, "workers");
  const char *tids = expect_id_list (run, "worker_tids", workers);
  gint64 gil, gil_waits, timeouts, holders, root;
  double worker_share, parallelism;

  g_assert_null (strstr (run->err, "GIL"));

  /* Exactly one GIL, in the python process, and nothing was waited on longer. */
  root = weft_test_query_int (run, "SELECT id FROM processes WHERE parent_id IS NULL");
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM objects WHERE kind = 'gil'"), ==, 1);
  gil = weft_test_query_int (run, "SELECT id FROM objects WHERE kind = 'gil' AND name = 'GIL'"
                             " AND process_id = %lld", (long long) root);
  g_assert_cmpint (gil, >, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT object_id FROM waits WHERE object_id IS NOT NULL"
                                        " GROUP BY object_id ORDER BY sum (end_ns - start_ns) DESC"
                                        " LIMIT 1"), ==, gil);

  /* Its waits are GIL waits, every worker has some, and the workers have
   * nearly all of them (the main thread only between the barriers). */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE (object_id = %lld)"
                                        " != (kind = 'gil')", (long long) gil), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count (DISTINCT t.tid) FROM waits w"
                                        " JOIN threads t ON t.id = w.thread_id"
                                        " WHERE w.kind = 'gil' AND t.tid IN (%s)", tids), ==, workers);
  worker_share = weft_test_query_double (run, "SELECT total (CASE WHEN t.tid IN (%s)"
                                         " THEN w.end_ns - w.start_ns END)"
                                         " / total (w.end_ns - w.start_ns) FROM waits w"
                                         " JOIN threads t ON t.id = w.thread_id WHERE w.kind = 'gil'",
                                         tids);
  g_assert_cmpfloat (worker_share, >=, 0.9);

  /* Merged: each GIL wait stands for its 5 ms timeouts (waits.arg) and its
   * last wait: with 4 threads taking turns, a take waits for about 2-3
   * turns of at least one switch interval (about 4.5 raw waits per GIL
   * wait in every version tested, see docs/gil.md). */
  gil_waits = weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'gil'");
  timeouts = weft_test_query_int (run, "SELECT total (arg) FROM waits WHERE kind = 'gil'");
  holders = weft_test_query_int (run, "SELECT count (holder_thread_id) FROM waits WHERE kind = 'gil'");
  g_assert_cmpint (gil_waits, >=, workers);
  g_assert_cmpint (2 * timeouts, >=, 3 * gil_waits);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'gil'"
                                        " AND holder_thread_id = thread_id"), ==, 0);

  /* No raw part of it is left: nothing at the addresses of its cond and
   * mutexes, no `_PyRuntime+…` cond that timed out. */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM objects o JOIN objects g"
                                        " ON g.id = %lld AND o.process_id = g.process_id"
                                        " AND o.address - g.address IN (32, 80, 120, 160)",
                                        (long long) gil), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM objects o WHERE o.name LIKE"
                                        " '\\_PyRuntime+%%' ESCAPE '\\' AND EXISTS (SELECT 1 FROM"
                                        " waits w WHERE w.object_id = o.id AND w.result = 'timeout')"),
                   ==, 0);

  assert_python_frames (run, tids);

  parallelism = window_parallelism (run);
  g_test_message ("%s: %" G_GINT64_FORMAT " GIL waits (%" G_GINT64_FORMAT " with a holder) merged "
                  "from %" G_GINT64_FORMAT " switch-interval timeouts and their final waits; "
                  "parallelism %.3f (the script measured %.2f)", python, gil_waits, holders,
                  timeouts, parallelism, weft_test_expect_int (run, "parallelism_x100") / 100.0);
  g_assert_cmpfloat (parallelism, <=, GIL_BOUND_PARALLELISM_MAX);
}

static void
test_debian_python (void)
{
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("Debian's python3 running 4 CPU-bound threads: one object GIL of kind "
                  "gil, the most waited-on object, waited on by the 4 workers in merged "
                  "waits of kind gil whose stacks name the script's function, and a mean "
                  "parallelism of at most 1.15");
  if (!g_file_test (DEBIAN_PYTHON, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_fail_printf ("%s is missing: install Debian's python3 (scripts/setup does)",
                          DEBIAN_PYTHON);
      return;
    }
  run = record_python (DEBIAN_PYTHON, "threads_cpu.py", NULL);
  assert_gil_bound (run, DEBIAN_PYTHON);
}

/* The newest pyenv install of 3.minor ("3.12.1", not "3.13.0t"), or NULL. */
static char *
find_pyenv_python (gint    minor,
                   char  **versions_dir)
{
  const char *root = g_getenv ("PYENV_ROOT");
  g_autofree char *prefix = g_strdup_printf ("3.%d.", minor);
  g_autofree char *best = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *name;

  *versions_dir = root != NULL ? g_build_filename (root, "versions", NULL)
                               : g_build_filename (g_get_home_dir (), ".pyenv", "versions", NULL);
  if ((dir = g_dir_open (*versions_dir, 0, NULL)) == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      const char *micro = name + strlen (prefix);

      if (!g_str_has_prefix (name, prefix) || *micro == '\0'
          || strspn (micro, "0123456789") != strlen (micro))
        continue;
      if (best == NULL || strverscmp (name, best) > 0)
        {
          g_free (best);
          best = g_strdup (name);
        }
    }
  if (best == NULL)
    return NULL;
  {
    g_autofree char *exe = g_strdup_printf ("python3.%d", minor);
    char *path = g_build_filename (*versions_dir, best, "bin", exe, NULL);

    if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
      return path;
    g_free (path);
    return NULL;
  }
}

static void
test_pyenv_python (gconstpointer data)
{
  gint minor = GPOINTER_TO_INT (data);
  g_autofree char *versions_dir = NULL;
  g_autofree char *python = find_pyenv_python (minor, &versions_dir);
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("A pyenv CPython 3.9–3.13 running 4 CPU-bound threads: its GIL too is "
                  "one object GIL with merged waits with Python frames, and parallelism stays at most 1.15");
  if (python == NULL)
    {
      g_autofree char *why = g_strdup_printf ("no CPython 3.%d under %s (pyenv install 3.%d "
                                              "to test it)", minor, versions_dir, minor);

      g_test_skip (why);
      return;
    }
  run = record_python (python, "threads_cpu.py", NULL);
  assert_gil_bound (run, python);
}

/* A Python weft cannot place keeps its raw objects and gets a warning. */
static void
assert_unrecognized (WeftRun    *run,
                     const char *says)
{
  g_assert_nonnull (strstr (run->err, says));
  g_assert_nonnull (strstr (run->err, "stay raw objects"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM objects WHERE kind = 'gil'"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'gil'"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM objects o WHERE o.kind = 'cond'"
                                        " AND o.name LIKE '\\_PyRuntime+%%' ESCAPE '\\'"
                                        " AND EXISTS (SELECT 1 FROM waits w WHERE w.object_id = o.id"
                                        " AND w.result = 'timeout')"), >=, 1);
}

static void
test_unknown_version (void)
{
  const char *args[] = { "4", "1000000", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *real = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (WeftRun) run = NULL;
  gsize length;

  g_test_summary ("Debian's python3.11 copied to the name python3.99 (name and Py_Version "
                  "disagree) is not a version weft knows: a warning, the raw objects, no GIL");
  real = realpath (DEBIAN_PYTHON, NULL);
  if (real == NULL)
    {
      g_test_fail_printf ("%s is missing: install Debian's python3", DEBIAN_PYTHON);
      return;
    }
  dir = g_dir_make_tmp ("weft-python-XXXXXX", &error);
  g_assert_no_error (error);
  copy = g_build_filename (dir, "python3.99", NULL);
  g_assert_true (g_file_get_contents (real, &contents, &length, &error));
  g_assert_true (g_file_set_contents_full (copy, contents, length, G_FILE_SET_CONTENTS_NONE,
                                           0700, &error));
  g_assert_no_error (error);

  run = record_python (copy, "threads_cpu.py", args);
  assert_unrecognized (run, "runs a Python this weft cannot identify");
  g_unlink (copy);
  g_rmdir (dir);
}

static void
test_older_python (void)
{
  const char *args[] = { "4", "1000000", NULL };
  g_autofree char *versions_dir = NULL;
  g_autofree char *python = find_pyenv_python (8, &versions_dir);
  g_autoptr (WeftRun) run = NULL;

  g_test_summary ("CPython 3.8 (older than any layout weft knows) keeps its raw objects, "
                  "gets a warning that names the version and no Python frames");
  if (python == NULL)
    {
      g_autofree char *why = g_strdup_printf ("no CPython 3.8 under %s", versions_dir);

      g_test_skip (why);
      return;
    }
  run = record_python (python, "threads_cpu.py", args);
  assert_unrecognized (run, "runs CPython 3.8");
  /* Nor does the agent read frames of a layout it does not know. */
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM frames WHERE kind = 'python'"), ==, 0);
}

static void
test_threads_io (void)
{
  g_autoptr (WeftRun) run = NULL;
  gint64 readers;
  const char *tids;
  double parallelism;

  g_test_summary ("Threads that wait on sockets and sleeps are concurrent but hardly "
                  "parallel: every reader polls, the feeder sleeps once a round, the GIL "
                  "is waited on far less than the sockets, parallelism stays low");
  run = record_python (DEBIAN_PYTHON, "threads_io.py", NULL);
  readers = weft_test_expect_int (run, "readers");
  tids = expect_id_list (run, "reader_tids", readers);
  g_assert_cmpint (weft_test_expect_int (run, "bytes"), ==, readers * weft_test_expect_int (run, "rounds"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT count (DISTINCT t.tid) FROM waits w"
                                        " JOIN threads t ON t.id = w.thread_id"
                                        " WHERE w.kind = 'poll' AND t.tid IN (%s)", tids), ==, readers);
  g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM waits WHERE kind = 'sleep'"),
                   ==, weft_test_expect_int (run, "rounds"));
  g_assert_cmpint (weft_test_query_int (run, "SELECT total (end_ns - start_ns) FROM waits"
                                        " WHERE kind = 'gil'"), <,
                   weft_test_query_int (run, "SELECT total (end_ns - start_ns) FROM waits"
                                        " WHERE kind = 'poll'") / 10);
  parallelism = window_parallelism (run);
  g_test_message ("threads_io: parallelism %.3f (the script measured %.2f)", parallelism,
                  weft_test_expect_int (run, "parallelism_x100") / 100.0);
  g_assert_cmpfloat (parallelism, <=, 0.5);
}

static void
test_processes_pool (void)
{
  g_test_summary ("The same work in a multiprocessing.Pool(4) runs in parallel: mean "
                  "parallelism at least 1.8 (skipped, saying so, when a busy machine did not "
                  "give the pool the CPUs by its own measure), every worker process present "
                  "with its CPU time");
  if (sysconf (_SC_NPROCESSORS_ONLN) < 2)
    {
      g_test_skip ("one CPU: processes cannot run in parallel here");
      return;
    }
  /* A loaded machine (other test suites, a busy VM host) does not give the
   * pool its CPUs: then the script itself measures less than 1.8, and that
   * is no fault of the trace. Try a few times, then say so. */
  for (guint attempt = 1; attempt <= POOL_ATTEMPTS; attempt++)
    {
      g_autoptr (WeftRun) run = record_python (DEBIAN_PYTHON, "processes_pool.py", NULL);
      gint64 processes = weft_test_expect_int (run, "processes");
      const char *pids = expect_id_list (run, "worker_pids", processes);
      double measured = weft_test_expect_int (run, "parallelism_x100") / 100.0;
      double parallelism = window_parallelism (run);

      g_assert_cmpint (weft_test_query_int (run, "SELECT count(*) FROM processes WHERE pid IN (%s)"
                                            " AND parent_id IS NOT NULL AND instrumented = 1"
                                            " AND cpu_ns > 0", pids), ==, processes);
      g_test_message ("processes_pool, attempt %u: parallelism %.3f (the script measured %.2f)",
                      attempt, parallelism, measured);
      if (parallelism >= POOL_PARALLELISM_MIN)
        return;
      /* The script saw the parallelism and the trace did not: weft's fault. */
      g_assert_cmpfloat (measured, <, POOL_PARALLELISM_MIN);
    }
  {
    g_autofree char *why = g_strdup_printf ("the machine is too busy: in %d runs the pool never "
                                            "got %.1f CPUs, by its own measure either",
                                            POOL_ATTEMPTS, POOL_PARALLELISM_MIN);

    g_test_skip (why);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/python/gil/debian-python3", test_debian_python);
  for (gint minor = 9; minor <= 13; minor++)
    {
      g_autofree char *path = g_strdup_printf ("/python/gil/pyenv-3.%d", minor);

      g_test_add_data_func (path, GINT_TO_POINTER (minor), test_pyenv_python);
    }
  g_test_add_func ("/python/gil/unknown-version", test_unknown_version);
  g_test_add_func ("/python/gil/older-version", test_older_python);
  g_test_add_func ("/python/io/concurrent", test_threads_io);
  g_test_add_func ("/python/pool/parallel", test_processes_pool);
  return g_test_run ();
}
