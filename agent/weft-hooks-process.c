/* weft-hooks-process.c — fork, clone, posix_spawn, the exec family, exit
 * and wait.
 *
 * vfork is deliberately not wrapped (a C wrapper cannot return twice).
 * Instead every record path checks for a foreign context
 * (weft_thread_tracing: gettid() differs from the tid cached at slot claim)
 * and then touches no shared state: the exec of a vfork child only gets its
 * environment repaired, its _exit passes straight through. clone returns
 * once in the caller, so it is wrapped: see its section for what each kind
 * of raw task gets.
 */
#include "weft-agent-private.h"

#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

extern char **environ;

/* ---------------------------------------------------------------------- */
/* fork and spawn */

WEFT_EXPORT pid_t
fork (void)
{
  WeftThread *t = &weft_thread;
  pid_t (*real) (void) = WEFT_REAL (fork);
  pid_t pid;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  /* The child is re-initialised by weft_fork_child (atfork handler). */
  pid = real ();
  if (pid > 0 && weft_thread_tracing (t))
    weft_write_process (t, WEFT_REC_FORK, pid, 0, 0);
  return pid;
}

/* _Fork runs no atfork handlers, so we re-initialise the child ourselves. */
WEFT_EXPORT pid_t
_Fork (void)
{
  WeftThread *t = &weft_thread;
  pid_t (*real) (void) = WEFT_REAL (_Fork);
  pid_t pid;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  pid = real ();
  if (pid == 0)
    weft_fork_child ();
  else if (pid > 0 && weft_thread_tracing (t))
    weft_write_process (t, WEFT_REC_FORK, pid, 0, 0);
  return pid;
}

static int
spawn_common (bool                              search_path,
              pid_t                            *pid,
              const char                       *path,
              const posix_spawn_file_actions_t *actions,
              const posix_spawnattr_t          *attr,
              char *const                       argv[],
              char *const                       envp[])
{
  WeftThread *t = &weft_thread;
  char *env_out[WEFT_ENV_MAX];
  char preload_buf[WEFT_ENV_PRELOAD_BYTES];
  char *const *env;
  pid_t child = 0;
  int ret;

  if (weft_real.posix_spawn == NULL)
    weft_resolve ();
  if ((search_path ? weft_real.posix_spawnp : weft_real.posix_spawn) == NULL)
    return ENOSYS;
  env = weft_env_fix (envp, env_out, preload_buf);
  ret = (search_path ? weft_real.posix_spawnp : weft_real.posix_spawn)
          (&child, path, actions, attr, argv, (char *const *) env);
  if (pid != NULL)
    *pid = child;
  if (ret == 0 && weft_thread_tracing (t))
    weft_write_process (t, WEFT_REC_SPAWN, child, 0, 0);
  return ret;
}

WEFT_EXPORT int
posix_spawn (pid_t                            *pid,
             const char                       *path,
             const posix_spawn_file_actions_t *actions,
             const posix_spawnattr_t          *attr,
             char *const                       argv[],
             char *const                       envp[])
{
  return spawn_common (false, pid, path, actions, attr, argv, envp);
}

WEFT_EXPORT int
posix_spawnp (pid_t                            *pid,
              const char                       *file,
              const posix_spawn_file_actions_t *actions,
              const posix_spawnattr_t          *attr,
              char *const                       argv[],
              char *const                       envp[])
{
  return spawn_common (true, pid, file, actions, attr, argv, envp);
}

/* ---------------------------------------------------------------------- */
/* clone
 *
 * glibc's clone() makes a task no library hears of: no atfork handler runs
 * in a child without CLONE_VM, no pthread_create thunk in a raw thread. Left
 * alone, the child runs on with a copy of (or the very) thread state of the
 * thread that called clone, whose slot is in shared memory: its lock fast
 * path would count into the parent thread's slot, concurrently with it. So
 * each flavour gets what is safe for it:
 *
 * - no CLONE_VM: a process, like fork. The child runs through
 *   clone_fork_thunk, which takes the path of a fork child
 *   (weft_fork_child: forget the parent's chunks, become a new image with
 *   its own slot) and then calls the user's function; when that returns
 *   with no other thread left, the process exits with its value (glibc
 *   ends the task with SYS_exit, which no exit() of ours sees), recorded as
 *   an exit would be. The thunk's arguments are in this wrapper's frame:
 *   the child has a copy of it. The setup runs on a stack of its own
 *   (fork_child_setup): the child's may be tiny.
 *
 * - CLONE_VM, sharing the caller's TLS (no CLONE_SETTLS, or the caller's own
 *   thread pointer): a raw thread, or a process sharing our memory (the
 *   vfork shape). Its weft_thread IS the caller's, so nothing can mark the
 *   child alone; and a task that is not a pthread cannot own a slot (no
 *   pthread_self, no TLS destructor at its end). The caller's thread state
 *   is set aside for as long as the TLS is shared: slot NULL and `ended`
 *   set, so both tasks pass every call straight through (the fast path sees
 *   no slot, the slow path an ended thread that never attaches). The caller
 *   records nothing meanwhile: lost events, never a second writer on its
 *   ring or counters. The state comes back when the last sharer is gone:
 *   with CLONE_VFORK when the real clone returns (the child has exec'd or
 *   exited); otherwise when the user's function returns through
 *   clone_vm_thunk. A child that execs, _exits or is killed instead never
 *   hands it back: the caller stays untraced from then on (still safe); a
 *   caller thread that ends while shared leaves its slot unretired until
 *   its process ends (its end is still known from the scheduler).
 *   The state of the sharing lives in the shared TLS (clone_share): its
 *   count and the set-aside slot, updated under a flag word.
 *
 * - CLONE_VM with a TLS block of its own (CLONE_SETTLS): the child's
 *   weft_thread is whatever the caller put in that block (zeros, or a copy
 *   of another thread's, slot pointer included). clone_vm_thunk marks it
 *   ended with no slot before the user's function runs: never traced, for
 *   the same reason (not a pthread). This writes into the new block where
 *   the agent's static TLS is, as libc writes errno there: a block that
 *   libc can use holds it.
 *
 * Both VM thunks keep their arguments at the top of the child's stack, the
 * memory the caller gave the child (glibc's own clone stores fn and arg
 * there too): the caller's frame may be gone by the time the child runs.
 * The slow-path check for a foreign context (weft_thread_tracing: gettid()
 * against the tid of the slot, as for a real vfork) stays as a second net.
 */

typedef int (*CloneFn) (int (*) (void *), void *, int, void *, ...);

typedef struct
{
  int (*fn) (void *);
  void *arg;
  bool own_tls;                       /* CLONE_VM thunks: CLONE_SETTLS, not ours */
} CloneThunk;

#define SHARE_LOCKED 0x80000000u      /* clone_share.word: being updated */
#define SHARE_SPINS 100000u           /* yields before taking over a dead holder's flag */
#define SETUP_STACK_BYTES (256u * 1024u)

/* The sharing of one thread's TLS by raw CLONE_VM tasks. In the TLS
 * itself, so every sharer sees the same one. */
typedef struct
{
  _Atomic uint32_t word;              /* sharing tasks, | SHARE_LOCKED */
  WeftWireSlot *slot;                 /* the thread's state, set aside */
  uint8_t ended;
} CloneShare;

static __thread CloneShare clone_share __attribute__ ((tls_model ("initial-exec")));

/* weft_clone_forget:
 * A new process (fork child, clone child without CLONE_VM) or a task on a
 * TLS block of its own: nobody shares this thread's TLS; drop what a copy
 * of the parent's said. */
void
weft_clone_forget (void)
{
  atomic_store_explicit (&clone_share.word, 0, memory_order_relaxed);
  clone_share.slot = NULL;
  clone_share.ended = 0;
}

/* Takes the flag of clone_share for an update; returns the count of
 * sharers. The holder only makes a few stores, so waiting yields; a holder
 * killed inside them (a CLONE_VM process) would keep it forever, hence the
 * bound. sched_yield: not a call we wrap. */
static uint32_t
share_lock (CloneShare *s)
{
  for (uint32_t spins = 0; spins < SHARE_SPINS; spins++)
    {
      uint32_t old = atomic_load_explicit (&s->word, memory_order_relaxed);

      if ((old & SHARE_LOCKED) == 0
          && atomic_compare_exchange_weak_explicit (&s->word, &old, old | SHARE_LOCKED,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
        return old;
      sched_yield ();
    }
  return atomic_load_explicit (&s->word, memory_order_acquire) & ~SHARE_LOCKED;
}

/* One more task is about to share the calling thread's TLS: the first one
 * sets the thread state aside (ended first, so that a thread seen without
 * a slot never attaches one). */
static void
share_enter (WeftThread *t)
{
  CloneShare *s = &clone_share;
  uint32_t n = share_lock (s);

  if (n == 0)
    {
      s->slot = t->slot;
      s->ended = t->ended;
      t->ended = 1;
      WEFT_SIGNAL_FENCE ();
      t->slot = NULL;
      t->last_addr = 0;
      t->hold_obj = 0;
    }
  atomic_store_explicit (&s->word, n + 1, memory_order_release);
}

/* A sharing task is done (or was never made): the last one puts the state
 * back. May run in the sharer while the owner runs: the owner only reads
 * these fields while they are set aside, and sees the slot before `ended`
 * clears, so it never attaches a second slot. */
static void
share_leave (WeftThread *t)
{
  CloneShare *s = &clone_share;
  uint32_t n = share_lock (s);

  if (n == 1)
    {
      t->last_addr = 0;
      t->hold_obj = 0;
      t->attach_tick = 0;
      atomic_thread_fence (memory_order_release);
      t->slot = s->slot;
      atomic_thread_fence (memory_order_release);
      t->ended = s->ended;
      s->slot = NULL;
    }
  atomic_store_explicit (&s->word, n > 0 ? n - 1 : 0, memory_order_release);
}

/* The caller's thread pointer, to tell CLONE_SETTLS of a block of its own
 * from one passing the caller's own; NULL where the compiler cannot say
 * (every CLONE_SETTLS then counts as a block of its own). */
static inline void *
thread_pointer (void)
{
#if defined (__has_builtin)
# if __has_builtin (__builtin_thread_pointer)
  return __builtin_thread_pointer ();
# endif
#endif
  return NULL;
}

typedef struct
{
  ucontext_t back;
  ucontext_t setup;
} SetupContexts;

static void
setup_on_own_stack (void)
{
  weft_fork_child ();
}

/* weft_fork_child on a stack of its own: the child's stack is whatever the
 * caller gave clone, maybe a few KiB for a child that only execs, and
 * making an image takes path buffers of 4 KiB and the loader's module
 * walk. Without memory for it, the child runs untraced (the agent off in
 * it, its slot dropped). */
static void
fork_child_setup (void)
{
  SetupContexts *c = mmap (NULL, SETUP_STACK_BYTES, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);

  if (c == MAP_FAILED)
    {
      weft_agent.active = false;
      weft_fork_child ();
      return;
    }
  if (getcontext (&c->setup) == 0)
    {
      c->setup.uc_stack.ss_sp = c + 1;
      c->setup.uc_stack.ss_size = SETUP_STACK_BYTES - sizeof *c;
      c->setup.uc_link = &c->back;
      makecontext (&c->setup, setup_on_own_stack, 0);
      if (swapcontext (&c->back, &c->setup) == 0)
        {
          munmap (c, SETUP_STACK_BYTES);
          return;
        }
    }
  munmap (c, SETUP_STACK_BYTES);
  weft_agent.active = false;
  weft_fork_child ();
}

/* Start of a child made without CLONE_VM: a new image, then the user's
 * function. Agent code that a signal handler calling clone interrupted in
 * the parent never resumes here (the child starts on a new stack and ends
 * when fn returns), so its busy flags are cleared rather than honoured. */
static int
clone_fork_thunk (void *data)
{
  CloneThunk thunk = *(const CloneThunk *) data;
  WeftThread *t = &weft_thread;
  struct stat st;
  int ret;

  t->busy = 0;
  t->resolving = 0;
  fork_child_setup ();
  ret = thunk.fn (thunk.arg);
  /* The last thread (/proc/PID/task links: 2 + threads) returning ends
   * the process with ret as its status. */
  if (stat ("/proc/self/task", &st) == 0 && st.st_nlink == 3)
    weft_note_exit (ret);
  return ret;
}

/* Start of a CLONE_VM child: see the head of this section. */
static int
clone_vm_thunk (void *data)
{
  const CloneThunk *thunk = data;     /* above this task's stack: lives as long */
  int (*fn) (void *) = thunk->fn;
  void *arg = thunk->arg;
  bool own_tls = thunk->own_tls;
  WeftThread *t = &weft_thread;
  int ret;

  if (own_tls)
    {
      t->ended = 1;
      t->slot = NULL;
      t->tx_slot = NULL;
      t->last_addr = 0;
      t->hold_obj = 0;
      t->busy = 0;
      t->resolving = 0;
      weft_clone_forget ();
    }
  ret = fn (arg);
  if (!own_tls)
    share_leave (t);
  return ret;
}

/* Writes the thunk at the top of the child's stack (the stack grows down,
 * but on hppa) and returns it: it is also the child's new stack top, 16-byte
 * aligned as every ABI wants. */
static CloneThunk *
thunk_on_stack (void     *stack,
                int     (*fn) (void *),
                void     *arg,
                bool      own_tls,
                void    **child_stack)
{
  CloneThunk *thunk;

#if defined (__hppa__)
  thunk = (CloneThunk *) (((uintptr_t) stack + 15) & ~(uintptr_t) 15);
  *child_stack = (uint8_t *) thunk + ((sizeof *thunk + 15) & ~(size_t) 15);
#else
  thunk = (CloneThunk *) (((uintptr_t) stack - sizeof *thunk) & ~(uintptr_t) 15);
  *child_stack = thunk;
#endif
  thunk->fn = fn;
  thunk->arg = arg;
  thunk->own_tls = own_tls;
  return thunk;
}

/* A CLONE_VM child sharing the caller's TLS. */
static int
clone_shared_tls (CloneFn   real,
                  int     (*fn) (void *),
                  void     *stack,
                  int       flags,
                  void     *arg,
                  pid_t    *parent_tid,
                  void     *tls,
                  pid_t    *child_tid)
{
  WeftThread *t = &weft_thread;
  CloneThunk *thunk;
  void *child_stack;
  int ret, saved_errno;

  share_enter (t);
  if ((flags & CLONE_VFORK) != 0)
    {
      /* We resume once the child has exec'd or exited: sharing is over. */
      ret = real (fn, stack, flags, arg, parent_tid, tls, child_tid);
      saved_errno = errno;
      share_leave (t);
      errno = saved_errno;
      return ret;
    }
  thunk = thunk_on_stack (stack, fn, arg, false, &child_stack);
  ret = real (clone_vm_thunk, child_stack, flags, thunk, parent_tid, tls, child_tid);
  if (ret < 0)
    {
      saved_errno = errno;
      share_leave (t);
      errno = saved_errno;
    }
  return ret;
}

/* glibc's clone: the three optional arguments are read whatever the flags
 * (so does glibc: registers and the caller's stack) and passed on as they
 * came. The result is the real one's; only fn, arg and, for CLONE_VM
 * children, the stack top (lowered by the thunk's few bytes) change. */
WEFT_EXPORT int
clone (int  (*fn) (void *),
       void  *stack,
       int    flags,
       void  *arg,
       ...)
{
  WeftThread *t = &weft_thread;
  CloneFn real = WEFT_REAL (clone);
  CloneThunk frame_thunk, *thunk;
  pid_t *parent_tid, *child_tid;
  void *tls, *child_stack;
  va_list ap;
  int ret;

  va_start (ap, arg);
  parent_tid = va_arg (ap, pid_t *);
  tls = va_arg (ap, void *);
  child_tid = va_arg (ap, pid_t *);
  va_end (ap);

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  /* glibc fails these with EINVAL before making anything. */
  if (fn == NULL || stack == NULL)
    return real (fn, stack, flags, arg, parent_tid, tls, child_tid);

  if ((flags & CLONE_VM) == 0)
    {
      frame_thunk = (CloneThunk) { fn, arg, false };
      ret = real (clone_fork_thunk, stack, flags, &frame_thunk, parent_tid, tls, child_tid);
    }
  else if ((flags & CLONE_SETTLS) != 0 && tls != thread_pointer ())
    {
      thunk = thunk_on_stack (stack, fn, arg, true, &child_stack);
      ret = real (clone_vm_thunk, child_stack, flags, thunk, parent_tid, tls, child_tid);
    }
  else
    ret = clone_shared_tls (real, fn, stack, flags, arg, parent_tid, tls, child_tid);

  /* A new process under us (not a thread, not a sibling): as fork says.
   * A lazy attach in weft_thread_tracing makes syscalls: errno is kept. */
  if (ret > 0 && (flags & (CLONE_THREAD | CLONE_PARENT)) == 0)
    {
      int saved_errno = errno;

      if (weft_thread_tracing (t))
        weft_write_process (t, WEFT_REC_FORK, ret, 0, 0);
      errno = saved_errno;
    }
  return ret;
}

/* ---------------------------------------------------------------------- */
/* exec */

typedef enum
{
  EXEC_VE,          /* execve, execv, execl, execle */
  EXEC_VPE,         /* execvp, execvpe, execlp */
  EXEC_FD,          /* fexecve */
  EXEC_AT,          /* execveat */
} ExecOp;

static void
write_exec (WeftThread *t,
            const char *path,
            int32_t     error)
{
  WeftRecExec *r;

  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  r = weft_ring_reserve (t, WEFT_REC_EXEC, sizeof *r);
  if (r != NULL)
    {
      r->time_ns = weft_now_ns ();
      r->error = error;
      r->reserved = 0;
      memset (r->path, 0, sizeof r->path);
      weft_strlcpy (r->path, path, sizeof r->path);
      weft_ring_commit (t, r);
    }
  WEFT_SIGNAL_FENCE ();
  t->busy = 0;
}

/* Every exec: repair the environment, announce the exec (EXEC record, chunk
 * 0 state EXEC, this thread's slot retired so its counters are final), call
 * the real function; if it returns, the exec failed: back to ALIVE, a fresh
 * slot, and an EXEC record carrying the errno. */
static int
exec_common (ExecOp      op,
             int         fd,
             const char *path,
             char *const argv[],
             char *const envp[],
             int         flags)
{
  WeftThread *t = &weft_thread;
  char *env_out[WEFT_ENV_MAX];
  char preload_buf[WEFT_ENV_PRELOAD_BYTES];
  char fd_path[32];
  char *const *env;
  WeftWireChunk *c0;
  bool traced;
  int ret, error;

  if (weft_real.execve == NULL)
    weft_resolve ();
  env = weft_env_fix (envp, env_out, preload_buf);

  if (op == EXEC_FD)
    {
      char *p = stpcpy (fd_path, "/proc/self/fd/");

      *weft_utoa (p, fd >= 0 ? (uint64_t) fd : 0) = '\0';
      path = fd_path;
    }

  c0 = atomic_load_explicit (&weft_agent.chunks[0], memory_order_acquire);
  traced = c0 != NULL && weft_thread_tracing (t);
  if (traced)
    {
      write_exec (t, path, 0);
      c0->process_cpu_ns = weft_cpu_ns ();
      atomic_store_explicit (&c0->state, WEFT_CHUNK_EXEC, memory_order_release);
      weft_thread_retire (t);
    }

  switch (op)
    {
    case EXEC_VE:
      ret = weft_real.execve != NULL ? weft_real.execve (path, argv, env) : (errno = ENOSYS, -1);
      break;
    case EXEC_VPE:
      ret = weft_real.execvpe != NULL ? weft_real.execvpe (path, argv, env) : (errno = ENOSYS, -1);
      break;
    case EXEC_FD:
      ret = weft_real.fexecve != NULL ? weft_real.fexecve (fd, argv, env) : (errno = ENOSYS, -1);
      break;
    case EXEC_AT:
    default:
      ret = weft_real.execveat != NULL ? weft_real.execveat (fd, path, argv, env, flags) :
                                         (errno = ENOSYS, -1);
      break;
    }

  error = errno;
  if (traced)
    {
      atomic_store_explicit (&c0->state, WEFT_CHUNK_ALIVE, memory_order_release);
      if (weft_thread_attach (t, 0, false))
        write_exec (t, path, error);
    }
  errno = error;
  return ret;
}

WEFT_EXPORT int
execve (const char  *path,
        char *const  argv[],
        char *const  envp[])
{
  return exec_common (EXEC_VE, -1, path, argv, envp, 0);
}

WEFT_EXPORT int
execv (const char  *path,
       char *const  argv[])
{
  return exec_common (EXEC_VE, -1, path, argv, environ, 0);
}

WEFT_EXPORT int
execvp (const char  *file,
        char *const  argv[])
{
  return exec_common (EXEC_VPE, -1, file, argv, environ, 0);
}

WEFT_EXPORT int
execvpe (const char  *file,
         char *const  argv[],
         char *const  envp[])
{
  return exec_common (EXEC_VPE, -1, file, argv, envp, 0);
}

WEFT_EXPORT int
fexecve (int          fd,
         char *const  argv[],
         char *const  envp[])
{
  return exec_common (EXEC_FD, fd, NULL, argv, envp, 0);
}

WEFT_EXPORT int
execveat (int          dirfd,
          const char  *path,
          char *const  argv[],
          char *const  envp[],
          int          flags)
{
  return exec_common (EXEC_AT, dirfd, path, argv, envp, flags);
}

/* The execl family: argv from the variable arguments, on the stack (a
 * vfork child must not malloc). n counts the arguments before the NULL. */
/* glibc declares `arg` nonnull, yet execl (path, NULL) is real-world code:
 * the empty asm hides the attribute so the NULL check survives. */
#define COUNT_ARGS(first, ap, n) \
  do { \
    va_list c_; \
    const char *f_ = first; \
    __asm__ ("" : "+r" (f_)); \
    va_copy (c_, ap); \
    n = 0; \
    if (f_ != NULL) \
      for (n = 1; va_arg (c_, const char *) != NULL; n++) \
        ; \
    va_end (c_); \
  } while (0)

WEFT_EXPORT int
execl (const char *path,
       const char *arg,
       ...)
{
  va_list ap;
  size_t n;

  va_start (ap, arg);
  COUNT_ARGS (arg, ap, n);
  {
    char *argv[n + 1];

    argv[0] = (char *) arg;
    for (size_t i = 1; i < n; i++)
      argv[i] = va_arg (ap, char *);
    argv[n] = NULL;
    va_end (ap);
    return exec_common (EXEC_VE, -1, path, argv, environ, 0);
  }
}

WEFT_EXPORT int
execlp (const char *file,
        const char *arg,
        ...)
{
  va_list ap;
  size_t n;

  va_start (ap, arg);
  COUNT_ARGS (arg, ap, n);
  {
    char *argv[n + 1];

    argv[0] = (char *) arg;
    for (size_t i = 1; i < n; i++)
      argv[i] = va_arg (ap, char *);
    argv[n] = NULL;
    va_end (ap);
    return exec_common (EXEC_VPE, -1, file, argv, environ, 0);
  }
}

WEFT_EXPORT int
execle (const char *path,
        const char *arg,
        ...)
{
  va_list ap;
  size_t n;

  va_start (ap, arg);
  COUNT_ARGS (arg, ap, n);
  {
    char *argv[n + 1];
    char *const *envp;

    argv[0] = (char *) arg;
    for (size_t i = 1; i < n; i++)
      argv[i] = va_arg (ap, char *);
    argv[n] = NULL;
    if (n > 0)
      (void) va_arg (ap, char *);     /* the terminating NULL (arg was not it) */
    envp = va_arg (ap, char *const *);
    va_end (ap);
    return exec_common (EXEC_VE, -1, path, argv, envp, 0);
  }
}

/* ---------------------------------------------------------------------- */
/* exit */

/* weft_note_exit:
 * The process is ending with `status` (-1: unknown): EXIT record from the
 * calling thread and the exit fields of chunk 0, once per image. Called by
 * our exit/_exit/_Exit, by the on_exit handler (which sees the status of
 * libc's own exit after main returns) and by the destructor. Does nothing in
 * a vfork child (another pid shares our memory). */
void
weft_note_exit (int status)
{
  WeftThread *t = &weft_thread;
  WeftWireChunk *c0;
  uint64_t cpu_ns;

  if (!weft_agent.active)
    return;
  c0 = atomic_load_explicit (&weft_agent.chunks[0], memory_order_acquire);
  if (c0 == NULL || getpid () != weft_agent.pid ||
      atomic_load_explicit (&c0->state, memory_order_acquire) != WEFT_CHUNK_ALIVE)
    return;

  cpu_ns = weft_cpu_ns ();
  if (weft_thread_tracing (t))
    weft_write_process (t, WEFT_REC_EXIT, 0, status, cpu_ns);
  c0->exit_status = status;
  atomic_store_explicit (&c0->exit_ns, weft_now_ns (), memory_order_relaxed);
  atomic_store_explicit (&c0->process_cpu_ns, cpu_ns, memory_order_relaxed);
  atomic_store_explicit (&c0->state, WEFT_CHUNK_EXITED, memory_order_release);
}

WEFT_EXPORT __attribute__ ((noreturn)) void
exit (int status)
{
  void (*real) (int) = WEFT_REAL (exit);

  weft_note_exit (status);
  if (real != NULL)
    real (status);
  syscall (SYS_exit_group, status);
  __builtin_unreachable ();
}

WEFT_EXPORT __attribute__ ((noreturn)) void
_exit (int status)
{
  void (*real) (int) = WEFT_REAL (_exit);

  weft_note_exit (status);
  if (real != NULL)
    real (status);
  syscall (SYS_exit_group, status);
  __builtin_unreachable ();
}

WEFT_EXPORT __attribute__ ((noreturn)) void
_Exit (int status)
{
  void (*real) (int) = WEFT_REAL (_Exit);

  weft_note_exit (status);
  if (real != NULL)
    real (status);
  syscall (SYS_exit_group, status);
  __builtin_unreachable ();
}

/* ---------------------------------------------------------------------- */
/* wait: REAP records are how the collector learns the exit status and the
 * killing signal of processes it did not start itself.
 *
 * A wait for a child is also a wait like a lock's: the call is first made
 * with WNOHANG added (the trylock), which returns whatever is ready and
 * records nothing; only when no child was ready is the real blocking call
 * timed, as a WAIT of kind CHILD: the thread synchronises with another
 * process, as a join does with a thread. A child already done costs one
 * syscall as before, a wait that blocks one more. Calls with WNOHANG, and
 * every call while the agent is off, pass straight through.
 *
 * The wait's arg is the pid asked for in waitpid's encoding; its holder the
 * child whose change of state ended it (a process's main thread has
 * tid = pid, which is how the collector finds it), else the one asked for. */

static void
note_reap (pid_t pid,
           int   status)
{
  WeftThread *t = &weft_thread;
  int saved_errno = errno;

  if (pid > 0 && (WIFEXITED (status) || WIFSIGNALED (status)) && weft_thread_tracing (t))
    weft_write_process (t, WEFT_REC_REAP, pid, status, 0);
  errno = saved_errno;
}

/* Starts timing a blocking wait for `which` (waitpid's encoding). */
static void
child_wait_begin (WeftThread *t,
                  WeftWait   *w,
                  pid_t       which)
{
  weft_wait_begin (t, w, which > 0 ? which : 0);
}

/* Ends it: `ended` is the child the call returned, or -1 with errno set.
 * Keeps errno. */
static void
child_wait_end (WeftThread *t,
                WeftWait   *w,
                pid_t       which,
                pid_t       ended)
{
  int error = ended < 0 ? errno : 0;
  uint8_t result = WEFT_RESULT_OK;

  if (ended > 0)
    w->holder_tid = ended;
  if (ended < 0)
    result = error == EINTR ? WEFT_RESULT_INTERRUPTED : WEFT_RESULT_ERROR;
  weft_wait_end (t, w, WEFT_WAIT_CHILD, WEFT_OBJ_NONE, 0, (uint64_t) (int64_t) which,
                 result, error);
}

typedef enum
{
  CHILD_WAIT,
  CHILD_WAITPID,
  CHILD_WAIT3,
  CHILD_WAIT4,
} ChildOp;

/* One call of the pid-returning family, as the caller made it. */
typedef struct
{
  ChildOp op;
  pid_t which;                        /* waitpid's pid (-1 for wait and wait3) */
  int options;
  struct rusage *usage;               /* wait3, wait4; may be NULL */
} ChildCall;

/* The real call of `c`, with `options` instead of the caller's. wait has
 * none: its try goes through waitpid (-1), which is what wait is. The
 * wrappers resolved every entry they use. */
static pid_t
child_call (const ChildCall *c,
            int             *st,
            int              options)
{
  switch (c->op)
    {
    case CHILD_WAIT:
      return options != 0 ? weft_real.waitpid (-1, st, options) : weft_real.wait (st);
    case CHILD_WAITPID:
      return weft_real.waitpid (c->which, st, options);
    case CHILD_WAIT3:
      return weft_real.wait3 (st, options, c->usage);
    case CHILD_WAIT4:
    default:
      return weft_real.wait4 (c->which, st, options, c->usage);
    }
}

/* The try, then the timed blocking call; REAP for a child that ended. The
 * status is stored only for a returned pid, as the kernel does. */
static pid_t
child_wait_common (const ChildCall *c,
                   int             *status)
{
  WeftThread *t = &weft_thread;
  WeftWait w;
  int st = 0;
  pid_t pid;

  if ((c->options & WNOHANG) != 0 || !weft_agent.active || weft_real.waitpid == NULL)
    pid = child_call (c, &st, c->options);
  else if ((pid = child_call (c, &st, c->options | WNOHANG)) == 0)
    {
      child_wait_begin (t, &w, c->which);
      pid = child_call (c, &st, c->options);
      child_wait_end (t, &w, c->which, pid);
    }
  if (pid > 0)
    {
      if (status != NULL)
        *status = st;
      note_reap (pid, st);
    }
  return pid;
}

WEFT_EXPORT pid_t
wait (int *status)
{
  ChildCall c = { CHILD_WAIT, -1, 0, NULL };

  if (WEFT_REAL (wait) == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  return child_wait_common (&c, status);
}

WEFT_EXPORT pid_t
waitpid (pid_t  which,
         int   *status,
         int    options)
{
  ChildCall c = { CHILD_WAITPID, which, options, NULL };

  if (WEFT_REAL (waitpid) == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  return child_wait_common (&c, status);
}

WEFT_EXPORT pid_t
wait3 (int           *status,
       int            options,
       struct rusage *usage)
{
  ChildCall c = { CHILD_WAIT3, -1, options, usage };

  if (WEFT_REAL (wait3) == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  return child_wait_common (&c, status);
}

WEFT_EXPORT pid_t
wait4 (pid_t          which,
       int           *status,
       int            options,
       struct rusage *usage)
{
  ChildCall c = { CHILD_WAIT4, which, options, usage };

  if (WEFT_REAL (wait4) == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  return child_wait_common (&c, status);
}

/* waitid's idtype and id as waitpid's pid. A pidfd names one child that
 * only the result tells (-1 until then). */
static pid_t
waitid_which (idtype_t idtype,
              id_t     id,
              pid_t    ended)
{
  switch (idtype)
    {
    case P_ALL:
      return -1;
    case P_PID:
      return (pid_t) id;
    case P_PGID:
      return -(pid_t) id;             /* 0: the caller's group, as waitpid's 0 */
    default:
      return ended > 0 ? ended : -1;
    }
}

/* Only the blocking call is timed: the try found no child (si_pid 0, which
 * the kernel stores for a WNOHANG call that found none). */
static int
waitid_blocking (int      (*real) (idtype_t, id_t, siginfo_t *, int),
                 idtype_t    idtype,
                 id_t        id,
                 siginfo_t  *info,
                 int         options)
{
  WeftThread *t = &weft_thread;
  WeftWait w;
  int ret;

  if ((options & WNOHANG) != 0 || !weft_agent.active)
    return real (idtype, id, info, options);
  ret = real (idtype, id, info, options | WNOHANG);
  if (ret != 0 || info->si_pid != 0)
    return ret;
  child_wait_begin (t, &w, waitid_which (idtype, id, 0));
  ret = real (idtype, id, info, options);
  child_wait_end (t, &w, waitid_which (idtype, id, ret == 0 ? info->si_pid : 0),
                  ret == 0 ? info->si_pid : -1);
  return ret;
}

WEFT_EXPORT int
waitid (idtype_t   idtype,
        id_t       id,
        siginfo_t *infop,
        int        options)
{
  int (*real) (idtype_t, id_t, siginfo_t *, int) = WEFT_REAL (waitid);
  siginfo_t local;
  siginfo_t *info = infop != NULL ? infop : &local;
  int ret, st;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  if (infop == NULL)
    memset (&local, 0, sizeof local);
  ret = waitid_blocking (real, idtype, id, info, options);
  if (ret != 0 || info->si_pid == 0 || (options & WNOWAIT) != 0)
    return ret;
  /* Rebuild the raw wait status the other wait calls would have given. */
  switch (info->si_code)
    {
    case CLD_EXITED:
      st = (info->si_status & 0xff) << 8;
      break;
    case CLD_KILLED:
      st = info->si_status & 0x7f;
      break;
    case CLD_DUMPED:
      st = (info->si_status & 0x7f) | 0x80;
      break;
    default:
      return ret;
    }
  note_reap (info->si_pid, st);
  return ret;
}
