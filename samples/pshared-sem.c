/* pshared-sem — process-shared POSIX semaphores, waited on across a fork.
 *
 * Usage: pshared-sem [TIMEOUT_MS=20]
 *
 * Two semaphores, both starting at 0: an unnamed one (sem_init with
 * pshared = 1 in MAP_SHARED memory) and a named one (sem_open of a name
 * unique to this run, unlinked at the end). For each semaphore, first the
 * child's `c-main` blocks in sem_wait until the parent's `main` has seen it
 * asleep (sample-process.h) and posts, then the other way round. Then the
 * parent checks what the calls must answer on an empty semaphore: sem_trywait
 * fails with EAGAIN, sem_timedwait (TIMEOUT_MS) with ETIMEDOUT, and both
 * values are 0. Any other answer, or a failed child: a line on stderr and
 * exit 1.
 *
 * The trace must show: 2 processes, both exiting 0; in each, its main
 * thread has exactly one 'sem' wait with result ok on each of its two
 * objects of kind 'sem' (at unnamed_address and named_address); the parent
 * one more, on the unnamed one, with result timeout.
 */
#include <semaphore.h>
#include <sys/wait.h>

#include "sample-process.h"

enum { PARENT, CHILD };

typedef struct
{
  sem_t      unnamed;
  pid_t      pid[2];
  atomic_int announced[2];
  atomic_int done_phase;            /* phase k+1: the waiter of phase k woke */
} Shared;

static Shared *shared;
static sem_t *sems[2];

/* Phase k uses sems[k / 2]; the child waits in even phases, the parent in
 * odd ones. */
static __attribute__((noinline)) void
wait_phase (int me,
            int phase)
{
  sample_announce (&shared->announced[me]);
  while (sem_wait (sems[phase / 2]) != 0)       /* blocks: the count is 0 */
    if (errno != EINTR)
      exit (1);
  atomic_store (&shared->announced[me], 0);
  atomic_store (&shared->done_phase, phase + 1);
}

static void
post_phase (int me,
            int phase)
{
  pid_t other = shared->pid[1 - me];

  sample_await_task_blocked (other, other, &shared->announced[1 - me]);
  sem_post (sems[phase / 2]);
  sample_await_at_least (&shared->done_phase, phase + 1);
}

static void
run_side (int me)
{
  for (int phase = 0; phase < 4; phase++)
    {
      if ((phase % 2 == 0) == (me == CHILD))
        wait_phase (me, phase);
      else
        post_phase (me, phase);
    }
}

/* What an empty semaphore must answer. Returns 0 when all is as it must. */
static int
check_empty (long timeout_ms)
{
  struct timespec deadline;
  int value = -1;

  for (int i = 0; i < 2; i++)
    {
      errno = 0;
      if (sem_trywait (sems[i]) != -1 || errno != EAGAIN)
        {
          fprintf (stderr, "pshared-sem: sem_trywait: not EAGAIN\n");
          return 1;
        }
      if (sem_getvalue (sems[i], &value) != 0 || value != 0)
        {
          fprintf (stderr, "pshared-sem: value %d, not 0\n", value);
          return 1;
        }
    }
  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
  deadline.tv_sec += timeout_ms / 1000 + deadline.tv_nsec / 1000000000;
  deadline.tv_nsec %= 1000000000;
  errno = 0;
  if (sem_timedwait (sems[0], &deadline) != -1 || errno != ETIMEDOUT)
    {
      fprintf (stderr, "pshared-sem: sem_timedwait: not ETIMEDOUT\n");
      return 1;
    }
  return 0;
}

int
main (int    argc,
      char **argv)
{
  long timeout_ms = sample_arg (argc, argv, 1, 20, 1, 60000, "[TIMEOUT_MS=20]");
  char name[64];
  pid_t child;
  int status, failed;

  sample_name_self ("main");
  shared = sample_shared_alloc (sizeof *shared);
  if (sem_init (&shared->unnamed, 1, 0) != 0)
    {
      perror ("sem_init");
      return 1;
    }
  snprintf (name, sizeof name, "/weft-pshared-sem-%d", (int) getpid ());
  sems[0] = &shared->unnamed;
  sems[1] = sem_open (name, O_CREAT | O_EXCL, 0600, 0);
  if (sems[1] == SEM_FAILED)
    {
      perror ("sem_open");
      return 1;
    }
  shared->pid[PARENT] = getpid ();

  fflush (stdout);
  child = fork ();
  if (child < 0)
    return 1;
  if (child == 0)
    {
      sample_name_self ("c-main");
      shared->pid[CHILD] = getpid ();
      run_side (CHILD);
      _exit (0);
    }
  shared->pid[CHILD] = child;
  run_side (PARENT);
  failed = waitpid (child, &status, 0) != child || !WIFEXITED (status) || WEXITSTATUS (status) != 0;
  if (failed)
    fprintf (stderr, "pshared-sem: the child failed\n");
  failed |= check_empty (timeout_ms);
  sem_close (sems[1]);
  sem_unlink (name);
  if (failed)
    return 1;

  printf ("expect processes 2\n");
  printf ("expect child_pid %d\n", (int) child);
  printf ("expect unnamed_address %lu\n", (unsigned long) (uintptr_t) sems[0]);
  printf ("expect named_address %lu\n", (unsigned long) (uintptr_t) sems[1]);
  printf ("expect sem_waits_per_process 2\n");
  printf ("expect parent_timeouts 1\n");
  printf ("A parent and its child woke each other through an unnamed and a named semaphore.\n");
  return 0;
}
