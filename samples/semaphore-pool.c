/* semaphore-pool — a counting semaphore lets K of N workers in at a time.
 *
 * Usage: semaphore-pool [WORKERS=6] [SLOTS=2] [HOLD_MS=30]
 *
 * The semaphore starts at SLOTS. `worker-1` … `worker-K` (K = SLOTS) take a
 * slot before the start barrier, so the count is 0 when the other workers
 * call sem_wait after it: each of those blocks. Every worker holds its slot
 * HOLD_MS; the first K let go only once they have seen every other worker
 * asleep in sem_wait (sample.h). Workers count who was inside at once.
 *
 * The trace must show: sem_waits calls of sem_wait, of which exactly
 * blocked_sem_waits ('sem' waits, WORKERS - SLOTS) blocked, all by
 * `worker-K+1` … `worker-N`, on one semaphore object; the first of them
 * lasting about HOLD_MS; never more than max_in_use workers inside.
 */
#include <semaphore.h>

#include "sample.h"

#define MAX_WORKERS 64

typedef struct
{
  int        index;
  pid_t      tid;
  atomic_int announced;
  atomic_int done;
} Worker;

static sem_t slots;
static pthread_barrier_t start;
static Worker workers[MAX_WORKERS];
static int n_workers, n_slots;
static long hold_ms;
static atomic_int inside, max_inside, sem_calls, blocking_calls;

static void
use_slot (void)
{
  int now = atomic_fetch_add (&inside, 1) + 1;
  int seen = atomic_load (&max_inside);

  while (now > seen && !atomic_compare_exchange_weak (&max_inside, &seen, now))
    ;
  sample_sleep_ms (hold_ms);
  atomic_fetch_sub (&inside, 1);
}

static __attribute__((noinline)) void *
worker_main (void *data)
{
  Worker *self = data;
  int first = self->index < n_slots;
  char name[32];

  snprintf (name, sizeof name, "worker-%d", self->index + 1);
  sample_name_self (name);
  self->tid = gettid ();
  if (first)
    {
      atomic_fetch_add (&sem_calls, 1);
      sem_wait (&slots);                    /* a free slot: does not block */
    }
  pthread_barrier_wait (&start);
  if (!first)
    {
      atomic_fetch_add (&sem_calls, 1);
      atomic_fetch_add (&blocking_calls, 1);
      sample_announce (&self->announced);
      sem_wait (&slots);                    /* blocks: every slot is taken */
      atomic_store (&self->done, 1);
      use_slot ();
    }
  else
    {
      use_slot ();
      for (int i = n_slots; i < n_workers; i++)
        sample_await_blocked (workers[i].tid, &workers[i].announced, &workers[i].done);
    }
  sem_post (&slots);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[WORKERS=6] [SLOTS=2] [HOLD_MS=30]";
  pthread_t threads[MAX_WORKERS];

  n_workers = sample_arg (argc, argv, 1, 6, 2, MAX_WORKERS, usage);
  n_slots = sample_arg (argc, argv, 2, 2, 1, n_workers - 1, usage);
  hold_ms = sample_arg (argc, argv, 3, 30, 1, 60000, usage);
  sample_name_self ("main");

  sem_init (&slots, 0, n_slots);
  pthread_barrier_init (&start, NULL, n_workers);
  for (int i = 0; i < n_workers; i++)
    {
      workers[i].index = i;
      pthread_create (&threads[i], NULL, worker_main, &workers[i]);
    }
  for (int i = 0; i < n_workers; i++)
    pthread_join (threads[i], NULL);

  printf ("expect workers %d\n", n_workers);
  printf ("expect slots %d\n", n_slots);
  printf ("expect sem_waits %d\n", atomic_load (&sem_calls));
  printf ("expect blocked_sem_waits %d\n", atomic_load (&blocking_calls));
  printf ("expect max_in_use %d\n", atomic_load (&max_inside));
  printf ("%d workers shared %d slots: %d of their sem_wait calls blocked.\n",
          n_workers, n_slots, atomic_load (&blocking_calls));
  return 0;
}
