/* cpu-parallel — T threads burn CPU with nothing shared: true parallelism.
 *
 * Usage: cpu-parallel [THREADS=2] [CPU_MS=200]
 *
 * Each of `burner-1` … `burner-T` spins until its own CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) has advanced CPU_MS, touching only its own
 * variables, so it uses exactly that much CPU however loaded the machine is.
 * The process then reports the CPU time the kernel charged it (getrusage)
 * and the wall time from the first thread's start to the last one's end.
 *
 * The trace must show: THREADS threads in state 'running' for about CPU_MS
 * each; no lock, sync or io waits by the burners; mean parallelism over the
 * burn of about cpu_ms / wall_ms (parallelism_x100 / 100), which is THREADS
 * on an idle machine with at least THREADS cores.
 */
#include <sys/resource.h>

#include "sample.h"

#define MAX_THREADS 256

typedef struct
{
  int      index;
  uint64_t spins;   /* kept so the loop is not optimized away */
} Burner;

static Burner burners[MAX_THREADS];
static long cpu_ms;

static int64_t
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static __attribute__((noinline)) void *
burner_main (void *data)
{
  Burner *self = data;
  int64_t until_ns;
  char name[32];
  uint64_t x = self->index + 1;

  snprintf (name, sizeof name, "burner-%d", self->index + 1);
  sample_name_self (name);
  until_ns = thread_cpu_ns () + cpu_ms * 1000000;
  while (thread_cpu_ns () < until_ns)
    for (int i = 0; i < 1000; i++)
      x = x * 6364136223846793005u + 1442695040888963407u;
  self->spins = x;
  return NULL;
}

static int64_t
rusage_cpu_ns (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ((int64_t) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000
         + ((int64_t) ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[THREADS=2] [CPU_MS=200]";
  pthread_t threads[MAX_THREADS];
  int64_t start_ns, wall_ns, cpu_ns;
  int n_threads;

  n_threads = sample_arg (argc, argv, 1, 2, 1, MAX_THREADS, usage);
  cpu_ms = sample_arg (argc, argv, 2, 200, 1, 600000, usage);
  sample_name_self ("main");

  cpu_ns = rusage_cpu_ns ();
  start_ns = sample_now_ns ();
  for (int i = 0; i < n_threads; i++)
    {
      burners[i].index = i;
      pthread_create (&threads[i], NULL, burner_main, &burners[i]);
    }
  for (int i = 0; i < n_threads; i++)
    pthread_join (threads[i], NULL);
  wall_ns = sample_now_ns () - start_ns;
  cpu_ns = rusage_cpu_ns () - cpu_ns;

  printf ("expect threads %d\n", n_threads);
  printf ("expect thread_cpu_ms %ld\n", cpu_ms);
  printf ("expect cpu_ms %ld\n", sample_ms (0, cpu_ns));
  printf ("expect wall_ms %ld\n", sample_ms (0, wall_ns));
  printf ("expect parallelism_x100 %ld\n", (long) (cpu_ns * 100 / wall_ns));
  printf ("%d threads used %ld ms of CPU in %ld ms: %.2f CPUs busy on average.\n",
          n_threads, sample_ms (0, cpu_ns), sample_ms (0, wall_ns),
          (double) cpu_ns / wall_ns);
  return 0;
}
