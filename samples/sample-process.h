/* sample-process.h — helpers for samples whose threads or processes wait
 * for each other across process boundaries (libc only, header-only; see
 * sample.h for the conventions).
 *
 * The same certainty as sample.h: the thread that must find an object taken
 * announces it, and the other side only lets go once it has seen that
 * thread asleep, here through /proc/PID/task/TID/stat of any process of the
 * same user, not just our own.
 */
#pragma once

#include <sys/mman.h>

#include "sample.h"

/* Zeroed memory shared with the children forked after this call. Exits with
 * status 1 when it cannot be had. */
static inline void *
sample_shared_alloc (size_t bytes)
{
  void *p = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  if (p == MAP_FAILED)
    {
      perror ("mmap");
      exit (1);
    }
  return p;
}

/* Returns once thread tid of process pid has announced and is asleep. */
static inline void
sample_await_task_blocked (pid_t       pid,
                           pid_t       tid,
                           atomic_int *announced)
{
  while (!atomic_load (announced) || !sample_task_asleep (pid, tid))
    sample_sleep_ms (1);
}

/* Returns once *value >= target (another process moves it). */
static inline void
sample_await_at_least (atomic_int *value,
                       int         target)
{
  while (atomic_load (value) < target)
    sample_sleep_ms (1);
}
