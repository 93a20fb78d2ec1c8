/* thread-storm — many threads at once, or very many one after another.
 *
 * Usage: thread-storm alive [THREADS=2000]
 *        thread-storm churn [THREADS=100000] [BATCH=100]
 *
 * alive: `main` creates THREADS threads (64 KiB stacks) that all wait at one
 * barrier until every one of them exists, so THREADS + 1 threads are alive
 * at the same moment; then they end and `main` joins them.
 * churn: `main` creates BATCH threads, joins them, and repeats until it has
 * made THREADS threads; each takes and releases a shared mutex once. With
 * the kernel's default pid_max of 32768, thread ids are reused many times.
 *
 * The trace must show: THREADS + 1 threads in this process (the main thread
 * included), each created one a thread of its own even when its tid was
 * used before, and zero lost events.
 */
#include "sample.h"

#define STACK_BYTES (64 * 1024)

static pthread_barrier_t all_alive;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long touched;

static void *
alive_main (void *data)
{
  pthread_barrier_wait (&all_alive);
  return NULL;
}

static void *
churn_main (void *data)
{
  pthread_mutex_lock (&lock);
  touched++;
  pthread_mutex_unlock (&lock);
  return NULL;
}

/* Starts n threads running start; returns how many started. */
static long
start_threads (pthread_t  *threads,
               long        n,
               void     *(*start) (void *))
{
  pthread_attr_t attr;
  long started = 0;

  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, STACK_BYTES);
  for (; started < n; started++)
    if (pthread_create (&threads[started], &attr, start, NULL) != 0)
      break;
  pthread_attr_destroy (&attr);
  return started;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "alive [THREADS=2000] | churn [THREADS=100000] [BATCH=100]";
  int churn = argc > 1 && strcmp (argv[1], "churn") == 0;
  long n = sample_arg (argc, argv, 2, churn ? 100000 : 2000, 1, 1000000, usage);
  long batch = churn ? sample_arg (argc, argv, 3, 100, 1, 10000, usage) : n;
  pthread_t *threads = calloc ((size_t) batch, sizeof *threads);
  long created = 0;
  int64_t start_ns = sample_now_ns ();

  if (argc < 2 || (!churn && strcmp (argv[1], "alive") != 0) || threads == NULL)
    {
      fprintf (stderr, "Usage: %s %s\n", argv[0], usage);
      return 2;
    }
  sample_name_self ("main");
  if (!churn)
    pthread_barrier_init (&all_alive, NULL, (unsigned) n + 1);
  while (created < n)
    {
      long want = n - created < batch ? n - created : batch;
      long started = start_threads (threads, want, churn ? churn_main : alive_main);

      if (started != want)
        {
          fprintf (stderr, "thread-storm: could create only %ld threads\n", created + started);
          return 1;
        }
      if (!churn)
        pthread_barrier_wait (&all_alive);        /* everyone is alive now */
      for (long i = 0; i < started; i++)
        pthread_join (threads[i], NULL);
      created += started;
    }

  printf ("expect threads %ld\n", created + 1);
  printf ("expect created %ld\n", created);
  printf ("expect max_alive %ld\n", batch + 1);
  printf ("Made %ld threads, at most %ld alive at once, in %ld ms.\n",
          created, batch + 1, sample_ms (start_ns, sample_now_ns ()));
  free (threads);
  return churn && touched != created ? 1 : 0;
}
