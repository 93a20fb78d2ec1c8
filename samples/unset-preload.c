/* unset-preload — a program that removes LD_PRELOAD from its environment
 * before it runs a child, as sandboxes and "clean environment" launchers do.
 *
 * Usage: unset-preload PROGRAM [ARGS…]
 *
 * After unsetenv ("LD_PRELOAD") (checked with getenv) it runs PROGRAM
 * three times, one after the other, waiting for each:
 *   exec     fork + execv: its environ, without LD_PRELOAD;
 *   execve   fork + execve with an environment of one variable, neither
 *            LD_PRELOAD nor WEFT_SESSION;
 *   spawn    posix_spawn with an empty environment.
 * Each child's exit status is reported (-1 when it did not exit).
 *
 * weft's design is that the whole tree stays traced (agent/weft-env.c puts
 * the agent back into an environment handed to exec or posix_spawn), so
 * the trace must show: 4 processes, the 3 children under this one, each
 * instrumented, with its exit status and the waits PROGRAM makes.
 */
#include <spawn.h>
#include <sys/wait.h>

#include "sample.h"

extern char **environ;

static int
reap (pid_t child)
{
  int status;

  if (child <= 0 || waitpid (child, &status, 0) != child)
    return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

int
main (int    argc,
      char **argv)
{
  char *small_env[] = { "WEFT_SAMPLE=unset-preload", NULL };
  char *empty_env[] = { NULL };
  static const char *ways[] = { "exec", "execve", "spawn" };
  pid_t pids[3];
  int statuses[3];

  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s PROGRAM [ARGS…]\n", argv[0]);
      return 2;
    }
  sample_name_self ("main");
  unsetenv ("LD_PRELOAD");
  if (getenv ("LD_PRELOAD") != NULL)
    {
      fprintf (stderr, "unset-preload: LD_PRELOAD is still set\n");
      return 1;
    }

  for (int way = 0; way < 3; way++)
    {
      fflush (stdout);
      if (way == 2)
        {
          if (posix_spawn (&pids[way], argv[1], NULL, NULL, argv + 1, empty_env) != 0)
            pids[way] = -1;
        }
      else if ((pids[way] = fork ()) == 0)
        {
          if (way == 0)
            execv (argv[1], argv + 1);
          else
            execve (argv[1], argv + 1, small_env);
          _exit (127);
        }
      statuses[way] = reap (pids[way]);
    }

  printf ("expect processes 4\n");
  printf ("expect parent_preload %s\n", getenv ("LD_PRELOAD") == NULL ? "unset" : "set");
  for (int way = 0; way < 3; way++)
    {
      printf ("expect %s_pid %d\n", ways[way], (int) pids[way]);
      printf ("expect %s_status %d\n", ways[way], statuses[way]);
    }
  printf ("Ran %s three ways without LD_PRELOAD in its environment.\n", argv[1]);
  return 0;
}
