/* lock-heavy — two threads hammer one mutex (the overhead benchmark).
 *
 * Usage: lock-heavy [ITERATIONS=1000000] [THREADS=2]
 *
 * Each of `hammer-1` … `hammer-T` does ITERATIONS lock/unlock pairs on one
 * shared mutex, with a few dozen nanoseconds of private arithmetic between
 * pairs and a shared counter bumped inside, so the lock is contended often
 * but not always. The program checks the counter and prints the wall time.
 *
 * The trace must show: acquisitions (ITERATIONS × THREADS) successful locks
 * of one mutex in object_stats, contended or not, and zero lost events; the
 * number of contended waits is whatever it is (it varies from run to run).
 * Benchmarks compare elapsed_ms under `weft record` with a plain run.
 */
#include "sample.h"

#define MAX_THREADS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long n_iterations;
static long counter;
static uint64_t sink[MAX_THREADS];

static __attribute__((noinline)) void *
hammer_main (void *data)
{
  int index = (int) (intptr_t) data;
  uint64_t x = index + 1;
  char name[32];

  snprintf (name, sizeof name, "hammer-%d", index + 1);
  sample_name_self (name);
  for (long i = 0; i < n_iterations; i++)
    {
      pthread_mutex_lock (&lock);
      counter++;
      pthread_mutex_unlock (&lock);
      for (int j = 0; j < 20; j++)            /* a little work outside */
        x = x * 6364136223846793005u + 1442695040888963407u;
    }
  sink[index] = x;
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[ITERATIONS=1000000] [THREADS=2]";
  pthread_t threads[MAX_THREADS];
  int64_t start_ns, elapsed_ns;
  int n_threads;

  n_iterations = sample_arg (argc, argv, 1, 1000000, 1, 1000000000, usage);
  n_threads = sample_arg (argc, argv, 2, 2, 1, MAX_THREADS, usage);
  sample_name_self ("main");

  start_ns = sample_now_ns ();
  for (int i = 0; i < n_threads; i++)
    pthread_create (&threads[i], NULL, hammer_main, (void *) (intptr_t) i);
  for (int i = 0; i < n_threads; i++)
    pthread_join (threads[i], NULL);
  elapsed_ns = sample_now_ns () - start_ns;

  if (counter != n_iterations * n_threads)
    {
      fprintf (stderr, "lock-heavy: counter %ld, expected %ld\n",
               counter, n_iterations * n_threads);
      return 1;
    }
  printf ("expect threads %d\n", n_threads);
  printf ("expect acquisitions %ld\n", counter);
  printf ("expect elapsed_ms %ld\n", sample_ms (0, elapsed_ns));
  printf ("%d threads did %ld lock/unlock pairs on one mutex in %ld ms.\n",
          n_threads, counter, sample_ms (0, elapsed_ns));
  return 0;
}
