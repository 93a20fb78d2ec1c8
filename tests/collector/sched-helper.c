/* sched-helper — the program test-sched traces. Ground truth:
 *   - threads "burner-1" and "burner-2" each burn 300 ms of CPU at the same
 *     time, pinned to the first and the second CPU the helper may use (when
 *     it may use two), so they run on two CPUs even on a busy machine;
 *   - then thread "sleeper" sleeps 100 ms;
 *   - then a child process, named "child", burns 50 ms and exits; the helper
 *     reaps it (so its CPU time is in the helper's rusage).
 * Each thread names itself (prctl), which the kernel reports as a COMM.
 *
 * `sched-helper pingpong N` instead bounces a byte N times between threads
 * "ping" and "pong" through two pipes: thousands of context switches, to
 * fill small rings.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BURN_MS       300
#define SLEEP_MS      100
#define CHILD_BURN_MS  50

static long long
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
burn_ms (int ms)
{
  long long end_ns = thread_cpu_ns () + ms * 1000000LL;
  volatile unsigned spin = 0;

  while (thread_cpu_ns () < end_ns)
    for (int i = 0; i < 1000; i++)
      spin++;
}

static void *
burner (void *name)
{
  prctl (PR_SET_NAME, name);
  burn_ms (BURN_MS);
  return NULL;
}

static void *
sleeper (void *name)
{
  struct timespec ts = { 0, SLEEP_MS * 1000000L };

  prctl (PR_SET_NAME, name);
  nanosleep (&ts, NULL);
  return NULL;
}

static int ping_to_pong[2], pong_to_ping[2];
static long round_trips;

static void *
pong (void *name)
{
  char byte;

  prctl (PR_SET_NAME, name);
  for (long i = 0; i < round_trips; i++)
    if (read (ping_to_pong[0], &byte, 1) != 1 || write (pong_to_ping[1], &byte, 1) != 1)
      abort ();
  return NULL;
}

static int
pingpong (long n)
{
  pthread_t thread;
  char byte = 'x';

  round_trips = n;
  if (pipe (ping_to_pong) != 0 || pipe (pong_to_ping) != 0)
    return 1;
  prctl (PR_SET_NAME, "ping");
  pthread_create (&thread, NULL, pong, "pong");
  for (long i = 0; i < n; i++)
    if (write (ping_to_pong[1], &byte, 1) != 1 || read (pong_to_ping[0], &byte, 1) != 1)
      return 1;
  pthread_join (thread, NULL);
  printf ("expect round_trips %ld\n", n);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  pthread_t burners[2], sleeping;
  pid_t child;
  int status;
  pthread_attr_t attrs[2];
  cpu_set_t allowed;
  int pinned = 0;

  if (argc == 3 && strcmp (argv[1], "pingpong") == 0)
    return pingpong (atol (argv[2]));

  /* Pin burner-N to the N-th allowed CPU. */
  pthread_attr_init (&attrs[0]);
  pthread_attr_init (&attrs[1]);
  if (sched_getaffinity (0, sizeof allowed, &allowed) == 0 && CPU_COUNT (&allowed) >= 2)
    for (int cpu = 0; cpu < CPU_SETSIZE && pinned < 2; cpu++)
      if (CPU_ISSET (cpu, &allowed))
        {
          cpu_set_t one;

          CPU_ZERO (&one);
          CPU_SET (cpu, &one);
          pthread_attr_setaffinity_np (&attrs[pinned++], sizeof one, &one);
        }

  pthread_create (&burners[0], &attrs[0], burner, "burner-1");
  pthread_create (&burners[1], &attrs[1], burner, "burner-2");
  pthread_join (burners[0], NULL);
  pthread_join (burners[1], NULL);
  pthread_attr_destroy (&attrs[0]);
  pthread_attr_destroy (&attrs[1]);

  pthread_create (&sleeping, NULL, sleeper, "sleeper");
  pthread_join (sleeping, NULL);

  child = fork ();
  if (child < 0)
    return 1;
  if (child == 0)
    {
      prctl (PR_SET_NAME, "child");
      burn_ms (CHILD_BURN_MS);
      _exit (0);
    }
  if (waitpid (child, &status, 0) != child || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return 1;

  printf ("expect burner_cpu_ms %d\n", BURN_MS);
  printf ("expect child_cpu_ms %d\n", CHILD_BURN_MS);
  return 0;
}
