/* weft-commands.h — the subcommands of `weft`, dispatched by weft-main.c.
 *
 * Each command lives in weft-cmd-<name>.c with its own GOptionEntry table and
 * help text. run() receives argv with argv[0] set to "weft <name>", parses it
 * itself, prints errors as one "weft <name>: …" line on stderr and returns the
 * process exit status.
 */
#pragma once

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
