/* weft-writer-private.h — the writer's model of the recorded program, shared
 * by weft-writer.c (streaming) and weft-finalize.c (final tables). Only the
 * writer thread touches it. */
#pragma once

#include "weft-writer.h"

typedef struct _WriterProcess WriterProcess;

/* The EXIT the kernel reports when a setuid exec detaches perf (see
 * handle_sched): not yet expected, expected next, already skipped. */
typedef enum
{
  DETACH_NONE,
  DETACH_PENDING,
  DETACH_DONE,
} WriterDetach;

/* One process: a pid between its fork and its reap. The kernel gives a
 * reaped process's pid to a later one (after pid_max others), so a pid may
 * name several processes of a trace, told apart by when they lived (see
 * weft-writer.c, "Processes"). */
struct _WriterProcess
{
  gint64      id;
  gint32      pid;
  gint32      ppid;            /* 0 = unknown */
  WriterProcess *older;        /* the previous process with the same pid, or NULL */
  guint64     fork_ns;         /* the kernel's FORK of it; 0 = not seen */
  guint64     first_ns;        /* earliest and latest times it is known to have */
  guint64     last_ns;         /*   existed at (its fork, its images' starts, FORK and
                                    SPAWN records, first sight); 0 = none */
  guint64     reaped_ns;       /* a wait reaped it (its parent's, the collector's); 0 = not seen */
  char       *comm;            /* kernel name, when no agent image told more */
  char       *command;         /* argv of its last instrumented image, joined */
  char       *exe;             /* path of its last instrumented image */
  guint64     start_ns;        /* 0 = unknown */
  guint64     end_ns;
  gint        exit_status;     /* -1 = unknown */
  gint        exit_signal;     /* 0 = none */
  gint64      cpu_ns;          /* -1 = unknown */
  gint64      reaped_cpu_ns;   /* from the collector's wait4, -1 = unknown */
  gboolean    instrumented;
  const char *reach_reason;    /* WEFT_REACH_* from a look at it while it ran, or NULL */
  gboolean    reach_known;     /* reach_reason is an answer (NULL: nothing stopped the agent) */
  WriterDetach perf_detach;
  char       *exec_path;       /* file its instrumented image last exec'd (untrusted text) */
  const char *uninstrumented_reason;  /* set at finalize when !instrumented */
  GHashTable *pthreads;        /* WriterPthreadKey* → GPtrArray of WriterThread*: every
                                  thread that had that pthread_t in that image, by
                                  start_ns (glibc reuses a joined thread's pthread_t,
                                  the address of its stack, for a later thread) */
  GArray     *pending_names;   /* WriterPendingName: named by pthread_t before any thread
                                  with that pthread_t was seen */
};

typedef struct _WriterThread
{
  gint64         id;
  WriterProcess *process;
  gint32         tid;
  char          *name;
  char          *end_name;     /* comm at the thread's end, from the agent */
  guint64        start_ns;     /* 0 = unknown */
  guint64        end_ns;
  guint64        lost_events;
  /* Generations: the kernel reuses tids (after pid_max others), so one tid
   * may name several threads of a process, told apart by when they began. */
  guint64        fork_ns;      /* the kernel's FORK of it; 0 = not seen */
  gboolean       fork_sighted; /* fork_ns is a first sight in /proc, after it began */
  guint64        agent_start_ns; /* the agent's THREAD_START; 0 = not seen */
  gboolean       counters_done;  /* its slot's counters were added */
  struct _WriterThread *older; /* the previous thread with the same tid, or NULL */
} WriterThread;

/* A pthread_t in one image of a process (another image, after an exec, is
 * another address space). */
typedef struct
{
  const WeftSessionImage *image;
  guint64                 pthread;
} WriterPthreadKey;

/* A pthread_setname_np whose target was not known yet: resolved at finalize
 * by pthread_t and time. */
typedef struct
{
  guint64                 pthread;
  guint64                 time_ns;
  const WeftSessionImage *image;
  char                   *name;
} WriterPendingName;

typedef struct
{
  gint64         id;
  WriterProcess *process;
  const WeftSessionImage *image; /* the image it was first seen in: its modules name it */
  guint64        address;
  guint          kind;         /* WeftObjKind */
  /* kind THREAD, set at finalize: the thread named by its earliest join,
   * and how many distinct threads its joins named (a pthread_t is reused). */
  WriterThread  *joined;
  guint64        joined_ns;
  guint          joined_threads;
} WriterObject;

typedef struct
{
  guint64 acquisitions;
  guint64 contentions;
  guint64 hold_ns;
  guint64 hold_max_ns;
  guint64 hold_samples;
} WriterStats;

/* A Python frame of a stack (WEFT_REC_PYSTACK), its text made valid UTF-8. */
typedef struct
{
  char   *name;                   /* co_qualname */
  char   *file;                   /* co_filename */
  gint    line;                   /* 0 if unknown */
  guint32 offset;                 /* bytecode offset */
  guint16 segment;                /* see WeftWirePyFrame */
} WriterPyFrame;

typedef struct
{
  gint64                  id;
  const WeftSessionImage *image;
  GArray                 *ips;    /* guint64; NULL until its STACK record arrived */
  GArray                 *py;     /* WriterPyFrame, innermost first; NULL if none */
} WriterStack;

/* A join wait whose joined thread is named at finalize, when every
 * thread's start and end are known. */
typedef struct
{
  gint64  wait_row;               /* waits.id to fix up */
  WriterProcess *process;
  WriterObject  *object;          /* the joined pthread_t's, or NULL */
  const WeftSessionImage *image;  /* of the joining thread */
  guint64 pthread;
  guint64 start_ns;               /* the join's */
  guint64 end_ns;
} WriterJoin;

/* A wait with the holder's tid (read by the agent from the lock itself):
 * the holder may be a thread of another process (a process-shared lock),
 * or of this one not yet seen, so it is found at finalize. */
typedef struct
{
  gint64         wait_row;        /* waits.id to fix up */
  WriterProcess *process;         /* the waiter's */
  gint32         tid;             /* the holder's */
  guint64        start_ns;        /* the wait's */
  guint64        end_ns;
} WriterHolder;

struct _WeftWriter
{
  WeftTrace   *trace;
  GThread     *thread;
  GAsyncQueue *queue;             /* GByteArray batches; an empty one ends the thread */
  GByteArray  *batch;             /* filled by the drain thread */

  /* The model, writer thread only. */
  GHashTable  *processes;         /* pid → newest WriterProcess* (see ->older) */
  GHashTable  *image_processes;   /* WeftSessionImage* → WriterProcess* */
  GPtrArray   *all_processes;
  GHashTable  *threads;           /* tid → newest WriterThread* (see ->older) */
  GPtrArray   *all_threads;
  GHashTable  *objects;           /* "process_id:address" → WriterObject* */
  GPtrArray   *all_objects;
  GHashTable  *stats;             /* "object_id:thread_id" → WriterStats* */
  GHashTable  *stacks;            /* "image*:stack_id" → WriterStack* */
  GPtrArray   *all_stacks;
  GHashTable  *modules;           /* WeftSessionImage* → GArray of WeftRecModule */
  GArray      *joins;             /* WriterJoin */
  GArray      *holders;           /* WriterHolder */
  gint64       next_process_id;
  gint64       next_thread_id;
  gint64       next_object_id;
  gint64       next_stack_id;
  guint64      waits;
  guint64      cpu_slices;
  guint64      rows_in_transaction;
  guint64      agent_lost;
  guint64      last_ns;           /* latest time any agent record carried */
  GError      *error;             /* first SQL failure; later rows are skipped */
};

/* The process an agent image belongs to; decided on the first call for
 * that image (see weft-writer.c), made if it is the first of its process. */
WriterProcess *weft_writer_image_process (WeftWriter             *self,
                                          const WeftSessionImage *image);
/* The process with pid that lived at time_ns: the one that began last at
 * or before it (the oldest if all began after), or NULL if there is none. */
WriterProcess *weft_writer_find_process  (WeftWriter             *self,
                                          gint32                  pid,
                                          guint64                 time_ns);
/* The thread that had pthread_t `pthread` in `image` of process at
 * time_ns, or NULL if no thread had it; see weft-writer.c. */
WriterThread  *weft_writer_pthread_at  (WriterProcess          *process,
                                        const WeftSessionImage *image,
                                        guint64                 pthread,
                                        guint64                 time_ns,
                                        guint64                 until_ns);
/* Puts the threads of each pthread_t back in order of start_ns, which later
 * events may have moved; for finalize, before weft_writer_pthread_at(). */
void           weft_writer_sort_pthreads (WeftWriter *self);


/* weft-finalize.c: everything after the last batch. */
gboolean       weft_finalize_trace     (WeftWriter           *self,
                                        GPtrArray            *images,
                                        const WeftWriterMeta *meta,
                                        WeftWriterSummary    *summary,
                                        GError              **error);
