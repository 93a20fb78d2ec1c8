/* weft-commands.c — what the commands that read one trace share
 * (weft-commands.h): their --help, [FILE] and -o OUT, and their errors.
 *
 * Everything printed goes through weft_text_escape: messages quote file
 * names and the trace's own text.
 */
#include <stdio.h>

#include "weft-commands.h"
#include "weft-report.h"
#include "weft-text.h"

void
weft_command_args_clear (WeftCommandArgs *args)
{
  g_clear_pointer (&args->output, g_free);
  g_clear_pointer (&args->files, g_strfreev);
}

int
weft_command_usage_error (const char *name,
                          const char *message)
{
  g_autofree char *safe = weft_text_escape (message);

  fprintf (stderr, "weft %s: %s; see 'weft %s --help'\n", name, safe, name);
  return 2;
}

int
weft_command_fail (const char *name,
                   const char *message)
{
  g_autofree char *safe = weft_text_escape (message);

  fflush (stdout);
  fprintf (stderr, "weft %s: %s\n", name, safe);
  return 1;
}

int
weft_command_parse (const char          *name,
                    const char          *summary,
                    const char          *description,
                    const GOptionEntry  *entries,
                    WeftCommandArgs     *args,
                    int                  argc,
                    char               **argv)
{
  const GOptionEntry common[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, &args->help, "Show this help and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &args->files, NULL, "[FILE]" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, description);
  /* Our own --help: GLib's calls exit(), and a command returns its status. */
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, common, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return weft_command_usage_error (name, error->message);
  if (args->help)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      fputs (help, stdout);
      return 0;
    }
  if (args->files != NULL && args->files[0] != NULL && args->files[1] != NULL)
    return weft_command_usage_error (name, "expected at most one trace file");
  return -1;
}

const char *
weft_command_trace_path (const WeftCommandArgs *args)
{
  return args->files != NULL && args->files[0] != NULL ? args->files[0] : WEFT_COMMAND_DEFAULT_TRACE;
}

WeftTrace *
weft_command_open_trace (const char             *name,
                         const WeftCommandArgs  *args,
                         int                    *status)
{
  const char *path = weft_command_trace_path (args);
  g_autoptr(GError) error = NULL;
  WeftTrace *trace;

  if (args->output != NULL && args->output[0] == '\0')
    {
      *status = weft_command_usage_error (name, "-o needs a file name");
      return NULL;
    }
  if (args->output != NULL && weft_report_same_file (path, args->output))
    {
      *status = weft_command_usage_error (name, "-o names the trace itself; choose another output file");
      return NULL;
    }
  if ((trace = weft_trace_open (path, &error)) == NULL)
    *status = weft_command_fail (name, error->message);
  return trace;
}
