/* weft-cmd-export.c — `weft export [FILE] --format chrome|collapsed`: a
 * trace in the formats of other tools (weft-export.h, docs/export.md).
 *
 * The export is built in memory first, so a failure never leaves half of
 * one: on stdout nothing is printed, and -o writes a temporary file renamed
 * over OUT only when complete.
 */
#include <stdio.h>
#include <string.h>

#include "weft-analysis.h"
#include "weft-commands.h"
#include "weft-export.h"
#include "weft-report.h"
#include "weft-text.h"

#define DEFAULT_TRACE "weft.db"

typedef enum
{
  EXPORT_CHROME,
  EXPORT_COLLAPSED,
} ExportFormat;

typedef struct
{
  gboolean      help;
  char         *format_name;
  char         *output;    /* G_OPTION_ARG_FILENAME */
  char        **files;     /* G_OPTION_REMAINING */
  ExportFormat  format;
} ExportOptions;

static const char export_description[] =
  "Writes the trace in a format that other tools open:\n"
  "\n"
  "  chrome     Chrome's Trace Event Format (JSON), for https://ui.perfetto.dev\n"
  "             and chrome://tracing: a track per thread with its states over\n"
  "             time (running, runnable, lock, sync, io, sleep, blocked; a\n"
  "             wait names its object and the holder), and counter tracks of\n"
  "             parallelism P(t) and concurrency C(t)\n"
  "  collapsed  folded stacks of the lock waits (mutex, rwlock, spinlock,\n"
  "             semaphore, GIL) weighted by wait time in ns, one line per\n"
  "             stack, for flamegraph.pl and https://www.speedscope.app\n"
  "\n"
  "Options:\n"
  "  --format FORMAT   chrome or collapsed (required)\n"
  "  -o OUT            write to OUT instead of stdout (replaced atomically:\n"
  "                    OUT is never left half-written)\n"
  "\n"
  "Examples:\n"
  "  $ weft export --format chrome -o trace.json      # open in Perfetto UI\n"
  "  $ weft export run.db --format collapsed -o locks.folded\n"
  "  $ flamegraph.pl --countname ns locks.folded > locks.svg\n"
  "\n"
  "Exit status: 0 when the export was written, 1 when the trace could not\n"
  "be read or the output not written, 2 on a usage error.";

static void
options_clear (ExportOptions *options)
{
  g_free (options->format_name);
  g_free (options->output);
  g_strfreev (options->files);
}

static int
usage_error (const char *message)
{
  g_autofree char *safe = weft_text_escape (message);

  fprintf (stderr, "weft export: %s; see 'weft export --help'\n", safe);
  return 2;
}

static int
fail (const char *message)
{
  g_autofree char *safe = weft_text_escape (message);

  fflush (stdout);
  fprintf (stderr, "weft export: %s\n", safe);
  return 1;
}

/* Returns -1 to go on, or the exit status (help printed, usage error). */
static int
parse_options (int            argc,
               char         **argv,
               ExportOptions *options)
{
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &options->format_name, "chrome or collapsed", "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &options->output, "Write to OUT instead of stdout", "OUT" },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &options->help, "Show this help and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->files, NULL, "[FILE]" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  g_option_context_set_summary (context, "Export a recorded trace for Perfetto UI, chrome://tracing, "
                                         "flamegraph.pl or speedscope (FILE: default weft.db).");
  g_option_context_set_description (context, export_description);
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (error->message);
  if (options->help)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      fputs (help, stdout);
      return 0;
    }
  if (options->files != NULL && options->files[0] != NULL && options->files[1] != NULL)
    return usage_error ("expected at most one trace file");
  if (options->format_name == NULL)
    return usage_error ("--format is required: chrome or collapsed");
  if (strcmp (options->format_name, "chrome") == 0)
    options->format = EXPORT_CHROME;
  else if (strcmp (options->format_name, "collapsed") == 0)
    options->format = EXPORT_COLLAPSED;
  else
    {
      message = g_strdup_printf ("unknown format '%s': use chrome or collapsed", options->format_name);
      return usage_error (message);
    }
  if (options->output != NULL && options->output[0] == '\0')
    return usage_error ("-o needs a file name");
  return -1;
}

/* Opens the trace and makes sure its derived tables are current (in TEMP
 * tables of this read-only connection if not: the file is left as it is). */
static WeftTrace *
open_analysed (const char  *path,
               GError     **error)
{
  g_autoptr(WeftTrace) trace = weft_trace_open (path, error);

  if (trace == NULL)
    return NULL;
  if (!weft_analysis_is_current (trace) && !weft_analysis_run_scratch (trace, error))
    return NULL;
  return g_steal_pointer (&trace);
}

int
weft_cmd_export (int    argc,
                 char **argv)
{
  ExportOptions options = { 0 };
  g_autoptr(WeftTrace) trace = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = NULL;
  const char *path;
  gboolean ok;
  int status = parse_options (argc, argv, &options);

  if (status >= 0)
    goto out;

  path = options.files != NULL && options.files[0] != NULL ? options.files[0] : DEFAULT_TRACE;
  if (options.output != NULL && weft_report_same_file (path, options.output))
    {
      status = usage_error ("-o names the trace itself; choose another output file");
      goto out;
    }
  trace = open_analysed (path, &error);
  if (trace == NULL)
    {
      status = fail (error->message);
      goto out;
    }

  text = g_string_new (NULL);
  ok = options.format == EXPORT_CHROME ? weft_export_chrome (trace, text, &error)
                                       : weft_export_collapsed (trace, text, &error);
  if (!ok || !weft_report_write_out (options.output, text, &error))
    {
      status = fail (error->message);
      goto out;
    }
  status = 0;

out:
  options_clear (&options);
  return status;
}
