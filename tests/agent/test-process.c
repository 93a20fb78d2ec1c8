/* test-process.c — fork, clone, exec, exit and wait under the agent. */
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

static const AgentSlot *
slot_of (AgentRun *run,
         gint32    pid,
         gint32    tid)
{
  const AgentSlot *found = NULL;

  for (guint i = 0; i < run->slots->len; i++)
    {
      const AgentSlot *s = &g_array_index (run->slots, AgentSlot, i);

      if (s->pid == pid && s->tid == tid)
        {
          g_assert_null (found);      /* one slot per thread */
          found = s;
        }
    }
  return found;
}

static void
test_clone (void)
{
  const char *argv[] = { AGENT_HELPER, "clone", NULL };
  g_autoptr (AgentRun) run = NULL;
  gint32 parent = 0, child = 0, runner = 0;
  guint reaps = 0;
  int seen_status = 0;

  g_test_summary ("clone(2) through glibc's wrapper, each kind: a child without CLONE_VM "
                  "becomes an image of its own with its own slot and counts; CLONE_VM "
                  "children (CLONE_VFORK, a process, a raw CLONE_THREAD taking locks while "
                  "its creator does, CLONE_SETTLS with the creator's own thread pointer, "
                  "CLONE_SETTLS with a copy of the creator's TLS, slot pointer and all) "
                  "record nothing and never count into their creator's slot, whose counts "
                  "stay exact; the results are the real clone's");
  run = agent_test_run_both (argv);
  g_assert_cmpstr (run->out, ==,
                   "process 3\nvm-vfork 4\nvm-process 5\nsettls-own 7\nthread 1\n"
                   "settls 6\nnull-fn -1 EINVAL\n");

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
          g_assert_true (WIFEXITED (p->status));
          reaps++;
          seen_status |= 1 << WEXITSTATUS (p->status);
        }
    }
  g_assert_cmpint (parent, >, 0);
  g_assert_cmpint (child, >, 0);
  /* Every child reaped by a thread whose state was back by then. */
  g_assert_cmpuint (reaps, ==, 5);
  g_assert_cmpint (seen_status, ==, (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7));

  /* Two images: the helper, and the child without CLONE_VM, which exited
   * with its function's value. No CLONE_VM child is an image. */
  g_assert_cmpuint (run->images->len, ==, 2);
  g_assert_nonnull (image_of (run, child, WEFT_CHUNK_EXITED));
  g_assert_cmpint (image_of (run, child, WEFT_CHUNK_EXITED)->exit_status, ==, 3);
  g_assert_cmpint (image_of (run, child, WEFT_CHUNK_EXITED)->ppid, ==, parent);
  g_assert_nonnull (image_of (run, parent, WEFT_CHUNK_EXITED));

  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);

      if (r->type == WEFT_REC_THREAD_START && r->pid == parent && r->tid != parent)
        runner = r->tid;
    }
  g_assert_cmpint (runner, >, 0);

  /* Three slots, each with its own thread's acquisitions only: main's 6
   * rounds of 10 (not the 20000 it took while the raw thread shared its
   * TLS, nor the raw thread's 100000), the runner's 2 rounds (not the 1000
   * of the CLONE_SETTLS child on a copy of its TLS), the child's 1000. */
  g_assert_cmpuint (run->slots->len, ==, 3);
  g_assert_nonnull (slot_of (run, parent, parent));
  g_assert_nonnull (slot_of (run, parent, runner));
  g_assert_nonnull (slot_of (run, child, child));
  g_assert_cmpuint (slot_of (run, parent, parent)->acquisitions, ==, 60);
  g_assert_cmpuint (slot_of (run, parent, runner)->acquisitions, ==, 20);
  g_assert_cmpuint (slot_of (run, child, child)->acquisitions, ==, 1000);

  /* Nothing written by any other task (the raw thread slept once). */
  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);

      g_assert_true ((r->pid == parent && (r->tid == parent || r->tid == runner))
                     || (r->pid == child && r->tid == child));
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent/process/fork", test_fork);
  g_test_add_func ("/agent/process/exec-keeps-tracing", test_exec_keeps_tracing);
  g_test_add_func ("/agent/process/clone", test_clone);
  return g_test_run ();
}
