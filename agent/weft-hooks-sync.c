/* weft-hooks-sync.c — condition variables, barriers and joins: always a
 * WAIT record (these calls are meant to wait).
 *
 * The real call runs with t->busy clear: pthread_cond_wait and pthread_join
 * are cancellation points, and a thread cancelled inside them must not leave
 * the agent believing it is still busy.
 */
#include "weft-agent-private.h"

static uint8_t
sync_result (int ret)
{
  switch (ret)
    {
    case 0:
      return WEFT_RESULT_OK;
    case ETIMEDOUT:
    case EBUSY:             /* pthread_timedjoin_np on an expired deadline */
      return WEFT_RESULT_TIMEOUT;
    case EINTR:
      return WEFT_RESULT_INTERRUPTED;
    default:
      return WEFT_RESULT_ERROR;
    }
}

typedef enum
{
  COND_WAIT,
  COND_TIMED,
  COND_CLOCK,
} CondOp;

static int
cond_wait_common (pthread_cond_t        *cond,
                  pthread_mutex_t       *m,
                  CondOp                 op,
                  clockid_t              clockid,
                  const struct timespec *abstime)
{
  WeftThread *t = &weft_thread;
  WeftWait w;
  int ret;

  if (weft_real.pthread_cond_wait == NULL)
    weft_resolve ();
  /* The wait releases the mutex: a hold we were timing ends here, not at
   * the next unlock. */
  weft_release (t, (uintptr_t) m);

  weft_wait_begin (t, &w, 0);
  switch (op)
    {
    case COND_WAIT:
      ret = weft_real.pthread_cond_wait != NULL ? weft_real.pthread_cond_wait (cond, m) : ENOSYS;
      break;
    case COND_TIMED:
      ret = weft_real.pthread_cond_timedwait != NULL ?
            weft_real.pthread_cond_timedwait (cond, m, abstime) : ENOSYS;
      break;
    case COND_CLOCK:
    default:
      ret = weft_real.pthread_cond_clockwait != NULL ?
            weft_real.pthread_cond_clockwait (cond, m, clockid, abstime) : ENOSYS;
      break;
    }
  weft_wait_end (t, &w, WEFT_WAIT_COND, WEFT_OBJ_COND, (uintptr_t) cond, (uintptr_t) m,
                 sync_result (ret), ret);
  return ret;
}

WEFT_EXPORT int
pthread_cond_wait (pthread_cond_t  *cond,
                   pthread_mutex_t *m)
{
  return cond_wait_common (cond, m, COND_WAIT, 0, NULL);
}

WEFT_EXPORT int
pthread_cond_timedwait (pthread_cond_t        *cond,
                        pthread_mutex_t       *m,
                        const struct timespec *abstime)
{
  return cond_wait_common (cond, m, COND_TIMED, CLOCK_REALTIME, abstime);
}

WEFT_EXPORT int
pthread_cond_clockwait (pthread_cond_t        *cond,
                        pthread_mutex_t       *m,
                        clockid_t              clockid,
                        const struct timespec *abstime)
{
  return cond_wait_common (cond, m, COND_CLOCK, clockid, abstime);
}

WEFT_EXPORT int
pthread_cond_signal (pthread_cond_t *cond)
{
  int (*real) (pthread_cond_t *) = WEFT_REAL (pthread_cond_signal);

  return real != NULL ? real (cond) : ENOSYS;
}

WEFT_EXPORT int
pthread_cond_broadcast (pthread_cond_t *cond)
{
  int (*real) (pthread_cond_t *) = WEFT_REAL (pthread_cond_broadcast);

  return real != NULL ? real (cond) : ENOSYS;
}

WEFT_EXPORT int
pthread_barrier_wait (pthread_barrier_t *barrier)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_barrier_t *) = WEFT_REAL (pthread_barrier_wait);
  WeftWait w;
  int ret;

  if (real == NULL)
    return ENOSYS;
  weft_wait_begin (t, &w, 0);
  ret = real (barrier);
  weft_wait_end (t, &w, WEFT_WAIT_BARRIER, WEFT_OBJ_BARRIER, (uintptr_t) barrier, 0,
                 ret == PTHREAD_BARRIER_SERIAL_THREAD ? WEFT_RESULT_OK : sync_result (ret), ret);
  return ret;
}

/* The collector maps pthread_t to a tid through THREAD_START records, so the
 * holder (the joined thread) is left 0 here. */
WEFT_EXPORT int
pthread_join (pthread_t   thread,
              void      **retval)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_t, void **) = WEFT_REAL (pthread_join);
  WeftWait w;
  int ret;

  if (real == NULL)
    return ENOSYS;
  weft_wait_begin (t, &w, 0);
  ret = real (thread, retval);
  weft_wait_end (t, &w, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, (uintptr_t) thread, 0,
                 sync_result (ret), ret);
  return ret;
}

WEFT_EXPORT int
pthread_timedjoin_np (pthread_t              thread,
                      void                 **retval,
                      const struct timespec *abstime)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_t, void **, const struct timespec *) = WEFT_REAL (pthread_timedjoin_np);
  WeftWait w;
  int ret;

  if (real == NULL)
    return ENOSYS;
  weft_wait_begin (t, &w, 0);
  ret = real (thread, retval, abstime);
  weft_wait_end (t, &w, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, (uintptr_t) thread, 0,
                 sync_result (ret), ret);
  return ret;
}

WEFT_EXPORT int
pthread_clockjoin_np (pthread_t              thread,
                      void                 **retval,
                      clockid_t              clockid,
                      const struct timespec *abstime)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_t, void **, clockid_t, const struct timespec *) =
    WEFT_REAL (pthread_clockjoin_np);
  WeftWait w;
  int ret;

  if (real == NULL)
    return ENOSYS;
  weft_wait_begin (t, &w, 0);
  ret = real (thread, retval, clockid, abstime);
  weft_wait_end (t, &w, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, (uintptr_t) thread, 0,
                 sync_result (ret), ret);
  return ret;
}
