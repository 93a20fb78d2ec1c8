/* weft-sched.h — where each thread of the traced program ran: the kernel's
 * context switches (perf_event_open), or a /proc sampling fallback.
 *
 * A WeftSched follows one process and, through inheritance, every thread and
 * process it creates. It turns the kernel's records into complete on-CPU
 * slices and process/thread lifecycle events and hands them to a callback.
 * Use it from one thread (the collector's drain loop).
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum
{
  WEFT_SCHED_SLICE,   /* tid ran on cpu from start_ns to end_ns; preempted says
                         whether it was switched out while still runnable */
  WEFT_SCHED_FORK,    /* new thread (pid == ppid) or process: pid/tid is the new
                         task, ppid/ptid its creator; time_ns is creation */
  WEFT_SCHED_EXIT,    /* task pid/tid exited at time_ns */
  WEFT_SCHED_COMM,    /* task pid/tid got name comm (exec: it was an exec) */
  WEFT_SCHED_LOST,    /* the kernel dropped `lost` records */
} WeftSchedEventType;

typedef struct
{
  WeftSchedEventType type;
  gint32   pid;
  gint32   tid;
  gint32   ppid;       /* FORK */
  gint32   ptid;       /* FORK */
  gint32   cpu;        /* SLICE */
  gboolean preempted;  /* SLICE */
  gboolean exec;       /* COMM */
  guint64  sighted_ns; /* the /proc source: when it first saw the task (the time_ns
                          of its FORK), on every event about it: that FORK's time
                          is a first sight, not the creation, and the other
                          events' times are only bounds; 0 from perf */
  guint64  time_ns;    /* FORK, EXIT, COMM; SLICE: = start_ns */
  guint64  start_ns;   /* SLICE */
  guint64  end_ns;     /* SLICE */
  guint64  lost;       /* LOST */
  char     comm[16];   /* COMM, NUL-terminated */
} WeftSchedEvent;

typedef void (*WeftSchedFunc) (const WeftSchedEvent *event,
                               gpointer              user_data);

typedef struct _WeftSched WeftSched;

/* Opens context-switch recording on process pid (which must not have run the
 * traced program yet: the collector forks, calls this, then lets the child
 * exec). Events are counted from pid's next execve (enable_on_exec) and
 * inherited by every thread and child process. One perf event and ring buffer
 * per online CPU, timestamps on CLOCK_MONOTONIC. Returns NULL with error set
 * (G_IO_ERROR_PERMISSION_DENIED when perf events are not allowed here, so the
 * caller can fall back). */
WeftSched  *weft_sched_new_perf      (pid_t          pid,
                                      GError       **error);

/* The fallback: samples /proc/PID/task/TID/{stat,schedstat} of pid and its
 * descendants every period_ns. Slices are approximations placed at the end of
 * each period, lasting the CPU time the kernel accounted in it. Never fails. */
WeftSched  *weft_sched_new_proc      (pid_t          pid,
                                      guint64        period_ns);

/* "perf" or "proc". */
const char *weft_sched_get_source    (WeftSched     *sched);

/* Sampling period of the proc source, 0 for perf. */
guint64     weft_sched_get_period_ns (WeftSched     *sched);

/* Reads everything available now and calls func for each event. Cheap when
 * nothing happened; call it every few milliseconds while the program runs. */
void        weft_sched_poll          (WeftSched     *sched,
                                      WeftSchedFunc  func,
                                      gpointer       user_data);

/* Reads what is left, then closes every slice still open at end_ns (threads
 * on CPU when recording stopped) and calls func for it. */
void        weft_sched_finish        (WeftSched     *sched,
                                      guint64        end_ns,
                                      WeftSchedFunc  func,
                                      gpointer       user_data);

/* Appends to pollfds (an array of struct pollfd) the descriptors that turn
 * readable when the source has piled up enough to be worth a poll before
 * the caller's next timer tick (perf: a ring is filling). Polling them keeps
 * a burst of context switches from overflowing the kernel's buffers. The
 * /proc source has none. */
void        weft_sched_add_poll_fds  (WeftSched     *sched,
                                      GArray        *pollfds);

/* Whether sched already samples pid: the /proc source follows pid or one of
 * its ancestors (as of its last sample, and pid was not reused since).
 * Always FALSE for perf. */
gboolean    weft_sched_covers        (WeftSched     *sched,
                                      pid_t          pid);

/* Records the kernel dropped so far. */
guint64     weft_sched_get_lost      (WeftSched     *sched);

void        weft_sched_free          (WeftSched     *sched);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftSched, weft_sched_free)

G_END_DECLS
