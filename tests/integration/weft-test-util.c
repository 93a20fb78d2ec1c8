/* weft-test-util.c — see weft-test-util.h. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "weft-test-util.h"

char *
weft_test_sample_path (const char *name)
{
  const char *dir = g_getenv ("WEFT_SAMPLES_DIR");

  g_assert_nonnull (dir);
  return g_build_filename (dir, name, NULL);
}

static void
parse_expect (WeftRun *run)
{
  g_auto (GStrv) lines = g_strsplit (run->out, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) words = g_strsplit (lines[i], " ", 3);

      if (g_strv_length (words) == 3 && strcmp (words[0], "expect") == 0)
        g_hash_table_replace (run->expect, g_strdup (words[1]), g_strdup (words[2]));
    }
}

WeftRun *
weft_test_record_argv (const char * const *record_args,
                       const char * const *argv)
{
  g_autoptr (GPtrArray) command = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  WeftRun *run = g_new0 (WeftRun, 1);
  const char *weft = g_getenv ("WEFT");
  int wait_status = 0;

  g_assert_nonnull (weft);
  run->dir = g_dir_make_tmp ("weft-test-XXXXXX", &error);
  g_assert_no_error (error);
  run->trace_path = g_build_filename (run->dir, "trace.db", NULL);
  run->expect = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_ptr_array_add (command, (char *) weft);
  g_ptr_array_add (command, "record");
  for (guint i = 0; record_args != NULL && record_args[i] != NULL; i++)
    g_ptr_array_add (command, (char *) record_args[i]);
  g_ptr_array_add (command, "-o");
  g_ptr_array_add (command, run->trace_path);
  g_ptr_array_add (command, "--");
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (command, (char *) argv[i]);
  g_ptr_array_add (command, NULL);

  g_spawn_sync (run->dir, (char **) command->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                &run->out, &run->err, &wait_status, &error);
  g_assert_no_error (error);
  if (WIFEXITED (wait_status))
    run->exit_status = WEXITSTATUS (wait_status);
  else if (WIFSIGNALED (wait_status))
    run->exit_status = 128 + WTERMSIG (wait_status);
  parse_expect (run);
  if (g_getenv ("WEFT_TEST_VERBOSE") != NULL)
    g_printerr ("%s%s", run->out, run->err);

  if (g_file_test (run->trace_path, G_FILE_TEST_EXISTS))
    g_assert_cmpint (sqlite3_open_v2 (run->trace_path, &run->db, SQLITE_OPEN_READONLY, NULL),
                     ==, SQLITE_OK);
  return run;
}

WeftRun *
weft_test_record (const char * const *record_args,
                  const char         *sample,
                  const char * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (NULL);
  g_autofree char *path = weft_test_sample_path (sample);

  g_ptr_array_add (argv, path);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  return weft_test_record_argv (record_args, (const char * const *) argv->pdata);
}

const char *
weft_test_expect (WeftRun    *run,
                  const char *key)
{
  const char *value = g_hash_table_lookup (run->expect, key);

  if (value == NULL)
    g_error ("the sample printed no 'expect %s' line; its output was:\n%s", key, run->out);
  return value;
}

gint64
weft_test_expect_int (WeftRun    *run,
                      const char *key)
{
  return g_ascii_strtoll (weft_test_expect (run, key), NULL, 10);
}

static sqlite3_stmt *
query_step (WeftRun    *run,
            const char *format,
            va_list     args)
{
  char *sql = sqlite3_vmprintf (format, args);
  sqlite3_stmt *stmt = NULL;
  int rc;

  g_assert_nonnull (run->db);
  if (sqlite3_prepare_v2 (run->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (run->db));
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    g_error ("%s: %s", sql, sqlite3_errmsg (run->db));
  sqlite3_free (sql);
  return stmt;
}

gint64
weft_test_query_int (WeftRun    *run,
                     const char *format,
                     ...)
{
  va_list args;
  sqlite3_stmt *stmt;
  gint64 value = 0;

  va_start (args, format);
  stmt = query_step (run, format, args);
  va_end (args);
  if (sqlite3_data_count (stmt) > 0)
    value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

double
weft_test_query_double (WeftRun    *run,
                        const char *format,
                        ...)
{
  va_list args;
  sqlite3_stmt *stmt;
  double value = 0;

  va_start (args, format);
  stmt = query_step (run, format, args);
  va_end (args);
  if (sqlite3_data_count (stmt) > 0)
    value = sqlite3_column_double (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

char *
weft_test_query_text (WeftRun    *run,
                      const char *format,
                      ...)
{
  va_list args;
  sqlite3_stmt *stmt;
  char *value = NULL;

  va_start (args, format);
  stmt = query_step (run, format, args);
  va_end (args);
  if (sqlite3_data_count (stmt) > 0 && sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return value;
}

void
weft_test_assert_status (WeftRun *run,
                         int      status)
{
  if (run->exit_status != status)
    g_printerr ("weft record said:\n%s\nthe program said:\n%s\n", run->err, run->out);
  g_assert_cmpint (run->exit_status, ==, status);
}

void
weft_test_assert_complete (WeftRun *run,
                           int      status)
{
  weft_test_assert_status (run, status);
  g_assert_nonnull (run->db);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'complete'"), ==, 1);
  g_assert_cmpint (weft_test_query_int (run, "SELECT value FROM meta WHERE key = 'lost_events'"), ==, 0);
  g_assert_cmpint (weft_test_query_int (run,
                     "SELECT value FROM meta WHERE key = 'analysis_anomalies'"), ==, 0);
}

#define NOBODY_ID 65534

char *
weft_test_make_setuid_copy (const char *dir)
{
  g_autofree char *sample = weft_test_sample_path ("cpu-parallel");
  g_autofree char *contents = NULL;
  char *copy = g_build_filename (dir, "suid-cpu", NULL);
  struct statvfs vfs;
  gsize length;

  if (geteuid () != 0)
    g_test_skip ("needs root: a setuid program of another user must be made");
  else if (statvfs (dir, &vfs) != 0 || (vfs.f_flag & ST_NOSUID) != 0)
    g_test_skip ("the temporary directory is mounted nosuid");
  else
    {
      g_assert_true (g_file_get_contents (sample, &contents, &length, NULL));
      g_assert_true (g_file_set_contents (copy, contents, length, NULL));
      g_assert_cmpint (chmod (dir, 0755), ==, 0);
      g_assert_cmpint (chown (copy, NOBODY_ID, NOBODY_ID), ==, 0);
      g_assert_cmpint (chmod (copy, 04755), ==, 0);
      return copy;
    }
  g_free (copy);
  return NULL;
}

void
weft_test_run_free (WeftRun *run)
{
  if (run->db != NULL)
    sqlite3_close (run->db);
  if (run->dir != NULL)
    {
      g_autofree char *old = g_strdup_printf ("%s.old", run->trace_path);

      g_unlink (run->trace_path);
      g_unlink (old);
      g_rmdir (run->dir);
    }
  g_hash_table_unref (run->expect);
  g_free (run->trace_path);
  g_free (run->dir);
  g_free (run->out);
  g_free (run->err);
  g_free (run);
}
