/* weft-cmd-report.c — `weft report [FILE]`: what a trace says about
 * concurrency and parallelism, as text for people, JSON or CSV for
 * programs, or one HTML page with charts.
 *
 * The figures come from the trace's derived tables (weft-analysis.c wrote
 * them at the end of `weft record`); weft-report-data.c reads them,
 * weft-report-{text,json,csv,html}.c render them. The whole report is
 * built in memory first, so a failure never leaves half a report: on stdout
 * nothing is printed, and -o writes a temporary file renamed over OUT only
 * when complete.
 */
#include <string.h>
#include <unistd.h>

#include "weft-commands.h"
#include "weft-report.h"

#define COMMAND "report"
#define DEFAULT_TOP 10

typedef enum
{
  FORMAT_TEXT,
  FORMAT_JSON,
  FORMAT_CSV,
  FORMAT_HTML,
} ReportFormat;

typedef struct
{
  WeftCommandArgs    args;
  char              *format_name;
  char              *span;
  char              *table_name;
  char              *top;        /* --top N as given, or NULL */
  ReportFormat       format;
  WeftReportTable    table;
  WeftReportOptions  report;
} ReportOptions;

static const char report_description[] =
  "Shows how the recorded program's threads used the machine: the mean\n"
  "concurrency C (threads alive and not sleeping) and parallelism P (threads\n"
  "on a CPU), what the gap C - P was made of (runnable, lock, sync, io,\n"
  "blocked), how long P sat at each level 0…CPUs, a one-line verdict, the\n"
  "most waited-for synchronization objects with their call stacks and\n"
  "holders, who blocked whom, every thread's states and every process.\n"
  "\n"
  "Options:\n"
  "  --format FORMAT     text (the default) is aligned for a terminal, in\n"
  "                      human units, coloured only on a terminal and not\n"
  "                      when NO_COLOR is set; json is one object with\n"
  "                      integer nanoseconds (docs/report-json.md); csv is\n"
  "                      one table (--table) for spreadsheets and scripts;\n"
  "                      html is one self-contained page with a chart of P(t)\n"
  "                      and C(t), each thread's states over time and the\n"
  "                      locks with their stacks (docs/report.md)\n"
  "  --table TABLE       with --format csv, the table to write: locks,\n"
  "                      threads, processes, waits (every wait) or states\n"
  "                      (every thread's state intervals)\n"
  "  -o OUT              write to OUT instead of stdout (replaced atomically:\n"
  "                      OUT is never left half-written)\n"
  "  --top N             show the N most waited-for objects and blocking\n"
  "                      pairs (default 10, and all for csv; 0 shows all)\n"
  "  --span START:END    only the part of the run from START to END, both\n"
  "                      measured from the start of the trace: a number with\n"
  "                      a unit ns (the default), us, ms, s or min, decimals\n"
  "                      allowed. An empty START is the start, an empty END\n"
  "                      the end; an END past the end stops at the end.\n"
  "                      Means, shares and waits are clipped to the span;\n"
  "                      lock acquisitions and hold times, counted for the\n"
  "                      whole run, are not shown for a span.\n"
  "\n"
  "Examples:\n"
  "  $ weft record -- ./server --threads 8\n"
  "  $ weft report                         # weft.db, as text\n"
  "  $ weft report --span 1.5s:2s          # half a second, 1.5 s in\n"
  "  $ weft report run.db --format json -o run.json --top 0\n"
  "  $ weft report --format html -o report.html\n"
  "  $ weft report --format csv --table threads -o threads.csv\n"
  "\n"
  "Exit status: 0 when the report was written, 1 when the trace could not\n"
  "be read or the output not written, 2 on a usage error (bad option,\n"
  "a span that does not fit the trace).";

/* Parsing --span */

static const struct
{
  const char *name;
  gint64      ns;
} time_units[] = {
  { "ns", 1 }, { "us", 1000 }, { "µs", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
  { "min", G_GINT64_CONSTANT (60000000000) },
};

/* "1.5s" → 1500000000: digits, an optional fraction, an optional unit. The
 * whole part is exact; the fraction is rounded down to the nanosecond. */
static gboolean
parse_time (const char *text,
            gint64     *ns)
{
  const char *p = text;
  guint64 whole = 0, fraction = 0, fraction_scale = 1;
  gint64 unit_ns = 1;
  gboolean digits = FALSE;

  for (; g_ascii_isdigit (*p); p++, digits = TRUE)
    {
      if (whole > (G_MAXINT64 - 9) / 10)
        return FALSE;
      whole = whole * 10 + (guint64) (*p - '0');
    }
  if (*p == '.')
    for (p++; g_ascii_isdigit (*p); p++, digits = TRUE)
      if (fraction_scale < G_GUINT64_CONSTANT (1000000000000000000))
        {
          fraction = fraction * 10 + (guint64) (*p - '0');
          fraction_scale *= 10;
        }
  if (!digits)
    return FALSE;
  if (*p != '\0')
    {
      gsize i;

      for (i = 0; i < G_N_ELEMENTS (time_units) && strcmp (p, time_units[i].name) != 0; i++)
        ;
      if (i == G_N_ELEMENTS (time_units))
        return FALSE;
      unit_ns = time_units[i].ns;
    }
  if (whole > (guint64) G_MAXINT64 / (guint64) unit_ns)
    return FALSE;
  /* fraction / scale * unit, rounded down to whole nanoseconds. */
  *ns = (gint64) (whole * (guint64) unit_ns) + (gint64) ((double) fraction / fraction_scale * unit_ns);
  return *ns >= 0;
}

static gboolean
parse_span (const char        *text,
            WeftReportOptions *options,
            char             **message)
{
  const char *colon = strchr (text, ':');
  g_autofree char *start = NULL;
  const char *end;

  if (colon == NULL)
    {
      *message = g_strdup ("--span needs START:END, as in --span 1.5s:2s or --span :500ms");
      return FALSE;
    }
  start = g_strndup (text, colon - text);
  end = colon + 1;
  options->span_start_ns = 0;
  options->span_end_ns = G_MAXINT64;
  if ((start[0] != '\0' && !parse_time (start, &options->span_start_ns))
      || (end[0] != '\0' && !parse_time (end, &options->span_end_ns)))
    {
      *message = g_strdup ("--span: a time is a number with an optional unit (ns, us, ms, s, min), "
                           "as in 1.5s or 250ms");
      return FALSE;
    }
  if (options->span_end_ns <= options->span_start_ns)
    {
      *message = g_strdup ("--span: END must come after START");
      return FALSE;
    }
  options->has_span = TRUE;
  return TRUE;
}

/* Options */

static void
options_clear (ReportOptions *options)
{
  weft_command_args_clear (&options->args);
  g_free (options->format_name);
  g_free (options->span);
  g_free (options->top);
  g_free (options->table_name);
}

static int
usage_error (const char *message)
{
  return weft_command_usage_error (COMMAND, message);
}

/* Returns -1 to go on, or the exit status (help printed, usage error). */
static int
parse_options (int            argc,
               char         **argv,
               ReportOptions *options)
{
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &options->format_name, "text (default), json, csv or html", "FORMAT" },
    { "table", 0, 0, G_OPTION_ARG_STRING, &options->table_name, "With --format csv: locks, threads, processes, waits or states", "TABLE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &options->args.output, "Write to OUT instead of stdout", "OUT" },
    { "top", 0, 0, G_OPTION_ARG_STRING, &options->top, "Objects and blocking pairs to show (default 10, 0 = all)", "N" },
    { "span", 0, 0, G_OPTION_ARG_STRING, &options->span, "Only the time from START to END (see below)", "START:END" },
    { NULL }
  };
  g_autofree char *message = NULL;
  guint64 top = 0;
  int status;

  status = weft_command_parse (COMMAND, "Report how the threads of a recorded trace ran, waited "
                                        "and contended (FILE: default weft.db).",
                               report_description, entries, &options->args, argc, argv);
  if (status >= 0)
    return status;
  if (options->format_name == NULL || strcmp (options->format_name, "text") == 0)
    options->format = FORMAT_TEXT;
  else if (strcmp (options->format_name, "json") == 0)
    options->format = FORMAT_JSON;
  else if (strcmp (options->format_name, "csv") == 0)
    options->format = FORMAT_CSV;
  else if (strcmp (options->format_name, "html") == 0)
    options->format = FORMAT_HTML;
  else
    {
      message = g_strdup_printf ("unknown format '%s': use text, json, csv or html", options->format_name);
      return usage_error (message);
    }
  if (options->format == FORMAT_CSV && options->table_name == NULL)
    return usage_error ("--format csv needs --table locks|threads|processes|waits|states");
  if (options->format != FORMAT_CSV && options->table_name != NULL)
    return usage_error ("--table goes with --format csv");
  if (options->table_name != NULL && !weft_report_table_from_name (options->table_name, &options->table))
    {
      message = g_strdup_printf ("unknown table '%s': use locks, threads, processes, waits or states",
                                 options->table_name);
      return usage_error (message);
    }
  /* A table for programs is complete unless asked otherwise. */
  options->report.top = options->format == FORMAT_CSV ? 0 : DEFAULT_TOP;
  if (options->top != NULL
      && !g_ascii_string_to_unsigned (options->top, 10, 0, G_MAXUINT, &top, NULL))
    return usage_error ("--top needs a count of 0 or more");
  if (options->top != NULL)
    options->report.top = (guint) top;
  if (options->span != NULL && !parse_span (options->span, &options->report, &message))
    return usage_error (message);
  return -1;
}

/* Running */

/* Colour only for a terminal that has not asked for none (no-color.org). */
static gboolean
want_colour (const ReportOptions *options)
{
  const char *no_colour = g_getenv ("NO_COLOR");
  const char *term = g_getenv ("TERM");

  return options->args.output == NULL && options->format == FORMAT_TEXT
         && isatty (STDOUT_FILENO)
         && (no_colour == NULL || no_colour[0] == '\0')
         && g_strcmp0 (term, "dumb") != 0;
}

/* Renders the whole report into text; FALSE with error if a query failed. */
static gboolean
render (const ReportOptions  *options,
        const WeftReport     *report,
        WeftTrace            *trace,
        GString              *text,
        GError              **error)
{
  switch (options->format)
    {
    case FORMAT_JSON:
      weft_report_write_json (report, text);
      return TRUE;
    case FORMAT_CSV:
      return weft_report_write_csv (report, trace, options->table, text, error);
    case FORMAT_HTML:
      return weft_report_write_html (report, trace, text, error);
    case FORMAT_TEXT:
    default:
      weft_report_write_text (report, want_colour (options), text);
      return TRUE;
    }
}

int
weft_cmd_report (int    argc,
                 char **argv)
{
  ReportOptions options = { 0 };
  g_autoptr(WeftTrace) trace = NULL;
  g_autoptr(WeftReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = NULL;
  int status = parse_options (argc, argv, &options);

  if (status >= 0)
    goto out;
  if ((trace = weft_command_open_trace (COMMAND, &options.args, &status)) == NULL)
    goto out;
  report = weft_report_load (trace, &options.report, &error);
  if (report == NULL)
    {
      /* A span that does not fit depends on the trace: say which. */
      if (g_error_matches (error, WEFT_REPORT_ERROR, WEFT_REPORT_ERROR_SPAN))
        {
          g_autofree char *name = g_filename_display_name (weft_command_trace_path (&options.args));
          g_autofree char *message = g_strdup_printf ("%s: %s", name, error->message);

          status = usage_error (message);
        }
      else
        status = weft_command_fail (COMMAND, error->message);
      goto out;
    }

  text = g_string_new (NULL);
  if (!render (&options, report, trace, text, &error)
      || !weft_report_write_out (options.args.output, text, &error))
    {
      status = weft_command_fail (COMMAND, error->message);
      goto out;
    }
  status = 0;

out:
  options_clear (&options);
  return status;
}
