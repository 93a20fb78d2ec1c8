/* truncate-rings — a program that shrinks weft's ring files under it.
 *
 * Usage: truncate-rings
 *
 * The thread `waiter` blocks once on a mutex that `main` holds (certain
 * contention, sample.h), both finish their work, and main sleeps long
 * enough for weft to have drained that wait. Then main truncates every
 * chunk file of its own process in the session directory (WEFT_SESSION) to
 * zero bytes, as a buggy or hostile program could, waits again so that weft
 * reads the shrunken files while the program still runs, and exits 0 with
 * the raw exit_group system call: from the truncation on, nothing of the
 * agent may run in this process, since its own rings are gone too.
 *
 * The trace must hold the contended wait (drained before the truncation),
 * weft must not die of the SIGBUS that reading a truncated mapping raises,
 * and it must exit 0, the program's status, with the loss counted.
 */
#include <dirent.h>
#include <sys/syscall.h>

#include "sample.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int announced;
static atomic_int waiter_tid;

static void *
waiter_main (void *data)
{
  sample_name_self ("waiter");
  waiter_tid = gettid ();
  sample_announce (&announced);
  pthread_mutex_lock (&lock);             /* blocks: main has it */
  pthread_mutex_unlock (&lock);
  return NULL;
}

/* Truncates this process's chunk files (pPID-….chunk); returns how many. */
static int
truncate_own_chunks (const char *dir_path)
{
  char prefix[32], path[4096];
  DIR *dir = opendir (dir_path);
  struct dirent *entry;
  int n = 0;

  if (dir == NULL)
    return 0;
  snprintf (prefix, sizeof prefix, "p%d-", (int) getpid ());
  while ((entry = readdir (dir)) != NULL)
    {
      size_t len = strlen (entry->d_name);

      if (strncmp (entry->d_name, prefix, strlen (prefix)) != 0
          || len < 6 || strcmp (entry->d_name + len - 6, ".chunk") != 0)
        continue;
      snprintf (path, sizeof path, "%s/%s", dir_path, entry->d_name);
      if (truncate (path, 0) == 0)
        n++;
    }
  closedir (dir);
  return n;
}

/* Sleeps without entering the agent (its nanosleep would write a record). */
static void
raw_sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

  syscall (SYS_nanosleep, &ts, NULL);
}

int
main (void)
{
  const char *session = getenv ("WEFT_SESSION");
  pthread_t waiter;
  int truncated;

  sample_name_self ("main");
  pthread_mutex_lock (&lock);
  pthread_create (&waiter, NULL, waiter_main, NULL);
  while (waiter_tid == 0)
    sample_sleep_ms (1);
  sample_await_blocked (waiter_tid, &announced, NULL);
  pthread_mutex_unlock (&lock);
  pthread_join (waiter, NULL);
  sample_sleep_ms (300);                  /* weft drains at least every 40 ms */

  printf ("expect contended_waits 1\n");
  fflush (stdout);
  truncated = session != NULL ? truncate_own_chunks (session) : 0;
  raw_sleep_ms (300);
  printf ("expect truncated %d\n", truncated);
  printf ("Truncated %d ring file(s) of weft's session after one contended wait.\n", truncated);
  fflush (stdout);
  syscall (SYS_exit_group, 0);
  return 0;
}
