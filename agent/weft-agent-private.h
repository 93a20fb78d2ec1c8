/* weft-agent-private.h — what the files of libweft-agent.so share.
 *
 * The agent runs inside someone else's program. Everything here is hidden
 * (meson builds with -fvisibility=hidden); only the interposed libc names are
 * exported, each marked WEFT_EXPORT. Nothing declared here may use GLib,
 * stdio or malloc on an event path, nor take a lock of its own.
 */
#pragma once

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "weft-wire.h"

#define WEFT_EXPORT __attribute__ ((visibility ("default")))
#define WEFT_LIKELY(x) __builtin_expect (!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect (!!(x), 0)

/* A compiler barrier that also orders against a signal handler running on
 * the same thread: what the TLS bookkeeping needs to stay consistent when a
 * handler interrupts it. */
#define WEFT_SIGNAL_FENCE() atomic_signal_fence (memory_order_seq_cst)

/* Chunk files per process image: 1024 × 16 slots. A process that churns
 * through threads needs as many slots as threads end between two drains of
 * a busy collector (100 000 threads in 4 s on a loaded 2-CPU machine ran
 * out of 4096); unused chunks cost nothing (they are never made). */
#define WEFT_MAX_CHUNKS 1024u
#define WEFT_HOLD_SAMPLE_EVERY 64u     /* time 1 hold in N per thread */
#define WEFT_COUNTER_PROBES 8u         /* open-addressing probe limit */
#define WEFT_ENV_MAX 1024u             /* environment entries we can rebuild */
#define WEFT_ENV_PRELOAD_BYTES 4096u   /* a rebuilt LD_PRELOAD=… entry */

/* Pointers to the real functions, filled by weft_resolve() with
 * dlsym (RTLD_NEXT). A NULL entry means "not resolved (yet)". */
typedef struct
{
  int (*pthread_mutex_lock) (pthread_mutex_t *);
  int (*pthread_mutex_trylock) (pthread_mutex_t *);
  int (*pthread_mutex_timedlock) (pthread_mutex_t *, const struct timespec *);
  int (*pthread_mutex_clocklock) (pthread_mutex_t *, clockid_t, const struct timespec *);
  int (*pthread_mutex_unlock) (pthread_mutex_t *);

  int (*pthread_rwlock_rdlock) (pthread_rwlock_t *);
  int (*pthread_rwlock_wrlock) (pthread_rwlock_t *);
  int (*pthread_rwlock_tryrdlock) (pthread_rwlock_t *);
  int (*pthread_rwlock_trywrlock) (pthread_rwlock_t *);
  int (*pthread_rwlock_timedrdlock) (pthread_rwlock_t *, const struct timespec *);
  int (*pthread_rwlock_timedwrlock) (pthread_rwlock_t *, const struct timespec *);
  int (*pthread_rwlock_clockrdlock) (pthread_rwlock_t *, clockid_t, const struct timespec *);
  int (*pthread_rwlock_clockwrlock) (pthread_rwlock_t *, clockid_t, const struct timespec *);
  int (*pthread_rwlock_unlock) (pthread_rwlock_t *);

  int (*pthread_spin_lock) (pthread_spinlock_t *);
  int (*pthread_spin_trylock) (pthread_spinlock_t *);
  int (*pthread_spin_unlock) (pthread_spinlock_t *);

  int (*sem_wait) (sem_t *);
  int (*sem_trywait) (sem_t *);
  int (*sem_timedwait) (sem_t *, const struct timespec *);
  int (*sem_clockwait) (sem_t *, clockid_t, const struct timespec *);
  int (*sem_post) (sem_t *);

  int (*pthread_cond_wait) (pthread_cond_t *, pthread_mutex_t *);
  int (*pthread_cond_timedwait) (pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
  int (*pthread_cond_clockwait) (pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
  int (*pthread_cond_signal) (pthread_cond_t *);
  int (*pthread_cond_broadcast) (pthread_cond_t *);
  int (*pthread_barrier_wait) (pthread_barrier_t *);
  int (*pthread_join) (pthread_t, void **);
  int (*pthread_timedjoin_np) (pthread_t, void **, const struct timespec *);
  int (*pthread_clockjoin_np) (pthread_t, void **, clockid_t, const struct timespec *);

  int (*pthread_create) (pthread_t *, const pthread_attr_t *, void *(*) (void *), void *);
  int (*pthread_setname_np) (pthread_t, const char *);

  pid_t (*fork) (void);
  pid_t (*_Fork) (void);
  int (*clone) (int (*) (void *), void *, int, void *, ...);
  int (*posix_spawn) (pid_t *, const char *, const posix_spawn_file_actions_t *,
                      const posix_spawnattr_t *, char *const [], char *const []);
  int (*posix_spawnp) (pid_t *, const char *, const posix_spawn_file_actions_t *,
                       const posix_spawnattr_t *, char *const [], char *const []);
  int (*execve) (const char *, char *const [], char *const []);
  int (*execvpe) (const char *, char *const [], char *const []);
  int (*fexecve) (int, char *const [], char *const []);
  int (*execveat) (int, const char *, char *const [], char *const [], int);
  void (*exit) (int) __attribute__ ((noreturn));
  void (*_exit) (int) __attribute__ ((noreturn));
  void (*_Exit) (int) __attribute__ ((noreturn));
  pid_t (*wait) (int *);
  pid_t (*waitpid) (pid_t, int *, int);
  pid_t (*wait3) (int *, int, struct rusage *);
  pid_t (*wait4) (pid_t, int *, int, struct rusage *);
  int (*waitid) (idtype_t, id_t, siginfo_t *, int);

  int (*poll) (struct pollfd *, nfds_t, int);
  int (*ppoll) (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
  int (*select) (int, fd_set *, fd_set *, fd_set *, struct timeval *);
  int (*pselect) (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
  int (*epoll_wait) (int, struct epoll_event *, int, int);
  int (*epoll_pwait) (int, struct epoll_event *, int, int, const sigset_t *);
  int (*epoll_pwait2) (int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
  int (*nanosleep) (const struct timespec *, struct timespec *);
  int (*clock_nanosleep) (clockid_t, int, const struct timespec *, struct timespec *);
  int (*usleep) (useconds_t);
  unsigned int (*sleep) (unsigned int);
} WeftReal;

extern WeftReal weft_real;

/* Process-wide agent state. Written by the constructor (and by the fork child
 * handler, which runs while the child has a single thread); read by everyone. */
typedef struct
{
  bool active;                        /* a valid session: we record */
  bool stacks;                        /* capture call stacks */
  WeftWireSession session;            /* copy of the session file */
  uint64_t chunk_bytes;
  uint64_t ring_mask;                 /* ring_bytes - 1 */
  pid_t pid;                          /* of the current image */
  uint64_t image_start_ns;
  WeftWireChunk *_Atomic chunks[WEFT_MAX_CHUNKS];
  _Atomic uint32_t n_chunks;
  _Atomic uint32_t claim_cursor;      /* slot scans start here (chunk * slot_count + slot) */
  atomic_flag creating;               /* someone is creating the next chunk */
  bool orphaned;                      /* the collector died: we turned ourselves off */
  uintptr_t text_start, text_end;     /* our own code, dropped from stacks */
  pthread_key_t end_key;              /* runs weft_thread_end() at thread exit */
  bool end_key_ok;
  char dir[4096];                     /* WEFT_SESSION */
  char exe[WEFT_WIRE_PATH_BYTES];
  char cmdline[WEFT_WIRE_CMDLINE_BYTES];
  uint32_t cmdline_bytes;
  char env_session[4096 + 16];        /* "WEFT_SESSION=<dir>" */
  char agent_path[4096];              /* the path we were preloaded as */
} WeftAgent;

extern WeftAgent weft_agent;

/* Per-thread state, initial-exec TLS so touching it never allocates. */
typedef struct
{
  WeftWireSlot *slot;                 /* NULL: this thread records nothing (yet) */
  uint8_t *ring;                      /* the ring after slot */
  WeftWireSlot *tx_slot;              /* slot of the record being written */
  uintptr_t last_addr;                /* one-entry cache of the counter table */
  WeftWireCounter *last_counter;
  uintptr_t hold_obj;                 /* the object whose hold is being timed */
  WeftWireCounter *hold_counter;
  uint64_t hold_start_ns;
  uint32_t hold_countdown;
  uint32_t attach_tick;               /* back-off for failed lazy attaches */
  uint32_t chunk_seq;                 /* chunk of the slot (to reopen it by path) */
  uint64_t ring_file_offset;          /* where the ring starts in that chunk file */
  uint32_t reserve_backoff;           /* events to drop before reserving again */
  int32_t tid;                        /* gettid() at slot claim */
  uint8_t busy;                       /* inside the agent: nested calls pass through */
  uint8_t ended;                      /* THREAD_END written: never attach again */
  uint8_t resolving;                  /* inside weft_resolve() */
} WeftThread;

extern __thread WeftThread weft_thread
  __attribute__ ((tls_model ("initial-exec")));

/* weft-agent.c */
void      weft_resolve            (void);
void      weft_warn               (const char *what,
                                   const char *detail);
void      weft_fork_child         (void);

/* weft-hooks-process.c */
void      weft_note_exit          (int         status);
void      weft_clone_forget       (void);

/* weft-ring.c */
uint64_t  weft_now_ns             (void);
uint64_t  weft_cpu_ns             (void);
bool      weft_chunk_create       (uint32_t seq);
bool      weft_thread_attach      (WeftThread *t,
                                   int32_t     creator_tid,
                                   bool        may_wait);
void      weft_thread_end         (WeftThread *t);
void      weft_thread_retire      (WeftThread *t);
bool      weft_thread_tracing     (WeftThread *t);
void     *weft_ring_reserve       (WeftThread *t,
                                   uint16_t    type,
                                   uint32_t    size);
void      weft_ring_commit        (WeftThread *t,
                                   void       *record);
void      weft_count_lost         (void);
WeftWireCounter *weft_counter_lookup (WeftThread *t,
                                      uintptr_t   addr,
                                      uint32_t    kind);
void      weft_hold_end           (WeftThread *t);
void      weft_write_process      (WeftThread *t,
                                   uint16_t    type,
                                   int32_t     child_pid,
                                   int32_t     status,
                                   uint64_t    cpu_ns);

/* weft-stack.c */
bool      weft_stack_init         (void);
void      weft_stack_reset        (void);
uint32_t  weft_stack_capture      (WeftThread *t);
void      weft_modules_write_all  (WeftThread *t);

/* weft-python.c: one Python frame of the calling thread, as found. */
typedef struct
{
  const void *code;                   /* its code object */
  uint32_t offset;                    /* bytecode offset */
  uint16_t segment;                   /* see WeftWirePyFrame */
} WeftPyFrameRef;

void      weft_python_probe       (void);
uint32_t  weft_python_frames      (WeftPyFrameRef       *out,
                                   uint32_t              max);
void      weft_python_write       (WeftThread           *t,
                                   uint32_t              stack_id,
                                   const WeftPyFrameRef *frames,
                                   uint32_t              count);

/* The common shape of a recorded wait (weft-ring.c). */
typedef struct
{
  uint64_t start_ns;
  uint32_t stack_id;
  int32_t holder_tid;
  bool on;                            /* false: record nothing */
} WeftWait;

void      weft_wait_begin         (WeftThread *t,
                                   WeftWait   *w,
                                   int32_t     holder_tid);
void      weft_wait_end           (WeftThread *t,
                                   WeftWait   *w,
                                   uint8_t     kind,
                                   uint8_t     object_kind,
                                   uintptr_t   object,
                                   uint64_t    arg,
                                   uint8_t     result,
                                   int32_t     error);

/* Fast-path helper: count one acquisition of `addr` (and maybe start timing
 * its hold). The caller checked that t->slot is set. Safe against a signal
 * handler doing the same on this thread: the cache is invalidated before it
 * is refilled, so a handler never sees a half-updated pair. */
static inline void
weft_count_acquire (WeftThread *t,
                    uintptr_t   addr,
                    uint32_t    kind,
                    bool        contended)
{
  WeftWireCounter *c;
  bool sampled;

  if (WEFT_LIKELY (t->last_addr == addr))
    c = t->last_counter;
  else
    c = weft_counter_lookup (t, addr, kind);

  /* Time 1 hold in WEFT_HOLD_SAMPLE_EVERY, and also the first hold of each
   * object by this thread and every contended one: a lock taken once (or
   * only under contention, where holds matter most) would otherwise never
   * get a hold time at all. */
  sampled = --t->hold_countdown == 0;
  if (WEFT_UNLIKELY (sampled))
    t->hold_countdown = WEFT_HOLD_SAMPLE_EVERY;
  sampled |= c->acquisitions == 0 || contended;

  c->acquisitions++;
  if (contended)
    c->contentions++;

  if (WEFT_UNLIKELY (sampled))
    {
      if (t->hold_obj == 0)
        {
          t->hold_counter = c;
          t->hold_start_ns = weft_now_ns ();
          WEFT_SIGNAL_FENCE ();
          t->hold_obj = addr;
        }
    }
}

/* Unlock-side fast path: ends the timed hold if it is this object's. */
static inline void
weft_release (WeftThread *t,
              uintptr_t   addr)
{
  if (WEFT_UNLIKELY (t->hold_obj == addr))
    weft_hold_end (t);
}

/* The real function, resolving on first use. NULL only while dlsym itself is
 * running on this thread or when libc lacks the symbol. */
#define WEFT_REAL(name) \
  (WEFT_LIKELY (weft_real.name != NULL) ? weft_real.name : (weft_resolve (), weft_real.name))

/* weft-env.c: environment repair for exec and posix_spawn. */
char *const *weft_env_fix         (char *const *envp,
                                   char       **out,
                                   char        *preload_buf);

/* Small helpers (weft-ring.c). */
size_t    weft_strlcpy            (char       *dst,
                                   const char *src,
                                   size_t      dst_bytes);
char     *weft_utoa               (char       *p,
                                   uint64_t    v);
uint64_t  weft_timespec_ns        (const struct timespec *ts);
