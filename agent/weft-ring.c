/* weft-ring.c — chunks, thread slots, ring writes and per-object counters.
 *
 * Everything on an event path here is async-signal-safe: atomics,
 * clock_gettime, gettid and stores into the mapped chunk files. Chunk creation
 * (open/ftruncate/mmap) happens only when a thread attaches.
 */
#include "weft-agent-private.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

__thread WeftThread weft_thread __attribute__ ((tls_model ("initial-exec")));

/* weft_now_ns:
 * CLOCK_MONOTONIC in nanoseconds (the clock perf uses). vDSO, no syscall. */
uint64_t
weft_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* weft_cpu_ns:
 * CPU time of the whole process so far (CLOCK_PROCESS_CPUTIME_ID), 0 if the
 * clock is unavailable. */
uint64_t
weft_cpu_ns (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
    return 0;
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* weft_timespec_ns:
 * A timespec as nanoseconds; negative fields count as 0. */
uint64_t
weft_timespec_ns (const struct timespec *ts)
{
  if (ts == NULL || ts->tv_sec < 0 || ts->tv_nsec < 0)
    return 0;
  return (uint64_t) ts->tv_sec * 1000000000u + (uint64_t) ts->tv_nsec;
}

/* weft_strlcpy:
 * Copies at most dst_bytes-1 bytes of src and always NUL-terminates (when
 * dst_bytes > 0). Returns the bytes copied. Async-signal-safe. */
size_t
weft_strlcpy (char       *dst,
              const char *src,
              size_t      dst_bytes)
{
  size_t i = 0;

  if (dst_bytes == 0)
    return 0;
  for (; src != NULL && src[i] != '\0' && i + 1 < dst_bytes; i++)
    dst[i] = src[i];
  dst[i] = '\0';
  return i;
}

/* weft_utoa:
 * Writes v in decimal at p (no NUL) and returns the end. Async-signal-safe,
 * unlike snprintf. */
char *
weft_utoa (char     *p,
           uint64_t  v)
{
  char tmp[24];
  size_t n = 0;

  do
    {
      tmp[n++] = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

/* weft_count_lost:
 * An event with nowhere to go (no slot, no chunk): counted process-wide in
 * chunk 0. */
void
weft_count_lost (void)
{
  WeftWireChunk *c0 = atomic_load_explicit (&weft_agent.chunks[0], memory_order_acquire);

  if (c0 != NULL)
    atomic_fetch_add_explicit (&c0->lost_events, 1, memory_order_relaxed);
}

static bool
collector_gone (void)
{
  pid_t pid = weft_agent.session.collector_pid;

  return pid > 0 && kill (pid, 0) != 0 && errno == ESRCH;
}

/* weft_chunk_create:
 * Creates, sizes and maps chunk `seq` of the current image and publishes it
 * in weft_agent.chunks. The caller holds weft_agent.creating (or is the only
 * thread: init, fork child). Returns false on any failure, leaving no file. */
bool
weft_chunk_create (uint32_t seq)
{
  char path[sizeof weft_agent.dir + 96];
  char *p;
  size_t dir_len;
  int fd;
  void *map;
  WeftWireChunk *c;

  if (seq >= WEFT_MAX_CHUNKS || (seq > 0 && collector_gone ()))
    return false;

  dir_len = weft_strlcpy (path, weft_agent.dir, sizeof weft_agent.dir);
  p = path + dir_len;
  *p++ = '/';
  *p++ = 'p';
  p = weft_utoa (p, (uint64_t) weft_agent.pid);
  *p++ = '-';
  p = weft_utoa (p, weft_agent.image_start_ns);
  *p++ = '-';
  p = weft_utoa (p, seq);
  memcpy (p, ".chunk", sizeof ".chunk");

  fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  /* The umask cannot widen 0600, but a hostile umask of 0 with an odd
   * filesystem default could; fchmod pins it. */
  if (fchmod (fd, 0600) != 0 || ftruncate (fd, (off_t) weft_agent.chunk_bytes) != 0)
    goto fail;
  map = mmap (NULL, weft_agent.chunk_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED)
    goto fail;
  close (fd);

  c = map;
  c->version = WEFT_WIRE_VERSION;
  c->header_bytes = WEFT_WIRE_PAGE_BYTES;
  c->slot_count = weft_agent.session.slot_count;
  c->slot_bytes = (uint32_t) sizeof (WeftWireSlot) + weft_agent.session.ring_bytes;
  c->ring_bytes = weft_agent.session.ring_bytes;
  c->chunk_seq = seq;
  c->pid = weft_agent.pid;
  c->ppid = getppid ();
  c->image_start_ns = weft_agent.image_start_ns;
  atomic_store_explicit (&c->state, WEFT_CHUNK_ALIVE, memory_order_relaxed);
  c->cmdline_bytes = weft_agent.cmdline_bytes;
  memcpy (c->exe, weft_agent.exe, sizeof c->exe);
  memcpy (c->cmdline, weft_agent.cmdline, sizeof c->cmdline);
  /* The magic goes last: a collector that sees it sees a whole header. */
  atomic_thread_fence (memory_order_release);
  ((volatile WeftWireChunk *) c)->magic = WEFT_WIRE_CHUNK_MAGIC;

  atomic_store_explicit (&weft_agent.chunks[seq], c, memory_order_release);
  atomic_store_explicit (&weft_agent.n_chunks, seq + 1, memory_order_release);
  return true;

fail:
  unlink (path);
  close (fd);
  return false;
}

static WeftWireSlot *
slot_at (WeftWireChunk *c,
         uint32_t       i)
{
  return (WeftWireSlot *) ((uint8_t *) c + weft_wire_slot_offset (c->header_bytes, c->slot_bytes, i));
}

/* Scans the known chunks for a FREE slot and claims it (FREE → CLAIMING by
 * CAS, so no other thread or collector looks at it while we reset it). */
static WeftWireSlot *
slot_claim_scan (void)
{
  uint32_t n = atomic_load_explicit (&weft_agent.n_chunks, memory_order_acquire);

  for (uint32_t ci = 0; ci < n; ci++)
    {
      WeftWireChunk *c = atomic_load_explicit (&weft_agent.chunks[ci], memory_order_acquire);

      for (uint32_t i = 0; c != NULL && i < c->slot_count; i++)
        {
          WeftWireSlot *s = slot_at (c, i);
          uint32_t expected = WEFT_SLOT_FREE;

          if (atomic_load_explicit (&s->state, memory_order_relaxed) == WEFT_SLOT_FREE &&
              atomic_compare_exchange_strong_explicit (&s->state, &expected, WEFT_SLOT_CLAIMING,
                                                       memory_order_acquire,
                                                       memory_order_relaxed))
            return s;
        }
    }
  return NULL;
}

/* Claims a slot, creating the next chunk when all are taken. Only one thread
 * creates at a time (atomic flag, never waited on while held); a thread that
 * loses that race gets NULL unless may_wait, in which case it yields a
 * bounded number of times for the winner to finish (never from a context
 * that may be a signal handler: the winner could be the interrupted code). */
static WeftWireSlot *
slot_claim (bool may_wait)
{
  for (unsigned attempt = 0; attempt < 1000; attempt++)
    {
      WeftWireSlot *s = slot_claim_scan ();
      uint32_t n;

      if (s != NULL)
        return s;
      n = atomic_load_explicit (&weft_agent.n_chunks, memory_order_acquire);
      if (n >= WEFT_MAX_CHUNKS)
        return NULL;
      if (!atomic_flag_test_and_set_explicit (&weft_agent.creating, memory_order_acquire))
        {
          bool ok = true;

          /* Someone may have created it between our scan and the flag. */
          if (atomic_load_explicit (&weft_agent.n_chunks, memory_order_acquire) == n)
            ok = weft_chunk_create (n);
          atomic_flag_clear_explicit (&weft_agent.creating, memory_order_release);
          if (!ok)
            return NULL;
          continue;
        }
      if (!may_wait)
        return NULL;
      sched_yield ();
    }
  return NULL;
}

/* weft_thread_attach:
 * Gives the calling thread a slot and writes THREAD_START. Returns false
 * (the thread then records nothing, its events count as lost) when the agent
 * is inactive, the thread already ended, or no slot could be had. Call with
 * t->busy clear; sets and clears it. */
bool
weft_thread_attach (WeftThread *t,
                    int32_t     creator_tid,
                    bool        may_wait)
{
  WeftWireSlot *s;
  WeftRecThread *r;

  if (!weft_agent.active || t->ended || t->slot != NULL)
    return t->slot != NULL;

  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  s = slot_claim (may_wait);
  if (s == NULL)
    {
      weft_count_lost ();
      t->busy = 0;
      return false;
    }

  t->tid = gettid ();
  atomic_store_explicit (&s->head, 0, memory_order_relaxed);
  atomic_store_explicit (&s->tail, 0, memory_order_relaxed);
  atomic_store_explicit (&s->lost_events, 0, memory_order_relaxed);
  memset (s->counters, 0, sizeof s->counters);
  s->tid = t->tid;
  atomic_fetch_add_explicit (&s->generation, 1, memory_order_relaxed);
  atomic_store_explicit (&s->state, WEFT_SLOT_OWNED, memory_order_release);

  t->last_addr = 0;
  t->hold_obj = 0;
  t->hold_countdown = WEFT_HOLD_SAMPLE_EVERY;
  t->ring = (uint8_t *) s + sizeof (WeftWireSlot);
  WEFT_SIGNAL_FENCE ();
  t->slot = s;

  r = weft_ring_reserve (t, WEFT_REC_THREAD_START, sizeof *r);
  if (r != NULL)
    {
      r->time_ns = weft_now_ns ();
      r->pthread = (uint64_t) pthread_self ();
      r->creator_tid = creator_tid;
      r->reserved = 0;
      memset (r->name, 0, sizeof r->name);
      weft_ring_commit (t, r);
    }
  WEFT_SIGNAL_FENCE ();
  t->busy = 0;
  return true;
}

/* weft_thread_retire:
 * Hands the calling thread's slot to the collector (RETIRED, release) and
 * forgets it. Nothing is written. */
void
weft_thread_retire (WeftThread *t)
{
  WeftWireSlot *s = t->slot;

  if (s == NULL)
    return;
  t->slot = NULL;
  WEFT_SIGNAL_FENCE ();
  t->last_addr = 0;
  t->hold_obj = 0;
  atomic_store_explicit (&s->state, WEFT_SLOT_RETIRED, memory_order_release);
}

/* weft_thread_end:
 * Writes THREAD_END (with the thread's comm) and retires the slot. The thread
 * records nothing afterwards. Idempotent; safe from a pthread cleanup handler
 * or a TLS key destructor. */
void
weft_thread_end (WeftThread *t)
{
  WeftRecThread *r;

  if (t->ended)
    return;
  t->ended = 1;
  if (t->slot == NULL || t->busy || gettid () != t->tid)
    return;

  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  r = weft_ring_reserve (t, WEFT_REC_THREAD_END, sizeof *r);
  if (r != NULL)
    {
      r->time_ns = weft_now_ns ();
      r->pthread = (uint64_t) pthread_self ();
      r->creator_tid = 0;
      r->reserved = 0;
      memset (r->name, 0, sizeof r->name);
      prctl (PR_GET_NAME, r->name);
      r->name[sizeof r->name - 1] = '\0';
      weft_ring_commit (t, r);
    }
  weft_thread_retire (t);
  WEFT_SIGNAL_FENCE ();
  t->busy = 0;
}

/* weft_thread_tracing:
 * Whether the calling thread should write a record now: the agent is active,
 * the thread has (or lazily gets) a slot, it is not already inside the agent,
 * and it is not a foreign context (a vfork child or a raw clone sharing our
 * TLS: its gettid() differs from the tid cached at slot claim). Costs one
 * gettid syscall; only used on slow paths. */
bool
weft_thread_tracing (WeftThread *t)
{
  if (!weft_agent.active || t->busy)
    return false;
  if (t->slot == NULL)
    {
      /* A thread we did not start (created before us, or by libc
       * internally): attach lazily, but back off after a failure so that a
       * full process does not rescan every slot on every event. */
      if (t->ended || (t->attach_tick++ & 1023) != 0)
        return false;
      /* A vfork child shares this TLS with its parent: never claim for it. */
      if (getpid () != weft_agent.pid)
        return false;
      if (!weft_thread_attach (t, 0, false))
        return false;
      if (weft_agent.end_key_ok)
        pthread_setspecific (weft_agent.end_key, (void *) 1);
      return true;
    }
  return gettid () == t->tid;
}

/* weft_ring_reserve:
 * Room for one record of `size` bytes (a multiple of 8) in the calling
 * thread's ring, header filled; NULL when the ring is full (counted in the
 * slot's lost_events). Caller holds t->busy and commits with
 * weft_ring_commit(). A PAD record fills the end of the ring when the record
 * would not fit there. */
void *
weft_ring_reserve (WeftThread *t,
                   uint16_t    type,
                   uint32_t    size)
{
  WeftWireSlot *s = t->slot;
  uint64_t ring_bytes = weft_agent.session.ring_bytes;
  uint64_t head, tail, off, left, need;
  WeftRecHeader *h;

  if (s == NULL)
    {
      weft_count_lost ();
      return NULL;
    }
  head = atomic_load_explicit (&s->head, memory_order_relaxed);
  tail = atomic_load_explicit (&s->tail, memory_order_acquire);
  off = head & weft_agent.ring_mask;
  left = ring_bytes - off;
  need = left < size ? left + size : size;
  if (ring_bytes - (head - tail) < need)
    {
      atomic_fetch_add_explicit (&s->lost_events, 1, memory_order_relaxed);
      return NULL;
    }
  if (left < size)
    {
      if (left >= sizeof (WeftRecHeader))
        {
          h = (WeftRecHeader *) (t->ring + off);
          h->type = WEFT_REC_PAD;
          h->size = (uint16_t) left;
          h->tid = t->tid;
        }
      /* Publish the pad now; the record's commit adds its own size. */
      head += left;
      off = 0;
      atomic_store_explicit (&s->head, head, memory_order_release);
    }
  t->tx_slot = s;
  h = (WeftRecHeader *) (t->ring + off);
  h->type = type;
  h->size = (uint16_t) size;
  h->tid = t->tid;
  return h;
}

/* weft_ring_commit:
 * Publishes the record reserved last (release), making it visible to the
 * collector. Uses the slot of the reservation, not t->slot: a fork from a
 * signal handler that interrupted us may have swapped t->slot meanwhile. */
void
weft_ring_commit (WeftThread *t,
                  void       *record)
{
  WeftWireSlot *s = t->tx_slot;
  WeftRecHeader *h = record;
  uint64_t head = atomic_load_explicit (&s->head, memory_order_relaxed);

  atomic_store_explicit (&s->head, head + h->size, memory_order_release);
}

static inline uint32_t
counter_hash (uintptr_t addr)
{
  uint32_t h = (uint32_t) (((uint64_t) addr * UINT64_C (0x9E3779B97F4A7C15)) >> 58);

  /* 0..63, but entry 63 is the overflow entry. */
  return h == WEFT_WIRE_COUNTERS - 1 ? 0 : h;
}

/* weft_counter_lookup:
 * The counter entry of `addr` in the calling thread's slot, inserted if new
 * (open addressing, a few probes, then the shared overflow entry). Fills the
 * one-entry cache. Caller checked t->slot. Async-signal-safe: a handler that
 * interrupts an insert at worst sees an entry whose kind is not set yet. */
WeftWireCounter *
weft_counter_lookup (WeftThread *t,
                     uintptr_t   addr,
                     uint32_t    kind)
{
  WeftWireCounter *tab = t->slot->counters;
  WeftWireCounter *c = NULL;
  uint32_t i = counter_hash (addr);

  for (uint32_t probe = 0; probe < WEFT_COUNTER_PROBES; probe++)
    {
      if (tab[i].address == addr)
        {
          c = &tab[i];
          break;
        }
      if (tab[i].address == 0)
        {
          c = &tab[i];
          c->kind = kind;
          WEFT_SIGNAL_FENCE ();
          c->address = addr;
          break;
        }
      if (++i == WEFT_WIRE_COUNTERS - 1)
        i = 0;
    }
  if (c == NULL)
    {
      c = &tab[WEFT_WIRE_COUNTERS - 1];
      if (c->address != UINT64_MAX)
        {
          c->kind = kind;
          c->address = UINT64_MAX;
        }
    }

  t->last_addr = 0;
  WEFT_SIGNAL_FENCE ();
  t->last_counter = c;
  WEFT_SIGNAL_FENCE ();
  t->last_addr = addr;
  return c;
}

/* weft_hold_end:
 * Ends the timed hold (the caller saw t->hold_obj == the released object). */
void
weft_hold_end (WeftThread *t)
{
  WeftWireCounter *c = t->hold_counter;
  uint64_t held_ns;

  t->hold_obj = 0;
  WEFT_SIGNAL_FENCE ();
  held_ns = weft_now_ns () - t->hold_start_ns;
  c->hold_ns += held_ns;
  c->hold_samples++;
  if (held_ns > c->hold_max_ns)
    c->hold_max_ns = held_ns;
}

/* weft_wait_begin:
 * Starts a recorded wait: decides whether to record at all (w->on), takes
 * the start time and the caller's stack. Preserves errno. Sets t->busy only
 * around its own work, never across the real blocking call, so a thread
 * cancelled in that call leaves no broken state behind. */
void
weft_wait_begin (WeftThread *t,
                 WeftWait   *w,
                 int32_t     holder_tid)
{
  int saved_errno = errno;

  w->on = weft_thread_tracing (t);
  w->stack_id = 0;
  w->holder_tid = holder_tid;
  w->start_ns = 0;
  if (w->on)
    {
      t->busy = 1;
      WEFT_SIGNAL_FENCE ();
      w->start_ns = weft_now_ns ();
      if (weft_agent.stacks)
        w->stack_id = weft_stack_capture (t);
      WEFT_SIGNAL_FENCE ();
      t->busy = 0;
    }
  errno = saved_errno;
}

/* weft_wait_end:
 * Writes the WAIT record of a wait begun with weft_wait_begin(). Preserves
 * errno. */
void
weft_wait_end (WeftThread *t,
               WeftWait   *w,
               uint8_t     kind,
               uint8_t     object_kind,
               uintptr_t   object,
               uint64_t    arg,
               uint8_t     result,
               int32_t     error)
{
  int saved_errno = errno;
  WeftRecWait *r;

  if (!w->on || t->busy || t->slot == NULL)
    return;
  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  r = weft_ring_reserve (t, WEFT_REC_WAIT, sizeof *r);
  if (r != NULL)
    {
      r->object = object;
      r->start_ns = w->start_ns;
      r->end_ns = weft_now_ns ();
      r->arg = arg;
      r->stack_id = w->stack_id;
      r->holder_tid = w->holder_tid;
      r->error = result == WEFT_RESULT_ERROR ? error : 0;
      r->kind = kind;
      r->object_kind = object_kind;
      r->result = result;
      r->reserved = 0;
      weft_ring_commit (t, r);
    }
  WEFT_SIGNAL_FENCE ();
  t->busy = 0;
  errno = saved_errno;
}

/* weft_write_process:
 * Writes a FORK/SPAWN/EXIT/REAP record from the calling thread. The caller
 * checked weft_thread_tracing(). Preserves errno. */
void
weft_write_process (WeftThread *t,
                    uint16_t    type,
                    int32_t     child_pid,
                    int32_t     status,
                    uint64_t    cpu_ns)
{
  int saved_errno = errno;
  WeftRecProcess *r;

  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  r = weft_ring_reserve (t, type, sizeof *r);
  if (r != NULL)
    {
      r->time_ns = weft_now_ns ();
      r->child_pid = child_pid;
      r->status = status;
      r->cpu_ns = cpu_ns;
      weft_ring_commit (t, r);
    }
  WEFT_SIGNAL_FENCE ();
  t->busy = 0;
  errno = saved_errno;
}
