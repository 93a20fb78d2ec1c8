/* test-trace.c — the trace library: creating, opening and refusing files. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft-trace.h"

typedef struct
{
  char *dir;    /* a fresh temporary directory, removed with its files */
  char *path;   /* dir/trace.db, not yet existing */
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("weft-test-trace-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->dir, "trace.db", NULL);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (fixture->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_rmdir (path);
      else
        g_unlink (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

/* Asserts that opening path fails with code and a message naming the file. */
static void
assert_open_fails (const char     *path,
                   GQuark          domain,
                   int             code,
                   const char     *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = weft_trace_open (path, &error);
  g_autofree char *base = g_path_get_basename (path);

  g_assert_null (trace);
  g_assert_error (error, domain, code);
  g_test_message ("message: %s", error->message);
  g_assert_nonnull (strstr (error->message, base));
  g_assert_true (g_str_has_prefix (error->message, path));
  if (message_part != NULL)
    g_assert_nonnull (strstr (error->message, message_part));
  g_assert_null (strchr (error->message, '\n'));
}

static WeftTrace *
create_trace (const char *path)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace = weft_trace_create (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (trace);
  return trace;
}

static void
test_create_mode (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = NULL;
  struct stat st;
  mode_t old_umask;

  g_test_summary ("A new trace is readable and writable by its owner only, whatever the umask.");

  old_umask = umask (0);
  trace = create_trace (fixture->path);
  umask (old_umask);

  g_assert_cmpint (stat (fixture->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpstr (weft_trace_get_path (trace), ==, fixture->path);
}

static void
test_create_exists (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = NULL;
  g_autofree char *contents = NULL;

  g_test_summary ("Creating a trace where a file exists fails and leaves the file as it was.");

  g_assert_true (g_file_set_contents (fixture->path, "precious", -1, NULL));
  trace = weft_trace_create (fixture->path, &error);
  g_assert_null (trace);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST);
  g_assert_nonnull (strstr (error->message, fixture->path));

  g_assert_true (g_file_get_contents (fixture->path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");
}

static void
insert_rows (WeftTrace *trace)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (weft_trace_exec (trace,
                                  "INSERT INTO processes (id, pid, command) VALUES (1, 100, 'prog');"
                                  "INSERT INTO threads (id, process_id, tid, name) VALUES (1, 1, 100, 'main');"
                                  "INSERT INTO threads (id, process_id, tid, name) VALUES (2, 1, 101, 'worker');"
                                  "INSERT INTO cpu_slices VALUES (1, 0, 10, 20, 0);"
                                  "INSERT INTO cpu_slices VALUES (2, 1, 10, 30, 1);"
                                  "INSERT INTO cpu_slices VALUES (1, 0, 40, 50, 0);",
                                  &error));
  g_assert_no_error (error);
}

static void
test_open_roundtrip (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftTrace) trace = NULL;
  g_autofree char *command = NULL;
  g_autofree char *cpus = NULL;

  g_test_summary ("A created trace, with meta and rows, opens again and reads back the same.");

  trace = create_trace (fixture->path);
  g_assert_true (weft_trace_set_meta (trace, "command", "./prog --fast", &error));
  g_assert_no_error (error);
  g_assert_true (weft_trace_set_meta_int (trace, "cpus", 8, &error));
  g_assert_no_error (error);
  g_assert_true (weft_trace_set_meta (trace, "command", "./prog --faster", &error));
  g_assert_no_error (error);
  insert_rows (trace);
  g_clear_pointer (&trace, weft_trace_free);

  trace = weft_trace_open (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (trace);

  command = weft_trace_get_meta (trace, "command");
  g_assert_cmpstr (command, ==, "./prog --faster");
  cpus = weft_trace_get_meta (trace, "cpus");
  g_assert_cmpstr (cpus, ==, "8");
  g_assert_null (weft_trace_get_meta (trace, "no-such-key"));

  g_assert_cmpint (weft_trace_count_rows (trace, "processes", &error), ==, 1);
  g_assert_cmpint (weft_trace_count_rows (trace, "threads", &error), ==, 2);
  g_assert_cmpint (weft_trace_count_rows (trace, "cpu_slices", &error), ==, 3);
  g_assert_cmpint (weft_trace_count_rows (trace, "waits", &error), ==, 0);
  g_assert_cmpint (weft_trace_count_rows (trace, "meta", &error), ==, 2);
  g_assert_no_error (error);

  /* Read-only: a write is refused with an SQL error, not a crash. */
  g_assert_false (weft_trace_set_meta (trace, "command", "x", &error));
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL);
}

static void
test_open_missing (Fixture       *fixture,
                   gconstpointer  data)
{
  g_test_summary ("A missing file is NOT_FOUND, and the message names it.");
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_FOUND, "no such file");
}

static void
test_open_directory (Fixture       *fixture,
                     gconstpointer  data)
{
  g_test_summary ("A directory is NOT_FOUND, and the message says it is a directory.");
  g_assert_cmpint (g_mkdir (fixture->path, 0700), ==, 0);
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_FOUND, "directory");
}

static void
test_open_empty (Fixture       *fixture,
                 gconstpointer  data)
{
  g_test_summary ("An empty file is NOT_SQLITE, and the message says it is empty.");
  g_assert_true (g_file_set_contents (fixture->path, "", 0, NULL));
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_SQLITE, "empty");
}

static void
test_open_not_sqlite (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *junk = g_strnfill (4096, 'x');

  g_test_summary ("A text file, short or long, is NOT_SQLITE.");
  g_assert_true (g_file_set_contents (fixture->path, "hello\n", -1, NULL));
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_SQLITE,
                     "file is not a database");
  g_assert_true (g_file_set_contents (fixture->path, junk, -1, NULL));
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_SQLITE,
                     "file is not a database");
}

static void
make_sqlite_file (const char *path,
                  const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}

static void
test_open_foreign (Fixture       *fixture,
                   gconstpointer  data)
{
  g_test_summary ("Another program's SQLite database is FOREIGN, with its application_id shown.");
  make_sqlite_file (fixture->path, "CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');");
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_FOREIGN,
                     "is not a weft trace (an SQLite database with application_id 0)");
}

static void
test_open_newer_version (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);
  g_autofree char *expected = g_strdup_printf ("(format %d, this weft reads up to %d); upgrade weft",
                                               WEFT_TRACE_FORMAT_VERSION + 1,
                                               WEFT_TRACE_FORMAT_VERSION);
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", WEFT_TRACE_FORMAT_VERSION + 1);
  g_autoptr(GError) error = NULL;

  g_test_summary ("A trace of a newer format is NEWER, and the message says to upgrade weft.");
  g_assert_true (weft_trace_exec (trace, sql, &error));
  g_assert_no_error (error);
  g_clear_pointer (&trace, weft_trace_free);

  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NEWER, expected);
}

static void
test_open_missing_table (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);
  g_autoptr(GError) error = NULL;

  g_test_summary ("A trace without one of the schema's tables is CORRUPT, naming the table.");
  g_assert_true (weft_trace_exec (trace, "DROP TABLE stack_frames", &error));
  g_assert_no_error (error);
  g_clear_pointer (&trace, weft_trace_free);

  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT, "stack_frames");
}

static void
test_open_truncated (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_test_summary ("A trace cut to half its size is CORRUPT and says it is truncated.");
  g_assert_true (weft_trace_exec (trace,
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
                                  " INSERT INTO cpu_slices SELECT i % 7, i % 4, i * 10, i * 10 + 5, 0 FROM n",
                                  &error));
  g_assert_no_error (error);
  g_clear_pointer (&trace, weft_trace_free);

  g_assert_cmpint (stat (fixture->path, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 16 * 4096);
  g_assert_cmpint (truncate (fixture->path, st.st_size / 2), ==, 0);

  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT, "truncated");

  /* Shorter than the SQLite header itself. */
  g_assert_cmpint (truncate (fixture->path, 50), ==, 0);
  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT, "truncated");
}

static void
test_open_damaged_page (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);
  g_autoptr(GError) error = NULL;
  g_autofree char *zeros = g_malloc0 (4096);
  int fd;

  g_test_summary ("A trace whose schema page is overwritten is refused as damaged, not crashed on.");
  g_assert_true (weft_trace_set_meta (trace, "command", "x", &error));
  g_assert_no_error (error);
  g_clear_pointer (&trace, weft_trace_free);

  /* Page 1 holds sqlite_schema after the 100-byte header: zero the rest of it. */
  fd = open (fixture->path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, zeros, 4096 - 100, 100), ==, 4096 - 100);
  close (fd);

  assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT, NULL);
}

static void
test_prepare_cached (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);
  g_autoptr(GError) error = NULL;
  const char *sql = "SELECT :a + 1";
  sqlite3_stmt *first;
  sqlite3_stmt *second;

  g_test_summary ("The same SQL text gives the same statement, reset and with bindings cleared.");
  first = weft_trace_prepare (trace, sql, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  sqlite3_bind_int (first, 1, 41);
  g_assert_cmpint (sqlite3_step (first), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (first, 0), ==, 42);

  second = weft_trace_prepare (trace, sql, &error);
  g_assert_no_error (error);
  g_assert_true (first == second);
  g_assert_cmpint (sqlite3_step (second), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_type (second, 0), ==, SQLITE_NULL);

  g_assert_true (weft_trace_prepare (trace, "SELECT 2", &error) != first);
}

static void
test_sql_error_names_statement (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);
  g_autoptr(GError) error = NULL;

  g_test_summary ("A failing statement's error shows the file, SQLite's reason and the statement.");
  g_assert_null (weft_trace_prepare (trace, "SELECT nope FROM threads", &error));
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL);
  g_test_message ("message: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, fixture->path));
  g_assert_nonnull (strstr (error->message, "no such column: nope"));
  g_assert_nonnull (strstr (error->message, "SELECT nope FROM threads"));
  g_clear_error (&error);

  /* In a batch, the message shows the statement that failed, not the first. */
  g_assert_false (weft_trace_exec (trace,
                                   "INSERT INTO meta VALUES ('a', 1);\n"
                                   "INSERT INTO nowhere VALUES (2);\n"
                                   "INSERT INTO meta VALUES ('b', 3);",
                                   &error));
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL);
  g_assert_nonnull (strstr (error->message, "INSERT INTO nowhere VALUES (2)"));
  g_assert_null (strstr (error->message, "'a'"));
  g_clear_error (&error);

  /* A step error through the public helper. */
  g_assert_true (weft_trace_exec (trace, "INSERT INTO threads (id, process_id, tid) VALUES (7, 1, 7)", &error));
  g_assert_false (weft_trace_exec (trace, "INSERT INTO threads (id, process_id, tid) VALUES (7, 1, 8)", &error));
  g_assert_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL);
  g_assert_nonnull (strstr (error->message, "UNIQUE constraint failed"));
  g_assert_nonnull (strstr (error->message, "VALUES (7, 1, 8)"));
}

static void
test_count_unknown_table (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(WeftTrace) trace = create_trace (fixture->path);

  g_test_summary ("Counting a table that is not in weft.sql is a programming error: -1 and a critical.");
  g_test_expect_message ("weft-schema", G_LOG_LEVEL_CRITICAL, "*find_schema_table*");
  g_assert_cmpint (weft_trace_count_rows (trace, "sqlite_schema; DROP TABLE meta", NULL), ==, -1);
  g_test_assert_expected_messages ();
  g_assert_cmpint (weft_trace_count_rows (trace, "meta", NULL), ==, 0);
}

static void
test_schema_sql (void)
{
  const char *sql = weft_trace_schema_sql ();

  g_test_summary ("The compiled-in schema is weft.sql, with its pragmas.");
  g_assert_nonnull (sql);
  g_assert_nonnull (strstr (sql, "PRAGMA application_id = 1464157780"));
  g_assert_nonnull (strstr (sql, "CREATE TABLE cpu_slices"));
  g_assert_cmpint (0x57454654, ==, 1464157780);
  g_assert_true (sql == weft_trace_schema_sql ());
}

/* Rows no recording makes, in a trace without analysis_version: refused,
 * naming the table; the same rows under an analysis_version are the
 * analysis's business (clipped and counted), so the trace opens. */
static void
test_open_inconsistent (Fixture       *fixture,
                        gconstpointer  data)
{
  static const struct
  {
    const char *sql;
    const char *says;
  } cases[] = {
    { "UPDATE cpu_slices SET end_ns = 5 WHERE start_ns = 40", "1 row of cpu_slices ends before it starts" },
    { "INSERT INTO waits (thread_id, kind, start_ns, end_ns, result) VALUES (9, 'sleep', 1, 2, 'ok')",
      "1 row of waits ends before it starts or belongs to no thread" },
    { "UPDATE threads SET start_ns = 10, end_ns = 5", "2 rows of threads end before they start" },
  };

  g_test_summary ("A trace changed after its analysis (no analysis_version) with a wait or "
                  "slice ending before it starts, or of no thread, is INCONSISTENT and the "
                  "message names the table; with analysis_version it opens");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(WeftTrace) trace = create_trace (fixture->path);

      insert_rows (trace);
      g_assert_true (weft_trace_exec (trace, cases[i].sql, &error));
      g_assert_no_error (error);
      g_clear_pointer (&trace, weft_trace_free);
      assert_open_fails (fixture->path, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_INCONSISTENT, cases[i].says);

      trace = weft_trace_open_rw (fixture->path, &error);
      g_assert_nonnull (trace);
      g_assert_true (weft_trace_set_meta_int (trace, "analysis_version", 2, &error));
      g_clear_pointer (&trace, weft_trace_free);
      trace = weft_trace_open (fixture->path, &error);
      g_assert_no_error (error);
      g_assert_nonnull (trace);
      g_clear_pointer (&trace, weft_trace_free);
      g_assert_cmpint (g_unlink (fixture->path), ==, 0);
    }
}

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/schema/sql/compiled-in", test_schema_sql);
  ADD ("/schema/create/mode-0600", test_create_mode);
  ADD ("/schema/create/exists", test_create_exists);
  ADD ("/schema/open/roundtrip", test_open_roundtrip);
  ADD ("/schema/open/missing", test_open_missing);
  ADD ("/schema/open/directory", test_open_directory);
  ADD ("/schema/open/empty", test_open_empty);
  ADD ("/schema/open/not-sqlite", test_open_not_sqlite);
  ADD ("/schema/open/foreign", test_open_foreign);
  ADD ("/schema/open/newer-version", test_open_newer_version);
  ADD ("/schema/open/missing-table", test_open_missing_table);
  ADD ("/schema/open/truncated", test_open_truncated);
  ADD ("/schema/open/damaged-page", test_open_damaged_page);
  ADD ("/schema/open/inconsistent", test_open_inconsistent);
  ADD ("/schema/prepare/cached", test_prepare_cached);
  ADD ("/schema/count/unknown-table", test_count_unknown_table);
  ADD ("/schema/sql-error-names-statement", test_sql_error_names_statement);

  return g_test_run ();
}
