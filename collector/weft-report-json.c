/* weft-report-json.c — the report as one JSON object (docs/report-json.md).
 *
 * A small writer of our own: names are fixed ASCII, numbers are integers
 * (nanoseconds, counts) or fixed-point decimals written without the locale,
 * and every string from the trace goes through
 * weft_report_append_json_string() (weft-report-output.c, shared with
 * `weft export --format chrome`), which escapes quotes, backslashes, control
 * characters, U+2028/U+2029 and the HTML-significant < > & (so the JSON can
 * be pasted into a <script>), and replaces bytes that are not UTF-8 with
 * U+FFFD: the output is always valid UTF-8 JSON, whatever the traced program
 * named its threads.
 */
#include <math.h>
#include <string.h>

#include "weft-report.h"

typedef struct
{
  GString *out;
  guint    depth;
  gboolean first;   /* nothing written yet in the current object or array */
} Json;

static void
append_string (GString    *out,
               const char *text)
{
  weft_report_append_json_string (out, text);
}

static void
newline (Json *json)
{
  g_string_append_c (json->out, '\n');
  for (guint i = 0; i < json->depth; i++)
    g_string_append (json->out, "  ");
}

/* Before a member or element: a comma after the previous one, a new line. */
static void
next (Json       *json,
      const char *name)
{
  if (!json->first)
    g_string_append_c (json->out, ',');
  json->first = FALSE;
  newline (json);
  if (name != NULL)
    {
      append_string (json->out, name);
      g_string_append (json->out, ": ");
    }
}

static void
open_container (Json       *json,
                const char *name,
                char        bracket)
{
  next (json, name);
  g_string_append_c (json->out, bracket);
  json->depth++;
  json->first = TRUE;
}

static void
close_container (Json *json,
                 char  bracket)
{
  json->depth--;
  if (!json->first)
    newline (json);
  g_string_append_c (json->out, bracket);
  json->first = FALSE;
}

static void
begin_object (Json       *json,
              const char *name)
{
  open_container (json, name, '{');
}

static void
end_object (Json *json)
{
  close_container (json, '}');
}

static void
begin_array (Json       *json,
             const char *name)
{
  open_container (json, name, '[');
}

static void
end_array (Json *json)
{
  close_container (json, ']');
}

static void
member_string (Json       *json,
               const char *name,
               const char *value)
{
  next (json, name);
  if (value != NULL)
    append_string (json->out, value);
  else
    g_string_append (json->out, "null");
}

static void
member_int (Json       *json,
            const char *name,
            gint64      value)
{
  next (json, name);
  g_string_append_printf (json->out, "%" G_GINT64_FORMAT, value);
}

/* -1 (unknown) is written as null. */
static void
member_int_or_null (Json       *json,
                    const char *name,
                    gint64      value)
{
  if (value < 0)
    {
      next (json, name);
      g_string_append (json->out, "null");
    }
  else
    member_int (json, name, value);
}

static void
member_bool (Json       *json,
             const char *name,
             gboolean    value)
{
  next (json, name);
  g_string_append (json->out, value ? "true" : "false");
}

static void
member_double (Json       *json,
               const char *name,
               double      value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  next (json, name);
  if (!isfinite (value))
    g_string_append (json->out, "null");
  else
    g_string_append (json->out, g_ascii_formatd (buffer, sizeof buffer, "%.6f", value));
}

static void
write_trace (Json             *json,
             const WeftReport *report)
{
  begin_object (json, "trace");
  member_string (json, "file", report->path);
  member_string (json, "command", report->command);
  member_int (json, "start_ns", report->start_ns);
  member_int (json, "duration_ns", report->end_ns - report->start_ns);
  member_int (json, "cpus", report->cpus);
  member_string (json, "sched_source", report->sched_source);
  member_int (json, "sched_period_ns", report->sched_period_ns);
  member_int (json, "lost_events", report->lost_events);
  member_int (json, "anomalies", report->anomalies);
  member_bool (json, "complete", report->complete);
  member_int (json, "processes", report->processes->len);
  member_int (json, "threads", report->thread_pool->len);
  end_object (json);

  if (report->has_span)
    {
      begin_object (json, "span");
      member_int (json, "start_ns", report->span_start_ns - report->start_ns);
      member_int (json, "end_ns", report->span_end_ns - report->start_ns);
      member_int (json, "duration_ns", report->span_end_ns - report->span_start_ns);
      end_object (json);
    }
  else
    {
      next (json, "span");
      g_string_append (json->out, "null");
    }
}

/* Granularity (CPU time between two consecutive waits): null medians
 * when there was no burst. */
static void
write_granularity (Json   *json,
                   gint64  bursts,
                   gint64  p50_ns,
                   gint64  p90_ns,
                   gint64  cpu_p50_ns)
{
  begin_object (json, "granularity");
  member_int (json, "bursts", bursts);
  member_int_or_null (json, "median_ns", bursts > 0 ? p50_ns : -1);
  member_int_or_null (json, "p90_ns", bursts > 0 ? p90_ns : -1);
  member_int_or_null (json, "cpu_median_ns", bursts > 0 ? cpu_p50_ns : -1);
  end_object (json);
}

static void
write_summary (Json             *json,
               const WeftReport *report)
{
  gint64 span_ns = report->span_end_ns - report->span_start_ns;

  begin_object (json, "summary");
  member_int (json, "duration_ns", span_ns);
  member_double (json, "mean_concurrency", report->mean_concurrency);
  member_double (json, "mean_parallelism", report->mean_parallelism);
  member_bool (json, "cpu_known", report->cpu_known);
  member_double (json, "not_waiting", report->cpu_known ? NAN : report->unplaced_mean);
  begin_object (json, "state_means");
  for (int s = 0; s < WEFT_N_STATES; s++)
    member_double (json, weft_state_name (s), report->state_means[s]);
  end_object (json);
  begin_array (json, "parallelism_histogram");
  for (guint level = 0; level < report->parallelism_ns->len; level++)
    member_double (json, NULL, span_ns > 0 ? (double) g_array_index (report->parallelism_ns, gint64, level) / span_ns : 0);
  end_array (json);
  begin_array (json, "parallelism_ns");
  for (guint level = 0; level < report->parallelism_ns->len; level++)
    member_int (json, NULL, g_array_index (report->parallelism_ns, gint64, level));
  end_array (json);
  member_string (json, "verdict", report->verdict);
  write_granularity (json, report->bursts, report->granularity_p50_ns,
                     report->granularity_p90_ns, report->granularity_cpu_p50_ns);
  end_object (json);
}

static void
write_thread_ref (Json                   *json,
                  const char             *name,
                  const WeftReportThread *thread)
{
  begin_object (json, name);
  member_int (json, "tid", thread->tid);
  member_string (json, "name", thread->name);
  member_int (json, "pid", thread->process != NULL ? thread->process->pid : 0);
  end_object (json);
}

static void
write_lock (Json                 *json,
            const WeftReportLock *lock)
{
  g_autofree char *address = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", lock->address);

  begin_object (json, NULL);
  member_string (json, "name", lock->name);
  member_string (json, "kind", lock->kind);
  member_string (json, "address", address);
  member_int (json, "process", lock->process != NULL ? lock->process->pid : 0);
  member_int_or_null (json, "acquisitions", lock->acquisitions);
  member_int (json, "contentions", lock->contentions);
  member_int (json, "waits", lock->waits);
  member_int (json, "wait_total_ns", lock->wait_total_ns);
  member_int (json, "wait_max_ns", lock->wait_max_ns);
  member_int (json, "wait_p50_ns", lock->wait_p50_ns);
  member_int (json, "wait_p90_ns", lock->wait_p90_ns);
  member_int (json, "wait_p99_ns", lock->wait_p99_ns);
  member_int_or_null (json, "hold_total_ns", lock->hold_total_ns);
  member_int_or_null (json, "hold_max_ns", lock->hold_max_ns);
  member_int (json, "threads", lock->threads);

  begin_array (json, "holders");
  for (guint i = 0; i < lock->holders->len; i++)
    {
      const WeftReportHolder *holder = lock->holders->pdata[i];

      begin_object (json, NULL);
      member_int (json, "tid", holder->thread->tid);
      member_string (json, "name", holder->thread->name);
      member_int (json, "count", holder->waits);
      member_int (json, "wait_ns", holder->wait_ns);
      end_object (json);
    }
  end_array (json);

  begin_array (json, "top_stacks");
  for (guint i = 0; i < lock->stacks->len; i++)
    {
      const WeftReportStack *stack = lock->stacks->pdata[i];

      begin_object (json, NULL);
      member_int (json, "count", stack->waits);
      member_int (json, "wait_ns", stack->wait_ns);
      begin_array (json, "frames");
      for (guint f = 0; stack->frames != NULL && stack->frames[f] != NULL; f++)
        member_string (json, NULL, stack->frames[f]);
      end_array (json);
      end_object (json);
    }
  end_array (json);
  end_object (json);
}

static void
write_blocking (Json             *json,
                const WeftReport *report)
{
  begin_array (json, "blocking");
  for (guint i = 0; i < report->blocking->len; i++)
    {
      const WeftReportBlocking *row = report->blocking->pdata[i];
      g_autofree char *address = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", row->object->address);

      begin_object (json, NULL);
      write_thread_ref (json, "waiter", row->waiter);
      write_thread_ref (json, "holder", row->holder);
      begin_object (json, "object");
      member_string (json, "name", row->object->name);
      member_string (json, "kind", row->object->kind);
      member_string (json, "address", address);
      end_object (json);
      member_int (json, "count", row->waits);
      member_int (json, "wait_total_ns", row->wait_total_ns);
      member_int (json, "wait_max_ns", row->wait_max_ns);
      end_object (json);
    }
  end_array (json);
}

static void
write_threads (Json             *json,
               const WeftReport *report)
{
  begin_array (json, "threads");
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      begin_object (json, NULL);
      member_int (json, "tid", thread->tid);
      member_string (json, "name", thread->name);
      member_int (json, "pid", thread->process != NULL ? thread->process->pid : 0);
      member_int (json, "life_ns", thread->life_ns);
      begin_object (json, "states");
      for (int s = 0; s < WEFT_N_STATES; s++)
        member_int (json, weft_state_name (s), thread->state_ns[s]);
      end_object (json);
      write_granularity (json, thread->bursts, thread->granularity_p50_ns,
                         thread->granularity_p90_ns, thread->granularity_cpu_p50_ns);
      end_object (json);
    }
  end_array (json);
}

static void
write_processes (Json             *json,
                 const WeftReport *report)
{
  begin_array (json, "processes");
  for (guint i = 0; i < report->processes->len; i++)
    {
      const WeftReportProcess *process = report->processes->pdata[i];

      begin_object (json, NULL);
      member_int (json, "pid", process->pid);
      next (json, "parent");
      if (process->parent_pid > 0)
        g_string_append_printf (json->out, "%d", process->parent_pid);
      else
        g_string_append (json->out, "null");
      member_string (json, "command", process->command);
      next (json, "exit_status");
      if (process->exited)
        g_string_append_printf (json->out, "%d", process->exit_status);
      else
        g_string_append (json->out, "null");
      next (json, "exit_signal");
      if (process->exit_signal > 0)
        g_string_append_printf (json->out, "%d", process->exit_signal);
      else
        g_string_append (json->out, "null");
      member_int_or_null (json, "cpu_ns", process->cpu_ns);
      member_int (json, "running_ns", process->running_ns);
      member_int (json, "threads", process->threads);
      write_granularity (json, process->bursts, process->granularity_p50_ns,
                         process->granularity_p90_ns, process->granularity_cpu_p50_ns);
      end_object (json);
    }
  end_array (json);
}

void
weft_report_write_json (const WeftReport *report,
                        GString          *out)
{
  Json json = { .out = out, .first = TRUE };

  g_string_append_c (out, '{');
  json.depth = 1;
  member_int (&json, "format_version", 1);
  write_trace (&json, report);
  write_summary (&json, report);
  begin_array (&json, "locks");
  for (guint i = 0; i < report->locks->len; i++)
    write_lock (&json, report->locks->pdata[i]);
  end_array (&json);
  member_int (&json, "locks_total", report->locks_total);
  write_blocking (&json, report);
  member_int (&json, "blocking_total", report->blocking_total);
  write_threads (&json, report);
  write_processes (&json, report);
  g_string_append (out, "\n}\n");
}
