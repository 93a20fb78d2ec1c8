/* io-poll — a thread waits in poll() for data, then in epoll_wait() for none.
 *
 * Usage: io-poll [DELAY_MS=50] [TIMEOUT_MS=30]
 *
 * `poller` polls the read end of a pipe with no timeout; `writer` sleeps
 * DELAY_MS and writes one byte into it, but only after it has seen `poller`
 * asleep in poll() (sample.h), so the poll really waits. Then `poller` calls
 * epoll_wait on an epoll set holding only an empty pipe, with a timeout of
 * TIMEOUT_MS, which expires.
 *
 * The trace must show, for `poller`: one 'poll' wait (arg 1 descriptor,
 * result ok) of about poll_wait_ms, followed by one 'epoll' wait (result
 * timeout) of about epoll_wait_ms (at least TIMEOUT_MS); both in state io.
 * `writer` shows one sleep of DELAY_MS and no io wait.
 */
#include <poll.h>
#include <sys/epoll.h>

#include "sample.h"

static int data_pipe[2], empty_pipe[2];
static long delay_ms, timeout_ms;
static pid_t poller_tid;
static atomic_int poller_announced;
static int64_t poll_ns, epoll_ns;
static int poll_ready, epoll_ready;

static __attribute__((noinline)) void *
poller_main (void *data)
{
  struct pollfd pfd = { .fd = data_pipe[0], .events = POLLIN };
  struct epoll_event ev = { .events = EPOLLIN }, out;
  int64_t start_ns;
  char byte;
  int epfd;

  sample_name_self ("poller");
  poller_tid = gettid ();

  sample_announce (&poller_announced);
  start_ns = sample_now_ns ();
  poll_ready = poll (&pfd, 1, -1);          /* waits for `writer` */
  poll_ns = sample_now_ns () - start_ns;
  if (read (data_pipe[0], &byte, 1) != 1)
    return NULL;

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  epoll_ctl (epfd, EPOLL_CTL_ADD, empty_pipe[0], &ev);
  start_ns = sample_now_ns ();
  epoll_ready = epoll_wait (epfd, &out, 1, timeout_ms);   /* times out */
  epoll_ns = sample_now_ns () - start_ns;
  close (epfd);
  return NULL;
}

static void *
writer_main (void *data)
{
  sample_name_self ("writer");
  sample_sleep_ms (delay_ms);
  while (atomic_load (&poller_announced) == 0)
    sample_sleep_ms (1);
  sample_await_blocked (poller_tid, &poller_announced, NULL);
  if (write (data_pipe[1], "x", 1) != 1)
    perror ("io-poll: write");
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[DELAY_MS=50] [TIMEOUT_MS=30]";
  pthread_t poller, writer;

  delay_ms = sample_arg (argc, argv, 1, 50, 1, 60000, usage);
  timeout_ms = sample_arg (argc, argv, 2, 30, 1, 60000, usage);
  sample_name_self ("main");
  if (pipe2 (data_pipe, O_CLOEXEC) != 0 || pipe2 (empty_pipe, O_CLOEXEC) != 0)
    {
      perror ("io-poll: pipe");
      return 1;
    }

  pthread_create (&poller, NULL, poller_main, NULL);
  pthread_create (&writer, NULL, writer_main, NULL);
  pthread_join (writer, NULL);
  pthread_join (poller, NULL);

  printf ("expect io_thread poller\n");
  printf ("expect poll_ready %d\n", poll_ready);
  printf ("expect poll_wait_ms %ld\n", sample_ms (0, poll_ns));
  printf ("expect epoll_result %s\n", epoll_ready == 0 ? "timeout" : "ready");
  printf ("expect epoll_wait_ms %ld\n", sample_ms (0, epoll_ns));
  printf ("'poller' waited %ld ms in poll() for data and %ld ms in epoll_wait() "
          "for nothing.\n", sample_ms (0, poll_ns), sample_ms (0, epoll_ns));
  return 0;
}
