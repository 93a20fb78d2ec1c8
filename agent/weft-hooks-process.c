/* weft-hooks-process.c — fork, posix_spawn, the exec family, exit and wait.
 *
 * vfork is deliberately not wrapped (a C wrapper cannot return twice).
 * Instead every record path checks for a foreign context
 * (weft_thread_tracing: gettid() differs from the tid cached at slot claim)
 * and then touches no shared state: the exec of a vfork child only gets its
 * environment repaired, its _exit passes straight through.
 */
#include "weft-agent-private.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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
 * killing signal of processes it did not start itself. */

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

WEFT_EXPORT pid_t
wait (int *status)
{
  pid_t (*real) (int *) = WEFT_REAL (wait);
  int st = 0;
  pid_t pid;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  pid = real (&st);
  if (pid > 0)
    {
      if (status != NULL)
        *status = st;
      note_reap (pid, st);
    }
  return pid;
}

WEFT_EXPORT pid_t
waitpid (pid_t  which,
         int   *status,
         int    options)
{
  pid_t (*real) (pid_t, int *, int) = WEFT_REAL (waitpid);
  int st = 0;
  pid_t pid;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  pid = real (which, &st, options);
  if (pid > 0)
    {
      if (status != NULL)
        *status = st;
      note_reap (pid, st);
    }
  return pid;
}

WEFT_EXPORT pid_t
wait4 (pid_t          which,
       int           *status,
       int            options,
       struct rusage *usage)
{
  pid_t (*real) (pid_t, int *, int, struct rusage *) = WEFT_REAL (wait4);
  int st = 0;
  pid_t pid;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  pid = real (which, &st, options, usage);
  if (pid > 0)
    {
      if (status != NULL)
        *status = st;
      note_reap (pid, st);
    }
  return pid;
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
  ret = real (idtype, id, info, options);
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
