/* weft-report-html.c — the report as one self-contained page
 * (docs/report.md).
 *
 * The page needs nothing else: styles inline, charts as inline SVG drawn
 * here, no script at all, and a Content-Security-Policy that forbids the
 * browser to fetch anything. It is written as XHTML-compatible HTML (every
 * element closed, attributes quoted, only the five XML entities) so an XML
 * parser reads it as strictly as a browser. Every text from the trace goes
 * through weft_report_append_html(). Numbers in SVG are written without the
 * locale (g_ascii_formatd).
 *
 * The chart and the strips are downsampled here, not in the browser: the
 * profile and the thread states are cut into CHART_COLUMNS columns
 * (weft-report-series.c), so the page stays small whatever the trace.
 */
#include <math.h>
#include <string.h>

#include "weft-report.h"
#include "weft-text.h"

#define CHART_COLUMNS 1000
#define CHART_LEFT 40
#define CHART_TOP 10
#define CHART_HEIGHT 200
#define CHART_BOTTOM 26
#define CHART_RIGHT 16
#define STRIP_LABEL_WIDTH 220
#define STRIP_HEIGHT 14
#define STRIP_GAP 3
#define LABEL_MAX_CHARS 28

/* One colour per state, in WeftState order. */
static const char * const state_colours[WEFT_N_STATES] = {
  "#2e7d32",   /* running: green */
  "#f9a825",   /* runnable: amber */
  "#c62828",   /* lock: red */
  "#6a1b9a",   /* sync: purple */
  "#1565c0",   /* io: blue */
  "#bdbdbd",   /* sleep: grey */
  "#795548",   /* blocked: brown */
};

/* The states stacked from 0 up to C(t) in the chart: running is P(t). */
static const WeftState stacked_states[] = {
  WEFT_STATE_RUNNING, WEFT_STATE_RUNNABLE, WEFT_STATE_LOCK, WEFT_STATE_SYNC, WEFT_STATE_IO,
  WEFT_STATE_BLOCKED,
};

static const char style[] =
  "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:80em}"
  "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}"
  "table{border-collapse:collapse;font-size:0.9em}"
  "td,th{padding:0.15em 0.6em;text-align:right;vertical-align:top}"
  "th{border-bottom:1px solid #999}td.l,th.l{text-align:left}"
  "tr:nth-child(even){background:#f4f4f4}"
  ".verdict{font-weight:bold;background:#fff8e1;padding:0.4em 0.6em;display:inline-block}"
  ".bar{display:inline-block;height:0.8em;background:#2e7d32}"
  ".key{display:inline-block;width:0.9em;height:0.9em;margin:0 0.3em 0 1em;vertical-align:middle}"
  "details summary{cursor:pointer}ol.stack{margin:0.2em 0 0.4em 0;font-family:monospace}"
  "svg text{font-size:11px;font-family:sans-serif}";

/* Small writers */

static void
text (GString    *out,
      const char *untrusted)
{
  weft_report_append_html (out, untrusted);
}

/* untrusted, cut to max_chars characters (after escaping for view). */
static void
text_cut (GString    *out,
          const char *untrusted,
          glong       max_chars)
{
  g_autofree char *visible = weft_text_escape (untrusted);

  if (g_utf8_strlen (visible, -1) > max_chars)
    {
      g_autofree char *cut = g_strndup (visible, g_utf8_offset_to_pointer (visible, max_chars - 1) - visible);

      text (out, cut);
      g_string_append (out, "…");
    }
  else
    text (out, visible);
}

static void
number (GString *out,
        double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    g_string_append (out, "unknown");
  else
    g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, "%.2f", value));
}

static void
duration (GString *out,
          gint64   ns)
{
  g_autofree char *formatted = weft_text_format_duration (ns);

  text (out, formatted);
}

static void
cell_duration (GString *out,
               gint64   ns)
{
  g_string_append (out, "<td>");
  if (ns < 0)
    g_string_append (out, "-");
  else
    duration (out, ns);
  g_string_append (out, "</td>");
}

static void
cell_int (GString *out,
          gint64   value)
{
  g_string_append_printf (out, "<td>%" G_GINT64_FORMAT "</td>", value);
}

static void
cell_text (GString    *out,
           const char *untrusted)
{
  g_string_append (out, "<td class=\"l\">");
  text (out, untrusted);
  g_string_append (out, "</td>");
}

static void
header_row (GString            *out,
            const char * const *names)
{
  g_string_append (out, "<tr>");
  for (gsize i = 0; names[i] != NULL; i++)
    g_string_append_printf (out, "<th%s>%s</th>", i == 0 ? " class=\"l\"" : "", names[i]);
  g_string_append (out, "</tr>\n");
}

static void
percent (GString *out,
         gint64   part,
         gint64   whole)
{
  if (whole <= 0)
    g_string_append (out, "-");
  else
    {
      number (out, 100.0 * part / whole);
      g_string_append (out, "%");
    }
}

/* Sections */

static void
write_head (const WeftReport *report,
            GString          *out)
{
  g_autofree char *path = g_filename_display_name (report->path);

  g_string_append (out,
                   "<!DOCTYPE html>\n"
                   "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                   "<meta charset=\"utf-8\"/>\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'\"/>\n"
                   "<meta name=\"generator\" content=\"weft report\"/>\n"
                   "<title>weft report: ");
  text (out, path);
  g_string_append_printf (out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>weft report: ", style);
  text (out, path);
  g_string_append (out, "</h1>\n");
}

static void
fact (GString    *out,
      const char *label,
      const char *untrusted)
{
  g_string_append_printf (out, "<tr><th class=\"l\">%s</th><td class=\"l\">", label);
  text (out, untrusted);
  g_string_append (out, "</td></tr>\n");
}

static void
write_facts (const WeftReport *report,
             GString          *out)
{
  g_autofree char *length = weft_text_format_duration (report->end_ns - report->start_ns);
  g_autofree char *cpus = report->cpus > 0 ? g_strdup_printf ("%d", report->cpus) : g_strdup ("unknown");
  g_autofree char *ran = g_strdup_printf ("%u %s, %u %s", report->processes->len,
                                          report->processes->len == 1 ? "process" : "processes",
                                          report->thread_pool->len,
                                          report->thread_pool->len == 1 ? "thread" : "threads");
  g_autofree char *lost = g_strdup_printf ("%" G_GINT64_FORMAT "%s", report->lost_events,
                                           report->lost_events > 0 ? " (the figures miss what they did)" : "");

  g_string_append (out, "<table class=\"facts\">\n");
  fact (out, "command", report->command != NULL ? report->command : "(not recorded)");
  fact (out, "duration", length);
  if (report->has_span)
    {
      g_autofree char *from = weft_text_format_duration (report->span_start_ns - report->start_ns);
      g_autofree char *to = weft_text_format_duration (report->span_end_ns - report->start_ns);
      g_autofree char *span = g_strdup_printf ("from %s to %s after the start", from, to);

      fact (out, "span", span);
    }
  fact (out, "cpus", cpus);
  fact (out, "ran", ran);
  fact (out, "scheduling", !report->cpu_known
                           ? "none: a recovered trace; when threads ran was not recorded"
                           : report->sched_source != NULL ? report->sched_source : "(not recorded)");
  fact (out, "lost events", lost);
  if (report->anomalies > 0)
    {
      g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT " raw rows had to be clipped", report->anomalies);

      fact (out, "anomalies", line);
    }
  if (!report->complete)
    fact (out, "complete", "no: the recording did not finish; the figures cover what was recorded");
  g_string_append (out, "</table>\n");
}

static void
mean_row (GString    *out,
          const char *label,
          double      value,
          const char *meaning)
{
  g_string_append_printf (out, "<tr><th class=\"l\">%s</th><td>", label);
  number (out, value);
  g_string_append_printf (out, "</td><td class=\"l\">%s</td></tr>\n", meaning);
}

static void
write_summary (const WeftReport *report,
               GString          *out)
{
  gint64 span_ns = report->span_end_ns - report->span_start_ns;

  g_string_append_printf (out, "<h2>%s</h2>\n<table class=\"summary\">\n",
                          report->has_span ? "Summary of the span" : "Summary");
  mean_row (out, "mean concurrency", report->mean_concurrency, "threads alive and not sleeping (C)");
  mean_row (out, "mean parallelism", report->mean_parallelism, "threads on a CPU (P)");
  mean_row (out, "gap C - P", report->mean_concurrency - report->mean_parallelism,
            "threads that wanted to make progress but were:");
  for (gsize i = 1; i < G_N_ELEMENTS (stacked_states); i++)
    {
      g_autofree char *label = g_strdup_printf ("&#160;&#160;%s", weft_state_name (stacked_states[i]));

      mean_row (out, label, report->state_means[stacked_states[i]], "");
    }
  mean_row (out, "asleep", report->state_means[WEFT_STATE_SLEEP], "threads in a sleep call (not part of C)");
  if (!report->cpu_known)
    mean_row (out, "not waiting", report->unplaced_mean,
              "running, runnable or blocked: unknown which without scheduling data");
  if (!report->cpu_known)
    g_string_append (out, "</table>\n<p>Time at each level of parallelism: unknown without "
                          "scheduling data.</p>\n<table class=\"levels\">\n");
  else
    g_string_append (out, "</table>\n<h2>Time at each level of parallelism</h2>\n"
                          "<table class=\"levels\">\n<tr><th class=\"l\">P</th><th>share</th><th class=\"l\"></th></tr>\n");
  for (guint level = 0; level < report->parallelism_ns->len; level++)
    {
      gint64 ns = g_array_index (report->parallelism_ns, gint64, level);

      g_string_append_printf (out, "<tr><td class=\"l\">%u</td><td>", level);
      percent (out, ns, span_ns);
      g_string_append (out, "</td><td class=\"l\"><span class=\"bar\" style=\"width:");
      number (out, span_ns > 0 ? 20.0 * ns / span_ns : 0);
      g_string_append (out, "em\"></span></td></tr>\n");
    }
  g_string_append (out, "</table>\n<p class=\"verdict\">verdict: ");
  text (out, report->verdict);
  g_string_append (out, "</p>\n");
}

static void
legend (GString  *out,
        gboolean  with_sleep)
{
  g_string_append (out, "<p class=\"legend\">");
  for (int s = 0; s < WEFT_N_STATES; s++)
    if (with_sleep || s != WEFT_STATE_SLEEP)
      g_string_append_printf (out, "<span class=\"key\" style=\"background:%s\"></span>%s",
                              state_colours[s], weft_state_name (s));
  g_string_append (out, "</p>\n");
}

/* Chart */

typedef struct
{
  guint  n_columns;
  double y_max;       /* threads at the top of the plot */
} Chart;

static double
chart_x (const Chart *chart,
         guint        column)
{
  return CHART_LEFT + (double) CHART_COLUMNS * column / chart->n_columns;
}

static double
chart_y (const Chart *chart,
         double       threads)
{
  return CHART_TOP + CHART_HEIGHT - CHART_HEIGHT * threads / chart->y_max;
}

static void
point (GString    *out,
       const char *command,
       double      value)
{
  g_string_append (out, command);
  number (out, value);
}

/* The step outline of a value per column, left to right ("V y H x …"),
 * from the left edge; a new step only where the value changes. */
static void
steps_forward (GString      *out,
               const Chart  *chart,
               const double *values)
{
  for (guint c = 0; c < chart->n_columns; c++)
    if (c == 0 || values[c] != values[c - 1])
      {
        if (c > 0)
          point (out, " H", chart_x (chart, c));
        point (out, " V", chart_y (chart, values[c]));
      }
  point (out, " H", chart_x (chart, chart->n_columns));
}

/* The same right to left, from the right edge. */
static void
steps_backward (GString      *out,
                const Chart  *chart,
                const double *values)
{
  for (guint c = chart->n_columns; c-- > 0;)
    if (c == chart->n_columns - 1 || values[c] != values[c + 1])
      {
        if (c < chart->n_columns - 1)
          point (out, " H", chart_x (chart, c + 1));
        point (out, " V", chart_y (chart, values[c]));
      }
  point (out, " H", chart_x (chart, 0));
}

static void
chart_axes (const WeftReport       *report,
            const WeftReportSeries *series,
            const Chart            *chart,
            GString                *out)
{
  int step = MAX (1, (int) (chart->y_max / 5));

  for (int level = 0; level <= chart->y_max; level += step)
    {
      g_string_append (out, "<text x=\"4\" y=\"");
      number (out, chart_y (chart, level) + 4);
      g_string_append_printf (out, "\">%d</text>", level);
    }
  for (int tick = 0; tick <= 4; tick++)
    {
      guint column = chart->n_columns * tick / 4;
      double x = chart_x (chart, column);

      g_string_append (out, "<text x=\"");
      number (out, CLAMP (x - 20, 0, CHART_LEFT + CHART_COLUMNS - 60));
      g_string_append_printf (out, "\" y=\"%d\">", CHART_TOP + CHART_HEIGHT + 18);
      duration (out, weft_report_series_column_start (series, column) - report->start_ns);
      g_string_append (out, "</text>");
    }
  g_string_append_printf (out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>",
                          CHART_LEFT, CHART_TOP + CHART_HEIGHT, CHART_LEFT + CHART_COLUMNS,
                          CHART_TOP + CHART_HEIGHT);
  if (report->cpus > 0)
    {
      g_string_append_printf (out, "<line x1=\"%d\" x2=\"%d\" y1=\"", CHART_LEFT, CHART_LEFT + CHART_COLUMNS);
      number (out, chart_y (chart, report->cpus));
      g_string_append (out, "\" y2=\"");
      number (out, chart_y (chart, report->cpus));
      g_string_append_printf (out, "\" stroke=\"#000\" stroke-dasharray=\"4 3\"><title>%d CPUs</title></line>",
                              report->cpus);
    }
}

static void
write_chart (const WeftReport       *report,
             const WeftReportSeries *series,
             GString                *out)
{
  Chart chart = { .n_columns = series->n_columns, .y_max = MAX (report->cpus, 1) };
  g_autofree double *lower = g_new0 (double, series->n_columns + 1);
  g_autofree double *upper = g_new0 (double, series->n_columns + 1);

  g_string_append (out, "<h2>Parallelism P(t) and concurrency C(t)</h2>\n"
                        "<p>Threads on a CPU (P, the green area) and alive and not sleeping (C, the "
                        "top of the stack); the gap between them is coloured by what the threads "
                        "were doing instead. Means per column of the chart, over time.</p>\n");
  legend (out, FALSE);
  for (guint c = 0; c < series->n_columns; c++)
    {
      double c_mean = 0;

      for (gsize i = 0; i < G_N_ELEMENTS (stacked_states); i++)
        c_mean += series->means[c * WEFT_N_STATES + stacked_states[i]];
      chart.y_max = MAX (chart.y_max, c_mean);
    }
  chart.y_max = MAX (1.0, (double) (gint64) (chart.y_max + 0.999));
  g_string_append_printf (out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
                               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">"
                               "<title>P(t) and C(t)</title>\n",
                          CHART_LEFT + CHART_COLUMNS + CHART_RIGHT, CHART_TOP + CHART_HEIGHT + CHART_BOTTOM,
                          CHART_LEFT + CHART_COLUMNS + CHART_RIGHT, CHART_TOP + CHART_HEIGHT + CHART_BOTTOM);
  if (series->n_columns > 0)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (stacked_states); i++)
        {
          for (guint c = 0; c < series->n_columns; c++)
            upper[c] = lower[c] + series->means[c * WEFT_N_STATES + stacked_states[i]];
          g_string_append_printf (out, "<path fill=\"%s\" d=\"", state_colours[stacked_states[i]]);
          point (out, "M", chart_x (&chart, 0));
          point (out, " ", chart_y (&chart, lower[0]));
          steps_forward (out, &chart, upper);
          steps_backward (out, &chart, lower);
          g_string_append_printf (out, " Z\"><title>%s</title></path>\n", weft_state_name (stacked_states[i]));
          memcpy (lower, upper, sizeof (double) * series->n_columns);
        }
      /* C(t): the top of the stack, as a line. */
      g_string_append (out, "<path fill=\"none\" stroke=\"#000\" stroke-width=\"1\" d=\"");
      point (out, "M", chart_x (&chart, 0));
      point (out, " ", chart_y (&chart, upper[0]));
      steps_forward (out, &chart, upper);
      g_string_append (out, "\"><title>C(t)</title></path>\n");
    }
  chart_axes (report, series, &chart, out);
  g_string_append (out, "</svg>\n");
}

/* Thread strips */

static void
strip_row (const WeftReportThread *thread,
           const guint8           *strip,
           guint                   n_columns,
           int                     y,
           GString                *out)
{
  g_autofree char *label = weft_report_thread_label (thread);
  g_autofree char *full = g_strdup_printf ("%s (tid %d)", label, thread->tid);

  g_string_append_printf (out, "<g><title>");
  text (out, full);
  g_string_append_printf (out, "</title><text x=\"0\" y=\"%d\">", y + STRIP_HEIGHT - 3);
  text_cut (out, label, LABEL_MAX_CHARS);
  g_string_append_printf (out, " (%d)</text>", thread->tid);
  for (guint c = 0; c < n_columns;)
    {
      guint run = c + 1;

      while (run < n_columns && strip[run] == strip[c])
        run++;
      if (strip[c] < WEFT_N_STATES)
        {
          g_string_append (out, "<rect x=\"");
          number (out, STRIP_LABEL_WIDTH + (double) CHART_COLUMNS * c / n_columns);
          g_string_append_printf (out, "\" y=\"%d\" width=\"", y);
          number (out, (double) CHART_COLUMNS * (run - c) / n_columns);
          g_string_append_printf (out, "\" height=\"%d\" fill=\"%s\"/>", STRIP_HEIGHT, state_colours[strip[c]]);
        }
      c = run;
    }
  g_string_append (out, "</g>\n");
}

static void
write_strips (const WeftReport *report,
              GHashTable       *strips,
              guint             n_columns,
              GString          *out)
{
  int height = (int) report->threads->len * (STRIP_HEIGHT + STRIP_GAP) + STRIP_GAP;

  g_string_append (out, "<h2>Threads over time</h2>\n"
                        "<p>Each thread's state, per column the one it spent most of its time in.</p>\n");
  legend (out, TRUE);
  g_string_append_printf (out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"strips\" width=\"%d\" "
                               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>thread states</title>\n",
                          STRIP_LABEL_WIDTH + CHART_COLUMNS, height, STRIP_LABEL_WIDTH + CHART_COLUMNS, height);
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];
      const guint8 *strip = g_hash_table_lookup (strips, &thread->id);

      if (strip != NULL)
        strip_row (thread, strip, n_columns, STRIP_GAP + (int) i * (STRIP_HEIGHT + STRIP_GAP), out);
    }
  g_string_append (out, "</svg>\n");
}

/* Tables */

static void
write_lock_details (const WeftReportLock *lock,
                    GString              *out)
{
  g_autofree char *label = weft_report_lock_label (lock);

  if (lock->stacks->len == 0 && lock->holders->len == 0)
    {
      text (out, label);
      return;
    }
  g_string_append (out, "<details><summary>");
  text (out, label);
  g_string_append (out, "</summary>\n");
  for (guint i = 0; i < lock->stacks->len; i++)
    {
      const WeftReportStack *stack = lock->stacks->pdata[i];

      g_string_append_printf (out, "<div>stack: %" G_GINT64_FORMAT " %s, ", stack->waits,
                              stack->waits == 1 ? "wait" : "waits");
      duration (out, stack->wait_ns);
      g_string_append (out, " (innermost first)</div>\n<ol class=\"stack\">");
      for (guint f = 0; stack->frames != NULL && stack->frames[f] != NULL; f++)
        {
          g_string_append (out, "<li>");
          text (out, stack->frames[f]);
          g_string_append (out, "</li>");
        }
      g_string_append (out, "</ol>\n");
    }
  for (guint i = 0; i < lock->holders->len; i++)
    {
      const WeftReportHolder *holder = lock->holders->pdata[i];
      g_autofree char *who = weft_report_thread_label (holder->thread);

      g_string_append (out, "<div>holder: ");
      text (out, who);
      g_string_append_printf (out, " (%d): %" G_GINT64_FORMAT " %s for it, ", holder->thread->tid,
                              holder->waits, holder->waits == 1 ? "wait" : "waits");
      duration (out, holder->wait_ns);
      g_string_append (out, "</div>\n");
    }
  g_string_append (out, "</details>");
}

static void
write_locks (const WeftReport *report,
             GString          *out)
{
  static const char * const names[] = {
    "object", "kind", "contentions", "wait total", "wait max", "wait p90", "hold total", "hold max",
    "threads", NULL
  };

  if (report->locks_total == 0)
    {
      g_string_append (out, "<h2>Contended objects</h2>\n<p>None: no lock was contended and no thread "
                            "waited on a condition, barrier, semaphore or join.</p>\n");
      return;
    }
  if (report->locks->len < report->locks_total)
    g_string_append_printf (out, "<h2>Contended objects (top %u of %u, by total wait)</h2>\n",
                            report->locks->len, report->locks_total);
  else
    g_string_append (out, "<h2>Contended objects (by total wait)</h2>\n");
  g_string_append (out, "<table class=\"locks\">\n");
  header_row (out, names);
  for (guint i = 0; i < report->locks->len; i++)
    {
      const WeftReportLock *lock = report->locks->pdata[i];

      g_string_append (out, "<tr><td class=\"l\">");
      write_lock_details (lock, out);
      g_string_append (out, "</td>");
      cell_text (out, lock->kind);
      cell_int (out, lock->contentions);
      cell_duration (out, lock->wait_total_ns);
      cell_duration (out, lock->wait_max_ns);
      cell_duration (out, lock->wait_p90_ns);
      cell_duration (out, lock->hold_total_ns);
      cell_duration (out, lock->hold_max_ns);
      cell_int (out, lock->threads);
      g_string_append (out, "</tr>\n");
    }
  g_string_append (out, "</table>\n");
}

static void
cell_thread (GString                *out,
             const WeftReportThread *thread)
{
  g_autofree char *label = weft_report_thread_label (thread);
  g_autofree char *cell = g_strdup_printf ("%s (%d)", label, thread->tid);

  cell_text (out, cell);
}

static void
write_blocking (const WeftReport *report,
                GString          *out)
{
  static const char * const names[] = {
    "waiter (tid)", "holder (tid)", "object", "waits", "wait total", "wait max", NULL
  };

  if (report->blocking_total == 0)
    return;
  g_string_append_printf (out, "<h2>Who blocked whom (%s)</h2>\n<table class=\"blocking\">\n",
                          report->blocking->len < report->blocking_total ? "top pairs, by total wait" : "by total wait");
  header_row (out, names);
  for (guint i = 0; i < report->blocking->len; i++)
    {
      const WeftReportBlocking *row = report->blocking->pdata[i];
      g_autofree char *object = weft_report_lock_label (row->object);

      g_string_append (out, "<tr>");
      cell_thread (out, row->waiter);
      cell_thread (out, row->holder);
      cell_text (out, object);
      cell_int (out, row->waits);
      cell_duration (out, row->wait_total_ns);
      cell_duration (out, row->wait_max_ns);
      g_string_append (out, "</tr>\n");
    }
  g_string_append (out, "</table>\n");
}

static void
write_threads (const WeftReport *report,
               GString          *out)
{
  g_string_append_printf (out, "<h2>%s</h2>\n<table class=\"threads\">\n<tr><th class=\"l\">tid</th>"
                               "<th class=\"l\">name</th><th>pid</th><th>life</th>",
                          report->has_span ? "Threads (share of their time in the span)"
                                           : "Threads (share of their life in each state)");
  for (int s = 0; s < WEFT_N_STATES; s++)
    g_string_append_printf (out, "<th>%s</th>", weft_state_name (s));
  g_string_append (out, "</tr>\n");
  for (guint i = 0; i < report->threads->len; i++)
    {
      const WeftReportThread *thread = report->threads->pdata[i];

      g_string_append_printf (out, "<tr><td class=\"l\">%d</td>", thread->tid);
      cell_text (out, thread->name);
      cell_int (out, thread->process != NULL ? thread->process->pid : 0);
      cell_duration (out, thread->life_ns);
      for (int s = 0; s < WEFT_N_STATES; s++)
        {
          g_string_append (out, "<td>");
          percent (out, thread->state_ns[s], thread->life_ns);
          g_string_append (out, "</td>");
        }
      g_string_append (out, "</tr>\n");
    }
  g_string_append (out, "</table>\n");
}

static void
write_processes (const WeftReport *report,
                 GString          *out)
{
  static const char * const names[] = {
    "pid", "parent", "exit", "cpu time", "running", "threads", "command", NULL
  };

  g_string_append (out, "<h2>Processes</h2>\n<table class=\"processes\">\n");
  header_row (out, names);
  for (guint i = 0; i < report->processes->len; i++)
    {
      const WeftReportProcess *process = report->processes->pdata[i];

      g_string_append_printf (out, "<tr><td class=\"l\">%d</td>", process->pid);
      if (process->parent_pid > 0)
        cell_int (out, process->parent_pid);
      else
        g_string_append (out, "<td>-</td>");
      if (process->exit_signal > 0)
        g_string_append_printf (out, "<td>signal %d</td>", process->exit_signal);
      else if (process->exited)
        cell_int (out, process->exit_status);
      else
        g_string_append (out, "<td>?</td>");
      cell_duration (out, process->cpu_ns);
      cell_duration (out, process->running_ns);
      cell_int (out, process->threads);
      cell_text (out, process->command);
      g_string_append (out, "</tr>\n");
    }
  g_string_append (out, "</table>\n");
}

gboolean
weft_report_write_html (const WeftReport  *report,
                        WeftTrace         *trace,
                        GString           *out,
                        GError           **error)
{
  g_autoptr(GHashTable) strips = NULL;
  WeftReportSeries *series;

  series = weft_report_series_load (trace, report->span_start_ns, report->span_end_ns, CHART_COLUMNS, error);
  if (series == NULL)
    return FALSE;
  strips = weft_report_strips_load (trace, report->span_start_ns, report->span_end_ns, series->n_columns, error);
  if (strips == NULL)
    {
      weft_report_series_free (series);
      return FALSE;
    }

  write_head (report, out);
  write_facts (report, out);
  write_summary (report, out);
  write_chart (report, series, out);
  write_strips (report, strips, series->n_columns, out);
  write_locks (report, out);
  write_blocking (report, out);
  write_threads (report, out);
  write_processes (report, out);
  g_string_append (out, "</body>\n</html>\n");
  weft_report_series_free (series);
  return TRUE;
}
