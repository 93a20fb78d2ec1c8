/* weft-test-util.h — run a bundled sample under `weft record` and ask the
 * trace questions. Shared by the integration tests and benchmarks. */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

typedef struct
{
  char       *dir;          /* private temporary directory, removed by free */
  char       *trace_path;   /* dir/trace.db */
  int         exit_status;  /* weft record's exit code (or 128+signal) */
  char       *out;          /* the program's stdout (weft passes it through) */
  char       *err;          /* stderr of weft and the program */
  GHashTable *expect;       /* `expect KEY VALUE` lines of the sample's stdout */
  sqlite3    *db;           /* the trace, read-only; NULL if none was written */
} WeftRun;

/* Path of a bundled sample (WEFT_SAMPLES_DIR). */
char    *weft_test_sample_path (const char *name);

/* Runs `weft record [record_args…] -o TRACE -- SAMPLE [args…]`. Both arrays
 * may be NULL. Never fails the test itself: inspect the result. */
WeftRun *weft_test_record      (const char * const *record_args,
                                const char         *sample,
                                const char * const *args);

/* Same with a program given by path (not a sample). */
WeftRun *weft_test_record_argv (const char * const *record_args,
                                const char * const *argv);

/* Value of an expect line; the test fails if the sample did not print it. */
const char *weft_test_expect     (WeftRun *run, const char *key);
gint64      weft_test_expect_int (WeftRun *run, const char *key);

/* First column of the first row of a query (printf-style, sqlite3_mprintf
 * formats: use %Q/%q for text). Fails the test on SQL errors; 0 / NULL when
 * there is no row. */
gint64   weft_test_query_int   (WeftRun *run, const char *format, ...);
double   weft_test_query_double (WeftRun *run, const char *format, ...);
char    *weft_test_query_text  (WeftRun *run, const char *format, ...);

/* Fails the test unless weft record exited with status (printing what weft
 * and the program said). */
void     weft_test_assert_status   (WeftRun *run,
                                    int      status);

/* The same, and a finalized trace with nothing lost and nothing the
 * analysis had to clip (analysis_anomalies 0). */
void     weft_test_assert_complete (WeftRun *run,
                                    int      status);

/* A copy of the cpu-parallel sample in dir (made 0755) owned by nobody and
 * setuid: as root, running it changes the effective uid, which puts the
 * loader in secure-execution mode (no LD_PRELOAD) and makes the kernel
 * detach perf. NULL, and the test skipped, when not root or dir is on a
 * nosuid mount. */
char    *weft_test_make_setuid_copy (const char *dir);

void     weft_test_run_free    (WeftRun *run);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftRun, weft_test_run_free)

G_END_DECLS
