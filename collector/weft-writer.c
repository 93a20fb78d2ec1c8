/* weft-writer.c — batches from the drain loop, the writer thread, and the
 * model of the recorded program built from agent records and kernel events. */
#include <sys/wait.h>
#include <string.h>

#include "weft-reach.h"
#include "weft-writer-private.h"

/* A batch is a byte array of items, each an ItemHeader and its payload. The
 * drain thread only copies; everything else happens on the writer thread. */
typedef enum
{
  ITEM_RECORD,   /* payload: the ring record */
  ITEM_SLOT,     /* payload: WeftWireSlot */
  ITEM_SCHED,    /* payload: WeftSchedEvent */
  ITEM_REAPED,   /* payload: ReapedItem */
  ITEM_REACH,    /* payload: ReachItem */
} ItemType;

typedef struct
{
  guint32                 type;
  guint32                 size;     /* payload bytes */
  const WeftSessionImage *image;
} ItemHeader;

typedef struct
{
  gint32  pid;
  gint32  wait_status;
  guint64 cpu_ns;
  guint64 time_ns;
} ReapedItem;

typedef struct
{
  gint32      pid;
  const char *reason;   /* a static WEFT_REACH_* string or NULL */
  guint64     time_ns;  /* when the drain loop looked: pid was alive (or a zombie) */
} ReachItem;

#define BATCH_BYTES (1u << 20)              /* hand over a batch at this size */
#define ROWS_PER_TRANSACTION 500000u

static const char *const wait_kind_names[] = {
  [WEFT_WAIT_MUTEX] = "mutex", [WEFT_WAIT_RDLOCK] = "rdlock", [WEFT_WAIT_WRLOCK] = "wrlock",
  [WEFT_WAIT_SPIN] = "spin", [WEFT_WAIT_COND] = "cond", [WEFT_WAIT_BARRIER] = "barrier",
  [WEFT_WAIT_SEM] = "sem", [WEFT_WAIT_JOIN] = "join", [WEFT_WAIT_POLL] = "poll",
  [WEFT_WAIT_SELECT] = "select", [WEFT_WAIT_EPOLL] = "epoll", [WEFT_WAIT_SLEEP] = "sleep",
  [WEFT_WAIT_CHILD] = "child",
};

static const char *const result_names[] = {
  [WEFT_RESULT_OK] = "ok", [WEFT_RESULT_TIMEOUT] = "timeout",
  [WEFT_RESULT_ERROR] = "error", [WEFT_RESULT_INTERRUPTED] = "interrupted",
};

static void
batch_append (WeftWriter             *self,
              ItemType                type,
              const WeftSessionImage *image,
              const void             *payload,
              guint32                 size)
{
  ItemHeader header = { type, size, image };

  g_byte_array_append (self->batch, (const guint8 *) &header, sizeof header);
  g_byte_array_append (self->batch, payload, size);
  /* Keep items aligned for the reader. */
  while (self->batch->len % 8 != 0)
    g_byte_array_append (self->batch, (const guint8 *) "", 1);
  if (self->batch->len >= BATCH_BYTES)
    weft_writer_flush (self);
}

void
weft_writer_add_record (WeftWriter             *self,
                        const WeftSessionImage *image,
                        const WeftRecHeader    *record)
{
  batch_append (self, ITEM_RECORD, image, record, record->size);
}

void
weft_writer_add_slot (WeftWriter             *self,
                      const WeftSessionImage *image,
                      const WeftWireSlot     *slot)
{
  batch_append (self, ITEM_SLOT, image, slot, sizeof *slot);
}

void
weft_writer_add_sched (WeftWriter           *self,
                       const WeftSchedEvent *event)
{
  batch_append (self, ITEM_SCHED, NULL, event, sizeof *event);
}

void
weft_writer_add_reaped (WeftWriter *self,
                        gint32      pid,
                        int         wait_status,
                        guint64     cpu_ns,
                        guint64     time_ns)
{
  ReapedItem item = { pid, wait_status, cpu_ns, time_ns };

  batch_append (self, ITEM_REAPED, NULL, &item, sizeof item);
}

void
weft_writer_add_reach (WeftWriter *self,
                       gint32      pid,
                       const char *reason)
{
  ReachItem item = { pid, reason, (guint64) g_get_monotonic_time () * 1000 };

  batch_append (self, ITEM_REACH, NULL, &item, sizeof item);
}

void
weft_writer_flush (WeftWriter *self)
{
  if (self->batch->len == 0)
    return;
  g_async_queue_push (self->queue, self->batch);
  self->batch = g_byte_array_sized_new (BATCH_BYTES + 4096);
}

/* ---------------------------------------------------------------------- */
/* The model. */

static void
pending_name_clear (gpointer data)
{
  WriterPendingName *pending = data;

  g_free (pending->name);
}

static void
writer_process_free (gpointer data)
{
  WriterProcess *process = data;

  g_hash_table_unref (process->pthreads);
  g_array_unref (process->pending_names);
  g_free (process->comm);
  g_free (process->command);
  g_free (process->exe);
  g_free (process->exec_path);
  g_free (process);
}

static void
writer_thread_free (gpointer data)
{
  WriterThread *thread = data;

  g_free (thread->name);
  g_free (thread->end_name);
  g_free (thread);
}

static void
writer_stack_free (gpointer data)
{
  WriterStack *stack = data;

  if (stack->ips != NULL)
    g_array_unref (stack->ips);
  if (stack->py != NULL)
    g_array_unref (stack->py);
  g_free (stack);
}

static guint
pthread_key_hash (gconstpointer data)
{
  const WriterPthreadKey *key = data;

  return g_int64_hash (&key->pthread) ^ g_direct_hash (key->image);
}

static gboolean
pthread_key_equal (gconstpointer a,
                   gconstpointer b)
{
  const WriterPthreadKey *key_a = a, *key_b = b;

  return key_a->image == key_b->image && key_a->pthread == key_b->pthread;
}

/* ---------------------------------------------------------------------- */
/* Processes.
 *
 * A pid names one process from its fork to its reap; then the kernel may
 * give it to another (after pid_max others, or at once through clone3's
 * set_tid or ns_last_pid). What is said about a pid arrives out of order
 * (each image's ring, the kernel's records and the collector's waits are
 * drained at different moments), so each fact is placed by its time:
 * - a fact within a life (a slice, a name, a thread) goes to the process
 *   of that pid that began last at or before it (weft_writer_find_process);
 * - a fact that a process began or existed (the kernel's FORK, a new agent
 *   image, its parent's FORK or SPAWN record, a first sight in /proc) goes
 *   to the known process nearest to it in time among those it can belong
 *   to (process_may_hold), or makes a new one (process_claim);
 * - a reap goes to the latest process that began before it and was not yet
 *   reaped, the reaper's own child first (process_reaped).
 * A process cannot take a fact dated after it is known to have ended (a
 * wait reaped it; for an image, it called exit) or before its fork. A new
 * image is another image of the same process (an exec) unless one of those
 * says otherwise: the parent's reap is drained before a later process's
 * image (the parent's ring is older), but the kernel's FORK of that process
 * may come after it, and the image's own chunk header is only read at
 * finalize. So a pid given again, within one drain of the collector, while
 * nobody saw its last holder end (reaped inside glibc by system() or
 * pclose()) makes the new image part of the old process. */

typedef enum
{
  FACT_FORK,     /* the kernel's FORK: it began then, exactly */
  FACT_IMAGE,    /* an agent image of it began then: it ran then */
  FACT_MADE,     /* it was made before then and not yet reaped: its parent's
                    FORK or SPAWN record (the child may have run to its end
                    before the parent read the clock), a first sight in /proc
                    (maybe of a zombie) */
} Fact;

static WriterProcess *
process_new (WeftWriter *self,
             gint32      pid)
{
  WriterProcess *process = g_new0 (WriterProcess, 1);

  process->id = ++self->next_process_id;
  process->pid = pid;
  process->exit_status = -1;
  process->cpu_ns = -1;
  process->reaped_cpu_ns = -1;
  process->pthreads = g_hash_table_new_full (pthread_key_hash, pthread_key_equal, g_free,
                                             (GDestroyNotify) g_ptr_array_unref);
  process->pending_names = g_array_new (FALSE, FALSE, sizeof (WriterPendingName));
  g_array_set_clear_func (process->pending_names, pending_name_clear);
  process->older = g_hash_table_lookup (self->processes, GINT_TO_POINTER (pid));
  g_hash_table_insert (self->processes, GINT_TO_POINTER (pid), process);
  g_ptr_array_add (self->all_processes, process);
  return process;
}

static void
note_seen (WriterProcess *process,
           guint64        time_ns)
{
  if (time_ns == 0)
    return;
  if (process->first_ns == 0 || time_ns < process->first_ns)
    process->first_ns = time_ns;
  if (time_ns > process->last_ns)
    process->last_ns = time_ns;
}

WriterProcess *
weft_writer_find_process (WeftWriter *self,
                          gint32      pid,
                          guint64     time_ns)
{
  WriterProcess *best = NULL, *oldest = NULL;

  for (WriterProcess *process = g_hash_table_lookup (self->processes, GINT_TO_POINTER (pid));
       process != NULL; process = process->older)
    {
      if (oldest == NULL || process->first_ns < oldest->first_ns)
        oldest = process;
      if (process->first_ns <= time_ns && (best == NULL || process->first_ns > best->first_ns))
        best = process;
    }
  return best != NULL ? best : oldest;
}

/* weft_writer_find_process(), made if there is none. */
static WriterProcess *
process_at (WeftWriter *self,
            gint32      pid,
            guint64     time_ns)
{
  WriterProcess *process = weft_writer_find_process (self, pid, time_ns);

  if (process == NULL)
    {
      process = process_new (self, pid);
      note_seen (process, time_ns);
    }
  return process;
}

/* Whether fact at time_ns can be about process: not after its reap; an
 * image not after it called exit (an EXIT record or the collector's reap
 * set end_ns; nothing else does before finalize); nothing before its fork,
 * and its fork before everything else known of it. */
static gboolean
process_may_hold (const WriterProcess *process,
                  Fact                 fact,
                  guint64              time_ns)
{
  if (process->reaped_ns != 0 && process->reaped_ns < time_ns)
    return FALSE;
  if (fact == FACT_FORK)
    return process->fork_ns == 0 && process->first_ns >= time_ns;
  if (fact == FACT_IMAGE && process->end_ns != 0 && process->end_ns < time_ns)
    return FALSE;
  return process->fork_ns <= time_ns;
}

/* How far time_ns lies from what is known of process's life. */
static guint64
distance (const WriterProcess *process,
          guint64              time_ns)
{
  if (time_ns < process->first_ns)
    return process->first_ns - time_ns;
  return time_ns > process->last_ns ? time_ns - process->last_ns : 0;
}

/* The process with pid that fact at time_ns is about; see the head of
 * this section. */
static WriterProcess *
process_claim (WeftWriter *self,
               gint32      pid,
               Fact        fact,
               guint64     time_ns)
{
  WriterProcess *best = NULL;

  for (WriterProcess *process = g_hash_table_lookup (self->processes, GINT_TO_POINTER (pid));
       process != NULL; process = process->older)
    if (process_may_hold (process, fact, time_ns)
        && (best == NULL || distance (process, time_ns) < distance (best, time_ns)))
      best = process;
  if (best == NULL)
    best = process_new (self, pid);
  note_seen (best, time_ns);
  if (fact == FACT_FORK)
    best->fork_ns = time_ns;
  return best;
}

/* Whether process can be the child that reaper (a pid; 0: the collector,
 * which reaps orphans) reaped. */
static gboolean
reaped_by (const WriterProcess *process,
           gint32               reaper)
{
  return reaper == 0 || process->ppid == 0 || process->ppid == reaper;
}

/* The process with pid that a wait by reaper reaped at time_ns; see the
 * head of this section. Another process may take the pid between the reap
 * and the time the reaper read its clock: its parent is another. */
static WriterProcess *
process_reaped (WeftWriter *self,
                gint32      pid,
                gint32      reaper,
                guint64     time_ns)
{
  WriterProcess *best = NULL;

  for (WriterProcess *process = g_hash_table_lookup (self->processes, GINT_TO_POINTER (pid));
       process != NULL; process = process->older)
    {
      if (process->reaped_ns != 0 || process->first_ns > time_ns)
        continue;
      if (best == NULL || reaped_by (process, reaper) > reaped_by (best, reaper)
          || (reaped_by (process, reaper) == reaped_by (best, reaper)
              && process->first_ns > best->first_ns))
        best = process;
    }
  if (best == NULL)
    {
      best = process_new (self, pid);
      note_seen (best, time_ns);
    }
  best->reaped_ns = time_ns;
  return best;
}

WriterProcess *
weft_writer_image_process (WeftWriter             *self,
                           const WeftSessionImage *image)
{
  WriterProcess *process = g_hash_table_lookup (self->image_processes, image);

  if (process != NULL)
    return process;
  process = process_claim (self, image->pid, FACT_IMAGE, image->image_start_ns);
  g_hash_table_insert (self->image_processes, (gpointer) image, process);
  if (process->ppid == 0)
    process->ppid = image->ppid;
  return process;
}

/* ---------------------------------------------------------------------- */
/* Threads. */

static WriterThread *
new_thread (WeftWriter    *self,
            WriterProcess *process,
            gint32         tid)
{
  WriterThread *thread = g_new0 (WriterThread, 1);

  thread->id = ++self->next_thread_id;
  thread->process = process;
  thread->tid = tid;
  thread->older = g_hash_table_lookup (self->threads, GINT_TO_POINTER (tid));
  g_hash_table_insert (self->threads, GINT_TO_POINTER (tid), thread);
  g_ptr_array_add (self->all_threads, thread);
  return thread;
}

/* The latest thread `tid` of process, made if there is none. A tid seen in
 * another process first was a thread of a process that has since exec'd or
 * ended, and the kernel reused its number: a new thread. */
static WriterThread *
get_thread (WeftWriter    *self,
            WriterProcess *process,
            gint32         tid)
{
  for (WriterThread *thread = g_hash_table_lookup (self->threads, GINT_TO_POINTER (tid));
       thread != NULL; thread = thread->older)
    if (thread->process == process)
      return thread;
  return new_thread (self, process, tid);
}

/* Which clock of events a lookup serves: both are CLOCK_MONOTONIC, but the
 * two sources are drained at different moments, so one may be seconds ahead
 * of the other. Each picks threads by its own start times first. */
typedef enum
{
  SOURCE_PERF,
  SOURCE_AGENT,
} Source;

static guint64
start_seen_by (const WriterThread *thread,
               Source              source)
{
  return source == SOURCE_PERF ? thread->fork_ns : thread->agent_start_ns;
}

/* When the thread began, as this source saw it, else as the other did. */
static guint64
anchor_for (const WriterThread *thread,
            Source              source)
{
  guint64 mine = start_seen_by (thread, source);

  return mine != 0 ? mine : start_seen_by (thread, source == SOURCE_PERF ? SOURCE_AGENT : SOURCE_PERF);
}

/* The thread `tid` of process pid that an event at time_ns belongs to: the
 * one that began last at or before it (the oldest if all began after). */
static WriterThread *
thread_at (WeftWriter    *self,
           WriterProcess *process,
           gint32         tid,
           guint64        time_ns,
           Source         source)
{
  WriterThread *best = NULL, *oldest = NULL;

  for (WriterThread *thread = g_hash_table_lookup (self->threads, GINT_TO_POINTER (tid));
       thread != NULL; thread = thread->older)
    {
      if (thread->process != process)
        continue;
      oldest = thread;
      if (anchor_for (thread, source) <= time_ns
          && (best == NULL || anchor_for (thread, source) > anchor_for (best, source)))
        best = thread;
    }
  if (best == NULL)
    best = oldest;
  return best != NULL ? best : new_thread (self, process, tid);
}

/* Whether thread, lacking source's start, can be the thread that began as
 * source saw it at time_ns: the kernel's FORK comes before the agent's
 * THREAD_START; a first sight in /proc (sighted: after the thread began,
 * as its THREAD_START is) may come on either side of it. */
static gboolean
starts_pair (const WriterThread *thread,
             Source              source,
             guint64             time_ns,
             gboolean            sighted)
{
  if (sighted || (source == SOURCE_AGENT && thread->fork_sighted))
    return TRUE;
  return source == SOURCE_PERF ? thread->agent_start_ns >= time_ns
                               : thread->fork_ns <= time_ns;
}

static guint64
gap_ns (guint64 a,
        guint64 b)
{
  return a > b ? a - b : b - a;
}

/* A start event (the kernel's FORK or a first sight in /proc, the agent's
 * THREAD_START) at time_ns: the thread the other source already reported,
 * or a new one. Among the threads of this tid lacking this source's start,
 * one whose other start can pair with it (starts_pair), the nearest: a FORK
 * pairs with the first agent start at or after it, a THREAD_START with the
 * last fork at or before it; a thread seen so far by neither start (the
 * root's main thread, a thread first seen on a CPU or named by tid) comes
 * last. The main thread (tid == pid) is one thread for the whole process,
 * across execs. */
static WriterThread *
thread_starting (WeftWriter    *self,
                 WriterProcess *process,
                 gint32         tid,
                 guint64        time_ns,
                 Source         source,
                 gboolean       sighted)
{
  Source other_source = source == SOURCE_PERF ? SOURCE_AGENT : SOURCE_PERF;
  gboolean main_thread = tid == process->pid;
  WriterThread *match = NULL, *unknown = NULL;

  if (main_thread)
    match = get_thread (self, process, tid);
  for (WriterThread *thread = g_hash_table_lookup (self->threads, GINT_TO_POINTER (tid));
       thread != NULL && !main_thread; thread = thread->older)
    {
      guint64 other = start_seen_by (thread, other_source);

      if (thread->process != process || start_seen_by (thread, source) != 0)
        continue;
      if (other == 0)
        unknown = unknown != NULL ? unknown : thread;
      else if (starts_pair (thread, source, time_ns, sighted)
               && (match == NULL
                   || gap_ns (other, time_ns) < gap_ns (start_seen_by (match, other_source), time_ns)))
        match = thread;
    }
  if (match == NULL)
    match = unknown != NULL ? unknown : new_thread (self, process, tid);
  if (source == SOURCE_PERF)
    {
      match->fork_ns = time_ns;
      match->fork_sighted = sighted;
    }
  else
    match->agent_start_ns = time_ns;
  return match;
}

/* Whether the trace knows thread to be alive at time_ns: an unknown start
 * (0) counts as the beginning of the trace, an unseen end (0) as its end. */
static gboolean
alive_at (const WriterThread *thread,
          guint64             time_ns)
{
  return thread->start_ns <= time_ns && (thread->end_ns == 0 || thread->end_ns >= time_ns);
}

/* Index of the first of threads (by start_ns) that began after time_ns. */
static guint
first_after (GPtrArray *threads,
             guint64    time_ns)
{
  guint lo = 0, hi = threads->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (((WriterThread *) threads->pdata[mid])->start_ns <= time_ns)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* thread had pthread_t `pthread` in image: keeps process->pthreads. */
static void
note_pthread (WriterProcess          *process,
              const WeftSessionImage *image,
              guint64                 pthread,
              WriterThread           *thread)
{
  WriterPthreadKey key = { image, pthread };
  GPtrArray *threads = g_hash_table_lookup (process->pthreads, &key);

  if (threads == NULL)
    {
      threads = g_ptr_array_new ();
      g_hash_table_insert (process->pthreads, g_memdup2 (&key, sizeof key), threads);
    }
  g_ptr_array_insert (threads, (gint) first_after (threads, thread->start_ns), thread);
}

/* glibc gives a joined thread's pthread_t (the address of its stack) to a
 * later thread, so one pthread_t may name several threads of an image in
 * turn. The one that had it at time_ns (a join's start, a naming) is: the
 * last to start before then if it was alive then; else the first to start
 * after time_ns if all of its life as seen lies before until_ns (the agent
 * sees a thread start only once it runs, which may be after its creator
 * began to join it, and a join returns only after the thread ended); else
 * the last to start before time_ns (a join of a thread that had already
 * ended). Starts and ends as the trace knows them when called: at finalize,
 * all of them. */
WriterThread *
weft_writer_pthread_at (WriterProcess          *process,
                        const WeftSessionImage *image,
                        guint64                 pthread,
                        guint64                 time_ns,
                        guint64                 until_ns)
{
  WriterPthreadKey key = { image, pthread };
  GPtrArray *threads = g_hash_table_lookup (process->pthreads, &key);
  WriterThread *before, *after;
  guint i;

  if (threads == NULL)
    return NULL;
  i = first_after (threads, time_ns);
  before = i > 0 ? threads->pdata[i - 1] : NULL;
  after = i < threads->len ? threads->pdata[i] : NULL;
  if (before != NULL && alive_at (before, time_ns))
    return before;
  if (after != NULL && (after->end_ns != 0 ? after->end_ns : G_MAXUINT64) <= until_ns)
    return after;
  return before;
}

static gint
compare_start (gconstpointer a,
               gconstpointer b)
{
  const WriterThread *thread_a = *(WriterThread * const *) a;
  const WriterThread *thread_b = *(WriterThread * const *) b;

  if (thread_a->start_ns != thread_b->start_ns)
    return thread_a->start_ns < thread_b->start_ns ? -1 : 1;
  return thread_a->id < thread_b->id ? -1 : thread_a->id > thread_b->id;
}

void
weft_writer_sort_pthreads (WeftWriter *self)
{
  for (guint i = 0; i < self->all_processes->len; i++)
    {
      WriterProcess *process = self->all_processes->pdata[i];
      GHashTableIter iter;
      gpointer threads;

      g_hash_table_iter_init (&iter, process->pthreads);
      while (g_hash_table_iter_next (&iter, NULL, &threads))
        g_ptr_array_sort (threads, compare_start);
    }
}

/* The thread whose retired slot this is: the oldest that started in the
 * agent and has not had its counters yet (slots retire in the order their
 * threads end), else the latest. */
static WriterThread *
thread_of_slot (WeftWriter    *self,
                WriterProcess *process,
                gint32         tid)
{
  WriterThread *found = NULL;

  for (WriterThread *thread = g_hash_table_lookup (self->threads, GINT_TO_POINTER (tid));
       thread != NULL; thread = thread->older)
    if (thread->process == process && thread->agent_start_ns != 0 && !thread->counters_done)
      found = thread;
  if (found == NULL)
    found = get_thread (self, process, tid);
  found->counters_done = TRUE;
  return found;
}

/* The object at address in process; a new one remembers the image it was
 * first seen in, whose modules name it. */
static WriterObject *
get_object (WeftWriter             *self,
            const WeftSessionImage *image,
            WriterProcess          *process,
            guint64                 address,
            guint                   kind)
{
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                          process->id, address);
  WriterObject *object = g_hash_table_lookup (self->objects, key);

  if (object == NULL)
    {
      object = g_new0 (WriterObject, 1);
      object->id = ++self->next_object_id;
      object->process = process;
      object->image = image;
      object->address = address;
      g_hash_table_insert (self->objects, g_steal_pointer (&key), object);
      g_ptr_array_add (self->all_objects, object);
    }
  if (object->kind == WEFT_OBJ_NONE)
    object->kind = kind;
  return object;
}

static WriterStack *
get_stack (WeftWriter             *self,
           const WeftSessionImage *image,
           guint32                 stack_id)
{
  g_autofree char *key = g_strdup_printf ("%p:%u", (void *) image, stack_id);
  WriterStack *stack = g_hash_table_lookup (self->stacks, key);

  if (stack == NULL)
    {
      stack = g_new0 (WriterStack, 1);
      stack->id = ++self->next_stack_id;
      stack->image = image;
      g_hash_table_insert (self->stacks, g_steal_pointer (&key), stack);
      g_ptr_array_add (self->all_stacks, stack);
    }
  return stack;
}

static void
note_start (guint64 *start_ns,
            guint64  time_ns)
{
  if (time_ns != 0 && (*start_ns == 0 || time_ns < *start_ns))
    *start_ns = time_ns;
}

static void
note_end (guint64 *end_ns,
          guint64  time_ns)
{
  if (time_ns > *end_ns)
    *end_ns = time_ns;
}

static void
set_name (char       **name,
          const char  *value,
          gsize        max_bytes)
{
  g_free (*name);
  *name = g_strndup (value, max_bytes);
}

/* ---------------------------------------------------------------------- */
/* SQL. */

static void
sql_step (WeftWriter   *self,
          sqlite3_stmt *stmt,
          const char   *sql)
{
  if (sqlite3_step (stmt) != SQLITE_DONE && self->error == NULL)
    weft_trace_sql_error (self->trace, sql, &self->error);
  sqlite3_reset (stmt);
  if (++self->rows_in_transaction >= ROWS_PER_TRANSACTION && self->error == NULL)
    {
      self->rows_in_transaction = 0;
      weft_trace_exec (self->trace, "COMMIT; BEGIN", &self->error);
    }
}

/* Inserts a wait without its holder (see handle_wait); returns its row id,
 * or 0 after an SQL failure. */
static gint64
insert_wait (WeftWriter         *self,
             WriterThread       *thread,
             WriterObject       *object,
             WriterStack        *stack,
             const WeftRecWait  *wait)
{
  static const char sql[] =
    "INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns, result, error,"
    " stack_id, arg)"
    " VALUES (:thread, :object, :kind, :start, :end, :result, :error, :stack, :arg)";
  sqlite3_stmt *stmt;

  if (self->error != NULL
      || (stmt = weft_trace_prepare (self->trace, sql, &self->error)) == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, thread->id);
  if (object != NULL)
    sqlite3_bind_int64 (stmt, 2, object->id);
  sqlite3_bind_text (stmt, 3, wait_kind_names[wait->kind], -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, (gint64) wait->start_ns);
  sqlite3_bind_int64 (stmt, 5, (gint64) MAX (wait->end_ns, wait->start_ns));
  sqlite3_bind_text (stmt, 6, result_names[wait->result], -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 7, wait->error);
  if (stack != NULL)
    sqlite3_bind_int64 (stmt, 8, stack->id);
  sqlite3_bind_int64 (stmt, 9, (gint64) wait->arg);
  sql_step (self, stmt, sql);
  self->waits++;
  return sqlite3_last_insert_rowid (weft_trace_get_db (self->trace));
}

static void
insert_slice (WeftWriter           *self,
              WriterThread         *thread,
              const WeftSchedEvent *event)
{
  static const char sql[] =
    "INSERT INTO cpu_slices (thread_id, cpu, start_ns, end_ns, preempted)"
    " VALUES (:thread, :cpu, :start, :end, :preempted)";
  sqlite3_stmt *stmt;

  if (self->error != NULL
      || (stmt = weft_trace_prepare (self->trace, sql, &self->error)) == NULL)
    return;
  sqlite3_bind_int64 (stmt, 1, thread->id);
  sqlite3_bind_int (stmt, 2, event->cpu);
  sqlite3_bind_int64 (stmt, 3, (gint64) event->start_ns);
  sqlite3_bind_int64 (stmt, 4, (gint64) event->end_ns);
  sqlite3_bind_int (stmt, 5, event->preempted ? 1 : 0);
  sql_step (self, stmt, sql);
  self->cpu_slices++;
}

/* ---------------------------------------------------------------------- */
/* Agent records. */

static void
handle_wait (WeftWriter             *self,
             const WeftSessionImage *image,
             const WeftRecWait      *wait)
{
  WriterProcess *process = weft_writer_image_process (self, image);
  WriterThread *thread = thread_at (self, process, wait->h.tid, wait->start_ns, SOURCE_AGENT);
  WriterObject *object = NULL;
  WriterStack *stack = NULL;
  gint64 row;

  if (wait->kind == 0 || wait->kind >= G_N_ELEMENTS (wait_kind_names)
      || wait->result >= G_N_ELEMENTS (result_names))
    return;
  thread->process->instrumented = TRUE;
  if (wait->object_kind != WEFT_OBJ_NONE)
    object = get_object (self, image, thread->process, wait->object, wait->object_kind);
  if (wait->stack_id != 0)
    stack = get_stack (self, image, wait->stack_id);

  note_end (&self->last_ns, wait->end_ns);
  row = insert_wait (self, thread, object, stack, wait);
  if (row == 0)
    return;
  /* Holders are named at finalize: the holder may be a thread whose start
   * is in a ring not drained yet, or a thread of another process (the agent
   * reads the owner's tid from a process-shared lock); and the joined
   * thread's pthread_t → thread may be in such a ring too. */
  if (wait->holder_tid > 0 && wait->holder_tid != wait->h.tid)
    {
      WriterHolder holder = { row, thread->process, wait->holder_tid,
                              wait->start_ns, MAX (wait->end_ns, wait->start_ns) };

      g_array_append_val (self->holders, holder);
    }
  else if (wait->kind == WEFT_WAIT_JOIN)
    {
      WriterJoin join = { row, thread->process, object, image, wait->object,
                          wait->start_ns, MAX (wait->end_ns, wait->start_ns) };

      g_array_append_val (self->joins, join);
    }
}

static void
handle_thread (WeftWriter             *self,
               const WeftSessionImage *image,
               const WeftRecThread    *record)
{
  WriterProcess *process = weft_writer_image_process (self, image);
  WriterThread *thread;

  if (record->h.type == WEFT_REC_THREAD_START)
    thread = thread_starting (self, process, record->h.tid, record->time_ns, SOURCE_AGENT, FALSE);
  else
    thread = thread_at (self, process, record->h.tid, record->time_ns, SOURCE_AGENT);
  note_end (&self->last_ns, record->time_ns);
  thread->process->instrumented = TRUE;
  if (record->h.type == WEFT_REC_THREAD_START)
    {
      note_start (&thread->start_ns, record->time_ns);
      note_pthread (thread->process, image, record->pthread, thread);
    }
  else
    {
      note_end (&thread->end_ns, record->time_ns);
      if (record->name[0] != '\0')
        set_name (&thread->end_name, record->name, sizeof record->name);
    }
}

static void
handle_thread_name (WeftWriter              *self,
                    const WeftSessionImage  *image,
                    const WeftRecThreadName *record)
{
  WriterProcess *process = weft_writer_image_process (self, image);
  WriterThread *thread = NULL;

  if (record->target_tid != 0)
    thread = thread_at (self, process, record->target_tid, record->time_ns, SOURCE_AGENT);
  else
    thread = weft_writer_pthread_at (process, image, record->target_pthread, record->time_ns,
                                     G_MAXUINT64);
  if (thread != NULL)
    set_name (&thread->name, record->name, sizeof record->name);
  else
    {
      WriterPendingName pending = {
        .pthread = record->target_pthread,
        .time_ns = record->time_ns,
        .image = image,
        .name = g_strndup (record->name, sizeof record->name),
      };

      g_array_append_val (process->pending_names, pending);
    }
}

static void
handle_process (WeftWriter             *self,
                const WeftSessionImage *image,
                const WeftRecProcess   *record)
{
  WriterProcess *process = weft_writer_image_process (self, image);
  WriterProcess *child;

  note_end (&self->last_ns, record->time_ns);
  switch (record->h.type)
    {
    case WEFT_REC_FORK:
    case WEFT_REC_SPAWN:
      child = process_claim (self, record->child_pid, FACT_MADE, record->time_ns);
      child->ppid = image->pid;
      note_start (&child->start_ns, record->time_ns);
      break;
    case WEFT_REC_EXIT:
      if (record->status >= 0)
        process->exit_status = record->status & 0xff;
      note_end (&process->end_ns, record->time_ns);
      if (record->cpu_ns != 0)
        process->cpu_ns = (gint64) record->cpu_ns;
      break;
    case WEFT_REC_REAP:
      child = process_reaped (self, record->child_pid, image->pid, record->time_ns);
      if (WIFEXITED (record->status))
        child->exit_status = WEXITSTATUS (record->status);
      else if (WIFSIGNALED (record->status))
        child->exit_signal = WTERMSIG (record->status);
      if (child->ppid == 0)
        child->ppid = image->pid;
      break;
    default:
      break;
    }
}

static void
handle_module (WeftWriter             *self,
               const WeftSessionImage *image,
               const WeftRecModule    *record)
{
  GArray *modules = g_hash_table_lookup (self->modules, image);

  if (modules == NULL)
    {
      modules = g_array_new (FALSE, FALSE, sizeof (WeftRecModule));
      g_hash_table_insert (self->modules, (gpointer) image, modules);
    }
  for (guint i = 0; i < modules->len; i++)
    if (g_array_index (modules, WeftRecModule, i).start == record->start)
      return;
  g_array_append_vals (modules, record, 1);
}

static void
handle_stack (WeftWriter             *self,
              const WeftSessionImage *image,
              const WeftRecStack     *record)
{
  WriterStack *stack = get_stack (self, image, record->stack_id);
  guint32 depth = MIN (record->depth, (record->h.size - sizeof *record) / sizeof (guint64));

  if (stack->ips != NULL)
    return;
  stack->ips = g_array_sized_new (FALSE, FALSE, sizeof (guint64), depth);
  g_array_append_vals (stack->ips, record->ips, depth);
}

static void
py_frame_clear (gpointer data)
{
  WriterPyFrame *frame = data;

  g_free (frame->name);
  g_free (frame->file);
}

/* The Python frames of a stack. A frame whose lengths run past the record
 * ends the list (a damaged ring). */
static void
handle_pystack (WeftWriter             *self,
                const WeftSessionImage *image,
                const WeftRecPyStack   *record)
{
  WriterStack *stack = get_stack (self, image, record->stack_id);
  const char *p = (const char *) (record + 1);
  const char *end = (const char *) record + record->h.size;

  if (stack->py != NULL)
    return;
  stack->py = g_array_new (FALSE, TRUE, sizeof (WriterPyFrame));
  g_array_set_clear_func (stack->py, py_frame_clear);
  for (guint32 i = 0; i < MIN (record->count, WEFT_WIRE_PYSTACK_MAX); i++)
    {
      WeftWirePyFrame wire;
      WriterPyFrame frame;

      if ((gsize) (end - p) < sizeof wire)
        break;
      memcpy (&wire, p, sizeof wire);
      if ((gsize) (end - p) < weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes))
        break;
      frame = (WriterPyFrame) {
        .name = g_utf8_make_valid (p + sizeof wire, wire.name_bytes),
        .file = g_utf8_make_valid (p + sizeof wire + wire.name_bytes, wire.file_bytes),
        .line = MAX (wire.line, 0),
        .offset = wire.offset,
        .segment = wire.segment,
      };
      g_array_append_val (stack->py, frame);
      p += weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes);
    }
}

/* The file an image is about to exec: if no agent shows up in what it
 * becomes, finalize looks at that file to say why. */
static void
handle_exec (WeftWriter             *self,
             const WeftSessionImage *image,
             const WeftRecExec      *record)
{
  WriterProcess *process = weft_writer_image_process (self, image);

  if (record->error == 0)
    set_name (&process->exec_path, record->path, sizeof record->path);
}

/* Records shorter than their type's struct are ignored: a damaged ring
 * must not make us read past a record. */
static void
handle_record (WeftWriter             *self,
               const WeftSessionImage *image,
               const WeftRecHeader    *record)
{
  static const guint16 min_size[] = {
    [WEFT_REC_THREAD_START] = sizeof (WeftRecThread),
    [WEFT_REC_THREAD_END] = sizeof (WeftRecThread),
    [WEFT_REC_THREAD_NAME] = sizeof (WeftRecThreadName),
    [WEFT_REC_WAIT] = sizeof (WeftRecWait),
    [WEFT_REC_STACK] = sizeof (WeftRecStack),
    [WEFT_REC_MODULE] = sizeof (WeftRecModule),
    [WEFT_REC_FORK] = sizeof (WeftRecProcess),
    [WEFT_REC_SPAWN] = sizeof (WeftRecProcess),
    [WEFT_REC_EXEC] = sizeof (WeftRecExec),
    [WEFT_REC_EXIT] = sizeof (WeftRecProcess),
    [WEFT_REC_REAP] = sizeof (WeftRecProcess),
    [WEFT_REC_PYSTACK] = sizeof (WeftRecPyStack),
  };

  if (record->type == 0 || record->type >= G_N_ELEMENTS (min_size)
      || record->size < min_size[record->type])
    return;

  switch ((WeftRecType) record->type)
    {
    case WEFT_REC_THREAD_START:
    case WEFT_REC_THREAD_END:
      handle_thread (self, image, (const WeftRecThread *) record);
      break;
    case WEFT_REC_THREAD_NAME:
      handle_thread_name (self, image, (const WeftRecThreadName *) record);
      break;
    case WEFT_REC_WAIT:
      handle_wait (self, image, (const WeftRecWait *) record);
      break;
    case WEFT_REC_STACK:
      handle_stack (self, image, (const WeftRecStack *) record);
      break;
    case WEFT_REC_MODULE:
      handle_module (self, image, (const WeftRecModule *) record);
      break;
    case WEFT_REC_PYSTACK:
      handle_pystack (self, image, (const WeftRecPyStack *) record);
      break;
    case WEFT_REC_FORK:
    case WEFT_REC_SPAWN:
    case WEFT_REC_EXIT:
    case WEFT_REC_REAP:
      handle_process (self, image, (const WeftRecProcess *) record);
      break;
    case WEFT_REC_EXEC:
      handle_exec (self, image, (const WeftRecExec *) record);
      break;
    case WEFT_REC_PAD:
      break;
    }
}

/* A slot is done: add its per-object counters to the thread's. */
static void
handle_slot (WeftWriter             *self,
             const WeftSessionImage *image,
             const WeftWireSlot     *slot)
{
  WriterThread *thread = thread_of_slot (self, weft_writer_image_process (self, image), slot->tid);

  thread->lost_events += slot->lost_events;
  self->agent_lost += slot->lost_events;
  for (guint i = 0; i < WEFT_WIRE_COUNTERS; i++)
    {
      const WeftWireCounter *counter = &slot->counters[i];
      g_autofree char *key = NULL;
      WriterObject *object;
      WriterStats *stats;

      if (counter->address == 0 || counter->address == G_MAXUINT64
          || counter->acquisitions + counter->contentions == 0)
        continue;
      object = get_object (self, image, thread->process, counter->address, counter->kind);
      key = g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, object->id, thread->id);
      stats = g_hash_table_lookup (self->stats, key);
      if (stats == NULL)
        {
          stats = g_new0 (WriterStats, 1);
          g_hash_table_insert (self->stats, g_steal_pointer (&key), stats);
        }
      stats->acquisitions += counter->acquisitions;
      stats->contentions += counter->contentions;
      stats->hold_ns += counter->hold_ns;
      stats->hold_max_ns = MAX (stats->hold_max_ns, counter->hold_max_ns);
      stats->hold_samples += counter->hold_samples;
    }
}

/* ---------------------------------------------------------------------- */
/* Kernel events. */

/* A new task: a thread of a process, or the main thread of a new process
 * (the fact that places the process among those with its pid). */
static void
handle_sched_fork (WeftWriter           *self,
                   const WeftSchedEvent *event)
{
  gboolean new_process = event->pid != event->ppid;
  WriterProcess *process;
  WriterThread *thread;

  if (!new_process)
    process = process_at (self, event->pid, event->time_ns);
  else
    process = process_claim (self, event->pid, event->sighted_ns != 0 ? FACT_MADE : FACT_FORK,
                             event->time_ns);
  thread = thread_starting (self, process, event->tid, event->time_ns, SOURCE_PERF,
                            event->sighted_ns != 0);
  note_start (&thread->start_ns, event->time_ns);
  /* The kernel copies the creator's name and reports no COMM for it. */
  if (thread->name == NULL)
    {
      WriterThread *creator = g_hash_table_lookup (self->threads, GINT_TO_POINTER (event->ptid));

      if (creator != NULL && creator->name != NULL)
        thread->name = g_strdup (creator->name);
    }
  if (new_process)
    {
      process->ppid = event->ppid;
      note_start (&process->start_ns, event->time_ns);
    }
}

/* The thread a kernel event at time_ns is about. An event of /proc names
 * it by when /proc first saw it (sighted_ns): its times are bounds, and a
 * thread that ended between two samples is reported after the next
 * process with its pid, or thread with its tid, may have begun. */
static WriterThread *
sched_thread (WeftWriter           *self,
              const WeftSchedEvent *event,
              guint64               time_ns)
{
  WriterThread *thread = NULL;

  if (event->sighted_ns != 0)
    thread = g_hash_table_lookup (self->threads, GINT_TO_POINTER (event->tid));
  for (; thread != NULL; thread = thread->older)
    if (thread->fork_sighted && thread->fork_ns == event->sighted_ns
        && thread->process->pid == event->pid)
      return thread;
  return thread_at (self, process_at (self, event->pid, time_ns), event->tid, time_ns, SOURCE_PERF);
}

static void
handle_sched (WeftWriter           *self,
              const WeftSchedEvent *event)
{
  WriterThread *thread;

  switch (event->type)
    {
    case WEFT_SCHED_SLICE:
      insert_slice (self, sched_thread (self, event, event->start_ns), event);
      break;
    case WEFT_SCHED_FORK:
      handle_sched_fork (self, event);
      break;
    case WEFT_SCHED_EXIT:
      thread = sched_thread (self, event, event->time_ns);
      /* Right after the COMM of a setuid exec, the kernel detaches perf
       * from the task and says EXIT: it lives on, followed through /proc. */
      if (event->pid == event->tid && thread->process->perf_detach == DETACH_PENDING)
        {
          thread->process->perf_detach = DETACH_DONE;
          break;
        }
      note_end (&thread->end_ns, event->time_ns);
      break;
    case WEFT_SCHED_COMM:
      thread = sched_thread (self, event, event->time_ns);
      set_name (&thread->name, event->comm, sizeof event->comm);
      if (event->exec || thread->process->comm == NULL)
        set_name (&thread->process->comm, event->comm, sizeof event->comm);
      break;
    case WEFT_SCHED_LOST:
      break;
    }
}

static void
handle_reach (WeftWriter      *self,
              const ReachItem *item)
{
  WriterProcess *process = process_at (self, item->pid, item->time_ns);
  gboolean secure = g_strcmp0 (item->reason, WEFT_REACH_SECURE) == 0;

  process->reach_reason = item->reason;
  process->reach_known = TRUE;
  if (!secure)
    process->perf_detach = DETACH_NONE;
  else if (process->perf_detach == DETACH_NONE)
    process->perf_detach = DETACH_PENDING;
}

static void
handle_reaped (WeftWriter       *self,
               const ReapedItem *item)
{
  WriterProcess *process = process_reaped (self, item->pid, 0, item->time_ns);

  if (WIFEXITED (item->wait_status))
    process->exit_status = WEXITSTATUS (item->wait_status);
  else if (WIFSIGNALED (item->wait_status))
    process->exit_signal = WTERMSIG (item->wait_status);
  process->reaped_cpu_ns = (gint64) item->cpu_ns;
  note_end (&process->end_ns, item->time_ns);
}

/* ---------------------------------------------------------------------- */
/* The writer thread. */

static void
process_batch (WeftWriter *self,
               GByteArray *batch)
{
  gsize offset = 0;

  while (offset + sizeof (ItemHeader) <= batch->len)
    {
      const ItemHeader *header = (const ItemHeader *) (batch->data + offset);
      const void *payload = header + 1;

      switch ((ItemType) header->type)
        {
        case ITEM_RECORD:
          handle_record (self, header->image, payload);
          break;
        case ITEM_SLOT:
          handle_slot (self, header->image, payload);
          break;
        case ITEM_SCHED:
          handle_sched (self, payload);
          break;
        case ITEM_REAPED:
          handle_reaped (self, payload);
          break;
        case ITEM_REACH:
          handle_reach (self, payload);
          break;
        }
      offset += (sizeof (ItemHeader) + header->size + 7) & ~(gsize) 7;
    }
}

static gpointer
writer_thread_main (gpointer data)
{
  WeftWriter *self = data;

  weft_trace_exec (self->trace, "BEGIN", &self->error);
  for (;;)
    {
      g_autoptr (GByteArray) batch = g_async_queue_pop (self->queue);

      if (batch->len == 0)
        break;
      process_batch (self, batch);
    }
  return NULL;
}

WeftWriter *
weft_writer_new (WeftTrace *trace)
{
  WeftWriter *self = g_new0 (WeftWriter, 1);

  self->trace = trace;
  self->queue = g_async_queue_new_full ((GDestroyNotify) g_byte_array_unref);
  self->batch = g_byte_array_sized_new (BATCH_BYTES + 4096);
  self->processes = g_hash_table_new (NULL, NULL);
  self->image_processes = g_hash_table_new (NULL, NULL);
  self->all_processes = g_ptr_array_new_with_free_func (writer_process_free);
  self->threads = g_hash_table_new (NULL, NULL);
  self->all_threads = g_ptr_array_new_with_free_func (writer_thread_free);
  self->objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->all_objects = g_ptr_array_new_with_free_func (g_free);
  self->stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->stacks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->all_stacks = g_ptr_array_new_with_free_func (writer_stack_free);
  self->modules = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_array_unref);
  self->joins = g_array_new (FALSE, FALSE, sizeof (WriterJoin));
  self->holders = g_array_new (FALSE, FALSE, sizeof (WriterHolder));
  self->thread = g_thread_new ("weft-writer", writer_thread_main, self);
  return self;
}

static void
writer_free (WeftWriter *self)
{
  g_clear_pointer (&self->batch, g_byte_array_unref);
  g_async_queue_unref (self->queue);
  g_hash_table_unref (self->processes);
  g_hash_table_unref (self->image_processes);
  g_hash_table_unref (self->threads);
  g_hash_table_unref (self->objects);
  g_hash_table_unref (self->stats);
  g_hash_table_unref (self->stacks);
  g_hash_table_unref (self->modules);
  g_ptr_array_unref (self->all_stacks);
  g_ptr_array_unref (self->all_objects);
  g_ptr_array_unref (self->all_threads);
  g_ptr_array_unref (self->all_processes);
  g_array_unref (self->joins);
  g_array_unref (self->holders);
  g_clear_error (&self->error);
  g_free (self);
}

gboolean
weft_writer_finish (WeftWriter           *self,
                    GPtrArray            *images,
                    const WeftWriterMeta *meta,
                    WeftWriterSummary    *summary,
                    GError              **error)
{
  gboolean ok;

  weft_writer_flush (self);
  g_async_queue_push (self->queue, g_byte_array_new ());
  g_thread_join (self->thread);

  ok = weft_finalize_trace (self, images, meta, summary, error);
  writer_free (self);
  return ok;
}
