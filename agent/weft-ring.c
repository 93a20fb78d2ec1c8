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
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* Whether the `weft record` of this session has died (SIGKILL, crash): it
 * holds an exclusive flock on the session file for as long as it lives
 * (weft-wire.h), so a shared lock we can take means nobody reads our rings
 * any more. A pid check alone would be fooled by pid reuse. An error other
 * than "locked" counts as alive: when in doubt, keep recording. Only
 * syscalls: callable from any context. */
static bool
collector_gone (void)
{
  char path[sizeof weft_agent.dir + sizeof "/" WEFT_WIRE_SESSION_FILE];
  size_t dir_len;
  bool gone;
  int fd;

  if (weft_agent.session.collector_pid > 0 &&
      kill (weft_agent.session.collector_pid, 0) != 0 && errno == ESRCH)
    return true;
  dir_len = weft_strlcpy (path, weft_agent.dir, sizeof weft_agent.dir);
  memcpy (path + dir_len, "/" WEFT_WIRE_SESSION_FILE, sizeof "/" WEFT_WIRE_SESSION_FILE);
  fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT;             /* the session was removed */
  gone = flock (fd, LOCK_SH | LOCK_NB) == 0;
  close (fd);                           /* also drops the lock we may have got */
  return gone;
}

/* Writes the path of chunk `seq` of the current image into path, which
 * holds sizeof weft_agent.dir + 96 bytes. */
static void
chunk_path (char     *path,
            uint32_t  seq)
{
  size_t dir_len = weft_strlcpy (path, weft_agent.dir, sizeof weft_agent.dir);
  char *p = path + dir_len;

  *p++ = '/';
  *p++ = 'p';
  p = weft_utoa (p, (uint64_t) weft_agent.pid);
  *p++ = '-';
  p = weft_utoa (p, weft_agent.image_start_ns);
  *p++ = '-';
  p = weft_utoa (p, seq);
  memcpy (p, ".chunk", sizeof ".chunk");
}

/* Gives [offset, offset + bytes) of a chunk file real pages now, so that
 * storing into them later can never fault. Chunk files are sparse (sized
 * with ftruncate): a store into a hole makes the filesystem allocate a page
 * on the spot, and when /dev/shm (or the disk) is full the kernel answers
 * with SIGBUS, which would kill the traced program. Reserving first turns
 * "full" into a failed syscall here, and the caller into a dropped event.
 * fallocate where the filesystem has it (tmpfs, ext4, xfs, btrfs), else
 * zeros written with pwrite: only ever called on bytes never written. */
static bool
reserve_range (int      fd,
               uint64_t offset,
               uint64_t bytes)
{
  static const char zeros[WEFT_WIRE_PAGE_BYTES];
  uint64_t end = offset + bytes;

  if (fallocate (fd, 0, (off_t) offset, (off_t) bytes) == 0)
    return true;
  if (errno != EOPNOTSUPP && errno != ENOSYS)
    return false;
  while (offset < end)
    {
      size_t n = end - offset < sizeof zeros ? (size_t) (end - offset) : sizeof zeros;
      ssize_t w = pwrite (fd, zeros, n, (off_t) offset);

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      offset += (uint64_t) w;
    }
  return true;
}

/* The pages of a new chunk that both sides touch without a ring write: the
 * header page and every slot header (the collector reads the state of free
 * slots too). Ring pages are reserved later, as they fill (ring_grow). */
static bool
reserve_chunk_headers (int fd)
{
  uint32_t slot_bytes = (uint32_t) sizeof (WeftWireSlot) + weft_agent.session.ring_bytes;

  if (!reserve_range (fd, 0, WEFT_WIRE_PAGE_BYTES))
    return false;
  for (uint32_t i = 0; i < weft_agent.session.slot_count; i++)
    if (!reserve_range (fd, weft_wire_slot_offset (WEFT_WIRE_PAGE_BYTES, slot_bytes, i),
                        sizeof (WeftWireSlot)))
      return false;
  return true;
}

/* weft_chunk_create:
 * Creates, sizes and maps chunk `seq` of the current image and publishes it
 * in weft_agent.chunks. The caller holds weft_agent.creating (or is the only
 * thread: init, fork child). Returns false on any failure, leaving no file.
 * A chunk past the first, or any chunk once the collector is gone, turns the
 * agent off instead: nobody would ever free its memory. */
bool
weft_chunk_create (uint32_t seq)
{
  char path[sizeof weft_agent.dir + 96];
  int fd;
  void *map;
  WeftWireChunk *c;

  if (seq >= WEFT_MAX_CHUNKS)
    return false;
  if (collector_gone ())
    {
      weft_agent.orphaned = true;
      weft_agent.active = false;
      return false;
    }

  chunk_path (path, seq);
  fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  /* The umask cannot widen 0600, but a hostile umask of 0 with an odd
   * filesystem default could; fchmod pins it. */
  if (fchmod (fd, 0600) != 0 || ftruncate (fd, (off_t) weft_agent.chunk_bytes) != 0
      || !reserve_chunk_headers (fd))
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
  /* Wake as many waiters as the chunk has slots, not all of them: with
   * thousands waiting, waking everyone for 16 slots is a stampede. */
  syscall (SYS_futex, &weft_agent.n_chunks, FUTEX_WAKE_PRIVATE,
           (int) weft_agent.session.slot_count, NULL, NULL, 0);
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
 * CAS, so no other thread or collector looks at it while we reset it).
 * The scan starts after the slot claimed last, not at slot 0: in a process
 * that has churned through thousands of threads the slots behind the cursor
 * are the ones most recently taken, and each probe touches another page.
 * Returns the chunk and the slot's index through *chunk_seq and *index. */
static WeftWireSlot *
slot_claim_scan (uint32_t *chunk_seq,
                 uint32_t *index)
{
  uint32_t n = atomic_load_explicit (&weft_agent.n_chunks, memory_order_acquire);
  uint32_t per_chunk = weft_agent.session.slot_count;
  uint32_t total = n * per_chunk;
  uint32_t start = atomic_load_explicit (&weft_agent.claim_cursor, memory_order_relaxed);

  for (uint32_t k = 0; k < total; k++)
    {
      uint32_t at = (start + k) % total;
      WeftWireChunk *c = atomic_load_explicit (&weft_agent.chunks[at / per_chunk],
                                               memory_order_acquire);
      WeftWireSlot *s;
      uint32_t expected = WEFT_SLOT_FREE;

      if (c == NULL)
        continue;
      s = slot_at (c, at % per_chunk);
      if (atomic_load_explicit (&s->state, memory_order_relaxed) == WEFT_SLOT_FREE &&
          atomic_compare_exchange_strong_explicit (&s->state, &expected, WEFT_SLOT_CLAIMING,
                                                   memory_order_acquire,
                                                   memory_order_relaxed))
        {
          atomic_store_explicit (&weft_agent.claim_cursor, at + 1, memory_order_relaxed);
          *chunk_seq = at / per_chunk;
          *index = at % per_chunk;
          return s;
        }
    }
  return NULL;
}

typedef enum
{
  NEXT_MADE,          /* chunk n exists now */
  NEXT_BUSY,          /* another thread is making a chunk */
  NEXT_FAILED,        /* no more chunks: limit reached, or creation failed */
} NextChunk;

/* Makes chunk n of this image unless another thread is making one. */
static NextChunk
chunk_create_next (uint32_t n)
{
  bool ok = true;

  if (n >= WEFT_MAX_CHUNKS)
    return NEXT_FAILED;
  if (atomic_flag_test_and_set_explicit (&weft_agent.creating, memory_order_acquire))
    return NEXT_BUSY;
  /* Someone may have created it between the caller's look and the flag. */
  if (atomic_load_explicit (&weft_agent.n_chunks, memory_order_acquire) == n)
    ok = weft_chunk_create (n);
  atomic_flag_clear_explicit (&weft_agent.creating, memory_order_release);
  return ok ? NEXT_MADE : NEXT_FAILED;
}

/* Waits (at most 10 ms) for the number of chunks to move on from n: the
 * thread making chunk n wakes us when it is published, so the timeout only
 * bounds a lost wakeup; a short one would have thousands of waiters wake
 * and sleep again every few ms. A raw futex, not our own wrappers. */
static void
wait_for_chunk (uint32_t n)
{
  struct timespec timeout = { 0, 10000000 };

  syscall (SYS_futex, &weft_agent.n_chunks, FUTEX_WAIT_PRIVATE, n, &timeout, NULL, 0);
}

/* Claims a slot, creating the next chunk when all are taken. Only one thread
 * creates at a time (atomic flag, never waited on while held); a thread that
 * loses that race gets NULL unless may_wait, in which case it sleeps on a
 * futex until the winner publishes the chunk, a bounded number of times
 * (never from a context that may be a signal handler: the winner could be
 * the interrupted code). Not sched_yield: with thousands of threads starting
 * at once, yielders starve the one thread making the chunk they wait for and
 * flood the kernel's context-switch records. A thread starting (may_wait)
 * that takes a slot in the second half of the last chunk makes the next
 * chunk right away, so the threads after it rarely wait at all. */
static WeftWireSlot *
slot_claim (bool      may_wait,
            uint32_t *chunk_seq,
            uint32_t *index)
{
  for (unsigned attempt = 0; attempt < 500; attempt++)
    {
      WeftWireSlot *s = slot_claim_scan (chunk_seq, index);
      uint32_t n = atomic_load_explicit (&weft_agent.n_chunks, memory_order_acquire);

      if (s != NULL)
        {
          if (may_wait && *chunk_seq + 1 == n
              && *index >= weft_agent.session.slot_count / 2)
            chunk_create_next (n);
          return s;
        }
      switch (chunk_create_next (n))
        {
        case NEXT_MADE:
          break;
        case NEXT_FAILED:
          return NULL;
        case NEXT_BUSY:
          if (!may_wait)
            return NULL;
          wait_for_chunk (n);
          break;
        }
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
  uint32_t chunk_seq = 0, index = 0;

  if (!weft_agent.active || t->ended || t->slot != NULL)
    return t->slot != NULL;

  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  s = slot_claim (may_wait, &chunk_seq, &index);
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
  t->chunk_seq = chunk_seq;
  t->ring_file_offset = weft_wire_slot_offset (WEFT_WIRE_PAGE_BYTES,
                                               (uint32_t) sizeof (WeftWireSlot) + weft_agent.session.ring_bytes,
                                               index) + sizeof (WeftWireSlot);
  t->reserve_backoff = 0;
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

/* Backs more of the calling thread's ring with reserved pages (see
 * reserve_range), at least up to want_bytes. Steps double from 16 KiB to
 * 256 KiB: a thread that writes a handful of events costs /dev/shm 16 KiB,
 * not its whole ring. The chunk file is opened again by its path (we never
 * keep descriptors: the program may close them under us). After a failure
 * (the filesystem is full) only every 1024th event tries again. */
static bool
ring_grow (WeftThread   *t,
           WeftWireSlot *s,
           uint64_t      want_bytes)
{
  char path[sizeof weft_agent.dir + 96];
  uint64_t ring_bytes = weft_agent.session.ring_bytes;
  uint64_t have = s->ring_reserved_bytes;
  uint64_t step = have < 16384 ? 16384 : have > 262144 ? 262144 : have;
  uint64_t target = have + step > want_bytes ? have + step : want_bytes;
  bool ok;
  int fd;

  if (t->reserve_backoff > 0)
    {
      t->reserve_backoff--;
      return false;
    }
  target = (target + WEFT_WIRE_PAGE_BYTES - 1) & ~(uint64_t) (WEFT_WIRE_PAGE_BYTES - 1);
  if (target > ring_bytes)
    target = ring_bytes;
  chunk_path (path, t->chunk_seq);
  fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  ok = fd >= 0 && reserve_range (fd, t->ring_file_offset + have, target - have);
  if (fd >= 0)
    close (fd);
  if (!ok)
    {
      t->reserve_backoff = 1024;
      return false;
    }
  s->ring_reserved_bytes = target;
  return true;
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
  uint64_t head, tail, off, left, need, want;
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
  /* Every byte we are about to store must be backed (a wrap stores the pad
   * at off, then the record at 0: the whole ring is reserved by then). */
  want = off + size < ring_bytes ? off + size : ring_bytes;
  /* The last bytes of a full ring are kept for THREAD_END (with its pad):
   * a thread's end and final name survive any overflow, and a collector
   * that died (weft record --recover) still learns them. */
  if (type != WEFT_REC_THREAD_END)
    need += 2 * sizeof (WeftRecThread);
  if (ring_bytes - (head - tail) < need
      || (want > s->ring_reserved_bytes && !ring_grow (t, s, want)))
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
