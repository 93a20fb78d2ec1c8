/* child-poll — polls an empty pipe until the timeout, then exits with 3.
 *
 * Usage: child-poll [POLL_MS=60] [STATUS=3] [--quiet]
 *
 * The program that fork-exec runs in its children (with --quiet, so that
 * only the parent prints expect lines). Alone it is a one-thread sample.
 *
 * The trace must show: one process whose only thread, `child-poll`, has one
 * 'poll' wait (arg 1 descriptor, result timeout) of about poll_wait_ms (at
 * least POLL_MS), and that exits with exit_status.
 */
#include <poll.h>

#include "sample.h"

int
main (int    argc,
      char **argv)
{
  const char *usage = "[POLL_MS=60] [STATUS=3] [--quiet]";
  int quiet = argc > 1 && strcmp (argv[argc - 1], "--quiet") == 0;
  struct pollfd pfd = { .events = POLLIN };
  long poll_ms, status;
  int64_t start_ns, wait_ns;
  int fds[2], ready;

  if (quiet)
    argc--;
  poll_ms = sample_arg (argc, argv, 1, 60, 1, 60000, usage);
  status = sample_arg (argc, argv, 2, 3, 0, 255, usage);
  sample_name_self ("child-poll");
  if (pipe2 (fds, O_CLOEXEC) != 0)
    return 1;

  pfd.fd = fds[0];                        /* nobody ever writes to fds[1] */
  start_ns = sample_now_ns ();
  ready = poll (&pfd, 1, poll_ms);
  wait_ns = sample_now_ns () - start_ns;

  if (!quiet)
    {
      printf ("expect poll_result %s\n", ready == 0 ? "timeout" : "ready");
      printf ("expect poll_wait_ms %ld\n", sample_ms (0, wait_ns));
      printf ("expect exit_status %ld\n", status);
      printf ("'child-poll' waited %ld ms in poll() for nothing and exits with %ld.\n",
              sample_ms (0, wait_ns), status);
    }
  return (int) status;
}
