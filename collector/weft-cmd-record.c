/* weft-cmd-record.c — `weft record`: run a program with the agent, follow its
 * whole process tree, and write the trace. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft-agent-path.h"
#include "weft-commands.h"
#include "weft-sched.h"
#include "weft-session.h"
#include "weft-writer.h"

/* Drain every 5 ms while agents write, backing off to 40 ms while they are
 * quiet: on a 2-core machine every wakeup of ours is taken from the program.
 * A 1 MiB ring holds ~18 000 waits, so 40 ms still loses nothing below
 * 450 000 waits per second per thread. Signals (SIGCHLD too) wake us at once. */
#define DRAIN_INTERVAL_MIN_MS 5
#define DRAIN_INTERVAL_MAX_MS 40

typedef struct
{
  char     *output;
  char     *sched;            /* auto, perf, proc */
  gint      proc_period_ms;
  gint      ring_kib;
  gboolean  no_stacks;
  char    **command;          /* after -- */
} RecordOptions;

typedef struct
{
  RecordOptions  *options;
  char           *temp_path;   /* the trace while it is being written */
  WeftSession    *session;
  WeftSched      *sched;
  WeftWriter     *writer;
  WeftTrace      *trace;
  sigset_t        saved_mask;
  int             signal_fd;
  pid_t           root_pid;
  int             root_status;
  gboolean        root_done;
  gboolean        stop_waiting; /* interrupted after the root ended: do not wait for orphans */
  guint64         start_ns;
  guint64         start_unix_ns;
} Recording;

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static void
recording_clear (Recording *rec)
{
  g_clear_pointer (&rec->sched, weft_sched_free);
  g_clear_pointer (&rec->session, weft_session_free);
  g_clear_pointer (&rec->trace, weft_trace_free);
  if (rec->temp_path != NULL)
    g_unlink (rec->temp_path);
  g_clear_pointer (&rec->temp_path, g_free);
  if (rec->signal_fd >= 0)
    close (rec->signal_fd);
  sigprocmask (SIG_SETMASK, &rec->saved_mask, NULL);
}

/* ---------------------------------------------------------------------- */
/* Starting the program. */

/* Checks up front that the program can be run, so a typo costs no trace. */
static char *
find_program (const char  *program,
              GError     **error)
{
  g_autofree char *path = NULL;

  if (strchr (program, '/') != NULL)
    path = g_strdup (program);
  else
    path = g_find_program_in_path (program);
  if (path == NULL || g_file_test (path, G_FILE_TEST_IS_DIR) || access (path, X_OK) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "cannot run '%s': %s", program,
                   path == NULL ? "command not found"
                   : g_file_test (path, G_FILE_TEST_IS_DIR) ? "is a directory"
                   : g_strerror (errno));
      return NULL;
    }
  return g_steal_pointer (&path);
}

/* The program's environment: ours, with the agent prepended to LD_PRELOAD
 * and the session named. */
static char **
program_environment (const char *agent,
                     const char *session_path)
{
  char **env = g_get_environ ();
  const char *preload = g_environ_getenv (env, "LD_PRELOAD");
  g_autofree char *new_preload = NULL;

  new_preload = preload != NULL && preload[0] != '\0'
                ? g_strdup_printf ("%s:%s", agent, preload) : g_strdup (agent);
  env = g_environ_setenv (env, "LD_PRELOAD", new_preload, TRUE);
  env = g_environ_setenv (env, WEFT_ENV_SESSION, session_path, TRUE);
  return env;
}

/* In the child: wait for the parent's go (perf is attached by then), then
 * exec. Only async-signal-safe calls here. */
G_GNUC_NORETURN static void
child_exec (const char  *path,
            char       **argv,
            char       **envp,
            int          go_fd,
            int          error_fd,
            const sigset_t *mask)
{
  char byte;
  int saved_errno;

  signal (SIGPIPE, SIG_DFL);
  sigprocmask (SIG_SETMASK, mask, NULL);
  if (read (go_fd, &byte, 1) != 1)
    _exit (127);
  execve (path, argv, envp);
  saved_errno = errno;
  if (write (error_fd, &saved_errno, sizeof saved_errno) < 0)
    _exit (127);
  _exit (127);
}

static gboolean
open_sched (Recording  *rec,
            GError    **error)
{
  g_autoptr (GError) perf_error = NULL;
  guint64 period_ns = (guint64) rec->options->proc_period_ms * 1000000;

  if (g_strcmp0 (rec->options->sched, "proc") != 0)
    {
      rec->sched = weft_sched_new_perf (rec->root_pid, &perf_error);
      if (rec->sched != NULL)
        return TRUE;
      if (g_strcmp0 (rec->options->sched, "perf") == 0)
        {
          g_propagate_error (error, g_steal_pointer (&perf_error));
          return FALSE;
        }
      fprintf (stderr, "weft record: %s; sampling /proc every %d ms instead (less precise)\n",
               perf_error->message, rec->options->proc_period_ms);
    }
  rec->sched = weft_sched_new_proc (rec->root_pid, period_ns);
  return TRUE;
}

static gboolean
start_program (Recording  *rec,
               const char *path,
               const char *agent,
               GError    **error)
{
  g_auto (GStrv) envp = program_environment (agent, weft_session_get_path (rec->session));
  int go_pipe[2], error_pipe[2];
  int exec_errno = 0;
  ssize_t n;

  if (!g_unix_open_pipe (go_pipe, FD_CLOEXEC, error)
      || !g_unix_open_pipe (error_pipe, FD_CLOEXEC, error))
    return FALSE;

  rec->root_pid = fork ();
  if (rec->root_pid < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot start '%s': %s", path, g_strerror (errno));
      return FALSE;
    }
  if (rec->root_pid == 0)
    child_exec (path, rec->options->command, envp, go_pipe[0], error_pipe[1], &rec->saved_mask);

  close (go_pipe[0]);
  close (error_pipe[1]);
  if (!open_sched (rec, error))
    {
      close (go_pipe[1]);
      close (error_pipe[0]);
      waitpid (rec->root_pid, NULL, 0);
      return FALSE;
    }
  rec->start_ns = monotonic_ns ();
  rec->start_unix_ns = (guint64) g_get_real_time () * 1000;
  if (write (go_pipe[1], "g", 1) != 1)
    {
      /* The child is gone already; its status is reaped in the loop. */
    }
  close (go_pipe[1]);

  /* The error pipe closes on a successful exec (CLOEXEC). */
  do
    n = read (error_pipe[0], &exec_errno, sizeof exec_errno);
  while (n < 0 && errno == EINTR);
  close (error_pipe[0]);
  if (n == sizeof exec_errno)
    {
      waitpid (rec->root_pid, NULL, 0);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (exec_errno),
                   "cannot run '%s': %s", path, g_strerror (exec_errno));
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* While it runs. */

static void
on_record (const WeftSessionImage *image,
           const WeftRecHeader    *record,
           gpointer                user_data)
{
  weft_writer_add_record (user_data, image, record);
}

static void
on_slot (const WeftSessionImage *image,
         const WeftWireSlot     *slot,
         gpointer                user_data)
{
  weft_writer_add_slot (user_data, image, slot);
}

static void
on_sched (const WeftSchedEvent *event,
          gpointer              user_data)
{
  weft_writer_add_sched (user_data, event);
}

/* We are the parent of the root and, as subreaper, of every orphan of the
 * tree: reap them all, recording their status and CPU time. */
static void
reap_children (Recording *rec)
{
  for (;;)
    {
      struct rusage usage;
      int status;
      pid_t pid = wait4 (-1, &status, WNOHANG, &usage);
      guint64 cpu_ns;

      if (pid < 0 && errno == ECHILD)
        {
          rec->root_done = TRUE;
          rec->stop_waiting = TRUE;
          return;
        }
      if (pid <= 0)
        return;
      cpu_ns = ((guint64) usage.ru_utime.tv_sec + (guint64) usage.ru_stime.tv_sec) * 1000000000
               + ((guint64) usage.ru_utime.tv_usec + (guint64) usage.ru_stime.tv_usec) * 1000;
      weft_writer_add_reaped (rec->writer, pid, status, cpu_ns, monotonic_ns ());
      if (pid == rec->root_pid)
        {
          rec->root_status = status;
          rec->root_done = TRUE;
        }
    }
}

/* Ctrl-C from the terminal already reached the program (same process
 * group); a signal sent to weft alone is passed on. After the root ended,
 * any interrupt means: stop waiting for the orphans and write the trace. */
static void
handle_signal (Recording                     *rec,
               const struct signalfd_siginfo *info)
{
  if (info->ssi_signo == SIGCHLD)
    return;
  if (rec->root_done)
    {
      rec->stop_waiting = TRUE;
      return;
    }
  if (info->ssi_code != SI_KERNEL)
    kill (rec->root_pid, info->ssi_signo);
}

static void
follow_program (Recording *rec)
{
  int interval_ms = DRAIN_INTERVAL_MIN_MS;

  while (!rec->stop_waiting)
    {
      struct pollfd pfd = { rec->signal_fd, POLLIN, 0 };
      struct signalfd_siginfo info;

      if (poll (&pfd, 1, interval_ms) > 0)
        while (read (rec->signal_fd, &info, sizeof info) == sizeof info)
          handle_signal (rec, &info);
      if (weft_session_drain (rec->session, on_record, on_slot, rec->writer) > 0)
        interval_ms = DRAIN_INTERVAL_MIN_MS;
      else
        interval_ms = MIN (interval_ms * 2, DRAIN_INTERVAL_MAX_MS);
      weft_sched_poll (rec->sched, on_sched, rec->writer);
      reap_children (rec);
      weft_writer_flush (rec->writer);
    }
}

/* ---------------------------------------------------------------------- */
/* Writing the trace. */

static gboolean
put_in_place (const char  *temp_path,
              const char  *output,
              GError     **error)
{
  if (g_file_test (output, G_FILE_TEST_EXISTS))
    {
      g_autofree char *old = g_strdup_printf ("%s.old", output);

      if (g_rename (output, old) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "cannot keep the existing %s as %s: %s", output, old, g_strerror (saved_errno));
          return FALSE;
        }
    }
  if (g_rename (temp_path, output) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot write %s: %s", output, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_trace (Recording          *rec,
             WeftWriterSummary  *summary,
             GError            **error)
{
  g_autofree char *command = g_strjoinv (" ", rec->options->command);
  WeftWriterMeta meta = {
    .command = command,
    .start_ns = rec->start_ns,
    .start_unix_ns = rec->start_unix_ns,
    .end_ns = monotonic_ns (),
    .sched_source = weft_sched_get_source (rec->sched),
    .sched_period_ns = weft_sched_get_period_ns (rec->sched),
    .root_pid = rec->root_pid,
  };
  WeftWriter *writer = g_steal_pointer (&rec->writer);

  weft_session_close (rec->session, on_record, on_slot, writer);
  weft_sched_finish (rec->sched, meta.end_ns, on_sched, writer);
  meta.sched_lost = weft_sched_get_lost (rec->sched);
  meta.session_corrupt = weft_session_get_corrupt_records (rec->session);

  if (!weft_writer_finish (writer, weft_session_get_images (rec->session), &meta, summary, error))
    return FALSE;
  g_clear_pointer (&rec->trace, weft_trace_free);
  if (!put_in_place (rec->temp_path, rec->options->output, error))
    return FALSE;
  g_clear_pointer (&rec->temp_path, g_free);
  summary->duration_ns = meta.end_ns - meta.start_ns;
  return TRUE;
}

static char *
temp_path_for (const char *output)
{
  g_autofree char *dir = g_path_get_dirname (output);
  g_autofree char *base = g_path_get_basename (output);
  g_autofree char *name = g_strdup_printf (".%s.%d.tmp", base, (int) getpid ());

  return g_build_filename (dir, name, NULL);
}

static int
exit_code_of (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 1;
}

/* Blocks the signals the loop reads from a signalfd; the child unblocks
 * them before exec. */
static gboolean
catch_signals (Recording  *rec,
               GError    **error)
{
  sigset_t mask;

  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGHUP);
  sigaddset (&mask, SIGQUIT);
  sigprocmask (SIG_BLOCK, &mask, &rec->saved_mask);
  rec->signal_fd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (rec->signal_fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot watch signals: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* The last line: where the trace went and whether anything is missing. */
static void
print_summary (const char              *output,
               const WeftWriterSummary *summary)
{
  g_autofree char *lost = NULL;

  if (summary->lost_events == 0)
    lost = g_strdup ("0 lost events");
  else
    lost = g_strdup_printf ("%" G_GUINT64_FORMAT " LOST events: %" G_GUINT64_FORMAT
                            " from full thread rings (try a larger --ring-kib), %"
                            G_GUINT64_FORMAT " from the kernel's buffers",
                            summary->lost_events, summary->agent_lost, summary->sched_lost);
  fprintf (stderr,
           "weft record: wrote %s (%.2f s, %u processes, %u threads, %" G_GUINT64_FORMAT
           " waits, %s)\n",
           output, summary->duration_ns / 1e9, summary->processes, summary->threads,
           summary->waits, lost);
}

static int
record (RecordOptions  *options,
        GError        **error)
{
  Recording rec = { .options = options, .signal_fd = -1 };
  WeftWriterSummary summary = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *agent = NULL;
  int status = 0;

  sigprocmask (SIG_SETMASK, NULL, &rec.saved_mask);
  if ((path = find_program (options->command[0], error)) == NULL)
    return 127;
  if ((agent = weft_agent_path (error)) == NULL)
    return 1;

  rec.temp_path = temp_path_for (options->output);
  if ((rec.trace = weft_trace_create (rec.temp_path, error)) == NULL)
    {
      g_clear_pointer (&rec.temp_path, g_free);
      return 1;
    }
  rec.session = weft_session_new (NULL, (guint32) options->ring_kib * 1024, 16,
                                  options->no_stacks ? WEFT_SESSION_NO_STACKS : 0, error);
  if (rec.session == NULL || !catch_signals (&rec, error))
    goto out;
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  if (!start_program (&rec, path, agent, error))
    {
      status = 127;
      goto out;
    }

  rec.writer = weft_writer_new (rec.trace);
  follow_program (&rec);
  status = exit_code_of (rec.root_status);
  if (!write_trace (&rec, &summary, error))
    goto out;

  print_summary (options->output, &summary);
  recording_clear (&rec);
  return status;

out:
  recording_clear (&rec);
  return status != 0 ? status : 1;
}

/* ---------------------------------------------------------------------- */

static gboolean
check_options (RecordOptions  *options,
               GError        **error)
{
  if (options->command == NULL || options->command[0] == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "no program given; usage: weft record [OPTIONS] -- PROGRAM [ARGS…]");
      return FALSE;
    }
  if (g_strcmp0 (options->sched, "auto") != 0 && g_strcmp0 (options->sched, "perf") != 0
      && g_strcmp0 (options->sched, "proc") != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--sched must be auto, perf or proc, not '%s'", options->sched);
      return FALSE;
    }
  if (options->proc_period_ms < 1 || options->proc_period_ms > 1000)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--proc-period must be 1 to 1000 ms, not %d", options->proc_period_ms);
      return FALSE;
    }
  if (options->ring_kib < 64 || options->ring_kib > 65536
      || (options->ring_kib & (options->ring_kib - 1)) != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--ring-kib must be a power of two from 64 to 65536, not %d", options->ring_kib);
      return FALSE;
    }
  return TRUE;
}

int
weft_cmd_record (int    argc,
                 char **argv)
{
  /* String defaults are set after parsing: GOption overwrites a given
   * string without freeing what was there. */
  RecordOptions options = {
    .proc_period_ms = 10,
    .ring_kib = 1024,
  };
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &options.output,
      "Write the trace to FILE (default weft.db; an existing FILE is kept as FILE.old)", "FILE" },
    { "sched", 0, 0, G_OPTION_ARG_STRING, &options.sched,
      "Where scheduling data comes from: auto (perf, else /proc), perf, proc", "SOURCE" },
    { "proc-period", 0, 0, G_OPTION_ARG_INT, &options.proc_period_ms,
      "Sampling period of the /proc fallback (default 10)", "MS" },
    { "ring-kib", 0, 0, G_OPTION_ARG_INT, &options.ring_kib,
      "Per-thread event ring size (default 1024)", "KIB" },
    { "no-stacks", 0, 0, G_OPTION_ARG_NONE, &options.no_stacks,
      "Do not capture call stacks of waits", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options.command, NULL,
      "-- PROGRAM [ARGS…]" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("-- PROGRAM [ARGS…]");
  g_autoptr (GError) error = NULL;
  int status;

  /* Stop at the program's name, so `weft record ./prog -x` works without --. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Runs PROGRAM with the weft agent and records, into one SQLite trace, when each\n"
    "of its threads and processes ran on which CPU and every time one of them waited\n"
    "on a lock, condition variable, barrier, semaphore, join, poll or sleep.\n"
    "Exits with PROGRAM's status (128+N if a signal N killed it).");
  g_option_context_set_description (context,
    "Examples:\n"
    "  weft record -- ./my-server --threads 4\n"
    "  weft record -o pigz.db -- pigz -p 2 big.tar\n"
    "  weft record --sched=proc -- make -j2     (where perf events are not allowed)\n");
  if (g_option_context_parse (context, &argc, &argv, &error))
    {
      if (options.output == NULL)
        options.output = g_strdup ("weft.db");
      if (options.sched == NULL)
        options.sched = g_strdup ("auto");
    }
  if (error != NULL || !check_options (&options, &error))
    {
      fprintf (stderr, "weft record: %s\n", error->message);
      status = 2;
    }
  else
    {
      status = record (&options, &error);
      if (error != NULL)
        fprintf (stderr, "weft record: %s\n", error->message);
    }
  g_free (options.output);
  g_free (options.sched);
  g_strfreev (options.command);
  return status;
}
