/* weft-hooks-wait.c — I/O multiplexing and sleeps.
 *
 * A poll-family call is recorded only when it may block (infinite or
 * non-zero timeout): a zero timeout is a check, not a wait. errno is the
 * real call's, always.
 */
#include "weft-agent-private.h"

#include <unistd.h>

/* The WAIT result of a poll-style return (count of ready fds, 0, or -1). */
static uint8_t
poll_result (int ret,
             int error)
{
  if (ret > 0)
    return WEFT_RESULT_OK;
  if (ret == 0)
    return WEFT_RESULT_TIMEOUT;
  return error == EINTR ? WEFT_RESULT_INTERRUPTED : WEFT_RESULT_ERROR;
}

static bool
timespec_zero (const struct timespec *ts)
{
  return ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0;
}

/* Ends a poll-style wait, keeping errno as the real call left it. */
static int
poll_end (WeftThread *t,
          WeftWait   *w,
          uint8_t     kind,
          uint64_t    arg,
          int         ret)
{
  int error = ret < 0 ? errno : 0;

  weft_wait_end (t, w, kind, WEFT_OBJ_NONE, 0, arg, poll_result (ret, error), error);
  if (ret < 0)
    errno = error;
  return ret;
}

WEFT_EXPORT int
poll (struct pollfd *fds,
      nfds_t         nfds,
      int            timeout_ms)
{
  WeftThread *t = &weft_thread;
  int (*real) (struct pollfd *, nfds_t, int) = WEFT_REAL (poll);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timeout_ms == 0)
    return real (fds, nfds, timeout_ms);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_POLL, nfds, real (fds, nfds, timeout_ms));
}

WEFT_EXPORT int
ppoll (struct pollfd         *fds,
       nfds_t                 nfds,
       const struct timespec *timeout,
       const sigset_t        *sigmask)
{
  WeftThread *t = &weft_thread;
  int (*real) (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *) =
    WEFT_REAL (ppoll);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timespec_zero (timeout))
    return real (fds, nfds, timeout, sigmask);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_POLL, nfds, real (fds, nfds, timeout, sigmask));
}

WEFT_EXPORT int
select (int             nfds,
        fd_set         *readfds,
        fd_set         *writefds,
        fd_set         *exceptfds,
        struct timeval *timeout)
{
  WeftThread *t = &weft_thread;
  int (*real) (int, fd_set *, fd_set *, fd_set *, struct timeval *) = WEFT_REAL (select);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timeout != NULL && timeout->tv_sec == 0 && timeout->tv_usec == 0)
    return real (nfds, readfds, writefds, exceptfds, timeout);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_SELECT, (uint64_t) nfds,
                   real (nfds, readfds, writefds, exceptfds, timeout));
}

WEFT_EXPORT int
pselect (int                    nfds,
         fd_set                *readfds,
         fd_set                *writefds,
         fd_set                *exceptfds,
         const struct timespec *timeout,
         const sigset_t        *sigmask)
{
  WeftThread *t = &weft_thread;
  int (*real) (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *) =
    WEFT_REAL (pselect);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timespec_zero (timeout))
    return real (nfds, readfds, writefds, exceptfds, timeout, sigmask);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_SELECT, (uint64_t) nfds,
                   real (nfds, readfds, writefds, exceptfds, timeout, sigmask));
}

WEFT_EXPORT int
epoll_wait (int                 epfd,
            struct epoll_event *events,
            int                 maxevents,
            int                 timeout_ms)
{
  WeftThread *t = &weft_thread;
  int (*real) (int, struct epoll_event *, int, int) = WEFT_REAL (epoll_wait);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timeout_ms == 0)
    return real (epfd, events, maxevents, timeout_ms);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_EPOLL, (uint64_t) epfd,
                   real (epfd, events, maxevents, timeout_ms));
}

WEFT_EXPORT int
epoll_pwait (int                 epfd,
             struct epoll_event *events,
             int                 maxevents,
             int                 timeout_ms,
             const sigset_t     *sigmask)
{
  WeftThread *t = &weft_thread;
  int (*real) (int, struct epoll_event *, int, int, const sigset_t *) = WEFT_REAL (epoll_pwait);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timeout_ms == 0)
    return real (epfd, events, maxevents, timeout_ms, sigmask);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_EPOLL, (uint64_t) epfd,
                   real (epfd, events, maxevents, timeout_ms, sigmask));
}

WEFT_EXPORT int
epoll_pwait2 (int                    epfd,
              struct epoll_event    *events,
              int                    maxevents,
              const struct timespec *timeout,
              const sigset_t        *sigmask)
{
  WeftThread *t = &weft_thread;
  int (*real) (int, struct epoll_event *, int, const struct timespec *, const sigset_t *) =
    WEFT_REAL (epoll_pwait2);
  WeftWait w;

  if (real == NULL)
    return errno = ENOSYS, -1;
  if (timespec_zero (timeout))
    return real (epfd, events, maxevents, timeout, sigmask);
  weft_wait_begin (t, &w, 0);
  return poll_end (t, &w, WEFT_WAIT_EPOLL, (uint64_t) epfd,
                   real (epfd, events, maxevents, timeout, sigmask));
}

/* ---------------------------------------------------------------------- */
/* Sleeps: arg is the requested duration in ns. */

static uint8_t
sleep_result (int error)
{
  if (error == 0)
    return WEFT_RESULT_OK;
  return error == EINTR ? WEFT_RESULT_INTERRUPTED : WEFT_RESULT_ERROR;
}

WEFT_EXPORT int
nanosleep (const struct timespec *req,
           struct timespec       *rem)
{
  WeftThread *t = &weft_thread;
  int (*real) (const struct timespec *, struct timespec *) = WEFT_REAL (nanosleep);
  WeftWait w;
  int ret, error;

  if (real == NULL)
    return errno = ENOSYS, -1;
  weft_wait_begin (t, &w, 0);
  ret = real (req, rem);
  error = ret < 0 ? errno : 0;
  weft_wait_end (t, &w, WEFT_WAIT_SLEEP, WEFT_OBJ_NONE, 0, weft_timespec_ns (req),
                 sleep_result (error), error);
  if (ret < 0)
    errno = error;
  return ret;
}

/* Returns the error number, not -1/errno, like the real one. An absolute
 * deadline is turned into the duration left when the sleep starts. */
WEFT_EXPORT int
clock_nanosleep (clockid_t              clockid,
                 int                    flags,
                 const struct timespec *req,
                 struct timespec       *rem)
{
  WeftThread *t = &weft_thread;
  int (*real) (clockid_t, int, const struct timespec *, struct timespec *) =
    WEFT_REAL (clock_nanosleep);
  WeftWait w;
  uint64_t want_ns = weft_timespec_ns (req);
  int ret;

  if (real == NULL)
    return ENOSYS;
  weft_wait_begin (t, &w, 0);
  if (w.on && (flags & TIMER_ABSTIME) != 0)
    {
      struct timespec now;
      int saved_errno = errno;

      if (clock_gettime (clockid, &now) == 0)
        want_ns = want_ns > weft_timespec_ns (&now) ? want_ns - weft_timespec_ns (&now) : 0;
      errno = saved_errno;
    }
  ret = real (clockid, flags, req, rem);
  weft_wait_end (t, &w, WEFT_WAIT_SLEEP, WEFT_OBJ_NONE, 0, want_ns, sleep_result (ret), ret);
  return ret;
}

WEFT_EXPORT int
usleep (useconds_t usec)
{
  WeftThread *t = &weft_thread;
  int (*real) (useconds_t) = WEFT_REAL (usleep);
  WeftWait w;
  int ret, error;

  if (real == NULL)
    return errno = ENOSYS, -1;
  weft_wait_begin (t, &w, 0);
  ret = real (usec);
  error = ret < 0 ? errno : 0;
  weft_wait_end (t, &w, WEFT_WAIT_SLEEP, WEFT_OBJ_NONE, 0, (uint64_t) usec * 1000u,
                 sleep_result (error), error);
  if (ret < 0)
    errno = error;
  return ret;
}

WEFT_EXPORT unsigned int
sleep (unsigned int seconds)
{
  WeftThread *t = &weft_thread;
  unsigned int (*real) (unsigned int) = WEFT_REAL (sleep);
  WeftWait w;
  unsigned int left;

  if (real == NULL)
    return seconds;
  weft_wait_begin (t, &w, 0);
  left = real (seconds);
  weft_wait_end (t, &w, WEFT_WAIT_SLEEP, WEFT_OBJ_NONE, 0, (uint64_t) seconds * 1000000000u,
                 left == 0 ? WEFT_RESULT_OK : WEFT_RESULT_INTERRUPTED, 0);
  return left;
}
