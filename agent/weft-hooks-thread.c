/* weft-hooks-thread.c — thread birth, naming and death.
 *
 * pthread_create runs the new thread through a thunk that claims a slot,
 * writes THREAD_START and pushes a cleanup handler, so THREAD_END is written
 * whether the start routine returns, calls pthread_exit, or is cancelled.
 */
#include "weft-agent-private.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  void *(*start_routine) (void *);
  void *arg;
  int32_t creator_tid;
} WeftThunk;

static void
thread_cleanup (void *data)
{
  weft_thread_end (&weft_thread);
}

/* Start routine of every thread created through our pthread_create. */
static void *
thread_thunk (void *data)
{
  WeftThunk thunk = *(WeftThunk *) data;
  void *ret;

  free (data);
  weft_thread_attach (&weft_thread, thunk.creator_tid, true);
  pthread_cleanup_push (thread_cleanup, NULL);
  ret = thunk.start_routine (thunk.arg);
  pthread_cleanup_pop (1);
  return ret;
}

/* The thunk is malloc'ed: pthread_create is not a lock path, and the new
 * thread needs it after we return. Without memory the thread is created
 * untraced rather than not at all. */
WEFT_EXPORT int
pthread_create (pthread_t            *thread,
                const pthread_attr_t *attr,
                void               *(*start_routine) (void *),
                void                 *arg)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_t *, const pthread_attr_t *, void *(*) (void *), void *) =
    WEFT_REAL (pthread_create);
  WeftThunk *thunk;
  int ret;

  if (real == NULL)
    return EAGAIN;
  if (!weft_agent.active || t->busy)
    return real (thread, attr, start_routine, arg);
  thunk = malloc (sizeof *thunk);
  if (thunk == NULL)
    return real (thread, attr, start_routine, arg);
  thunk->start_routine = start_routine;
  thunk->arg = arg;
  thunk->creator_tid = t->slot != NULL ? t->tid : gettid ();
  ret = real (thread, attr, thread_thunk, thunk);
  if (ret != 0)
    free (thunk);
  return ret;
}

WEFT_EXPORT int
pthread_setname_np (pthread_t   thread,
                    const char *name)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_t, const char *) = WEFT_REAL (pthread_setname_np);
  WeftRecThreadName *r;
  int ret, saved_errno;

  if (real == NULL)
    return ENOSYS;
  ret = real (thread, name);
  if (ret != 0 || !weft_thread_tracing (t))
    return ret;

  saved_errno = errno;
  t->busy = 1;
  WEFT_SIGNAL_FENCE ();
  r = weft_ring_reserve (t, WEFT_REC_THREAD_NAME, sizeof *r);
  if (r != NULL)
    {
      r->time_ns = weft_now_ns ();
      r->target_pthread = (uint64_t) thread;
      r->target_tid = pthread_equal (thread, pthread_self ()) ? t->tid : 0;
      r->reserved = 0;
      memset (r->name, 0, sizeof r->name);
      weft_strlcpy (r->name, name, sizeof r->name);
      weft_ring_commit (t, r);
    }
  WEFT_SIGNAL_FENCE ();
  t->busy = 0;
  errno = saved_errno;
  return ret;
}
