/* weft-metrics.h — the figures that both the analysis (weft-analysis.c, for
 * the whole trace at finalize) and the report (weft-report-data.c, for a
 * --span) compute, written once so that the two always agree: wait sums and
 * percentiles, and granularity (DESIGN.md, Metrics; schema/weft.sql,
 * granularity and lock_stats). Also the small readings of a trace that both
 * need.
 *
 * Nothing here is thread-safe: one caller, one thread.
 */
#pragma once

#include <glib.h>

#include "weft-analysis.h"
#include "weft-trace.h"

G_BEGIN_DECLS

/* Saturating arithmetic, for sums of untrusted figures. */
static inline gint64
weft_metrics_sat_add (gint64 a,
                      gint64 b)
{
  gint64 sum;

  if (__builtin_add_overflow (a, b, &sum))
    return b > 0 ? G_MAXINT64 : G_MININT64;
  return sum;
}

static inline gint64
weft_metrics_sat_mul (gint64 a,
                      gint64 b)
{
  gint64 product;

  if (__builtin_mul_overflow (a, b, &product))
    return (a > 0) == (b > 0) ? G_MAXINT64 : G_MININT64;
  return product;
}

/* Reading a trace */

/* Ends a query that stepped stmt (a statement of trace) until rc: resets
 * it, and returns FALSE with error set, naming the statement, unless rc is
 * SQLITE_DONE. */
gboolean         weft_metrics_query_done (WeftTrace     *trace,
                                          sqlite3_stmt  *stmt,
                                          int            rc,
                                          GError       **error);

/* Sums of waits by up to three ids */

/* Ids of up to three rows, as a hash key: (waiter, holder, object) for who
 * blocked whom, (object, stack, 0) for an object's stacks, (object,
 * thread, role) for the sets of an object's users. */
typedef struct
{
  gint64 a, b, c;
} WeftMetricsKey;

guint            weft_metrics_key_hash   (gconstpointer  key);
gboolean         weft_metrics_key_equal  (gconstpointer  a,
                                          gconstpointer  b);

/* A set of WeftMetricsKey (keys owned by the set). */
GHashTable      *weft_metrics_keys_new   (void);
/* Adds (a, b, c); TRUE if it was not in the set yet. */
gboolean         weft_metrics_keys_add   (GHashTable    *keys,
                                          gint64         a,
                                          gint64         b,
                                          gint64         c);

typedef struct
{
  gint64 count;
  gint64 total_ns;   /* saturates at G_MAXINT64 */
  gint64 max_ns;
} WeftMetricsSum;

/* WeftMetricsKey → WeftMetricsSum, both owned by the table. */
GHashTable      *weft_metrics_sums_new   (void);
/* Adds one wait of wait_ns to the sum of (a, b, c). */
void             weft_metrics_sums_add   (GHashTable    *sums,
                                          gint64         a,
                                          gint64         b,
                                          gint64         c,
                                          gint64         wait_ns);

/* Percentiles */

/* Sorts n keys in place, ascending (an LSD radix sort: linear in n).
 * Durations, which are >= 0, sort as their gint64 values. */
void             weft_metrics_sort_u64   (guint64       *keys,
                                          gsize          n);

/* Nearest rank: the value at rank ceil(percent * n / 100) of n sorted
 * values; 0 when n is 0. */
gint64           weft_metrics_percentile (const gint64  *sorted,
                                          gsize          n,
                                          guint          percent);

/* The wait figures of one object (lock_stats). */
typedef struct
{
  gint64 waits;
  gint64 total_ns;   /* saturates at G_MAXINT64 */
  gint64 max_ns;
  gint64 p50_ns;
  gint64 p90_ns;
  gint64 p99_ns;
} WeftMetricsWaits;

/* The figures of n wait durations (each >= 0), which it sorts in place;
 * all 0 when n is 0. wait_ns may be NULL when n is 0. */
WeftMetricsWaits weft_metrics_waits      (gint64        *wait_ns,
                                          gsize          n);

/* Granularity */

/* One row of the granularity table: a burst is a thread's running time
 * between two consecutive waits (being runnable does not end one, any
 * other state does). p50 and p90 over the bursts; cpu_p50 is the burst in
 * which the middle nanosecond of their CPU time was spent. All 0 when
 * bursts is 0. */
typedef struct
{
  gint64 thread_id;    /* 0: a process's or the whole trace's row */
  gint64 process_id;   /* 0: the whole trace's row */
  gint64 bursts;
  gint64 p50_ns;
  gint64 p90_ns;
  gint64 cpu_p50_ns;
} WeftMetricsGranularity;

/* Gathers the bursts of threads, one thread at a time, each thread's
 * pooled into its process's, and the processes' into the whole trace's. */
typedef struct _WeftMetricsBursts WeftMetricsBursts;

WeftMetricsBursts *weft_metrics_bursts_new (void);
void             weft_metrics_bursts_free  (WeftMetricsBursts *bursts);

/* Pools the bursts of every process of the processes table of trace. */
gboolean         weft_metrics_bursts_add_processes (WeftMetricsBursts  *bursts,
                                                    WeftTrace          *trace,
                                                    GError            **error);

/* The current thread spent ns in state (its states come in time order). */
void             weft_metrics_bursts_add_state (WeftMetricsBursts *bursts,
                                                WeftState          state,
                                                gint64             ns);

/* Ends the current thread: returns its row, and adds its bursts to the pool
 * of process_id when pooled and the process was added. The next state
 * starts a new thread. */
WeftMetricsGranularity weft_metrics_bursts_end_thread (WeftMetricsBursts *bursts,
                                                       gint64             thread_id,
                                                       gint64             process_id,
                                                       gboolean           pooled);

/* Appends to rows (of WeftMetricsGranularity) the row of each process that
 * was added, in id order, then the whole trace's row. Call once, last. */
void             weft_metrics_bursts_end   (WeftMetricsBursts *bursts,
                                            GArray            *rows);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftMetricsBursts, weft_metrics_bursts_free)

G_END_DECLS
