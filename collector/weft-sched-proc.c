/* weft-sched-proc.c — the fallback when perf events are not allowed: sample
 * /proc/PID/task/TID/{stat,schedstat} of the traced tree every period.
 *
 * What each sample at time T yields, per thread:
 *   first seen          -> FORK and COMM (its name then). FORK's time is the
 *                          start of its first slice, or T if it has not run.
 *                          A thread's creator is unknown: ptid = pid (the
 *                          main thread); a process's ppid/ptid = its PPid.
 *   on-CPU time grew    -> SLICE [T - delta, T] on the CPU it last ran on
 *                          (stat field 39), preempted = state 'R' at T; the
 *                          start is clamped to the previous sample so slices
 *                          of one thread never overlap.
 *   code/stack moved    -> COMM with exec (startcode, endcode, startstack of
 *                          the main thread change on every execve)
 *   name changed        -> COMM
 *   zombie or vanished  -> EXIT at T (once)
 * Every event carries the FORK's time as sighted_ns: its other times are
 * bounds (an EXIT at T may come after the tid, or the pid, was given to a
 * new task), so that names which task it is about.
 * The on-CPU time is schedstat's first field (sum_exec_runtime, exact ns), or
 * utime + stime in clock ticks where schedstat is missing. What a thread ran
 * after the last sample before its exit is never seen: the error is at most
 * one period per exiting thread.
 *
 * The tree: the root pid, every process seen before that still exists (so
 * orphans re-parented to init stay followed; not when the kernel gave its
 * pid to another process since, as the start time of the main thread
 * says), and their children from /proc/PID/task/TID/children, or from a
 * scan of every /proc/PID/stat's PPid where the kernel lacks that file.
 *
 * The constructor takes a baseline sample so that the root's exec, which the
 * caller triggers right after, shows as a COMM with exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft-sched-private.h"

typedef struct
{
  gint32   pid;
  gint32   tid;
  gint32   ppid;
  gint32   cpu;
  char     state;
  guint64  start_ticks;   /* stat 22: tells a reused tid apart */
  guint64  oncpu_ns;
  guint64  startcode;     /* stat 26-28: move on execve */
  guint64  endcode;
  guint64  startstack;
  char     comm[16];
} TaskSample;

typedef struct
{
  TaskSample last;
  guint64    first_seen_ns;
  guint64    sample_gen;   /* the sample that last saw it */
  gboolean   announced;    /* FORK sent (baseline tasks wait a sample) */
  gboolean   exited;       /* EXIT sent */
} Task;

typedef struct
{
  WeftSched   parent;
  pid_t       pid;
  gboolean    use_children;   /* /proc/PID/task/TID/children exists */
  long        ticks_per_s;
  GHashTable *tasks;          /* tid -> Task (owned) */
  GHashTable *procs;          /* pids followed → the start time of each one's main
                                 thread, in ticks (GSIZE_TO_POINTER; 0 = unknown) */
  guint64     sample_gen;
  guint64     last_sample_ns;
} WeftSchedProc;

/* Reads a small /proc file into buf (NUL-terminated). */
static gssize
read_small (int         dirfd,
            const char *path,
            char       *buf,
            gsize       buf_bytes)
{
  int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  gssize n;

  if (fd < 0)
    return -1;
  do
    n = read (fd, buf, buf_bytes - 1);
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}

/* Parses /proc/.../stat: "pid (comm) S ppid ...". The comm may hold spaces
 * and parentheses, so fields are counted from the last ')'. */
static gboolean
parse_stat (const char *text,
            TaskSample *sample,
            guint64    *ticks)
{
  const char *open = strchr (text, '(');
  const char *close = strrchr (text, ')');
  const char *p;
  guint64 fields[40] = { 0 };
  gsize comm_bytes;

  if (open == NULL || close == NULL || close < open || close[1] != ' ')
    return FALSE;
  comm_bytes = MIN ((gsize) (close - open - 1), sizeof sample->comm - 1);
  memcpy (sample->comm, open + 1, comm_bytes);
  sample->comm[comm_bytes] = '\0';
  sample->state = close[2];

  /* Field 3 is the state; parse 4 .. 39 as numbers. */
  p = close + 3;
  for (int field = 4; field <= 39; field++)
    {
      char *end;

      while (*p == ' ')
        p++;
      fields[field] = g_ascii_strtoull (p, &end, 10);
      /* (negative fields, priority and nice, parse to garbage: unused) */
      if (end == p)
        return FALSE;
      p = end;
    }

  sample->ppid = (gint32) fields[4];
  *ticks = fields[14] + fields[15];
  sample->start_ticks = fields[22];
  sample->startcode = fields[26];
  sample->endcode = fields[27];
  sample->startstack = fields[28];
  sample->cpu = (gint32) fields[39];
  return TRUE;
}

static gboolean
read_task (WeftSchedProc *self,
           int            task_dirfd,
           gint32         pid,
           gint32         tid,
           TaskSample    *sample)
{
  char path[64];
  char buf[1024];
  guint64 ticks = 0;

  memset (sample, 0, sizeof *sample);
  sample->pid = pid;
  sample->tid = tid;

  g_snprintf (path, sizeof path, "%d/stat", tid);
  if (read_small (task_dirfd, path, buf, sizeof buf) <= 0 ||
      !parse_stat (buf, sample, &ticks))
    return FALSE;

  g_snprintf (path, sizeof path, "%d/schedstat", tid);
  if (read_small (task_dirfd, path, buf, sizeof buf) > 0)
    sample->oncpu_ns = g_ascii_strtoull (buf, NULL, 10);
  else
    sample->oncpu_ns = ticks * G_GUINT64_CONSTANT (1000000000) / (guint64) self->ticks_per_s;
  return TRUE;
}

static void
emit_fork_and_comm (Task          *task,
                    WeftSchedFunc  func,
                    gpointer       user_data)
{
  const TaskSample *s = &task->last;
  gboolean thread = s->tid != s->pid;
  WeftSchedEvent fork = {
    .type = WEFT_SCHED_FORK,
    .pid = s->pid,
    .tid = s->tid,
    .ppid = thread ? s->pid : s->ppid,
    .ptid = thread ? s->pid : s->ppid,
    .time_ns = task->first_seen_ns,
    .sighted_ns = task->first_seen_ns,
  };
  WeftSchedEvent comm = {
    .type = WEFT_SCHED_COMM,
    .pid = s->pid,
    .tid = s->tid,
    .time_ns = task->first_seen_ns,
    .sighted_ns = task->first_seen_ns,
  };

  memcpy (comm.comm, s->comm, sizeof comm.comm);
  func (&fork, user_data);
  func (&comm, user_data);
  task->announced = TRUE;
}

static void
emit_exit (Task          *task,
           guint64        now_ns,
           WeftSchedFunc  func,
           gpointer       user_data)
{
  WeftSchedEvent event = {
    .type = WEFT_SCHED_EXIT,
    .pid = task->last.pid,
    .tid = task->last.tid,
    .ppid = task->last.ppid,
    .ptid = task->last.ppid,
    .time_ns = now_ns,
    .sighted_ns = task->first_seen_ns,
  };

  if (task->exited)
    return;
  if (!task->announced)
    emit_fork_and_comm (task, func, user_data);
  func (&event, user_data);
  task->exited = TRUE;
}

/* A slice of task, whose sample now is s. */
static void
emit_slice (WeftSchedProc    *self,
            const Task       *task,
            const TaskSample *s,
            guint64           oncpu_ns,
            guint64           now_ns,
            WeftSchedFunc     func,
            gpointer          user_data)
{
  guint64 start_ns = now_ns > oncpu_ns ? now_ns - oncpu_ns : 0;
  WeftSchedEvent event = {
    .type = WEFT_SCHED_SLICE,
    .pid = s->pid,
    .tid = s->tid,
    .cpu = s->cpu,
    .preempted = s->state == 'R',
    .sighted_ns = task->first_seen_ns,
  };

  start_ns = MAX (start_ns, self->last_sample_ns);
  event.time_ns = event.start_ns = start_ns;
  event.end_ns = now_ns;
  func (&event, user_data);
}

/* A task seen for the first time, or its tid reused. */
static void
add_task (WeftSchedProc    *self,
          const TaskSample *s,
          guint64           now_ns,
          gboolean          baseline,
          WeftSchedFunc     func,
          gpointer          user_data)
{
  Task *task = g_new0 (Task, 1);

  task->last = *s;
  task->sample_gen = self->sample_gen;
  task->first_seen_ns = now_ns;
  g_hash_table_replace (self->tasks, GINT_TO_POINTER (s->tid), task);
  if (baseline)
    return;

  /* Everything it ran happened since the last sample. */
  if (s->oncpu_ns > 0)
    task->first_seen_ns = MAX (now_ns > s->oncpu_ns ? now_ns - s->oncpu_ns : 0,
                               self->last_sample_ns);
  emit_fork_and_comm (task, func, user_data);
  if (s->oncpu_ns > 0)
    emit_slice (self, task, s, s->oncpu_ns, now_ns, func, user_data);
  if (s->state == 'Z' || s->state == 'X')
    emit_exit (task, now_ns, func, user_data);
}

/* An execve of the main thread between two samples: its new address space
 * has new code and stack bounds. A zombie shows them as 0 (no address space
 * any more); that is not an exec. */
static gboolean
exec_between (const TaskSample *before,
              const TaskSample *after)
{
  if (after->state == 'Z' || after->state == 'X' ||
      before->startstack == 0 || after->startstack == 0)
    return FALSE;
  return after->startcode != before->startcode ||
         after->endcode != before->endcode ||
         after->startstack != before->startstack;
}

static void
update_task (WeftSchedProc    *self,
             const TaskSample *s,
             guint64           now_ns,
             gboolean          baseline,
             WeftSchedFunc     func,
             gpointer          user_data)
{
  Task *task = g_hash_table_lookup (self->tasks, GINT_TO_POINTER (s->tid));
  WeftSchedEvent comm = {
    .type = WEFT_SCHED_COMM,
    .pid = s->pid,
    .tid = s->tid,
    .time_ns = now_ns,
  };

  if (task != NULL && task->last.start_ticks != s->start_ticks)
    {
      emit_exit (task, now_ns, func, user_data);
      task = NULL;
    }
  if (task == NULL)
    {
      add_task (self, s, now_ns, baseline, func, user_data);
      return;
    }

  task->sample_gen = self->sample_gen;
  if (task->exited)
    return;
  if (!task->announced)
    emit_fork_and_comm (task, func, user_data);

  comm.sighted_ns = task->first_seen_ns;
  comm.exec = s->tid == s->pid && exec_between (&task->last, s);
  if (comm.exec || strcmp (s->comm, task->last.comm) != 0)
    {
      memcpy (comm.comm, s->comm, sizeof comm.comm);
      func (&comm, user_data);
    }

  if (s->oncpu_ns > task->last.oncpu_ns)
    emit_slice (self, task, s, s->oncpu_ns - task->last.oncpu_ns, now_ns, func, user_data);

  task->last = *s;
  if (s->state == 'Z' || s->state == 'X')
    emit_exit (task, now_ns, func, user_data);
}

/* Children of every thread of pid, from the kernel's children lists. */
static void
add_children (int      task_dirfd,
              gint32   tid,
              GQueue  *queue)
{
  char path[64];
  char buf[4096];
  char *p, *end;

  g_snprintf (path, sizeof path, "%d/children", tid);
  if (read_small (task_dirfd, path, buf, sizeof buf) <= 0)
    return;
  for (p = buf; ; p = end)
    {
      guint64 child = g_ascii_strtoull (p, &end, 10);

      if (end == p)
        break;
      g_queue_push_tail (queue, GINT_TO_POINTER ((gint32) child));
    }
}

/* Without children files: pid -> its child pids, from every /proc/PID/stat. */
static GHashTable *
scan_parents (void)
{
  GHashTable *children = g_hash_table_new_full (NULL, NULL, NULL,
                                                (GDestroyNotify) g_array_unref);
  DIR *dir = opendir ("/proc");
  struct dirent *entry;

  if (dir == NULL)
    return children;
  while ((entry = readdir (dir)) != NULL)
    {
      char path[64];
      char buf[1024];
      TaskSample s;
      guint64 ticks;
      GArray *list;
      gint32 pid;

      if (!g_ascii_isdigit (entry->d_name[0]))
        continue;
      pid = atoi (entry->d_name);
      g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
      if (read_small (AT_FDCWD, path, buf, sizeof buf) <= 0 || !parse_stat (buf, &s, &ticks))
        continue;
      list = g_hash_table_lookup (children, GINT_TO_POINTER (s.ppid));
      if (list == NULL)
        {
          list = g_array_new (FALSE, FALSE, sizeof (gint32));
          g_hash_table_insert (children, GINT_TO_POINTER (s.ppid), list);
        }
      g_array_append_val (list, pid);
    }
  closedir (dir);
  return children;
}

/* Samples every thread of pid; queues its child processes. */
static void
sample_process (WeftSchedProc *self,
                gint32         pid,
                GQueue        *queue,
                GHashTable    *parents,
                guint64        now_ns,
                gboolean       baseline,
                WeftSchedFunc  func,
                gpointer       user_data)
{
  char path[64];
  int task_dirfd;
  DIR *dir;
  struct dirent *entry;

  g_snprintf (path, sizeof path, "/proc/%d/task", pid);
  task_dirfd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (task_dirfd < 0)
    return;
  dir = fdopendir (dup (task_dirfd));
  if (dir == NULL)
    {
      close (task_dirfd);
      return;
    }

  g_hash_table_insert (self->procs, GINT_TO_POINTER (pid), NULL);
  while ((entry = readdir (dir)) != NULL)
    {
      TaskSample s;
      gint32 tid;

      if (!g_ascii_isdigit (entry->d_name[0]))
        continue;
      tid = atoi (entry->d_name);
      if (!read_task (self, task_dirfd, pid, tid, &s))
        continue;
      update_task (self, &s, now_ns, baseline, func, user_data);
      if (tid == pid)
        g_hash_table_insert (self->procs, GINT_TO_POINTER (pid),
                             GSIZE_TO_POINTER ((gsize) s.start_ticks));
      if (parents == NULL)
        add_children (task_dirfd, tid, queue);
    }
  closedir (dir);
  close (task_dirfd);

  if (parents != NULL)
    {
      GArray *list = g_hash_table_lookup (parents, GINT_TO_POINTER (pid));

      for (guint i = 0; list != NULL && i < list->len; i++)
        g_queue_push_tail (queue, GINT_TO_POINTER (g_array_index (list, gint32, i)));
    }
}

/* Whether pid still names the process followed under it before (known:
 * see WeftSchedProc.procs; a pid not in it is new to us). Once that
 * process is reaped, the kernel may give its pid to one outside the traced
 * tree; one inside is found again as its parent's child. */
static gboolean
same_process (GHashTable *known,
              gint32      pid)
{
  gsize start_ticks = GPOINTER_TO_SIZE (g_hash_table_lookup (known, GINT_TO_POINTER (pid)));
  char path[64];
  char buf[1024];
  TaskSample s;
  guint64 ticks;

  if (start_ticks == 0)
    return TRUE;
  g_snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  return read_small (AT_FDCWD, path, buf, sizeof buf) > 0 && parse_stat (buf, &s, &ticks)
         && (gsize) s.start_ticks == start_ticks;
}

/* Samples each process of queue and every process under it, once. */
static void
follow_tree (WeftSchedProc *self,
             GQueue        *queue,
             GHashTable    *visited,
             GHashTable    *parents,
             guint64        now_ns,
             gboolean       baseline,
             WeftSchedFunc  func,
             gpointer       user_data)
{
  while (!g_queue_is_empty (queue))
    {
      gpointer pid = g_queue_pop_head (queue);

      if (g_hash_table_add (visited, pid))
        sample_process (self, GPOINTER_TO_INT (pid), queue, parents,
                        now_ns, baseline, func, user_data);
    }
}

static void
sample (WeftSchedProc *self,
        guint64        now_ns,
        gboolean       baseline,
        WeftSchedFunc  func,
        gpointer       user_data)
{
  g_autoptr(GHashTable) visited = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) parents = self->use_children ? NULL : scan_parents ();
  g_autoptr(GHashTable) known = self->procs;
  GQueue queue = G_QUEUE_INIT;
  GHashTableIter iter;
  gpointer key, value;

  self->sample_gen++;
  self->procs = g_hash_table_new (NULL, NULL);
  /* The root's tree, then the processes followed before that are not in it
   * any more (orphans, reparented to init). */
  if (same_process (known, self->pid))
    g_queue_push_tail (&queue, GINT_TO_POINTER (self->pid));
  follow_tree (self, &queue, visited, parents, now_ns, baseline, func, user_data);
  g_hash_table_iter_init (&iter, known);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (visited, key) && same_process (known, GPOINTER_TO_INT (key)))
      {
        g_queue_push_tail (&queue, key);
        follow_tree (self, &queue, visited, parents, now_ns, baseline, func, user_data);
      }

  /* Threads no longer there exited since the last sample. */
  g_hash_table_iter_init (&iter, self->tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Task *task = value;

      if (task->sample_gen == self->sample_gen)
        continue;
      emit_exit (task, now_ns, func, user_data);
      g_hash_table_iter_remove (&iter);
    }

  self->last_sample_ns = now_ns;
}

static void
weft_sched_proc_poll (WeftSched     *sched,
                      WeftSchedFunc  func,
                      gpointer       user_data)
{
  WeftSchedProc *self = (WeftSchedProc *) sched;
  guint64 now_ns = weft_sched_now_ns ();

  if (now_ns - self->last_sample_ns < sched->period_ns)
    return;
  sample (self, now_ns, FALSE, func, user_data);
}

static void
weft_sched_proc_finish (WeftSched     *sched,
                        guint64        end_ns,
                        WeftSchedFunc  func,
                        gpointer       user_data)
{
  WeftSchedProc *self = (WeftSchedProc *) sched;
  guint64 now_ns = weft_sched_now_ns ();

  /* The last sample is stamped end_ns, kept between the previous sample and
   * now so slices stay ordered and in the past. Proc slices are complete
   * when emitted: nothing is left open. */
  sample (self, CLAMP (end_ns, self->last_sample_ns, now_ns), FALSE, func, user_data);
}

static void
weft_sched_proc_free (WeftSched *sched)
{
  WeftSchedProc *self = (WeftSchedProc *) sched;

  g_hash_table_unref (self->tasks);
  g_hash_table_unref (self->procs);
  g_free (self);
}

/* Walks up from pid through the parents /proc names: what this source
 * followed at its last sample and still is that process covers pid. A child
 * born since then is found through its parent. */
static gboolean
weft_sched_proc_covers (WeftSched *sched,
                        pid_t      pid)
{
  WeftSchedProc *self = (WeftSchedProc *) sched;

  for (int depth = 0; pid > 1 && depth < 64; depth++)
    {
      char path[64];
      char buf[1024];
      TaskSample s;
      guint64 ticks;

      if (g_hash_table_contains (self->procs, GINT_TO_POINTER (pid)))
        return same_process (self->procs, pid);
      g_snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
      if (read_small (AT_FDCWD, path, buf, sizeof buf) <= 0 || !parse_stat (buf, &s, &ticks))
        return FALSE;
      pid = s.ppid;
    }
  return FALSE;
}

static const WeftSchedClass weft_sched_proc_class = {
  .name = "proc",
  .poll = weft_sched_proc_poll,
  .finish = weft_sched_proc_finish,
  .free = weft_sched_proc_free,
  .covers = weft_sched_proc_covers,
};

static void
ignore_event (const WeftSchedEvent *event,
              gpointer              user_data)
{
}

WeftSched *
weft_sched_new_proc (pid_t   pid,
                     guint64 period_ns)
{
  WeftSchedProc *self;
  char path[64];

  g_return_val_if_fail (pid > 0, NULL);
  g_return_val_if_fail (period_ns > 0, NULL);

  self = g_new0 (WeftSchedProc, 1);
  self->parent.klass = &weft_sched_proc_class;
  self->parent.period_ns = period_ns;
  self->pid = pid;
  self->ticks_per_s = MAX (1, sysconf (_SC_CLK_TCK));
  self->tasks = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->procs = g_hash_table_new (NULL, NULL);

  g_snprintf (path, sizeof path, "/proc/%d/task/%d/children", (int) getpid (), (int) getpid ());
  self->use_children = access (path, R_OK) == 0;

  /* Baseline: nothing is emitted; its tasks announce themselves at the first
   * poll, and their CPU time so far is not counted. */
  sample (self, weft_sched_now_ns (), TRUE, ignore_event, NULL);
  return &self->parent;
}
