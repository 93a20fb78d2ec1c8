/* symtest-lib.c — a small library with known symbols, for test-symbols.c.
 * Built twice: with debug info, and stripped (only .dynsym left). */
#include <pthread.h>

void *weft_test_where    (int line);
void *weft_test_function (void);

/* A global lock, as a traced program's would be: named by data symbol. */
pthread_mutex_t weft_test_lock = PTHREAD_MUTEX_INITIALIZER;

/* The source line of the call in weft_test_function, set by the callee. */
int weft_test_call_line;

__attribute__ ((noinline)) void *
weft_test_where (int line)
{
  weft_test_call_line = line;
  return __builtin_return_address (0);
}

/* Returns the return address of its call to weft_test_where: an address
 * inside this function whose line is weft_test_call_line. */
void *
weft_test_function (void)
{
  return weft_test_where (__LINE__);
}
