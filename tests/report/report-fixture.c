/* report-fixture.c — synthetic traces with known answers (report-fixture.h). */
#include <stdarg.h>

#include "report-fixture.h"

static sqlite3_stmt *
prepare (WeftTrace  *trace,
         const char *sql)
{
  g_autoptr(GError) error = NULL;
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, &error);

  g_assert_no_error (error);
  g_assert_nonnull (stmt);
  return stmt;
}

static gint64
step_insert (WeftTrace    *trace,
             sqlite3_stmt *stmt)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    g_error ("insert failed: %s", sqlite3_errmsg (weft_trace_get_db (trace)));
  sqlite3_reset (stmt);
  return sqlite3_last_insert_rowid (weft_trace_get_db (trace));
}

static void
bind_id_or_null (sqlite3_stmt *stmt,
                 int           index,
                 gint64        id)
{
  if (id != 0)
    sqlite3_bind_int64 (stmt, index, id);
  else
    sqlite3_bind_null (stmt, index);
}

void
report_fixture_exec (WeftTrace  *trace,
                     const char *sql)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (weft_trace_exec (trace, sql, &error));
  g_assert_no_error (error);
}

WeftTrace *
report_fixture_create (const char *path,
                       gint64      duration_ns,
                       int         cpus)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace = weft_trace_create (path, &error);
  struct { const char *key; gint64 value; } ints[] = {
    { "format_version", 1 }, { "start_ns", REPORT_T0_NS },
    { "start_unix_ns", G_GINT64_CONSTANT (1700000000000000000) },
    { "end_ns", REPORT_T0_NS + duration_ns }, { "cpus", cpus },
    { "sched_period_ns", 0 }, { "lost_events", 0 }, { "root_pid", 100 },
    { "complete", 1 },
  };

  g_assert_no_error (error);
  g_assert_true (weft_trace_set_meta (trace, "weft_version", "0.1.0", &error));
  g_assert_true (weft_trace_set_meta (trace, "command", "./prog --test", &error));
  g_assert_true (weft_trace_set_meta (trace, "hostname", "testbox", &error));
  g_assert_true (weft_trace_set_meta (trace, "sched_source", "perf", &error));
  for (gsize i = 0; i < G_N_ELEMENTS (ints); i++)
    g_assert_true (weft_trace_set_meta_int (trace, ints[i].key, ints[i].value, &error));
  g_assert_no_error (error);
  return trace;
}

gint64
report_fixture_process (WeftTrace  *trace,
                        int         pid,
                        gint64      parent_id,
                        const char *command)
{
  sqlite3_stmt *stmt = prepare (trace,
    "INSERT INTO processes (pid, parent_id, command, exe, exit_status, cpu_ns, instrumented)"
    " VALUES (:pid, :parent, :command, :command, 0, NULL, 1)");

  sqlite3_bind_int (stmt, 1, pid);
  bind_id_or_null (stmt, 2, parent_id);
  sqlite3_bind_text (stmt, 3, command, -1, SQLITE_TRANSIENT);
  return step_insert (trace, stmt);
}

gint64
report_fixture_thread (WeftTrace  *trace,
                       gint64      process_id,
                       int         tid,
                       const char *name,
                       gint64      start_ns,
                       gint64      end_ns)
{
  sqlite3_stmt *stmt = prepare (trace,
    "INSERT INTO threads (process_id, tid, name, start_ns, end_ns)"
    " VALUES (:process, :tid, :name, :start, :end)");

  sqlite3_bind_int64 (stmt, 1, process_id);
  sqlite3_bind_int (stmt, 2, tid);
  sqlite3_bind_text (stmt, 3, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, start_ns);
  bind_id_or_null (stmt, 5, end_ns);
  return step_insert (trace, stmt);
}

gint64
report_fixture_object (WeftTrace  *trace,
                       gint64      process_id,
                       gint64      address,
                       const char *kind,
                       const char *name)
{
  sqlite3_stmt *stmt = prepare (trace,
    "INSERT INTO objects (process_id, address, kind, name) VALUES (:process, :address, :kind, :name)");

  sqlite3_bind_int64 (stmt, 1, process_id);
  sqlite3_bind_int64 (stmt, 2, address);
  sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_TRANSIENT);
  if (name != NULL)
    sqlite3_bind_text (stmt, 4, name, -1, SQLITE_TRANSIENT);
  return step_insert (trace, stmt);
}

void
report_fixture_slice (WeftTrace *trace,
                      gint64     thread_id,
                      int        cpu,
                      gint64     start_ns,
                      gint64     end_ns,
                      gboolean   preempted)
{
  sqlite3_stmt *stmt = prepare (trace,
    "INSERT INTO cpu_slices (thread_id, cpu, start_ns, end_ns, preempted)"
    " VALUES (:thread, :cpu, :start, :end, :preempted)");

  sqlite3_bind_int64 (stmt, 1, thread_id);
  sqlite3_bind_int (stmt, 2, cpu);
  sqlite3_bind_int64 (stmt, 3, start_ns);
  sqlite3_bind_int64 (stmt, 4, end_ns);
  sqlite3_bind_int (stmt, 5, preempted ? 1 : 0);
  step_insert (trace, stmt);
}

gint64
report_fixture_wait (WeftTrace  *trace,
                     gint64      thread_id,
                     gint64      object_id,
                     const char *kind,
                     gint64      start_ns,
                     gint64      end_ns,
                     gint64      holder_thread_id,
                     gint64      stack_id)
{
  sqlite3_stmt *stmt = prepare (trace,
    "INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns, result, holder_thread_id, stack_id)"
    " VALUES (:thread, :object, :kind, :start, :end, 'ok', :holder, :stack)");

  sqlite3_bind_int64 (stmt, 1, thread_id);
  bind_id_or_null (stmt, 2, object_id);
  sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, start_ns);
  sqlite3_bind_int64 (stmt, 5, end_ns);
  bind_id_or_null (stmt, 6, holder_thread_id);
  bind_id_or_null (stmt, 7, stack_id);
  return step_insert (trace, stmt);
}

gint64
report_fixture_stack (WeftTrace  *trace,
                      gint64      process_id,
                      const char *first_function,
                      ...)
{
  sqlite3_stmt *stack_stmt = prepare (trace,
    "INSERT INTO stacks (process_id, depth) VALUES (:process, 0)");
  va_list ap;
  gint64 stack_id;
  int depth = 0;

  sqlite3_bind_int64 (stack_stmt, 1, process_id);
  stack_id = step_insert (trace, stack_stmt);

  va_start (ap, first_function);
  for (const char *function = first_function; function != NULL; function = va_arg (ap, const char *))
    {
      sqlite3_stmt *stmt = prepare (trace,
        "INSERT OR IGNORE INTO frames (module, address, function) VALUES ('/usr/bin/prog', :address, :function)");
      gint64 frame_id;

      sqlite3_bind_int64 (stmt, 1, g_str_hash (function));
      sqlite3_bind_text (stmt, 2, function, -1, SQLITE_TRANSIENT);
      step_insert (trace, stmt);
      stmt = prepare (trace, "SELECT id FROM frames WHERE module = '/usr/bin/prog' AND address = :address");
      sqlite3_bind_int64 (stmt, 1, g_str_hash (function));
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
      frame_id = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);

      stmt = prepare (trace, "INSERT INTO stack_frames (stack_id, depth, frame_id) VALUES (:stack, :depth, :frame)");
      sqlite3_bind_int64 (stmt, 1, stack_id);
      sqlite3_bind_int (stmt, 2, depth++);
      sqlite3_bind_int64 (stmt, 3, frame_id);
      step_insert (trace, stmt);
    }
  va_end (ap);

  stack_stmt = prepare (trace, "UPDATE stacks SET depth = :depth WHERE id = :id");
  sqlite3_bind_int (stack_stmt, 1, depth);
  sqlite3_bind_int64 (stack_stmt, 2, stack_id);
  step_insert (trace, stack_stmt);
  return stack_id;
}

gint64
report_fixture_int (WeftTrace  *trace,
                    const char *sql)
{
  sqlite3_stmt *stmt = prepare (trace, sql);
  gint64 value = 0;
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    value = sqlite3_column_int64 (stmt, 0);
  else if (rc != SQLITE_DONE)
    g_error ("%s: %s", sql, sqlite3_errmsg (weft_trace_get_db (trace)));
  sqlite3_reset (stmt);
  return value;
}

double
report_fixture_double (WeftTrace  *trace,
                       const char *sql)
{
  sqlite3_stmt *stmt = prepare (trace, sql);
  double value = 0;
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW)
    value = sqlite3_column_double (stmt, 0);
  else if (rc != SQLITE_DONE)
    g_error ("%s: %s", sql, sqlite3_errmsg (weft_trace_get_db (trace)));
  sqlite3_reset (stmt);
  return value;
}

void
report_fixture_big (WeftTrace *trace,
                    int        threads,
                    gint64     events,
                    gint64     duration_ns)
{
  static const char * const kinds[] = { "mutex", "cond", "mutex", "poll", "mutex", "sleep" };
  /* Two events a cycle, but one cycle in three is a preemption without a wait. */
  gint64 cycles = MAX (1, 3 * events / (5 * threads));
  gint64 cycle_ns = MAX (8, duration_ns / cycles);
  gint64 process_id = report_fixture_process (trace, 100, 0, "./big");
  gint64 mutexes[4], cond;
  g_autofree gint64 *thread_ids = g_new (gint64, threads);

  report_fixture_exec (trace, "BEGIN");
  for (int m = 0; m < 4; m++)
    mutexes[m] = report_fixture_object (trace, process_id, 0x1000 + 64 * m, "mutex", NULL);
  cond = report_fixture_object (trace, process_id, 0x2000, "cond", "work_ready");
  for (int i = 0; i < threads; i++)
    thread_ids[i] = report_fixture_thread (trace, process_id, 100 + i, "worker",
                                           REPORT_T0_NS, REPORT_T0_NS + cycles * cycle_ns);

  for (gint64 k = 0; k < cycles; k++)
    for (int i = 0; i < threads; i++)
      {
        /* Threads are shifted against each other so that their changes do
         * not all fall on the same nanosecond. As in a real trace, a wait
         * begins on the CPU (the failed try) and ends after the thread's
         * next slice has begun (the call returns on the CPU). */
        gint64 base_ns = REPORT_T0_NS + k * cycle_ns + (i * cycle_ns / (4 * threads));
        gint64 slice_end_ns = base_ns + cycle_ns / 2;
        gint64 wait_end_ns = MIN (base_ns + cycle_ns + cycle_ns / 16, REPORT_T0_NS + cycles * cycle_ns);
        const char *kind = kinds[(k + i) % G_N_ELEMENTS (kinds)];
        gboolean preempted = (k + i) % 3 == 0;
        gboolean is_mutex = kind[0] == 'm';

        report_fixture_slice (trace, thread_ids[i], i % 4, base_ns, slice_end_ns, preempted);
        if (!preempted)
          report_fixture_wait (trace, thread_ids[i],
                               is_mutex ? mutexes[k % 4] : kind[0] == 'c' ? cond : 0,
                               kind, slice_end_ns - cycle_ns / 8, wait_end_ns,
                               is_mutex ? thread_ids[(i + 1) % threads] : 0, 0);
      }
  report_fixture_exec (trace, "COMMIT");
}
