/* exec-thread — a multithreaded process whose non-main thread calls exec.
 *
 * Usage: exec-thread PROGRAM [ARGS…]
 *
 * `main` first makes `locker` wait once for a mutex it holds (a contended
 * wait, see sample.h) and starts `sleeper`, which sleeps for a minute. Then
 * the thread `execer` prints this image's expect lines and execs PROGRAM
 * with ARGS while `main` is blocked joining it and `sleeper` sleeps: the
 * kernel ends every other thread, `execer` becomes the process's main
 * thread (its tid becomes the pid) and runs PROGRAM, whose output and exit
 * status are the process's from then on. If the exec fails: exit 127.
 *
 * The trace must show: one process (pid) with PROGRAM as its command,
 * instrumented, with PROGRAM's exit status; the first image's threads
 * `main`, `locker`, `sleeper` and `execer` (tid execer_tid), all ended; the
 * 'mutex' wait of `locker`; and the waits of PROGRAM.
 */
#include "sample.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int announced, done, sleeping;
static pid_t locker_tid, sleeper_tid;
static char **program_argv;

static void *
locker_main (void *data)
{
  sample_name_self ("locker");
  locker_tid = gettid ();
  sample_announce (&announced);
  pthread_mutex_lock (&lock);                     /* blocks: main holds it */
  pthread_mutex_unlock (&lock);
  atomic_store (&done, 1);
  return NULL;
}

static void *
sleeper_main (void *data)
{
  sample_name_self ("sleeper");
  sleeper_tid = gettid ();
  sample_announce (&sleeping);
  sample_sleep_ms (60000);                        /* ended by the exec */
  return NULL;
}

static void *
execer_main (void *data)
{
  sample_name_self ("execer");
  sample_await_blocked (sleeper_tid, &sleeping, NULL);
  printf ("expect pid %d\n", (int) getpid ());
  printf ("expect execer_tid %d\n", (int) gettid ());
  printf ("expect pre_exec_threads 4\n");
  printf ("expect pre_exec_mutex_waits 1\n");
  printf ("Thread 'execer' runs %s in place of this process.\n", program_argv[0]);
  fflush (stdout);
  execv (program_argv[0], program_argv);
  perror ("execv");
  _exit (127);
}

int
main (int    argc,
      char **argv)
{
  pthread_t locker, sleeper, execer;

  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s PROGRAM [ARGS…]\n", argv[0]);
      return 2;
    }
  program_argv = argv + 1;
  sample_name_self ("main");

  pthread_mutex_lock (&lock);
  pthread_create (&locker, NULL, locker_main, NULL);
  while (locker_tid == 0)
    sample_sleep_ms (1);
  sample_await_blocked (locker_tid, &announced, &done);
  pthread_mutex_unlock (&lock);
  pthread_join (locker, NULL);

  pthread_create (&sleeper, NULL, sleeper_main, NULL);
  while (sleeper_tid == 0)
    sample_sleep_ms (1);
  pthread_create (&execer, NULL, execer_main, NULL);
  pthread_join (execer, NULL);                    /* never returns: the exec ends us */
  return 1;
}
