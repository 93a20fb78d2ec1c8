/* barrier-phases — T threads step through P phases in lockstep.
 *
 * Usage: barrier-phases [THREADS=4] [PHASES=5] [STEP_MS=5]
 *
 * Each of `phase-1` … `phase-T` works (sleeps) K × STEP_MS in every phase, K
 * being its number, then calls pthread_barrier_wait, so the fast threads wait
 * for the slowest one, `phase-T`, at every barrier. Each thread counts its
 * barrier calls and the PTHREAD_BARRIER_SERIAL_THREAD returns it got.
 *
 * The trace must show: exactly barrier_waits 'barrier' waits (THREADS ×
 * PHASES) on one barrier object, phases of them per thread; the waits of
 * `phase-1` being the longest (about (T - 1) × STEP_MS each); one serial
 * return per phase (serial_returns); each phase ending for all threads at the
 * same moment (within scheduling latency).
 */
#include "sample.h"

#define MAX_THREADS 64

typedef struct
{
  int  index;
  long barrier_calls;
  long serial_returns;
} Worker;

static pthread_barrier_t barrier;
static Worker workers[MAX_THREADS];
static long n_phases, step_ms;

static void *
worker_main (void *data)
{
  Worker *self = data;
  char name[32];

  snprintf (name, sizeof name, "phase-%d", self->index + 1);
  sample_name_self (name);
  for (long phase = 0; phase < n_phases; phase++)
    {
      sample_sleep_ms ((self->index + 1) * step_ms);   /* this phase's work */
      self->barrier_calls++;
      if (pthread_barrier_wait (&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
        self->serial_returns++;
    }
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[THREADS=4] [PHASES=5] [STEP_MS=5]";
  pthread_t threads[MAX_THREADS];
  long calls = 0, serial = 0;
  int n_threads;

  n_threads = sample_arg (argc, argv, 1, 4, 1, MAX_THREADS, usage);
  n_phases = sample_arg (argc, argv, 2, 5, 1, 100000, usage);
  step_ms = sample_arg (argc, argv, 3, 5, 0, 10000, usage);
  sample_name_self ("main");

  pthread_barrier_init (&barrier, NULL, n_threads);
  for (int i = 0; i < n_threads; i++)
    {
      workers[i].index = i;
      pthread_create (&threads[i], NULL, worker_main, &workers[i]);
    }
  for (int i = 0; i < n_threads; i++)
    {
      pthread_join (threads[i], NULL);
      calls += workers[i].barrier_calls;
      serial += workers[i].serial_returns;
    }
  pthread_barrier_destroy (&barrier);

  printf ("expect threads %d\n", n_threads);
  printf ("expect phases %ld\n", n_phases);
  printf ("expect barrier_waits %ld\n", calls);
  printf ("expect barrier_waits_per_thread %ld\n", workers[0].barrier_calls);
  printf ("expect serial_returns %ld\n", serial);
  printf ("%d threads met %ld times at one barrier: %ld barrier waits.\n",
          n_threads, n_phases, calls);
  return 0;
}
