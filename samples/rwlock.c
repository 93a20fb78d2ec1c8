/* rwlock — readers share a rwlock; a writer excludes them, and waits for them.
 *
 * Usage: rwlock [READERS=3] [HOLD_MS=50]
 *
 * Phase 1: `reader-1` … `reader-N` all take the read lock (none waits: readers
 * share) and hold it HOLD_MS together while `writer` blocks in
 * pthread_rwlock_wrlock. Phase 2: `writer` holds the write lock HOLD_MS while
 * every reader blocks in pthread_rwlock_rdlock. Nobody lets go before it has
 * seen the other side asleep in the lock call (sample.h).
 *
 * The trace must show: one contended 'wrlock' wait by `writer` of about
 * writer_wait_ms; exactly READERS contended 'rdlock' waits, one per reader,
 * each of about reader_wait_ms (to reader_wait_ms_max) and held by `writer`;
 * no rdlock wait in phase 1 (shared_readers readers held it at once).
 */
#include "sample.h"

#define MAX_READERS 64

typedef struct
{
  int        index;
  pid_t      tid;
  atomic_int announced;
  int        holding_seen;   /* read holders counted when it took the lock */
  int64_t    wait_ns;
} Side;

static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t phase1, phase2;
static Side writer, readers[MAX_READERS];
static int n_readers;
static long hold_ms;
static atomic_int holding;

static void *
writer_main (void *data)
{
  int64_t start_ns;

  sample_name_self ("writer");
  writer.tid = gettid ();
  pthread_barrier_wait (&phase1);          /* readers hold the read lock now */
  sample_announce (&writer.announced);
  start_ns = sample_now_ns ();
  pthread_rwlock_wrlock (&rwlock);         /* blocks until every reader left */
  writer.wait_ns = sample_now_ns () - start_ns;

  pthread_barrier_wait (&phase2);
  sample_sleep_ms (hold_ms);
  for (int i = 0; i < n_readers; i++)
    sample_await_blocked (readers[i].tid, &readers[i].announced, NULL);
  pthread_rwlock_unlock (&rwlock);
  return NULL;
}

static __attribute__((noinline)) void *
reader_main (void *data)
{
  Side *self = data;
  char name[32];
  int64_t start_ns;

  snprintf (name, sizeof name, "reader-%d", self->index + 1);
  sample_name_self (name);
  self->tid = gettid ();
  pthread_rwlock_rdlock (&rwlock);         /* shared: does not wait */
  /* Nobody unlocks before the barrier, so the last one in counts them all. */
  self->holding_seen = atomic_fetch_add (&holding, 1) + 1;
  pthread_barrier_wait (&phase1);
  sample_sleep_ms (hold_ms);
  sample_await_blocked (writer.tid, &writer.announced, NULL);
  atomic_fetch_sub (&holding, 1);
  pthread_rwlock_unlock (&rwlock);

  pthread_barrier_wait (&phase2);          /* the writer holds it now */
  sample_announce (&self->announced);
  start_ns = sample_now_ns ();
  pthread_rwlock_rdlock (&rwlock);         /* blocks: `writer` has it */
  self->wait_ns = sample_now_ns () - start_ns;
  pthread_rwlock_unlock (&rwlock);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[READERS=3] [HOLD_MS=50]";
  pthread_t wthread, rthreads[MAX_READERS];
  int64_t min_ns = INT64_MAX, max_ns = 0;
  int shared = 0;

  n_readers = sample_arg (argc, argv, 1, 3, 1, MAX_READERS, usage);
  hold_ms = sample_arg (argc, argv, 2, 50, 1, 60000, usage);
  sample_name_self ("main");

  pthread_barrier_init (&phase1, NULL, n_readers + 1);
  pthread_barrier_init (&phase2, NULL, n_readers + 1);
  pthread_create (&wthread, NULL, writer_main, NULL);
  for (int i = 0; i < n_readers; i++)
    {
      readers[i].index = i;
      pthread_create (&rthreads[i], NULL, reader_main, &readers[i]);
    }
  pthread_join (wthread, NULL);
  for (int i = 0; i < n_readers; i++)
    {
      pthread_join (rthreads[i], NULL);
      min_ns = readers[i].wait_ns < min_ns ? readers[i].wait_ns : min_ns;
      max_ns = readers[i].wait_ns > max_ns ? readers[i].wait_ns : max_ns;
      shared = readers[i].holding_seen > shared ? readers[i].holding_seen : shared;
    }

  printf ("expect readers %d\n", n_readers);
  printf ("expect shared_readers %d\n", shared);
  printf ("expect writer_thread writer\n");
  printf ("expect contended_writer_waits 1\n");
  printf ("expect writer_wait_ms %ld\n", sample_ms (0, writer.wait_ns));
  printf ("expect contended_reader_waits %d\n", n_readers);
  printf ("expect reader_wait_ms %ld\n", sample_ms (0, min_ns));
  printf ("expect reader_wait_ms_max %ld\n", sample_ms (0, max_ns));
  printf ("%d readers held the lock together; then each waited about %ld ms "
          "for 'writer', which had waited %ld ms for them.\n",
          n_readers, sample_ms (0, min_ns), sample_ms (0, writer.wait_ns));
  return 0;
}
