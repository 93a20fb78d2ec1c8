/* agent-test-util.c — see agent-test-util.h. */
#include "agent-test-util.h"

#include <string.h>

#include "weft-session.h"

/* The agent under test: $WEFT_AGENT (set by tests/meson.build). */
const char *
agent_test_agent_path (void)
{
  const char *path = g_getenv ("WEFT_AGENT");

  g_assert_nonnull (path);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  return path;
}

static void
on_record (const WeftSessionImage *image,
           const WeftRecHeader    *record,
           gpointer                user_data)
{
  AgentRun *run = user_data;
  AgentRecord r = { 0 };

  r.pid = image->pid;
  r.image_start_ns = image->image_start_ns;
  r.type = record->type;
  r.tid = record->tid;
  r.size = MIN (record->size, sizeof r.data);
  memcpy (r.data, record, r.size);
  g_array_append_val (run->records, r);
}

static void
on_slot (const WeftSessionImage *image,
         const WeftWireSlot     *slot,
         gpointer                user_data)
{
  AgentRun *run = user_data;
  AgentSlot s = { 0 };

  s.pid = image->pid;
  s.tid = slot->tid;
  s.lost = slot->lost_events;
  for (guint i = 0; i < WEFT_WIRE_COUNTERS; i++)
    {
      s.acquisitions += slot->counters[i].acquisitions;
      s.contentions += slot->counters[i].contentions;
      s.hold_samples += slot->counters[i].hold_samples;
    }
  g_array_append_val (run->slots, s);
}

/* agent_test_run:
 * Runs argv to completion with stdout and stderr captured. traced: with the
 * agent preloaded into a fresh session, whose records are collected. */
AgentRun *
agent_test_run (const char *const *argv,
                gboolean           traced)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WeftSession) session = NULL;
  g_auto (GStrv) envp = g_get_environ ();
  AgentRun *run = g_new0 (AgentRun, 1);

  run->records = g_array_new (FALSE, TRUE, sizeof (AgentRecord));
  run->slots = g_array_new (FALSE, TRUE, sizeof (AgentSlot));
  run->images = g_array_new (FALSE, TRUE, sizeof (AgentImage));

  envp = g_environ_unsetenv (envp, WEFT_ENV_PRELOAD);
  envp = g_environ_unsetenv (envp, WEFT_ENV_SESSION);
  if (traced)
    {
      session = weft_session_new (NULL, 1u << 20, 8, 0, &error);
      g_assert_no_error (error);
      envp = g_environ_setenv (envp, WEFT_ENV_PRELOAD, agent_test_agent_path (), TRUE);
      envp = g_environ_setenv (envp, WEFT_ENV_SESSION, weft_session_get_path (session), TRUE);
    }

  g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                &run->out, &run->err, &run->wait_status, &error);
  g_assert_no_error (error);

  if (session != NULL)
    {
      GPtrArray *images;

      weft_session_close (session, on_record, on_slot, run);
      run->corrupt = weft_session_get_corrupt_records (session);
      images = weft_session_get_images (session);
      for (guint i = 0; i < images->len; i++)
        {
          const WeftSessionImage *image = images->pdata[i];
          AgentImage im = { 0 };

          im.pid = image->pid;
          im.ppid = image->ppid;
          im.state = image->chunk0->state;
          im.exit_status = image->chunk0->exit_status;
          im.lost = image->chunk0->lost_events;
          g_array_append_val (run->images, im);
        }
    }
  return run;
}

void
agent_test_run_free (AgentRun *run)
{
  if (run == NULL)
    return;
  g_free (run->out);
  g_free (run->err);
  g_array_unref (run->records);
  g_array_unref (run->slots);
  g_array_unref (run->images);
  g_free (run);
}

guint
agent_test_count (AgentRun *run,
                  guint16   type)
{
  guint n = 0;

  for (guint i = 0; i < run->records->len; i++)
    n += g_array_index (run->records, AgentRecord, i).type == type;
  return n;
}

/* WAIT records of `kind` with `result` (-1: any). */
guint
agent_test_count_waits (AgentRun *run,
                        guint8    kind,
                        int       result)
{
  guint n = 0;

  for (guint i = 0; i < run->records->len; i++)
    {
      const AgentRecord *r = &g_array_index (run->records, AgentRecord, i);
      const WeftRecWait *w = (const WeftRecWait *) r->data;

      if (r->type == WEFT_REC_WAIT && w->kind == kind && (result < 0 || w->result == result))
        n++;
    }
  return n;
}

/* Every event the agent dropped, process-wide and per slot. */
guint64
agent_test_lost (AgentRun *run)
{
  guint64 lost = 0;

  for (guint i = 0; i < run->images->len; i++)
    lost += g_array_index (run->images, AgentImage, i).lost;
  for (guint i = 0; i < run->slots->len; i++)
    lost += g_array_index (run->slots, AgentSlot, i).lost;
  return lost;
}

AgentRun *
agent_test_run_both (const char *const *argv)
{
  g_autoptr (AgentRun) plain = agent_test_run (argv, FALSE);
  AgentRun *traced = agent_test_run (argv, TRUE);

  g_test_message ("plain stdout:\n%s", plain->out);
  g_test_message ("traced stderr:\n%s", traced->err);
  g_assert_cmpstr (traced->out, ==, plain->out);
  g_assert_cmpint (traced->wait_status, ==, plain->wait_status);
  /* The agent says nothing when all is well. */
  g_assert_cmpstr (traced->err, ==, plain->err);
  g_assert_cmpuint (traced->corrupt, ==, 0);
  g_assert_cmpuint (agent_test_lost (traced), ==, 0);
  return traced;
}
