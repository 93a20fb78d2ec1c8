/* weft-agent.c — load-time setup of libweft-agent.so: resolving the real
 * functions, validating the session, the first chunk, the main thread's slot,
 * and re-initialisation in a fork child.
 *
 * Without WEFT_SESSION in the environment the agent stays inactive and every
 * wrapper passes straight through. With an invalid session it says so once on
 * stderr (`weft: …`) and stays inactive: it never aborts the program.
 */
#include "weft-agent-private.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

WeftReal weft_real;
WeftAgent weft_agent;

static bool on_exit_ok;

/* weft_warn:
 * One line `weft: what: detail` on stderr with write(2): no stdio, so it is
 * safe anywhere. detail may be NULL. */
void
weft_warn (const char *what,
           const char *detail)
{
  struct iovec iov[5];
  int n = 0;
  int saved_errno = errno;

  iov[n++] = (struct iovec) { "weft: ", 6 };
  iov[n++] = (struct iovec) { (void *) what, strlen (what) };
  if (detail != NULL)
    {
      iov[n++] = (struct iovec) { ": ", 2 };
      iov[n++] = (struct iovec) { (void *) detail, strlen (detail) };
    }
  iov[n++] = (struct iovec) { "\n", 1 };
  while (writev (STDERR_FILENO, iov, n) < 0 && errno == EINTR)
    ;
  errno = saved_errno;
}

#define RESOLVE(name) \
  weft_real.name = (__typeof__ (weft_real.name)) dlsym (RTLD_NEXT, #name)

/* pthread_cond_* exist in two versions; plain dlsym could hand us the
 * GLIBC_2.2.5 compatibility one on some setups (mutrace's lesson). */
#define RESOLVE_COND(name) \
  do { \
    void *p_ = dlvsym (RTLD_NEXT, #name, "GLIBC_2.3.2"); \
    if (p_ == NULL) \
      p_ = dlsym (RTLD_NEXT, #name); \
    weft_real.name = (__typeof__ (weft_real.name)) p_; \
  } while (0)

/* weft_resolve:
 * Fills weft_real with dlsym (RTLD_NEXT). The one place that resolves real
 * functions; called by the constructor and, lazily, by any wrapper running
 * before it. Idempotent and thread-safe (racing threads store the same
 * values). A wrapper reached again from inside dlsym on this thread finds its
 * pointer still NULL and fails the call instead of recursing: glibc 2.34+
 * does not call any function we interpose from dlsym, so this is only a net. */
void
weft_resolve (void)
{
  WeftThread *t = &weft_thread;
  int saved_errno = errno;

  if (t->resolving)
    return;
  t->resolving = 1;

  RESOLVE (pthread_mutex_lock);
  RESOLVE (pthread_mutex_trylock);
  RESOLVE (pthread_mutex_timedlock);
  RESOLVE (pthread_mutex_clocklock);
  RESOLVE (pthread_mutex_unlock);
  RESOLVE (pthread_rwlock_rdlock);
  RESOLVE (pthread_rwlock_wrlock);
  RESOLVE (pthread_rwlock_tryrdlock);
  RESOLVE (pthread_rwlock_trywrlock);
  RESOLVE (pthread_rwlock_timedrdlock);
  RESOLVE (pthread_rwlock_timedwrlock);
  RESOLVE (pthread_rwlock_clockrdlock);
  RESOLVE (pthread_rwlock_clockwrlock);
  RESOLVE (pthread_rwlock_unlock);
  RESOLVE (pthread_spin_lock);
  RESOLVE (pthread_spin_trylock);
  RESOLVE (pthread_spin_unlock);
  RESOLVE (sem_wait);
  RESOLVE (sem_trywait);
  RESOLVE (sem_timedwait);
  RESOLVE (sem_clockwait);
  RESOLVE (sem_post);
  RESOLVE_COND (pthread_cond_wait);
  RESOLVE_COND (pthread_cond_timedwait);
  RESOLVE (pthread_cond_clockwait);
  RESOLVE_COND (pthread_cond_signal);
  RESOLVE_COND (pthread_cond_broadcast);
  RESOLVE (pthread_barrier_wait);
  RESOLVE (pthread_join);
  RESOLVE (pthread_timedjoin_np);
  RESOLVE (pthread_clockjoin_np);
  RESOLVE (pthread_create);
  RESOLVE (pthread_setname_np);
  RESOLVE (fork);
  RESOLVE (_Fork);
  RESOLVE (clone);
  RESOLVE (posix_spawn);
  RESOLVE (posix_spawnp);
  RESOLVE (execve);
  RESOLVE (execvpe);
  RESOLVE (fexecve);
  RESOLVE (execveat);
  RESOLVE (exit);
  RESOLVE (_exit);
  RESOLVE (_Exit);
  RESOLVE (wait);
  RESOLVE (waitpid);
  RESOLVE (wait3);
  RESOLVE (wait4);
  RESOLVE (waitid);
  RESOLVE (poll);
  RESOLVE (ppoll);
  RESOLVE (select);
  RESOLVE (pselect);
  RESOLVE (epoll_wait);
  RESOLVE (epoll_pwait);
  RESOLVE (epoll_pwait2);
  RESOLVE (nanosleep);
  RESOLVE (clock_nanosleep);
  RESOLVE (usleep);
  RESOLVE (sleep);

  t->resolving = 0;
  errno = saved_errno;
}

/* Reads the session file in `dir` into weft_agent.session after checking
 * that dir is ours and private. Returns NULL on success, else what is wrong. */
static const char *
session_load (const char *dir)
{
  struct stat st;
  int dfd, fd;
  ssize_t n;
  WeftWireSession *s = &weft_agent.session;
  const char *problem = NULL;

  if (dir[0] != '/')
    return "WEFT_SESSION is not an absolute path";
  if (strlen (dir) >= sizeof weft_agent.dir - 64)
    return "WEFT_SESSION is too long";

  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return "cannot open the WEFT_SESSION directory";
  if (fstat (dfd, &st) != 0 || !S_ISDIR (st.st_mode))
    problem = "WEFT_SESSION is not a directory";
  else if (st.st_uid != geteuid () || (st.st_mode & 07777) != 0700)
    problem = "WEFT_SESSION directory is not private to this user (owner, mode 0700)";
  if (problem != NULL)
    {
      close (dfd);
      return problem;
    }

  fd = openat (dfd, WEFT_WIRE_SESSION_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  close (dfd);
  if (fd < 0)
    return "cannot open the session file";
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid ())
    problem = "the session file is not a regular file of this user";
  else
    {
      do
        n = pread (fd, s, sizeof *s, 0);
      while (n < 0 && errno == EINTR);
      if (n != (ssize_t) sizeof *s)
        problem = "the session file is truncated";
      else if (s->magic != WEFT_WIRE_SESSION_MAGIC)
        problem = "the session file has a wrong magic";
      else if (s->version != WEFT_WIRE_VERSION)
        problem = "the session file has another wire version (mixed weft installs?)";
      else if (s->ring_bytes < 65536 || s->ring_bytes > (1u << 30) ||
               (s->ring_bytes & (s->ring_bytes - 1)) != 0)
        problem = "the session file has an invalid ring size";
      else if (s->slot_count == 0 || s->slot_count > 4096)
        problem = "the session file has an invalid slot count";
    }
  close (fd);
  if (problem != NULL)
    return problem;

  weft_strlcpy (weft_agent.dir, dir, sizeof weft_agent.dir);
  weft_agent.ring_mask = s->ring_bytes - 1;
  weft_agent.chunk_bytes = WEFT_WIRE_PAGE_BYTES +
    (uint64_t) s->slot_count * (sizeof (WeftWireSlot) + s->ring_bytes);
  weft_agent.stacks = (s->flags & WEFT_SESSION_NO_STACKS) == 0;
  return NULL;
}

/* exe path and argv of this image, copied into every chunk header. */
static void
read_identity (void)
{
  ssize_t n;
  int fd;

  n = readlink ("/proc/self/exe", weft_agent.exe, sizeof weft_agent.exe - 1);
  weft_agent.exe[n > 0 ? n : 0] = '\0';

  weft_agent.cmdline_bytes = 0;
  memset (weft_agent.cmdline, 0, sizeof weft_agent.cmdline);
  fd = open ("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  while (weft_agent.cmdline_bytes < sizeof weft_agent.cmdline - 1)
    {
      n = read (fd, weft_agent.cmdline + weft_agent.cmdline_bytes,
                sizeof weft_agent.cmdline - 1 - weft_agent.cmdline_bytes);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      weft_agent.cmdline_bytes += (uint32_t) n;
    }
  close (fd);
}

static int
find_own_text (struct dl_phdr_info *info,
               size_t               size,
               void                *data)
{
  uintptr_t self = (uintptr_t) data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;

  for (int i = 0; i < info->dlpi_phnum; i++)
    {
      const ElfW (Phdr) *ph = &info->dlpi_phdr[i];
      uintptr_t start, end;

      if (ph->p_type != PT_LOAD)
        continue;
      start = info->dlpi_addr + ph->p_vaddr;
      end = start + ph->p_memsz;
      if (start < lo)
        lo = start;
      if (end > hi)
        hi = end;
    }
  if (self >= lo && self < hi)
    {
      weft_agent.text_start = lo;
      weft_agent.text_end = hi;
      return 1;
    }
  return 0;
}

/* Where we live (to drop our frames from stacks) and the path we were
 * preloaded as (to put back into an exec'ed program's LD_PRELOAD). */
static void
find_self (void)
{
  Dl_info info;

  dl_iterate_phdr (find_own_text, (void *) (uintptr_t) find_self);
  if (dladdr ((void *) (uintptr_t) find_self, &info) != 0 && info.dli_fname != NULL)
    {
      if (info.dli_fname[0] == '/' || realpath (info.dli_fname, weft_agent.agent_path) == NULL)
        weft_strlcpy (weft_agent.agent_path, info.dli_fname, sizeof weft_agent.agent_path);
    }
}

static void
thread_end_key_destructor (void *value)
{
  weft_thread_end (&weft_thread);
}

static void
on_exit_handler (int   status,
                 void *data)
{
  weft_note_exit (status);
}

/* Makes this image's first chunk and gives the calling thread a slot. */
static bool
image_start (WeftThread *t)
{
  weft_agent.pid = getpid ();
  weft_agent.image_start_ns = weft_now_ns ();
  if (!weft_chunk_create (0))
    return false;
  if (!weft_thread_attach (t, 0, true))
    return false;
  if (weft_agent.end_key_ok)
    pthread_setspecific (weft_agent.end_key, (void *) 1);
  if (weft_agent.stacks)
    weft_modules_write_all (t);
  return true;
}

__attribute__ ((constructor))
static void
weft_agent_init (void)
{
  WeftThread *t = &weft_thread;
  const char *dir, *problem;
  char *p;
  int saved_errno = errno;

  weft_resolve ();

  dir = getenv (WEFT_ENV_SESSION);
  if (dir == NULL || dir[0] == '\0')
    goto out;

  t->busy = 1;
  problem = session_load (dir);
  if (problem != NULL)
    {
      weft_warn (problem, "not tracing this process");
      goto out;
    }

  p = stpcpy (weft_agent.env_session, WEFT_ENV_SESSION "=");
  weft_strlcpy (p, weft_agent.dir, sizeof weft_agent.env_session - (size_t) (p - weft_agent.env_session));
  read_identity ();
  find_self ();
  if (weft_agent.stacks && !weft_stack_init ())
    weft_agent.stacks = false;

  weft_agent.end_key_ok = pthread_key_create (&weft_agent.end_key, thread_end_key_destructor) == 0;
  if (pthread_atfork (NULL, NULL, weft_fork_child) != 0)
    {
      weft_warn ("cannot register the fork handler", "not tracing this process");
      goto out;
    }
  /* Registered before libc registers _dl_fini (preloaded constructors run
   * first), so it runs after every destructor, ours included, and sees the
   * real status even of the exit libc makes when main returns. */
  on_exit_ok = on_exit (on_exit_handler, NULL) == 0;

  /* Active before the first attach: weft_thread_attach() checks it. */
  weft_agent.active = true;
  t->busy = 0;
  /* Once the collector is gone, processes run untraced without a word:
   * the user who killed weft knows. */
  if (!image_start (t))
    {
      weft_agent.active = false;
      if (!weft_agent.orphaned)
        weft_warn ("cannot create the first chunk file in the session directory",
                   "not tracing this process");
    }

out:
  t->busy = 0;
  errno = saved_errno;
}

/* Without the on_exit handler, the return from main (libc calls exit
 * internally, not through our symbol) is only seen here, status unknown. */
__attribute__ ((destructor))
static void
weft_agent_fini (void)
{
  if (!on_exit_ok)
    weft_note_exit (-1);
}

/* Detaches the parent's chunk mappings from this process. When the fork came
 * from a signal handler that interrupted the agent mid-write, the
 * interrupted code still holds pointers into them: give it private zero pages
 * to scribble on instead of unmapping under its feet. */
static void
forget_parent_chunks (bool interrupted)
{
  uint32_t n = atomic_load_explicit (&weft_agent.n_chunks, memory_order_relaxed);

  for (uint32_t i = 0; i < n && i < WEFT_MAX_CHUNKS; i++)
    {
      WeftWireChunk *c = atomic_load_explicit (&weft_agent.chunks[i], memory_order_relaxed);

      if (c == NULL)
        continue;
      if (interrupted)
        mmap (c, weft_agent.chunk_bytes, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
      else
        munmap (c, weft_agent.chunk_bytes);
      atomic_store_explicit (&weft_agent.chunks[i], NULL, memory_order_relaxed);
    }
  atomic_store_explicit (&weft_agent.n_chunks, 0, memory_order_relaxed);
  atomic_store_explicit (&weft_agent.claim_cursor, 0, memory_order_relaxed);
  atomic_flag_clear (&weft_agent.creating);
}

/* weft_fork_child:
 * pthread_atfork child handler (also called by our _Fork wrapper and by the
 * child of a clone without CLONE_VM, weft-hooks-process.c): the child is a
 * new process image for the collector. It has one thread, this one; the
 * other threads' slots belong to the parent, so the child forgets every
 * parent chunk, makes its own, and starts a fresh stack table. */
void
weft_fork_child (void)
{
  WeftThread *t = &weft_thread;
  bool interrupted = t->busy != 0;
  int saved_errno = errno;

  /* Tasks that shared the parent thread's TLS do not exist here. */
  weft_clone_forget ();
  if (!weft_agent.active)
    {
      /* Off (the collector died, or chunk creation failed), the parent's
       * chunks are still mapped MAP_SHARED here: the fast path must not go
       * on counting into the parent's slot. */
      t->slot = NULL;
      t->last_addr = 0;
      t->hold_obj = 0;
      return;
    }

  forget_parent_chunks (interrupted);
  t->slot = NULL;
  t->ended = 0;
  t->attach_tick = 0;
  t->last_addr = 0;
  t->hold_obj = 0;
  weft_stack_reset ();

  if (interrupted)
    {
      /* The interrupted agent code clears busy when it resumes; the first
       * slow path after that attaches this thread lazily. */
      weft_agent.pid = getpid ();
      weft_agent.image_start_ns = weft_now_ns ();
      if (!weft_chunk_create (0))
        weft_agent.active = false;
      errno = saved_errno;
      return;
    }

  if (!image_start (t))
    {
      weft_agent.active = false;
      if (!weft_agent.orphaned)
        weft_warn ("cannot create a chunk file for the forked child", "not tracing it");
    }
  errno = saved_errno;
}
