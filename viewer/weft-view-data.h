/* weft-view-data.h — what the viewer shows of a trace, as plain arrays.
 *
 * WeftViewData is read from a trace in one go by weft_view_data_load() (in a
 * worker thread: it does SQL and I/O) and is immutable afterwards, so any
 * thread may read it while it holds a reference. It reads the derived tables
 * (thread_states, profile, lock_stats) and cpu_slices; it derives no metric.
 *
 * WeftViewRaster is a view of it aggregated to the pixel: for a time span and
 * a number of pixel columns, the mean number of threads in each state per
 * column (the concurrency chart), the dominant thread of each CPU per column
 * and the dominant state of each thread per column. It is computed off the
 * main loop too (weft_view_raster_new()), and the timeline's snapshot() only
 * paints it.
 */
#pragma once

#include <glib.h>

#include "weft-palette.h"

G_BEGIN_DECLS

typedef struct
{
  gint64  id;           /* processes.id */
  gint64  pid;
  char   *command;      /* made printable; never NULL */
  guint   first_thread; /* index into threads of its first thread */
  guint   n_threads;    /* its threads follow each other in threads */
  gint64  parent_pid;   /* 0 for the root */
  gint64  exit_status;  /* -1 when unknown */
  gint64  exit_signal;  /* 0 when none */
  gint64  cpu_ns;       /* -1 when unknown */
  gint64  running_ns;   /* sum of its threads' thread_summary running_ns */
} WeftViewProcess;

typedef struct
{
  gint64  id;           /* threads.id */
  gint64  tid;
  char   *name;         /* made printable; never NULL */
  guint   process;      /* index into processes */
  gint64  start_ns;     /* life, as its thread_states cover it */
  gint64  end_ns;
  guint   n_states;     /* its thread_states rows, in time order */
  gint64 *state_start_ns;
  gint64 *state_end_ns;
  guint8 *state;        /* WeftState */
  gint64  state_ns[WEFT_N_STATES]; /* thread_summary: time in each state */
  gint64  n_wait_rows;  /* thread_summary.waits */
  guint   n_waits;      /* its waits rows, in time order */
  gint64 *wait_start_ns;
  gint64 *wait_end_ns;
  gint64 *wait_id;      /* waits.id */
  gint32 *wait_object;  /* index into locks, or -1 */
  gint32 *wait_holder;  /* index into threads, or -1 */
  guint8 *wait_kind;    /* index into weft_view_wait_kinds */
} WeftViewThread;

/* Wait kinds as waits.kind names them; the last is for anything else. */
extern const char * const weft_view_wait_kinds[];
#define WEFT_VIEW_N_WAIT_KINDS 15

typedef struct
{
  guint   n_slices;     /* its cpu_slices rows, in time order */
  gint64 *start_ns;
  gint64 *end_ns;
  guint  *thread;       /* index into threads */
} WeftViewCpu;

typedef struct
{
  gint64  id;           /* objects.id */
  char   *name;         /* objects.name, or kind@address; printable */
  gboolean named;       /* objects.name was not NULL */
  char   *kind;
  gint64  address;
  gint64  pid;          /* of its process */
  gint64  acquisitions;
  gint64  waits;
  gint64  contentions;
  gint64  wait_total_ns;
  gint64  wait_max_ns;
  gint64  wait_p50_ns;
  gint64  wait_p90_ns;
  gint64  hold_total_ns;
  gint64  hold_max_ns;
  gint64  hold_samples;
  gint64  threads;
  gint64  holders;
} WeftViewLock;

typedef struct
{
  gatomicrefcount  ref;
  char            *path;
  char            *command;     /* meta command, printable */
  gint64           start_ns;    /* meta start_ns (widened to the profile) */
  gint64           end_ns;
  guint            cpus;        /* meta cpus, or more if slices name more */
  gint             max_concurrency; /* largest C(t) of the profile */
  WeftViewProcess *processes;
  guint            n_processes;
  WeftViewThread  *threads;     /* grouped by process, main thread first */
  guint            n_threads;
  WeftViewCpu     *cpu;         /* cpus of them */
  guint            n_profile;   /* profile rows */
  gint64          *profile_start_ns;
  gint64          *profile_end_ns;
  gint32          *profile_counts; /* n_profile × WEFT_N_STATES */
  WeftViewLock    *locks;       /* lock_stats rows with waits or contentions
                                 * (as `weft report` lists them), most
                                 * waited-for first */
  guint            n_locks;
  guint            n_waits;     /* waits rows loaded, all threads */
  /* Level of detail for large traces: [start_ns, end_ns) cut into
   * lod_buckets equal buckets (at most 65 536, fewer when there are many
   * threads and CPUs: the arrays stay under 256 MiB); per thread and bucket
   * the share of the bucket spent in each state, per bucket the mean number
   * of threads per state, per CPU and bucket the share it was busy and its
   * longest run of one thread (the thread and the share). Rasters whose
   * columns cover several buckets aggregate these instead of every
   * interval. lod_buckets is 0 for small traces. */
  guint            lod_buckets;
  double           lod_bucket_ns;
  float           *lod_thread;  /* n_threads × lod_buckets × WEFT_N_STATES */
  float           *lod_chart;   /* lod_buckets × WEFT_N_STATES */
  float           *lod_cpu_busy;   /* cpus × lod_buckets */
  float           *lod_cpu_run;    /* cpus × lod_buckets */
  gint32          *lod_cpu_thread; /* cpus × lod_buckets: index into threads, -1 idle */
  /* The waits on each lock, grouped by thread (in thread order), in time
   * order: lock_wait_thread[k] and lock_wait_index[k] (into that thread's
   * waits) for k in [lock_wait_first[lock], lock_wait_first[lock + 1]).
   * Lets a raster outline the waits on one lock without reading the
   * others'. */
  guint           *lock_wait_first; /* n_locks + 1 */
  guint32         *lock_wait_thread;
  guint32         *lock_wait_index;
  struct _WeftViewRaster *preview; /* set on a preview (see
                                 * weft_view_data_load_preview()): no
                                 * states, slices, profile, locks nor waits
                                 * are loaded, only this raster */
} WeftViewData;

/* Reads a whole trace. Blocking (SQL, I/O): call it from a worker thread.
 * Returns NULL with error set (WEFT_TRACE_ERROR for a file that is not a
 * sound, analysed trace, with a message that names the file). */
WeftViewData *weft_view_data_load   (const char   *path,
                                     GError      **error);

/* Told how far weft_view_data_load_with_progress() is: fraction in [0, 1],
 * never decreasing (an estimate: each table's share is guessed from its
 * size, the progress within it from the time of the rows read so far), and
 * what it is doing ("thread states", …, a static string). Called from the
 * loading thread, a few hundred times per load at most. Returns FALSE to
 * stop the load, which then fails with G_IO_ERROR_CANCELLED. */
typedef gboolean (*WeftViewProgress) (double      fraction,
                                      const char *what,
                                      gpointer    user_data);

/* weft_view_data_load(), telling progress (may be NULL) how far it is. */
WeftViewData *weft_view_data_load_with_progress (const char        *path,
                                                 WeftViewProgress   progress,
                                                 gpointer           user_data,
                                                 GError           **error);
/* A first look at a large trace, in a fraction of the time of
 * weft_view_data_load(): meta, processes and threads, and a raster of the
 * whole trace in columns columns whose values are point samples (the
 * profile row, each thread's state and each CPU's thread at the middle of
 * each column, found with the tables' indexes) rather than per-pixel
 * aggregates. Blocking: call it from a worker thread. */
WeftViewData *weft_view_data_load_preview (const char   *path,
                                           guint         columns,
                                           GError      **error);
WeftViewData *weft_view_data_ref    (WeftViewData *data);
void          weft_view_data_unref  (WeftViewData *data);

/* Index of the wait of thread (index) that covers t, or -1. */
gint          weft_view_data_wait_at (WeftViewData *data,
                                      guint         thread,
                                      gint64        t);

/* Index into locks of objects.id, or -1. */
gint          weft_view_data_lock_index (WeftViewData *data,
                                         gint64        object_id);

/* What the details pane shows of one object or one wait, read from the trace
 * (its stacks, holders, result): blocking, call from a worker thread.
 * Returns Pango markup, or NULL with error set. */
char         *weft_view_data_describe_lock (WeftViewData *data,
                                            guint         lock,
                                            GError      **error);
char         *weft_view_data_describe_wait (WeftViewData *data,
                                            guint         thread,
                                            guint         wait,
                                            GError      **error);

/* "12.5 ms" and the like. */
void          weft_view_format_duration (char   *buf,
                                         gsize   size,
                                         gint64  ns);

/* Mean parallelism P and concurrency C over [start_ns, end_ns), from the
 * profile; for a span of more than 100 000 profile rows, from the level of
 * detail (exact to a bucket at each end). Cheap: a binary search and at
 * most 100 000 rows or 65 536 buckets. Any thread. */
void          weft_view_data_span_means (WeftViewData *data,
                                         gint64        start_ns,
                                         gint64        end_ns,
                                         double       *mean_p,
                                         double       *mean_c);

typedef struct _WeftViewRaster
{
  gatomicrefcount ref;
  gint64   start_ns;      /* the span the columns cover */
  gint64   end_ns;
  guint    columns;
  guint    n_cpus;
  guint    n_threads;
  float   *chart;         /* columns × WEFT_N_STATES: mean threads per state */
  gint32  *cpu_thread;    /* n_cpus × columns: dominant thread index, -1 idle */
  guint8  *thread_state;  /* n_threads × columns: dominant WeftState or NONE */
  gint     lock;          /* the highlighted lock (index into locks), or -1 */
  guint8  *thread_lock;   /* n_threads × columns: 1 where a wait on lock covers
                           * part of the column; NULL when lock is -1 */
} WeftViewRaster;

/* Aggregates data over [start_ns, end_ns) into columns pixel columns. Pure
 * computation on immutable data: any thread. */
WeftViewRaster *weft_view_raster_new   (WeftViewData *data,
                                        gint64        start_ns,
                                        gint64        end_ns,
                                        guint         columns);
/* The same, also marking the waits on lock (index into locks; -1: none). */
WeftViewRaster *weft_view_raster_new_full (WeftViewData *data,
                                           gint64        start_ns,
                                           gint64        end_ns,
                                           guint         columns,
                                           gint          lock);
WeftViewRaster *weft_view_raster_ref   (WeftViewRaster *raster);
void            weft_view_raster_unref (WeftViewRaster *raster);

/* Copies untrusted text from a trace into something safe to show: valid
 * UTF-8, control characters replaced by U+FFFD. NULL gives fallback. */
char           *weft_view_printable    (const char *text,
                                        const char *fallback);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftViewData, weft_view_data_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftViewRaster, weft_view_raster_unref)

G_END_DECLS
