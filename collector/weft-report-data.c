/* weft-report-data.c — reads what `weft report` shows (weft-report.h).
 *
 * Whole-trace figures come straight from the derived tables (thread_summary,
 * lock_stats, lock_stacks, blocking). With a span, the means and the
 * parallelism histogram still come from the profile (one range query), the
 * threads' states from thread_states clipped to the span, and the object
 * figures from the waits that overlap the span, clipped to it.
 */
#include <math.h>

#include "weft-metrics.h"
#include "weft-report.h"

G_DEFINE_QUARK (weft-report-error-quark, weft_report_error)

/* More CPUs, or threads running at once, than any machine has: a damaged
 * trace. The parallelism histogram has a slot per level, so such a value
 * must not size it (it would ask for gigabytes). */
#define MAX_LEVEL (1 << 20)

typedef struct
{
  WeftTrace  *trace;
  WeftReport *report;
  guint       top;
  gint64      s;            /* the span, absolute */
  gint64      e;
  GHashTable *processes;    /* gint64* id → WeftReportProcess */
  GHashTable *threads;      /* gint64* id → WeftReportThread */
  GHashTable *objects;      /* gint64* id → WeftReportLock (all of them) */
  GPtrArray  *all_locks;    /* = report->object_pool */
  GPtrArray  *all_threads;  /* = report->thread_pool */
} Loader;

/* Freeing */

static void
process_free (gpointer data)
{
  WeftReportProcess *process = data;

  g_free (process->command);
  g_free (process);
}

static void
thread_free (gpointer data)
{
  WeftReportThread *thread = data;

  g_free (thread->name);
  g_free (thread);
}

static void
stack_free (gpointer data)
{
  WeftReportStack *stack = data;

  g_strfreev (stack->frames);
  g_free (stack);
}

static void
lock_free (gpointer data)
{
  WeftReportLock *lock = data;

  g_free (lock->name);
  g_free (lock->kind);
  g_clear_pointer (&lock->holders, g_ptr_array_unref);
  g_clear_pointer (&lock->stacks, g_ptr_array_unref);
  g_free (lock);
}

void
weft_report_free (WeftReport *report)
{
  if (report == NULL)
    return;
  g_free (report->path);
  g_free (report->command);
  g_free (report->sched_source);
  g_free (report->verdict);
  g_clear_pointer (&report->parallelism_ns, g_array_unref);
  g_clear_pointer (&report->blocking, g_ptr_array_unref);
  g_clear_pointer (&report->locks, g_ptr_array_unref);
  g_clear_pointer (&report->threads, g_ptr_array_unref);
  g_clear_pointer (&report->thread_pool, g_ptr_array_unref);
  g_clear_pointer (&report->object_pool, g_ptr_array_unref);
  g_clear_pointer (&report->processes, g_ptr_array_unref);
  g_free (report);
}

char *
weft_report_thread_label (const WeftReportThread *thread)
{
  if (thread->name != NULL && thread->name[0] != '\0')
    return g_strdup (thread->name);
  return g_strdup_printf ("tid %d", thread->tid);
}

char *
weft_report_lock_label (const WeftReportLock *lock)
{
  if (lock->name != NULL && lock->name[0] != '\0')
    return g_strdup (lock->name);
  return g_strdup_printf ("%s at 0x%" G_GINT64_MODIFIER "x", lock->kind, lock->address);
}

/* SQL */

static char *
column_text (sqlite3_stmt *stmt,
             int           column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

static void
bind_span (sqlite3_stmt *stmt,
           Loader       *loader)
{
  sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_index (stmt, ":s"), loader->s);
  sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_index (stmt, ":e"), loader->e);
}

/* The trace's facts */

static gboolean
load_meta (Loader  *loader,
           GError **error)
{
  WeftReport *report = loader->report;
  WeftTrace *trace = loader->trace;
  g_autofree char *complete = weft_trace_get_meta (trace, "complete");
  gint64 value;

  report->command = weft_trace_get_meta (trace, "command");
  report->sched_source = weft_trace_get_meta (trace, "sched_source");
  report->cpu_known = g_strcmp0 (report->sched_source, "none") != 0;
  report->cpus = weft_trace_get_meta_int (trace, "cpus", &value) && value > 0 && value <= MAX_LEVEL ? (gint) value : 0;
  report->sched_period_ns = weft_trace_get_meta_int (trace, "sched_period_ns", &value) ? value : 0;
  report->lost_events = weft_trace_get_meta_int (trace, "lost_events", &value) ? value : 0;
  report->complete = g_strcmp0 (complete, "1") == 0;

  if (!weft_analysis_is_current (trace))
    {
      if (!weft_analysis_run_scratch (trace, error))
        return FALSE;
      report->analysed_now = TRUE;
    }
  report->anomalies = weft_trace_get_meta_int (trace, "analysis_anomalies", &value) ? value : 0;

  /* An unfinished trace has no end_ns: the profile knows how far it went. */
  if (!weft_trace_get_meta_int (trace, "start_ns", &report->start_ns))
    report->start_ns = 0;
  if (!weft_trace_get_meta_int (trace, "end_ns", &report->end_ns))
    {
      static const char sql[] = "SELECT min(start_ns), max(end_ns) FROM profile";
      sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
      int rc;

      if (stmt == NULL)
        return FALSE;
      if ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          if (report->start_ns == 0)
            report->start_ns = sqlite3_column_int64 (stmt, 0);
          report->end_ns = sqlite3_column_int64 (stmt, 1);
          rc = SQLITE_DONE;
        }
      if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
        return FALSE;
    }
  report->end_ns = MAX (report->end_ns, report->start_ns);
  return TRUE;
}

static gboolean
resolve_span (Loader                   *loader,
              const WeftReportOptions  *options,
              GError                  **error)
{
  WeftReport *report = loader->report;
  gint64 duration_ns = report->end_ns - report->start_ns;

  loader->s = report->start_ns;
  loader->e = report->end_ns;
  if (options->has_span)
    {
      if (options->span_start_ns >= duration_ns)
        {
          g_autofree char *text = g_strdup_printf ("%.9g s", duration_ns / 1e9);

          g_set_error (error, WEFT_REPORT_ERROR, WEFT_REPORT_ERROR_SPAN,
                       "the span starts at or after the end of the trace, which lasts %" G_GINT64_FORMAT
                       " ns (%s)", duration_ns, text);
          return FALSE;
        }
      loader->s = report->start_ns + options->span_start_ns;
      if (options->span_end_ns - options->span_start_ns < duration_ns - options->span_start_ns)
        loader->e = report->start_ns + options->span_end_ns;
      report->has_span = TRUE;
    }
  report->span_start_ns = loader->s;
  report->span_end_ns = loader->e;
  return TRUE;
}

/* The whole-trace summary, when the analysis stored one for exactly the span
 * (profile_summary): no scan of the profile. FALSE with *found FALSE when it
 * did not. */
static gboolean
load_stored_summary (Loader   *loader,
                     gint64   *integral,
                     gboolean *found,
                     GError  **error)
{
  static const char sql[] =
    "SELECT running, time_ns, runnable_ns, lock_ns, sync_ns, io_ns, sleep_ns, blocked_ns"
    " FROM profile_summary WHERE start_ns = :s AND end_ns = :e";
  WeftReport *report = loader->report;
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  int rc;

  *found = FALSE;
  if (stmt == NULL)
    return FALSE;
  bind_span (stmt, loader);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 running = sqlite3_column_int64 (stmt, 0);
      gint64 ns = sqlite3_column_int64 (stmt, 1);

      if (ns <= 0 || running < 0 || running > MAX_LEVEL)
        continue;
      *found = TRUE;
      integral[WEFT_STATE_RUNNING] += running * ns;
      for (int s = WEFT_STATE_RUNNABLE; s < WEFT_N_STATES; s++)
        integral[s] += sqlite3_column_int64 (stmt, 1 + s);
      if ((guint) running >= report->parallelism_ns->len)
        g_array_set_size (report->parallelism_ns, running + 1);
      g_array_index (report->parallelism_ns, gint64, running) += ns;
    }
  return weft_metrics_query_done (loader->trace, stmt, rc, error);
}

/* Without scheduling data the analysis put all the time threads were alive
 * and not waiting in runnable: what of it ran, waited for a CPU or was
 * blocked in the kernel is unknown. */
static void
forget_cpu_figures (WeftReport *report)
{
  report->unplaced_mean = report->state_means[WEFT_STATE_RUNNING]
                          + report->state_means[WEFT_STATE_RUNNABLE]
                          + report->state_means[WEFT_STATE_BLOCKED];
  report->state_means[WEFT_STATE_RUNNING] = NAN;
  report->state_means[WEFT_STATE_RUNNABLE] = NAN;
  report->state_means[WEFT_STATE_BLOCKED] = NAN;
  report->mean_parallelism = NAN;
  g_array_set_size (report->parallelism_ns, 0);
}

/* The summary: stored by the analysis for the whole trace, else one range
 * query on the profile. */
static gboolean
load_summary (Loader  *loader,
              GError **error)
{
  static const char sql[] =
    "SELECT start_ns, end_ns, running, runnable, lock, sync, io, sleep, blocked FROM profile"
    " WHERE start_ns >= coalesce((SELECT max(start_ns) FROM profile WHERE start_ns <= :s), :s)"
    " AND start_ns < :e";
  WeftReport *report = loader->report;
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  gint64 integral[WEFT_N_STATES] = { 0 };
  gint64 span_ns = loader->e - loader->s;
  gboolean stored = FALSE;
  int rc = SQLITE_DONE;

  if (stmt == NULL)
    return FALSE;
  report->parallelism_ns = g_array_new (FALSE, TRUE, sizeof (gint64));
  g_array_set_size (report->parallelism_ns, report->cpus + 1);
  if (!load_stored_summary (loader, integral, &stored, error))
    return FALSE;
  bind_span (stmt, loader);
  while (!stored && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 ns = MIN (sqlite3_column_int64 (stmt, 1), loader->e) - MAX (sqlite3_column_int64 (stmt, 0), loader->s);
      gint64 running = sqlite3_column_int64 (stmt, 2);

      if (ns <= 0 || running < 0 || running > MAX_LEVEL)
        continue;
      for (int s = 0; s < WEFT_N_STATES; s++)
        integral[s] += sqlite3_column_int64 (stmt, 2 + s) * ns;
      if ((guint) running >= report->parallelism_ns->len)
        g_array_set_size (report->parallelism_ns, running + 1);
      g_array_index (report->parallelism_ns, gint64, running) += ns;
    }
  if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
    return FALSE;

  for (int s = 0; s < WEFT_N_STATES; s++)
    {
      report->state_means[s] = span_ns > 0 ? (double) integral[s] / span_ns : 0;
      if (s != WEFT_STATE_SLEEP)
        report->mean_concurrency += report->state_means[s];
    }
  report->mean_parallelism = report->state_means[WEFT_STATE_RUNNING];
  if (!report->cpu_known)
    forget_cpu_figures (report);
  return TRUE;
}

static gboolean
load_processes (Loader  *loader,
                GError **error)
{
  static const char sql[] =
    "SELECT p.id, p.pid, parent.pid, p.command, p.exit_status, p.exit_signal, p.cpu_ns"
    " FROM processes p LEFT JOIN processes parent ON parent.id = p.parent_id ORDER BY p.id";
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      WeftReportProcess *process = g_new0 (WeftReportProcess, 1);

      process->id = sqlite3_column_int64 (stmt, 0);
      process->pid = sqlite3_column_int (stmt, 1);
      process->parent_pid = sqlite3_column_int (stmt, 2);
      process->command = column_text (stmt, 3);
      process->exited = sqlite3_column_type (stmt, 4) != SQLITE_NULL;
      process->exit_status = sqlite3_column_int (stmt, 4);
      process->exit_signal = sqlite3_column_int (stmt, 5);
      process->cpu_ns = sqlite3_column_type (stmt, 6) != SQLITE_NULL ? sqlite3_column_int64 (stmt, 6) : -1;
      g_ptr_array_add (loader->report->processes, process);
      g_hash_table_insert (loader->processes, &process->id, process);
    }
  return weft_metrics_query_done (loader->trace, stmt, rc, error);
}

/* Threads: their whole-life totals, or their states clipped to the span. */
static gboolean
load_threads (Loader  *loader,
              GError **error)
{
  static const char sql[] =
    "SELECT t.id, t.tid, t.name, t.process_id, s.running_ns, s.runnable_ns, s.lock_ns, s.sync_ns,"
    " s.io_ns, s.sleep_ns, s.blocked_ns FROM threads t LEFT JOIN thread_summary s ON s.thread_id = t.id"
    " ORDER BY t.process_id, t.id";
  static const char span_sql[] =
    "SELECT thread_id, state, sum(min(end_ns, :e) - max(start_ns, :s)) FROM thread_states"
    " WHERE start_ns < :e AND end_ns > :s GROUP BY thread_id, state";
  WeftReport *report = loader->report;
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      WeftReportThread *thread = g_new0 (WeftReportThread, 1);

      thread->id = sqlite3_column_int64 (stmt, 0);
      thread->tid = sqlite3_column_int (stmt, 1);
      thread->name = column_text (stmt, 2);
      thread->process = g_hash_table_lookup (loader->processes, &(gint64) { sqlite3_column_int64 (stmt, 3) });
      for (int s = 0; s < WEFT_N_STATES && !report->has_span; s++)
        thread->state_ns[s] = sqlite3_column_int64 (stmt, 4 + s);
      g_ptr_array_add (loader->all_threads, thread);
      g_hash_table_insert (loader->threads, &thread->id, thread);
    }
  if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
    return FALSE;

  if (report->has_span)
    {
      if ((stmt = weft_trace_prepare (loader->trace, span_sql, error)) == NULL)
        return FALSE;
      bind_span (stmt, loader);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          WeftReportThread *thread = g_hash_table_lookup (loader->threads, &(gint64) { sqlite3_column_int64 (stmt, 0) });
          WeftState state;

          if (thread != NULL && weft_state_from_name ((const char *) sqlite3_column_text (stmt, 1), &state))
            thread->state_ns[state] += sqlite3_column_int64 (stmt, 2);
        }
      if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
        return FALSE;
    }

  for (guint i = 0; i < loader->all_threads->len; i++)
    {
      WeftReportThread *thread = loader->all_threads->pdata[i];

      for (int s = 0; s < WEFT_N_STATES; s++)
        thread->life_ns += thread->state_ns[s];
      /* With a span, a thread that was not alive in it is not shown. */
      if (report->has_span && thread->life_ns == 0)
        continue;
      if (thread->process != NULL)
        {
          thread->process->running_ns += thread->state_ns[WEFT_STATE_RUNNING];
          thread->process->threads++;
        }
      g_ptr_array_add (report->threads, thread);
    }
  return TRUE;
}

/* Granularity (weft-metrics.h): for the whole trace as the analysis
 * stored it, for a span from thread_states clipped to it. */

/* Sets a row of figures on its thread, its process, or (neither) the
 * report; nothing for a thread or process that the report does not have. */
static void
set_granularity (Loader                       *loader,
                 gboolean                      of_thread,
                 gboolean                      of_process,
                 const WeftMetricsGranularity *row)
{
  WeftReport *report = loader->report;
  gint64 *bursts = &report->bursts, *p50_ns = &report->granularity_p50_ns;
  gint64 *p90_ns = &report->granularity_p90_ns, *cpu_p50_ns = &report->granularity_cpu_p50_ns;

  if (of_thread)
    {
      WeftReportThread *thread = g_hash_table_lookup (loader->threads, &row->thread_id);

      if (thread == NULL)
        return;
      bursts = &thread->bursts, p50_ns = &thread->granularity_p50_ns;
      p90_ns = &thread->granularity_p90_ns, cpu_p50_ns = &thread->granularity_cpu_p50_ns;
    }
  else if (of_process)
    {
      WeftReportProcess *process = g_hash_table_lookup (loader->processes, &row->process_id);

      if (process == NULL)
        return;
      bursts = &process->bursts, p50_ns = &process->granularity_p50_ns;
      p90_ns = &process->granularity_p90_ns, cpu_p50_ns = &process->granularity_cpu_p50_ns;
    }
  *bursts = row->bursts;
  *p50_ns = row->p50_ns;
  *p90_ns = row->p90_ns;
  *cpu_p50_ns = row->cpu_p50_ns;
}

/* The whole trace's granularity as the analysis stored it (one row per
 * thread, per process, and for the trace), so a report without --span does
 * not rescan thread_states. FALSE when the table is not there (a trace
 * analysed before it existed). */
static gboolean
load_stored_granularity (Loader *loader)
{
  static const char sql[] =
    "SELECT thread_id, process_id, bursts, p50_ns, p90_ns, cpu_p50_ns FROM granularity";
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, NULL);

  if (stmt == NULL)
    return FALSE;
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gboolean of_thread = sqlite3_column_type (stmt, 0) != SQLITE_NULL;
      gboolean of_process = sqlite3_column_type (stmt, 1) != SQLITE_NULL;
      WeftMetricsGranularity row = {
        .thread_id = sqlite3_column_int64 (stmt, 0),
        .process_id = sqlite3_column_int64 (stmt, 1),
        .bursts = sqlite3_column_int64 (stmt, 2),
        .p50_ns = sqlite3_column_int64 (stmt, 3),
        .p90_ns = sqlite3_column_int64 (stmt, 4),
        .cpu_p50_ns = sqlite3_column_int64 (stmt, 5),
      };

      set_granularity (loader, of_thread, of_process, &row);
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* Ends the bursts of thread_id: its figures, and its bursts pooled into its
 * process's. */
static void
end_thread_bursts (Loader            *loader,
                   WeftMetricsBursts *bursts,
                   gint64             thread_id)
{
  WeftReportThread *thread = g_hash_table_lookup (loader->threads, &thread_id);
  WeftReportProcess *process = thread != NULL ? thread->process : NULL;
  WeftMetricsGranularity row = weft_metrics_bursts_end_thread (bursts, thread_id,
                                                               process != NULL ? process->id : 0,
                                                               process != NULL);

  set_granularity (loader, TRUE, FALSE, &row);
}

static gboolean
load_granularity (Loader  *loader,
                  GError **error)
{
  static const char sql[] =
    "SELECT thread_id, state, min(end_ns, :e) - max(start_ns, :s) FROM thread_states"
    " WHERE start_ns < :e AND end_ns > :s ORDER BY thread_id, start_ns";
  g_autoptr(WeftMetricsBursts) bursts = weft_metrics_bursts_new ();
  g_autoptr(GArray) rows = g_array_new (FALSE, FALSE, sizeof (WeftMetricsGranularity));
  sqlite3_stmt *stmt;
  gboolean in_thread = FALSE;
  gint64 thread_id = 0;
  int rc;

  if (!loader->report->has_span && load_stored_granularity (loader))
    return TRUE;
  if (!weft_metrics_bursts_add_processes (bursts, loader->trace, error)
      || (stmt = weft_trace_prepare (loader->trace, sql, error)) == NULL)
    return FALSE;
  bind_span (stmt, loader);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      WeftState state;

      if (!in_thread || sqlite3_column_int64 (stmt, 0) != thread_id)
        {
          if (in_thread)
            end_thread_bursts (loader, bursts, thread_id);
          in_thread = TRUE;
          thread_id = sqlite3_column_int64 (stmt, 0);
        }
      weft_state_from_name ((const char *) sqlite3_column_text (stmt, 1), &state);
      weft_metrics_bursts_add_state (bursts, state, sqlite3_column_int64 (stmt, 2));
    }
  if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
    return FALSE;
  if (in_thread)
    end_thread_bursts (loader, bursts, thread_id);

  /* The processes' rows, then the whole trace's. */
  weft_metrics_bursts_end (bursts, rows);
  for (guint i = 0; i < rows->len; i++)
    set_granularity (loader, FALSE, i + 1 < rows->len, &g_array_index (rows, WeftMetricsGranularity, i));
  return TRUE;
}

/* Every object, with zero figures, so blocking rows can name theirs. */
static gboolean
load_objects (Loader  *loader,
              GError **error)
{
  static const char sql[] = "SELECT id, process_id, address, kind, name FROM objects ORDER BY id";
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      WeftReportLock *lock = g_new0 (WeftReportLock, 1);

      lock->id = sqlite3_column_int64 (stmt, 0);
      lock->process = g_hash_table_lookup (loader->processes, &(gint64) { sqlite3_column_int64 (stmt, 1) });
      lock->address = (guint64) sqlite3_column_int64 (stmt, 2);
      lock->kind = column_text (stmt, 3);
      lock->name = column_text (stmt, 4);
      lock->holders = g_ptr_array_new_with_free_func (g_free);
      lock->stacks = g_ptr_array_new_with_free_func (stack_free);
      g_ptr_array_add (loader->all_locks, lock);
      g_hash_table_insert (loader->objects, &lock->id, lock);
    }
  return weft_metrics_query_done (loader->trace, stmt, rc, error);
}

static gboolean
load_lock_stats (Loader  *loader,
                 GError **error)
{
  static const char sql[] =
    "SELECT object_id, acquisitions, contentions, waits, wait_total_ns, wait_max_ns, wait_p50_ns,"
    " wait_p90_ns, wait_p99_ns, hold_total_ns, hold_max_ns, threads FROM lock_stats";
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      WeftReportLock *lock = g_hash_table_lookup (loader->objects, &(gint64) { sqlite3_column_int64 (stmt, 0) });

      if (lock == NULL)
        continue;
      lock->acquisitions = sqlite3_column_int64 (stmt, 1);
      lock->contentions = sqlite3_column_int64 (stmt, 2);
      lock->waits = sqlite3_column_int64 (stmt, 3);
      lock->wait_total_ns = sqlite3_column_int64 (stmt, 4);
      lock->wait_max_ns = sqlite3_column_int64 (stmt, 5);
      lock->wait_p50_ns = sqlite3_column_int64 (stmt, 6);
      lock->wait_p90_ns = sqlite3_column_int64 (stmt, 7);
      lock->wait_p99_ns = sqlite3_column_int64 (stmt, 8);
      lock->hold_total_ns = sqlite3_column_int64 (stmt, 9);
      lock->hold_max_ns = sqlite3_column_int64 (stmt, 10);
      lock->threads = sqlite3_column_int64 (stmt, 11);
    }
  return weft_metrics_query_done (loader->trace, stmt, rc, error);
}

/* Span figures of the objects, from the waits that overlap the span, each
 * clipped to it. Fills the holders, stacks and blocking sums. */
static gboolean
load_span_waits (Loader      *loader,
                 GHashTable  *holders,
                 GHashTable  *stacks,
                 GHashTable  *blocking,
                 GError     **error)
{
  static const char sql[] =
    "SELECT object_id, thread_id, holder_thread_id, stack_id, min(end_ns, :e) - max(start_ns, :s)"
    " FROM waits WHERE object_id IS NOT NULL AND start_ns < :e AND end_ns > :s";
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  g_autoptr(GHashTable) durations = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_array_unref);
  g_autoptr(GHashTable) waiters = weft_metrics_keys_new ();
  GHashTableIter iter;
  gpointer key, value;
  int rc;

  if (stmt == NULL)
    return FALSE;
  bind_span (stmt, loader);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      WeftReportLock *lock = g_hash_table_lookup (loader->objects, &(gint64) { sqlite3_column_int64 (stmt, 0) });
      gint64 waiter = sqlite3_column_int64 (stmt, 1);
      gint64 holder = sqlite3_column_int64 (stmt, 2);
      gint64 stack = sqlite3_column_int64 (stmt, 3);
      gint64 ns = MAX (0, sqlite3_column_int64 (stmt, 4));
      GArray *ns_list;

      if (lock == NULL)
        continue;
      if ((ns_list = g_hash_table_lookup (durations, lock)) == NULL)
        g_hash_table_insert (durations, lock, ns_list = g_array_new (FALSE, FALSE, sizeof (gint64)));
      g_array_append_val (ns_list, ns);
      if (weft_metrics_keys_add (waiters, lock->id, waiter, 0))
        lock->threads++;
      if (holder != 0)
        {
          weft_metrics_sums_add (holders, lock->id, holder, 0, ns);
          weft_metrics_sums_add (blocking, waiter, holder, lock->id, ns);
        }
      if (stack != 0)
        weft_metrics_sums_add (stacks, lock->id, stack, 0, ns);
    }
  if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
    return FALSE;

  g_hash_table_iter_init (&iter, durations);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      WeftReportLock *lock = key;
      WeftMetricsWaits waits = weft_metrics_waits ((gint64 *) ((GArray *) value)->data, ((GArray *) value)->len);

      lock->waits = waits.waits;
      lock->contentions = waits.waits;
      lock->wait_total_ns = waits.total_ns;
      lock->wait_max_ns = waits.max_ns;
      lock->wait_p50_ns = waits.p50_ns;
      lock->wait_p90_ns = waits.p90_ns;
      lock->wait_p99_ns = waits.p99_ns;
    }
  for (guint i = 0; i < loader->all_locks->len; i++)
    {
      WeftReportLock *lock = loader->all_locks->pdata[i];

      lock->acquisitions = -1;
      lock->hold_total_ns = -1;
      lock->hold_max_ns = -1;
    }
  return TRUE;
}

static gint
compare_locks (gconstpointer a,
               gconstpointer b)
{
  const WeftReportLock *x = *(WeftReportLock * const *) a;
  const WeftReportLock *y = *(WeftReportLock * const *) b;

  if (x->wait_total_ns != y->wait_total_ns)
    return x->wait_total_ns > y->wait_total_ns ? -1 : 1;
  if (x->contentions != y->contentions)
    return x->contentions > y->contentions ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The stack's frames: function names, or module+offset without one. */
static gboolean
load_frames (Loader           *loader,
             WeftReportStack  *stack,
             gint64            stack_id,
             GError          **error)
{
  static const char sql[] =
    "SELECT f.function, f.module, f.address FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id"
    " WHERE sf.stack_id = :stack ORDER BY sf.depth LIMIT " G_STRINGIFY (WEFT_REPORT_FRAMES_PER_STACK);
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  g_autoptr(GStrvBuilder) frames = g_strv_builder_new ();
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, stack_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *function = (const char *) sqlite3_column_text (stmt, 0);
      const char *module = (const char *) sqlite3_column_text (stmt, 1);
      g_autofree char *base = module != NULL ? g_path_get_basename (module) : g_strdup ("?");

      g_autofree char *unknown = NULL;

      if (function == NULL)
        unknown = g_strdup_printf ("%s+0x%" G_GINT64_MODIFIER "x", base, (guint64) sqlite3_column_int64 (stmt, 2));
      g_strv_builder_add (frames, function != NULL ? function : unknown);
    }
  stack->frames = g_strv_builder_end (frames);
  return weft_metrics_query_done (loader->trace, stmt, rc, error);
}

/* A holder or a stack of an object, with its waits. */
typedef struct
{
  gint64 id;
  gint64 waits;
  gint64 total_ns;
} Row;

static gint
compare_rows (gconstpointer a,
              gconstpointer b)
{
  const Row *x = a, *y = b;

  if (x->total_ns != y->total_ns)
    return x->total_ns > y->total_ns ? -1 : 1;
  if (x->waits != y->waits)
    return x->waits > y->waits ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The best `limit` rows of a (object, id, 0) → WeftMetricsSum table for one
 * object. */
static void
rows_for_object (GHashTable *sums,
                 gint64      object_id,
                 guint       limit,
                 GArray     *rows)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, sums);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (((const WeftMetricsKey *) key)->a == object_id)
      {
        const WeftMetricsSum *sum = value;
        Row row = { ((const WeftMetricsKey *) key)->b, sum->count, sum->total_ns };

        g_array_append_val (rows, row);
      }
  g_array_sort (rows, compare_rows);
  if (rows->len > limit)
    g_array_set_size (rows, limit);
}

/* The best rows of one object from a query (:object → id, waits, total). */
static gboolean
query_rows (Loader      *loader,
            const char  *sql,
            gint64       object_id,
            GArray      *rows,
            GError     **error)
{
  sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, object_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Row row = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1), sqlite3_column_int64 (stmt, 2) };

      g_array_append_val (rows, row);
    }
  return weft_metrics_query_done (loader->trace, stmt, rc, error);
}

/* Holders and stacks of the shown objects: from the derived tables for the
 * whole trace, from the span's sums otherwise. */
static gboolean
load_lock_details (Loader      *loader,
                   GHashTable  *holders,
                   GHashTable  *stacks,
                   GError     **error)
{
  static const char holders_sql[] =
    "SELECT holder_thread_id, sum(waits), sum(wait_total_ns) AS total FROM blocking"
    " WHERE object_id = :object GROUP BY holder_thread_id ORDER BY total DESC, holder_thread_id"
    " LIMIT " G_STRINGIFY (WEFT_REPORT_HOLDERS_PER_OBJECT);
  static const char stacks_sql[] =
    "SELECT stack_id, waits, wait_total_ns FROM lock_stacks WHERE object_id = :object"
    " ORDER BY wait_total_ns DESC, stack_id LIMIT " G_STRINGIFY (WEFT_REPORT_STACKS_PER_OBJECT);
  GPtrArray *locks = loader->report->locks;

  for (guint i = 0; i < locks->len; i++)
    {
      WeftReportLock *lock = locks->pdata[i];
      g_autoptr(GArray) holder_rows = g_array_new (FALSE, FALSE, sizeof (Row));
      g_autoptr(GArray) stack_rows = g_array_new (FALSE, FALSE, sizeof (Row));

      if (loader->report->has_span)
        {
          rows_for_object (holders, lock->id, WEFT_REPORT_HOLDERS_PER_OBJECT, holder_rows);
          rows_for_object (stacks, lock->id, WEFT_REPORT_STACKS_PER_OBJECT, stack_rows);
        }
      else if (!query_rows (loader, holders_sql, lock->id, holder_rows, error)
               || !query_rows (loader, stacks_sql, lock->id, stack_rows, error))
        return FALSE;

      for (guint j = 0; j < holder_rows->len; j++)
        {
          const Row *row = &g_array_index (holder_rows, Row, j);
          WeftReportThread *thread = g_hash_table_lookup (loader->threads, &row->id);
          WeftReportHolder *holder;

          if (thread == NULL)
            continue;
          holder = g_new0 (WeftReportHolder, 1);
          holder->thread = thread;
          holder->waits = row->waits;
          holder->wait_ns = row->total_ns;
          g_ptr_array_add (lock->holders, holder);
        }
      for (guint j = 0; j < stack_rows->len; j++)
        {
          const Row *row = &g_array_index (stack_rows, Row, j);
          WeftReportStack *stack = g_new0 (WeftReportStack, 1);

          stack->waits = row->waits;
          stack->wait_ns = row->total_ns;
          g_ptr_array_add (lock->stacks, stack);
          if (!load_frames (loader, stack, row->id, error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
add_blocking (Loader  *loader,
              gint64   waiter_id,
              gint64   holder_id,
              gint64   object_id,
              gint64   waits,
              gint64   total_ns,
              gint64   max_ns)
{
  WeftReportBlocking *row;
  WeftReportThread *waiter = g_hash_table_lookup (loader->threads, &waiter_id);
  WeftReportThread *holder = g_hash_table_lookup (loader->threads, &holder_id);
  WeftReportLock *object = g_hash_table_lookup (loader->objects, &object_id);

  if (waiter == NULL || holder == NULL || object == NULL)
    return FALSE;
  row = g_new0 (WeftReportBlocking, 1);
  row->waiter = waiter;
  row->holder = holder;
  row->object = object;
  row->waits = waits;
  row->wait_total_ns = total_ns;
  row->wait_max_ns = max_ns;
  g_ptr_array_add (loader->report->blocking, row);
  return TRUE;
}

static gint
compare_blocking (gconstpointer a,
                  gconstpointer b)
{
  const WeftReportBlocking *x = *(WeftReportBlocking * const *) a;
  const WeftReportBlocking *y = *(WeftReportBlocking * const *) b;

  if (x->wait_total_ns != y->wait_total_ns)
    return x->wait_total_ns > y->wait_total_ns ? -1 : 1;
  if (x->waits != y->waits)
    return x->waits > y->waits ? -1 : 1;
  if (x->waiter->id != y->waiter->id)
    return x->waiter->id < y->waiter->id ? -1 : 1;
  return x->holder->id < y->holder->id ? -1 : x->holder->id > y->holder->id;
}

static gboolean
load_blocking (Loader      *loader,
               GHashTable  *blocking,
               GError     **error)
{
  static const char sql[] =
    "SELECT waiter_thread_id, holder_thread_id, object_id, waits, wait_total_ns, wait_max_ns FROM blocking";
  WeftReport *report = loader->report;

  if (report->has_span)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, blocking);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          const WeftMetricsKey *ids = key;
          const WeftMetricsSum *sum = value;

          add_blocking (loader, ids->a, ids->b, ids->c, sum->count, sum->total_ns, sum->max_ns);
        }
    }
  else
    {
      sqlite3_stmt *stmt = weft_trace_prepare (loader->trace, sql, error);
      int rc;

      if (stmt == NULL)
        return FALSE;
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        add_blocking (loader, sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                      sqlite3_column_int64 (stmt, 2), sqlite3_column_int64 (stmt, 3),
                      sqlite3_column_int64 (stmt, 4), sqlite3_column_int64 (stmt, 5));
      if (!weft_metrics_query_done (loader->trace, stmt, rc, error))
        return FALSE;
    }
  g_ptr_array_sort (report->blocking, compare_blocking);
  report->blocking_total = report->blocking->len;
  if (loader->top > 0 && report->blocking->len > loader->top)
    g_ptr_array_set_size (report->blocking, loader->top);
  return TRUE;
}

static gboolean
is_lock_kind (const char *kind)
{
  static const char * const kinds[] = { "mutex", "rwlock", "spin", "sem", "gil", NULL };

  return g_strv_contains (kinds, kind);
}

static gboolean
load_locks (Loader  *loader,
            GError **error)
{
  WeftReport *report = loader->report;
  g_autoptr(GHashTable) holders = weft_metrics_sums_new ();
  g_autoptr(GHashTable) stacks = weft_metrics_sums_new ();
  g_autoptr(GHashTable) blocking = weft_metrics_sums_new ();

  if (!load_objects (loader, error))
    return FALSE;
  if (report->has_span ? !load_span_waits (loader, holders, stacks, blocking, error)
                       : !load_lock_stats (loader, error))
    return FALSE;

  for (guint i = 0; i < loader->all_locks->len; i++)
    {
      WeftReportLock *lock = loader->all_locks->pdata[i];

      if (lock->waits > 0 || lock->contentions > 0)
        g_ptr_array_add (report->locks, lock);
    }
  g_ptr_array_sort (report->locks, compare_locks);
  report->locks_total = report->locks->len;
  return load_blocking (loader, blocking, error)
         && (loader->top == 0 || report->locks->len <= loader->top
             || (g_ptr_array_set_size (report->locks, loader->top), TRUE))
         && load_lock_details (loader, holders, stacks, error);
}

/* The verdict */

/* The object of the given kinds with the most wait, and its share of the
 * wait on all objects of those kinds. */
static const WeftReportLock *
dominant_object (Loader   *loader,
                 gboolean  locks,
                 double   *share)
{
  const WeftReportLock *best = NULL;
  gint64 total_ns = 0;

  for (guint i = 0; i < loader->all_locks->len; i++)
    {
      const WeftReportLock *lock = loader->all_locks->pdata[i];

      if (is_lock_kind (lock->kind) != locks)
        continue;
      total_ns += lock->wait_total_ns;
      if (best == NULL || lock->wait_total_ns > best->wait_total_ns)
        best = lock;
    }
  *share = total_ns > 0 && best != NULL ? (double) best->wait_total_ns / total_ns : 0;
  return best;
}

static char *
cpus_busy (const WeftReport *report)
{
  if (report->cpus > 0)
    return g_strdup_printf ("%.2f of %d %s busy", report->mean_parallelism, report->cpus,
                            report->cpus == 1 ? "CPU" : "CPUs");
  return g_strdup_printf ("%.2f CPUs busy", report->mean_parallelism);
}

static char *
verdict_for_gap (Loader    *loader,
                 WeftState  state)
{
  const WeftReport *report = loader->report;
  const WeftReportLock *object;
  g_autofree char *label = NULL;
  double share;

  switch (state)
    {
    case WEFT_STATE_LOCK:
      object = dominant_object (loader, TRUE, &share);
      if (object != NULL && share >= 0.5)
        {
          label = weft_report_lock_label (object);
          return g_strdup_printf ("threads mostly waited for one lock: %s (%.0f%% of the lock waiting)",
                                  label, 100 * share);
        }
      return g_strdup ("threads mostly waited for locks, spread over several of them");
    case WEFT_STATE_RUNNABLE:
      return g_strdup_printf ("more runnable threads than CPUs: on average %.2f threads waited for a CPU",
                              report->state_means[WEFT_STATE_RUNNABLE]);
    case WEFT_STATE_SYNC:
      object = dominant_object (loader, FALSE, &share);
      if (object != NULL && share >= 0.5)
        {
          label = weft_report_lock_label (object);
          return g_strdup_printf ("threads mostly waited for each other, on %s%s%s", label,
                                  object->name != NULL ? " " : "", object->name != NULL ? object->kind : "");
        }
      return g_strdup ("threads mostly waited for each other (condition variables, barriers, "
                       "joins, child processes)");
    case WEFT_STATE_IO:
      return g_strdup ("mostly waiting for I/O (poll, select, epoll)");
    case WEFT_STATE_BLOCKED:
    default:
      return g_strdup ("threads mostly blocked in the kernel outside locks and waits "
                       "(reads, writes, page faults…)");
    }
}

/* Programs of a known shape, recognised before the general rule. Each
 * returns NULL when the trace is not of its shape. */

/* Bursts between two waits shorter than this on average are too small for
 * the waiting around them: the overhead verdict. */
#define OVERHEAD_MEAN_BURST_NS (200 * 1000)
/* ... when at least this share of the threads' time (C) went to waiting. */
#define OVERHEAD_WAIT_SHARE 0.4

static char *
duration_words (gint64 ns)
{
  if (ns < 10 * 1000)
    return g_strdup_printf ("%.1f µs", ns / 1e3);
  if (ns < 1000 * 1000)
    return g_strdup_printf ("%.0f µs", ns / 1e3);
  if (ns < G_GINT64_CONSTANT (1000) * 1000 * 1000)
    return g_strdup_printf ("%.1f ms", ns / 1e6);
  return g_strdup_printf ("%.2f s", ns / 1e9);
}

/* Processes whose threads ran in the span. */
static guint
busy_processes (const WeftReport *report)
{
  guint count = 0;

  for (guint i = 0; i < report->processes->len; i++)
    count += ((const WeftReportProcess *) report->processes->pdata[i])->running_ns > 0;
  return count;
}

/* Python threads taking turns: the GIL is most of the lock waiting, and
 * lock is the largest part of the gap. */
static char *
verdict_gil (Loader    *loader,
             WeftState  dominant)
{
  const WeftReport *report = loader->report;
  const WeftReportLock *gil;
  g_autofree char *holder = NULL;
  gint64 life_ns = 0, held_ns = 0, total_ns;
  guint waiters = 0;
  double share;

  /* The GIL need not be the largest lock wait: a main thread that waits
   * for its pool's results on a Python lock (a sem) waits longer. */
  gil = NULL;
  total_ns = 0;
  for (guint i = 0; i < loader->all_locks->len; i++)
    {
      const WeftReportLock *lock = loader->all_locks->pdata[i];

      if (!is_lock_kind (lock->kind))
        continue;
      total_ns += lock->wait_total_ns;
      if (g_strcmp0 (lock->kind, "gil") == 0 && (gil == NULL || lock->wait_total_ns > gil->wait_total_ns))
        gil = lock;
    }
  share = total_ns > 0 && gil != NULL ? (double) gil->wait_total_ns / total_ns : 0;
  if (dominant != WEFT_STATE_LOCK || gil == NULL || share < 0.25)
    return NULL;
  /* The threads of its process that waited for a lock: those that wanted
   * the GIL (a Python thread waits for nothing else in state lock). */
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      if (thread->process != gil->process || thread->state_ns[WEFT_STATE_LOCK] == 0)
        continue;
      waiters++;
      life_ns += thread->life_ns - thread->state_ns[WEFT_STATE_SLEEP];
    }
  if (waiters < 2 || life_ns <= 0)
    return NULL;
  for (guint i = 0; i < gil->holders->len; i++)
    held_ns += ((const WeftReportHolder *) gil->holders->pdata[i])->wait_ns;
  if (gil->holders->len > 0)
    {
      const WeftReportHolder *top = gil->holders->pdata[0];
      g_autofree char *name = weft_report_thread_label (top->thread);

      holder = g_strdup_printf (" (held most by %s %d: %.0f%% of the waiting for a known holder)",
                                name, top->thread->tid, held_ns > 0 ? 100.0 * top->wait_ns / held_ns : 0);
    }
  return g_strdup_printf ("%u threads wanted the CPU, %.1f ran on average: %.0f%% of their time "
                          "waiting for the GIL%s", waiters, report->mean_parallelism,
                          MIN (100.0, 100.0 * gil->wait_total_ns / life_ns), holder ? holder : "");
}

/* One thread in I/O waits that the others do not share: an event loop. */
static char *
verdict_event_loop (Loader    *loader,
                    WeftState  dominant)
{
  const WeftReport *report = loader->report;
  const WeftReportThread *loop = NULL;
  g_autofree char *name = NULL;
  gint64 io_ns = 0;

  if (dominant != WEFT_STATE_IO)
    return NULL;
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      io_ns += thread->state_ns[WEFT_STATE_IO];
      if (loop == NULL || thread->state_ns[WEFT_STATE_IO] > loop->state_ns[WEFT_STATE_IO])
        loop = thread;
    }
  if (loop == NULL || io_ns == 0 || loop->life_ns == 0
      || loop->state_ns[WEFT_STATE_IO] < 0.8 * io_ns
      || loop->state_ns[WEFT_STATE_RUNNING] < 0.5 * report->mean_parallelism
                                              * (report->span_end_ns - report->span_start_ns))
    return NULL;
  name = weft_report_thread_label (loop);
  return g_strdup_printf ("event loop on one thread (%s): %.0f%% of its time waiting for I/O",
                          name, 100.0 * loop->state_ns[WEFT_STATE_IO] / loop->life_ns);
}

/* Workers that wait more than they work, between bursts too short for the
 * waiting around them: tasks too small for their synchronization. */
static char *
verdict_overhead (Loader *loader)
{
  const WeftReport *report = loader->report;
  static const WeftState waits[] = {
    WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC, WEFT_STATE_IO, WEFT_STATE_BLOCKED,
  };
  g_autofree char *median = NULL;
  g_autofree char *mean = NULL;
  g_autoptr (GString) parts = g_string_new (NULL);
  double running_ns = report->mean_parallelism * (report->span_end_ns - report->span_start_ns);
  double waiting = 0;

  if (report->bursts == 0 || running_ns >= (double) OVERHEAD_MEAN_BURST_NS * report->bursts
      || report->mean_concurrency <= 0 || busy_processes (report) < 2
      || (report->cpus > 0 && report->mean_parallelism >= 0.9 * report->cpus))
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (waits); i++)
    waiting += report->state_means[waits[i]];
  if (waiting < OVERHEAD_WAIT_SHARE * report->mean_concurrency)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (waits); i++)
    {
      double share = report->state_means[waits[i]] / report->mean_concurrency;

      if (share >= 0.05)
        g_string_append_printf (parts, "%s%s %.0f%%", parts->len > 0 ? ", " : "",
                                weft_state_name (waits[i]), 100 * share);
    }
  median = duration_words (report->granularity_p50_ns);
  mean = duration_words ((gint64) (running_ns / report->bursts));
  return g_strdup_printf ("overhead: %u processes worked in %" G_GINT64_FORMAT " bursts between "
                          "waits, %s each (median), %s on average, and spent %.0f%% of their "
                          "threads' time waiting (%s): tasks this small drown in their IPC and "
                          "locks — make them larger", busy_processes (report), report->bursts,
                          median, mean, 100 * waiting / report->mean_concurrency, parts->str);
}

static char *
make_verdict (Loader *loader)
{
  const WeftReport *report = loader->report;
  static const WeftState gap_states[] = {
    WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC, WEFT_STATE_IO, WEFT_STATE_BLOCKED,
  };
  double gap = report->mean_concurrency - report->mean_parallelism;
  g_autofree char *busy = cpus_busy (report);
  g_autofree char *why = NULL;
  WeftState dominant = WEFT_STATE_BLOCKED;

  if (report->mean_concurrency < 0.005)
    return g_strdup (report->state_means[WEFT_STATE_SLEEP] > 0.005
                     ? "idle: the threads were asleep"
                     : "idle: no thread of the program was alive and awake");
  if (!report->cpu_known)
    return g_strdup ("no scheduling data (a trace recovered after weft was killed): how much "
                     "ran in parallel is not known; the waits and locks are");
  if (report->state_means[WEFT_STATE_SLEEP] > report->mean_concurrency)
    return g_strdup_printf ("threads mostly slept: %.2f asleep on average; %s",
                            report->state_means[WEFT_STATE_SLEEP], busy);
  /* Every CPU busy: whatever else the threads did, nothing was lost. */
  if (report->cpus > 0 && report->mean_parallelism >= 0.9 * report->cpus)
    return busy_processes (report) > 1
           ? g_strdup_printf ("parallel: %s, in %u processes", busy, busy_processes (report))
           : g_strdup_printf ("parallel: %s", busy);
  if (gap <= 0.1 * report->mean_concurrency)
    return g_strdup_printf ("parallel: %s; every thread ran whenever it could, "
                            "so more threads could use more CPUs", busy);
  for (gsize i = 0; i < G_N_ELEMENTS (gap_states); i++)
    if (report->state_means[gap_states[i]] > report->state_means[dominant])
      dominant = gap_states[i];
  if ((why = verdict_overhead (loader)) == NULL
      && (why = verdict_gil (loader, dominant)) == NULL
      && (why = verdict_event_loop (loader, dominant)) == NULL)
    why = verdict_for_gap (loader, dominant);
  return g_strdup_printf ("%s; %s", why, busy);
}

WeftReport *
weft_report_load (WeftTrace                *trace,
                  const WeftReportOptions  *options,
                  GError                  **error)
{
  g_autoptr(WeftReport) report = g_new0 (WeftReport, 1);
  Loader loader = { .trace = trace, .report = report, .top = options->top };
  gboolean ok;

  g_return_val_if_fail (trace != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  report->path = g_strdup (weft_trace_get_path (trace));
  report->processes = g_ptr_array_new_with_free_func (process_free);
  report->thread_pool = g_ptr_array_new_with_free_func (thread_free);
  report->object_pool = g_ptr_array_new_with_free_func (lock_free);
  report->threads = g_ptr_array_new ();
  report->locks = g_ptr_array_new ();
  report->blocking = g_ptr_array_new_with_free_func (g_free);
  loader.processes = g_hash_table_new (g_int64_hash, g_int64_equal);
  loader.threads = g_hash_table_new (g_int64_hash, g_int64_equal);
  loader.objects = g_hash_table_new (g_int64_hash, g_int64_equal);
  loader.all_locks = report->object_pool;
  loader.all_threads = report->thread_pool;

  ok = load_meta (&loader, error)
       && resolve_span (&loader, options, error)
       && load_summary (&loader, error)
       && load_processes (&loader, error)
       && load_threads (&loader, error)
       && load_granularity (&loader, error)
       && load_locks (&loader, error);
  if (ok)
    report->verdict = make_verdict (&loader);
  g_hash_table_unref (loader.processes);
  g_hash_table_unref (loader.threads);
  g_hash_table_unref (loader.objects);
  if (!ok)
    return NULL;
  return g_steal_pointer (&report);
}
