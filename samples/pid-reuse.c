/* pid-reuse — one pid, two unrelated processes in one recording: the kernel
 * gives the pid of a child that ended and was reaped to a later process
 * (after pid_max others, or at once when asked to).
 *
 * Usage: pid-reuse clone3|fork PROGRAM [ARGS…]
 *
 * 1. `main` forks child A. A's `main` holds the mutex `a_lock` while its
 *    thread `a-worker` waits for it (one contended wait, see sample.h),
 *    joins it, and exits with status 3. `main` reaps A with waitpid.
 * 2. `main` makes child B with A's pid, and B execs PROGRAM ARGS (the tests
 *    run `exit-status 5`: other threads, other locks, exit status 5).
 *    - clone3: clone3(2) with set_tid = A's pid (needs CAP_SYS_ADMIN). No
 *      library hears of this child: it only calls execv, where the agent
 *      sees a task that is not its thread and records nothing.
 *    - fork: writes A's pid - 1 to /proc/sys/kernel/ns_last_pid (root), then
 *      forks; when another process of the machine took the pid first, the
 *      child exits with 111 at once, is reaped, and it tries again.
 *    `main` reaps B with waitpid.
 * When the pid cannot be had (not root, no clone3), it prints
 * `expect skip REASON` and exits 0 without making B.
 *
 * The trace must show: processes (A, B, this one and the `misses` children
 * that got another pid); two processes with pid a_pid under this one, the
 * first with command this program's, its threads `main` and `a-worker`, its
 * one contended wait, exit status a_status (3), ended before the second
 * began; the second with PROGRAM's command, its own threads, waits and
 * objects, and exit status b_status.
 */
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sample.h"

#define HOLD_MS 30
#define TRIES 200
#define MISS_STATUS 111

static pthread_mutex_t a_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int announced, done;
static pid_t a_worker_tid;

static void *
a_worker_main (void *data)
{
  sample_name_self ("a-worker");
  a_worker_tid = gettid ();
  sample_announce (&announced);
  pthread_mutex_lock (&a_lock);           /* blocks: `main` holds it */
  pthread_mutex_unlock (&a_lock);
  atomic_store (&done, 1);
  return NULL;
}

/* Child A: one contended wait, then exit status 3. */
static void
run_a (void)
{
  pthread_t worker;

  pthread_mutex_lock (&a_lock);
  if (pthread_create (&worker, NULL, a_worker_main, NULL) != 0)
    _exit (1);
  while (a_worker_tid == 0)
    sample_sleep_ms (1);
  sample_await_blocked (a_worker_tid, &announced, &done);
  sample_sleep_ms (HOLD_MS);
  pthread_mutex_unlock (&a_lock);
  pthread_join (worker, NULL);
  exit (3);
}

static int
reap (pid_t pid)
{
  int status = 0;

  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return status;
}

/* B with pid `target` by clone3; the child only execs. Returns B's pid, or
 * -1 with errno. */
static pid_t
clone3_with_pid (pid_t  target,
                 char **argv)
{
  struct clone_args args = {
    .exit_signal = SIGCHLD,
    .set_tid = (uintptr_t) &target,
    .set_tid_size = 1,
  };
  long pid = syscall (SYS_clone3, &args, sizeof args);

  if (pid == 0)
    {
      execv (argv[0], argv);
      _exit (127);
    }
  return (pid_t) pid;
}

static int
set_last_pid (pid_t last)
{
  int fd = open ("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
  char text[32];
  int len = snprintf (text, sizeof text, "%d", (int) last);
  int ok;

  if (fd < 0)
    return 0;
  ok = write (fd, text, (size_t) len) == len;
  close (fd);
  return ok;
}

/* B with pid `target` by fork after ns_last_pid; *misses counts the
 * children that got another pid. Returns B's pid, or -1 with errno. */
static pid_t
fork_with_pid (pid_t  target,
               char **argv,
               int   *misses)
{
  for (int i = 0; i < TRIES; i++)
    {
      pid_t pid;

      if (!set_last_pid (target - 1))
        return -1;
      pid = fork ();
      if (pid == 0)
        {
          if (getpid () != target)
            _exit (MISS_STATUS);
          execv (argv[0], argv);
          _exit (127);
        }
      if (pid < 0 || pid == target)
        return pid;
      reap (pid);
      (*misses)++;
    }
  errno = EAGAIN;
  return -1;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "clone3|fork PROGRAM [ARGS…]";
  int use_clone3 = argc > 1 && strcmp (argv[1], "clone3") == 0;
  int a_status, b_status, misses = 0;
  pid_t a, b;

  if (argc < 3 || (!use_clone3 && strcmp (argv[1], "fork") != 0))
    {
      fprintf (stderr, "Usage: %s %s\n", argv[0], usage);
      return 2;
    }
  sample_name_self ("main");

  a = fork ();
  if (a == 0)
    run_a ();
  a_status = reap (a);

  b = use_clone3 ? clone3_with_pid (a, argv + 2) : fork_with_pid (a, argv + 2, &misses);
  if (b < 0)
    {
      printf ("expect skip %s cannot give pid %d again: %s\n",
              use_clone3 ? "clone3 with set_tid" : "fork after ns_last_pid",
              (int) a, strerror (errno));
      return 0;
    }
  b_status = reap (b);

  printf ("expect a_pid %d\n", (int) a);
  printf ("expect a_status %d\n", WIFEXITED (a_status) ? WEXITSTATUS (a_status) : -1);
  printf ("expect a_waits 1\n");
  printf ("expect b_pid %d\n", (int) b);
  printf ("expect b_status %d\n", WIFEXITED (b_status) ? WEXITSTATUS (b_status) : -1);
  printf ("expect misses %d\n", misses);
  printf ("expect processes %d\n", 3 + misses);
  printf ("Child A (pid %d) exited with %d; child B got its pid again and exited with %d.\n",
          (int) a, WIFEXITED (a_status) ? WEXITSTATUS (a_status) : -1,
          WIFEXITED (b_status) ? WEXITSTATUS (b_status) : -1);
  return 0;
}
