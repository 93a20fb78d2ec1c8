/* weft-report-csv.c — one table of the report as CSV (docs/report.md).
 *
 * RFC 4180: a header row, then one record per row, each ending in CRLF;
 * every text that comes from the trace goes through
 * weft_report_append_csv_text (quoted when needed, quotes doubled). Numbers
 * are integers: nanoseconds, counts, ids. An unknown value is an empty field.
 * Times are relative to the trace's start, like the JSON report's span.
 */
#include <string.h>

#include "weft-report.h"

static const char * const table_names[WEFT_REPORT_N_TABLES] = {
  [WEFT_REPORT_TABLE_LOCKS] = "locks",
  [WEFT_REPORT_TABLE_THREADS] = "threads",
  [WEFT_REPORT_TABLE_PROCESSES] = "processes",
  [WEFT_REPORT_TABLE_WAITS] = "waits",
  [WEFT_REPORT_TABLE_STATES] = "states",
};

const char *
weft_report_table_name (WeftReportTable table)
{
  g_return_val_if_fail (table < WEFT_REPORT_N_TABLES, NULL);
  return table_names[table];
}

gboolean
weft_report_table_from_name (const char      *name,
                             WeftReportTable *table)
{
  for (int t = 0; t < WEFT_REPORT_N_TABLES; t++)
    if (g_strcmp0 (name, table_names[t]) == 0)
      {
        *table = t;
        return TRUE;
      }
  return FALSE;
}

/* A record: fields separated by commas, CRLF at the end. */
typedef struct
{
  GString *out;
  gboolean first;
} Record;

static void
separator (Record *record)
{
  if (!record->first)
    g_string_append_c (record->out, ',');
  record->first = FALSE;
}

static void
field_text (Record     *record,
            const char *text)
{
  separator (record);
  if (text != NULL)
    weft_report_append_csv_text (record->out, text);
}

static void
field_int (Record *record,
           gint64  value)
{
  separator (record);
  g_string_append_printf (record->out, "%" G_GINT64_FORMAT, value);
}

/* -1 (unknown) is an empty field. */
static void
field_int_or_empty (Record *record,
                    gint64  value)
{
  if (value < 0)
    separator (record);
  else
    field_int (record, value);
}

static void
end_record (Record *record)
{
  g_string_append (record->out, "\r\n");
  record->first = TRUE;
}

static void
header (Record             *record,
        const char * const *names)
{
  for (gsize i = 0; names[i] != NULL; i++)
    field_text (record, names[i]);
  end_record (record);
}

static void
write_locks (const WeftReport *report,
             Record           *record)
{
  static const char * const names[] = {
    "name", "kind", "address", "pid", "acquisitions", "contentions", "waits", "wait_total_ns",
    "wait_max_ns", "wait_p50_ns", "wait_p90_ns", "wait_p99_ns", "hold_total_ns", "hold_max_ns",
    "threads", NULL
  };

  header (record, names);
  for (guint i = 0; i < report->locks->len; i++)
    {
      const WeftReportLock *lock = report->locks->pdata[i];
      g_autofree char *address = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", lock->address);

      field_text (record, lock->name);
      field_text (record, lock->kind);
      field_text (record, address);
      field_int (record, lock->process != NULL ? lock->process->pid : 0);
      field_int_or_empty (record, lock->acquisitions);
      field_int (record, lock->contentions);
      field_int (record, lock->waits);
      field_int (record, lock->wait_total_ns);
      field_int (record, lock->wait_max_ns);
      field_int (record, lock->wait_p50_ns);
      field_int (record, lock->wait_p90_ns);
      field_int (record, lock->wait_p99_ns);
      field_int_or_empty (record, lock->hold_total_ns);
      field_int_or_empty (record, lock->hold_max_ns);
      field_int (record, lock->threads);
      end_record (record);
    }
}

static void
write_threads (const WeftReport *report,
               Record           *record)
{
  static const char * const names[] = { "pid", "tid", "name", "life_ns", NULL };

  for (gsize i = 0; names[i] != NULL; i++)
    field_text (record, names[i]);
  for (int s = 0; s < WEFT_N_STATES; s++)
    {
      g_autofree char *name = g_strdup_printf ("%s_ns", weft_state_name (s));

      field_text (record, name);
    }
  end_record (record);
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      field_int (record, thread->process != NULL ? thread->process->pid : 0);
      field_int (record, thread->tid);
      field_text (record, thread->name);
      field_int (record, thread->life_ns);
      for (int s = 0; s < WEFT_N_STATES; s++)
        field_int (record, thread->state_ns[s]);
      end_record (record);
    }
}

static void
write_processes (const WeftReport *report,
                 Record           *record)
{
  static const char * const names[] = {
    "pid", "parent_pid", "command", "exit_status", "exit_signal", "cpu_ns", "running_ns", "threads", NULL
  };

  header (record, names);
  for (guint i = 0; i < report->processes->len; i++)
    {
      const WeftReportProcess *process = report->processes->pdata[i];

      field_int (record, process->pid);
      field_int_or_empty (record, process->parent_pid > 0 ? process->parent_pid : -1);
      field_text (record, process->command);
      field_int_or_empty (record, process->exited ? process->exit_status : -1);
      field_int_or_empty (record, process->exit_signal > 0 ? process->exit_signal : -1);
      field_int_or_empty (record, process->cpu_ns);
      field_int (record, process->running_ns);
      field_int (record, process->threads);
      end_record (record);
    }
}

static void
bind_span (sqlite3_stmt     *stmt,
           const WeftReport *report)
{
  sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_index (stmt, ":s"), report->span_start_ns);
  sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_index (stmt, ":e"), report->span_end_ns);
}

/* A text column, or an empty field for NULL. */
static void
field_column_text (Record       *record,
                   sqlite3_stmt *stmt,
                   int           column)
{
  field_text (record, (const char *) sqlite3_column_text (stmt, column));
}

static void
field_column_int (Record       *record,
                  sqlite3_stmt *stmt,
                  int           column)
{
  if (sqlite3_column_type (stmt, column) == SQLITE_NULL)
    separator (record);
  else
    field_int (record, sqlite3_column_int64 (stmt, column));
}

/* Every wait that overlaps the span, with its real (unclipped) times. */
static gboolean
write_waits (const WeftReport  *report,
             WeftTrace         *trace,
             Record            *record,
             GError           **error)
{
  static const char * const names[] = {
    "id", "pid", "tid", "thread", "kind", "object", "object_kind", "object_address", "start_ns",
    "end_ns", "wait_ns", "result", "error", "holder_tid", "holder", "stack_id", NULL
  };
  static const char sql[] =
    "SELECT w.id, p.pid, t.tid, t.name, w.kind, o.name, o.kind, o.address, w.start_ns, w.end_ns,"
    " w.result, w.error, h.tid, h.name, w.stack_id"
    " FROM waits w JOIN threads t ON t.id = w.thread_id LEFT JOIN processes p ON p.id = t.process_id"
    " LEFT JOIN objects o ON o.id = w.object_id LEFT JOIN threads h ON h.id = w.holder_thread_id"
    " WHERE w.start_ns < :e AND w.end_ns > :s ORDER BY w.start_ns, w.id";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  header (record, names);
  bind_span (stmt, report);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 start_ns = sqlite3_column_int64 (stmt, 8);
      gint64 end_ns = sqlite3_column_int64 (stmt, 9);

      field_column_int (record, stmt, 0);
      field_column_int (record, stmt, 1);
      field_column_int (record, stmt, 2);
      field_column_text (record, stmt, 3);
      field_column_text (record, stmt, 4);
      field_column_text (record, stmt, 5);
      field_column_text (record, stmt, 6);
      if (sqlite3_column_type (stmt, 7) == SQLITE_NULL)
        separator (record);
      else
        {
          g_autofree char *address = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                                      (guint64) sqlite3_column_int64 (stmt, 7));

          field_text (record, address);
        }
      field_int (record, start_ns - report->start_ns);
      field_int (record, end_ns - report->start_ns);
      field_int (record, end_ns - start_ns);
      field_column_text (record, stmt, 10);
      field_column_int (record, stmt, 11);
      field_column_int (record, stmt, 12);
      field_column_text (record, stmt, 13);
      field_column_int (record, stmt, 14);
      end_record (record);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);
  return TRUE;
}

/* Every thread's states, clipped to the span (so each thread's rows add up
 * to its life_ns in the threads table). */
static gboolean
write_states (const WeftReport  *report,
              WeftTrace         *trace,
              Record            *record,
              GError           **error)
{
  static const char * const names[] = {
    "pid", "tid", "start_ns", "end_ns", "duration_ns", "state", "wait_id", NULL
  };
  static const char sql[] =
    "SELECT p.pid, t.tid, s.start_ns, s.end_ns, s.state, s.wait_id"
    " FROM thread_states s JOIN threads t ON t.id = s.thread_id LEFT JOIN processes p ON p.id = t.process_id"
    " WHERE s.start_ns < :e AND s.end_ns > :s ORDER BY t.process_id, s.thread_id, s.start_ns";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  header (record, names);
  bind_span (stmt, report);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 start_ns = sqlite3_column_int64 (stmt, 2);
      gint64 end_ns = sqlite3_column_int64 (stmt, 3);

      if (report->has_span)
        {
          start_ns = MAX (start_ns, report->span_start_ns);
          end_ns = MIN (end_ns, report->span_end_ns);
        }
      field_column_int (record, stmt, 0);
      field_column_int (record, stmt, 1);
      field_int (record, start_ns - report->start_ns);
      field_int (record, end_ns - report->start_ns);
      field_int (record, end_ns - start_ns);
      field_column_text (record, stmt, 4);
      field_column_int (record, stmt, 5);
      end_record (record);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);
  return TRUE;
}

gboolean
weft_report_write_csv (const WeftReport  *report,
                       WeftTrace         *trace,
                       WeftReportTable    table,
                       GString           *out,
                       GError           **error)
{
  Record record = { .out = out, .first = TRUE };

  switch (table)
    {
    case WEFT_REPORT_TABLE_LOCKS:
      write_locks (report, &record);
      return TRUE;
    case WEFT_REPORT_TABLE_THREADS:
      write_threads (report, &record);
      return TRUE;
    case WEFT_REPORT_TABLE_PROCESSES:
      write_processes (report, &record);
      return TRUE;
    case WEFT_REPORT_TABLE_WAITS:
      return write_waits (report, trace, &record, error);
    case WEFT_REPORT_TABLE_STATES:
      return write_states (report, trace, &record, error);
    case WEFT_REPORT_N_TABLES:
    default:
      g_return_val_if_reached (FALSE);
    }
}
