/* weft-finalize.c — after the last batch: fold in what the agents' chunk
 * headers say, symbolize stacks and name objects, write the tables that were
 * kept in memory (processes, threads, objects, stats, stacks) and meta. */
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "weft-analysis.h"
#include "weft-config.h"
#include "weft-gil.h"
#include "weft-reach.h"
#include "weft-symbols.h"
#include "weft-text.h"
#include "weft-writer-private.h"

typedef struct
{
  WeftWriter     *writer;
  WeftSymbolizer *symbolizer;
  GHashTable     *frames;     /* "offset@module" → frame id */
  gint64          next_frame_id;
} Finalize;

static gint
compare_image_start (gconstpointer a,
                     gconstpointer b)
{
  const WeftSessionImage *image_a = *(WeftSessionImage * const *) a;
  const WeftSessionImage *image_b = *(WeftSessionImage * const *) b;

  return image_a->image_start_ns < image_b->image_start_ns ? -1
         : image_a->image_start_ns > image_b->image_start_ns;
}

/* argv as the kernel keeps it (NUL-separated) → one line. */
static char *
join_cmdline (const char *cmdline,
              guint32     bytes)
{
  GString *line = g_string_new (NULL);

  bytes = MIN (bytes, WEFT_WIRE_CMDLINE_BYTES);
  for (guint32 i = 0; i < bytes; i++)
    g_string_append_c (line, cmdline[i] == '\0' ? ' ' : cmdline[i]);
  while (line->len > 0 && line->str[line->len - 1] == ' ')
    g_string_truncate (line, line->len - 1);
  return g_string_free (line, FALSE);
}

/* When the process called exit(), as its agent wrote it: the end where
 * nothing else gave one (a trace recovered without scheduling data). The
 * program could write anything there: only a time within its life and
 * not in the future counts. */
static void
note_exit_time (WeftWriter    *self,
                WriterProcess *process,
                guint64        exit_ns)
{
  guint64 now_ns = (guint64) g_get_monotonic_time () * 1000;

  if (process->end_ns != 0 || exit_ns < process->start_ns || exit_ns > now_ns)
    return;
  process->end_ns = exit_ns;
  self->last_ns = MAX (self->last_ns, exit_ns);
}

/* Each image's chunk 0 holds its exe, argv and, if it ended by exit(), its
 * status and CPU time; later images of a process (exec) win. */
static void
apply_images (WeftWriter *self,
              GPtrArray  *images)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_copy (images, NULL, NULL);

  /* The copy inherits the session's free function: it must not free. */
  g_ptr_array_set_free_func (sorted, NULL);
  g_ptr_array_sort (sorted, compare_image_start);
  for (guint i = 0; i < sorted->len; i++)
    {
      const WeftSessionImage *image = sorted->pdata[i];
      const WeftWireChunk *chunk0 = image->chunk0;
      WriterProcess *process = weft_writer_image_process (self, image);

      /* The last image decides: one that exec'd (state EXEC) and was
       * followed by no image of its own means the new program ran without
       * the agent. */
      process->instrumented = chunk0 == NULL
                              || atomic_load (&chunk0->state) != WEFT_CHUNK_EXEC;
      if (process->ppid == 0)
        process->ppid = image->ppid;
      if (chunk0 == NULL)
        continue;
      self->agent_lost += atomic_load (&chunk0->lost_events);
      g_free (process->exe);
      process->exe = g_strndup (chunk0->exe, sizeof chunk0->exe);
      g_free (process->command);
      process->command = join_cmdline (chunk0->cmdline, chunk0->cmdline_bytes);
      if (atomic_load (&chunk0->state) == WEFT_CHUNK_EXITED)
        {
          if (process->exit_status < 0 && process->exit_signal == 0 && chunk0->exit_status >= 0)
            process->exit_status = chunk0->exit_status & 0xff;
          if (process->cpu_ns < 0 && atomic_load (&chunk0->process_cpu_ns) != 0)
            process->cpu_ns = (gint64) atomic_load (&chunk0->process_cpu_ns);
          note_exit_time (self, process, atomic_load (&chunk0->exit_ns));
        }
    }
}

/* The process that made process: the one with its ppid that lived when it
 * began (that pid may have named other processes before and after). */
static WriterProcess *
parent_of (WeftWriter          *self,
           const WriterProcess *process)
{
  guint64 start_ns = process->start_ns != 0 ? process->start_ns : process->first_ns;
  WriterProcess *parent;

  if (process->ppid <= 0)
    return NULL;
  parent = weft_writer_find_process (self, process->ppid, start_ns);
  return parent != process ? parent : NULL;
}

/* Why the agent never ran in a process: what the drain thread saw while
 * it ran, else the file its last instrumented image exec'd, else its
 * parent's reason (a fork of a static program is static too), else we do
 * not know. Parents come before their children in all_processes. */
static const char *
reason_for (WeftWriter    *self,
            WriterProcess *process)
{
  WriterProcess *parent;
  const char *reason = NULL;

  if (process->reach_known && process->reach_reason != NULL)
    return process->reach_reason;
  if (process->exec_path != NULL && process->exec_path[0] == '/'
      && weft_reach_check_file (process->exec_path, &reason) && reason != NULL)
    return reason;
  parent = parent_of (self, process);
  if (parent != NULL && !parent->instrumented
      && parent->uninstrumented_reason != NULL && process->exec_path == NULL
      && !process->reach_known)
    return parent->uninstrumented_reason;
  return WEFT_REACH_UNKNOWN;
}

static char *
process_name (const WriterProcess *process)
{
  if (process->comm != NULL)
    return g_strdup (process->comm);
  if (process->exe != NULL)
    return g_path_get_basename (process->exe);
  return g_strdup ("?");
}

/* Gives every process without the agent its reason, and the record command
 * one line about each. */
static void
explain_uninstrumented (WeftWriter        *self,
                        WeftWriterSummary *summary)
{
  for (guint i = 0; i < self->all_processes->len; i++)
    {
      WriterProcess *process = self->all_processes->pdata[i];
      g_autofree char *name = NULL;

      if (process->instrumented)
        continue;
      process->uninstrumented_reason = reason_for (self, process);
      if (summary->uninstrumented == NULL)
        continue;
      name = process_name (process);
      g_ptr_array_add (summary->uninstrumented,
                       g_strdup_printf ("process %d (%s) was not instrumented: %s",
                                        process->pid, name, process->uninstrumented_reason));
    }
}

/* Names given by pthread_t before the thread was seen: to the thread that
 * had that pthread_t when it was named. Later names win. */
static void
resolve_pending_names (WeftWriter *self)
{
  for (guint i = 0; i < self->all_processes->len; i++)
    {
      WriterProcess *process = self->all_processes->pdata[i];

      for (guint n = 0; n < process->pending_names->len; n++)
        {
          const WriterPendingName *pending = &g_array_index (process->pending_names,
                                                             WriterPendingName, n);
          WriterThread *thread = weft_writer_pthread_at (process, pending->image, pending->pthread,
                                                         pending->time_ns, G_MAXUINT64);

          if (thread != NULL)
            {
              g_free (thread->name);
              thread->name = g_strdup (pending->name);
            }
        }
    }
}

static void
set_holder (WeftWriter   *self,
            gint64        wait_row,
            WriterThread *holder)
{
  static const char sql[] = "UPDATE waits SET holder_thread_id = :holder WHERE id = :id";
  sqlite3_stmt *stmt;

  if (self->error != NULL || (stmt = weft_trace_prepare (self->trace, sql, &self->error)) == NULL)
    return;
  sqlite3_bind_int64 (stmt, 1, holder->id);
  sqlite3_bind_int64 (stmt, 2, wait_row);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    weft_trace_sql_error (self->trace, sql, &self->error);
  sqlite3_reset (stmt);
}

/* The thread joined by each join: the one that had the pthread_t when the
 * join began (weft_writer_pthread_at), in the joiner's image. Each object
 * of kind THREAD learns the threads its joins named, for its name. */
static void
resolve_joins (WeftWriter *self)
{
  g_autoptr (GHashTable) named = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < self->joins->len && self->error == NULL; i++)
    {
      const WriterJoin *join = &g_array_index (self->joins, WriterJoin, i);
      WriterThread *thread = weft_writer_pthread_at (join->process, join->image, join->pthread,
                                                     join->start_ns, join->end_ns);
      WriterObject *object = join->object;

      if (thread == NULL)
        continue;
      set_holder (self, join->wait_row, thread);
      if (object == NULL)
        continue;
      if (g_hash_table_add (named, g_strdup_printf ("%p:%p", (void *) object, (void *) thread)))
        object->joined_threads++;
      if (object->joined == NULL || join->start_ns < object->joined_ns)
        {
          object->joined = thread;
          object->joined_ns = join->start_ns;
        }
    }
}

static gboolean
lives_overlap (const WriterThread *thread,
               guint64             start_ns,
               guint64             end_ns)
{
  return thread->start_ns <= end_ns && (thread->end_ns == 0 || thread->end_ns >= start_ns);
}

static WriterThread *
later_start (WriterThread *best,
             WriterThread *thread)
{
  return best == NULL || thread->start_ns > best->start_ns ? thread : best;
}

/* The thread whose tid the agent read from a lock as its owner. A tid names
 * one thread at a time in the whole system, so: the thread of that tid
 * alive during the wait in the waiter's process; else the one alive then in
 * any other process of the trace (a process-shared lock); else the last of
 * that tid in the waiter's process that began before the wait (the owner
 * ended holding the lock, or its end was seen early); else none: the owner
 * is a thread the trace does not have, and no thread is made up for it. */
static WriterThread *
holder_of (WeftWriter         *self,
           const WriterHolder *holder)
{
  WriterThread *own = NULL, *other = NULL, *own_before = NULL;

  for (WriterThread *thread = g_hash_table_lookup (self->threads, GINT_TO_POINTER (holder->tid));
       thread != NULL; thread = thread->older)
    {
      if (lives_overlap (thread, holder->start_ns, holder->end_ns))
        {
          if (thread->process == holder->process)
            own = later_start (own, thread);
          else
            other = later_start (other, thread);
        }
      else if (thread->process == holder->process && thread->start_ns <= holder->start_ns)
        own_before = later_start (own_before, thread);
    }
  return own != NULL ? own : other != NULL ? other : own_before;
}

static void
resolve_holders (WeftWriter *self)
{
  for (guint i = 0; i < self->holders->len && self->error == NULL; i++)
    {
      const WriterHolder *holder = &g_array_index (self->holders, WriterHolder, i);
      WriterThread *thread = holder_of (self, holder);

      if (thread != NULL)
        set_holder (self, holder->wait_row, thread);
    }
}

/* Runs a prepared insert; the first failure is kept in self->error. */
static void
step (WeftWriter   *self,
      sqlite3_stmt *stmt,
      const char   *sql)
{
  if (sqlite3_step (stmt) != SQLITE_DONE && self->error == NULL)
    weft_trace_sql_error (self->trace, sql, &self->error);
  sqlite3_reset (stmt);
}

static sqlite3_stmt *
prepare (WeftWriter *self,
         const char *sql)
{
  if (self->error != NULL)
    return NULL;
  return weft_trace_prepare (self->trace, sql, &self->error);
}

static void
bind_text_or_null (sqlite3_stmt *stmt,
                   int           index,
                   const char   *text)
{
  if (text != NULL && text[0] != '\0')
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}

static const WeftRecModule *
module_for (WeftWriter             *self,
            const WeftSessionImage *image,
            guint64                 address)
{
  GArray *modules = g_hash_table_lookup (self->modules, image);

  for (guint i = 0; modules != NULL && i < modules->len; i++)
    {
      const WeftRecModule *module = &g_array_index (modules, WeftRecModule, i);

      if (address >= module->start && address < module->end)
        return module;
    }
  return NULL;
}

/* The frame row of a native return address; *runs_python says whether it is
 * a call of CPython's interpreter loop. */
static gint64
frame_for (Finalize               *fin,
           const WeftSessionImage *image,
           guint64                 ip,
           gboolean               *runs_python)
{
  static const char sql[] =
    "INSERT INTO frames (id, module, address, function, file, line)"
    " VALUES (:id, :module, :address, :function, :file, :line)";
  const WeftRecModule *module = module_for (fin->writer, image, ip);
  g_autofree char *path = module != NULL ? g_strndup (module->path, sizeof module->path) : NULL;
  g_auto (WeftSymbol) symbol = { 0 };
  g_autofree char *key = NULL;
  gpointer known;
  sqlite3_stmt *stmt;

  symbol.offset = ip;
  if (module != NULL)
    weft_symbolizer_lookup_code (fin->symbolizer, path, module->bias, ip, TRUE, &symbol);
  *runs_python = g_strcmp0 (symbol.function, "_PyEval_EvalFrameDefault") == 0;
  key = g_strdup_printf ("%" G_GUINT64_FORMAT "@%s", symbol.offset, path ? path : "");
  if (g_hash_table_lookup_extended (fin->frames, key, NULL, &known))
    return GPOINTER_TO_SIZE (known);

  if ((stmt = prepare (fin->writer, sql)) == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, ++fin->next_frame_id);
  bind_text_or_null (stmt, 2, path);
  sqlite3_bind_int64 (stmt, 3, (gint64) symbol.offset);
  bind_text_or_null (stmt, 4, symbol.function);
  bind_text_or_null (stmt, 5, symbol.file);
  if (symbol.line > 0)
    sqlite3_bind_int (stmt, 6, symbol.line);
  else
    sqlite3_bind_null (stmt, 6);
  step (fin->writer, stmt, sql);
  g_hash_table_insert (fin->frames, g_steal_pointer (&key), GSIZE_TO_POINTER (fin->next_frame_id));
  return fin->next_frame_id;
}

/* The frame row of a Python frame. */
static gint64
python_frame_for (Finalize            *fin,
                  const WriterPyFrame *py)
{
  static const char sql[] =
    "INSERT INTO frames (id, module, address, function, file, line, kind)"
    " VALUES (:id, NULL, :address, :function, :file, :line, 'python')";
  g_autofree char *key = g_strdup_printf ("py:%u:%d:%s\x1f%s", py->offset, py->line, py->name, py->file);
  gpointer known;
  sqlite3_stmt *stmt;

  if (g_hash_table_lookup_extended (fin->frames, key, NULL, &known))
    return GPOINTER_TO_SIZE (known);
  if ((stmt = prepare (fin->writer, sql)) == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, ++fin->next_frame_id);
  sqlite3_bind_int64 (stmt, 2, py->offset);
  bind_text_or_null (stmt, 3, py->name);
  bind_text_or_null (stmt, 4, py->file);
  if (py->line > 0)
    sqlite3_bind_int (stmt, 5, py->line);
  else
    sqlite3_bind_null (stmt, 5);
  step (fin->writer, stmt, sql);
  g_hash_table_insert (fin->frames, g_steal_pointer (&key), GSIZE_TO_POINTER (fin->next_frame_id));
  return fin->next_frame_id;
}

/* The frame ids of a stack, innermost first. Each call of the interpreter
 * loop (_PyEval_EvalFrameDefault) gets the Python frames it runs just inside
 * it (their `segment`); Python frames beyond the native frames (a stack cut
 * at its depth limit, or a loop not symbolized) go outermost. */
static GArray *
stack_frame_ids (Finalize    *fin,
                 WriterStack *stack)
{
  guint native = stack->ips != NULL ? stack->ips->len : 0;
  guint python = stack->py != NULL ? stack->py->len : 0;
  GArray *ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), native + python);
  guint segment = 0, p = 0;

  for (guint d = 0; d < native; d++)
    {
      gboolean runs_python = FALSE;
      gint64 id = frame_for (fin, stack->image, g_array_index (stack->ips, guint64, d), &runs_python);

      if (runs_python && p < python)
        {
          for (; p < python && g_array_index (stack->py, WriterPyFrame, p).segment <= segment; p++)
            {
              gint64 py_id = python_frame_for (fin, &g_array_index (stack->py, WriterPyFrame, p));
              g_array_append_val (ids, py_id);
            }
          segment++;
        }
      g_array_append_val (ids, id);
    }
  for (; p < python; p++)
    {
      gint64 py_id = python_frame_for (fin, &g_array_index (stack->py, WriterPyFrame, p));
      g_array_append_val (ids, py_id);
    }
  return ids;
}

static void
write_stacks (Finalize *fin)
{
  static const char stack_sql[] =
    "INSERT INTO stacks (id, process_id, depth) VALUES (:id, :process, :depth)";
  static const char frame_sql[] =
    "INSERT INTO stack_frames (stack_id, depth, frame_id) VALUES (:stack, :depth, :frame)";
  WeftWriter *self = fin->writer;

  for (guint i = 0; i < self->all_stacks->len; i++)
    {
      WriterStack *stack = self->all_stacks->pdata[i];
      g_autoptr(GArray) ids = stack_frame_ids (fin, stack);
      sqlite3_stmt *stmt;

      if ((stmt = prepare (self, stack_sql)) == NULL)
        return;
      sqlite3_bind_int64 (stmt, 1, stack->id);
      sqlite3_bind_int64 (stmt, 2, weft_writer_image_process (self, stack->image)->id);
      sqlite3_bind_int (stmt, 3, ids->len);
      step (self, stmt, stack_sql);

      for (guint d = 0; d < ids->len; d++)
        {
          if ((stmt = prepare (self, frame_sql)) == NULL)
            return;
          sqlite3_bind_int64 (stmt, 1, stack->id);
          sqlite3_bind_int (stmt, 2, d);
          sqlite3_bind_int64 (stmt, 3, g_array_index (ids, gint64, d));
          step (self, stmt, frame_sql);
        }
    }
}

static const char *
object_kind_name (guint kind)
{
  static const char *const names[] = {
    [WEFT_OBJ_NONE] = "mutex", [WEFT_OBJ_MUTEX] = "mutex", [WEFT_OBJ_RWLOCK] = "rwlock",
    [WEFT_OBJ_SPIN] = "spin", [WEFT_OBJ_COND] = "cond", [WEFT_OBJ_BARRIER] = "barrier",
    [WEFT_OBJ_SEM] = "sem", [WEFT_OBJ_THREAD] = "thread",
  };

  return kind < G_N_ELEMENTS (names) ? names[kind] : "mutex";
}

static const char *
thread_name (const WriterThread *thread)
{
  return thread->end_name != NULL ? thread->end_name : thread->name != NULL ? thread->name : "?";
}

/* A joined thread is named after the thread (its pthread_t is the address):
 * "thread worker-2" says more than an address. When the joins on it named
 * several threads (glibc reuses a joined thread's pthread_t), after the
 * first: "thread worker-2 and 3 more"; when none, after the last thread
 * that had the pthread_t. */
static char *
joined_thread_name (const WriterObject *object)
{
  WriterThread *thread = object->joined;

  if (thread == NULL)
    thread = weft_writer_pthread_at (object->process, object->image, object->address,
                                     G_MAXUINT64, G_MAXUINT64);
  if (thread == NULL)
    return NULL;
  if (object->joined_threads > 1)
    return g_strdup_printf ("thread %s and %u more", thread_name (thread),
                            object->joined_threads - 1);
  return g_strdup_printf ("thread %s", thread_name (thread));
}

/* Each object is named from the modules of the image it was first seen in:
 * after an exec, the same address means something else. */
static void
write_objects (Finalize *fin)
{
  static const char sql[] =
    "INSERT INTO objects (id, process_id, address, kind, name)"
    " VALUES (:id, :process, :address, :kind, :name)";
  WeftWriter *self = fin->writer;

  for (guint i = 0; i < self->all_objects->len; i++)
    {
      WriterObject *object = self->all_objects->pdata[i];
      const WeftRecModule *module = object->image != NULL
                                    ? module_for (self, object->image, object->address) : NULL;
      g_autofree char *name = NULL;
      sqlite3_stmt *stmt;

      if (object->kind == WEFT_OBJ_THREAD)
        name = joined_thread_name (object);
      else if (module != NULL)
        {
          g_autofree char *path = g_strndup (module->path, sizeof module->path);

          name = weft_symbolizer_name_data (fin->symbolizer, path, module->bias, object->address);
        }
      if ((stmt = prepare (self, sql)) == NULL)
        return;
      sqlite3_bind_int64 (stmt, 1, object->id);
      sqlite3_bind_int64 (stmt, 2, object->process->id);
      sqlite3_bind_int64 (stmt, 3, (gint64) object->address);
      sqlite3_bind_text (stmt, 4, object_kind_name (object->kind), -1, SQLITE_STATIC);
      bind_text_or_null (stmt, 5, name);
      step (self, stmt, sql);
    }
}

static void
write_object_stats (WeftWriter *self)
{
  static const char sql[] =
    "INSERT INTO object_stats (object_id, thread_id, acquisitions, contentions,"
    " hold_ns, hold_max_ns, hold_samples)"
    " VALUES (:object, :thread, :acquisitions, :contentions, :hold, :hold_max, :samples)";
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->stats);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const WriterStats *stats = value;
      gint64 object_id, thread_id;
      sqlite3_stmt *stmt;

      if (sscanf (key, "%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, &object_id, &thread_id) != 2
          || (stmt = prepare (self, sql)) == NULL)
        continue;
      sqlite3_bind_int64 (stmt, 1, object_id);
      sqlite3_bind_int64 (stmt, 2, thread_id);
      sqlite3_bind_int64 (stmt, 3, (gint64) stats->acquisitions);
      sqlite3_bind_int64 (stmt, 4, (gint64) stats->contentions);
      sqlite3_bind_int64 (stmt, 5, (gint64) stats->hold_ns);
      sqlite3_bind_int64 (stmt, 6, (gint64) stats->hold_max_ns);
      sqlite3_bind_int64 (stmt, 7, (gint64) stats->hold_samples);
      step (self, stmt, sql);
    }
}

static void
write_modules (WeftWriter *self)
{
  static const char sql[] =
    "INSERT INTO modules (process_id, path, start, end, bias)"
    " VALUES (:process, :path, :start, :end, :bias)";
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->modules);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const WeftSessionImage *image = key;
      GArray *modules = value;

      for (guint i = 0; i < modules->len; i++)
        {
          const WeftRecModule *module = &g_array_index (modules, WeftRecModule, i);
          g_autofree char *path = g_strndup (module->path, sizeof module->path);
          sqlite3_stmt *stmt;

          if ((stmt = prepare (self, sql)) == NULL)
            return;
          sqlite3_bind_int64 (stmt, 1, weft_writer_image_process (self, image)->id);
          sqlite3_bind_text (stmt, 2, path, -1, SQLITE_TRANSIENT);
          sqlite3_bind_int64 (stmt, 3, (gint64) module->start);
          sqlite3_bind_int64 (stmt, 4, (gint64) module->end);
          sqlite3_bind_int64 (stmt, 5, (gint64) module->bias);
          step (self, stmt, sql);
        }
    }
}

static void
bind_time_or_null (sqlite3_stmt *stmt,
                   int           index,
                   guint64       time_ns)
{
  if (time_ns != 0)
    sqlite3_bind_int64 (stmt, index, (gint64) time_ns);
  else
    sqlite3_bind_null (stmt, index);
}

/* What a main thread lacks when only its agent spoke of it (the kernel's
 * name and exit come with scheduling data): the name the kernel gives a
 * program (its file name, 15 bytes) and the end of its process. */
static void
fill_main_thread (WriterThread        *thread,
                  const WriterProcess *process)
{
  if (thread->name == NULL && thread->end_name == NULL && process->exe != NULL)
    {
      g_autofree char *base = g_path_get_basename (process->exe);

      thread->name = g_strndup (base, 15);
    }
  if (thread->end_ns == 0)
    thread->end_ns = process->end_ns;
}

static void
write_threads (WeftWriter           *self,
               const WeftWriterMeta *meta)
{
  static const char sql[] =
    "INSERT INTO threads (id, process_id, tid, name, start_ns, end_ns, lost_events)"
    " VALUES (:id, :process, :tid, :name, :start, :end, :lost)";

  for (guint i = 0; i < self->all_threads->len; i++)
    {
      WriterThread *thread = self->all_threads->pdata[i];
      WriterProcess *process = thread->process;
      sqlite3_stmt *stmt;

      if (thread->tid == process->pid)
        fill_main_thread (thread, process);
      /* A thread is part of its process's life: widen the process to it. */
      if (thread->start_ns == 0)
        thread->start_ns = process->start_ns != 0 ? process->start_ns : meta->start_ns;
      if (process->start_ns == 0 || thread->start_ns < process->start_ns)
        process->start_ns = thread->start_ns;
      if (thread->end_ns > process->end_ns)
        process->end_ns = thread->end_ns;

      if ((stmt = prepare (self, sql)) == NULL)
        return;
      sqlite3_bind_int64 (stmt, 1, thread->id);
      sqlite3_bind_int64 (stmt, 2, process->id);
      sqlite3_bind_int (stmt, 3, thread->tid);
      bind_text_or_null (stmt, 4, thread->end_name != NULL ? thread->end_name : thread->name);
      bind_time_or_null (stmt, 5, thread->start_ns);
      bind_time_or_null (stmt, 6, thread->end_ns);
      sqlite3_bind_int64 (stmt, 7, (gint64) thread->lost_events);
      step (self, stmt, sql);
    }
}

/* CPU time as the kernel counted it: the agent's own reading at exit (this
 * process alone), else the collector's wait4 (which also counts children the
 * process reaped itself). */
static gint64
process_cpu_ns (const WriterProcess *process)
{
  return process->cpu_ns >= 0 ? process->cpu_ns : process->reaped_cpu_ns;
}

static void
write_processes (WeftWriter           *self,
                 const WeftWriterMeta *meta)
{
  static const char sql[] =
    "INSERT INTO processes (id, pid, parent_id, command, exe, start_ns, end_ns,"
    " exit_status, exit_signal, cpu_ns, instrumented, uninstrumented_reason)"
    " VALUES (:id, :pid, :parent, :command, :exe, :start, :end, :status, :signal, :cpu,"
    " :instrumented, :reason)";

  for (guint i = 0; i < self->all_processes->len; i++)
    {
      WriterProcess *process = self->all_processes->pdata[i];
      WriterProcess *parent = parent_of (self, process);
      sqlite3_stmt *stmt;

      if (process->pid == meta->root_pid && process->start_ns == 0)
        process->start_ns = meta->start_ns;
      if ((stmt = prepare (self, sql)) == NULL)
        return;
      sqlite3_bind_int64 (stmt, 1, process->id);
      sqlite3_bind_int (stmt, 2, process->pid);
      if (parent != NULL)
        sqlite3_bind_int64 (stmt, 3, parent->id);
      bind_text_or_null (stmt, 4, process->command != NULL ? process->command : process->comm);
      bind_text_or_null (stmt, 5, process->exe);
      bind_time_or_null (stmt, 6, process->start_ns);
      bind_time_or_null (stmt, 7, process->end_ns);
      if (process->exit_signal == 0 && process->exit_status >= 0)
        sqlite3_bind_int (stmt, 8, process->exit_status);
      if (process->exit_signal != 0)
        sqlite3_bind_int (stmt, 9, process->exit_signal);
      if (process_cpu_ns (process) >= 0)
        sqlite3_bind_int64 (stmt, 10, process_cpu_ns (process));
      sqlite3_bind_int (stmt, 11, process->instrumented ? 1 : 0);
      bind_text_or_null (stmt, 12, process->instrumented ? NULL : process->uninstrumented_reason);
      step (self, stmt, sql);
    }
}

static void
write_meta (WeftWriter           *self,
            const WeftWriterMeta *meta,
            guint64               end_ns,
            guint64               lost_events)
{
  char hostname[256] = "";

  gethostname (hostname, sizeof hostname - 1);
  if (self->error != NULL)
    return;
  if (!weft_trace_set_meta (self->trace, "weft_version", WEFT_VERSION, &self->error)
      || !weft_trace_set_meta_int (self->trace, "format_version", WEFT_TRACE_FORMAT_VERSION, &self->error)
      || !weft_trace_set_meta (self->trace, "command", meta->command, &self->error)
      || !weft_trace_set_meta_int (self->trace, "start_ns", (gint64) meta->start_ns, &self->error)
      || !weft_trace_set_meta_int (self->trace, "start_unix_ns", (gint64) meta->start_unix_ns, &self->error)
      || !weft_trace_set_meta_int (self->trace, "end_ns", (gint64) end_ns, &self->error)
      || !weft_trace_set_meta_int (self->trace, "cpus", sysconf (_SC_NPROCESSORS_ONLN), &self->error)
      || !weft_trace_set_meta (self->trace, "hostname", hostname, &self->error)
      || !weft_trace_set_meta (self->trace, "sched_source", meta->sched_source, &self->error)
      || !weft_trace_set_meta_int (self->trace, "sched_period_ns", (gint64) meta->sched_period_ns, &self->error)
      || !weft_trace_set_meta_int (self->trace, "lost_events", (gint64) lost_events, &self->error)
      || !weft_trace_set_meta_int (self->trace, "lost_agent_events", (gint64) self->agent_lost, &self->error)
      || !weft_trace_set_meta_int (self->trace, "lost_sched_events", (gint64) meta->sched_lost, &self->error)
      || !weft_trace_set_meta_int (self->trace, "root_pid", meta->root_pid, &self->error)
      || !weft_trace_set_meta_int (self->trace, "complete", 1, &self->error))
    return;
}

/* One GIL object per CPython process (weft-gil.c); needs objects, stats,
 * modules and processes written. What it could not recognize, it says. */
static void
write_gil (WeftWriter *self)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);

  if (self->error != NULL)
    return;
  weft_gil_recognize (self->trace, warnings, NULL, &self->error);
  for (guint i = 0; i < warnings->len; i++)
    {
      /* They quote module paths from the program's records. */
      g_autofree char *line = weft_text_escape (warnings->pdata[i]);

      fprintf (stderr, "weft record: %s\n", line);
    }
}

gboolean
weft_finalize_trace (WeftWriter           *self,
                     GPtrArray            *images,
                     const WeftWriterMeta *meta,
                     WeftWriterSummary    *summary,
                     GError              **error)
{
  Finalize fin = { .writer = self };
  guint64 lost_events, end_ns;

  apply_images (self, images);
  explain_uninstrumented (self, summary);
  weft_writer_sort_pthreads (self);
  resolve_pending_names (self);
  resolve_joins (self);
  resolve_holders (self);

  /* Symbols come from the files on this machine: never ask a debuginfod
   * server over the network in the middle of writing a trace. */
  g_unsetenv ("DEBUGINFOD_URLS");
  fin.symbolizer = weft_symbolizer_new ();
  fin.frames = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  write_stacks (&fin);
  write_objects (&fin);
  g_hash_table_unref (fin.frames);
  weft_symbolizer_free (fin.symbolizer);

  write_object_stats (self);
  write_modules (self);
  write_threads (self, meta);
  write_processes (self, meta);
  write_gil (self);
  lost_events = self->agent_lost + meta->sched_lost + meta->session_corrupt;
  end_ns = meta->end_ns != 0 ? meta->end_ns : MAX (self->last_ns, meta->start_ns);
  write_meta (self, meta, end_ns, lost_events);
  if (self->error == NULL)
    weft_trace_exec (self->trace, "COMMIT", &self->error);
  /* Thread states, the concurrency profile and lock summaries: derived from
   * the raw tables just committed, stored so reports and the viewer read
   * them instead of re-deriving them. */
  if (self->error == NULL)
    weft_analysis_run (self->trace, &self->error);

  if (self->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->error));
      return FALSE;
    }
  summary->processes = self->all_processes->len;
  summary->threads = self->all_threads->len;
  summary->waits = self->waits;
  summary->cpu_slices = self->cpu_slices;
  summary->lost_events = lost_events;
  summary->agent_lost = self->agent_lost;
  summary->sched_lost = meta->sched_lost;
  summary->duration_ns = end_ns - meta->start_ns;
  return TRUE;
}
