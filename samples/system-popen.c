/* system-popen — children made by system() and popen(). glibc starts their
 * /bin/sh with its own internal posix_spawn and reaps it with its own
 * internal waitpid: no wrapper of the agent runs for either, in the parent.
 *
 * Usage: system-popen [DIR [SETUID_PROGRAM]]
 *
 * DIR holds child-poll and child-poll-static (default: this program's
 * directory). SETUID_PROGRAM, if given, is a copy of cpu-parallel that is
 * setuid to another user (the tests make one as root). Each command first prints its shell's pid (`echo expect
 * KEY_pid $$`), then ends the shell or execs into a program, keeping the pid
 * (dash and bash exec the last command of -c): that pid is the process the
 * trace must show. In order:
 *   system ("… exit 3")                      the shell (instrumented) exits 3
 *   system ("… exec child-poll 30 4")        an instrumented program exits 4
 *   system ("… exec child-poll-static 30 5") a static program (no agent) exits 5
 *   system ("… kill -KILL $$")               the shell dies of SIGKILL
 *   popen ("… exec child-poll 30 6", "r")    and pclose: exits 6
 *   popen ("… exec child-poll-static 30 7", "r") and pclose: exits 7
 *   system ("… exec SETUID_PROGRAM 1 50")    no agent, perf detached, exits 0
 * (child-poll is run with --quiet; a popen child's echo comes through the
 * pipe, and this program prints it.)
 *
 * The trace must show: `processes` processes; each KEY_pid under this one,
 * with its exit status KEY_status or killing signal KEY_signal as
 * system()/pclose() returned it, its start and end, its CPU time, the static
 * ones not instrumented (why: static) but on the CPUs all the same.
 */
#include <libgen.h>
#include <sys/wait.h>

#include "sample.h"

static char dir[4096];

/* Prints KEY_status or KEY_signal from a wait status. */
static void
print_status (const char *key,
              int         status)
{
  if (WIFEXITED (status))
    printf ("expect %s_status %d\n", key, WEXITSTATUS (status));
  else if (WIFSIGNALED (status))
    printf ("expect %s_signal %d\n", key, WTERMSIG (status));
  else
    printf ("expect %s_status unknown\n", key);
}

static void
run_system (const char *key,
            const char *tail)
{
  char command[8192];

  snprintf (command, sizeof command, "echo expect %s_pid $$; %s", key, tail);
  fflush (stdout);
  print_status (key, system (command));
}

/* The child's stdout is the pipe: its expect line is read and printed. */
static void
run_popen (const char *key,
           const char *program,
           int         status)
{
  char command[8192], line[256];
  FILE *child;

  snprintf (command, sizeof command, "echo expect %s_pid $$; exec %s/%s 30 %d --quiet",
            key, dir, program, status);
  fflush (stdout);
  child = popen (command, "r");
  if (child == NULL)
    {
      perror ("popen");
      exit (1);
    }
  while (fgets (line, sizeof line, child) != NULL)
    fputs (line, stdout);
  print_status (key, pclose (child));
}

int
main (int    argc,
      char **argv)
{
  char self[4096], tail[8192];

  snprintf (self, sizeof self, "%s", argv[0]);
  snprintf (dir, sizeof dir, "%s", argc > 1 ? argv[1] : dirname (self));

  run_system ("system_exit", "exit 3");
  snprintf (tail, sizeof tail, "exec %s/child-poll 30 4 --quiet", dir);
  run_system ("system_dynamic", tail);
  snprintf (tail, sizeof tail, "exec %s/child-poll-static 30 5 --quiet", dir);
  run_system ("system_static", tail);
  run_system ("system_kill", "kill -KILL $$");
  run_popen ("popen_dynamic", "child-poll", 6);
  run_popen ("popen_static", "child-poll-static", 7);
  if (argc > 2)
    {
      snprintf (tail, sizeof tail, "exec %s 1 50", argv[2]);
      run_system ("system_setuid", tail);
    }

  printf ("expect processes %d\n", argc > 2 ? 8 : 7);
  printf ("Four children by system() and two by popen() ended as printed above.\n");
  return 0;
}
