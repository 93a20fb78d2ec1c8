/* test-lock.c — locks keep their exact semantics under the agent, and
 * contended or timed-out acquisitions become WAIT records. */
#include <glib.h>
#include <string.h>

#include "agent-test-util.h"

static AgentRun *
run_scenario (const char *scenario)
{
  const char *argv[] = { AGENT_HELPER, scenario, NULL };

  return agent_test_run_both (argv);
}

static void
test_errorcheck (void)
{
  g_autoptr (AgentRun) run = NULL;

  g_test_summary ("An error-checking mutex locked twice by its owner still says EDEADLK, "
                  "and no wait is recorded for it");
  run = run_scenario ("errorcheck");
  g_assert_nonnull (strstr (run->out, "relock EDEADLK\n"));
  g_assert_nonnull (strstr (run->out, "unlock-again EPERM\n"));
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_MUTEX, -1), ==, 0);
}

static void
test_recursive (void)
{
  g_autoptr (AgentRun) run = NULL;

  g_test_summary ("A recursive mutex relocks for its owner and is EBUSY to trylock from another thread");
  run = run_scenario ("recursive");
  g_assert_nonnull (strstr (run->out, "lock2 0\n"));
  g_assert_nonnull (strstr (run->out, "trylock-other EBUSY\n"));
}

static void
test_robust (void)
{
  g_autoptr (AgentRun) run = NULL;

  g_test_summary ("A robust mutex whose owner died is handed over with EOWNERDEAD");
  run = run_scenario ("robust");
  g_assert_nonnull (strstr (run->out, "lock EOWNERDEAD\n"));
  g_assert_nonnull (strstr (run->out, "relock 0\n"));
}

static void
test_timeouts (void)
{
  g_autoptr (AgentRun) run = NULL;

  g_test_summary ("Timed mutex, rwlock, semaphore and condition waits time out as without the "
                  "agent, invalid clocks and deadlines stay EINVAL, and each timeout is a "
                  "WAIT record with result TIMEOUT");
  run = run_scenario ("timeouts");
  g_assert_nonnull (strstr (run->out, "timedlock ETIMEDOUT\n"));
  g_assert_nonnull (strstr (run->out, "clocklock-badclock EINVAL\n"));
  g_assert_nonnull (strstr (run->out, "sem_timedwait -1 ETIMEDOUT\n"));
  g_assert_nonnull (strstr (run->out, "sem_timedwait-badtime-posted -1 EINVAL\n"));
  g_assert_nonnull (strstr (run->out, "cond_timedwait ETIMEDOUT\n"));
  g_assert_nonnull (strstr (run->out, "timedrdlock-badtime EINVAL\n"));
  g_assert_nonnull (strstr (run->out, "wrlock-self EDEADLK\n"));

  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_MUTEX, WEFT_RESULT_TIMEOUT), ==, 2);
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_SEM, WEFT_RESULT_TIMEOUT), ==, 1);
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_COND, WEFT_RESULT_TIMEOUT), ==, 1);
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_WRLOCK, WEFT_RESULT_TIMEOUT), ==, 1);
  /* The self-deadlocking wrlock waited for nothing. */
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_WRLOCK, -1), ==, 1);
}

static void
test_threads (void)
{
  g_autoptr (AgentRun) run = NULL;
  guint64 acquisitions = 0, hold_samples = 0;
  guint names = 0;

  g_test_summary ("Named threads hammering a mutex and a spinlock: thread records, counters "
                  "for every acquisition, timed holds, the barrier and the exit status");
  run = run_scenario ("threads");
  g_assert_cmpstr (run->out, ==, "total 300000\n");

  g_assert_cmpuint (agent_test_count (run, WEFT_REC_THREAD_START), ==, 4);
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_THREAD_END), ==, 3);
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_BARRIER, WEFT_RESULT_OK), ==, 3);
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_JOIN, WEFT_RESULT_OK), ==, 3);
  g_assert_cmpuint (agent_test_count_waits (run, WEFT_WAIT_SLEEP, WEFT_RESULT_OK), ==, 1);
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_MODULE), >, 0);
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_STACK), >, 0);

  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);

      if (r->type == WEFT_REC_THREAD_END)
        {
          const WeftRecThread *t = (const WeftRecThread *) r->data;

          g_assert_true (g_str_has_prefix (t->name, "busy-"));
          names++;
        }
      if (r->type == WEFT_REC_EXIT)
        g_assert_cmpint (((const WeftRecProcess *) r->data)->status, ==, 3);
    }
  g_assert_cmpuint (names, ==, 3);

  for (guint i = 0; i < run->slots->len; i++)
    {
      acquisitions += g_array_index (run->slots, AgentSlot, i).acquisitions;
      hold_samples += g_array_index (run->slots, AgentSlot, i).hold_samples;
    }
  /* 3 threads x 100000 x (mutex + spinlock), plus the helper's own locks. */
  g_assert_cmpuint (acquisitions, >=, 600000);
  g_assert_cmpuint (hold_samples, >, 0);

  g_assert_cmpuint (run->images->len, ==, 1);
  g_assert_cmpuint (g_array_index (run->images, AgentImage, 0).state, ==, WEFT_CHUNK_EXITED);
  g_assert_cmpint (g_array_index (run->images, AgentImage, 0).exit_status, ==, 3);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent/mutex/errorcheck", test_errorcheck);
  g_test_add_func ("/agent/mutex/recursive", test_recursive);
  g_test_add_func ("/agent/mutex/robust", test_robust);
  g_test_add_func ("/agent/lock/timeouts", test_timeouts);
  g_test_add_func ("/agent/lock/threads", test_threads);
  return g_test_run ();
}
