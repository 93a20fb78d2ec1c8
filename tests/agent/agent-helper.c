/* agent-helper.c — small scenarios the agent must not change.
 *
 *   agent-helper SCENARIO
 *
 * Each scenario exercises one corner of the pthread/process API and prints
 * what it observed (return values, errno names) on stdout, one fact per line.
 * The tests run it plain and under the agent and require the same output,
 * then look at the records the agent wrote. Plain C, no GLib.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *
err_name (int e)
{
  switch (e)
    {
    case 0: return "0";
    case EBUSY: return "EBUSY";
    case EDEADLK: return "EDEADLK";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EOWNERDEAD: return "EOWNERDEAD";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case EPERM: return "EPERM";
    case EINTR: return "EINTR";
    default: return "other";
    }
}

static struct timespec
deadline_ms (clockid_t clock,
             long      ms)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  ts.tv_nsec += (ms % 1000) * 1000000;
  ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  return ts;
}

/* A thread that holds `m` until told to let go. */
static pthread_mutex_t *holder_mutex;
static sem_t holder_locked, holder_release;

static void *
holder_thread (void *data)
{
  pthread_mutex_lock (holder_mutex);
  sem_post (&holder_locked);
  while (sem_wait (&holder_release) != 0)
    ;
  pthread_mutex_unlock (holder_mutex);
  return NULL;
}

static pthread_t
hold_in_thread (pthread_mutex_t *m)
{
  pthread_t t;

  holder_mutex = m;
  sem_init (&holder_locked, 0, 0);
  sem_init (&holder_release, 0, 0);
  pthread_create (&t, NULL, holder_thread, NULL);
  while (sem_wait (&holder_locked) != 0)
    ;
  return t;
}

static void
release_holder (pthread_t t)
{
  sem_post (&holder_release);
  pthread_join (t, NULL);
}

static int
scenario_errorcheck (void)
{
  pthread_mutexattr_t a;
  pthread_mutex_t m;

  pthread_mutexattr_init (&a);
  pthread_mutexattr_settype (&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init (&m, &a);
  printf ("lock %s\n", err_name (pthread_mutex_lock (&m)));
  printf ("relock %s\n", err_name (pthread_mutex_lock (&m)));
  printf ("unlock %s\n", err_name (pthread_mutex_unlock (&m)));
  printf ("unlock-again %s\n", err_name (pthread_mutex_unlock (&m)));
  return 0;
}

static int
scenario_recursive (void)
{
  pthread_mutexattr_t a;
  pthread_mutex_t m;
  pthread_t t;

  pthread_mutexattr_init (&a);
  pthread_mutexattr_settype (&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init (&m, &a);
  for (int i = 0; i < 3; i++)
    printf ("lock%d %s\n", i, err_name (pthread_mutex_lock (&m)));
  for (int i = 0; i < 3; i++)
    printf ("unlock%d %s\n", i, err_name (pthread_mutex_unlock (&m)));
  t = hold_in_thread (&m);
  printf ("trylock-other %s\n", err_name (pthread_mutex_trylock (&m)));
  release_holder (t);
  printf ("lock-after %s\n", err_name (pthread_mutex_lock (&m)));
  printf ("unlock-after %s\n", err_name (pthread_mutex_unlock (&m)));
  return 0;
}

static pthread_mutex_t robust_mutex;

static void *
robust_dier (void *data)
{
  pthread_mutex_lock (&robust_mutex);
  return NULL;    /* exits holding it */
}

static int
scenario_robust (void)
{
  pthread_mutexattr_t a;
  pthread_t t;
  int ret;

  pthread_mutexattr_init (&a);
  pthread_mutexattr_setrobust (&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init (&robust_mutex, &a);
  pthread_create (&t, NULL, robust_dier, NULL);
  pthread_join (t, NULL);
  ret = pthread_mutex_lock (&robust_mutex);
  printf ("lock %s\n", err_name (ret));
  if (ret == EOWNERDEAD)
    printf ("consistent %s\n", err_name (pthread_mutex_consistent (&robust_mutex)));
  printf ("unlock %s\n", err_name (pthread_mutex_unlock (&robust_mutex)));
  printf ("relock %s\n", err_name (pthread_mutex_lock (&robust_mutex)));
  printf ("unlock %s\n", err_name (pthread_mutex_unlock (&robust_mutex)));
  return 0;
}

static int
scenario_timeouts (void)
{
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, cm = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t c = PTHREAD_COND_INITIALIZER;
  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  struct timespec ts;
  sem_t s;
  pthread_t t;
  int ret;

  t = hold_in_thread (&m);
  ts = deadline_ms (CLOCK_REALTIME, 30);
  printf ("timedlock %s\n", err_name (pthread_mutex_timedlock (&m, &ts)));
  ts = deadline_ms (CLOCK_MONOTONIC, 30);
  printf ("clocklock %s\n", err_name (pthread_mutex_clocklock (&m, CLOCK_MONOTONIC, &ts)));
  printf ("clocklock-badclock %s\n", err_name (pthread_mutex_clocklock (&m, CLOCK_PROCESS_CPUTIME_ID, &ts)));
  printf ("trylock %s\n", err_name (pthread_mutex_trylock (&m)));
  release_holder (t);

  sem_init (&s, 0, 0);
  ts = deadline_ms (CLOCK_REALTIME, 30);
  errno = 0;
  ret = sem_timedwait (&s, &ts);
  printf ("sem_timedwait %d %s\n", ret, err_name (errno));
  errno = 0;
  ret = sem_trywait (&s);
  printf ("sem_trywait %d %s\n", ret, err_name (errno));
  ts.tv_nsec = 2000000000;
  errno = 0;
  ret = sem_timedwait (&s, &ts);
  printf ("sem_timedwait-badtime %d %s\n", ret, err_name (errno));
  sem_post (&s);
  errno = 0;
  ts.tv_nsec = -5;
  ret = sem_timedwait (&s, &ts);
  printf ("sem_timedwait-badtime-posted %d %s\n", ret, err_name (errno));

  pthread_mutex_lock (&cm);
  ts = deadline_ms (CLOCK_REALTIME, 30);
  printf ("cond_timedwait %s\n", err_name (pthread_cond_timedwait (&c, &cm, &ts)));
  pthread_mutex_unlock (&cm);

  pthread_rwlock_rdlock (&rw);
  printf ("trywrlock %s\n", err_name (pthread_rwlock_trywrlock (&rw)));
  ts = deadline_ms (CLOCK_REALTIME, 30);
  printf ("timedwrlock %s\n", err_name (pthread_rwlock_timedwrlock (&rw, &ts)));
  ts.tv_nsec = 1000000000;
  printf ("timedrdlock-badtime %s\n", err_name (pthread_rwlock_timedrdlock (&rw, &ts)));
  pthread_rwlock_unlock (&rw);
  pthread_rwlock_wrlock (&rw);
  printf ("wrlock-self %s\n", err_name (pthread_rwlock_wrlock (&rw)));
  pthread_rwlock_unlock (&rw);
  return 0;
}

static pthread_mutex_t cancel_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;
static sem_t cancel_sem, cancel_started;

static void
unlock_cleanup (void *m)
{
  pthread_mutex_unlock (m);
}

static void *
cond_waiter (void *data)
{
  pthread_mutex_lock (&cancel_mutex);
  pthread_cleanup_push (unlock_cleanup, &cancel_mutex);
  sem_post (&cancel_started);
  for (;;)
    pthread_cond_wait (&cancel_cond, &cancel_mutex);
  pthread_cleanup_pop (1);
  return NULL;
}

static void *
sem_waiter (void *data)
{
  sem_post (&cancel_started);
  for (;;)
    sem_wait (&cancel_sem);
  return NULL;
}

static int
scenario_cancel (void)
{
  pthread_t t;
  void *ret;

  sem_init (&cancel_sem, 0, 0);
  sem_init (&cancel_started, 0, 0);

  pthread_create (&t, NULL, cond_waiter, NULL);
  sem_wait (&cancel_started);
  usleep (20000);
  pthread_cancel (t);
  pthread_join (t, &ret);
  printf ("cond-canceled %d\n", ret == PTHREAD_CANCELED);
  printf ("relock %s\n", err_name (pthread_mutex_lock (&cancel_mutex)));
  printf ("unlock %s\n", err_name (pthread_mutex_unlock (&cancel_mutex)));

  pthread_create (&t, NULL, sem_waiter, NULL);
  sem_wait (&cancel_started);
  usleep (20000);
  pthread_cancel (t);
  pthread_join (t, &ret);
  printf ("sem-canceled %d\n", ret == PTHREAD_CANCELED);
  sem_post (&cancel_sem);
  printf ("sem_trywait %d\n", sem_trywait (&cancel_sem));
  return 0;
}

static pthread_mutex_t fork_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int fork_stop;

static void *
fork_locker (void *data)
{
  while (!atomic_load (&fork_stop))
    {
      pthread_mutex_lock (&fork_mutex);
      pthread_mutex_unlock (&fork_mutex);
    }
  return NULL;
}

static void *
child_thread (void *data)
{
  pthread_mutex_lock (&fork_mutex);
  pthread_mutex_unlock (&fork_mutex);
  return NULL;
}

static int
scenario_fork (void)
{
  pthread_t lockers[2], t;
  pid_t pid;
  int status = 0;

  for (int i = 0; i < 2; i++)
    pthread_create (&lockers[i], NULL, fork_locker, NULL);
  usleep (10000);
  /* Fork holding the mutex so the child's copy is in a known state. */
  pthread_mutex_lock (&fork_mutex);
  pid = fork ();
  if (pid == 0)
    {
      pthread_mutex_unlock (&fork_mutex);
      pthread_mutex_lock (&fork_mutex);
      pthread_mutex_unlock (&fork_mutex);
      pthread_create (&t, NULL, child_thread, NULL);
      pthread_join (t, NULL);
      exit (7);
    }
  pthread_mutex_unlock (&fork_mutex);
  atomic_store (&fork_stop, 1);
  for (int i = 0; i < 2; i++)
    pthread_join (lockers[i], NULL);
  printf ("waitpid %d\n", waitpid (pid, &status, 0) == pid);
  printf ("child-exit %d\n", WIFEXITED (status) ? WEXITSTATUS (status) : -1);

  pid = fork ();
  if (pid == 0)
    {
      raise (SIGKILL);
      _exit (1);
    }
  waitpid (pid, &status, 0);
  printf ("child-signal %d\n", WIFSIGNALED (status) ? WTERMSIG (status) : -1);
  return 0;
}

static pthread_mutex_t handler_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t main_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int handled, signal_stop;

static void
on_signal (int sig)
{
  struct timespec ts = { 0, 200000 };
  int saved_errno = errno;

  pthread_mutex_lock (&handler_mutex);
  nanosleep (&ts, NULL);
  pthread_mutex_unlock (&handler_mutex);
  atomic_fetch_add (&handled, 1);
  errno = saved_errno;
}

static void *
signal_sender (void *main_thread)
{
  for (int i = 0; i < 200; i++)
    {
      /* Never both locks at once: the handler may hold main_mutex's
       * thread while it waits for handler_mutex. */
      pthread_kill (*(pthread_t *) main_thread, SIGUSR1);
      pthread_mutex_lock (&handler_mutex);
      usleep (100);
      pthread_mutex_unlock (&handler_mutex);
      pthread_mutex_lock (&main_mutex);
      usleep (50);
      pthread_mutex_unlock (&main_mutex);
    }
  atomic_store (&signal_stop, 1);
  return NULL;
}

static int
scenario_signal (void)
{
  struct sigaction sa;
  pthread_t self = pthread_self (), t;
  long rounds = 0;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction (SIGUSR1, &sa, NULL);
  pthread_create (&t, NULL, signal_sender, &self);
  while (!atomic_load (&signal_stop))
    {
      pthread_mutex_lock (&main_mutex);
      rounds++;
      pthread_mutex_unlock (&main_mutex);
    }
  pthread_join (t, NULL);
  /* Every signal sent was handled (they may merge while pending). */
  printf ("handled-some %d\n", atomic_load (&handled) > 0);
  printf ("rounds-some %d\n", rounds > 0);
  return 0;
}

/* exec with an environment that has neither LD_PRELOAD nor WEFT_SESSION:
 * the agent must put them back so the new image is traced too. */
static int
scenario_exec (const char *self)
{
  char *argv[] = { (char *) self, "exec-child", NULL };
  char *envp[] = { "WEFT_HELPER_MARK=1", NULL };

  fflush (stdout);
  execve ("/nonexistent/weft-helper", argv, envp);
  printf ("failed-exec %s\n", err_name (errno == ENOENT ? 0 : errno));
  fflush (stdout);
  execve (self, argv, envp);
  printf ("exec failed\n");
  return 1;
}

static int
scenario_exec_child (void)
{
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_t t = hold_in_thread (&m);
  struct timespec ts = deadline_ms (CLOCK_REALTIME, 10);

  printf ("exec-child mark %s\n", getenv ("WEFT_HELPER_MARK") ? "yes" : "no");
  printf ("timedlock %s\n", err_name (pthread_mutex_timedlock (&m, &ts)));
  release_holder (t);
  return 5;
}

/* Threads with names, a barrier, contention, a spawn: the ordinary life. */
static pthread_barrier_t barrier;
static pthread_mutex_t busy_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t spin;
static long busy_total;

static void *
busy_thread (void *data)
{
  char name[16];

  snprintf (name, sizeof name, "busy-%d", (int) (long) data);
  pthread_setname_np (pthread_self (), name);
  pthread_barrier_wait (&barrier);
  for (int i = 0; i < 100000; i++)
    {
      pthread_mutex_lock (&busy_mutex);
      busy_total++;
      pthread_mutex_unlock (&busy_mutex);
      pthread_spin_lock (&spin);
      pthread_spin_unlock (&spin);
    }
  return NULL;
}

static int
scenario_threads (void)
{
  pthread_t t[3];
  struct timespec ts = { 0, 1000000 };

  pthread_spin_init (&spin, PTHREAD_PROCESS_PRIVATE);
  pthread_barrier_init (&barrier, NULL, 3);
  for (long i = 0; i < 3; i++)
    pthread_create (&t[i], NULL, busy_thread, (void *) i);
  for (int i = 0; i < 3; i++)
    pthread_join (t[i], NULL);
  nanosleep (&ts, NULL);
  printf ("total %ld\n", busy_total);
  exit (3);
}

/* clone(2) through glibc's wrapper, one of each kind the agent tells apart
 * (agent/weft-hooks-process.c). Every child takes clone_mutex
 * CLONE_CHILD_LOCKS times; main (and, for the CLONE_SETTLS child, the
 * thread that made it) takes it CLONE_OWN_LOCKS times between children.
 * The raw thread takes a mutex of its own CLONE_THREAD_LOCKS times while
 * main takes clone_mutex CLONE_SHARED_LOCKS times (two mutexes: an unfair
 * one shared by two tight loops can starve one of them); it returns only
 * once main is done, so all of main's are taken while it lives. */
#define CLONE_STACK_BYTES (256 * 1024)
#define CLONE_CHILD_LOCKS 1000
#define CLONE_OWN_LOCKS 10
#define CLONE_THREAD_LOCKS 100000
#define CLONE_SHARED_LOCKS 20000
#define CLONE_TLS_BELOW (64 * 1024)

static pthread_mutex_t clone_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t clone_thread_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int clone_main_done;

static void
lock_n (pthread_mutex_t *m,
        int              n)
{
  for (int i = 0; i < n; i++)
    {
      pthread_mutex_lock (m);
      pthread_mutex_unlock (m);
    }
}

static void
clone_lock_n (int n)
{
  lock_n (&clone_mutex, n);
}

static char *
clone_stack (void)
{
  char *p = mmap (NULL, CLONE_STACK_BYTES, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

  if (p == MAP_FAILED)
    exit (1);
  return p + CLONE_STACK_BYTES;
}

/* data: the exit status. */
static int
clone_child (void *data)
{
  clone_lock_n (CLONE_CHILD_LOCKS);
  return (int) (intptr_t) data;
}

static int
clone_thread_task (void *data)
{
  struct timespec nap = { 0, 1000000 };

  lock_n (&clone_thread_mutex, CLONE_THREAD_LOCKS);
  nanosleep (&nap, NULL);
  while (!atomic_load (&clone_main_done))
    nanosleep (&nap, NULL);
  return 0;
}

/* Runs a child made with `flags` (plus SIGCHLD) and tls, reaps it, prints
 * `what STATUS`. */
static void
clone_reap (const char *what,
            int         flags,
            void       *tls,
            int         status)
{
  pid_t pid = clone (clone_child, clone_stack (), flags | SIGCHLD,
                     (void *) (intptr_t) status, NULL, tls, NULL);
  int st = 0;

  if (pid < 0 || waitpid (pid, &st, 0) != pid)
    printf ("%s failed\n", what);
  else
    printf ("%s %d\n", what, WIFEXITED (st) ? WEXITSTATUS (st) : -1);
}

/* A CLONE_VM child on a TLS block of its own, made the way a thread library
 * would (x86-64 only: elsewhere the line is printed without it): a copy of
 * this thread's static TLS and TCB, the TCB's self pointers moved. The copy
 * holds this thread's agent state, slot included. */
static void *
clone_settls_runner (void *data)
{
  clone_lock_n (CLONE_OWN_LOCKS);
#if defined (__x86_64__)
  {
    pthread_attr_t attr;
    void *low;
    size_t size, above, bytes;
    uint8_t *tp = __builtin_thread_pointer (), *copy, *new_tp;

    pthread_getattr_np (pthread_self (), &attr);
    pthread_attr_getstack (&attr, &low, &size);
    pthread_attr_destroy (&attr);
    above = (size_t) ((uint8_t *) low + size - tp);
    bytes = CLONE_TLS_BELOW + above;
    copy = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED)
      exit (1);
    memcpy (copy, tp - CLONE_TLS_BELOW, bytes);
    new_tp = copy + CLONE_TLS_BELOW;
    ((void **) new_tp)[0] = new_tp;             /* tcbhead_t.tcb */
    ((void **) new_tp)[2] = new_tp;             /* tcbhead_t.self */
    clone_reap ("settls", CLONE_VM | CLONE_SETTLS, new_tp, 6);
  }
#else
  printf ("settls 6\n");
#endif
  clone_lock_n (CLONE_OWN_LOCKS);
  return NULL;
}

static int
scenario_clone (void)
{
  static volatile pid_t clear_tid = -1;
  pthread_t runner;
  pid_t tid;

  clone_lock_n (CLONE_OWN_LOCKS);
  clone_reap ("process", 0, NULL, 3);
  clone_lock_n (CLONE_OWN_LOCKS);
  clone_reap ("vm-vfork", CLONE_VM | CLONE_VFORK, NULL, 4);
  clone_lock_n (CLONE_OWN_LOCKS);
  clone_reap ("vm-process", CLONE_VM, NULL, 5);
  clone_lock_n (CLONE_OWN_LOCKS);
#if defined (__x86_64__)
  clone_reap ("settls-own", CLONE_VM | CLONE_SETTLS, __builtin_thread_pointer (), 7);
#else
  printf ("settls-own 7\n");
#endif
  clone_lock_n (CLONE_OWN_LOCKS);

  /* A raw thread on main's TLS, both locking at once. */
  tid = clone (clone_thread_task, clone_stack (),
               CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
               | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID,
               NULL, NULL, NULL, &clear_tid);
  clone_lock_n (CLONE_SHARED_LOCKS);
  atomic_store (&clone_main_done, 1);
  for (pid_t v; (v = clear_tid) != 0;)
    syscall (SYS_futex, &clear_tid, FUTEX_WAIT, v, NULL, NULL, 0);
  printf ("thread %d\n", tid > 0);
  clone_lock_n (CLONE_OWN_LOCKS);

  pthread_create (&runner, NULL, clone_settls_runner, NULL);
  pthread_join (runner, NULL);

  errno = 0;
  tid = clone (NULL, clone_stack (), SIGCHLD, NULL);
  printf ("null-fn %d %s\n", (int) tid, err_name (errno));
  return 0;
}

int
main (int    argc,
      char **argv)
{
  const char *what = argc > 1 ? argv[1] : "";

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (strcmp (what, "errorcheck") == 0)
    return scenario_errorcheck ();
  if (strcmp (what, "recursive") == 0)
    return scenario_recursive ();
  if (strcmp (what, "robust") == 0)
    return scenario_robust ();
  if (strcmp (what, "timeouts") == 0)
    return scenario_timeouts ();
  if (strcmp (what, "cancel") == 0)
    return scenario_cancel ();
  if (strcmp (what, "fork") == 0)
    return scenario_fork ();
  if (strcmp (what, "signal") == 0)
    return scenario_signal ();
  if (strcmp (what, "exec") == 0)
    return scenario_exec (argv[0]);
  if (strcmp (what, "exec-child") == 0)
    return scenario_exec_child ();
  if (strcmp (what, "threads") == 0)
    return scenario_threads ();
  if (strcmp (what, "clone") == 0)
    return scenario_clone ();
  fprintf (stderr, "agent-helper: unknown scenario '%s'\n", what);
  return 2;
}
