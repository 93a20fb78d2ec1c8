/* process-tree — a tree of processes, each waiting for its children.
 *
 * Usage: process-tree [PROCESSES=200] [FANOUT=4]
 *
 * The processes are numbered 0 (this one) to PROCESSES-1 like a heap:
 * process k forks processes FANOUT*k+1 … FANOUT*k+FANOUT (those that exist),
 * takes and releases a mutex, waits for its children and exits with status
 * 0 if all of them did. The children of one parent run at the same time.
 *
 * The trace must show: PROCESSES processes, every one instrumented, each
 * but the root with its parent in the trace and exit_status 0, and zero
 * lost events.
 */
#include <sys/wait.h>

#include "sample.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Forks the children of process k and returns 0 if they all succeeded.
 * Never returns in a child: it runs its own subtree and exits. */
static int
grow (long k,
      long n,
      long fanout)
{
  int ok = 1;

  pthread_mutex_lock (&lock);
  pthread_mutex_unlock (&lock);
  for (long c = fanout * k + 1; c <= fanout * k + fanout && c < n; c++)
    {
      pid_t pid = fork ();

      if (pid < 0)
        return 1;
      if (pid == 0)
        _exit (grow (c, n, fanout));
    }
  for (;;)
    {
      int status;
      pid_t pid = wait (&status);

      if (pid < 0)
        break;
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        ok = 0;
    }
  return ok ? 0 : 1;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[PROCESSES=200] [FANOUT=4]";
  long n = sample_arg (argc, argv, 1, 200, 1, 10000, usage);
  long fanout = sample_arg (argc, argv, 2, 4, 1, 64, usage);
  int64_t start_ns = sample_now_ns ();
  int status;

  fflush (stdout);
  status = grow (0, n, fanout);
  printf ("expect processes %ld\n", n);
  printf ("expect failed_children %d\n", status);
  printf ("%ld processes in a tree of fan-out %ld took %ld ms.\n",
          n, fanout, sample_ms (start_ns, sample_now_ns ()));
  return status;
}
