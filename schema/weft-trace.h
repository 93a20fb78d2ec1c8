/* weft-trace.h — open, create and validate weft traces (schema/weft.sql).
 *
 * The only code outside the collector's writer that knows table layouts. A
 * WeftTrace wraps one sqlite3 connection; it is not thread-safe: use it from
 * one thread at a time. The library never exits the process: every failure is
 * a GError in WEFT_TRACE_ERROR (or G_FILE_ERROR for the file system) whose
 * message names the file and, for SQL failures, the statement.
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

#define WEFT_TRACE_FORMAT_VERSION 1
#define WEFT_TRACE_APPLICATION_ID 0x57454654 /* "WEFT" */

#define WEFT_TRACE_ERROR (weft_trace_error_quark ())

typedef enum
{
  WEFT_TRACE_ERROR_NOT_FOUND,   /* no such file, or not a regular file */
  WEFT_TRACE_ERROR_NOT_SQLITE,  /* empty, or not an SQLite database at all */
  WEFT_TRACE_ERROR_FOREIGN,     /* an SQLite database, but not a weft trace */
  WEFT_TRACE_ERROR_NEWER,       /* recorded by a newer weft (user_version too high) */
  WEFT_TRACE_ERROR_CORRUPT,     /* truncated or damaged (integrity check, missing tables) */
  WEFT_TRACE_ERROR_SQL,         /* a statement failed; the message shows it */
  WEFT_TRACE_ERROR_INCONSISTENT, /* rows no recording can make (a wait ending before it
                                   starts, a slice of a thread the trace lacks) */
} WeftTraceError;

typedef struct _WeftTrace WeftTrace;

GQuark       weft_trace_error_quark   (void);

/* The schema text (schema/weft.sql, compiled in). Static, never NULL. */
const char  *weft_trace_schema_sql    (void);

/* Opens an existing trace read-only and checks it: a regular file, SQLite,
 * application_id == WEFT_TRACE_APPLICATION_ID, 1 <= user_version <=
 * WEFT_TRACE_FORMAT_VERSION, the raw tables of weft.sql present (derived ones
 * may be missing: readers re-analyse), a quick integrity check of the header
 * pages so a truncated file is refused here and not halfway through a report,
 * and, for a trace without meta analysis_version (changed after its analysis,
 * or never analysed), no impossible rows (WEFT_TRACE_ERROR_INCONSISTENT: a
 * thread, wait or slice ending before it starts, a wait or slice of no
 * thread). Returns NULL with error set on failure. */
WeftTrace   *weft_trace_open          (const char  *path,
                                       GError     **error);

/* As weft_trace_open, with the same checks, but read-write, journal_mode=OFF
 * and synchronous=OFF (as weft_trace_create): for rewriting the derived
 * tables of an existing trace. A failure while writing can leave the file
 * damaged; callers work on a copy when that matters. */
WeftTrace   *weft_trace_open_rw       (const char  *path,
                                       GError     **error);

/* Creates a new, empty trace at path (which must not exist: O_EXCL), mode 0600,
 * applies the schema and sets application_id and user_version. The connection
 * is read-write, journal_mode=OFF and synchronous=OFF (the writer renames the
 * file into place only when it is complete, so a crash leaves no half trace
 * under the user's name). */
WeftTrace   *weft_trace_create        (const char  *path,
                                       GError     **error);

void         weft_trace_free          (WeftTrace   *trace);

sqlite3     *weft_trace_get_db        (WeftTrace   *trace);
const char  *weft_trace_get_path      (WeftTrace   *trace);

/* Runs one or more statements that return no rows. */
gboolean     weft_trace_exec          (WeftTrace   *trace,
                                       const char  *sql,
                                       GError     **error);

/* Returns a prepared statement for sql, cached by its text (prepared once per
 * trace), reset and with bindings cleared. Owned by the trace: do not
 * finalize it. */
sqlite3_stmt *weft_trace_prepare      (WeftTrace   *trace,
                                       const char  *sql,
                                       GError     **error);

/* Sets error from the connection's last error, naming the file and sql. Always
 * returns FALSE so callers can `return weft_trace_sql_error (…);`. */
gboolean     weft_trace_sql_error     (WeftTrace   *trace,
                                       const char  *sql,
                                       GError     **error);

/* meta table access. get returns a newly allocated string, or NULL if the key
 * is absent. */
char        *weft_trace_get_meta      (WeftTrace   *trace,
                                       const char  *key);
/* An integer of the meta table: FALSE (and *value untouched) when the key
 * is absent or its value is not a whole decimal number in gint64. */
gboolean     weft_trace_get_meta_int  (WeftTrace   *trace,
                                       const char  *key,
                                       gint64      *value);
gboolean     weft_trace_set_meta      (WeftTrace   *trace,
                                       const char  *key,
                                       const char  *value,
                                       GError     **error);
gboolean     weft_trace_set_meta_int  (WeftTrace   *trace,
                                       const char  *key,
                                       gint64       value,
                                       GError     **error);

/* Number of rows of a table of the schema (table must be one of weft.sql's
 * names; anything else is a programming error and returns -1). Fast on any
 * size: uses the primary key / smallest index. */
gint64       weft_trace_count_rows    (WeftTrace   *trace,
                                       const char  *table,
                                       GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftTrace, weft_trace_free)

G_END_DECLS
