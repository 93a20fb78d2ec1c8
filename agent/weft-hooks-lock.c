/* weft-hooks-lock.c — mutexes, rwlocks, spinlocks and semaphores.
 *
 * Every lock first tries the real trylock. Success (the common case) costs
 * one TLS load, the real trylock through a cached pointer and one counter
 * increment in the thread's slot; nothing is written to the ring. Only a
 * failed try (contention) timestamps both ends of the real blocking call and
 * writes a WAIT record. Results are the real function's, unchanged.
 */
#include "weft-agent-private.h"

/* The WAIT result for a lock-style return code. */
static uint8_t
lock_result (int ret)
{
  switch (ret)
    {
    case 0:
    case EOWNERDEAD:          /* acquired; the caller must make it consistent */
      return WEFT_RESULT_OK;
    case ETIMEDOUT:
      return WEFT_RESULT_TIMEOUT;
    case EINTR:
      return WEFT_RESULT_INTERRUPTED;
    default:
      return WEFT_RESULT_ERROR;
    }
}

/* The slow entry shared by the lock wrappers: resolves, and tells whether
 * this thread records at all (lazily attaching a thread we did not start). */
static bool
lock_slow_tracing (WeftThread *t)
{
  if (weft_real.pthread_mutex_trylock == NULL)
    weft_resolve ();
  if (!weft_agent.active || t->busy || t->ended)
    return false;
  return weft_thread_tracing (t) && t->slot != NULL;
}

static inline bool
valid_abstime (const struct timespec *abstime)
{
  return abstime != NULL && abstime->tv_nsec >= 0 && abstime->tv_nsec < 1000000000;
}

static inline bool
valid_lock_clock (clockid_t clockid)
{
  return clockid == CLOCK_REALTIME || clockid == CLOCK_MONOTONIC;
}

/* ---------------------------------------------------------------------- */
/* Mutexes */

typedef enum
{
  MUTEX_LOCK,
  MUTEX_TIMEDLOCK,
  MUTEX_CLOCKLOCK,
} MutexOp;

/* The blocking half of a mutex lock whose trylock returned `tried`. */
static int
mutex_contended (WeftThread            *t,
                 pthread_mutex_t       *m,
                 int                    tried,
                 MutexOp                op,
                 clockid_t              clockid,
                 const struct timespec *abstime)
{
  WeftWait w;
  int32_t holder;
  bool self_held;
  int ret;

  if (tried != EBUSY)
    {
      /* EOWNERDEAD means acquired; anything else is what the real lock would
       * say too (ENOTRECOVERABLE, EINVAL, EAGAIN…). */
      if (tried == EOWNERDEAD && t->slot != NULL)
        weft_count_acquire (t, (uintptr_t) m, WEFT_OBJ_MUTEX, false);
      return tried;
    }

  /* Read before blocking: who we are about to wait for. Our own tid means an
   * error-checking mutex locked twice: the real call returns EDEADLK at once
   * and there is no wait to record. */
  holder = m->__data.__owner;
  self_held = holder != 0 && holder == t->tid;
  w.on = false;
  if (!self_held)
    weft_wait_begin (t, &w, holder);

  switch (op)
    {
    case MUTEX_LOCK:
      ret = weft_real.pthread_mutex_lock (m);
      break;
    case MUTEX_TIMEDLOCK:
      ret = weft_real.pthread_mutex_timedlock (m, abstime);
      break;
    case MUTEX_CLOCKLOCK:
    default:
      ret = weft_real.pthread_mutex_clocklock (m, clockid, abstime);
      break;
    }

  if (self_held || ret == EDEADLK)
    return ret;
  if ((ret == 0 || ret == EOWNERDEAD) && t->slot != NULL)
    weft_count_acquire (t, (uintptr_t) m, WEFT_OBJ_MUTEX, true);
  weft_wait_end (t, &w, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, (uintptr_t) m, 0,
                 lock_result (ret), ret);
  return ret;
}

static __attribute__ ((noinline)) int
mutex_lock_slow (WeftThread      *t,
                 pthread_mutex_t *m)
{
  int ret;

  if (!lock_slow_tracing (t))
    {
      if (weft_real.pthread_mutex_lock == NULL)
        return EAGAIN;
      return weft_real.pthread_mutex_lock (m);
    }
  ret = weft_real.pthread_mutex_trylock (m);
  if (ret == 0)
    {
      weft_count_acquire (t, (uintptr_t) m, WEFT_OBJ_MUTEX, false);
      return 0;
    }
  return mutex_contended (t, m, ret, MUTEX_LOCK, 0, NULL);
}

WEFT_EXPORT int
pthread_mutex_lock (pthread_mutex_t *m)
{
  WeftThread *t = &weft_thread;
  int ret;

  if (WEFT_UNLIKELY (t->slot == NULL || t->busy))
    return mutex_lock_slow (t, m);
  ret = weft_real.pthread_mutex_trylock (m);
  if (WEFT_LIKELY (ret == 0))
    {
      weft_count_acquire (t, (uintptr_t) m, WEFT_OBJ_MUTEX, false);
      return 0;
    }
  return mutex_contended (t, m, ret, MUTEX_LOCK, 0, NULL);
}

WEFT_EXPORT int
pthread_mutex_trylock (pthread_mutex_t *m)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_mutex_t *) = WEFT_REAL (pthread_mutex_trylock);
  int ret;

  if (WEFT_UNLIKELY (real == NULL))
    return EAGAIN;
  ret = real (m);
  if ((ret == 0 || ret == EOWNERDEAD) && t->slot != NULL && !t->busy)
    weft_count_acquire (t, (uintptr_t) m, WEFT_OBJ_MUTEX, false);
  return ret;
}

static int
mutex_timed (pthread_mutex_t       *m,
             MutexOp                op,
             clockid_t              clockid,
             const struct timespec *abstime)
{
  WeftThread *t = &weft_thread;
  int ret;

  if (WEFT_UNLIKELY (t->slot == NULL || t->busy) && !lock_slow_tracing (t))
    goto passthrough;
  ret = weft_real.pthread_mutex_trylock (m);
  if (ret == 0)
    {
      weft_count_acquire (t, (uintptr_t) m, WEFT_OBJ_MUTEX, false);
      return 0;
    }
  return mutex_contended (t, m, ret, op, clockid, abstime);

passthrough:
  if (op == MUTEX_TIMEDLOCK)
    return weft_real.pthread_mutex_timedlock != NULL ?
           weft_real.pthread_mutex_timedlock (m, abstime) : ENOSYS;
  return weft_real.pthread_mutex_clocklock != NULL ?
         weft_real.pthread_mutex_clocklock (m, clockid, abstime) : ENOSYS;
}

WEFT_EXPORT int
pthread_mutex_timedlock (pthread_mutex_t       *m,
                         const struct timespec *abstime)
{
  return mutex_timed (m, MUTEX_TIMEDLOCK, CLOCK_REALTIME, abstime);
}

WEFT_EXPORT int
pthread_mutex_clocklock (pthread_mutex_t       *m,
                         clockid_t              clockid,
                         const struct timespec *abstime)
{
  /* An unsupported clock is EINVAL even when the mutex is free: let the
   * real function say so. */
  if (!valid_lock_clock (clockid))
    {
      int (*real) (pthread_mutex_t *, clockid_t, const struct timespec *) =
        WEFT_REAL (pthread_mutex_clocklock);
      return real != NULL ? real (m, clockid, abstime) : ENOSYS;
    }
  return mutex_timed (m, MUTEX_CLOCKLOCK, clockid, abstime);
}

WEFT_EXPORT int
pthread_mutex_unlock (pthread_mutex_t *m)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_mutex_t *) = WEFT_REAL (pthread_mutex_unlock);

  weft_release (t, (uintptr_t) m);
  if (WEFT_UNLIKELY (real == NULL))
    return EAGAIN;
  return real (m);
}

/* ---------------------------------------------------------------------- */
/* Read-write locks */

typedef enum
{
  RW_PLAIN,
  RW_TIMED,
  RW_CLOCK,
} RwOp;

static int
rwlock_call (pthread_rwlock_t      *rw,
             bool                   write,
             RwOp                   op,
             clockid_t              clockid,
             const struct timespec *abstime)
{
  switch (op)
    {
    case RW_PLAIN:
      return write ? weft_real.pthread_rwlock_wrlock (rw) : weft_real.pthread_rwlock_rdlock (rw);
    case RW_TIMED:
      return write ? weft_real.pthread_rwlock_timedwrlock (rw, abstime) :
                     weft_real.pthread_rwlock_timedrdlock (rw, abstime);
    case RW_CLOCK:
    default:
      return write ? weft_real.pthread_rwlock_clockwrlock (rw, clockid, abstime) :
                     weft_real.pthread_rwlock_clockrdlock (rw, clockid, abstime);
    }
}

/* All rwlock acquisitions: try first, then the real blocking call. */
static int
rwlock_acquire (pthread_rwlock_t      *rw,
                bool                   write,
                RwOp                   op,
                clockid_t              clockid,
                const struct timespec *abstime)
{
  WeftThread *t = &weft_thread;
  WeftWait w;
  int32_t holder;
  int ret;

  if (weft_real.pthread_rwlock_rdlock == NULL)
    weft_resolve ();
  /* glibc checks the clock and the deadline before anything else: an invalid
   * one is EINVAL even for a free lock. */
  if ((op == RW_CLOCK && !valid_lock_clock (clockid)) ||
      (op != RW_PLAIN && !valid_abstime (abstime)))
    return rwlock_call (rw, write, op, clockid, abstime);
  if (WEFT_UNLIKELY (t->slot == NULL || t->busy) && !lock_slow_tracing (t))
    return rwlock_call (rw, write, op, clockid, abstime);

  ret = write ? weft_real.pthread_rwlock_trywrlock (rw) : weft_real.pthread_rwlock_tryrdlock (rw);
  if (ret == 0)
    {
      weft_count_acquire (t, (uintptr_t) rw, WEFT_OBJ_RWLOCK, false);
      return 0;
    }
  if (ret != EBUSY)
    return ret;     /* EAGAIN (reader limit): the blocking call says the same */

  holder = rw->__data.__cur_writer;
  if (holder != 0 && holder == t->tid)
    return rwlock_call (rw, write, op, clockid, abstime);   /* EDEADLK */

  weft_wait_begin (t, &w, holder);
  ret = rwlock_call (rw, write, op, clockid, abstime);
  if (ret == EDEADLK)
    return ret;
  if (ret == 0 && t->slot != NULL)
    weft_count_acquire (t, (uintptr_t) rw, WEFT_OBJ_RWLOCK, true);
  weft_wait_end (t, &w, write ? WEFT_WAIT_WRLOCK : WEFT_WAIT_RDLOCK, WEFT_OBJ_RWLOCK,
                 (uintptr_t) rw, 0, lock_result (ret), ret);
  return ret;
}

WEFT_EXPORT int
pthread_rwlock_rdlock (pthread_rwlock_t *rw)
{
  return rwlock_acquire (rw, false, RW_PLAIN, 0, NULL);
}

WEFT_EXPORT int
pthread_rwlock_wrlock (pthread_rwlock_t *rw)
{
  return rwlock_acquire (rw, true, RW_PLAIN, 0, NULL);
}

WEFT_EXPORT int
pthread_rwlock_timedrdlock (pthread_rwlock_t      *rw,
                            const struct timespec *abstime)
{
  return rwlock_acquire (rw, false, RW_TIMED, CLOCK_REALTIME, abstime);
}

WEFT_EXPORT int
pthread_rwlock_timedwrlock (pthread_rwlock_t      *rw,
                            const struct timespec *abstime)
{
  return rwlock_acquire (rw, true, RW_TIMED, CLOCK_REALTIME, abstime);
}

WEFT_EXPORT int
pthread_rwlock_clockrdlock (pthread_rwlock_t      *rw,
                            clockid_t              clockid,
                            const struct timespec *abstime)
{
  return rwlock_acquire (rw, false, RW_CLOCK, clockid, abstime);
}

WEFT_EXPORT int
pthread_rwlock_clockwrlock (pthread_rwlock_t      *rw,
                            clockid_t              clockid,
                            const struct timespec *abstime)
{
  return rwlock_acquire (rw, true, RW_CLOCK, clockid, abstime);
}

static int
rwlock_try (pthread_rwlock_t *rw,
            bool              write)
{
  WeftThread *t = &weft_thread;
  int ret;

  if (weft_real.pthread_rwlock_tryrdlock == NULL)
    weft_resolve ();
  ret = write ? weft_real.pthread_rwlock_trywrlock (rw) : weft_real.pthread_rwlock_tryrdlock (rw);
  if (ret == 0 && t->slot != NULL && !t->busy)
    weft_count_acquire (t, (uintptr_t) rw, WEFT_OBJ_RWLOCK, false);
  return ret;
}

WEFT_EXPORT int
pthread_rwlock_tryrdlock (pthread_rwlock_t *rw)
{
  return rwlock_try (rw, false);
}

WEFT_EXPORT int
pthread_rwlock_trywrlock (pthread_rwlock_t *rw)
{
  return rwlock_try (rw, true);
}

WEFT_EXPORT int
pthread_rwlock_unlock (pthread_rwlock_t *rw)
{
  int (*real) (pthread_rwlock_t *) = WEFT_REAL (pthread_rwlock_unlock);

  weft_release (&weft_thread, (uintptr_t) rw);
  return real != NULL ? real (rw) : EAGAIN;
}

/* ---------------------------------------------------------------------- */
/* Spinlocks */

WEFT_EXPORT int
pthread_spin_lock (pthread_spinlock_t *lock)
{
  WeftThread *t = &weft_thread;
  WeftWait w;
  int ret;

  if (WEFT_UNLIKELY (t->slot == NULL || t->busy) && !lock_slow_tracing (t))
    return weft_real.pthread_spin_lock != NULL ? weft_real.pthread_spin_lock (lock) : EAGAIN;
  ret = weft_real.pthread_spin_trylock (lock);
  if (ret == 0)
    {
      weft_count_acquire (t, (uintptr_t) lock, WEFT_OBJ_SPIN, false);
      return 0;
    }
  weft_wait_begin (t, &w, 0);
  ret = weft_real.pthread_spin_lock (lock);
  if (ret == 0 && t->slot != NULL)
    weft_count_acquire (t, (uintptr_t) lock, WEFT_OBJ_SPIN, true);
  weft_wait_end (t, &w, WEFT_WAIT_SPIN, WEFT_OBJ_SPIN, (uintptr_t) lock, 0,
                 lock_result (ret), ret);
  return ret;
}

WEFT_EXPORT int
pthread_spin_trylock (pthread_spinlock_t *lock)
{
  WeftThread *t = &weft_thread;
  int (*real) (pthread_spinlock_t *) = WEFT_REAL (pthread_spin_trylock);
  int ret;

  if (real == NULL)
    return EAGAIN;
  ret = real (lock);
  if (ret == 0 && t->slot != NULL && !t->busy)
    weft_count_acquire (t, (uintptr_t) lock, WEFT_OBJ_SPIN, false);
  return ret;
}

WEFT_EXPORT int
pthread_spin_unlock (pthread_spinlock_t *lock)
{
  int (*real) (pthread_spinlock_t *) = WEFT_REAL (pthread_spin_unlock);

  weft_release (&weft_thread, (uintptr_t) lock);
  return real != NULL ? real (lock) : EAGAIN;
}

/* ---------------------------------------------------------------------- */
/* Semaphores (return -1 and set errno, unlike the pthread functions) */

typedef enum
{
  SEM_WAIT,
  SEM_TIMED,
  SEM_CLOCK,
} SemOp;

static int
sem_call (sem_t                 *sem,
          SemOp                  op,
          clockid_t              clockid,
          const struct timespec *abstime)
{
  switch (op)
    {
    case SEM_WAIT:
      return weft_real.sem_wait (sem);
    case SEM_TIMED:
      return weft_real.sem_timedwait (sem, abstime);
    case SEM_CLOCK:
    default:
      return weft_real.sem_clockwait (sem, clockid, abstime);
    }
}

static int
sem_acquire (sem_t                 *sem,
             SemOp                  op,
             clockid_t              clockid,
             const struct timespec *abstime)
{
  WeftThread *t = &weft_thread;
  WeftWait w;
  int saved_errno = errno;
  int ret, error;
  uint8_t result;

  if (weft_real.sem_wait == NULL)
    weft_resolve ();
  if ((op == SEM_CLOCK && !valid_lock_clock (clockid)) ||
      (op != SEM_WAIT && !valid_abstime (abstime)))
    return sem_call (sem, op, clockid, abstime);
  if (WEFT_UNLIKELY (t->slot == NULL || t->busy) && !lock_slow_tracing (t))
    return sem_call (sem, op, clockid, abstime);

  /* sem_wait is a cancellation point even when it does not block; our
   * sem_trywait is not, so act on a pending cancel first as glibc does. */
  pthread_testcancel ();
  if (weft_real.sem_trywait (sem) == 0)
    {
      weft_count_acquire (t, (uintptr_t) sem, WEFT_OBJ_SEM, false);
      errno = saved_errno;
      return 0;
    }
  if (errno != EAGAIN)
    return -1;
  errno = saved_errno;

  weft_wait_begin (t, &w, 0);
  ret = sem_call (sem, op, clockid, abstime);
  error = ret == 0 ? 0 : errno;
  if (ret == 0)
    {
      result = WEFT_RESULT_OK;
      if (t->slot != NULL)
        weft_count_acquire (t, (uintptr_t) sem, WEFT_OBJ_SEM, true);
    }
  else if (error == ETIMEDOUT)
    result = WEFT_RESULT_TIMEOUT;
  else if (error == EINTR)
    result = WEFT_RESULT_INTERRUPTED;
  else
    result = WEFT_RESULT_ERROR;
  weft_wait_end (t, &w, WEFT_WAIT_SEM, WEFT_OBJ_SEM, (uintptr_t) sem, 0, result, error);
  return ret;
}

WEFT_EXPORT int
sem_wait (sem_t *sem)
{
  return sem_acquire (sem, SEM_WAIT, 0, NULL);
}

WEFT_EXPORT int
sem_timedwait (sem_t                 *sem,
               const struct timespec *abstime)
{
  return sem_acquire (sem, SEM_TIMED, CLOCK_REALTIME, abstime);
}

WEFT_EXPORT int
sem_clockwait (sem_t                 *sem,
               clockid_t              clockid,
               const struct timespec *abstime)
{
  return sem_acquire (sem, SEM_CLOCK, clockid, abstime);
}

WEFT_EXPORT int
sem_trywait (sem_t *sem)
{
  WeftThread *t = &weft_thread;
  int (*real) (sem_t *) = WEFT_REAL (sem_trywait);
  int ret;

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  ret = real (sem);
  if (ret == 0 && t->slot != NULL && !t->busy)
    weft_count_acquire (t, (uintptr_t) sem, WEFT_OBJ_SEM, false);
  return ret;
}

WEFT_EXPORT int
sem_post (sem_t *sem)
{
  int (*real) (sem_t *) = WEFT_REAL (sem_post);

  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  return real (sem);
}
