/* fork-kill — a threaded process forks, its child takes locks, and both
 * die of SIGKILL in the middle of a wait.
 *
 * Usage: fork-kill [ROUNDS=3]
 *
 * In each process a `worker` thread blocks ROUNDS times on a mutex that the
 * process's main thread holds until it has seen the worker asleep on it (a
 * contended wait each time, see sample.h). The parent does its rounds with
 * its worker alive, then forks while that worker still lives; the child
 * starts its own worker and does its rounds on a fresh mutex. Then each main
 * thread takes its mutex once more and keeps it: the child tells the parent
 * its worker is blocked and waits; the parent, with its own worker blocked
 * too, kills the child and then itself with SIGKILL. Nobody exits normally.
 *
 * The trace must show: 2 processes, the child's parent the root; in each,
 * exactly ROUNDS finished 'mutex' waits by the thread `worker` (parent) or
 * `c-worker` (child) with holder `main` or `c-main` (the unfinished waits
 * are not in it); both processes ended by signal 9, and `weft record`
 * returning 137.
 */
#include <signal.h>
#include <sys/wait.h>

#include "sample.h"

typedef struct
{
  pthread_mutex_t   lock;
  pthread_barrier_t round_start;
  pid_t             worker_tid;
  atomic_int        announced;
  atomic_int        finished;
} Pair;

static Pair pair;

static void
pair_init (void)
{
  pthread_mutex_init (&pair.lock, NULL);
  pthread_barrier_init (&pair.round_start, NULL, 2);
  pair.worker_tid = 0;
  atomic_store (&pair.announced, 0);
  atomic_store (&pair.finished, 0);
}

static __attribute__((noinline)) void *
worker_main (void *data)
{
  sample_name_self (data);
  pair.worker_tid = gettid ();
  for (;;)
    {
      pthread_barrier_wait (&pair.round_start);   /* main holds the lock now */
      sample_announce (&pair.announced);
      pthread_mutex_lock (&pair.lock);            /* blocks */
      atomic_store (&pair.announced, 0);
      pthread_mutex_unlock (&pair.lock);
      atomic_fetch_add (&pair.finished, 1);
    }
  return NULL;
}

/* One round: hold the lock until the worker is blocked on it; let go only
 * when release (and then wait for the worker to finish its wait). */
static void
hold_round (int release)
{
  int before = atomic_load (&pair.finished);

  pthread_mutex_lock (&pair.lock);
  pthread_barrier_wait (&pair.round_start);
  sample_await_blocked (pair.worker_tid, &pair.announced, NULL);
  if (!release)
    return;
  pthread_mutex_unlock (&pair.lock);
  while (atomic_load (&pair.finished) == before)
    sample_sleep_ms (1);
}

/* ROUNDS finished waits, then one that never finishes. */
static void
contend (const char *worker_name,
         long        rounds)
{
  pthread_t worker;

  pthread_create (&worker, NULL, worker_main, (void *) worker_name);
  for (long i = 0; i < rounds; i++)
    hold_round (1);
  hold_round (0);
}

static void
child_main (long rounds,
            int  ready_fd)
{
  sample_name_self ("c-main");
  pair_init ();
  contend ("c-worker", rounds);
  if (write (ready_fd, "r", 1) != 1)
    _exit (1);
  for (;;)
    pause ();                                     /* until SIGKILL */
}

int
main (int    argc,
      char **argv)
{
  long rounds = sample_arg (argc, argv, 1, 3, 1, 1000, "[ROUNDS=3]");
  int ready[2];
  char byte;
  pid_t child;

  sample_name_self ("main");
  if (pipe (ready) != 0)
    return 1;
  pair_init ();
  contend ("worker", rounds);                     /* returns holding the lock */

  fflush (stdout);
  child = fork ();                                /* `worker` is alive, blocked */
  if (child < 0)
    return 1;
  if (child == 0)
    child_main (rounds, ready[1]);
  if (read (ready[0], &byte, 1) != 1)
    return 1;

  printf ("expect processes 2\n");
  printf ("expect parent_waits %d\n", atomic_load (&pair.finished));
  printf ("expect child_waits %ld\n", rounds);
  printf ("expect exit_signal %d\n", SIGKILL);
  printf ("Both processes die of SIGKILL while a worker waits for a mutex.\n");
  fflush (stdout);
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  raise (SIGKILL);
  return 1;
}
