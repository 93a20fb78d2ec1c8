/* child-wait — a parent that waits for its children, with every call of
 * the wait family.
 *
 * Usage: child-wait [CHILD_MS=100]
 *
 * `main` forks one child per case. A child of a blocking case lets the
 * parent block first: it waits until the parent has announced its blocking
 * call and is asleep (sample-process.h), then sleeps CHILD_MS and ends. So
 * each of those calls finds no child ready, blocks, and lasts at least
 * CHILD_MS. The cases, one child each:
 *   waitpid      after a waitpid (WNOHANG) that finds the child running (0)
 *   wait, wait3, wait4
 *   waitid       P_PID; this child dies of SIGTERM
 *   interrupted  the child sends SIGUSR1 (a handler without SA_RESTART) to
 *                the blocked parent: waitpid fails with EINTR; then the
 *                parent blocks again in waitpid
 *   polled       the child ends at once; WNOHANG calls reap it
 *   zombie       the child ends at once; the parent sees it a zombie
 *                (waitid WNOHANG | WNOWAIT), then calls waitpid, which
 *                returns at once
 * The parent checks every pid and status it gets back.
 *
 * The trace must show: exactly `child_waits` waits of kind 'child' by the
 * main thread of the root process (the blocking calls: none for a WNOHANG
 * call, nor for the waitpid of the zombie), `interrupted_waits` of them
 * with result 'interrupted', `any_child_waits` with arg -1 (wait, wait3),
 * every other one with the child's pid as arg; each 'ok' one at least
 * `child_ms` long, with the child's main thread as its holder; the
 * parent's states over them sync (never blocked); and the children's exit
 * statuses (10, 11, …: one each, in a row) and the one SIGTERM.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "sample-process.h"

#define FIRST_STATUS 10

typedef enum
{
  CALL_WAITPID,
  CALL_WAIT,
  CALL_WAIT3,
  CALL_WAIT4,
  CALL_WAITID,
} WaitCall;

typedef struct
{
  atomic_int round;     /* the parent's blocking calls announced so far */
} Shared;

static Shared *shared;
static int rounds;      /* the parent's copy */
static long child_ms;
static int children, exited, killed, any_child_waits;

static void
on_usr1 (int sig)
{
  (void) sig;
}

/* How a child ended, from a raw wait status: its exit status, or minus
 * the signal that killed it. */
static int
end_of (int status)
{
  return WIFEXITED (status) ? WEXITSTATUS (status) : -WTERMSIG (status);
}

/* Child side: returns once the parent has announced blocking call `round`
 * and is asleep in it. */
static void
await_parent_blocked (int round)
{
  pid_t parent = getppid ();

  while (atomic_load (&shared->round) < round || !sample_task_asleep (parent, parent))
    sample_sleep_ms (1);
}

/* Forks a child that ends as `end` says (end_of's encoding): at once when
 * quick, else after letting the parent's next blocking call block (and,
 * when interrupt, after sending SIGUSR1 to it and letting the call after
 * it block too) and sleeping child_ms. */
static pid_t
fork_child (int end,
            int quick,
            int interrupt)
{
  int round = rounds + 1;
  pid_t pid = fork ();

  if (pid != 0)
    {
      children += pid > 0;
      return pid;
    }
  if (!quick)
    {
      await_parent_blocked (round);
      if (interrupt)
        {
          kill (getppid (), SIGUSR1);
          await_parent_blocked (round + 1);
        }
      sample_sleep_ms (child_ms);
    }
  if (end < 0)
    raise (-end);
  _exit (end);                          /* not exit: the parent's stdio buffers are ours too */
}

/* One call of the family for child pid (blocking unless options say
 * otherwise); returns what it returned, and how the child ended in *end.
 * Counts the children it reaps by how they ended. */
static pid_t
wait_call (WaitCall  call,
           pid_t     pid,
           int       options,
           int      *end)
{
  siginfo_t info;
  struct rusage usage;
  int status = 0;
  pid_t got;

  switch (call)
    {
    case CALL_WAITPID:
      got = waitpid (pid, &status, options);
      break;
    case CALL_WAIT:
      got = wait (&status);
      break;
    case CALL_WAIT3:
      got = wait3 (&status, options, &usage);
      break;
    case CALL_WAIT4:
      got = wait4 (pid, &status, options, &usage);
      break;
    case CALL_WAITID:
    default:
      memset (&info, 0, sizeof info);
      got = waitid (P_PID, (id_t) pid, &info, WEXITED | options) == 0 ? info.si_pid : -1;
      status = info.si_code == CLD_EXITED ? info.si_status << 8 : info.si_status & 0x7f;
      break;
    }
  *end = end_of (status);
  if (got > 0)
    {
      exited += *end >= 0;
      killed += *end < 0;
    }
  return got;
}

/* The parent's blocking call for child pid, announced first: after the
 * announcement it calls nothing but that call. 1 if it returned the child
 * and how it ended. */
static int
wait_blocking (WaitCall call,
               pid_t    pid,
               int      want_end)
{
  int end = 0;

  any_child_waits += call == CALL_WAIT || call == CALL_WAIT3;
  atomic_store (&shared->round, ++rounds);
  return wait_call (call, pid, 0, &end) == pid && end == want_end;
}

/* The interrupted case: 1 if the first call failed with EINTR and the
 * second returned the child. */
static int
wait_interrupted (int *interrupted)
{
  pid_t pid = fork_child (FIRST_STATUS + 4, 0, 1);
  int end = 0;
  pid_t got;

  atomic_store (&shared->round, ++rounds);
  got = wait_call (CALL_WAITPID, pid, 0, &end);
  if (got != -1 || errno != EINTR)
    return 0;
  (*interrupted)++;
  return wait_blocking (CALL_WAITPID, pid, FIRST_STATUS + 4);
}

/* The polled and zombie cases: no call of theirs blocks. */
static int
wait_without_blocking (void)
{
  siginfo_t info;
  pid_t pid = fork_child (FIRST_STATUS + 5, 1, 0);
  int end = 0;
  pid_t got;

  while ((got = wait_call (CALL_WAITPID, pid, WNOHANG, &end)) == 0)
    sample_sleep_ms (1);
  if (got != pid || end != FIRST_STATUS + 5)
    return 0;

  pid = fork_child (FIRST_STATUS + 6, 1, 0);
  do
    {
      memset (&info, 0, sizeof info);
      if (waitid (P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
        return 0;
      if (info.si_pid == 0)
        sample_sleep_ms (1);
    }
  while (info.si_pid == 0);
  return wait_call (CALL_WAITPID, pid, 0, &end) == pid && end == FIRST_STATUS + 6;
}

int
main (int    argc,
      char **argv)
{
  struct sigaction sa;
  int ok = 1, interrupted = 0, end = 0;
  pid_t pid;

  child_ms = sample_arg (argc, argv, 1, 100, 1, 10000, "[CHILD_MS=100]");
  shared = sample_shared_alloc (sizeof *shared);
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;              /* no SA_RESTART: the wait fails with EINTR */
  sigaction (SIGUSR1, &sa, NULL);

  pid = fork_child (FIRST_STATUS, 0, 0);
  ok &= wait_call (CALL_WAITPID, pid, WNOHANG, &end) == 0;
  ok &= wait_blocking (CALL_WAITPID, pid, FIRST_STATUS);
  ok &= wait_blocking (CALL_WAIT, fork_child (FIRST_STATUS + 1, 0, 0), FIRST_STATUS + 1);
  ok &= wait_blocking (CALL_WAIT3, fork_child (FIRST_STATUS + 2, 0, 0), FIRST_STATUS + 2);
  ok &= wait_blocking (CALL_WAIT4, fork_child (FIRST_STATUS + 3, 0, 0), FIRST_STATUS + 3);
  ok &= wait_blocking (CALL_WAITID, fork_child (-SIGTERM, 0, 0), -SIGTERM);
  ok &= wait_interrupted (&interrupted);
  ok &= wait_without_blocking ();

  printf ("expect child_waits %d\n", rounds);
  printf ("expect interrupted_waits %d\n", interrupted);
  printf ("expect any_child_waits %d\n", any_child_waits);
  printf ("expect child_ms %ld\n", child_ms);
  printf ("expect children %d\n", children);
  printf ("expect first_status %d\n", FIRST_STATUS);
  printf ("expect exited_children %d\n", exited);
  printf ("expect killed_children %d\n", killed);
  printf ("expect kill_signal %d\n", SIGTERM);
  printf ("expect results_ok %d\n", ok);
  printf ("Waited for %d children, blocking %d times (%d interrupted).\n",
          children, rounds, interrupted);
  return ok ? 0 : 1;
}
