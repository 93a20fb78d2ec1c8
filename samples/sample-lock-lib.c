/* sample-lock-lib — the shared library that dlclose-reopen loads, unloads
 * and loads again (libsample-lock-lib.so, built beside the samples).
 *
 * It owns a mutex in its own data segment, so the trace's object for it is
 * named after a symbol of a library that is gone by the time weft
 * finalizes. Default visibility: the sample finds these with dlsym.
 */
#include <pthread.h>

void sample_lib_lock (void);
void sample_lib_unlock (void);

pthread_mutex_t sample_lib_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Not inlined, and frames kept (meson): the waiter's stack must name it. */
__attribute__((noinline)) void
sample_lib_lock (void)
{
  pthread_mutex_lock (&sample_lib_mutex);
}

void
sample_lib_unlock (void)
{
  pthread_mutex_unlock (&sample_lib_mutex);
}
