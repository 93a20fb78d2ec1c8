/* fork-exec — a threaded process forks+execs one child and spawns another.
 *
 * Usage: fork-exec [POLL_MS=60]
 *
 * `main` starts the thread `spawner`, which runs child-poll (the sample next
 * to this binary) with posix_spawn, while `main` itself forks a child that
 * execs child-poll; both children poll an empty pipe for POLL_MS and exit
 * with status 3. The parent threads waitpid() for them and report the
 * statuses they actually got. The fork happens while `spawner` is alive.
 *
 * The trace must show: 3 processes (this one and two children whose parent is
 * this one, each with command child-poll and exit_status 3), each child with
 * one thread `child-poll` having one 'poll' wait of at least POLL_MS (result
 * timeout); the forked child's pid equal to the one before its exec.
 */
#include <libgen.h>
#include <spawn.h>
#include <sys/wait.h>

#include "sample.h"

extern char **environ;

static char child_path[4096];
static char poll_arg[32];
static int spawn_status = -1;

static void *
spawner_main (void *data)
{
  char *child_argv[] = { "child-poll", poll_arg, "3", "--quiet", NULL };
  pid_t pid;
  int status;

  sample_name_self ("spawner");
  if (posix_spawn (&pid, child_path, NULL, NULL, child_argv, environ) != 0)
    return NULL;
  if (waitpid (pid, &status, 0) == pid && WIFEXITED (status))
    spawn_status = WEXITSTATUS (status);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  char *child_argv[] = { "child-poll", poll_arg, "3", "--quiet", NULL };
  char self[sizeof child_path];
  long poll_ms;
  ssize_t len;
  pthread_t spawner;
  pid_t pid;
  int status, fork_status = -1;

  poll_ms = sample_arg (argc, argv, 1, 60, 1, 60000, "[POLL_MS=60]");
  snprintf (poll_arg, sizeof poll_arg, "%ld", poll_ms);
  sample_name_self ("main");
  len = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0)
    return 1;
  self[len] = '\0';
  snprintf (child_path, sizeof child_path, "%s/child-poll", dirname (self));

  pthread_create (&spawner, NULL, spawner_main, NULL);
  fflush (stdout);                         /* nothing buffered twice */
  pid = fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
      execv (child_path, child_argv);
      _exit (127);
    }
  if (waitpid (pid, &status, 0) == pid && WIFEXITED (status))
    fork_status = WEXITSTATUS (status);
  pthread_join (spawner, NULL);

  printf ("expect processes 3\n");
  printf ("expect child_program child-poll\n");
  printf ("expect child_exit_status %d\n", fork_status);
  printf ("expect spawn_exit_status %d\n", spawn_status);
  printf ("expect child_poll_ms %ld\n", poll_ms);
  printf ("Forked+exec'd and spawned child-poll; they exited with %d and %d.\n",
          fork_status, spawn_status);
  return fork_status == 3 && spawn_status == 3 ? 0 : 1;
}
