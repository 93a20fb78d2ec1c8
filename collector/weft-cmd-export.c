/* weft-cmd-export.c — `weft export [FILE] --format chrome|collapsed`: a
 * trace in the formats of other tools (weft-export.h, docs/export.md).
 *
 * The export is built in memory first, so a failure never leaves half of
 * one: on stdout nothing is printed, and -o writes a temporary file renamed
 * over OUT only when complete.
 */
#include <string.h>

#include "weft-analysis.h"
#include "weft-commands.h"
#include "weft-export.h"
#include "weft-report.h"

#define COMMAND "export"

typedef enum
{
  EXPORT_CHROME,
  EXPORT_COLLAPSED,
} ExportFormat;

typedef struct
{
  WeftCommandArgs  args;
  char            *format_name;
  ExportFormat     format;
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
  weft_command_args_clear (&options->args);
  g_free (options->format_name);
}

/* Returns -1 to go on, or the exit status (help printed, usage error). */
static int
parse_options (int            argc,
               char         **argv,
               ExportOptions *options)
{
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &options->format_name, "chrome or collapsed", "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &options->args.output, "Write to OUT instead of stdout", "OUT" },
    { NULL }
  };
  g_autofree char *message = NULL;
  int status = weft_command_parse (COMMAND, "Export a recorded trace for Perfetto UI, chrome://tracing, "
                                            "flamegraph.pl or speedscope (FILE: default weft.db).",
                                   export_description, entries, &options->args, argc, argv);

  if (status >= 0)
    return status;
  if (options->format_name == NULL)
    return weft_command_usage_error (COMMAND, "--format is required: chrome or collapsed");
  if (strcmp (options->format_name, "chrome") == 0)
    options->format = EXPORT_CHROME;
  else if (strcmp (options->format_name, "collapsed") == 0)
    options->format = EXPORT_COLLAPSED;
  else
    {
      message = g_strdup_printf ("unknown format '%s': use chrome or collapsed", options->format_name);
      return weft_command_usage_error (COMMAND, message);
    }
  return -1;
}

int
weft_cmd_export (int    argc,
                 char **argv)
{
  ExportOptions options = { 0 };
  g_autoptr(WeftTrace) trace = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = NULL;
  gboolean ok;
  int status = parse_options (argc, argv, &options);

  if (status >= 0)
    goto out;
  if ((trace = weft_command_open_trace (COMMAND, &options.args, &status)) == NULL)
    goto out;

  /* Derived tables that are missing or older are made again in TEMP tables
   * of this read-only connection: the file is left as it is. */
  text = g_string_new (NULL);
  ok = (weft_analysis_is_current (trace) || weft_analysis_run_scratch (trace, &error))
       && (options.format == EXPORT_CHROME ? weft_export_chrome (trace, text, &error)
                                           : weft_export_collapsed (trace, text, &error))
       && weft_report_write_out (options.args.output, text, &error);
  status = ok ? 0 : weft_command_fail (COMMAND, error->message);

out:
  options_clear (&options);
  return status;
}
