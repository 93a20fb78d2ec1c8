/* weft-report.h — what `weft report` shows, read from a trace's derived
 * tables (weft-report-data.c), and its renderings as text (weft-report-text.c),
 * JSON (weft-report-json.c), CSV (weft-report-csv.c) and HTML
 * (weft-report-html.c); the time series that the HTML chart and `weft export`
 * draw (weft-report-series.c); the escaping and output shared by every
 * renderer and exporter (weft-report-output.c). docs/report-json.md describes
 * the JSON, docs/report.md the CSV and HTML.
 *
 * A WeftReport is plain data: loading does all the SQL, rendering none. All
 * strings in it are the trace's own, untrusted, unescaped text: each renderer
 * escapes for its format.
 */
#pragma once

#include <glib.h>

#include "weft-analysis.h"
#include "weft-trace.h"

G_BEGIN_DECLS

/* Stacks and holders shown for each object. */
#define WEFT_REPORT_STACKS_PER_OBJECT 3
#define WEFT_REPORT_HOLDERS_PER_OBJECT 3
/* Frames shown for each stack, innermost first. */
#define WEFT_REPORT_FRAMES_PER_STACK 6

typedef struct
{
  gint64   id;
  gint32   pid;
  gint32   parent_pid;       /* 0: none in the trace */
  char    *command;          /* may be NULL */
  gboolean exited;           /* exit_status is known */
  gint     exit_status;
  gint     exit_signal;      /* 0: not killed by a signal */
  gint64   cpu_ns;           /* as the kernel counted it; -1: unknown */
  gint64   running_ns;       /* its threads' running time (in the span) */
  guint    threads;
  /* Granularity of all its threads' bursts pooled (see WeftReportThread). */
  gint64   bursts;
  gint64   granularity_p50_ns;
  gint64   granularity_p90_ns;
  gint64   granularity_cpu_p50_ns;
} WeftReportProcess;

typedef struct
{
  gint64             id;
  gint32             tid;
  char              *name;      /* may be NULL */
  WeftReportProcess *process;
  gint64             life_ns;   /* alive (in the span) */
  gint64             state_ns[WEFT_N_STATES];  /* in the span; they add up to life_ns */
  /* Granularity: the CPU time of each burst, a burst being the running
   * time between two consecutive waits (any state but running and
   * runnable: being preempted does not end a burst); median and 90th
   * percentile over the thread's bursts in the span; 0 when bursts is 0.
   * cpu_p50: the median weighted by CPU time (half of the CPU time went to
   * bursts at least this long), which a crowd of tiny bursts around a few
   * long ones does not hide. */
  gint64             bursts;
  gint64             granularity_p50_ns;
  gint64             granularity_p90_ns;
  gint64             granularity_cpu_p50_ns;
} WeftReportThread;

typedef struct
{
  gint64  waits;
  gint64  wait_ns;
  GStrv   frames;   /* function names (or module+offset), innermost first */
} WeftReportStack;

typedef struct
{
  WeftReportThread *thread;
  gint64            waits;
  gint64            wait_ns;
} WeftReportHolder;

/* A synchronization object. With a span, only the wait figures are for the
 * span (waits clipped to it); acquisitions and hold times are counted by
 * the agent for the whole run and are -1 ("not known for a span"). */
typedef struct
{
  gint64             id;
  char              *name;      /* data symbol; may be NULL (heap, stack) */
  char              *kind;
  guint64            address;
  WeftReportProcess *process;   /* may be NULL */
  gint64             acquisitions;
  gint64             contentions;
  gint64             waits;
  gint64             wait_total_ns;
  gint64             wait_max_ns;
  gint64             wait_p50_ns;
  gint64             wait_p90_ns;
  gint64             wait_p99_ns;
  gint64             hold_total_ns;
  gint64             hold_max_ns;
  gint64             threads;
  GPtrArray         *holders;   /* WeftReportHolder, most waited-for first */
  GPtrArray         *stacks;    /* WeftReportStack, most waited-in first */
} WeftReportLock;

typedef struct
{
  WeftReportThread *waiter;
  WeftReportThread *holder;
  WeftReportLock   *object;
  gint64            waits;
  gint64            wait_total_ns;
  gint64            wait_max_ns;
} WeftReportBlocking;

typedef struct
{
  /* The trace. */
  char      *path;
  char      *command;            /* may be NULL */
  gint64     start_ns;           /* meta start_ns */
  gint64     end_ns;             /* meta end_ns */
  gint       cpus;               /* 0: unknown */
  char      *sched_source;       /* may be NULL */
  gint64     sched_period_ns;
  gint64     lost_events;
  gint64     anomalies;          /* meta analysis_anomalies */
  gboolean   complete;
  /* FALSE without scheduling data (sched_source none: a trace recovered
   * after weft was killed): nothing says when threads ran, so P, the
   * running, runnable and blocked means are NAN, the parallelism levels
   * empty, and unplaced_mean holds the three together. */
  gboolean   cpu_known;
  double     unplaced_mean;
  gboolean   analysed_now;       /* the trace had no current analysis: done in memory */

  /* What the figures cover: [span_start_ns, span_end_ns), absolute. */
  gboolean   has_span;
  gint64     span_start_ns;
  gint64     span_end_ns;

  /* Summary over the span. */
  double     state_means[WEFT_N_STATES];
  double     mean_parallelism;
  double     mean_concurrency;
  GArray    *parallelism_ns;     /* gint64: time at P = 0, 1, …; at least cpus + 1 entries */
  char      *verdict;            /* one line, plain words; names in it are unescaped */
  /* Granularity of every thread's bursts pooled (see WeftReportThread). */
  gint64     bursts;
  gint64     granularity_p50_ns;
  gint64     granularity_p90_ns;
  gint64     granularity_cpu_p50_ns;

  GPtrArray *processes;          /* WeftReportProcess, by trace id */
  GPtrArray *threads;            /* WeftReportThread, by process then id */
  GPtrArray *locks;              /* WeftReportLock, most total wait first, --top cut */
  guint      locks_total;        /* before the cut */
  GPtrArray *blocking;           /* WeftReportBlocking, most total wait first, --top cut */
  guint      blocking_total;

  /* Owners of every thread and object, shown or not (the lists above
   * point into them). */
  GPtrArray *thread_pool;
  GPtrArray *object_pool;
} WeftReport;

typedef struct
{
  gboolean has_span;
  gint64   span_start_ns;   /* relative to the trace start */
  gint64   span_end_ns;     /* relative; G_MAXINT64 = to the end */
  guint    top;             /* 0 = no limit */
} WeftReportOptions;

/* Reads everything the report shows. trace may be a read-only connection:
 * a trace without a current analysis is analysed in TEMP tables
 * (weft_analysis_run_scratch). A span that does not overlap the trace is a
 * WEFT_REPORT_ERROR_SPAN. */
WeftReport *weft_report_load        (WeftTrace                *trace,
                                     const WeftReportOptions  *options,
                                     GError                  **error);
void        weft_report_free        (WeftReport               *report);

/* Display name of a thread ("name" or "tid N") and of an object ("name",
 * or "kind at 0xADDR"): newly allocated, unescaped. */
char       *weft_report_thread_label (const WeftReportThread  *thread);
char       *weft_report_lock_label   (const WeftReportLock    *lock);

/* Appends the report to out. colour: ANSI bold/colour escapes (only ever
 * for a terminal that wants them). */
void        weft_report_write_text   (const WeftReport        *report,
                                      gboolean                 colour,
                                      GString                 *out);
void        weft_report_write_json   (const WeftReport        *report,
                                      GString                 *out);

/* The tables of `weft report --format csv --table NAME`. */
typedef enum
{
  WEFT_REPORT_TABLE_LOCKS,
  WEFT_REPORT_TABLE_THREADS,
  WEFT_REPORT_TABLE_PROCESSES,
  WEFT_REPORT_TABLE_WAITS,
  WEFT_REPORT_TABLE_STATES,
  WEFT_REPORT_N_TABLES
} WeftReportTable;

/* "locks", "threads", …; static strings. */
const char *weft_report_table_name      (WeftReportTable  table);
/* FALSE if name is not one of them. */
gboolean    weft_report_table_from_name (const char      *name,
                                         WeftReportTable *table);

/* Appends one CSV table (RFC 4180: a header row, records ending in CRLF,
 * fields quoted by weft_report_append_csv_text; times in integer ns,
 * relative to the trace's start). locks, threads and processes come from
 * report; waits and states are read from trace (the connection report was
 * loaded from): the rows that overlap the report's span. */
gboolean    weft_report_write_csv    (const WeftReport        *report,
                                      WeftTrace               *trace,
                                      WeftReportTable          table,
                                      GString                 *out,
                                      GError                 **error);

/* Appends one self-contained XHTML-compatible page: the summary, a chart of
 * P(t) and C(t), each thread's states, the locks with their stacks. Reads the
 * profile and thread_states from trace (the connection report came from). */
gboolean    weft_report_write_html   (const WeftReport        *report,
                                      WeftTrace               *trace,
                                      GString                 *out,
                                      GError                 **error);

/* Series over time, downsampled to columns (weft-report-series.c) */

/* The profile over [start_ns, end_ns) cut into n_columns equal columns
 * (fewer if the span is shorter than n_columns ns): per column and state,
 * the time-weighted mean number of threads in that state. */
typedef struct
{
  gint64  start_ns;     /* absolute */
  gint64  end_ns;
  guint   n_columns;
  double *means;        /* n_columns × WEFT_N_STATES, column-major: means[c * WEFT_N_STATES + s] */
} WeftReportSeries;

WeftReportSeries *weft_report_series_load (WeftTrace  *trace,
                                           gint64      start_ns,
                                           gint64      end_ns,
                                           guint       n_columns,
                                           GError    **error);
void              weft_report_series_free (WeftReportSeries *series);

/* Absolute start of column (0 ≤ column ≤ n_columns: n_columns gives the end). */
gint64            weft_report_series_column_start (const WeftReportSeries *series,
                                                   guint                   column);

/* Each thread's states over [start_ns, end_ns) in n_columns columns: per
 * column, the state it spent most of its alive time in, or WEFT_N_STATES
 * when it was not alive in the column. Returns thread id (gint64 *) →
 * guint8 array of n_columns (both freed by the table); threads with no state
 * in the span are absent. */
GHashTable       *weft_report_strips_load (WeftTrace  *trace,
                                           gint64      start_ns,
                                           gint64      end_ns,
                                           guint       n_columns,
                                           GError    **error);

/* Escaping and output (weft-report-output.c) */

/* Appends text (NULL = "") as a JSON string with its quotes: ", \, control
 * characters, U+2028/U+2029 and < > & escaped; bytes that are not UTF-8
 * become U+FFFD. */
void        weft_report_append_json_string (GString    *out,
                                            const char *text);
/* Appends text (NULL = "") as one CSV field: quoted when it holds a comma,
 * quote, CR or LF, quotes doubled; a leading = + - @ TAB or CR gets a ' in
 * front (spreadsheets would run it as a formula); bytes that are not UTF-8
 * become U+FFFD; anything else is kept as it is. */
void        weft_report_append_csv_text    (GString    *out,
                                            const char *text);
/* Appends text (NULL = "") for HTML/XML content or attribute values: made
 * visible as weft_text_escape() does (control characters, bidi controls,
 * bad UTF-8), then & < > " ' escaped. */
void        weft_report_append_html        (GString    *out,
                                            const char *text);

/* TRUE if both paths exist and are the same file. */
gboolean    weft_report_same_file          (const char *a,
                                            const char *b);
/* Writes text to stdout (output NULL) or to output through a temporary
 * file renamed over it when complete: output is never left half-written. */
gboolean    weft_report_write_out          (const char     *output,
                                            const GString  *text,
                                            GError        **error);

#define WEFT_REPORT_ERROR (weft_report_error_quark ())

typedef enum
{
  WEFT_REPORT_ERROR_SPAN,   /* --span does not fit the trace */
} WeftReportError;

GQuark      weft_report_error_quark  (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftReport, weft_report_free)

G_END_DECLS
