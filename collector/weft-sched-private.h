/* weft-sched-private.h — what the two scheduling sources share.
 *
 * weft-sched.c holds the public entry points and dispatches through a small
 * vtable to the source: weft-sched-perf.c (context-switch records) or
 * weft-sched-proc.c (/proc sampling). Each source embeds WeftSched as its
 * first member.
 */
#pragma once

#include "weft-sched.h"

G_BEGIN_DECLS

typedef struct
{
  const char *name;
  void      (*poll)   (WeftSched     *sched,
                       WeftSchedFunc  func,
                       gpointer       user_data);
  void      (*finish) (WeftSched     *sched,
                       guint64        end_ns,
                       WeftSchedFunc  func,
                       gpointer       user_data);
  void      (*free)   (WeftSched     *sched);
  void      (*add_poll_fds) (WeftSched *sched,
                             GArray    *pollfds);   /* may be NULL */
  gboolean  (*covers) (WeftSched *sched,
                       pid_t      pid);             /* may be NULL: FALSE */
} WeftSchedClass;

struct _WeftSched
{
  const WeftSchedClass *klass;
  guint64               period_ns;   /* 0 for perf */
  guint64               lost;        /* records the kernel dropped */
  guint64               anomalies;   /* impossible sequences, see below */
  gboolean              finished;
};

/* weft_sched_new_perf() with each CPU's ring holding ring_data_bytes (a power
 * of two, at least a page) or, where the locked-memory limit refuses that,
 * the largest power of two down to 32 KiB (or ring_data_bytes if smaller)
 * that fits. Tests use small rings to make records wrap and get lost. */
WeftSched  *weft_sched_new_perf_sized (pid_t          pid,
                                       guint64        ring_data_bytes,
                                       GError       **error);

/* Reads CLOCK_MONOTONIC, the clock both sources stamp events with. */
guint64     weft_sched_now_ns        (void);

/* Sequences the reconstruction could not make sense of: a switch-out with no
 * switch-in (after lost records), a second switch-in without a switch-out,
 * an exit on a CPU where the task was not running. Each is counted, never
 * silently dropped; the collector may report the count beside the lost
 * records. */
guint64     weft_sched_get_anomalies (WeftSched     *sched);

/* Online CPU numbers from /sys/devices/system/cpu/online ("0-3,6"), falling
 * back to 0 .. sysconf(_SC_NPROCESSORS_ONLN)-1. */
GArray     *weft_sched_online_cpus   (void);

G_END_DECLS
