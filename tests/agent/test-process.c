/* test-process.c — fork, exec, exit and wait under the agent. */
#include <glib.h>
#include <string.h>
#include <sys/wait.h>

#include "agent-test-util.h"

static const AgentImage *
image_of (AgentRun *run,
          gint32    pid,
          guint32   state)
{
  for (guint i = 0; i < run->images->len; i++)
    {
      const AgentImage *im = &g_array_index (run->images, AgentImage, i);

      if (im->pid == pid && im->state == state)
        return im;
    }
  return NULL;
}

static void
test_fork (void)
{
  const char *argv[] = { AGENT_HELPER, "fork", NULL };
  g_autoptr (AgentRun) run = NULL;
  gint32 parent = 0, child = 0;
  guint reaps = 0, child_starts = 0;
  gboolean saw_exit_7 = FALSE, saw_kill = FALSE;

  g_test_summary ("A process that forks while other threads lock: the child locks, starts "
                  "a thread and exits 7, a second child is killed; FORK, REAP and the "
                  "child's own image are recorded");
  run = agent_test_run_both (argv);
  g_assert_cmpstr (run->out, ==, "waitpid 1\nchild-exit 7\nchild-signal 9\n");
  g_assert_cmpuint (agent_test_count (run, WEFT_REC_FORK), ==, 2);

  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);
      const WeftRecProcess *p = (const WeftRecProcess *) r->data;

      if (r->type == WEFT_REC_FORK && child == 0)
        {
          parent = r->pid;
          child = p->child_pid;
        }
      if (r->type == WEFT_REC_REAP)
        {
          reaps++;
          if (WIFEXITED (p->status) && WEXITSTATUS (p->status) == 7)
            saw_exit_7 = TRUE;
          if (WIFSIGNALED (p->status) && WTERMSIG (p->status) == 9)
            saw_kill = TRUE;
        }
    }
  g_assert_cmpuint (reaps, ==, 2);
  g_assert_true (saw_exit_7);
  g_assert_true (saw_kill);

  /* The child is an image of its own: its surviving thread and the thread it
   * started, its exit status 7, its parent the traced process. */
  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);

      if (r->pid == child && r->type == WEFT_REC_THREAD_START)
        child_starts++;
    }
  g_assert_cmpuint (child_starts, ==, 2);
  g_assert_nonnull (image_of (run, child, WEFT_CHUNK_EXITED));
  g_assert_cmpint (image_of (run, child, WEFT_CHUNK_EXITED)->exit_status, ==, 7);
  g_assert_cmpint (image_of (run, child, WEFT_CHUNK_EXITED)->ppid, ==, parent);
  g_assert_cmpint (image_of (run, parent, WEFT_CHUNK_EXITED)->exit_status, ==, 0);
}

static void
test_exec_keeps_tracing (void)
{
  const char *argv[] = { AGENT_HELPER, "exec", NULL };
  g_autoptr (AgentRun) run = NULL;
  guint exec_ok = 0, exec_failed = 0, child_waits = 0;
  gint32 pid = 0;

  g_test_summary ("An exec whose environment drops LD_PRELOAD and WEFT_SESSION still "
                  "traces the new image; a failed exec is recorded with its errno");
  run = agent_test_run_both (argv);
  g_assert_cmpstr (run->out, ==, "failed-exec 0\nexec-child mark yes\ntimedlock ETIMEDOUT\n");
  g_assert_true (WIFEXITED (run->wait_status));
  g_assert_cmpint (WEXITSTATUS (run->wait_status), ==, 5);

  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);

      if (r->type == WEFT_REC_EXEC)
        {
          const WeftRecExec *e = (const WeftRecExec *) r->data;

          pid = r->pid;
          if (e->error == 0)
            exec_ok++;
          else
            {
              g_assert_cmpint (e->error, ==, ENOENT);
              exec_failed++;
            }
        }
    }
  g_assert_cmpuint (exec_ok, ==, 2);
  g_assert_cmpuint (exec_failed, ==, 1);

  /* Two images of one pid: the first ended in EXEC, the second exited 5
   * after a timed-out wait of its own. */
  g_assert_cmpuint (run->images->len, ==, 2);
  g_assert_nonnull (image_of (run, pid, WEFT_CHUNK_EXEC));
  g_assert_nonnull (image_of (run, pid, WEFT_CHUNK_EXITED));
  g_assert_cmpint (image_of (run, pid, WEFT_CHUNK_EXITED)->exit_status, ==, 5);
  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);
      const WeftRecWait *w = (const WeftRecWait *) r->data;

      if (r->type == WEFT_REC_WAIT && w->kind == WEFT_WAIT_MUTEX && w->result == WEFT_RESULT_TIMEOUT)
        child_waits++;
    }
  g_assert_cmpuint (child_waits, ==, 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent/process/fork", test_fork);
  g_test_add_func ("/agent/process/exec-keeps-tracing", test_exec_keeps_tracing);
  return g_test_run ();
}
