/* weft-report.h — what `weft report` shows, read from a trace's derived
 * tables (weft-report-data.c), and its renderings as text (weft-report-text.c)
 * and JSON (weft-report-json.c). docs/report-json.md describes the JSON.
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
} WeftReportProcess;

typedef struct
{
  gint64             id;
  gint32             tid;
  char              *name;      /* may be NULL */
  WeftReportProcess *process;
  gint64             life_ns;   /* alive (in the span) */
  gint64             state_ns[WEFT_N_STATES];  /* in the span; they add up to life_ns */
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

#define WEFT_REPORT_ERROR (weft_report_error_quark ())

typedef enum
{
  WEFT_REPORT_ERROR_SPAN,   /* --span does not fit the trace */
} WeftReportError;

GQuark      weft_report_error_quark  (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftReport, weft_report_free)

G_END_DECLS
