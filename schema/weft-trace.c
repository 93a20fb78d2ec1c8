/* weft-trace.c — open, create and validate weft traces.
 *
 * Opening checks from the outside in, so each kind of bad input gets its own
 * message: the file system (missing, a directory), the first 100 bytes (empty,
 * not SQLite, not ours, too new, truncated against the page count the header
 * promises), then SQLite itself (the tables and columns of weft.sql, the first
 * row of each). The whole-file `PRAGMA quick_check` is not run: it reads every
 * page, and `weft info` must stay fast on a trace of gigabytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "weft-schema-resources.h"
#include "weft-trace.h"

#define SCHEMA_RESOURCE_PATH "/org/weft/schema/weft.sql"
#define SQLITE_HEADER_BYTES 100
#define SQL_IN_MESSAGE_MAX_CHARS 200

struct _WeftTrace
{
  sqlite3    *db;
  char       *path;
  char       *display_name;  /* path in UTF-8, for messages */
  GHashTable *statements;    /* SQL text (owned) -> sqlite3_stmt (finalized) */
};

/* A table of weft.sql with its columns, learnt from the schema itself. */
typedef struct
{
  char  *name;
  GStrv  columns;
  gboolean derived;  /* below weft.sql's DERIVED TABLES heading: rebuilt, not checked */
} SchemaTable;

G_DEFINE_QUARK (weft-trace-error-quark, weft_trace_error)

const char *
weft_trace_schema_sql (void)
{
  /* Kept for the process's life: sql points into it. */
  static GBytes *bytes;
  static const char *sql;

  if (g_once_init_enter (&sql))
    {
      /* Resource data is static and always NUL-terminated. */
      bytes = g_resource_lookup_data (weft_schema_get_resource (),
                                      SCHEMA_RESOURCE_PATH,
                                      G_RESOURCE_LOOKUP_FLAGS_NONE,
                                      NULL);
      g_assert_nonnull (bytes);
      g_once_init_leave (&sql, g_bytes_get_data (bytes, NULL));
    }
  return sql;
}

/* Runs schema statements one by one on db, stopping at the first failure.
 * On failure, *failed_sql is the failing statement (newly allocated). */
static int
exec_each (sqlite3     *db,
           const char  *sql,
           char       **failed_sql)
{
  const char *next = sql;

  while (next != NULL && *next != '\0')
    {
      sqlite3_stmt *stmt = NULL;
      const char *tail = NULL;
      int rc = sqlite3_prepare_v2 (db, next, -1, &stmt, &tail);

      if (rc == SQLITE_OK && stmt != NULL)
        {
          do
            rc = sqlite3_step (stmt);
          while (rc == SQLITE_ROW);
          if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        }
      if (rc != SQLITE_OK)
        {
          if (failed_sql != NULL)
            *failed_sql = g_strndup (next, tail != NULL && tail > next ? (gsize) (tail - next) : strlen (next));
          /* Keep the error of the failing statement: finalize does not reset it
           * for prepare errors, and step errors are already recorded. */
          sqlite3_finalize (stmt);
          return rc;
        }
      sqlite3_finalize (stmt);
      next = tail;
    }
  return SQLITE_OK;
}

static void
schema_table_free (gpointer data)
{
  SchemaTable *table = data;

  g_free (table->name);
  g_strfreev (table->columns);
  g_free (table);
}

static const char table_columns_sql[] =
  "SELECT name FROM pragma_table_info (:table) ORDER BY cid";

/* The column names of table (an empty list if there is no such table), or
 * NULL with *rc_out set when the database could not be read. */
static GStrv
read_columns (sqlite3    *db,
              const char *table,
              int        *rc_out)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, table_columns_sql, -1, &stmt, NULL);

  if (rc == SQLITE_OK)
    {
      sqlite3_bind_text (stmt, 1, table, -1, SQLITE_TRANSIENT);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        g_strv_builder_add (builder, (const char *) sqlite3_column_text (stmt, 0));
    }
  sqlite3_finalize (stmt);
  if (rc_out != NULL)
    *rc_out = rc;
  if (rc != SQLITE_DONE)
    return NULL;
  return g_strv_builder_end (builder);
}

/* Whether weft.sql creates table below its DERIVED TABLES heading. */
static gboolean
is_derived (const char *table)
{
  const char *sql = weft_trace_schema_sql ();
  const char *marker = strstr (sql, "\n-- DERIVED TABLES\n");
  g_autofree char *create = g_strdup_printf ("CREATE TABLE %s (", table);
  const char *at = strstr (sql, create);

  return marker != NULL && at != NULL && at > marker;
}

/* The tables of weft.sql, in schema order, learnt once by applying the schema
 * to an in-memory database, so this list can never drift from weft.sql. */
static GPtrArray *
schema_tables (void)
{
  static GPtrArray *tables;

  if (g_once_init_enter (&tables))
    {
      GPtrArray *list = g_ptr_array_new_with_free_func (schema_table_free);
      sqlite3 *db = NULL;
      sqlite3_stmt *stmt = NULL;

      if (sqlite3_open_v2 (":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK
          || exec_each (db, weft_trace_schema_sql (), NULL) != SQLITE_OK
          || sqlite3_prepare_v2 (db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid",
                                 -1, &stmt, NULL) != SQLITE_OK)
        g_error ("weft.sql, compiled into weft, does not apply: %s", sqlite3_errmsg (db));

      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          SchemaTable *table = g_new0 (SchemaTable, 1);

          table->name = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
          table->columns = read_columns (db, table->name, NULL);
          table->derived = is_derived (table->name);
          g_assert_nonnull (table->columns);
          g_ptr_array_add (list, table);
        }
      sqlite3_finalize (stmt);
      sqlite3_close (db);
      g_once_init_leave (&tables, list);
    }
  return tables;
}

static const SchemaTable *
find_schema_table (const char *name)
{
  GPtrArray *tables = schema_tables ();

  for (guint i = 0; i < tables->len; i++)
    {
      const SchemaTable *table = g_ptr_array_index (tables, i);

      if (g_strcmp0 (table->name, name) == 0)
        return table;
    }
  return NULL;
}

static void
statement_free (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static WeftTrace *
trace_new (const char *path)
{
  WeftTrace *trace = g_new0 (WeftTrace, 1);

  trace->path = g_strdup (path);
  trace->display_name = g_filename_display_name (path);
  trace->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             statement_free);
  return trace;
}

void
weft_trace_free (WeftTrace *trace)
{
  if (trace == NULL)
    return;
  /* Statements first: sqlite3_close refuses a connection with live ones. */
  g_clear_pointer (&trace->statements, g_hash_table_unref);
  sqlite3_close (trace->db);
  g_free (trace->path);
  g_free (trace->display_name);
  g_free (trace);
}

sqlite3 *
weft_trace_get_db (WeftTrace *trace)
{
  g_return_val_if_fail (trace != NULL, NULL);
  return trace->db;
}

const char *
weft_trace_get_path (WeftTrace *trace)
{
  g_return_val_if_fail (trace != NULL, NULL);
  return trace->path;
}

/* Shortens a statement, or SQLite's message about one (which quotes the
 * damaged file's schema), for a one-line message: whitespace runs become one
 * space, other control characters '?', invalid UTF-8 is replaced, and a long
 * text (the schema) is cut with an ellipsis. */
static char *
sql_for_message (const char *text)
{
  GString *out = g_string_new (NULL);
  gboolean in_space = FALSE;
  g_autofree char *sql = g_utf8_make_valid (text, -1);

  for (const char *p = sql; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p))
        {
          in_space = TRUE;
          continue;
        }
      if (in_space && out->len > 0)
        g_string_append_c (out, ' ');
      in_space = FALSE;
      if (out->len >= SQL_IN_MESSAGE_MAX_CHARS)
        {
          /* Cut on a UTF-8 character boundary. */
          const char *end = g_utf8_find_prev_char (out->str, out->str + out->len);
          g_string_truncate (out, end != NULL ? (gsize) (end - out->str) : out->len);
          g_string_append (out, "…");
          break;
        }
      g_string_append_c (out, g_ascii_iscntrl (*p) ? '?' : *p);
    }
  return g_string_free (out, FALSE);
}

static WeftTraceError
error_code_for_sqlite (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_CORRUPT:
      return WEFT_TRACE_ERROR_CORRUPT;
    case SQLITE_NOTADB:
      return WEFT_TRACE_ERROR_NOT_SQLITE;
    default:
      return WEFT_TRACE_ERROR_SQL;
    }
}

static gboolean
set_sql_error (WeftTrace   *trace,
               int          rc,
               const char  *sql,
               GError     **error)
{
  g_autofree char *shown = sql != NULL ? sql_for_message (sql) : NULL;
  g_autofree char *message = sql_for_message (trace->db != NULL ? sqlite3_errmsg (trace->db)
                                                                : sqlite3_errstr (rc));

  if (shown != NULL)
    g_set_error (error, WEFT_TRACE_ERROR, error_code_for_sqlite (rc),
                 "%s: %s (in: %s)", trace->display_name, message, shown);
  else
    g_set_error (error, WEFT_TRACE_ERROR, error_code_for_sqlite (rc),
                 "%s: %s", trace->display_name, message);
  return FALSE;
}

gboolean
weft_trace_sql_error (WeftTrace   *trace,
                      const char  *sql,
                      GError     **error)
{
  g_return_val_if_fail (trace != NULL, FALSE);
  return set_sql_error (trace, sqlite3_extended_errcode (trace->db), sql, error);
}

gboolean
weft_trace_exec (WeftTrace   *trace,
                 const char  *sql,
                 GError     **error)
{
  g_autofree char *failed = NULL;
  int rc;

  g_return_val_if_fail (trace != NULL, FALSE);
  g_return_val_if_fail (sql != NULL, FALSE);

  rc = exec_each (trace->db, sql, &failed);
  if (rc != SQLITE_OK)
    return set_sql_error (trace, rc, failed, error);
  return TRUE;
}

sqlite3_stmt *
weft_trace_prepare (WeftTrace   *trace,
                    const char  *sql,
                    GError     **error)
{
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (trace != NULL, NULL);
  g_return_val_if_fail (sql != NULL, NULL);

  stmt = g_hash_table_lookup (trace->statements, sql);
  if (stmt != NULL)
    {
      /* reset reports the last step's error again: it is not ours to keep. */
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }

  rc = sqlite3_prepare_v3 (trace->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sql_error (trace, rc, sql, error);
      return NULL;
    }
  g_hash_table_insert (trace->statements, g_strdup (sql), stmt);
  return stmt;
}

/* Steps a statement that returns at most one row and no error. */
static gboolean
step_done (WeftTrace     *trace,
           sqlite3_stmt  *stmt,
           const char    *sql,
           GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      set_sql_error (trace, rc, sql, error);
      sqlite3_reset (stmt);
      return FALSE;
    }
  sqlite3_reset (stmt);
  return TRUE;
}

char *
weft_trace_get_meta (WeftTrace  *trace,
                     const char *key)
{
  static const char sql[] = "SELECT value FROM meta WHERE key = :key";
  sqlite3_stmt *stmt;
  char *value = NULL;

  g_return_val_if_fail (trace != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  stmt = weft_trace_prepare (trace, sql, NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);
  return value;
}

gboolean
weft_trace_get_meta_int (WeftTrace  *trace,
                         const char *key,
                         gint64     *value)
{
  g_autofree char *text = weft_trace_get_meta (trace, key);

  return text != NULL && g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, value, NULL);
}

static const char set_meta_sql[] =
  "INSERT OR REPLACE INTO meta (key, value) VALUES (:key, :value)";

gboolean
weft_trace_set_meta (WeftTrace   *trace,
                     const char  *key,
                     const char  *value,
                     GError     **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (trace != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  stmt = weft_trace_prepare (trace, set_meta_sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  if (value != NULL)
    sqlite3_bind_text (stmt, 2, value, -1, SQLITE_TRANSIENT);
  return step_done (trace, stmt, set_meta_sql, error);
}

gboolean
weft_trace_set_meta_int (WeftTrace   *trace,
                         const char  *key,
                         gint64       value,
                         GError     **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (trace != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  stmt = weft_trace_prepare (trace, set_meta_sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, value);
  return step_done (trace, stmt, set_meta_sql, error);
}

/* count(*) is exact and lets SQLite walk the smallest b-tree that has every
 * row (an index when there is one: cpu_slices_by_thread for cpu_slices), so
 * it reads the leaf pages' cell counts, never the rows themselves. */
gint64
weft_trace_count_rows (WeftTrace   *trace,
                       const char  *table,
                       GError     **error)
{
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt;
  gint64 count = -1;
  int rc;

  g_return_val_if_fail (trace != NULL, -1);
  g_return_val_if_fail (table != NULL && find_schema_table (table) != NULL, -1);

  sql = g_strdup_printf ("SELECT count(*) FROM \"%s\"", table);
  stmt = weft_trace_prepare (trace, sql, error);
  if (stmt == NULL)
    return -1;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  else
    set_sql_error (trace, rc, sql, error);
  sqlite3_reset (stmt);
  return count;
}

/* Opening, outside in. */

static gboolean
check_file (const char   *path,
            const char   *name,
            struct stat  *st,
            GError      **error)
{
  if (stat (path, st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT || saved_errno == ENOTDIR)
        g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_FOUND,
                     "%s: no such file", name);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                     "%s: %s", name, g_strerror (saved_errno));
      return FALSE;
    }
  if (S_ISDIR (st->st_mode))
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_FOUND,
                   "%s: is a directory, not a trace file", name);
      return FALSE;
    }
  if (!S_ISREG (st->st_mode))
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_FOUND,
                   "%s: is not a regular file, so not a trace", name);
      return FALSE;
    }
  if (st->st_size == 0)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_SQLITE,
                   "%s: is empty (0 bytes), not a trace", name);
      return FALSE;
    }
  return TRUE;
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* Reads up to the first 100 bytes of path (the SQLite database header);
 * *got_bytes says how many there were. */
static gboolean
read_header (const char  *path,
             const char  *name,
             guint8       header[SQLITE_HEADER_BYTES],
             gssize      *got_bytes,
             GError     **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int saved_errno;

  if (fd >= 0)
    {
      do
        *got_bytes = pread (fd, header, SQLITE_HEADER_BYTES, 0);
      while (*got_bytes < 0 && errno == EINTR);
      saved_errno = errno;
      close (fd);
      if (*got_bytes >= 0)
        return TRUE;
    }
  else
    saved_errno = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "%s: cannot read: %s", name, g_strerror (saved_errno));
  return FALSE;
}

/* The database fits in the file: the header's page count (trusted only when
 * version-valid-for matches the change counter, as SQLite >= 3.7.0 always
 * writes it) times the page size is no more than the file's size. */
static gboolean
check_page_count (const guint8       header[SQLITE_HEADER_BYTES],
                  const char        *name,
                  const struct stat *st,
                  GError           **error)
{
  guint32 page_bytes = ((guint32) header[16] << 8) | header[17];
  guint32 page_count = be32 (header + 28);
  gboolean page_count_valid = be32 (header + 24) == be32 (header + 92);

  if (page_bytes == 1)
    page_bytes = 65536;
  if (page_bytes < 512 || page_bytes > 65536 || (page_bytes & (page_bytes - 1)) != 0)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s: is damaged (page size %" G_GUINT32_FORMAT " in its header)", name, page_bytes);
      return FALSE;
    }
  if (page_count_valid && (guint64) page_count * page_bytes > (guint64) st->st_size)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s: is truncated (%" G_GUINT64_FORMAT " bytes of %" G_GUINT64_FORMAT
                   "); the recording was cut short or the copy is incomplete",
                   name, (guint64) st->st_size, (guint64) page_count * page_bytes);
      return FALSE;
    }
  return TRUE;
}

/* Checks the SQLite header, in this order: SQLite magic, application_id,
 * user_version, then that the file holds every page the header says it has
 * (a truncated copy or an interrupted write is caught here, before any
 * query). Offsets per sqlite.org/fileformat.html. */
static gboolean
check_header (const char         *path,
              const char         *name,
              const struct stat  *st,
              GError            **error)
{
  static const char magic[16] = "SQLite format 3";  /* with its NUL */
  guint8 header[SQLITE_HEADER_BYTES];
  guint32 application_id, user_version;
  gssize got;

  if (!read_header (path, name, header, &got, error))
    return FALSE;
  if (got < (gssize) sizeof magic || memcmp (header, magic, sizeof magic) != 0)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_SQLITE,
                   "%s: is not a weft trace (file is not a database: no SQLite header)", name);
      return FALSE;
    }
  if (got < SQLITE_HEADER_BYTES)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s: is truncated (%" G_GSSIZE_FORMAT " bytes, shorter than an SQLite header)",
                   name, got);
      return FALSE;
    }

  application_id = be32 (header + 68);
  user_version = be32 (header + 60);
  if (application_id != WEFT_TRACE_APPLICATION_ID)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_FOREIGN,
                   "%s: is not a weft trace (an SQLite database with application_id %" G_GUINT32_FORMAT ")",
                   name, application_id);
      return FALSE;
    }
  if (user_version > WEFT_TRACE_FORMAT_VERSION)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NEWER,
                   "%s: was recorded by a newer weft (format %" G_GUINT32_FORMAT
                   ", this weft reads up to %d); upgrade weft",
                   name, user_version, WEFT_TRACE_FORMAT_VERSION);
      return FALSE;
    }
  if (user_version == 0)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s: is damaged: a weft trace without a format version (user_version 0)", name);
      return FALSE;
    }
  return check_page_count (header, name, st, error);
}

/* Checks that every raw table of weft.sql is there with every column, and reads
 * the first row of each (which touches each table's root and leftmost pages). */
static gboolean
check_tables (WeftTrace  *trace,
              GError    **error)
{
  GPtrArray *tables = schema_tables ();

  for (guint i = 0; i < tables->len; i++)
    {
      const SchemaTable *table = g_ptr_array_index (tables, i);
      g_autofree char *sql = NULL;
      sqlite3_stmt *stmt = NULL;
      int rc;
      g_auto(GStrv) present = NULL;

      /* Derived tables are the analysis's: a trace from before one was added
       * is re-analysed by its readers (weft_analysis_is_current), not refused. */
      if (table->derived)
        continue;
      present = read_columns (trace->db, table->name, &rc);
      if (present == NULL)
        return set_sql_error (trace, rc, table_columns_sql, error);
      if (present[0] == NULL)
        {
          g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                       "%s: is damaged: table '%s' is missing", trace->display_name, table->name);
          return FALSE;
        }
      for (guint c = 0; table->columns[c] != NULL; c++)
        if (!g_strv_contains ((const char * const *) present, table->columns[c]))
          {
            g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                         "%s: is damaged: table '%s' has no column '%s'",
                         trace->display_name, table->name, table->columns[c]);
            return FALSE;
          }

      sql = g_strdup_printf ("SELECT * FROM \"%s\" LIMIT 1", table->name);
      rc = sqlite3_prepare_v2 (trace->db, sql, -1, &stmt, NULL);
      if (rc == SQLITE_OK)
        rc = sqlite3_step (stmt);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        {
          set_sql_error (trace, rc, sql, error);
          sqlite3_finalize (stmt);
          return FALSE;
        }
      sqlite3_finalize (stmt);
    }
  return TRUE;
}

/* Reading sqlite_schema is the first thing SQLite does with a file; its
 * failure says what the file is better than any later statement would. */
static gboolean
check_readable (WeftTrace  *trace,
                GError    **error)
{
  static const char sql[] = "SELECT count(*) FROM sqlite_schema";
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (trace->db, sql, -1, &stmt, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  if (rc == SQLITE_ROW)
    return TRUE;

  if ((rc & 0xff) == SQLITE_NOTADB)
    g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NOT_SQLITE,
                 "%s: is not a weft trace (file is not a database)", trace->display_name);
  else if ((rc & 0xff) == SQLITE_CORRUPT)
    {
      g_autofree char *message = sql_for_message (sqlite3_errmsg (trace->db));

      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s: is damaged (%s)", trace->display_name, message);
    }
  else
    set_sql_error (trace, rc, sql, error);
  return FALSE;
}

static WeftTrace *
open_checked (const char  *path,
              int          flags,
              GError     **error)
{
  g_autoptr(WeftTrace) trace = NULL;
  struct stat st;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  trace = trace_new (path);
  if (!check_file (path, trace->display_name, &st, error)
      || !check_header (path, trace->display_name, &st, error))
    return NULL;

  rc = sqlite3_open_v2 (path, &trace->db, flags, NULL);
  if (rc != SQLITE_OK)
    {
      set_sql_error (trace, rc, NULL, error);
      return NULL;
    }
  sqlite3_extended_result_codes (trace->db, TRUE);

  if (!check_readable (trace, error))
    return NULL;
  if (!check_tables (trace, error))
    {
      /* A read error while checking tables means damage, whatever SQLite
       * calls it (I/O error on a short read, "malformed"). */
      if (error != NULL && (*error)->domain == WEFT_TRACE_ERROR
          && (*error)->code == WEFT_TRACE_ERROR_SQL)
        (*error)->code = WEFT_TRACE_ERROR_CORRUPT;
      return NULL;
    }
  return g_steal_pointer (&trace);
}

/* Rows no recording makes: weft record's own traces carry analysis_version
 * (its analysis clips what little a recording gets wrong and counts it in
 * analysis_anomalies), so only a trace without one — changed after its
 * analysis, or never analysed — is scanned. */
static gboolean
check_rows (WeftTrace  *trace,
            GError    **error)
{
  static const char sql[] =
    "SELECT (SELECT count(*) FROM threads WHERE end_ns < start_ns),"
    " (SELECT count(*) FROM waits WHERE end_ns < start_ns"
    "   OR NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = waits.thread_id)),"
    " (SELECT count(*) FROM cpu_slices WHERE end_ns < start_ns"
    "   OR NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = cpu_slices.thread_id))";
  static const char *const what[] = { "threads", "waits", "cpu_slices" };
  g_autofree char *analysed = weft_trace_get_meta (trace, "analysis_version");
  sqlite3_stmt *stmt;
  int rc;

  if (analysed != NULL)
    return TRUE;
  if ((stmt = weft_trace_prepare (trace, sql, error)) == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_sql_error (trace, rc, sql, error);
      sqlite3_reset (stmt);
      return FALSE;
    }
  for (int i = 0; i < 3; i++)
    {
      gint64 n = sqlite3_column_int64 (stmt, i);

      if (n == 0)
        continue;
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_INCONSISTENT,
                   "%s: inconsistent trace: %" G_GINT64_FORMAT " %s of %s %s before %s starts"
                   " or %s to no thread of the trace", trace->display_name, n,
                   n == 1 ? "row" : "rows", what[i], n == 1 ? "ends" : "end",
                   n == 1 ? "it" : "they", n == 1 ? "belongs" : "belong");
      sqlite3_reset (stmt);
      return FALSE;
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* The format in meta (format_version, written at finalize) must be the
 * file's (user_version, which open_checked() judged): a larger one is a
 * newer weft's, any other difference a trace edited by hand. */
static gboolean
check_format_meta (WeftTrace  *trace,
                   GError    **error)
{
  g_autofree char *text = weft_trace_get_meta (trace, "format_version");
  sqlite3_stmt *stmt;
  gint64 meta = 0, file = 0;

  if (text == NULL)
    return TRUE;
  if ((stmt = weft_trace_prepare (trace, "PRAGMA user_version", error)) == NULL)
    return FALSE;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    file = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (g_ascii_string_to_signed (text, 10, 1, G_MAXINT64, &meta, NULL) && meta > WEFT_TRACE_FORMAT_VERSION)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_NEWER,
                   "%s: was recorded by a newer weft (format %" G_GINT64_FORMAT
                   ", this weft reads up to %d); upgrade weft",
                   trace->display_name, meta, WEFT_TRACE_FORMAT_VERSION);
      return FALSE;
    }
  if (meta != file)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_INCONSISTENT,
                   "%s: inconsistent trace: meta's format_version is not the file's format (%"
                   G_GINT64_FORMAT ")", trace->display_name, file);
      return FALSE;
    }
  return TRUE;
}

WeftTrace *
weft_trace_open (const char  *path,
                 GError     **error)
{
  g_autoptr(WeftTrace) trace = open_checked (path, SQLITE_OPEN_READONLY, error);

  if (trace == NULL || !check_format_meta (trace, error) || !check_rows (trace, error))
    return NULL;
  return g_steal_pointer (&trace);
}

WeftTrace *
weft_trace_open_rw (const char  *path,
                    GError     **error)
{
  g_autoptr(WeftTrace) trace = open_checked (path, SQLITE_OPEN_READWRITE, error);

  if (trace == NULL
      || !weft_trace_exec (trace, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", error))
    return NULL;
  return g_steal_pointer (&trace);
}

/* Creates path exclusively, owner-only, and returns with it closed: SQLite
 * then opens an existing empty file, which it takes as a new database. */
static gboolean
create_empty_file (const char  *path,
                   const char  *name,
                   GError     **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == EEXIST)
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                     "%s: already exists; weft does not write over an existing file", name);
      else
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                     "%s: cannot create: %s", name, g_strerror (saved_errno));
      return FALSE;
    }
  /* The umask may only have narrowed 0600; make it exactly owner read-write. */
  if (fchmod (fd, 0600) != 0)
    {
      int saved_errno = errno;

      close (fd);
      unlink (path);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "%s: cannot set its mode: %s", name, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

WeftTrace *
weft_trace_create (const char  *path,
                   GError     **error)
{
  static const char pragmas[] =
    "PRAGMA journal_mode = OFF;\n"
    "PRAGMA synchronous = OFF;\n"
    "PRAGMA foreign_keys = OFF;\n";
  g_autoptr(WeftTrace) trace = NULL;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  trace = trace_new (path);
  if (!create_empty_file (path, trace->display_name, error))
    return NULL;

  rc = sqlite3_open_v2 (path, &trace->db, SQLITE_OPEN_READWRITE, NULL);
  if (rc != SQLITE_OK)
    {
      set_sql_error (trace, rc, NULL, error);
      goto remove_file;
    }
  sqlite3_extended_result_codes (trace->db, TRUE);

  if (!weft_trace_exec (trace, pragmas, error)
      || !weft_trace_exec (trace, weft_trace_schema_sql (), error))
    goto remove_file;

  return g_steal_pointer (&trace);

remove_file:
  /* No half-made trace under the caller's name: the file is ours (O_EXCL). */
  g_clear_pointer (&trace, weft_trace_free);
  unlink (path);
  return NULL;
}
