/* exit-status — contended waits, then an exit with a status, a SIGKILL or a
 * crash.
 *
 * Usage: exit-status [STATUS=7] [--kill|--segv]
 *
 * `main` starts `worker`, then twice holds a mutex for HOLD_MS while `worker`
 * blocks on it (a contended wait each time, see sample.h). Then:
 * - by default `main` calls exit(STATUS) while `worker` still lives, asleep
 *   in pause();
 * - with --kill, `main` takes the mutex a third time, waits until `worker` is
 *   blocked on it, prints its expect lines and kills the process with
 *   SIGKILL, so that wait never ends and nothing is cleaned up;
 * - with --segv, the same, but `main` dies of a store through a NULL
 *   pointer (SIGSEGV; no core file: RLIMIT_CORE is set to 0 first).
 *
 * The trace must show: exactly 2 finished contended 'mutex' waits by `worker`
 * with holder `main`; the process ended with exit_status 7 (or the STATUS
 * given), or with exit_signal 9 (11) and the two waits still in the trace;
 * `weft record` returning the same status (128 + the signal when killed).
 */
#include <signal.h>
#include <sys/resource.h>

#include "sample.h"

#define ROUNDS 2
#define HOLD_MS 20

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t round_start;
static pid_t worker_tid;
static atomic_int worker_announced;
static atomic_int finished_waits;

static __attribute__((noinline)) void *
worker_main (void *data)
{
  sample_name_self ("worker");
  worker_tid = gettid ();
  for (;;)
    {
      pthread_barrier_wait (&round_start);  /* `main` holds the lock now */
      sample_announce (&worker_announced);
      pthread_mutex_lock (&lock);           /* blocks */
      atomic_store (&worker_announced, 0);
      pthread_mutex_unlock (&lock);
      atomic_fetch_add (&finished_waits, 1);
      if (atomic_load (&finished_waits) == ROUNDS && data == NULL)
        break;
    }
  for (;;)
    pause ();                               /* alive when `main` exits */
  return NULL;
}

/* Dies of SIGSEGV the way a buggy program does, without leaving a core. */
static void
crash (void)
{
  struct rlimit no_core = { 0, 0 };
  volatile int *nowhere = NULL;

  setrlimit (RLIMIT_CORE, &no_core);
  *nowhere = 1;
}

/* One round: `main` holds the lock until `worker` is blocked on it. When
 * release is FALSE it never lets go. */
static void
hold_round (int release)
{
  pthread_mutex_lock (&lock);
  pthread_barrier_wait (&round_start);
  sample_sleep_ms (HOLD_MS);
  sample_await_blocked (worker_tid, &worker_announced, NULL);
  if (release)
    pthread_mutex_unlock (&lock);
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[STATUS=7] [--kill|--segv]";
  int segv = argc > 1 && strcmp (argv[argc - 1], "--segv") == 0;
  int kill_self = segv || (argc > 1 && strcmp (argv[argc - 1], "--kill") == 0);
  pthread_t worker;
  long status;

  status = sample_arg (argc - kill_self, argv, 1, 7, 0, 255, usage);
  sample_name_self ("main");
  pthread_barrier_init (&round_start, NULL, 2);
  pthread_create (&worker, NULL, worker_main, kill_self ? &worker : NULL);

  for (int i = 0; i < ROUNDS; i++)
    {
      hold_round (1);
      while (atomic_load (&finished_waits) <= i)
        sample_sleep_ms (1);
    }
  printf ("expect contended_waits %d\n", atomic_load (&finished_waits));
  printf ("expect waiter_thread worker\n");
  printf ("expect holder_thread main\n");
  if (kill_self)
    {
      hold_round (0);
      printf ("expect unfinished_waits 1\n");
      printf ("expect exit_signal %d\n", segv ? SIGSEGV : SIGKILL);
      printf ("Dying of %s while 'worker' waits for the mutex.\n", segv ? "SIGSEGV" : "SIGKILL");
      fflush (stdout);
      if (segv)
        crash ();
      raise (SIGKILL);
    }
  printf ("expect exit_status %ld\n", status);
  printf ("Exiting with status %ld while 'worker' still runs.\n", status);
  exit ((int) status);
}
