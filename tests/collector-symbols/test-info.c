/* test-info.c — `weft info` on good and bad traces, run in a subprocess so
 * its stdout, stderr and exit status can be checked. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "weft-commands.h"
#include "weft-trace.h"

/* The parent's temporary directory, passed to subprocesses in the environment. */
#define DIR_ENV "WEFT_TEST_INFO_DIR"

static char *
test_file (const char *name)
{
  return g_build_filename (g_getenv (DIR_ENV), name, NULL);
}

/* In the subprocess: runs `weft info ARGS…` and prints the exit status as the
 * last line of stdout, then exits with it. */
static void G_GNUC_NULL_TERMINATED G_GNUC_NORETURN
run_info (const char *first,
          ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  int status;

  g_ptr_array_add (args, (char *) "weft info");
  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (char *) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  status = weft_cmd_info (args->len - 1, (char **) args->pdata);
  printf ("[status %d]\n", status);
  fflush (stdout);
  exit (status);
}

static void
exec_ok (WeftTrace  *trace,
         const char *sql)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (weft_trace_exec (trace, sql, &error));
  g_assert_no_error (error);
}

static void
set_meta (WeftTrace  *trace,
          const char *key,
          const char *value)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (weft_trace_set_meta (trace, key, value, &error));
  g_assert_no_error (error);
}

/* A finished trace: two threads, 1200 cpu slices, a few of the rest. */
static void
make_trace (const char *path,
            const char *command,
            gboolean    complete)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = weft_trace_create (path, &error);

  g_assert_no_error (error);
  set_meta (trace, "weft_version", "0.1.0");
  set_meta (trace, "format_version", "1");
  set_meta (trace, "command", command);
  set_meta (trace, "start_ns", "8052417795112");
  set_meta (trace, "end_ns", "8064827795112");
  set_meta (trace, "cpus", "4");
  set_meta (trace, "hostname", "buildbox");
  set_meta (trace, "sched_source", "perf");
  set_meta (trace, "sched_period_ns", "0");
  set_meta (trace, "lost_events", complete ? "0" : "5");
  if (complete)
    set_meta (trace, "complete", "1");

  exec_ok (trace,
           "INSERT INTO processes (id, pid, command) VALUES (1, 100, 'prog');"
           "INSERT INTO threads (id, process_id, tid, name) VALUES (1, 1, 100, 'main'), (2, 1, 101, 'w');"
           "INSERT INTO objects (id, process_id, address, kind) VALUES (1, 1, 4096, 'mutex');"
           "INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns, result)"
           "  VALUES (2, 1, 'mutex', 10, 20, 'ok'), (1, 1, 'mutex', 30, 40, 'ok'), (2, 1, 'mutex', 50, 60, 'ok');"
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)"
           "  INSERT INTO cpu_slices SELECT 1 + i % 2, i % 4, i * 10, i * 10 + 5, 0 FROM n;");
}

static void
test_trace (void)
{
  g_autofree char *path = test_file ("good.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A sound trace prints its header facts and row counts, aligned, and exits 0.");
  make_trace (path, "make -j4", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("");
  g_test_trap_assert_stdout ("trace         */good.db (*)\n"
                             "command       make -j4\n"
                             "recorded by   weft 0.1.0, trace format 1\n"
                             "started       2 h 14 min after boot (CLOCK_MONOTONIC 8052417795112 ns)\n"
                             "duration      12.41 s\n"
                             "cpus          4\n"
                             "host          buildbox\n"
                             "scheduling    perf: exact context switches\n"
                             "lost events   0\n"
                             "complete      yes\n"
                             "\n"
                             "rows\n"
                             "  processes      1\n"
                             "  threads        2\n"
                             "  objects        1\n"
                             "  waits          3\n"
                             "  cpu_slices  1200\n"
                             "  stacks         0\n"
                             "  frames         0\n"
                             "[status 0]\n");
}

static void
test_incomplete (void)
{
  g_autofree char *path = test_file ("incomplete.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A trace that was not finalized, or lost events, says so.");
  make_trace (path, "prog", FALSE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*\nlost events   5 (events are missing*\ncomplete      no: not finalized*");
}

static void
test_escapes (void)
{
  g_autofree char *path = test_file ("escapes.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("Control characters from the trace reach the terminal as visible escapes.");
  make_trace (path, "evil\x1b]0;pwned\x07 \x1b[2J\xff\xc2\x9b", TRUE);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(WeftTrace) trace = NULL;

    /* Reopen read-write through SQLite to add an unknown meta key. */
    sqlite3 *db = NULL;
    g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_exec (db, "INSERT INTO meta VALUES ('note\x1b', 'from a newer\nweft')",
                                   NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close (db);
    trace = weft_trace_open (path, &error);
    g_assert_no_error (error);
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*\x1b*");
  g_test_trap_assert_stdout_unmatched ("*\x07*");
  g_test_trap_assert_stdout ("*\ncommand       evil\\x1b]0;pwned\\x07 \\x1b[2J\\xff\\u009b\n*");
  g_test_trap_assert_stdout ("*\nnote\\x1b      from a newer\\x0aweft\n*");
}

static void
assert_failed_with (const char *stderr_pattern)
{
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 1]\n");
  g_test_trap_assert_stderr (stderr_pattern);
  /* One line: a single newline, at the end. */
  g_test_trap_assert_stderr_unmatched ("*\n*\n*");
}

static void
test_missing (void)
{
  g_autofree char *path = test_file ("missing.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A missing file: one line naming it, exit 1.");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  assert_failed_with ("weft info: */missing.db: no such file\n");
}

static void
test_directory (void)
{
  g_autofree char *path = test_file ("a-directory.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A directory: one line naming it, exit 1.");
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  assert_failed_with ("weft info: */a-directory.db: is a directory, not a trace file\n");
}

static void
test_not_sqlite (void)
{
  g_autofree char *path = test_file ("notes.txt");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A text file: one line saying it is not a database, exit 1.");
  g_assert_true (g_file_set_contents (path, "shopping list\n", -1, NULL));
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  assert_failed_with ("weft info: */notes.txt: is not a weft trace (file is not a database*)\n");
}

static void
test_foreign (void)
{
  g_autofree char *path = test_file ("other.sqlite");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("Another program's database: one line with its application_id, exit 1.");
  {
    sqlite3 *db = NULL;
    g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_exec (db, "PRAGMA application_id = 42; CREATE TABLE t (x);",
                                   NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close (db);
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  assert_failed_with ("weft info: */other.sqlite: is not a weft trace (an SQLite database with application_id 42)\n");
}

static void
test_newer (void)
{
  g_autofree char *path = test_file ("newer.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A trace from a newer weft: one line telling to upgrade, exit 1.");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(WeftTrace) trace = weft_trace_create (path, &error);
    g_assert_no_error (error);
    exec_ok (trace, "PRAGMA user_version = 7");
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  assert_failed_with ("weft info: */newer.db: was recorded by a newer weft (format 7, this weft reads up to 1); upgrade weft\n");
}

static void
test_truncated (void)
{
  g_autofree char *path = test_file ("truncated.db");

  if (g_test_subprocess ())
    run_info (path, NULL);

  g_test_summary ("A truncated trace: one line saying so, exit 1, and nothing on stdout.");
  {
    GStatBuf st;
    make_trace (path, "prog", TRUE);
    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_assert_cmpint (truncate (path, st.st_size / 2), ==, 0);
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  assert_failed_with ("weft info: */truncated.db: is truncated (*\n");
}

static void
test_usage (void)
{
  if (g_test_subprocess ())
    {
      const char *which = g_getenv ("WEFT_TEST_INFO_USAGE");

      if (g_strcmp0 (which, "none") == 0)
        run_info (NULL, NULL);
      else if (g_strcmp0 (which, "two") == 0)
        run_info ("a.db", "b.db", NULL);
      else
        run_info ("--frobnicate", "a.db", NULL);
    }

  g_test_summary ("No file, two files or an unknown option: a usage line, exit 2.");
  g_setenv ("WEFT_TEST_INFO_USAGE", "none", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stdout ("[status 2]\n");
  g_test_trap_assert_stderr ("weft info: expected one trace file*; see 'weft info --help'\n");

  g_setenv ("WEFT_TEST_INFO_USAGE", "two", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_stdout ("[status 2]\n");
  g_test_trap_assert_stderr ("weft info: expected one trace file*\n");

  g_setenv ("WEFT_TEST_INFO_USAGE", "option", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_stdout ("[status 2]\n");
  g_test_trap_assert_stderr ("weft info: *--frobnicate*; see 'weft info --help'\n");
  g_unsetenv ("WEFT_TEST_INFO_USAGE");
}

static void
test_help (void)
{
  if (g_test_subprocess ())
    run_info ("--help", NULL);

  g_test_summary ("--help prints usage with a worked example on stdout and exits 0.");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("");
  g_test_trap_assert_stdout ("Usage:*FILE*Example:*weft info build.db*[status 0]\n");
}

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        g_rmdir (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  if (!g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;

      dir = g_dir_make_tmp ("weft-test-info-XXXXXX", &error);
      g_assert_no_error (error);
      g_setenv (DIR_ENV, dir, TRUE);
    }

  g_test_add_func ("/collector/info/trace", test_trace);
  g_test_add_func ("/collector/info/incomplete", test_incomplete);
  g_test_add_func ("/collector/info/escapes", test_escapes);
  g_test_add_func ("/collector/info/missing", test_missing);
  g_test_add_func ("/collector/info/directory", test_directory);
  g_test_add_func ("/collector/info/not-sqlite", test_not_sqlite);
  g_test_add_func ("/collector/info/foreign", test_foreign);
  g_test_add_func ("/collector/info/newer-version", test_newer);
  g_test_add_func ("/collector/info/truncated", test_truncated);
  g_test_add_func ("/collector/info/usage", test_usage);
  g_test_add_func ("/collector/info/help", test_help);

  status = g_test_run ();
  if (dir != NULL)
    remove_dir (dir);
  return status;
}
