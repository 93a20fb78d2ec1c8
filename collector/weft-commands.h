/* weft-commands.h — the subcommands of `weft`, dispatched by weft-main.c,
 * and what the commands that read one trace share (weft-commands.c).
 *
 * Each command lives in weft-cmd-<name>.c with its own GOptionEntry table and
 * help text. run() receives argv with argv[0] set to "weft <name>", parses it
 * itself, prints errors as one "weft <name>: …" line on stderr and returns the
 * process exit status.
 */
#pragma once

#include <glib.h>

#include "weft-trace.h"

G_BEGIN_DECLS

typedef struct
{
  const char *name;
  const char *summary;   /* one line for `weft --help` */
  int       (*run) (int argc, char **argv);
} WeftCommand;

int weft_cmd_record (int argc, char **argv);
int weft_cmd_info   (int argc, char **argv);
int weft_cmd_report (int argc, char **argv);
int weft_cmd_export (int argc, char **argv);
int weft_cmd_view   (int argc, char **argv);

/* The trace read when no FILE is given. */
#define WEFT_COMMAND_DEFAULT_TRACE "weft.db"

/* What a command that reads one trace [FILE] and writes its output to
 * stdout or -o OUT has in common. Owns its strings. */
typedef struct
{
  gboolean   help;
  char      *output;   /* -o OUT (G_OPTION_ARG_FILENAME); NULL: stdout */
  char     **files;    /* G_OPTION_REMAINING */
} WeftCommandArgs;

void        weft_command_args_clear  (WeftCommandArgs     *args);

/* Parses argv of `weft NAME` (name: "report", …) with the command's own
 * entries, which come first in its --help and give -o OUT by pointing at
 * args->output; -h/--help and [FILE] are added after them. summary and
 * description are the --help text around the options. Returns -1 to go on,
 * or the exit status: 0 after printing the help (--help), 2 after a usage
 * error (bad option, more than one FILE). */
int         weft_command_parse       (const char          *name,
                                      const char          *summary,
                                      const char          *description,
                                      const GOptionEntry  *entries,
                                      WeftCommandArgs     *args,
                                      int                  argc,
                                      char               **argv);

/* FILE, or WEFT_COMMAND_DEFAULT_TRACE; owned by args. */
const char *weft_command_trace_path  (const WeftCommandArgs *args);

/* Opens the trace read-only, once -o names a file other than it. NULL
 * after printing why, with *status the exit status: 2 for a usage error (an
 * empty -o, or -o naming the trace), 1 when the trace cannot be opened. */
WeftTrace  *weft_command_open_trace  (const char             *name,
                                      const WeftCommandArgs  *args,
                                      int                    *status);

/* "weft NAME: MESSAGE; see 'weft NAME --help'" on stderr; returns 2. */
int         weft_command_usage_error (const char          *name,
                                      const char          *message);

/* Flushes stdout, then "weft NAME: MESSAGE" on stderr; returns 1. */
int         weft_command_fail        (const char          *name,
                                      const char          *message);

G_END_DECLS
