/* weft-sched-perf.c — on-CPU slices from the kernel's context-switch records.
 *
 * One software event per online CPU, bound to the traced process and
 * inherited by everything it creates (an inherited event cannot be mapped with
 * cpu == -1, hence one per CPU). Each event has its own ring buffer; inherited
 * copies write into their parent's ring, so ring N holds every record written
 * while one of our tasks ran on CPU N.
 *
 * Reconstruction is a small state machine per (tid, cpu): "running since T"
 * or nothing.
 *   switch-in            -> running since the record's time
 *   switch-out           -> emit SLICE [since, time], preempted from the
 *                           record's SWITCH_OUT_PREEMPT flag; nothing
 *   COMM with exec       -> if nothing: running since the exec. The exec is
 *                           where enable_on_exec turned counting on, and the
 *                           exec'ing task is on CPU then, so it never gets a
 *                           switch-in of its own: its first slice starts at
 *                           its exec.
 *   EXIT                 -> emit SLICE [since, exit time]; nothing. The kernel
 *                           detaches the events before the dying task's last
 *                           switch-out, so that one is never recorded.
 * A thread migrates only while off CPU, so both ends of a slice are in the
 * same ring; but rings are read one after another, so the state is keyed by
 * (tid, cpu), not by tid alone. Sequences that fit none of the rules (a
 * switch-out with nothing running, after lost records) are counted as
 * anomalies and dropped; the LOST event already told the consumer about the
 * gap.
 *
 * Records of one poll are merged across rings by time before they are
 * processed, so a FORK usually comes before the new task's first slice.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>

#include "weft-sched-private.h"

/* Per CPU: 1 MiB of data, halved while the locked-memory limit refuses it.
 * An unprivileged user may lock perf_event_mlock_kb (516 KiB) per CPU for
 * perf rings, plus RLIMIT_MEMLOCK. */
#define RING_DATA_BYTES_MAX (1024u * 1024u)
#define RING_DATA_BYTES_MIN (32u * 1024u)

/* The trailer sample_id_all appends to every non-sample record, for our
 * sample_type TID | TIME | CPU. */
typedef struct
{
  guint32 pid;
  guint32 tid;
  guint64 time_ns;
  guint32 cpu;
  guint32 reserved;
} SampleId;

G_STATIC_ASSERT (sizeof (SampleId) == 24);

typedef struct
{
  gint32                       cpu;
  int                          fd;
  void                        *map;
  gsize                        map_bytes;
  struct perf_event_mmap_page *header;
  const guint8                *data;
  guint64                      data_bytes;  /* a power of two */
} Ring;

/* One kernel record, parsed. */
typedef struct
{
  guint64 time_ns;
  guint64 seq;       /* reading order, breaks ties in the merge */
  guint32 type;
  guint16 misc;
  gint32  cpu;       /* the ring it came from */
  gint32  pid;
  gint32  tid;
  gint32  ppid;
  gint32  ptid;
  guint64 lost;
  char    comm[16];
} Record;

/* A task on CPU since start_ns. key = cpu << 32 | tid, the hash key. */
typedef struct
{
  gint64  key;
  gint32  pid;
  gint32  tid;
  gint32  cpu;
  guint64 start_ns;
} Running;

typedef struct
{
  WeftSched   parent;
  pid_t       pid;
  GArray     *rings;     /* of Ring */
  GArray     *records;   /* of Record, reused by every poll */
  GHashTable *running;   /* &Running.key -> Running (owned) */
  GHashTable *leader_gone; /* pids whose main thread exited: an exec may be under way */
  guint8     *scratch;   /* a record that wraps around the ring end */
  guint64     seq;
} WeftSchedPerf;

static gint64
running_key (gint32 cpu,
             gint32 tid)
{
  return (gint64) (((guint64) (guint32) cpu << 32) | (guint32) tid);
}

static void
emit_slice (Running       *running,
            guint64        end_ns,
            gboolean       preempted,
            WeftSchedFunc  func,
            gpointer       user_data)
{
  WeftSchedEvent event = {
    .type = WEFT_SCHED_SLICE,
    .pid = running->pid,
    .tid = running->tid,
    .cpu = running->cpu,
    .preempted = preempted,
    .time_ns = running->start_ns,
    .start_ns = running->start_ns,
    .end_ns = MAX (end_ns, running->start_ns),
  };

  func (&event, user_data);
}

static void
start_running (WeftSchedPerf *self,
               const Record  *rec)
{
  Running *running = g_new0 (Running, 1);

  running->key = running_key (rec->cpu, rec->tid);
  running->pid = rec->pid;
  running->tid = rec->tid;
  running->cpu = rec->cpu;
  running->start_ns = rec->time_ns;
  g_hash_table_replace (self->running, &running->key, running);
}

static Running *
lookup_running (WeftSchedPerf *self,
                gint32         cpu,
                gint32         tid)
{
  gint64 key = running_key (cpu, tid);

  return g_hash_table_lookup (self->running, &key);
}

static void
stop_running (WeftSchedPerf *self,
              Running       *running)
{
  g_hash_table_remove (self->running, &running->key);
}

/* An exec by a thread other than the main one: the kernel ends the main
 * thread (its EXIT comes first) and gives the exec'ing thread the pid as its
 * tid, so its records from then on (switches, the COMM of the exec) carry
 * the pid, and its slice begun under its old tid would never end. A task of
 * this process running on this CPU under another tid is that thread: end its
 * slice here, and the thread itself (no EXIT ever comes for the old tid). */
static void
end_exec_thread (WeftSchedPerf *self,
                 const Record  *rec,
                 WeftSchedFunc  func,
                 gpointer       user_data)
{
  GHashTableIter iter;
  Running *running;

  if (rec->tid != rec->pid)
    return;
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &running))
    if (running->cpu == rec->cpu && running->pid == rec->pid && running->tid != rec->tid)
      {
        WeftSchedEvent event = {
          .type = WEFT_SCHED_EXIT,
          .pid = running->pid,
          .tid = running->tid,
          .time_ns = rec->time_ns,
        };

        emit_slice (running, rec->time_ns, FALSE, func, user_data);
        g_hash_table_iter_remove (&iter);
        func (&event, user_data);
      }
}

static void
process_switch (WeftSchedPerf *self,
                const Record  *rec,
                WeftSchedFunc  func,
                gpointer       user_data)
{
  Running *running = lookup_running (self, rec->cpu, rec->tid);

  /* The pid switching on a CPU where another thread of its process runs,
   * after its main thread exited: the exec'ing thread under its new tid. */
  if (running == NULL && rec->tid == rec->pid
      && g_hash_table_contains (self->leader_gone, GINT_TO_POINTER (rec->pid)))
    end_exec_thread (self, rec, func, user_data);

  if (rec->misc & PERF_RECORD_MISC_SWITCH_OUT)
    {
      if (running == NULL)
        {
          self->parent.anomalies++;
          return;
        }
      emit_slice (running, rec->time_ns,
                  (rec->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0,
                  func, user_data);
      stop_running (self, running);
      return;
    }

  /* Switched in while already running here: the switch-out was lost. */
  if (running != NULL)
    self->parent.anomalies++;
  start_running (self, rec);
}

static void
process_exit (WeftSchedPerf *self,
              const Record  *rec,
              WeftSchedFunc  func,
              gpointer       user_data)
{
  WeftSchedEvent event = {
    .type = WEFT_SCHED_EXIT,
    .pid = rec->pid,
    .tid = rec->tid,
    .ppid = rec->ppid,
    .ptid = rec->ptid,
    .time_ns = rec->time_ns,
  };
  Running *running = lookup_running (self, rec->cpu, rec->tid);

  if (rec->tid == rec->pid)
    g_hash_table_add (self->leader_gone, GINT_TO_POINTER (rec->pid));

  /* The exiting task can be preempted between the kernel detaching our
   * events and writing EXIT, and so write EXIT on another CPU. */
  if (running == NULL)
    {
      GHashTableIter iter;
      Running *candidate;

      g_hash_table_iter_init (&iter, self->running);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &candidate))
        if (candidate->tid == rec->tid)
          {
            running = candidate;
            break;
          }
    }

  if (running != NULL)
    {
      emit_slice (running, rec->time_ns, FALSE, func, user_data);
      stop_running (self, running);
    }
  func (&event, user_data);
}

static void
process_record (WeftSchedPerf *self,
                const Record  *rec,
                WeftSchedFunc  func,
                gpointer       user_data)
{
  WeftSchedEvent event = { 0 };

  switch (rec->type)
    {
    case PERF_RECORD_SWITCH:
      process_switch (self, rec, func, user_data);
      break;

    case PERF_RECORD_EXIT:
      process_exit (self, rec, func, user_data);
      break;

    case PERF_RECORD_FORK:
      /* A new process may have the pid of one whose main thread exited
       * (the kernel gives pids again): not an exec under way. */
      if (rec->pid != rec->ppid)
        g_hash_table_remove (self->leader_gone, GINT_TO_POINTER (rec->pid));
      event.type = WEFT_SCHED_FORK;
      event.pid = rec->pid;
      event.tid = rec->tid;
      event.ppid = rec->ppid;
      event.ptid = rec->ptid;
      event.time_ns = rec->time_ns;
      func (&event, user_data);
      break;

    case PERF_RECORD_COMM:
      event.type = WEFT_SCHED_COMM;
      event.pid = rec->pid;
      event.tid = rec->tid;
      event.exec = (rec->misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
      event.time_ns = rec->time_ns;
      memcpy (event.comm, rec->comm, sizeof event.comm);
      if (event.exec)
        {
          end_exec_thread (self, rec, func, user_data);
          g_hash_table_remove (self->leader_gone, GINT_TO_POINTER (rec->pid));
        }
      if (event.exec && lookup_running (self, rec->cpu, rec->tid) == NULL)
        start_running (self, rec);
      func (&event, user_data);
      break;

    case PERF_RECORD_LOST:
      event.type = WEFT_SCHED_LOST;
      event.cpu = rec->cpu;
      event.time_ns = rec->time_ns;
      event.lost = rec->lost;
      self->parent.lost += rec->lost;
      func (&event, user_data);
      break;

    default:
      break;
    }
}

/* Parses one complete record (contiguous at bytes) into self->records.
 * Returns FALSE for a record too short for its type. */
static gboolean
parse_record (WeftSchedPerf                   *self,
              const Ring                      *ring,
              const struct perf_event_header  *header,
              const guint8                    *bytes)
{
  const guint8 *body = bytes + sizeof *header;
  gsize body_bytes = header->size - sizeof *header;
  SampleId id;
  Record rec = { 0 };
  guint32 u32[4];

  switch (header->type)
    {
    case PERF_RECORD_SWITCH:
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT:
    case PERF_RECORD_COMM:
    case PERF_RECORD_LOST:
      break;
    default:
      return TRUE;
    }

  if (body_bytes < sizeof id)
    return FALSE;
  memcpy (&id, body + body_bytes - sizeof id, sizeof id);
  body_bytes -= sizeof id;

  rec.type = header->type;
  rec.misc = header->misc;
  rec.seq = self->seq++;
  rec.cpu = ring->cpu;
  rec.pid = (gint32) id.pid;
  rec.tid = (gint32) id.tid;
  rec.time_ns = id.time_ns;

  switch (header->type)
    {
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT:
      /* u32 pid, ppid, tid, ptid; u64 time */
      if (body_bytes < sizeof u32 + sizeof (guint64))
        return FALSE;
      memcpy (u32, body, sizeof u32);
      memcpy (&rec.time_ns, body + sizeof u32, sizeof (guint64));
      rec.pid = (gint32) u32[0];
      rec.ppid = (gint32) u32[1];
      rec.tid = (gint32) u32[2];
      rec.ptid = (gint32) u32[3];
      break;

    case PERF_RECORD_COMM:
      /* u32 pid, tid; char comm[] padded to 8 bytes */
      if (body_bytes < 2 * sizeof (guint32))
        return FALSE;
      memcpy (u32, body, 2 * sizeof (guint32));
      rec.pid = (gint32) u32[0];
      rec.tid = (gint32) u32[1];
      memcpy (rec.comm, body + 2 * sizeof (guint32),
              MIN (sizeof rec.comm - 1, body_bytes - 2 * sizeof (guint32)));
      break;

    case PERF_RECORD_LOST:
      /* u64 id, lost */
      if (body_bytes < 2 * sizeof (guint64))
        return FALSE;
      memcpy (&rec.lost, body + sizeof (guint64), sizeof (guint64));
      break;

    default:
      break;
    }

  g_array_append_val (self->records, rec);
  return TRUE;
}

/* Copies every complete record of ring into self->records and hands the
 * space back to the kernel. */
static void
read_ring (WeftSchedPerf *self,
           Ring          *ring)
{
  guint64 head = __atomic_load_n (&ring->header->data_head, __ATOMIC_ACQUIRE);
  guint64 tail = ring->header->data_tail;
  guint64 mask = ring->data_bytes - 1;

  while (tail < head)
    {
      struct perf_event_header header;
      guint64 offset = tail & mask;
      const guint8 *bytes;

      /* Records are 8-byte aligned and sized, so a header never wraps. */
      memcpy (&header, ring->data + offset, sizeof header);
      if (header.size < sizeof header || header.size > head - tail)
        {
          /* Corrupt: skip what we have rather than loop forever. */
          self->parent.anomalies++;
          tail = head;
          break;
        }

      if (offset + header.size <= ring->data_bytes)
        bytes = ring->data + offset;
      else
        {
          gsize first = ring->data_bytes - offset;

          memcpy (self->scratch, ring->data + offset, first);
          memcpy (self->scratch + first, ring->data, header.size - first);
          bytes = self->scratch;
        }

      if (!parse_record (self, ring, &header, bytes))
        self->parent.anomalies++;
      tail += header.size;
    }

  __atomic_store_n (&ring->header->data_tail, tail, __ATOMIC_RELEASE);
}

static gint
compare_records (gconstpointer a,
                 gconstpointer b)
{
  const Record *ra = a;
  const Record *rb = b;

  if (ra->time_ns != rb->time_ns)
    return ra->time_ns < rb->time_ns ? -1 : 1;
  return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

static void
weft_sched_perf_poll (WeftSched     *sched,
                      WeftSchedFunc  func,
                      gpointer       user_data)
{
  WeftSchedPerf *self = (WeftSchedPerf *) sched;

  g_array_set_size (self->records, 0);
  for (guint i = 0; i < self->rings->len; i++)
    read_ring (self, &g_array_index (self->rings, Ring, i));
  if (self->records->len == 0)
    return;

  g_array_sort (self->records, compare_records);
  for (guint i = 0; i < self->records->len; i++)
    process_record (self, &g_array_index (self->records, Record, i),
                    func, user_data);
}

static gint
compare_running_start (gconstpointer a,
                       gconstpointer b)
{
  const Running *ra = *(Running * const *) a;
  const Running *rb = *(Running * const *) b;

  if (ra->start_ns != rb->start_ns)
    return ra->start_ns < rb->start_ns ? -1 : 1;
  return 0;
}

static void
weft_sched_perf_finish (WeftSched     *sched,
                        guint64        end_ns,
                        WeftSchedFunc  func,
                        gpointer       user_data)
{
  WeftSchedPerf *self = (WeftSchedPerf *) sched;
  g_autoptr(GPtrArray) open = NULL;
  GHashTableIter iter;
  gpointer value;

  /* Stop the kernel writing while we read the rest. */
  for (guint i = 0; i < self->rings->len; i++)
    ioctl (g_array_index (self->rings, Ring, i).fd, PERF_EVENT_IOC_DISABLE, 0);

  weft_sched_perf_poll (sched, func, user_data);

  /* (g_hash_table_get_values_as_ptr_array is GLib 2.76) */
  open = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (open, value);
  g_ptr_array_sort (open, compare_running_start);
  for (guint i = 0; i < open->len; i++)
    emit_slice (open->pdata[i], end_ns, FALSE, func, user_data);
  g_hash_table_remove_all (self->running);
}

static void
close_ring (Ring *ring)
{
  if (ring->map != NULL && ring->map != MAP_FAILED)
    munmap (ring->map, ring->map_bytes);
  ring->map = NULL;
  ring->header = NULL;
  ring->data = NULL;
}

static void
weft_sched_perf_free (WeftSched *sched)
{
  WeftSchedPerf *self = (WeftSchedPerf *) sched;

  for (guint i = 0; i < self->rings->len; i++)
    {
      Ring *ring = &g_array_index (self->rings, Ring, i);

      close_ring (ring);
      if (ring->fd >= 0)
        close (ring->fd);
    }
  g_array_unref (self->rings);
  g_array_unref (self->records);
  g_hash_table_unref (self->running);
  g_hash_table_unref (self->leader_gone);
  g_free (self->scratch);
  g_free (self);
}

static void
weft_sched_perf_add_poll_fds (WeftSched *sched,
                              GArray    *pollfds)
{
  WeftSchedPerf *self = (WeftSchedPerf *) sched;

  for (guint i = 0; i < self->rings->len; i++)
    {
      struct pollfd pfd = { g_array_index (self->rings, Ring, i).fd, POLLIN, 0 };

      g_array_append_val (pollfds, pfd);
    }
}

static const WeftSchedClass weft_sched_perf_class = {
  .name = "perf",
  .poll = weft_sched_perf_poll,
  .finish = weft_sched_perf_finish,
  .free = weft_sched_perf_free,
  .add_poll_fds = weft_sched_perf_add_poll_fds,
};

static void
init_attr (struct perf_event_attr *attr)
{
  memset (attr, 0, sizeof *attr);
  attr->size = sizeof *attr;
  attr->type = PERF_TYPE_SOFTWARE;
  /* Counts nothing; we only want its side-band records. */
  attr->config = PERF_COUNT_SW_DUMMY;
  attr->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
  attr->disabled = 1;
  attr->enable_on_exec = 1;
  attr->inherit = 1;
  attr->context_switch = 1;
  attr->task = 1;
  attr->comm = 1;
  attr->comm_exec = 1;
  attr->sample_id_all = 1;
  attr->use_clockid = 1;
  attr->clockid = CLOCK_MONOTONIC;
  /* Wake a poller once a ring holds this much (it is at least 32 KiB): a
   * burst of thousands of threads waking at once fills a ring between two
   * timer ticks of the drain loop. */
  attr->watermark = 1;
  attr->wakeup_watermark = RING_DATA_BYTES_MIN / 2;
  /* At perf_event_paranoid >= 2 an unprivileged user may only open events
   * that exclude the kernel; this does not filter side-band records (the
   * switch records still come, with times taken in the kernel). */
  attr->exclude_kernel = 1;
  attr->exclude_hv = 1;
}

static int
read_paranoid (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/sys/kernel/perf_event_paranoid", &text, NULL, NULL))
    return G_MININT;
  return atoi (text);
}

static void
set_open_error (int      errsv,
                gint32   cpu,
                pid_t    pid,
                GError **error)
{
  switch (errsv)
    {
    case EACCES:
    case EPERM:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "perf events are not allowed here "
                   "(/proc/sys/kernel/perf_event_paranoid is %d, or a container "
                   "or seccomp policy forbids perf_event_open): %s",
                   read_paranoid (), g_strerror (errsv));
      break;

    case ENOENT:
    case ENODEV:
    case ENOSYS:
    case EOPNOTSUPP:
    case EINVAL:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "this kernel does not support context-switch records "
                   "(perf_event_open on CPU %d: %s)", cpu, g_strerror (errsv));
      break;

    case ESRCH:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "cannot follow process %d: %s", (int) pid, g_strerror (errsv));
      break;

    default:
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "perf_event_open on CPU %d failed: %s", cpu, g_strerror (errsv));
      break;
    }
}

static gboolean
open_events (WeftSchedPerf  *self,
             GError        **error)
{
  g_autoptr(GArray) cpus = weft_sched_online_cpus ();
  struct perf_event_attr attr;

  init_attr (&attr);
  for (guint i = 0; i < cpus->len; i++)
    {
      Ring ring = { .cpu = g_array_index (cpus, gint32, i), .fd = -1 };

      ring.fd = (int) syscall (SYS_perf_event_open, &attr, self->pid, ring.cpu,
                               -1, PERF_FLAG_FD_CLOEXEC);
      if (ring.fd < 0)
        {
          set_open_error (errno, ring.cpu, self->pid, error);
          return FALSE;
        }
      g_array_append_val (self->rings, ring);
    }
  return TRUE;
}

static gboolean
map_ring (Ring    *ring,
          guint64  data_bytes,
          int     *errsv)
{
  gsize page_bytes = (gsize) sysconf (_SC_PAGESIZE);

  ring->map_bytes = page_bytes + data_bytes;
  ring->map = mmap (NULL, ring->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                    ring->fd, 0);
  if (ring->map == MAP_FAILED)
    {
      *errsv = errno;
      ring->map = NULL;
      return FALSE;
    }

  ring->header = ring->map;
  if (ring->header->data_size != 0)
    {
      ring->data = (const guint8 *) ring->map + ring->header->data_offset;
      ring->data_bytes = ring->header->data_size;
    }
  else
    {
      ring->data = (const guint8 *) ring->map + page_bytes;
      ring->data_bytes = data_bytes;
    }
  return TRUE;
}

/* Maps every ring at the same size, halving it while the locked-memory limit
 * says no. */
static gboolean
map_rings (WeftSchedPerf  *self,
           guint64         ring_data_bytes,
           GError        **error)
{
  guint64 min_bytes = MIN (ring_data_bytes, RING_DATA_BYTES_MIN);
  int errsv = 0;

  for (guint64 data_bytes = ring_data_bytes;
       data_bytes >= min_bytes;
       data_bytes /= 2)
    {
      guint mapped = 0;

      while (mapped < self->rings->len &&
             map_ring (&g_array_index (self->rings, Ring, mapped), data_bytes, &errsv))
        mapped++;
      if (mapped == self->rings->len)
        return TRUE;

      for (guint i = 0; i < mapped; i++)
        close_ring (&g_array_index (self->rings, Ring, i));
      if (errsv != EPERM && errsv != ENOMEM)
        break;
    }

  if (errsv == EPERM)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "perf events are not allowed here: their ring buffers exceed "
                 "this user's locked-memory limit "
                 "(/proc/sys/kernel/perf_event_mlock_kb, ulimit -l): %s",
                 g_strerror (errsv));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 "cannot map the perf ring buffer: %s", g_strerror (errsv));
  return FALSE;
}

WeftSched *
weft_sched_new_perf (pid_t    pid,
                     GError **error)
{
  return weft_sched_new_perf_sized (pid, RING_DATA_BYTES_MAX, error);
}

WeftSched *
weft_sched_new_perf_sized (pid_t     pid,
                           guint64   ring_data_bytes,
                           GError  **error)
{
  WeftSchedPerf *self;

  g_return_val_if_fail (pid > 0, NULL);
  g_return_val_if_fail (ring_data_bytes >= (guint64) sysconf (_SC_PAGESIZE), NULL);
  g_return_val_if_fail ((ring_data_bytes & (ring_data_bytes - 1)) == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (WeftSchedPerf, 1);
  self->parent.klass = &weft_sched_perf_class;
  self->pid = pid;
  self->rings = g_array_new (FALSE, TRUE, sizeof (Ring));
  self->records = g_array_new (FALSE, FALSE, sizeof (Record));
  self->running = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  self->leader_gone = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->scratch = g_malloc (G_MAXUINT16 + 1);

  if (!open_events (self, error) || !map_rings (self, ring_data_bytes, error))
    {
      weft_sched_perf_free (&self->parent);
      return NULL;
    }
  return &self->parent;
}
