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
} WeftViewThread;

typedef struct
{
  guint   n_slices;     /* its cpu_slices rows, in time order */
  gint64 *start_ns;
  gint64 *end_ns;
  guint  *thread;       /* index into threads */
} WeftViewCpu;

typedef struct
{
  char   *name;         /* objects.name, or kind@address; printable */
  char   *kind;
  gint64  waits;
  gint64  contentions;
  gint64  wait_total_ns;
  gint64  wait_max_ns;
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
  WeftViewLock    *locks;       /* lock_stats, most waited-for first */
  guint            n_locks;
} WeftViewData;

/* Reads a whole trace. Blocking (SQL, I/O): call it from a worker thread.
 * Returns NULL with error set (WEFT_TRACE_ERROR for a file that is not a
 * sound, analysed trace, with a message that names the file). */
WeftViewData *weft_view_data_load   (const char   *path,
                                     GError      **error);
WeftViewData *weft_view_data_ref    (WeftViewData *data);
void          weft_view_data_unref  (WeftViewData *data);

/* Mean parallelism P and concurrency C over [start_ns, end_ns), from the
 * profile. Cheap (binary search); any thread. */
void          weft_view_data_span_means (WeftViewData *data,
                                         gint64        start_ns,
                                         gint64        end_ns,
                                         double       *mean_p,
                                         double       *mean_c);

typedef struct
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
} WeftViewRaster;

/* Aggregates data over [start_ns, end_ns) into columns pixel columns. Pure
 * computation on immutable data: any thread. */
WeftViewRaster *weft_view_raster_new   (WeftViewData *data,
                                        gint64        start_ns,
                                        gint64        end_ns,
                                        guint         columns);
WeftViewRaster *weft_view_raster_ref   (WeftViewRaster *raster);
void            weft_view_raster_unref (WeftViewRaster *raster);

/* Copies untrusted text from a trace into something safe to show: valid
 * UTF-8, control characters replaced by U+FFFD. NULL gives fallback. */
char           *weft_view_printable    (const char *text,
                                        const char *fallback);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftViewData, weft_view_data_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftViewRaster, weft_view_raster_unref)

G_END_DECLS
