/* test-sched — both scheduling sources follow sched-helper (two burning
 * threads, a sleeping one, a child process) and must account for the CPU
 * time the kernel charged it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "weft-sched-private.h"

#define PROC_PERIOD_NS    (10 * G_GUINT64_CONSTANT (1000000))
#define POLL_INTERVAL_US  5000
#define HELPER_TIMEOUT_S  30
#define MAX_CPUS          1024

/* Slices against the rusage the kernel reports for the helper: perf sees
 * every switch, so only the helper's time before its exec (waiting on a pipe,
 * then execve) is missing. /proc sampling misses what each thread ran between
 * its last sample and its exit: at most one period per exiting task, five
 * tasks here (two burners, sleeper, child; the main thread is sampled as a
 * zombie), so 50 ms of about 700 ms, plus scheduling noise. */
#define PERF_TOLERANCE  0.05
#define PROC_TOLERANCE  0.10

typedef struct
{
  pid_t         pid;
  GArray       *events;    /* of WeftSchedEvent */
  struct rusage rusage;
  guint64       lost;
  guint64       anomalies;
  const char   *source;
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->events, g_array_unref);
}

static void
collect (const WeftSchedEvent *event,
         gpointer              user_data)
{
  Run *run = user_data;

  g_array_append_val (run->events, *event);
}

/* Forks a child that waits for a byte on *go_fd, then execs the helper with
 * arguments arg1 and arg2 (may be NULL). Only async-signal-safe calls in the
 * child: we are a threaded GLib program. */
static pid_t
fork_helper (const char *arg1,
             const char *arg2,
             int        *go_fd)
{
  char *argv[] = { (char *) WEFT_SCHED_HELPER, (char *) arg1, (char *) arg2, NULL };
  int fds[2];
  pid_t pid;

  g_assert_no_errno (pipe2 (fds, O_CLOEXEC));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      char byte;

      close (fds[1]);
      if (read (fds[0], &byte, 1) != 1)
        _exit (126);
      /* The helper's "expect" lines must not mix with the test's output. */
      dup2 (STDERR_FILENO, STDOUT_FILENO);
      execv (argv[0], argv);
      _exit (127);
    }
  close (fds[0]);
  *go_fd = fds[1];
  return pid;
}

static gboolean
has_exited (pid_t pid)
{
  siginfo_t info = { 0 };

  g_assert_no_errno (waitid (P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT));
  return info.si_pid == pid;
}

static guint64
now_ns (void)
{
  return (guint64) g_get_monotonic_time () * 1000;
}

/* Lets the helper go, drains every few ms until it exits, then finishes and
 * reaps it. finish comes before the reap so that /proc still shows the
 * zombie's final CPU time. */
static void
trace_helper (Run       *run,
              WeftSched *sched,
              int        go_fd,
              gulong     poll_interval_us)
{
  gint64 deadline_us = g_get_monotonic_time () + HELPER_TIMEOUT_S * G_USEC_PER_SEC;
  int status = 0;

  run->events = g_array_new (FALSE, FALSE, sizeof (WeftSchedEvent));
  run->source = weft_sched_get_source (sched);
  g_assert_cmpint (write (go_fd, "x", 1), ==, 1);
  close (go_fd);

  while (!has_exited (run->pid))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline_us);
      g_usleep (poll_interval_us);
      weft_sched_poll (sched, collect, run);
    }
  weft_sched_finish (sched, now_ns (), collect, run);
  run->lost = weft_sched_get_lost (sched);
  run->anomalies = weft_sched_get_anomalies (sched);

  g_assert_cmpint (wait4 (run->pid, &status, 0, &run->rusage), ==, run->pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static guint64
timeval_ns (const struct timeval *tv)
{
  return (guint64) tv->tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) tv->tv_usec * 1000;
}

/* The last name each task got, from COMM events. */
static gint32
find_tid_named (const Run  *run,
                const char *name)
{
  gint32 tid = 0;

  for (guint i = 0; i < run->events->len; i++)
    {
      const WeftSchedEvent *e = &g_array_index (run->events, WeftSchedEvent, i);

      if (e->type == WEFT_SCHED_COMM && strcmp (e->comm, name) == 0)
        tid = e->tid;
    }
  return tid;
}

static const WeftSchedEvent *
find_event (const Run          *run,
            WeftSchedEventType  type,
            gint32              tid)
{
  for (guint i = 0; i < run->events->len; i++)
    {
      const WeftSchedEvent *e = &g_array_index (run->events, WeftSchedEvent, i);

      if (e->type == type && e->tid == tid)
        return e;
    }
  return NULL;
}

static gint
compare_start (gconstpointer a,
               gconstpointer b)
{
  const WeftSchedEvent *ea = a;
  const WeftSchedEvent *eb = b;

  if (ea->start_ns != eb->start_ns)
    return ea->start_ns < eb->start_ns ? -1 : 1;
  return 0;
}

/* The slices of tid, by start time. */
static GArray *
slices_of (const Run *run,
           gint32     tid)
{
  GArray *slices = g_array_new (FALSE, FALSE, sizeof (WeftSchedEvent));

  for (guint i = 0; i < run->events->len; i++)
    {
      const WeftSchedEvent *e = &g_array_index (run->events, WeftSchedEvent, i);

      if (e->type == WEFT_SCHED_SLICE && e->tid == tid)
        g_array_append_val (slices, *e);
    }
  g_array_sort (slices, compare_start);
  return slices;
}

/* Checks tid's slices and returns their total; cpu_ns (may be NULL) adds up
 * the time on each CPU. */
static guint64
check_slices_of (const Run *run,
                 gint32     tid,
                 guint64    cpu_ns[MAX_CPUS])
{
  g_autoptr(GArray) slices = slices_of (run, tid);
  guint64 sum_ns = 0;

  for (guint i = 0; i < slices->len; i++)
    {
      const WeftSchedEvent *s = &g_array_index (slices, WeftSchedEvent, i);

      g_assert_cmpuint (s->start_ns, <=, s->end_ns);
      g_assert_cmpuint (s->time_ns, ==, s->start_ns);
      g_assert_cmpint (s->cpu, >=, 0);
      g_assert_cmpint (s->cpu, <, MAX_CPUS);
      if (i > 0)
        g_assert_cmpuint (s->start_ns, >=, g_array_index (slices, WeftSchedEvent, i - 1).end_ns);
      sum_ns += s->end_ns - s->start_ns;
      if (cpu_ns != NULL)
        cpu_ns[s->cpu] += s->end_ns - s->start_ns;
    }
  return sum_ns;
}

/* The CPU where tid spent most of its time; asserts that was nearly all of
 * it (the helper pins the burners; a new thread may run for a moment
 * elsewhere before its affinity is applied). */
static gint32
main_cpu_of (const Run *run,
             gint32     tid)
{
  guint64 cpu_ns[MAX_CPUS] = { 0 };
  guint64 sum_ns = check_slices_of (run, tid, cpu_ns);
  gint32 best = 0;

  for (gint32 cpu = 1; cpu < MAX_CPUS; cpu++)
    if (cpu_ns[cpu] > cpu_ns[best])
      best = cpu;
  g_assert_cmpuint (cpu_ns[best], >=, sum_ns * 9 / 10);
  return best;
}

static void
check_fork (const Run *run,
            gint32     pid,
            gint32     tid,
            gint32     ppid)
{
  const WeftSchedEvent *fork = find_event (run, WEFT_SCHED_FORK, tid);

  g_assert_nonnull (fork);
  g_assert_cmpint (fork->pid, ==, pid);
  g_assert_cmpint (fork->ppid, ==, ppid);
  g_assert_nonnull (find_event (run, WEFT_SCHED_EXIT, tid));
}

static void
check_run (const Run *run,
           double     tolerance)
{
  g_autoptr(GHashTable) tids = g_hash_table_new (NULL, NULL);
  const WeftSchedEvent *exec = NULL;
  gint32 burner1, burner2, sleeper, child;
  guint64 slices_ns = 0, rusage_ns, burner_ns;
  double ratio;

  g_assert_cmpuint (run->events->len, >, 0);
  g_assert_cmpuint (run->lost, ==, 0);
  g_assert_cmpuint (run->anomalies, ==, 0);

  for (guint i = 0; i < run->events->len; i++)
    {
      const WeftSchedEvent *e = &g_array_index (run->events, WeftSchedEvent, i);

      if (e->type == WEFT_SCHED_SLICE)
        g_hash_table_add (tids, GINT_TO_POINTER (e->tid));
      if (e->type == WEFT_SCHED_COMM && e->exec && e->pid == run->pid)
        exec = e;
      g_assert_cmpint (e->type, !=, WEFT_SCHED_LOST);
    }

  /* The exec, under the helper's name. */
  g_assert_nonnull (exec);
  g_assert_cmpint (exec->tid, ==, run->pid);
  g_assert_cmpstr (exec->comm, ==, "sched-helper");

  /* Every task, its creator and its end. */
  burner1 = find_tid_named (run, "burner-1");
  burner2 = find_tid_named (run, "burner-2");
  sleeper = find_tid_named (run, "sleeper");
  child = find_tid_named (run, "child");
  g_assert_cmpint (burner1, >, 0);
  g_assert_cmpint (burner2, >, 0);
  g_assert_cmpint (sleeper, >, 0);
  g_assert_cmpint (child, >, 0);
  check_fork (run, run->pid, burner1, run->pid);
  check_fork (run, run->pid, burner2, run->pid);
  check_fork (run, run->pid, sleeper, run->pid);
  check_fork (run, child, child, run->pid);
  g_assert_nonnull (find_event (run, WEFT_SCHED_EXIT, run->pid));

  /* Slices of one thread never overlap; the burners ran on two CPUs, the
   * ones the helper pinned them to. */
  {
    GHashTableIter iter;
    gpointer tid;

    g_hash_table_iter_init (&iter, tids);
    while (g_hash_table_iter_next (&iter, &tid, NULL))
      slices_ns += check_slices_of (run, GPOINTER_TO_INT (tid), NULL);
  }
  burner_ns = check_slices_of (run, burner1, NULL) + check_slices_of (run, burner2, NULL);
  if (g_get_num_processors () >= 2)
    g_assert_cmpint (main_cpu_of (run, burner1), !=, main_cpu_of (run, burner2));
  else
    g_test_message ("one CPU: not checking that the burners ran on two");

  /* All of it, against what the kernel charged. */
  rusage_ns = timeval_ns (&run->rusage.ru_utime) + timeval_ns (&run->rusage.ru_stime);
  ratio = (double) slices_ns / (double) rusage_ns;
  g_test_message ("%s: slices %.3f ms, rusage %.3f ms (ratio %.4f), burners %.3f ms, "
                  "%u events",
                  run->source, slices_ns / 1e6, rusage_ns / 1e6, ratio,
                  burner_ns / 1e6, run->events->len);
  g_assert_cmpfloat (ratio, >=, 1.0 - tolerance);
  g_assert_cmpfloat (ratio, <=, 1.0 + tolerance);
  g_assert_cmpuint (burner_ns, >=, (guint64) (2 * 300e6 * (1.0 - tolerance) - 20e6));
}

static void
test_perf_tree (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftSched) sched = NULL;
  Run run = { 0 };
  int go_fd;

  g_test_summary ("The perf source follows a program's threads and child "
                  "process from its exec and accounts for its CPU time");

  run.pid = fork_helper (NULL, NULL, &go_fd);
  sched = weft_sched_new_perf (run.pid, &error);
  if (sched == NULL)
    {
      kill (run.pid, SIGKILL);
      waitpid (run.pid, NULL, 0);
      close (go_fd);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        {
          g_assert_nonnull (strstr (error->message, "perf_event_paranoid"));
          g_test_skip (error->message);
          return;
        }
      g_assert_no_error (error);
    }
  g_assert_cmpstr (weft_sched_get_source (sched), ==, "perf");
  g_assert_cmpuint (weft_sched_get_period_ns (sched), ==, 0);

  trace_helper (&run, sched, go_fd, POLL_INTERVAL_US);
  check_run (&run, PERF_TOLERANCE);
  run_clear (&run);
}

static void
test_proc_tree (void)
{
  g_autoptr(WeftSched) sched = NULL;
  Run run = { 0 };
  int go_fd;

  g_test_summary ("The /proc source follows a program's threads and child "
                  "process and accounts for most of its CPU time");

  run.pid = fork_helper (NULL, NULL, &go_fd);
  sched = weft_sched_new_proc (run.pid, PROC_PERIOD_NS);
  g_assert_cmpstr (weft_sched_get_source (sched), ==, "proc");
  g_assert_cmpuint (weft_sched_get_period_ns (sched), ==, PROC_PERIOD_NS);

  trace_helper (&run, sched, go_fd, POLL_INTERVAL_US);
  check_run (&run, PROC_TOLERANCE);
  run_clear (&run);
}

static void
test_perf_missing_process (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftSched) sched = NULL;
  pid_t pid;
  int status;

  g_test_summary ("Following a process that is gone fails with NOT_FOUND "
                  "(or PERMISSION_DENIED where perf is not allowed at all)");

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);

  sched = weft_sched_new_perf (pid, &error);
  g_assert_null (sched);
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* Small rings: records wrap around the ring's end (and are copied out
 * whole), or are lost and reported. */
typedef struct
{
  const char *path;
  guint64     ring_data_bytes;
  gulong      poll_interval_us;
  const char *round_trips;
  gboolean    expect_lost;
} SmallRingCase;

static const SmallRingCase small_ring_cases[] = {
  /* ~4 records per round trip, 32 bytes each: 2.5 MB through 256 KiB, read
   * every ms, so it wraps often; should lose nothing. */
  { "/collector/sched/perf/small-ring/wrap", 256 * 1024, 1000, "20000", FALSE },
  /* 8 KiB read every 20 ms: overflows. The kernel writes its LOST record
   * with the first record that fits after a read, so the helper must still
   * run after the first poll: 50000 round trips take 150 ms or more. */
  { "/collector/sched/perf/small-ring/lost", 8 * 1024, 20000, "50000", TRUE },
};

static void
test_perf_small_ring (gconstpointer data)
{
  const SmallRingCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftSched) sched = NULL;
  g_autoptr(GHashTable) tids = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  Run run = { 0 };
  guint64 lost = 0, slices_ns = 0, rusage_ns;
  gsize switches = 0;
  GHashTableIter iter;
  gpointer tid;
  int go_fd;

  g_test_summary ("With a small perf ring, records that wrap around its end "
                  "are read whole, and records the kernel drops are counted "
                  "and reported as LOST events");

  run.pid = fork_helper ("pingpong", c->round_trips, &go_fd);
  sched = weft_sched_new_perf_sized (run.pid, c->ring_data_bytes, &error);
  if (sched == NULL)
    {
      kill (run.pid, SIGKILL);
      waitpid (run.pid, NULL, 0);
      close (go_fd);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        {
          g_test_skip (error->message);
          return;
        }
      g_assert_no_error (error);
    }
  trace_helper (&run, sched, go_fd, c->poll_interval_us);

  for (guint i = 0; i < run.events->len; i++)
    {
      const WeftSchedEvent *e = &g_array_index (run.events, WeftSchedEvent, i);

      g_assert_cmpint (e->type, >=, WEFT_SCHED_SLICE);
      g_assert_cmpint (e->type, <=, WEFT_SCHED_LOST);
      if (e->type == WEFT_SCHED_LOST)
        lost += e->lost;
      if (e->type == WEFT_SCHED_FORK)
        g_hash_table_add (pids, GINT_TO_POINTER (e->pid));
      if (e->type == WEFT_SCHED_SLICE)
        {
          /* Wrong bytes from a wrapped record would show here, or as an
           * anomaly below. (Other pids: LeakSanitizer's tracer when the
           * helper is built with it; its FORK may be among the lost.) */
          if (!c->expect_lost)
            g_assert_true (e->pid == run.pid ||
                           g_hash_table_contains (pids, GINT_TO_POINTER (e->pid)));
          g_assert_cmpint (e->cpu, >=, 0);
          g_assert_cmpint (e->cpu, <, MAX_CPUS);
          g_assert_cmpuint (e->start_ns, <=, e->end_ns);
          g_hash_table_add (tids, GINT_TO_POINTER (e->tid));
          switches++;
        }
    }
  g_assert_cmpuint (lost, ==, run.lost);
  g_assert_cmpint (find_tid_named (&run, "ping"), ==, run.pid);
  g_assert_cmpint (find_tid_named (&run, "pong"), >, 0);
  rusage_ns = timeval_ns (&run.rusage.ru_utime) + timeval_ns (&run.rusage.ru_stime);
  g_test_message ("ring %" G_GUINT64_FORMAT " bytes: %u events, %" G_GSIZE_FORMAT
                  " slices, %" G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT
                  " anomalies, rusage %.3f ms",
                  c->ring_data_bytes, run.events->len, switches, run.lost,
                  run.anomalies, rusage_ns / 1e6);

  if (c->expect_lost)
    {
      /* Once records are lost, a slice may miss an end (dropped, counted)
       * or span a lost switch-out/switch-in pair: only the accounting of
       * the loss is exact. */
      g_assert_cmpuint (run.lost, >, 0);
      run_clear (&run);
      return;
    }

  /* Two slice records of 32 bytes each: the ring wrapped many times. */
  g_assert_cmpuint (switches * 64, >, 4 * c->ring_data_bytes);
  if (run.lost > 0)
    {
      g_test_incomplete ("the machine was too busy to read a 256 KiB ring every ms");
      run_clear (&run);
      return;
    }
  g_assert_cmpuint (run.anomalies, ==, 0);
  g_hash_table_iter_init (&iter, tids);
  while (g_hash_table_iter_next (&iter, &tid, NULL))
    slices_ns += check_slices_of (&run, GPOINTER_TO_INT (tid), NULL);
  g_test_message ("slices %.3f ms (ratio %.4f)", slices_ns / 1e6,
                  (double) slices_ns / (double) rusage_ns);
  /* Each round trip blocks both threads once or so. */
  g_assert_cmpuint (switches, >=, g_ascii_strtoull (c->round_trips, NULL, 10));
  /* The kernel charges a context switch to the task switched in, but its
   * switch-in record is written only once the switch is done: slices miss
   * a few µs a switch (about 5 µs on a 2-vCPU VM, so 30 % of this run). */
  g_assert_cmpfloat ((double) slices_ns / (double) rusage_ns, >=, 0.4);
  g_assert_cmpfloat ((double) slices_ns / (double) rusage_ns, <=, 1.0 + PERF_TOLERANCE);
  run_clear (&run);
}

static void
test_perf_finish_running (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(WeftSched) sched = NULL;
  Run run = { .events = g_array_new (FALSE, FALSE, sizeof (WeftSchedEvent)) };
  guint64 end_ns;
  guint open_slices = 0;
  int go_fd;

  g_test_summary ("Finishing while the program still runs closes the slices "
                  "of threads on CPU at the end time, and none goes past it");

  run.pid = fork_helper (NULL, NULL, &go_fd);
  sched = weft_sched_new_perf (run.pid, &error);
  if (sched == NULL)
    {
      kill (run.pid, SIGKILL);
      waitpid (run.pid, NULL, 0);
      close (go_fd);
      g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED));
      g_test_skip (error->message);
      run_clear (&run);
      return;
    }
  g_assert_cmpint (write (go_fd, "x", 1), ==, 1);
  close (go_fd);

  /* 150 ms into the burners' 300 ms. */
  for (int i = 0; i < 30; i++)
    {
      g_usleep (POLL_INTERVAL_US);
      weft_sched_poll (sched, collect, &run);
    }
  end_ns = now_ns ();
  weft_sched_finish (sched, end_ns, collect, &run);
  /* Nothing after finish. */
  weft_sched_poll (sched, collect, &run);
  kill (run.pid, SIGKILL);
  waitpid (run.pid, NULL, 0);

  for (guint i = 0; i < run.events->len; i++)
    {
      const WeftSchedEvent *e = &g_array_index (run.events, WeftSchedEvent, i);

      if (e->type != WEFT_SCHED_SLICE)
        continue;
      g_assert_cmpuint (e->start_ns, <=, e->end_ns);
      g_assert_cmpuint (e->end_ns, <=, end_ns);
      if (e->end_ns == end_ns)
        open_slices++;
    }
  /* Usually a burner is on CPU at the end; on a busy machine both may
   * just have been preempted. */
  g_test_message ("%u slices open at the end", open_slices);
  g_assert_cmpuint (open_slices, <=, 2);
  g_assert_cmpint (find_tid_named (&run, "burner-1"), >, 0);
  run_clear (&run);
}

static void
test_proc_period (void)
{
  g_autoptr(WeftSched) sched = NULL;
  Run run = { .events = g_array_new (FALSE, FALSE, sizeof (WeftSchedEvent)) };
  const WeftSchedEvent *e;
  pid_t pid;

  g_test_summary ("The /proc source samples only once a period has passed, "
                  "and announces tasks alive at the start on its first sample");

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      pause ();
      _exit (0);
    }

  sched = weft_sched_new_proc (pid, 3600 * G_GUINT64_CONSTANT (1000000000));
  weft_sched_poll (sched, collect, &run);
  g_assert_cmpuint (run.events->len, ==, 0);

  weft_sched_finish (sched, now_ns (), collect, &run);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);

  e = find_event (&run, WEFT_SCHED_FORK, pid);
  g_assert_nonnull (e);
  g_assert_cmpint (e->pid, ==, pid);
  g_assert_cmpint (e->ppid, ==, getpid ());
  g_assert_nonnull (find_event (&run, WEFT_SCHED_COMM, pid));
  g_assert_null (find_event (&run, WEFT_SCHED_EXIT, pid));
  run_clear (&run);
}

/* PERMISSION_DENIED itself is not tested: as root, and at the default
 * perf_event_paranoid of 2 for anyone, following one's own child is allowed.
 * The path is set_open_error() in weft-sched-perf.c. */

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/collector/sched/perf/tree", test_perf_tree);
  g_test_add_func ("/collector/sched/perf/missing-process", test_perf_missing_process);
  for (gsize i = 0; i < G_N_ELEMENTS (small_ring_cases); i++)
    g_test_add_data_func (small_ring_cases[i].path, &small_ring_cases[i],
                          test_perf_small_ring);
  g_test_add_func ("/collector/sched/perf/finish-running", test_perf_finish_running);
  g_test_add_func ("/collector/sched/proc/tree", test_proc_tree);
  g_test_add_func ("/collector/sched/proc/period", test_proc_period);

  return g_test_run ();
}
