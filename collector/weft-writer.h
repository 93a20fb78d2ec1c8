/* weft-writer.h — turns what the agents and the kernel reported into a trace.
 *
 * The drain loop (one thread) hands records to the writer with the add_*()
 * calls, which only copy them into a batch; flush() passes the batch to the
 * writer's own thread, which keeps the model of processes, threads, objects and
 * stacks and streams waits and CPU slices into SQLite in large transactions.
 * finish() waits for the thread, then finalizes (weft-finalize.c): symbols,
 * the remaining tables and meta.
 */
#pragma once

#include <glib.h>

#include "weft-sched.h"
#include "weft-session.h"
#include "weft-trace.h"

G_BEGIN_DECLS

typedef struct _WeftWriter WeftWriter;

/* Facts about the recording that only the record command knows. */
typedef struct
{
  const char *command;         /* the command line, joined with spaces */
  guint64     start_ns;
  guint64     start_unix_ns;   /* start_ns as wall-clock time */
  guint64     end_ns;          /* 0: the latest time the agents reported */
  const char *sched_source;    /* "perf", "proc", or "none" (--recover) */
  guint64     sched_period_ns;
  guint64     sched_lost;      /* records the kernel dropped */
  guint64     session_corrupt; /* ring records that could not be parsed */
  gint32      root_pid;
} WeftWriterMeta;

/* What finish() found, for the last line of `weft record`. */
typedef struct
{
  guint processes;
  guint threads;
  guint64 waits;
  guint64 cpu_slices;
  guint64 lost_events;   /* all of them: agent_lost + sched_lost + corrupt */
  guint64 agent_lost;    /* dropped by agents (full ring, no slot) */
  guint64 sched_lost;    /* dropped by the kernel (full perf buffer) */
  guint64 duration_ns;   /* meta end_ns - start_ns */
  GPtrArray *uninstrumented; /* "process PID (NAME) was not instrumented: REASON",
                                one per such process; owned by the caller */
} WeftWriterSummary;

/* The writer uses trace only from its own thread until finish() returns. */
WeftWriter *weft_writer_new          (WeftTrace              *trace);

void        weft_writer_add_record   (WeftWriter             *self,
                                      const WeftSessionImage *image,
                                      const WeftRecHeader    *record);
void        weft_writer_add_slot     (WeftWriter             *self,
                                      const WeftSessionImage *image,
                                      const WeftWireSlot     *slot);
void        weft_writer_add_sched    (WeftWriter             *self,
                                      const WeftSchedEvent   *event);
/* The collector itself reaped pid (it is the parent or the subreaper). */
void        weft_writer_add_reaped   (WeftWriter             *self,
                                      gint32                  pid,
                                      int                     wait_status,
                                      guint64                 cpu_ns,
                                      guint64                 time_ns);

/* What a look at running process pid found (weft-reach.h): reason is a
 * WEFT_REACH_* string or NULL when nothing stops the agent there. */
void        weft_writer_add_reach    (WeftWriter             *self,
                                      gint32                  pid,
                                      const char             *reason);

/* Hands the current batch to the writer thread. */
void        weft_writer_flush        (WeftWriter             *self);

/* Waits for the writer thread, finalizes the trace with the session's images
 * (exe, command line, exit facts) and meta. Frees the writer. */
gboolean    weft_writer_finish       (WeftWriter             *self,
                                      GPtrArray              *images,
                                      const WeftWriterMeta   *meta,
                                      WeftWriterSummary      *summary,
                                      GError                **error);

G_END_DECLS
