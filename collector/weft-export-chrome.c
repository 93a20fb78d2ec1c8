/* weft-export-chrome.c — a trace in Chrome's Trace Event Format
 * (weft-export.h, docs/export.md), which Perfetto UI and chrome://tracing
 * open.
 *
 * One JSON object: metadata ("M") names every process and thread, every
 * thread_states row is a complete event ("X") on its thread's track, and the
 * profile gives two counter tracks ("C"), P(t) and C(t), on the root
 * process. Times are microseconds from the trace's start, written from the
 * integer nanoseconds with exactly three decimals (no rounding, no locale).
 * Every string from the trace goes through weft_report_append_json_string.
 */
#include <string.h>

#include "weft-analysis.h"
#include "weft-export.h"
#include "weft-report.h"

/* A track is a (pid, tid) pair of the format. The kernel gives a pid or a
 * tid again once its holder is gone, and a trace can hold both holders:
 * the first keeps its number, each later one gets TRACK_ID_BASE + its row
 * id (above any pid the kernel gives, PID_MAX_LIMIT) and its real number
 * in its name, so that no two processes or threads share a track. */
#define TRACK_ID_BASE 4194304

typedef struct
{
  gint32 pid;
  gint32 tid;
} Track;

typedef struct
{
  WeftTrace  *trace;
  GString    *out;
  gint64      start_ns;
  gint64      end_ns;
  gint32      counter_pid;     /* the process that carries the counter tracks */
  gboolean    first_event;
  GHashTable *process_tracks;  /* processes.id → track pid (GINT_TO_POINTER) */
  GHashTable *thread_tracks;   /* threads.id → Track* */
} Chrome;

/* Starts an event of traceEvents: a comma and a new line after the previous. */
static GString *
event (Chrome *chrome)
{
  g_string_append (chrome->out, chrome->first_event ? "\n{" : ",\n{");
  chrome->first_event = FALSE;
  return chrome->out;
}

/* chrome://tracing's reserved colour names, per state (Perfetto picks its own). */
static const char * const state_cnames[WEFT_N_STATES] = {
  "thread_state_running", "thread_state_runnable", "terrible", "thread_state_sleeping",
  "thread_state_iowait", "thread_state_sleeping", "thread_state_uninterruptible",
};

/* ns after the start as µs: "-12.345" for -12345 ns. */
static void
append_us (GString *out,
           gint64   ns)
{
  guint64 magnitude = ns < 0 ? (guint64) 0 - (guint64) ns : (guint64) ns;

  g_string_append_printf (out, "%s%" G_GUINT64_FORMAT ".%03u", ns < 0 ? "-" : "",
                          magnitude / 1000, (guint) (magnitude % 1000));
}

static void
string_member (GString    *out,
               const char *name,
               const char *untrusted)
{
  g_string_append_printf (out, ",\"%s\":", name);
  weft_report_append_json_string (out, untrusted);
}

static gboolean
sql_done (Chrome        *chrome,
          sqlite3_stmt  *stmt,
          int            rc,
          GError       **error)
{
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (chrome->trace, sqlite3_sql (stmt), error);
  return TRUE;
}

/* The trace's start and end: meta, or the profile's extent for a trace
 * that did not finish. */
static gboolean
load_extent (Chrome  *chrome,
             GError **error)
{
  static const char sql[] = "SELECT min(start_ns), max(end_ns) FROM profile";
  sqlite3_stmt *stmt = weft_trace_prepare (chrome->trace, sql, error);
  gboolean has_start = weft_trace_get_meta_int (chrome->trace, "start_ns", &chrome->start_ns);
  gboolean has_end = weft_trace_get_meta_int (chrome->trace, "end_ns", &chrome->end_ns);
  int rc;

  if (stmt == NULL)
    return FALSE;
  if ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (!has_start)
        chrome->start_ns = sqlite3_column_int64 (stmt, 0);
      if (!has_end)
        chrome->end_ns = sqlite3_column_int64 (stmt, 1);
      rc = SQLITE_DONE;
    }
  chrome->end_ns = MAX (chrome->end_ns, chrome->start_ns);
  return sql_done (chrome, stmt, rc, error);
}

static void
write_header (Chrome *chrome)
{
  g_autofree char *command = weft_trace_get_meta (chrome->trace, "command");
  GString *out = chrome->out;

  g_string_append (out, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"weft export\"");
  string_member (out, "trace", weft_trace_get_path (chrome->trace));
  string_member (out, "command", command);
  g_string_append_printf (out, ",\"start_ns\":%" G_GINT64_FORMAT ",\"duration_ns\":%" G_GINT64_FORMAT,
                          chrome->start_ns, chrome->end_ns - chrome->start_ns);
}

/* The track number of row id holding number, given the (track) numbers
 * taken so far; see TRACK_ID_BASE. */
static gint32
track_number (GHashTable *taken,
              gint64      scope,
              gint32      number,
              gint64      id)
{
  gint64 *key = g_new (gint64, 1);

  *key = scope << 32 | (guint32) number;
  if (g_hash_table_add (taken, key))
    return number;
  return (gint32) (TRACK_ID_BASE + id);
}

/* "what", or "what (pid N)" on a track that does not carry the number. */
static char *
track_label (const char *what,
             const char *unit,
             gint32      track,
             gint32      number)
{
  return track == number ? g_strdup (what) : g_strdup_printf ("%s (%s %d)", what, unit, number);
}

static gboolean
write_process_names (Chrome  *chrome,
                     GError **error)
{
  static const char sql[] = "SELECT id, pid, command, parent_id FROM processes ORDER BY id";
  g_autoptr(GHashTable) taken = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  sqlite3_stmt *stmt = weft_trace_prepare (chrome->trace, sql, error);
  gint64 index = 0;
  gboolean have_root = FALSE;
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      gint32 pid = sqlite3_column_int (stmt, 1);
      const char *command = (const char *) sqlite3_column_text (stmt, 2);
      gint32 track = track_number (taken, 0, pid, id);
      g_autofree char *what = command != NULL ? g_strdup (command) : g_strdup_printf ("pid %d", pid);
      g_autofree char *name = track_label (what, "pid", track, pid);

      g_hash_table_insert (chrome->process_tracks, GSIZE_TO_POINTER (id), GINT_TO_POINTER (track));
      /* The counters go on the root process (the first one without a parent). */
      if (index == 0 || (!have_root && sqlite3_column_type (stmt, 3) == SQLITE_NULL))
        {
          chrome->counter_pid = track;
          have_root = sqlite3_column_type (stmt, 3) == SQLITE_NULL;
        }
      g_string_append_printf (event (chrome), "\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,"
                                   "\"args\":{\"name\":", track);
      weft_report_append_json_string (chrome->out, name);
      g_string_append_printf (chrome->out, "}},\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,"
                              "\"tid\":0,\"args\":{\"sort_index\":%" G_GINT64_FORMAT "}}", track, index++);
    }
  return sql_done (chrome, stmt, rc, error);
}

static gboolean
write_thread_names (Chrome  *chrome,
                    GError **error)
{
  static const char sql[] = "SELECT id, process_id, tid, name FROM threads ORDER BY id";
  g_autoptr(GHashTable) taken = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  sqlite3_stmt *stmt = weft_trace_prepare (chrome->trace, sql, error);
  gint64 index = 0;
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      gint32 tid = sqlite3_column_int (stmt, 2);
      const char *name = (const char *) sqlite3_column_text (stmt, 3);
      Track *track = g_new (Track, 1);
      g_autofree char *what = name != NULL && name[0] != '\0' ? g_strdup (name) : g_strdup_printf ("tid %d", tid);
      g_autofree char *label = NULL;

      track->pid = GPOINTER_TO_INT (g_hash_table_lookup (chrome->process_tracks,
                                                         GSIZE_TO_POINTER (sqlite3_column_int64 (stmt, 1))));
      track->tid = track_number (taken, track->pid, tid, id);
      label = track_label (what, "tid", track->tid, tid);
      g_hash_table_insert (chrome->thread_tracks, GSIZE_TO_POINTER (id), track);
      g_string_append_printf (event (chrome), "\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,"
                                   "\"args\":{\"name\":", track->pid, track->tid);
      weft_report_append_json_string (chrome->out, label);
      g_string_append_printf (chrome->out, "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,"
                              "\"tid\":%d,\"args\":{\"sort_index\":%" G_GINT64_FORMAT "}}",
                              track->pid, track->tid, index++);
    }
  return sql_done (chrome, stmt, rc, error);
}

/* process_name / thread_name metadata, and sort indexes in trace order. */
static gboolean
write_names (Chrome  *chrome,
             GError **error)
{
  return write_process_names (chrome, error) && write_thread_names (chrome, error);
}

/* The args of a state behind a wait: what it waited on and for whom. */
static void
write_wait_args (GString      *out,
                 sqlite3_stmt *stmt)
{
  const char *object_kind = (const char *) sqlite3_column_text (stmt, 7);
  const char *object_name = (const char *) sqlite3_column_text (stmt, 8);

  g_string_append_printf (out, ",\"args\":{\"wait_id\":%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, 5));
  string_member (out, "wait", (const char *) sqlite3_column_text (stmt, 6));
  if (object_kind != NULL)
    {
      g_autofree char *label = object_name != NULL && object_name[0] != '\0'
                               ? g_strdup (object_name)
                               : g_strdup_printf ("%s at 0x%" G_GINT64_MODIFIER "x", object_kind,
                                                  (guint64) sqlite3_column_int64 (stmt, 9));

      string_member (out, "object", label);
      string_member (out, "object_kind", object_kind);
    }
  if (sqlite3_column_type (stmt, 10) != SQLITE_NULL)
    {
      const char *holder_name = (const char *) sqlite3_column_text (stmt, 11);
      gint32 holder_tid = sqlite3_column_int (stmt, 10);
      g_autofree char *holder = holder_name != NULL && holder_name[0] != '\0'
                                ? g_strdup_printf ("%s (tid %d)", holder_name, holder_tid)
                                : g_strdup_printf ("tid %d", holder_tid);

      string_member (out, "holder", holder);
      g_string_append_printf (out, ",\"holder_tid\":%d", holder_tid);
    }
  g_string_append_c (out, '}');
}

static gboolean
write_states (Chrome  *chrome,
              GError **error)
{
  static const char sql[] =
    /* (column 1 unused: write_wait_args reads 5 to 11) */
    "SELECT s.thread_id, NULL, s.start_ns, s.end_ns, s.state, s.wait_id, w.kind, o.kind, o.name, o.address,"
    " h.tid, h.name"
    " FROM thread_states s"
    " LEFT JOIN waits w ON w.id = s.wait_id LEFT JOIN objects o ON o.id = w.object_id"
    " LEFT JOIN threads h ON h.id = w.holder_thread_id"
    " ORDER BY s.thread_id, s.start_ns";
  GString *out = chrome->out;
  sqlite3_stmt *stmt = weft_trace_prepare (chrome->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 start_ns = sqlite3_column_int64 (stmt, 2);
      gint64 end_ns = sqlite3_column_int64 (stmt, 3);
      const char *state = (const char *) sqlite3_column_text (stmt, 4);
      const Track *track = g_hash_table_lookup (chrome->thread_tracks,
                                                GSIZE_TO_POINTER (sqlite3_column_int64 (stmt, 0)));
      WeftState s;

      for (s = 0; s < WEFT_N_STATES && g_strcmp0 (state, weft_state_name (s)) != 0; s++)
        ;
      if (track == NULL)
        continue;   /* a state of no thread: the trace was refused before */
      g_string_append_printf (event (chrome), "\"ph\":\"X\",\"cat\":\"state\",\"pid\":%d,\"tid\":%d,\"name\":",
                              track->pid, track->tid);
      weft_report_append_json_string (out, state);
      if (s < WEFT_N_STATES)
        g_string_append_printf (out, ",\"cname\":\"%s\"", state_cnames[s]);
      g_string_append (out, ",\"ts\":");
      append_us (out, start_ns - chrome->start_ns);
      g_string_append (out, ",\"dur\":");
      append_us (out, end_ns - start_ns);
      if (sqlite3_column_type (stmt, 5) != SQLITE_NULL)
        write_wait_args (out, stmt);
      g_string_append_c (out, '}');
    }
  return sql_done (chrome, stmt, rc, error);
}

static void
counter (Chrome     *chrome,
         gint64      t_ns,
         const char *name,
         const char *series,
         double      value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (event (chrome), "\"ph\":\"C\",\"name\":\"%s\",\"pid\":%d,\"tid\":0,\"ts\":",
                          name, chrome->counter_pid);
  append_us (chrome->out, t_ns - chrome->start_ns);
  g_string_append_printf (chrome->out, ",\"args\":{\"%s\":%s}}", series,
                          g_ascii_formatd (buffer, sizeof buffer, "%.4g", value));
}

static void
counters (Chrome *chrome,
          gint64  t_ns,
          double  parallelism,
          double  concurrency)
{
  counter (chrome, t_ns, "parallelism", "P", parallelism);
  counter (chrome, t_ns, "concurrency", "C", concurrency);
}

/* Every change of P or C, from the profile's rows. */
static gboolean
write_counters_exact (Chrome  *chrome,
                      GError **error)
{
  static const char sql[] =
    "SELECT start_ns, end_ns, running, running + runnable + lock + sync + io + blocked FROM profile"
    " ORDER BY start_ns";
  sqlite3_stmt *stmt = weft_trace_prepare (chrome->trace, sql, error);
  gint64 last_p = -1, last_c = -1, end_ns = chrome->start_ns;
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 p = sqlite3_column_int64 (stmt, 2);
      gint64 c = sqlite3_column_int64 (stmt, 3);

      end_ns = sqlite3_column_int64 (stmt, 1);
      if (p == last_p && c == last_c)
        continue;
      counters (chrome, sqlite3_column_int64 (stmt, 0), p, c);
      last_p = p;
      last_c = c;
    }
  if (last_p >= 0)
    counters (chrome, end_ns, 0, 0);
  return sql_done (chrome, stmt, rc, error);
}

/* Time-weighted means over WEFT_EXPORT_COUNTER_COLUMNS equal columns. */
static gboolean
write_counters_downsampled (Chrome  *chrome,
                            GError **error)
{
  WeftReportSeries *series = weft_report_series_load (chrome->trace, chrome->start_ns, chrome->end_ns,
                                                      WEFT_EXPORT_COUNTER_COLUMNS, error);

  if (series == NULL)
    return FALSE;
  for (guint column = 0; column < series->n_columns; column++)
    {
      const double *means = series->means + (gsize) column * WEFT_N_STATES;
      double concurrency = 0;

      for (int s = 0; s < WEFT_N_STATES; s++)
        if (s != WEFT_STATE_SLEEP)
          concurrency += means[s];
      counters (chrome, weft_report_series_column_start (series, column), means[WEFT_STATE_RUNNING], concurrency);
    }
  if (series->n_columns > 0)
    counters (chrome, series->end_ns, 0, 0);
  weft_report_series_free (series);
  return TRUE;
}

static gboolean
export_chrome (Chrome  *chrome,
               GError **error)
{
  WeftTrace *trace = chrome->trace;
  GString *out = chrome->out;
  gint64 profile_rows;
  gboolean downsampled;

  if (!load_extent (chrome, error))
    return FALSE;
  profile_rows = weft_trace_count_rows (trace, "profile", error);
  if (profile_rows < 0)
    return FALSE;
  downsampled = profile_rows > WEFT_EXPORT_PROFILE_MAX_ROWS;
  write_header (chrome);
  g_string_append_printf (out, ",\"profile_rows\":%" G_GINT64_FORMAT ",\"counters_downsampled\":%s",
                          profile_rows, downsampled ? "true" : "false");
  if (downsampled)
    g_string_append_printf (out, ",\"counter_columns\":%d", WEFT_EXPORT_COUNTER_COLUMNS);
  g_string_append (out, "},\n\"traceEvents\":[");
  if (!write_names (chrome, error) || !write_states (chrome, error))
    return FALSE;
  if (downsampled ? !write_counters_downsampled (chrome, error) : !write_counters_exact (chrome, error))
    return FALSE;
  g_string_append (out, "\n]}\n");
  return TRUE;
}

gboolean
weft_export_chrome (WeftTrace  *trace,
                    GString    *out,
                    GError    **error)
{
  Chrome chrome = { .trace = trace, .out = out, .first_event = TRUE };
  gboolean ok;

  chrome.process_tracks = g_hash_table_new (NULL, NULL);
  chrome.thread_tracks = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  ok = export_chrome (&chrome, error);
  g_hash_table_unref (chrome.process_tracks);
  g_hash_table_unref (chrome.thread_tracks);
  return ok;
}
