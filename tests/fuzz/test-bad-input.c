/* test-bad-input.c — every command on every kind of bad input (issue 6).
 *
 * For each input (a missing file, a directory, an empty file, a file that is
 * not SQLite, a foreign SQLite database, a truncated trace, a trace of a newer
 * format, a trace whose tables are missing) and each command (`weft report`
 * in every format, `weft export` in both, `weft info`, `weft-view
 * --screenshot`): one line on stderr naming the file, a non-zero exit, no
 * crash, nothing left under the output name. A trace whose rows are
 * inconsistent (negative durations, unknown threads, overlapping slices,
 * huge times) and changed after its analysis is refused the same way (rows
 * that are merely odd, such as overlaps, are clipped and counted in
 * analysis_anomalies by the analysis; see test-analysis). A trace whose derived tables are from an older
 * analysis is reported (re-analysed). Unknown options and bad --span values: one line,
 * a non-zero exit.
 */
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "fuzz-run.h"

static char *dir;
static char *good;

typedef struct
{
  const char *name;
  void      (*make) (const char *path);
  gboolean    refused;  /* every command must refuse it */
  gboolean    works;    /* every command must accept it */
} BadInput;

static void
exec_sql (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
  sqlite3_close (db);
}

static void
copy_good (const char *path)
{
  g_autofree char *data = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (good, &data, &length, NULL));
  g_assert_true (g_file_set_contents (path, data, length, NULL));
}

static void make_missing (const char *path) { (void) path; }
static void make_directory (const char *path) { g_assert_cmpint (g_mkdir (path, 0700), ==, 0); }
static void make_empty (const char *path) { g_assert_true (g_file_set_contents (path, "", 0, NULL)); }

static void
make_text (const char *path)
{
  g_assert_true (g_file_set_contents (path, "#!/bin/sh\necho this is not a trace\n", -1, NULL));
}

static void
make_foreign (const char *path)
{
  exec_sql (path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('hi')");
}

static void
make_truncated (const char *path)
{
  g_autofree char *data = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (good, &data, &length, NULL));
  g_assert_true (g_file_set_contents (path, data, length / 2, NULL));
}

static void
make_newer (const char *path)
{
  copy_good (path);
  exec_sql (path, "PRAGMA user_version = 99");
}

/* A newer format named only in meta (the file's own is this weft's). */
static void
make_newer_meta (const char *path)
{
  copy_good (path);
  exec_sql (path, "UPDATE meta SET value = '999' WHERE key = 'format_version'");
}

/* meta and the file disagree on the format: edited by hand. */
static void
make_format_mismatch (const char *path)
{
  copy_good (path);
  exec_sql (path, "UPDATE meta SET value = '0' WHERE key = 'format_version'");
}

static void
make_no_threads_table (const char *path)
{
  copy_good (path);
  exec_sql (path, "DROP TABLE threads");
}

static void
make_inconsistent (const char *path)
{
  copy_good (path);
  exec_sql (path,
    /* negative durations */
    "UPDATE cpu_slices SET end_ns = start_ns - 5000 WHERE rowid % 7 = 0;"
    "UPDATE waits SET end_ns = start_ns - 100 WHERE id % 5 = 0;"
    /* unknown threads, objects, stacks and holders */
    "INSERT INTO cpu_slices (thread_id, cpu, start_ns, end_ns, preempted)"
    "  VALUES (9999, 0, 1000000000000, 1000000500000, 0);"
    "INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns, result, holder_thread_id, stack_id)"
    "  VALUES (8888, 7777, 'mutex', 1000000000000, 1000000100000, 'ok', 6666, 5555);"
    "INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns, result, holder_thread_id, stack_id)"
    "  VALUES (1, 7777, 'frobnicate', 1000000000000, 1000000100000, 'ok', 1, 5555);"
    /* overlapping slices, and slices far outside the trace */
    "INSERT INTO cpu_slices (thread_id, cpu, start_ns, end_ns, preempted)"
    "  SELECT thread_id, cpu + 1, start_ns + 10, end_ns + 100000, preempted FROM cpu_slices WHERE rowid % 3 = 0;"
    "INSERT INTO cpu_slices (thread_id, cpu, start_ns, end_ns, preempted)"
    "  VALUES (1, -5, -9223372036854775000, 9223372036854775000, 7);"
    /* a thread that ends before it starts, a process with a dangling parent */
    "UPDATE threads SET end_ns = start_ns - 1 WHERE id = 2;"
    "UPDATE processes SET parent_id = 4242 WHERE id = 1;"
    /* re-analysed by the readers */
    "DELETE FROM meta WHERE key = 'analysis_version';");
}

/* A trace analysed by an older weft, from before profile_summary: its raw
 * tables are what counts; readers re-analyse it. */
static void
make_old_analysis (const char *path)
{
  copy_good (path);
  exec_sql (path, "DROP TABLE profile_summary; UPDATE meta SET value = 1 WHERE key = 'analysis_version'");
}

static const BadInput inputs[] = {
  { "missing", make_missing, TRUE },
  { "directory", make_directory, TRUE },
  { "empty", make_empty, TRUE },
  { "not-sqlite", make_text, TRUE },
  { "foreign", make_foreign, TRUE },
  { "truncated", make_truncated, TRUE },
  { "newer", make_newer, TRUE },
  { "newer-meta", make_newer_meta, TRUE },
  { "format-mismatch", make_format_mismatch, TRUE },
  { "no-threads-table", make_no_threads_table, TRUE },
  { "inconsistent", make_inconsistent, TRUE },
  { "old-analysis", make_old_analysis, FALSE, TRUE },
};

typedef struct
{
  const BadInput    *input;
  const FuzzCommand *command;
} Case;

static char *
input_path (const BadInput *input)
{
  return g_strdup_printf ("%s/%s.db", dir, input->name);
}

static void
test_bad_input (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *path = input_path (c->input);
  FuzzResult result;

  fuzz_run (c->command, path, dir, &result);
  if (!result.ran)
    {
      g_test_skip ("the program is not available (WEFT_VIEW, xvfb-run)");
      return;
    }
  if (c->input->refused)
    fuzz_assert_refused (&result, path, TRUE);
  else if (c->input->works)
    g_assert_true (fuzz_assert_handled (&result, c->command, path));
  else
    fuzz_assert_handled (&result, c->command, path);
  g_remove (result.out);
  fuzz_result_clear (&result);
}

static void
test_good_input (gconstpointer data)
{
  const FuzzCommand *command = data;
  FuzzResult result;

  fuzz_run (command, good, dir, &result);
  if (!result.ran)
    {
      g_test_skip ("the program is not available (WEFT_VIEW, xvfb-run)");
      return;
    }
  g_assert_true (fuzz_assert_handled (&result, command, good));
  g_remove (result.out);
  fuzz_result_clear (&result);
}

/* Bad options, on a good trace. */
static const FuzzCommand bad_options[] = {
  { "report-unknown-option", { "@WEFT", "report", "--frobnicate", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-unknown-format", { "@WEFT", "report", "--format", "pdf", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-span-reversed", { "@WEFT", "report", "--span", "5ms:2ms", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-span-garbage", { "@WEFT", "report", "--span", "abc", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-span-unit", { "@WEFT", "report", "--span", "1parsec:", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-span-after-end", { "@WEFT", "report", "--span", "100s:", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-span-huge", { "@WEFT", "report", "--span", "99999999999999999999s:", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-span-negative", { "@WEFT", "report", "--span", "-5ms:", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-top-garbage", { "@WEFT", "report", "--top", "many", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-top-negative", { "@WEFT", "report", "--top", "-1", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-two-files", { "@WEFT", "report", "@FILE", "@FILE", "-o", "@OUT" }, TRUE },
  { "export-unknown-option", { "@WEFT", "export", "--frobnicate", "--format", "chrome", "@FILE", "-o", "@OUT" }, TRUE },
  { "export-unknown-format", { "@WEFT", "export", "--format", "svg", "@FILE", "-o", "@OUT" }, TRUE },
  { "info-unknown-option", { "@WEFT", "info", "--frobnicate", "@FILE" }, FALSE },
  { "view-unknown-option", { "@VIEW", "--frobnicate", "--screenshot", "@OUT", "@FILE" }, TRUE },
  { "view-bad-size", { "@VIEW", "--screenshot", "@OUT", "--size", "huge", "@FILE" }, TRUE },
};

static void
test_bad_option (gconstpointer data)
{
  const FuzzCommand *command = data;
  FuzzResult result;

  fuzz_run (command, good, dir, &result);
  if (!result.ran)
    {
      g_test_skip ("the program is not available (WEFT_VIEW, xvfb-run)");
      return;
    }
  fuzz_assert_refused (&result, good, FALSE);
  fuzz_result_clear (&result);
}

static void
remove_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (path);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Each command on each kind of bad input and bad option: one line naming"
                  " the file, a non-zero exit, no crash, no output file left.");
  dir = g_dir_make_tmp ("weft-bad-input-XXXXXX", &error);
  g_assert_no_error (error);
  good = g_build_filename (dir, "good.db", NULL);
  fuzz_make_trace (good, 2000);
  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autofree char *path = input_path (&inputs[i]);

      inputs[i].make (path);
      for (gsize c = 0; c < fuzz_n_commands; c++)
        {
          Case *one = g_new (Case, 1);
          g_autofree char *test_path = g_strdup_printf ("/fuzz/bad-input/%s/%s", inputs[i].name,
                                                        fuzz_commands[c].name);

          one->input = &inputs[i];
          one->command = &fuzz_commands[c];
          g_ptr_array_add (cases, one);
          g_test_add_data_func (test_path, one, test_bad_input);
        }
    }
  for (gsize c = 0; c < fuzz_n_commands; c++)
    {
      g_autofree char *test_path = g_strdup_printf ("/fuzz/good-input/%s", fuzz_commands[c].name);

      g_test_add_data_func (test_path, &fuzz_commands[c], test_good_input);
    }
  for (gsize c = 0; c < G_N_ELEMENTS (bad_options); c++)
    {
      g_autofree char *test_path = g_strdup_printf ("/fuzz/bad-option/%s", bad_options[c].name);

      g_test_add_data_func (test_path, &bad_options[c], test_bad_option);
    }
  status = g_test_run ();
  remove_tree (dir);
  g_free (good);
  g_free (dir);
  return status;
}
