/* agent-test-util.h — run a program with or without the agent and collect
 * what it recorded, through the collector's own session reader. */
#pragma once

#include <glib.h>
#include "weft-wire.h"

G_BEGIN_DECLS

typedef struct
{
  gint32   pid;
  guint64  image_start_ns;
  guint16  type;
  gint32   tid;
  gsize    size;
  guint8   data[WEFT_WIRE_PATH_BYTES + 64];   /* the record, truncated to this */
} AgentRecord;

typedef struct
{
  gint32   pid;
  gint32   tid;
  guint64  lost;
  guint64  acquisitions;      /* summed over the slot's counters */
  guint64  contentions;
  guint64  hold_samples;
} AgentSlot;

typedef struct
{
  gint32   pid;
  gint32   ppid;
  guint32  state;             /* WEFT_CHUNK_* of chunk 0 */
  gint32   exit_status;
  guint64  lost;
} AgentImage;

typedef struct
{
  char    *out;               /* the program's stdout */
  char    *err;               /* its stderr */
  int      wait_status;
  GArray  *records;           /* AgentRecord */
  GArray  *slots;             /* AgentSlot */
  GArray  *images;            /* AgentImage */
  guint64  corrupt;           /* records the reader could not parse */
} AgentRun;

const char *agent_test_agent_path  (void);
AgentRun   *agent_test_run         (const char *const *argv,
                                    gboolean           traced);
void        agent_test_run_free    (AgentRun          *run);
guint       agent_test_count       (AgentRun          *run,
                                    guint16            type);
guint       agent_test_count_waits (AgentRun          *run,
                                    guint8             kind,
                                    int                result);
guint64     agent_test_lost        (AgentRun          *run);

/* Runs argv plain and traced, asserts identical stdout and wait status, and
 * returns the traced run. */
AgentRun   *agent_test_run_both    (const char *const *argv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AgentRun, agent_test_run_free)

G_END_DECLS
