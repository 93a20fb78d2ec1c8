/* sample.h — small helpers shared by the samples (libc only, header-only).
 *
 * Every sample prints its ground truth as lines `expect KEY VALUE` on stdout,
 * one fact per line, then one human sentence. Tests parse the expect lines and
 * compare them with the trace; the values are what the program measured or
 * counted, never constants it merely claims.
 *
 * Contention is made certain, not probable: a thread that must find a lock
 * taken announces that it is about to block (sample_announce), and the thread
 * that holds the lock does not let go before it has seen, in
 * /proc/self/task/TID/stat, that the announced thread is asleep in the kernel
 * (sample_await_blocked). After the announcement the waiter calls nothing but
 * the blocking function, so "asleep" can only mean "blocked in it".
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Parses argv[index] as an integer in [min, max]; returns fallback when the
 * argument is absent. Exits with status 2 and the usage line on bad input. */
static inline long
sample_arg (int         argc,
            char      **argv,
            int         index,
            long        fallback,
            long        min,
            long        max,
            const char *usage)
{
  char *end = NULL;
  long value;

  if (index >= argc)
    return fallback;
  errno = 0;
  value = strtol (argv[index], &end, 10);
  if (errno != 0 || end == argv[index] || *end != '\0' || value < min || value > max)
    {
      fprintf (stderr, "%s: bad argument '%s' (%ld..%ld)\nUsage: %s %s\n",
               argv[0], argv[index], min, max, argv[0], usage);
      exit (2);
    }
  return value;
}

static inline int64_t
sample_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds between two sample_now_ns() values, rounded to nearest. */
static inline long
sample_ms (int64_t start_ns,
           int64_t end_ns)
{
  return (long) ((end_ns - start_ns + 500000) / 1000000);
}

/* Sleeps the whole duration, resuming after signals. */
static inline void
sample_sleep_ms (long duration_ms)
{
  struct timespec ts = { duration_ms / 1000, (duration_ms % 1000) * 1000000 };

  while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Names the calling thread (at most 15 bytes are kept by the kernel). */
static inline void
sample_name_self (const char *name)
{
  pthread_setname_np (pthread_self (), name);
}

/* Called by a thread right before the one call that must block. */
static inline void
sample_announce (atomic_int *announced)
{
  atomic_store (announced, 1);
}

/* TRUE if thread tid of process pid is asleep (state S) in the kernel. When
 * /proc cannot be read, answers TRUE and the samples degrade to timing. */
static inline int
sample_task_asleep (pid_t pid,
                    pid_t tid)
{
  char path[64], buf[512];
  const char *paren;
  ssize_t len;
  int fd;

  snprintf (path, sizeof path, "/proc/%d/task/%d/stat", (int) pid, (int) tid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  len = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (len <= 0)
    return 1;
  buf[len] = '\0';
  /* "tid (comm) S …": comm may hold spaces and parentheses, so take the last ')'. */
  paren = strrchr (buf, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'S';
}

/* The same for a thread of this process. */
static inline int
sample_thread_asleep (pid_t tid)
{
  return sample_task_asleep (getpid (), tid);
}

/* Returns once thread tid has announced and is asleep, or has already
 * finished its blocking call (*done set). Polls every millisecond; in the
 * normal case the condition already holds and it returns without sleeping. */
static inline void
sample_await_blocked (pid_t       tid,
                      atomic_int *announced,
                      atomic_int *done)
{
  for (;;)
    {
      if (done != NULL && atomic_load (done))
        return;
      if (atomic_load (announced) && sample_thread_asleep (tid))
        return;
      sample_sleep_ms (1);
    }
}
