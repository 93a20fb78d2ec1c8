/* run-child — a threaded program that runs another program and waits.
 *
 * Usage: run-child PROGRAM [ARGS…]
 *
 * `main` first makes its `worker` wait once for a mutex it holds (a
 * contended wait, see sample.h), so this process has a lock profile of its
 * own; then it forks, the child execs PROGRAM with ARGS, and `main` waits
 * for it. Used to run programs the agent cannot enter (a static one) from
 * one it can.
 *
 * The trace must show: 2 processes, this one instrumented with 1 'mutex'
 * wait, the child (pid child_pid) with the exit status it reported.
 */
#include <sys/wait.h>

#include "sample.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int announced, done;
static pid_t worker_tid;

static void *
worker_main (void *data)
{
  sample_name_self ("worker");
  worker_tid = gettid ();
  sample_announce (&announced);
  pthread_mutex_lock (&lock);                     /* blocks: main holds it */
  pthread_mutex_unlock (&lock);
  atomic_store (&done, 1);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  pthread_t worker;
  pid_t child;
  int status;

  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s PROGRAM [ARGS…]\n", argv[0]);
      return 2;
    }
  sample_name_self ("main");
  pthread_mutex_lock (&lock);
  pthread_create (&worker, NULL, worker_main, NULL);
  while (worker_tid == 0)
    sample_sleep_ms (1);
  sample_await_blocked (worker_tid, &announced, &done);
  pthread_mutex_unlock (&lock);
  pthread_join (worker, NULL);

  fflush (stdout);
  child = fork ();
  if (child < 0)
    return 1;
  if (child == 0)
    {
      execv (argv[1], argv + 1);
      _exit (127);
    }
  if (waitpid (child, &status, 0) != child)
    return 1;
  printf ("expect processes 2\n");
  printf ("expect contended_waits 1\n");
  printf ("expect child_pid %d\n", (int) child);
  printf ("expect child_exit_status %d\n", WIFEXITED (status) ? WEXITSTATUS (status) : -1);
  printf ("Ran %s as process %d.\n", argv[1], (int) child);
  return 0;
}
