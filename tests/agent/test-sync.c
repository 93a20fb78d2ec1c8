/* test-sync.c — cancellation and signal handlers under the agent. */
#include <glib.h>
#include <string.h>

#include "agent-test-util.h"

static void
test_cancel (void)
{
  const char *argv[] = { AGENT_HELPER, "cancel", NULL };
  g_autoptr (AgentRun) run = NULL;

  g_test_summary ("Threads cancelled inside pthread_cond_wait and sem_wait end normally "
                  "(THREAD_END written by the cleanup) and leave the agent usable");
  run = agent_test_run_both (argv);
  g_assert_cmpstr (run->out, ==,
                   "cond-canceled 1\nrelock 0\nunlock 0\nsem-canceled 1\nsem_trywait 0\n");
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_THREAD_START), ==, 3);
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_THREAD_END), ==, 2);
  /* The main thread went on recording after the cancellations. */
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_JOIN, WEFT_RESULT_OK), ==, 2);
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_EXIT), ==, 1);
}

static void
test_signal_handler (void)
{
  const char *argv[] = { AGENT_HELPER, "signal", NULL };
  g_autoptr (AgentRun) run = NULL;

  g_test_summary ("A signal handler that locks a mutex and sleeps, interrupting a thread "
                  "that is itself locking, neither deadlocks nor corrupts the ring");
  run = agent_test_run_both (argv);
  g_assert_cmpstr (run->out, ==, "handled-some 1\nrounds-some 1\n");
  /* agent_test_run_both checked that the reader found no corrupt record. */
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_SLEEP, -1), >, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent/sync/cancel", test_cancel);
  g_test_add_func ("/agent/sync/signal-handler", test_signal_handler);
  return g_test_run ();
}
