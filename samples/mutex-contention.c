/* mutex-contention — N threads block on a mutex that one thread holds.
 *
 * Usage: mutex-contention [WAITERS=2] [HOLD_MS=100]
 *
 * The thread `holder` locks the mutex, then meets the WAITERS threads
 * `waiter-1` … `waiter-N` at a barrier, sleeps HOLD_MS and unlocks, but only
 * after it has seen every waiter asleep in pthread_mutex_lock (sample.h). Each
 * waiter calls pthread_mutex_lock once, from waiter_main, and releases at once.
 *
 * The trace must show: exactly WAITERS contended mutex waits (kind 'mutex'),
 * one per waiter thread, each lasting about HOLD_MS (between wait_ms and
 * wait_ms_max, as the waiters measured them), the holder of each being the
 * thread `holder`, the innermost frame of each wait's stack being
 * waiter_main, and no contended wait by `holder`.
 */
#include "sample.h"

#define MAX_WAITERS 64

typedef struct
{
  int        index;
  pid_t      tid;
  atomic_int announced;
  int64_t    wait_ns;
} Waiter;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static Waiter waiters[MAX_WAITERS];
static int n_waiters;
static long hold_ms;
static int64_t held_ns;

static void *
holder_main (void *data)
{
  int64_t locked_ns;

  sample_name_self ("holder");
  pthread_mutex_lock (&lock);
  locked_ns = sample_now_ns ();
  pthread_barrier_wait (&start);
  sample_sleep_ms (hold_ms);
  for (int i = 0; i < n_waiters; i++)
    sample_await_blocked (waiters[i].tid, &waiters[i].announced, NULL);
  held_ns = sample_now_ns () - locked_ns;
  pthread_mutex_unlock (&lock);
  return NULL;
}

/* Not inlined: the trace's stacks must name it. */
static __attribute__((noinline)) void *
waiter_main (void *data)
{
  Waiter *self = data;
  char name[32];
  int64_t start_ns;

  snprintf (name, sizeof name, "waiter-%d", self->index + 1);
  sample_name_self (name);
  self->tid = gettid ();
  pthread_barrier_wait (&start);

  sample_announce (&self->announced);
  start_ns = sample_now_ns ();
  pthread_mutex_lock (&lock);             /* blocks: `holder` has it */
  self->wait_ns = sample_now_ns () - start_ns;
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[WAITERS=2] [HOLD_MS=100]";
  pthread_t holder, threads[MAX_WAITERS];
  int64_t min_ns = INT64_MAX, max_ns = 0;

  n_waiters = sample_arg (argc, argv, 1, 2, 1, MAX_WAITERS, usage);
  hold_ms = sample_arg (argc, argv, 2, 100, 1, 60000, usage);
  sample_name_self ("main");

  pthread_barrier_init (&start, NULL, n_waiters + 1);
  pthread_create (&holder, NULL, holder_main, NULL);
  for (int i = 0; i < n_waiters; i++)
    {
      waiters[i].index = i;
      pthread_create (&threads[i], NULL, waiter_main, &waiters[i]);
    }
  pthread_join (holder, NULL);
  for (int i = 0; i < n_waiters; i++)
    {
      pthread_join (threads[i], NULL);
      if (waiters[i].wait_ns < min_ns)
        min_ns = waiters[i].wait_ns;
      if (waiters[i].wait_ns > max_ns)
        max_ns = waiters[i].wait_ns;
    }

  printf ("expect contended_waits %d\n", n_waiters);
  printf ("expect holder_thread holder\n");
  printf ("expect waiter_function waiter_main\n");
  printf ("expect hold_ms %ld\n", sample_ms (0, held_ns));
  printf ("expect wait_ms %ld\n", sample_ms (0, min_ns));
  printf ("expect wait_ms_max %ld\n", sample_ms (0, max_ns));
  printf ("%d threads each waited about %ld ms for the mutex held by 'holder'.\n",
          n_waiters, sample_ms (0, min_ns));
  pthread_barrier_destroy (&start);
  return 0;
}
