/* test-gil-merge.c — the GIL pass (collector/weft-gil.c) on a synthetic raw
 * trace of CPython 3.11 whose right answer is known exactly: which waits
 * become one GIL wait, with how many timeouts and which holder; and how a
 * Python is identified. Needs Debian's /usr/bin/python3.11 (the module the
 * synthetic _PyRuntime lives in); that file is never run here. */
#include <glib/gstdio.h>
#include <string.h>

#include "weft-gil.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"
#define RUNTIME       G_GINT64_CONSTANT (0xa5b740)  /* any address inside the module */
#define MS            G_GINT64_CONSTANT (1000000)
#define US            G_GINT64_CONSTANT (1000)

/* Thread ids of the fixture: main, then B and A, the two that take turns. */
enum { MAIN = 1, B = 2, A = 3 };
/* Object ids: the GIL's parts as the agent sees them, and an unrelated sem. */
enum { COND = 1, MUTEX = 2, SWITCH_COND = 3, SWITCH_MUTEX = 4, HEAP_SEM = 5 };

typedef struct
{
  char      *dir;
  WeftTrace *trace;
} Fixture;

static void
exec_sql (WeftTrace  *trace,
          const char *sql)
{
  g_autoptr (GError) error = NULL;

  weft_trace_exec (trace, sql, &error);
  g_assert_no_error (error);
}

static gint64
query_int (WeftTrace  *trace,
           const char *format,
           ...)
{
  va_list args;
  char *sql;
  sqlite3_stmt *stmt = NULL;
  gint64 value = 0;

  va_start (args, format);
  sql = sqlite3_vmprintf (format, args);
  va_end (args);
  if (sqlite3_prepare_v2 (weft_trace_get_db (trace), sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (weft_trace_get_db (trace)));
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_free (sql);
  return value;
}

static void
add_wait (WeftTrace  *trace,
          gint64      thread_id,
          gint64      object_id,
          const char *kind,
          gint64      start_ns,
          gint64      end_ns,
          const char *result)
{
  /* A cond wait passes its mutex: the GIL's cond, gil->mutex (+0x30). */
  gint64 arg = object_id == COND ? RUNTIME + 0x1b8 : object_id == SWITCH_COND ? RUNTIME + 0x210 : 0;
  char *sql = sqlite3_mprintf ("INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns,"
                               " result, arg) VALUES (%lld, %lld, %Q, %lld, %lld, %Q, %lld)",
                               (long long) thread_id, (long long) object_id, kind,
                               (long long) start_ns, (long long) end_ns, result, (long long) arg);

  exec_sql (trace, sql);
  sqlite3_free (sql);
}

/*   B: cond ok [0, 1 ms]                               takes the GIL at 1 ms
 *   A: cond timeout ×2, cond ok, switch_mutex [2, 12.503 ms]
 *                                  one take_gil, holder B, takes it at 12.503
 *   B: switch_cond, cond timeout, cond ok [12, 18 ms]   dropped it, takes it
 *                                  back: one GIL wait, holder A
 *   B: poll [19, 19.5 ms]          B lets the GIL go without a visible take
 *   A: cond timeout [30, 35 ms]    holder unknown (B polled since its take)
 *   A: cond ok [36, 36.1 ms]       1 ms after: a new GIL wait, holder unknown
 */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  char *objects;
  WeftTrace *trace;

  fixture->dir = g_dir_make_tmp ("weft-gil-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (fixture->dir, "trace.db", NULL);
  trace = fixture->trace = weft_trace_create (path, &error);
  g_assert_no_error (error);

  exec_sql (trace, "BEGIN;"
            "INSERT INTO processes (id, pid, command, exe, start_ns, end_ns, instrumented)"
            " VALUES (1, 100, 'python3.11 x.py', '" DEBIAN_PYTHON "', 0, 100000000, 1);"
            "INSERT INTO threads (id, process_id, tid, start_ns, end_ns) VALUES"
            " (1, 1, 100, 0, 100000000), (2, 1, 101, 0, 90000000), (3, 1, 102, 0, 90000000);"
            "INSERT INTO modules (process_id, path, start, end, bias) VALUES"
            " (1, '" DEBIAN_PYTHON "', 4194304, 16777216, 0);");
  objects = sqlite3_mprintf ("INSERT INTO objects (id, process_id, address, kind, name) VALUES"
                             " (1, 1, %lld, 'cond', '_PyRuntime+0x188'),"
                             " (2, 1, %lld, 'mutex', '_PyRuntime+0x1b8'),"
                             " (3, 1, %lld, 'cond', '_PyRuntime+0x1e0'),"
                             " (4, 1, %lld, 'mutex', '_PyRuntime+0x210'),"
                             " (5, 1, 140000000000, 'sem', NULL);",
                             (long long) (RUNTIME + 0x188), (long long) (RUNTIME + 0x1b8),
                             (long long) (RUNTIME + 0x1e0), (long long) (RUNTIME + 0x210));
  exec_sql (trace, objects);
  sqlite3_free (objects);
  exec_sql (trace, "INSERT INTO object_stats VALUES"
            " (2, 2, 10, 1, 100, 50, 10), (4, 2, 4, 0, 40, 20, 4), (2, 3, 7, 2, 70, 30, 7),"
            " (5, 1, 3, 0, 9, 3, 3);"
            /* B runs from its take to its switch wait; A from its take on. */
            "INSERT INTO cpu_slices VALUES (2, 0, 1000000, 12000000, 0),"
            " (3, 1, 12503000, 29000000, 1), (2, 0, 18000000, 19000000, 0);");

  add_wait (trace, B, COND, "cond", 0, 1 * MS, "ok");
  add_wait (trace, A, COND, "cond", 2 * MS, 7 * MS, "timeout");
  add_wait (trace, A, COND, "cond", 7 * MS + 2 * US, 12 * MS + 2 * US, "timeout");
  add_wait (trace, A, COND, "cond", 12 * MS + 4 * US, 12 * MS + 500 * US, "ok");
  add_wait (trace, A, SWITCH_MUTEX, "mutex", 12 * MS + 501 * US, 12 * MS + 503 * US, "ok");
  add_wait (trace, B, SWITCH_COND, "cond", 12 * MS, 12 * MS + 504 * US, "ok");
  add_wait (trace, B, COND, "cond", 12 * MS + 506 * US, 17 * MS + 506 * US, "timeout");
  add_wait (trace, B, COND, "cond", 17 * MS + 508 * US, 18 * MS, "ok");
  add_wait (trace, B, 0, "poll", 19 * MS, 19 * MS + 500 * US, "ok");
  add_wait (trace, A, COND, "cond", 30 * MS, 35 * MS, "timeout");
  add_wait (trace, A, COND, "cond", 36 * MS, 36 * MS + 100 * US, "ok");
  add_wait (trace, MAIN, HEAP_SEM, "sem", 1 * MS, 40 * MS, "ok");
  exec_sql (trace, "UPDATE waits SET object_id = NULL WHERE object_id = 0; COMMIT");
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "trace.db", NULL);

  weft_trace_free (fixture->trace);
  g_unlink (path);
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static void
recognize (Fixture        *fixture,
           GPtrArray      *warnings,
           WeftGilSummary *summary)
{
  g_autoptr (GError) error = NULL;

  exec_sql (fixture->trace, "BEGIN");
  g_assert_true (weft_gil_recognize (fixture->trace, warnings, summary, &error));
  g_assert_no_error (error);
  exec_sql (fixture->trace, "COMMIT");
}

static gboolean
have_debian_python (void)
{
  if (g_file_test (DEBIAN_PYTHON, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  g_test_skip ("no " DEBIAN_PYTHON " (Debian 12's python3.11) to place the synthetic GIL in");
  return FALSE;
}

static void
test_merge_objects (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  WeftGilSummary summary;
  WeftTrace *trace = fixture->trace;

  g_test_summary ("The cond, mutex, switch_cond and switch_mutex of a 3.11 GIL inside "
                  "_PyRuntime become one object GIL of kind gil at the struct's address, "
                  "with their per-thread counts summed and their (mutex) hold times "
                  "dropped; other objects stay");
  if (!have_debian_python ())
    return;
  recognize (fixture, warnings, &summary);
  g_assert_cmpuint (warnings->len, ==, 0);
  g_assert_cmpuint (summary.processes, ==, 1);

  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM objects"), ==, 2);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM objects WHERE id = %d AND kind = 'gil'"
                              " AND name = 'GIL' AND address = %lld", COND,
                              (long long) (RUNTIME + 0x168)), ==, 1);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM objects WHERE name LIKE '_PyRuntime%%'"), ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM objects WHERE id = %d AND kind = 'sem'",
                              HEAP_SEM), ==, 1);

  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM object_stats WHERE object_id = %d", COND), ==, 2);
  g_assert_cmpint (query_int (trace, "SELECT acquisitions * 100 + contentions FROM object_stats"
                              " WHERE object_id = %d AND thread_id = %d", COND, B), ==, 14 * 100 + 1);
  /* The mutexes' hold times are not the GIL's: no hold of it was timed. */
  g_assert_cmpint (query_int (trace, "SELECT total (hold_ns + hold_max_ns + hold_samples)"
                              " FROM object_stats WHERE object_id = %d", COND), ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT hold_ns FROM object_stats WHERE object_id = %d",
                              HEAP_SEM), ==, 9);
  g_assert_cmpint (query_int (trace, "SELECT acquisitions FROM object_stats"
                              " WHERE object_id = %d AND thread_id = %d", COND, A), ==, 7);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM object_stats"), ==, 3);
}

static void
test_merge_waits (Fixture       *fixture,
                  gconstpointer  data)
{
  WeftGilSummary summary;
  WeftTrace *trace = fixture->trace;
  const char *expected =
    /* thread|start_ms|end_us|result|timeouts|holder */
    "2|0|1000|ok|0|-;"
    "3|2|12503|ok|2|2;"
    "2|12|18000|ok|1|3;"
    "3|30|35000|ok|1|-;"
    "3|36|36100|ok|0|-;";
  g_autofree char *got = NULL;
  sqlite3_stmt *stmt;
  GString *rows = g_string_new (NULL);

  g_test_summary ("Back-to-back waits of a thread on the GIL's parts (timed cond waits, "
                  "the switch wait, the switch mutex) become one wait of kind gil that "
                  "counts its timeouts in arg; a gap of 1 ms starts a new one; the holder "
                  "is the last thread to take the GIL if it did nothing since that could "
                  "let it go, else unknown");
  if (!have_debian_python ())
    return;
  recognize (fixture, NULL, &summary);
  g_assert_cmpuint (summary.raw_waits, ==, 10);
  g_assert_cmpuint (summary.gil_waits, ==, 5);
  g_assert_cmpuint (summary.timeouts, ==, 4);
  g_assert_cmpuint (summary.holders, ==, 2);

  g_assert_cmpint (sqlite3_prepare_v2 (weft_trace_get_db (trace),
                                       "SELECT thread_id, start_ns / 1000000, end_ns / 1000, result, arg,"
                                       " coalesce (holder_thread_id, '-') FROM waits"
                                       " WHERE kind = 'gil' AND object_id = 1 ORDER BY start_ns",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (rows, "%s|%s|%s|%s|%s|%s;", sqlite3_column_text (stmt, 0),
                            sqlite3_column_text (stmt, 1), sqlite3_column_text (stmt, 2),
                            sqlite3_column_text (stmt, 3), sqlite3_column_text (stmt, 4),
                            sqlite3_column_text (stmt, 5));
  sqlite3_finalize (stmt);
  got = g_string_free (rows, FALSE);
  g_assert_cmpstr (got, ==, expected);

  /* Each GIL wait keeps the id of its first raw wait; the rest are gone. */
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM waits"), ==, 5 + 2);
  g_assert_cmpint (query_int (trace, "SELECT min(id) FROM waits WHERE thread_id = %d AND kind = 'gil'", A),
                   ==, 2);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM waits WHERE kind IN ('poll', 'sem')"), ==, 2);
}

/* Python drops the GIL around a blocking call: drop_gil's switch wait, the
 * call (a threading.Lock: a sem wait), take_gil's wait. Even within the
 * 200 µs of one loop, the call between them makes two GIL waits, neither
 * overlapping it. */
static void
test_merge_stops_at_other_waits (Fixture       *fixture,
                                 gconstpointer  data)
{
  WeftTrace *trace = fixture->trace;

  g_test_summary ("A wait of the thread on something else between two raw GIL waits "
                  "ends the GIL wait: no GIL wait covers another wait of its thread");
  if (!have_debian_python ())
    return;
  exec_sql (trace, "BEGIN");
  add_wait (trace, B, SWITCH_COND, "cond", 50 * MS, 50 * MS + 50 * US, "ok");
  add_wait (trace, B, HEAP_SEM, "sem", 50 * MS + 60 * US, 50 * MS + 150 * US, "ok");
  add_wait (trace, B, COND, "cond", 50 * MS + 160 * US, 50 * MS + 300 * US, "ok");
  exec_sql (trace, "COMMIT");
  recognize (fixture, NULL, NULL);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM waits WHERE kind = 'gil'"
                              " AND thread_id = %d AND start_ns >= %lld", B, (long long) (50 * MS)), ==, 2);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM waits g JOIN waits o"
                              " ON o.thread_id = g.thread_id AND o.id != g.id"
                              " AND o.start_ns < g.end_ns AND g.start_ns < o.end_ns"
                              " WHERE g.kind = 'gil'"), ==, 0);
}

static void
test_idempotent (Fixture       *fixture,
                 gconstpointer  data)
{
  static const char digest_sql[] =
    "SELECT (SELECT group_concat (id || kind || coalesce (name, '') || address) FROM objects)"
    " || (SELECT group_concat (id || kind || end_ns || result || coalesce (arg, '')"
    "     || coalesce (holder_thread_id, '')) FROM waits)"
    " || (SELECT group_concat (object_id || thread_id || acquisitions) FROM object_stats)";
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  WeftGilSummary summary;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  sqlite3_stmt *stmt;

  g_test_summary ("Running the pass on a trace it has already merged changes nothing");
  if (!have_debian_python ())
    return;
  recognize (fixture, NULL, NULL);
  g_assert_cmpint (sqlite3_prepare_v2 (weft_trace_get_db (fixture->trace), digest_sql, -1, &stmt, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  before = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);

  recognize (fixture, warnings, &summary);
  g_assert_cmpuint (summary.processes, ==, 0);
  g_assert_cmpuint (summary.raw_waits, ==, 0);
  g_assert_cmpuint (warnings->len, ==, 0);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  after = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  g_assert_cmpstr (after, ==, before);
}

static void
test_unknown_layout (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  WeftGilSummary summary;
  WeftTrace *trace = fixture->trace;

  g_test_summary ("When the cond where 3.11 keeps its GIL does not pass the GIL mutex, "
                  "nothing is renamed and one warning says a GIL-like cond stays raw");
  if (!have_debian_python ())
    return;
  /* Shift the whole GIL by 8 bytes: a layout weft was not told about. */
  exec_sql (trace, "UPDATE objects SET address = address + 8,"
            " name = printf ('_PyRuntime+0x%x', address + 8 - 10860352) WHERE name IS NOT NULL;"
            "UPDATE waits SET arg = arg + 8 WHERE kind = 'cond'");
  recognize (fixture, warnings, &summary);
  g_assert_cmpuint (summary.processes, ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM objects WHERE kind = 'gil'"), ==, 0);
  g_assert_cmpint (query_int (trace, "SELECT count(*) FROM waits WHERE kind = 'cond'"), ==, 9);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (warnings->pdata[0], "pid 100 runs CPython 3.11"));
  g_assert_nonnull (strstr (warnings->pdata[0], "_PyRuntime+0x190"));
}

static void
test_python_version (void)
{
  gint major = 0, minor = 0, micro = 0;

  g_test_summary ("A CPython is placed by its file name and, where it has one, its "
                  "Py_Version; names of other builds, and disagreeing sources, are refused");
  g_assert_true (weft_gil_python_version ("/opt/py/bin/python3.9", &major, &minor, &micro));
  g_assert_cmpint (major * 100 + minor, ==, 309);
  g_assert_cmpint (micro, ==, -1);
  g_assert_true (weft_gil_python_version ("/x/lib/libpython3.12.so.1.0", &major, &minor, &micro));
  g_assert_cmpint (major * 100 + minor, ==, 312);
  g_assert_false (weft_gil_python_version ("/x/lib/libpython3.13t.so.1.0", &major, &minor, &micro));
  g_assert_false (weft_gil_python_version ("/x/bin/python3.11d", &major, &minor, &micro));
  g_assert_false (weft_gil_python_version ("/x/bin/python", &major, &minor, &micro));
  g_assert_false (weft_gil_python_version ("/usr/bin/perl", &major, &minor, &micro));

  if (!have_debian_python ())
    return;
  g_assert_true (weft_gil_python_version (DEBIAN_PYTHON, &major, &minor, &micro));
  g_assert_cmpint (major * 100 + minor, ==, 311);
  g_assert_cmpint (micro, >=, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/python/gil-merge/objects", Fixture, NULL, fixture_set_up, test_merge_objects,
              fixture_tear_down);
  g_test_add ("/python/gil-merge/waits", Fixture, NULL, fixture_set_up, test_merge_waits,
              fixture_tear_down);
  g_test_add ("/python/gil-merge/other-waits", Fixture, NULL, fixture_set_up,
              test_merge_stops_at_other_waits, fixture_tear_down);
  g_test_add ("/python/gil-merge/idempotent", Fixture, NULL, fixture_set_up, test_idempotent,
              fixture_tear_down);
  g_test_add ("/python/gil-merge/unknown-layout", Fixture, NULL, fixture_set_up, test_unknown_layout,
              fixture_tear_down);
  g_test_add_func ("/python/gil-merge/python-version", test_python_version);
  return g_test_run ();
}
