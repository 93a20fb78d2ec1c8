/* dlclose-reopen — a lock inside a library that is unloaded and loaded
 * again.
 *
 * Usage: dlclose-reopen [LOADS=2]
 *
 * LOADS times: dlopen libsample-lock-lib.so (beside this program), make the
 * thread `waiter-N` block in the library's sample_lib_lock() on the
 * library's own mutex while `main` holds it (a contended wait, see
 * sample.h), then dlclose the library and check with RTLD_NOLOAD that it is
 * really gone, and reserve the address range it had (PROT_NONE) so that the
 * next load lands elsewhere. The agent has seen the mutex (a counter, a
 * wait, a stack through the library's code); what it remembered must not
 * trip over the library vanishing, nor over its next copy at another
 * address: each copy's mutex is an object of its own, named after the
 * right library.
 *
 * The trace must show: LOADS 'mutex' waits, one by each `waiter-N`, each on
 * an object named sample_lib_mutex with sample_lib_lock in its stack;
 * distinct_addresses such objects (LOADS when every range could be
 * reserved); exit status 0.
 */
#include <dlfcn.h>
#include <libgen.h>
#include <link.h>
#include <sys/mman.h>

#include "sample.h"

#define MAX_LOADS 16

typedef struct
{
  void     (*lock) (void);
  void     (*unlock) (void);
  int        index;
  pid_t      tid;
  atomic_int announced;
  atomic_int done;
} Waiter;

static void *
waiter_main (void *data)
{
  Waiter *self = data;
  char name[32];

  snprintf (name, sizeof name, "waiter-%d", self->index + 1);
  sample_name_self (name);
  self->tid = gettid ();
  sample_announce (&self->announced);
  self->lock ();                                  /* blocks: main holds it */
  self->unlock ();
  atomic_store (&self->done, 1);
  return NULL;
}

typedef struct
{
  uintptr_t inside;                 /* an address in the library */
  uintptr_t start, end;             /* its mapped range, page-aligned */
} Range;

static int
find_range (struct dl_phdr_info *info,
            size_t               size,
            void                *data)
{
  Range *range = data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;

  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_LOAD)
      {
        uintptr_t start = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
        uintptr_t end = start + info->dlpi_phdr[i].p_memsz;

        lo = start < lo ? start : lo;
        hi = end > hi ? end : hi;
      }
  if (range->inside < lo || range->inside >= hi)
    return 0;
  range->start = lo & ~(uintptr_t) 4095;
  range->end = (hi + 4095) & ~(uintptr_t) 4095;
  return 1;
}

/* One load: contend once on the library's mutex, unload. Returns the
 * mutex's address, or 0 on failure. *gone says whether the library was
 * unloaded by dlclose. */
static uintptr_t
one_load (const char *path,
          int         index,
          int        *gone)
{
  Waiter waiter = { .index = index };
  Range range = { 0 };
  pthread_t thread;
  void *handle, *mutex, *again;

  handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL)
    {
      fprintf (stderr, "dlclose-reopen: %s\n", dlerror ());
      return 0;
    }
  waiter.lock = (void (*) (void)) dlsym (handle, "sample_lib_lock");
  waiter.unlock = (void (*) (void)) dlsym (handle, "sample_lib_unlock");
  mutex = dlsym (handle, "sample_lib_mutex");
  if (waiter.lock == NULL || waiter.unlock == NULL || mutex == NULL)
    {
      fprintf (stderr, "dlclose-reopen: missing symbols\n");
      return 0;
    }
  range.inside = (uintptr_t) mutex;
  dl_iterate_phdr (find_range, &range);

  waiter.lock ();
  pthread_create (&thread, NULL, waiter_main, &waiter);
  while (atomic_load (&waiter.announced) == 0)
    sample_sleep_ms (1);
  sample_await_blocked (waiter.tid, &waiter.announced, &waiter.done);
  waiter.unlock ();
  pthread_join (thread, NULL);

  dlclose (handle);
  again = dlopen (path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  *gone = again == NULL;
  if (again != NULL)
    dlclose (again);
  /* Best effort: if something else took the range already, the next load
   * lands elsewhere anyway. */
  if (*gone && range.end > range.start)
    mmap ((void *) range.start, range.end - range.start, PROT_NONE,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  return (uintptr_t) mutex;
}

int
main (int    argc,
      char **argv)
{
  long loads = sample_arg (argc, argv, 1, 2, 1, MAX_LOADS, "[LOADS=2]");
  uintptr_t addresses[MAX_LOADS];
  char exe[4096], path[4200];
  ssize_t n;
  int unloaded = 0, distinct = 0;

  sample_name_self ("main");
  n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return 1;
  exe[n] = '\0';
  snprintf (path, sizeof path, "%s/libsample-lock-lib.so", dirname (exe));

  for (int i = 0; i < loads; i++)
    {
      int gone = 0, seen = 0;

      addresses[i] = one_load (path, i, &gone);
      if (addresses[i] == 0)
        return 1;
      unloaded += gone;
      for (int j = 0; j < i; j++)
        seen |= addresses[j] == addresses[i];
      distinct += !seen;
    }

  printf ("expect loads %ld\n", loads);
  printf ("expect mutex_waits %ld\n", loads);
  printf ("expect unloaded %d\n", unloaded);
  printf ("expect distinct_addresses %d\n", distinct);
  printf ("Loaded, contended and unloaded a library's mutex %ld times (%d addresses).\n",
          loads, distinct);
  return 0;
}
