/* pshared-mutex — one process-shared mutex, contended by a parent and its
 * forked child.
 *
 * Usage: pshared-mutex [ROUNDS=3] [ITERATIONS=100000]
 *
 * The mutex (PTHREAD_PROCESS_SHARED) lives in MAP_SHARED memory, so after
 * the fork both processes see it at the same address. First ROUNDS rounds
 * in turn: the parent's `main` holds it until it has seen the child's
 * `c-main` asleep on it (sample-process.h), then the other way round; each
 * process thus has at least ROUNDS contended waits, whose holder is the
 * other process's main thread. Then both hammer it ITERATIONS times each,
 * incrementing a plain counter in the shared memory inside the lock; each
 * trylock that fails first counts as possible contention (<side>_busy).
 *
 * The sample checks mutual exclusion itself: if the counter is not 2 ×
 * ITERATIONS (or the child failed), it says so on stderr and exits 1.
 *
 * The trace must show: 2 processes, both exiting 0; in each, between
 * ROUNDS and ROUNDS + <side>_busy 'mutex' waits by its main thread, all on
 * the one object of that process at lock_address; <side>_acquisitions
 * acquisitions of it counted in object_stats.
 */
#include <sys/wait.h>

#include "sample-process.h"

enum { PARENT, CHILD };

typedef struct
{
  pthread_mutex_t lock;
  pid_t           pid[2];
  atomic_int      announced[2];
  atomic_int      held_phase;       /* phase k+1: the holder of phase k has it */
  atomic_int      done_phase;       /* phase k+1: the waiter of phase k got it */
  atomic_long     busy[2];          /* failed trylocks while hammering */
  long            acquisitions[2];
  volatile long   counter;          /* only ever touched under the lock */
} Shared;

static Shared *shared;

/* Phase k: the parent holds when k is even, the child when k is odd. */
static void
hold (int me,
      int phase)
{
  int other = 1 - me;

  pthread_mutex_lock (&shared->lock);
  shared->acquisitions[me]++;
  atomic_store (&shared->held_phase, phase + 1);
  sample_await_task_blocked (shared->pid[other], shared->pid[other], &shared->announced[other]);
  pthread_mutex_unlock (&shared->lock);
  sample_await_at_least (&shared->done_phase, phase + 1);
}

static __attribute__((noinline)) void
wait_for_other (int me,
                int phase)
{
  sample_await_at_least (&shared->held_phase, phase + 1);
  sample_announce (&shared->announced[me]);
  pthread_mutex_lock (&shared->lock);             /* blocks: the other holds it */
  atomic_store (&shared->announced[me], 0);
  shared->acquisitions[me]++;
  pthread_mutex_unlock (&shared->lock);
  atomic_store (&shared->done_phase, phase + 1);
}

/* Increments the shared counter under the lock; a torn read-modify-write
 * shows as a lost increment. */
static void
hammer (int  me,
        long iterations)
{
  for (long i = 0; i < iterations; i++)
    {
      if (pthread_mutex_trylock (&shared->lock) != 0)
        {
          atomic_fetch_add (&shared->busy[me], 1);
          pthread_mutex_lock (&shared->lock);
        }
      shared->acquisitions[me]++;
      shared->counter = shared->counter + 1;
      pthread_mutex_unlock (&shared->lock);
    }
}

static void
run_side (int  me,
          long rounds,
          long iterations)
{
  for (int phase = 0; phase < 2 * rounds; phase++)
    {
      if ((phase % 2 == 0) == (me == PARENT))
        hold (me, phase);
      else
        wait_for_other (me, phase);
    }
  hammer (me, iterations);
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[ROUNDS=3] [ITERATIONS=100000]";
  long rounds = sample_arg (argc, argv, 1, 3, 1, 1000, usage);
  long iterations = sample_arg (argc, argv, 2, 100000, 0, 100000000, usage);
  pthread_mutexattr_t attr;
  pid_t child;
  int status;

  sample_name_self ("main");
  shared = sample_shared_alloc (sizeof *shared);
  pthread_mutexattr_init (&attr);
  if (pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED) != 0)
    return 1;
  pthread_mutex_init (&shared->lock, &attr);
  pthread_mutexattr_destroy (&attr);
  shared->pid[PARENT] = getpid ();

  fflush (stdout);
  child = fork ();
  if (child < 0)
    return 1;
  if (child == 0)
    {
      sample_name_self ("c-main");
      shared->pid[CHILD] = getpid ();
      run_side (CHILD, rounds, iterations);
      _exit (0);
    }
  shared->pid[CHILD] = child;       /* either side may set it first */
  run_side (PARENT, rounds, iterations);
  if (waitpid (child, &status, 0) != child || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      fprintf (stderr, "pshared-mutex: the child failed (status 0x%x)\n", status);
      return 1;
    }
  if (shared->counter != 2 * iterations)
    {
      fprintf (stderr, "pshared-mutex: mutual exclusion broken: counter %ld, expected %ld\n",
               shared->counter, 2 * iterations);
      return 1;
    }

  printf ("expect processes 2\n");
  printf ("expect rounds %ld\n", rounds);
  printf ("expect counter %ld\n", shared->counter);
  printf ("expect lock_address %lu\n", (unsigned long) (uintptr_t) &shared->lock);
  printf ("expect parent_busy %ld\n", atomic_load (&shared->busy[PARENT]));
  printf ("expect child_busy %ld\n", atomic_load (&shared->busy[CHILD]));
  printf ("expect parent_acquisitions %ld\n", shared->acquisitions[PARENT]);
  printf ("expect child_acquisitions %ld\n", shared->acquisitions[CHILD]);
  printf ("expect child_pid %d\n", (int) child);
  printf ("A parent and its child took one process-shared mutex %ld times, never together.\n",
          shared->acquisitions[PARENT] + shared->acquisitions[CHILD]);
  return 0;
}
