/* weft-report-text.c — the report for people: aligned columns, human units.
 *
 * Every string from the trace is escaped (weft_text_escape) before it is
 * measured or printed, so a thread name cannot move the cursor, change
 * colours or break a column. Colour (bold headings, the verdict) is only
 * added when the caller says the output is a terminal that wants it.
 */
#include <string.h>

#include "weft-report.h"
#include "weft-text.h"

#define BOLD "\033[1m"
#define VERDICT_COLOUR "\033[1;33m"
#define RESET "\033[0m"
#define NAME_MAX_CHARS 48

typedef struct
{
  guint       n_columns;
  const char *align;     /* per column: 'l' or 'r' */
  GPtrArray  *cells;     /* char*, n_columns per row; the first row is the header */
} Table;

static Table *
table_new (const char *align)
{
  Table *table = g_new0 (Table, 1);

  table->n_columns = strlen (align);
  table->align = align;
  table->cells = g_ptr_array_new_with_free_func (g_free);
  return table;
}

static void
table_free (Table *table)
{
  g_ptr_array_unref (table->cells);
  g_free (table);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Table, table_free)

/* Takes the cell (already safe text). */
static void
table_take (Table *table,
            char  *cell)
{
  g_ptr_array_add (table->cells, cell);
}

static void
table_add (Table      *table,
           const char *cell)
{
  g_ptr_array_add (table->cells, g_strdup (cell));
}

/* Escaped, and cut to NAME_MAX_CHARS characters with an ellipsis. */
static char *
safe_name (const char *text)
{
  g_autofree char *safe = weft_text_escape (text);

  if (g_utf8_strlen (safe, -1) <= NAME_MAX_CHARS)
    return g_steal_pointer (&safe);
  return g_strdup_printf ("%.*s…", (int) (g_utf8_offset_to_pointer (safe, NAME_MAX_CHARS - 1) - safe), safe);
}

static void
table_write_header (Table       *table,
                    const char **header,
                    gsize        n)
{
  for (gsize i = 0; i < n; i++)
    table_add (table, header[i]);
}

static void
table_write (const Table *table,
             const char  *indent,
             GString     *out)
{
  g_autofree glong *widths = g_new0 (glong, table->n_columns);

  for (guint i = 0; i < table->cells->len; i++)
    widths[i % table->n_columns] = MAX (widths[i % table->n_columns],
                                        g_utf8_strlen (table->cells->pdata[i], -1));
  for (guint i = 0; i < table->cells->len; i++)
    {
      guint column = i % table->n_columns;
      const char *cell = table->cells->pdata[i];
      glong pad = widths[column] - g_utf8_strlen (cell, -1);
      gboolean last = column == table->n_columns - 1;

      if (column == 0)
        g_string_append (out, indent);
      else
        g_string_append (out, "  ");
      if (table->align[column] == 'r')
        for (glong p = 0; p < pad; p++)
          g_string_append_c (out, ' ');
      g_string_append (out, cell);
      if (table->align[column] != 'r' && !last)
        for (glong p = 0; p < pad; p++)
          g_string_append_c (out, ' ');
      if (last)
        {
          /* No trailing blanks (an empty last column, left-aligned padding). */
          while (out->len > 0 && out->str[out->len - 1] == ' ')
            g_string_truncate (out, out->len - 1);
          g_string_append_c (out, '\n');
        }
    }
}

static void
heading (GString    *out,
         gboolean    colour,
         const char *text)
{
  g_string_append_printf (out, "\n%s%s%s\n", colour ? BOLD : "", text, colour ? RESET : "");
}

static void
fact (GString    *out,
      const char *label,
      const char *value)
{
  g_string_append_printf (out, "  %-13s %s\n", label, value);
}

static char *
duration (gint64 ns)
{
  return weft_text_format_duration (ns);
}

static char *
percent (gint64 part,
         gint64 whole)
{
  if (whole <= 0)
    return g_strdup ("-");
  return g_strdup_printf ("%.1f%%", 100.0 * part / whole);
}

static char *
lock_cell (const WeftReportLock *lock)
{
  g_autofree char *label = weft_report_lock_label (lock);
  g_autofree char *safe = safe_name (label);
  g_autofree char *kind = weft_text_escape (lock->kind);

  return g_strdup_printf ("%s (%s)", safe, kind);
}

static char *
thread_cell (const WeftReportThread *thread)
{
  g_autofree char *label = weft_report_thread_label (thread);
  g_autofree char *safe = safe_name (label);

  return g_strdup_printf ("%s (%d)", safe, thread->tid);
}

static void
write_header (const WeftReport *report,
              GString          *out)
{
  g_autofree char *path = g_filename_display_name (report->path);
  g_autofree char *safe_path = weft_text_escape (path);
  g_autofree char *command = weft_text_escape (report->command != NULL ? report->command : "(not recorded)");
  g_autofree char *length = duration (report->end_ns - report->start_ns);
  g_autofree char *cpus = report->cpus > 0 ? g_strdup_printf ("%d", report->cpus) : g_strdup ("unknown");
  g_autofree char *counts = g_strdup_printf ("%u %s, %u %s",
                                             report->processes->len,
                                             report->processes->len == 1 ? "process" : "processes",
                                             report->thread_pool->len,
                                             report->thread_pool->len == 1 ? "thread" : "threads");
  g_autofree char *lost = NULL;
  g_autofree char *sched = NULL;

  if (g_strcmp0 (report->sched_source, "perf") == 0)
    sched = g_strdup ("perf: exact context switches");
  else if (g_strcmp0 (report->sched_source, "proc") == 0)
    {
      g_autofree char *every = duration (report->sched_period_ns);

      sched = report->sched_period_ns > 0
              ? g_strdup_printf ("proc: /proc sampled every %s (on-CPU times are approximate to that)", every)
              : g_strdup ("proc: /proc sampling (approximate)");
    }
  else if (!report->cpu_known)
    sched = g_strdup ("none: a recovered trace; when threads ran was not recorded, so what was "
                      "not a wait shows as runnable");
  else
    sched = weft_text_escape (report->sched_source != NULL ? report->sched_source : "(not recorded)");
  lost = report->lost_events > 0
         ? g_strdup_printf ("%" G_GINT64_FORMAT " (the figures miss what they did)", report->lost_events)
         : g_strdup ("0");

  g_string_append_printf (out, "weft report: %s\n", safe_path);
  fact (out, "command", command);
  fact (out, "duration", length);
  if (report->has_span)
    {
      g_autofree char *from = duration (report->span_start_ns - report->start_ns);
      g_autofree char *to = duration (report->span_end_ns - report->start_ns);
      g_autofree char *span_length = duration (report->span_end_ns - report->span_start_ns);
      g_autofree char *line = g_strdup_printf ("%s, from %s to %s after the start", span_length, from, to);

      fact (out, "span", line);
    }
  fact (out, "cpus", cpus);
  fact (out, "ran", counts);
  fact (out, "scheduling", sched);
  fact (out, "lost events", lost);
  if (report->anomalies > 0)
    {
      g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT " raw rows had to be clipped "
                                               "(meta analysis_anomalies)", report->anomalies);
      fact (out, "anomalies", line);
    }
  if (!report->complete)
    fact (out, "complete", "no: the recording did not finish; the figures cover what was recorded");
}

/* The summary of a trace without scheduling data: C and the waits only. */
static void
write_summary_without_cpu (const WeftReport *report,
                           GString          *out)
{
  static const WeftState waits[] = { WEFT_STATE_LOCK, WEFT_STATE_SYNC, WEFT_STATE_IO };

  g_string_append (out, "  mean parallelism  unknown  threads on a CPU (P): no scheduling data\n");
  g_string_append_printf (out, "  not waiting       %6.2f  running, runnable or blocked: unknown which\n",
                          report->unplaced_mean);
  g_string_append (out, "  waiting:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (waits); i++)
    g_string_append_printf (out, "    %-15s %6.2f\n", weft_state_name (waits[i]),
                            report->state_means[waits[i]]);
  g_string_append_printf (out, "  asleep            %6.2f  threads in a sleep call (not part of C)\n",
                          report->state_means[WEFT_STATE_SLEEP]);
}

static void
write_summary (const WeftReport *report,
               gboolean          colour,
               GString          *out)
{
  static const WeftState gap_states[] = {
    WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC, WEFT_STATE_IO, WEFT_STATE_BLOCKED,
  };
  gint64 span_ns = report->span_end_ns - report->span_start_ns;
  g_autoptr(Table) levels = table_new ("lrl");
  g_autofree char *safe_verdict = weft_text_escape (report->verdict);
  g_autofree char *of_cpus = report->cpus > 0 ? g_strdup_printf (", of %d CPUs", report->cpus) : g_strdup ("");

  heading (out, colour, report->has_span ? "summary of the span" : "summary");
  g_string_append_printf (out, "  mean concurrency  %6.2f  threads alive and not sleeping (C)\n",
                          report->mean_concurrency);
  if (!report->cpu_known)
    {
      write_summary_without_cpu (report, out);
      g_string_append_printf (out, "\n  %sverdict: %s%s\n", colour ? VERDICT_COLOUR : "", safe_verdict,
                              colour ? RESET : "");
      return;
    }
  g_string_append_printf (out, "  mean parallelism  %6.2f  threads on a CPU (P)%s\n",
                          report->mean_parallelism, of_cpus);
  g_string_append_printf (out, "  gap C - P         %6.2f  threads that wanted to make progress but were:\n",
                          report->mean_concurrency - report->mean_parallelism);
  for (gsize i = 0; i < G_N_ELEMENTS (gap_states); i++)
    g_string_append_printf (out, "    %-15s %6.2f\n", weft_state_name (gap_states[i]),
                            report->state_means[gap_states[i]]);
  g_string_append_printf (out, "  asleep            %6.2f  threads in a sleep call (not part of C)\n",
                          report->state_means[WEFT_STATE_SLEEP]);

  g_string_append (out, "\n  time at each level of parallelism\n");
  table_add (levels, "P");
  table_add (levels, "share");
  table_add (levels, "");
  for (guint level = 0; level < report->parallelism_ns->len; level++)
    {
      gint64 ns = g_array_index (report->parallelism_ns, gint64, level);
      int bar = span_ns > 0 ? (int) (40.0 * ns / span_ns + 0.5) : 0;
      GString *bars = g_string_new (NULL);

      for (int b = 0; b < bar; b++)
        g_string_append (bars, "▇");
      table_take (levels, g_strdup_printf ("%u", level));
      table_take (levels, percent (ns, span_ns));
      table_take (levels, g_string_free (bars, FALSE));
    }
  table_write (levels, "    ", out);

  g_string_append_printf (out, "\n  %sverdict: %s%s\n", colour ? VERDICT_COLOUR : "", safe_verdict,
                          colour ? RESET : "");
}

static char *
or_dash (gint64  ns,
         char  *(*format) (gint64))
{
  return ns < 0 ? g_strdup ("-") : format (ns);
}

static char *
count_text (gint64 n)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, n);
}

static void
write_lock_details (const WeftReportLock *lock,
                    GString              *out)
{
  for (guint i = 0; i < lock->stacks->len; i++)
    {
      const WeftReportStack *stack = lock->stacks->pdata[i];
      g_autofree char *wait = duration (stack->wait_ns);
      g_autofree char *joined = g_strjoinv (" ← ", stack->frames);
      g_autofree char *safe = weft_text_escape (joined);

      g_string_append_printf (out, "      stack   %" G_GINT64_FORMAT " %s, %s: %s\n",
                              stack->waits, stack->waits == 1 ? "wait" : "waits", wait,
                              safe[0] != '\0' ? safe : "(no frames)");
    }
  for (guint i = 0; i < lock->holders->len; i++)
    {
      const WeftReportHolder *holder = lock->holders->pdata[i];
      g_autofree char *who = thread_cell (holder->thread);
      g_autofree char *wait = duration (holder->wait_ns);

      g_string_append_printf (out, "      holder  %s: %" G_GINT64_FORMAT " %s for it, %s\n",
                              who, holder->waits, holder->waits == 1 ? "wait" : "waits", wait);
    }
}

static void
write_locks (const WeftReport *report,
             gboolean          colour,
             GString          *out)
{
  const char *header[] = { "object", "contentions", "wait total", "wait max", "wait p90",
                           "hold total", "hold max", "threads" };
  g_autoptr(Table) table = table_new ("lrrrrrrr");
  g_autofree char *title = NULL;

  if (report->locks_total == 0)
    {
      heading (out, colour, "contended objects");
      g_string_append (out, "  none: no lock was contended and no thread waited on a "
                            "condition, barrier, semaphore or join\n");
      return;
    }
  title = report->locks->len < report->locks_total
          ? g_strdup_printf ("contended objects (top %u of %u, by total wait%s)", report->locks->len,
                             report->locks_total, report->has_span ? " in the span" : "")
          : g_strdup_printf ("contended objects (by total wait%s)", report->has_span ? " in the span" : "");
  heading (out, colour, title);

  table_write_header (table, header, G_N_ELEMENTS (header));
  for (guint i = 0; i < report->locks->len; i++)
    {
      const WeftReportLock *lock = report->locks->pdata[i];

      table_take (table, lock_cell (lock));
      table_take (table, count_text (lock->contentions));
      table_take (table, duration (lock->wait_total_ns));
      table_take (table, duration (lock->wait_max_ns));
      table_take (table, duration (lock->wait_p90_ns));
      table_take (table, or_dash (lock->hold_total_ns, duration));
      table_take (table, or_dash (lock->hold_max_ns, duration));
      table_take (table, count_text (lock->threads));
    }
  table_write (table, "  ", out);

  for (guint i = 0; i < report->locks->len; i++)
    {
      const WeftReportLock *lock = report->locks->pdata[i];
      g_autofree char *cell = NULL;

      if (lock->stacks->len == 0 && lock->holders->len == 0)
        continue;
      cell = lock_cell (lock);
      g_string_append_printf (out, "\n  %s\n", cell);
      write_lock_details (lock, out);
    }
}

static void
write_blocking (const WeftReport *report,
                gboolean          colour,
                GString          *out)
{
  g_autoptr(Table) table = table_new ("lllrrr");
  g_autofree char *title = NULL;

  if (report->blocking_total == 0)
    return;
  title = report->blocking->len < report->blocking_total
          ? g_strdup_printf ("who blocked whom (top %u of %u, by total wait)", report->blocking->len,
                             report->blocking_total)
          : g_strdup ("who blocked whom (by total wait)");
  heading (out, colour, title);
  table_add (table, "waiter (tid)");
  table_add (table, "holder (tid)");
  table_add (table, "object");
  table_add (table, "waits");
  table_add (table, "wait total");
  table_add (table, "wait max");
  for (guint i = 0; i < report->blocking->len; i++)
    {
      const WeftReportBlocking *row = report->blocking->pdata[i];
      g_autofree char *object = weft_report_lock_label (row->object);

      table_take (table, thread_cell (row->waiter));
      table_take (table, thread_cell (row->holder));
      table_take (table, safe_name (object));
      table_take (table, count_text (row->waits));
      table_take (table, duration (row->wait_total_ns));
      table_take (table, duration (row->wait_max_ns));
    }
  table_write (table, "  ", out);
}

static void
write_threads (const WeftReport *report,
               gboolean          colour,
               GString          *out)
{
  g_autoptr(Table) table = table_new ("rlrrrrrrrrrrr");
  const char *header[] = { "tid", "name", "pid", "life" };

  heading (out, colour, report->has_span ? "threads (share of their time in the span)"
                                         : "threads (share of their life in each state)");
  for (gsize h = 0; h < G_N_ELEMENTS (header); h++)
    table_add (table, header[h]);
  for (int s = 0; s < WEFT_N_STATES; s++)
    table_add (table, weft_state_name (s));
  /* Granularity: CPU time between two consecutive waits. */
  table_add (table, "grain p50");
  table_add (table, "grain p90");
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      table_take (table, g_strdup_printf ("%d", thread->tid));
      table_take (table, safe_name (thread->name != NULL ? thread->name : ""));
      table_take (table, g_strdup_printf ("%d", thread->process != NULL ? thread->process->pid : 0));
      table_take (table, duration (thread->life_ns));
      for (int s = 0; s < WEFT_N_STATES; s++)
        table_take (table, percent (thread->state_ns[s], thread->life_ns));
      table_take (table, thread->bursts > 0 ? duration (thread->granularity_p50_ns) : g_strdup ("-"));
      table_take (table, thread->bursts > 0 ? duration (thread->granularity_p90_ns) : g_strdup ("-"));
    }
  table_write (table, "  ", out);
}

static void
write_processes (const WeftReport *report,
                 gboolean          colour,
                 GString          *out)
{
  g_autoptr(Table) table = table_new ("rrlrrrl");
  const char *header[] = { "pid", "parent", "exit", "cpu time", "running", "threads", "command" };

  heading (out, colour, "processes");
  for (gsize h = 0; h < G_N_ELEMENTS (header); h++)
    table_add (table, header[h]);
  for (guint i = 0; i < report->processes->len; i++)
    {
      const WeftReportProcess *process = report->processes->pdata[i];

      table_take (table, g_strdup_printf ("%d", process->pid));
      table_take (table, process->parent_pid > 0 ? g_strdup_printf ("%d", process->parent_pid) : g_strdup ("-"));
      if (process->exit_signal > 0)
        table_take (table, g_strdup_printf ("signal %d", process->exit_signal));
      else if (process->exited)
        table_take (table, g_strdup_printf ("%d", process->exit_status));
      else
        table_add (table, "?");
      table_take (table, or_dash (process->cpu_ns, duration));
      table_take (table, duration (process->running_ns));
      table_take (table, g_strdup_printf ("%u", process->threads));
      table_take (table, weft_text_escape (process->command != NULL ? process->command : ""));
    }
  table_write (table, "  ", out);
}

void
weft_report_write_text (const WeftReport *report,
                        gboolean          colour,
                        GString          *out)
{
  write_header (report, out);
  write_summary (report, colour, out);
  write_locks (report, colour, out);
  write_blocking (report, colour, out);
  write_threads (report, colour, out);
  write_processes (report, colour, out);
}
