/* weft-main.c — `weft`: dispatches to a subcommand (weft-commands.h). */
#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "weft-commands.h"
#include "weft-config.h"

static const WeftCommand commands[] = {
  { "record", "run a program and record how its threads ran and waited", weft_cmd_record },
  { "report", "show how a trace's threads ran, waited and contended",     weft_cmd_report },
  { "export", "write a trace for Perfetto, chrome://tracing or flame graphs", weft_cmd_export },
  { "info",   "print a trace's header facts and table sizes",             weft_cmd_info },
  { "view",   "show a trace in the timeline viewer (weft-view)",         weft_cmd_view },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: weft COMMAND [OPTIONS…]\n"
           "\n"
           "weft records how the threads and processes of a program ran, waited\n"
           "and contended, into one SQLite trace.\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Run 'weft COMMAND --help' for a command's options and examples.\n"
           "Example: weft record -o trace.db -- ./my-program --its-args\n");
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      print_usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("weft %s\n", WEFT_VERSION);
      return 0;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        g_autofree char *name = g_strdup_printf ("weft %s", commands[i].name);
        argv[1] = name;
        return commands[i].run (argc - 1, argv + 1);
      }

  fprintf (stderr, "weft: unknown command '%s'; run 'weft --help' for the list\n", argv[1]);
  return 2;
}
