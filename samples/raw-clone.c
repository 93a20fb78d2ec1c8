/* raw-clone — tasks made with clone(2) directly, without pthread_create or
 * fork, so no library hears of them: only the agent's own clone wrapper.
 *
 * Usage: raw-clone [BURN_MS=100] [STATUS=4]
 *
 * 1. A thread: clone with CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|
 *    CLONE_THREAD|CLONE_SYSVSEM on a stack of its own. It shares the
 *    creator's TLS (no CLONE_SETTLS), so it burns BURN_MS of CPU with raw
 *    syscalls, takes the mutex `counted` thread_locks times and sleeps once
 *    through libc's nanosleep (both wrapped by the agent, which must record
 *    neither: a task that is not a pthread and shares main's thread state
 *    must never write main's slot). `main` waits for its end on the
 *    CLONE_CHILD_CLEARTID futex.
 * 2. A process: clone with SIGCHLD only, like fork but without the atfork
 *    handlers. The child burns BURN_MS, takes `counted` child_locks times
 *    (its copy of it), sleeps once through nanosleep and exits with STATUS;
 *    `main` reaps it. The agent makes it a traced process of its own.
 * Then `main` takes `counted` parent_locks times and makes `worker` wait
 *    once for a mutex it holds (a contended wait, see sample.h): the agent
 *    still records normally.
 *
 * The trace must show: 2 processes; the raw thread (clone_thread_tid) in
 * this process with about BURN_MS on the CPUs, no waits and no lock
 * counts; the child (clone_child_pid) under this process, instrumented,
 * with this program's command, exit status STATUS, about BURN_MS on the
 * CPUs, child_sleeps 'sleep' waits and child_locks acquisitions of its
 * `counted`; `main` with parent_locks acquisitions of `counted` (not one
 * more); one 'mutex' wait by `worker` with holder `main`.
 */
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sample.h"

#define STACK_BYTES (256 * 1024)
#define THREAD_LOCKS 500
#define CHILD_LOCKS 1000
#define CHILD_SLEEPS 1
#define PARENT_LOCKS 100

static pthread_mutex_t counted = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long burn_ms, status;
static atomic_int announced, done;
static pid_t worker_tid;

static char *
new_stack (void)
{
  char *p = mmap (NULL, STACK_BYTES, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

  if (p == MAP_FAILED)
    exit (1);
  return p;
}

/* CPU time of the calling task, by raw syscall (no errno, no TLS). */
static int64_t
task_cpu_ns (void)
{
  struct timespec ts;

  syscall (SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
burn (void)
{
  int64_t start_ns = task_cpu_ns ();

  while (task_cpu_ns () - start_ns < burn_ms * 1000000)
    ;
}

static int
thread_task (void *data)
{
  struct timespec nap = { 0, 10000000 };

  burn ();
  for (int i = 0; i < THREAD_LOCKS; i++)
    {
      pthread_mutex_lock (&counted);              /* main is on the futex meanwhile */
      pthread_mutex_unlock (&counted);
    }
  nanosleep (&nap, NULL);                         /* through the agent's wrapper */
  return 0;                                       /* glibc's clone: SYS_exit */
}

static int
process_task (void *data)
{
  struct timespec nap = { 0, 10000000 };

  burn ();
  for (int i = 0; i < CHILD_LOCKS; i++)
    {
      pthread_mutex_lock (&counted);
      pthread_mutex_unlock (&counted);
    }
  for (int i = 0; i < CHILD_SLEEPS; i++)
    nanosleep (&nap, NULL);
  return (int) status;                            /* the process's exit status */
}

static void *
worker_main (void *data)
{
  sample_name_self ("worker");
  worker_tid = gettid ();
  sample_announce (&announced);
  pthread_mutex_lock (&lock);                     /* blocks: main holds it */
  pthread_mutex_unlock (&lock);
  atomic_store (&done, 1);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[BURN_MS=100] [STATUS=4]";
  char *thread_stack = new_stack ();
  char *process_stack = new_stack ();
  static volatile pid_t clear_tid = -1;         /* zeroed by the kernel at the end */
  pthread_t worker;
  pid_t child, tid;
  int child_status = 0;

  burn_ms = sample_arg (argc, argv, 1, 100, 1, 60000, usage);
  status = sample_arg (argc, argv, 2, 4, 0, 255, usage);
  sample_name_self ("main");

  tid = clone (thread_task, thread_stack + STACK_BYTES,
               CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM
               | CLONE_CHILD_CLEARTID,
               NULL, NULL, NULL, &clear_tid);
  if (tid < 0)
    {
      perror ("clone");
      return 1;
    }
  /* The kernel zeroes clear_tid and wakes its futex when the task ends. */
  for (pid_t v; (v = clear_tid) != 0;)
    syscall (SYS_futex, &clear_tid, FUTEX_WAIT, v, NULL, NULL, 0);

  fflush (stdout);
  child = clone (process_task, process_stack + STACK_BYTES, SIGCHLD, NULL);
  if (child < 0)
    {
      perror ("clone");
      return 1;
    }
  if (waitpid (child, &child_status, 0) != child || !WIFEXITED (child_status))
    {
      fprintf (stderr, "raw-clone: the child did not exit\n");
      return 1;
    }

  for (int i = 0; i < PARENT_LOCKS; i++)
    {
      pthread_mutex_lock (&counted);
      pthread_mutex_unlock (&counted);
    }

  pthread_mutex_lock (&lock);
  pthread_create (&worker, NULL, worker_main, NULL);
  while (worker_tid == 0)
    sample_sleep_ms (1);
  sample_await_blocked (worker_tid, &announced, &done);
  pthread_mutex_unlock (&lock);
  pthread_join (worker, NULL);

  printf ("expect processes 2\n");
  printf ("expect clone_thread_tid %d\n", (int) tid);
  printf ("expect clone_child_pid %d\n", (int) child);
  printf ("expect clone_child_status %d\n", WEXITSTATUS (child_status));
  printf ("expect burn_ms %ld\n", burn_ms);
  printf ("expect thread_locks %d\n", THREAD_LOCKS);
  printf ("expect child_locks %d\n", CHILD_LOCKS);
  printf ("expect child_sleeps %d\n", CHILD_SLEEPS);
  printf ("expect parent_locks %d\n", PARENT_LOCKS);
  printf ("expect contended_waits 1\n");
  printf ("A raw clone thread and a raw clone process each burned %ld ms.\n", burn_ms);
  return 0;
}
