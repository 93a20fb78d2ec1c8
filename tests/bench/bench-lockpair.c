/* bench-lockpair — the cost of one uncontended pthread_mutex_lock + unlock
 * pair, with a second thread alive (glibc takes single-threaded shortcuts
 * otherwise). Prints `ns_per_pair N.NN`: the best of several rounds, so a
 * noisy neighbour inflates it as little as possible.
 *
 * Usage: bench-lockpair [PAIRS_PER_ROUND=5000000]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 7

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int done;

static double
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The second thread: alive, asleep on a condition variable. */
static void *
idle_main (void *data)
{
  pthread_mutex_lock (&idle_lock);
  while (!done)
    pthread_cond_wait (&idle_cond, &idle_lock);
  pthread_mutex_unlock (&idle_lock);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  long pairs = argc > 1 ? atol (argv[1]) : 5000000;
  double best = 1e30;
  pthread_t idle;

  if (pairs <= 0)
    {
      fprintf (stderr, "usage: %s [PAIRS_PER_ROUND]\n", argv[0]);
      return 2;
    }
  pthread_create (&idle, NULL, idle_main, NULL);
  for (int round = 0; round < ROUNDS; round++)
    {
      double start = now_ns ();

      for (long i = 0; i < pairs; i++)
        {
          pthread_mutex_lock (&lock);
          __asm__ volatile ("" ::: "memory");
          pthread_mutex_unlock (&lock);
        }
      if ((now_ns () - start) / pairs < best)
        best = (now_ns () - start) / pairs;
    }
  pthread_mutex_lock (&idle_lock);
  done = 1;
  pthread_cond_signal (&idle_cond);
  pthread_mutex_unlock (&idle_lock);
  pthread_join (idle, NULL);
  printf ("ns_per_pair %.2f\n", best);
  return 0;
}
