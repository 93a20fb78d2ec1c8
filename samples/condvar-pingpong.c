/* condvar-pingpong — producer and consumer around a bounded queue.
 *
 * Usage: condvar-pingpong [ITEMS=1000] [CAPACITY=4]
 *
 * `producer` puts ITEMS numbers into a queue of CAPACITY slots and waits on
 * the condition `not_full` when it is full; `consumer` takes them out and
 * waits on `not_empty` when it is empty. One mutex guards the queue. Both
 * sides count every pthread_cond_wait call they make (a wakeup that finds the
 * queue still full or empty waits again, and counts again).
 *
 * The trace must show: exactly producer_cond_waits 'cond' waits by
 * `producer` and consumer_cond_waits by `consumer` (cond_waits in all), on
 * two condition objects, each wait's arg being the address of the one mutex;
 * the sum of consumed items is checked by the program itself (items_sum).
 * Contended waits on the mutex itself happen too, a varying number per run.
 */
#include "sample.h"

#define MAX_CAPACITY 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long queue[MAX_CAPACITY];
static int head, count, capacity;
static long n_items;
static long producer_waits, consumer_waits;
static long long items_sum;
static pid_t consumer_tid;
static atomic_int consumer_announced;

static void *
producer_main (void *data)
{
  sample_name_self ("producer");
  for (long item = 1; item <= n_items; item++)
    {
      pthread_mutex_lock (&lock);
      while (count == capacity)
        {
          producer_waits++;
          pthread_cond_wait (&not_full, &lock);
        }
      queue[(head + count) % capacity] = item;
      count++;
      pthread_cond_signal (&not_empty);
      pthread_mutex_unlock (&lock);
    }
  return NULL;
}

static void *
consumer_main (void *data)
{
  sample_name_self ("consumer");
  consumer_tid = gettid ();
  for (long taken = 0; taken < n_items; taken++)
    {
      long item;

      pthread_mutex_lock (&lock);
      while (count == 0)
        {
          consumer_waits++;
          sample_announce (&consumer_announced);
          pthread_cond_wait (&not_empty, &lock);
        }
      item = queue[head];
      head = (head + 1) % capacity;
      count--;
      pthread_cond_signal (&not_full);
      pthread_mutex_unlock (&lock);
      items_sum += item;
    }
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *usage = "[ITEMS=1000] [CAPACITY=4]";
  pthread_t producer, consumer;

  n_items = sample_arg (argc, argv, 1, 1000, 1, 100000000, usage);
  capacity = sample_arg (argc, argv, 2, 4, 1, MAX_CAPACITY, usage);
  sample_name_self ("main");

  /* The producer starts only once the consumer waits for its first item,
   * so each run has at least one consumer wait. */
  pthread_create (&consumer, NULL, consumer_main, NULL);
  while (atomic_load (&consumer_announced) == 0)
    sample_sleep_ms (1);
  sample_await_blocked (consumer_tid, &consumer_announced, NULL);
  pthread_create (&producer, NULL, producer_main, NULL);
  pthread_join (producer, NULL);
  pthread_join (consumer, NULL);

  if (items_sum != (long long) n_items * (n_items + 1) / 2)
    {
      fprintf (stderr, "condvar-pingpong: lost items (sum %lld)\n", items_sum);
      return 1;
    }
  printf ("expect items %ld\n", n_items);
  printf ("expect items_sum %lld\n", items_sum);
  printf ("expect producer_cond_waits %ld\n", producer_waits);
  printf ("expect consumer_cond_waits %ld\n", consumer_waits);
  printf ("expect cond_waits %ld\n", producer_waits + consumer_waits);
  printf ("'producer' waited %ld times for room and 'consumer' %ld times for "
          "items, passing %ld items through %d slots.\n",
          producer_waits, consumer_waits, n_items, capacity);
  return 0;
}
