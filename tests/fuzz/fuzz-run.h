/* fuzz-run.h — runs weft's commands on bad traces and checks how they fail.
 *
 * Shared by test-bad-input.c and test-fuzz.c. Every helper fails the test on
 * a broken expectation. Commands come from $WEFT (and $WEFT_VIEW, run under
 * xvfb-run, when the viewer is built).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const char *name;       /* for test paths: "report-text" */
  const char *argv[10];   /* "@WEFT", "@VIEW" for the programs, "@FILE", "@OUT" */
  gboolean    writes_out; /* the command writes @OUT on success */
} FuzzCommand;

extern const FuzzCommand fuzz_commands[];
extern const gsize       fuzz_n_commands;

typedef struct
{
  gboolean  ran;          /* FALSE when the program is not available (skip) */
  gboolean  signaled;
  int       exit_status;
  GPtrArray *lines;       /* stderr lines, without the viewer's GTK noise */
  char      *out;         /* the output path given as @OUT */
} FuzzResult;

void     fuzz_result_clear   (FuzzResult        *result);

/* Runs command on file with a fresh output path in dir. */
void     fuzz_run            (const FuzzCommand *command,
                              const char        *file,
                              const char        *dir,
                              FuzzResult        *result);

/* The command refused file: not killed by a signal, exit status != 0,
 * exactly one line on stderr, naming file when name_file, and no @OUT. */
void     fuzz_assert_refused (const FuzzResult  *result,
                              const char        *file,
                              gboolean           name_file);

/* Either it worked (exit 0, @OUT written when the command writes one) or it
 * refused as fuzz_assert_refused says; never a crash. Returns TRUE if it
 * worked. */
gboolean fuzz_assert_handled (const FuzzResult  *result,
                              const FuzzCommand *command,
                              const char        *file);

/* A small valid, analysed trace at path (report fixture: threads, slices,
 * waits, objects, stacks). */
void     fuzz_make_trace     (const char        *path,
                              gint64             events);

G_END_DECLS
