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
#include "weft-text.h"
#include "weft-reach.h"
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
  char     *session_dir;      /* where the session directory goes (NULL: /dev/shm) */
  char     *recover;          /* --recover: a dead collector's session directory */
  char    **command;          /* after -- */
} RecordOptions;

typedef struct
{
  RecordOptions  *options;
  char           *temp_path;   /* the trace while it is being written */
  WeftSession    *session;
  WeftSched      *sched;
  GPtrArray      *secure_scheds; /* WeftSched*: /proc sampling of setuid processes */
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
  g_clear_pointer (&rec->secure_scheds, g_ptr_array_unref);
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
  signal (SIGXFSZ, SIG_DFL);
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

/* The kernel detaches perf events from a task that execs a setuid or setgid
 * program (it becomes non-dumpable): from then on, /proc sampling is the
 * only way to see where that process and its children run. */
static void
follow_secure_process (Recording *rec,
                       gint32     pid)
{
  if (g_strcmp0 (weft_sched_get_source (rec->sched), "perf") != 0)
    return;
  /* A secure program that execs another, or one started under a secure
   * process: already sampled, and a second sampler would count it twice. */
  for (guint i = 0; i < rec->secure_scheds->len; i++)
    if (weft_sched_covers (rec->secure_scheds->pdata[i], pid))
      return;
  g_ptr_array_add (rec->secure_scheds,
                   weft_sched_new_proc (pid, (guint64) rec->options->proc_period_ms * 1000000));
}

/* Scheduling events while the program runs: a process that just exec'd is
 * looked at now, while it runs, to know whether the agent can be in it at
 * all (weft-reach.h); finalize uses the answer if no agent image of it ever
 * shows up. */
static void
on_sched_live (const WeftSchedEvent *event,
               gpointer              user_data)
{
  Recording *rec = user_data;
  const char *reason = NULL;

  weft_writer_add_sched (rec->writer, event);
  if (event->type != WEFT_SCHED_COMM || !event->exec || event->pid != event->tid
      || !weft_reach_check_pid (event->pid, &reason))
    return;
  weft_writer_add_reach (rec->writer, event->pid, reason);
  if (g_strcmp0 (reason, WEFT_REACH_SECURE) == 0)
    follow_secure_process (rec, event->pid);
}

static void
poll_scheds (Recording *rec)
{
  weft_sched_poll (rec->sched, on_sched_live, rec);
  for (guint i = 0; i < rec->secure_scheds->len; i++)
    weft_sched_poll (rec->secure_scheds->pdata[i], on_sched, rec->writer);
}

static void
finish_scheds (Recording  *rec,
               guint64     end_ns,
               WeftWriter *writer)
{
  weft_sched_finish (rec->sched, end_ns, on_sched, writer);
  for (guint i = 0; i < rec->secure_scheds->len; i++)
    weft_sched_finish (rec->secure_scheds->pdata[i], end_ns, on_sched, writer);
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
  g_autoptr (GArray) pollfds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  struct pollfd signal_pfd = { rec->signal_fd, POLLIN, 0 };
  int interval_ms = DRAIN_INTERVAL_MIN_MS;

  /* Signals, and the scheduling source's "filling up" descriptors. */
  g_array_append_val (pollfds, signal_pfd);
  weft_sched_add_poll_fds (rec->sched, pollfds);
  while (!rec->stop_waiting)
    {
      struct pollfd *pfds = (struct pollfd *) pollfds->data;
      struct signalfd_siginfo info;

      if (poll (pfds, pollfds->len, interval_ms) > 0 && (pfds[0].revents & POLLIN))
        while (read (rec->signal_fd, &info, sizeof info) == sizeof info)
          handle_signal (rec, &info);
      /* A perf event whose task is gone reports POLLHUP for ever: stop
       * polling it (its ring is still read below). */
      for (guint i = 1; i < pollfds->len; i++)
        if (pfds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
          pfds[i].fd = -1;
      if (weft_session_drain (rec->session, on_record, on_slot, rec->writer) > 0)
        interval_ms = DRAIN_INTERVAL_MIN_MS;
      else
        interval_ms = MIN (interval_ms * 2, DRAIN_INTERVAL_MAX_MS);
      poll_scheds (rec);
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
  finish_scheds (rec, meta.end_ns, writer);
  meta.sched_lost = weft_sched_get_lost (rec->sched);
  meta.session_corrupt = weft_session_get_corrupt_records (rec->session);
  if (weft_session_get_damaged_chunks (rec->session) > 0)
    fprintf (stderr, "weft record: %u ring file(s) of the session were truncated while "
             "recording (by the traced program?): the events they still held are lost\n",
             weft_session_get_damaged_chunks (rec->session));

  if (!weft_writer_finish (writer, weft_session_get_images (rec->session), &meta, summary, error))
    return FALSE;
  g_clear_pointer (&rec->trace, weft_trace_free);
  if (!put_in_place (rec->temp_path, rec->options->output, error))
    return FALSE;
  g_clear_pointer (&rec->temp_path, g_free);
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

/* One line per process the agent could not reach (at most a screenful),
 * so nobody mistakes their empty lock profile for a lock-free program. */
static void
print_uninstrumented (const WeftWriterSummary *summary)
{
  const guint max_lines = 10;

  for (guint i = 0; i < MIN (summary->uninstrumented->len, max_lines); i++)
    {
      const char *raw = summary->uninstrumented->pdata[i];
      g_autofree char *line = weft_text_escape (raw);   /* names the program's own exe */

      fprintf (stderr, "weft record: %s; %s\n", line,
               g_str_has_suffix (line, WEFT_REACH_SECURE)
               ? "its CPU use is sampled from /proc (the kernel hides it from perf), its locks are not recorded"
               : "its CPU use is recorded, its locks are not");
    }
  if (summary->uninstrumented->len > max_lines)
    fprintf (stderr, "weft record: %u more processes were not instrumented"
             " (see processes.uninstrumented_reason in the trace)\n",
             summary->uninstrumented->len - max_lines);
}

/* "N LOST events: …", naming only the sources that lost some. */
static char *
describe_lost (const WeftWriterSummary *summary)
{
  guint64 damaged = summary->lost_events - MIN (summary->lost_events,
                                                summary->agent_lost + summary->sched_lost);
  GString *lost = g_string_new (NULL);
  const char *sep = ": ";

  if (summary->lost_events == 0)
    return g_string_free (g_string_append (lost, "0 lost events"), FALSE);
  g_string_printf (lost, "%" G_GUINT64_FORMAT " LOST events", summary->lost_events);
  if (summary->agent_lost > 0)
    {
      g_string_append_printf (lost, "%s%" G_GUINT64_FORMAT " from full thread rings (try a "
                              "larger --ring-kib)", sep, summary->agent_lost);
      sep = ", ";
    }
  if (summary->sched_lost > 0)
    {
      g_string_append_printf (lost, "%s%" G_GUINT64_FORMAT " from the kernel's buffers",
                              sep, summary->sched_lost);
      sep = ", ";
    }
  if (damaged > 0)
    g_string_append_printf (lost, "%s%" G_GUINT64_FORMAT " from rings the program damaged",
                            sep, damaged);
  return g_string_free (lost, FALSE);
}

/* The last line: where the trace went and whether anything is missing. */
static void
print_summary (const char              *output,
               const WeftWriterSummary *summary)
{
  g_autofree char *lost = describe_lost (summary);

  print_uninstrumented (summary);
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
  Recording rec = {
    .options = options,
    .signal_fd = -1,
  };
  g_autoptr (GPtrArray) uninstrumented = g_ptr_array_new_with_free_func (g_free);
  WeftWriterSummary summary = { .uninstrumented = uninstrumented };
  g_autofree char *path = NULL;
  g_autofree char *agent = NULL;
  const char *root_reason = NULL;
  gboolean root_known;
  int status = 0;

  sigprocmask (SIG_SETMASK, NULL, &rec.saved_mask);
  /* A file-size limit makes writes fail (EFBIG) instead of killing us: we
   * then say so and still let the program finish. */
  signal (SIGXFSZ, SIG_IGN);
  if ((path = find_program (options->command[0], error)) == NULL)
    return 127;
  if ((agent = weft_agent_path (error)) == NULL)
    return 1;
  /* Decided before it runs: a static root may be gone before we could
   * look at it in /proc. */
  root_known = weft_reach_check_file (path, &root_reason);

  rec.temp_path = temp_path_for (options->output);
  if ((rec.trace = weft_trace_create (rec.temp_path, error)) == NULL)
    {
      g_clear_pointer (&rec.temp_path, g_free);
      return 1;
    }
  rec.secure_scheds = g_ptr_array_new_with_free_func ((GDestroyNotify) weft_sched_free);
  rec.session = weft_session_new (options->session_dir, (guint32) options->ring_kib * 1024, 16,
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
  if (root_known)
    weft_writer_add_reach (rec.writer, rec.root_pid, root_reason);
  follow_program (&rec);
  status = exit_code_of (rec.root_status);
  if (!write_trace (&rec, &summary, error))
    {
      g_prefix_error (error, "no trace written (the program ran to its end): ");
      goto out;
    }

  print_summary (options->output, &summary);
  recording_clear (&rec);
  return status;

out:
  recording_clear (&rec);
  return status != 0 ? status : 1;
}

/* ---------------------------------------------------------------------- */
/* --recover: a trace from what a dead collector left in /dev/shm. */

/* The recorded command's image: the first one whose parent was the
 * collector. */
static const WeftSessionImage *
find_root_image (WeftSession *session)
{
  GPtrArray *images = weft_session_get_images (session);
  const WeftSessionImage *root = NULL;

  for (guint i = 0; i < images->len; i++)
    {
      const WeftSessionImage *image = images->pdata[i];

      if (image->ppid == weft_session_get_collector_pid (session)
          && (root == NULL || image->image_start_ns < root->image_start_ns))
        root = image;
    }
  return root;
}

static char *
root_command (const WeftSessionImage *root)
{
  char *command;

  if (root == NULL || root->chunk0 == NULL)
    return g_strdup ("");
  command = g_strndup (root->chunk0->cmdline,
                       MIN (root->chunk0->cmdline_bytes, WEFT_WIRE_CMDLINE_BYTES));
  for (guint32 i = 0; i + 1 < MIN (root->chunk0->cmdline_bytes, WEFT_WIRE_CMDLINE_BYTES); i++)
    if (command[i] == '\0')
      command[i] = ' ';
  return command;
}

/* Drains every ring of the session into a new trace at temp_path. */
static gboolean
recover_trace (WeftSession        *session,
               const char         *temp_path,
               WeftWriterSummary  *summary,
               GError            **error)
{
  g_autoptr (WeftTrace) trace = NULL;
  const WeftSessionImage *root;
  g_autofree char *command = NULL;
  WeftWriterMeta meta = { .sched_source = "none" };
  WeftWriter *writer;
  guint64 now_ns = monotonic_ns ();

  if ((trace = weft_trace_create (temp_path, error)) == NULL)
    return FALSE;
  writer = weft_writer_new (trace);
  weft_session_close (session, on_record, on_slot, writer);
  root = find_root_image (session);
  command = root_command (root);
  meta.command = command;
  meta.start_ns = weft_session_get_start_ns (session);
  meta.start_unix_ns = (guint64) g_get_real_time () * 1000 - (now_ns - meta.start_ns);
  meta.root_pid = root != NULL ? root->pid : 0;
  meta.session_corrupt = weft_session_get_corrupt_records (session);
  return weft_writer_finish (writer, weft_session_get_images (session), &meta, summary, error);
}

static int
recover (RecordOptions  *options,
         GError        **error)
{
  g_autoptr (WeftSession) session = NULL;
  g_autoptr (GPtrArray) uninstrumented = g_ptr_array_new_with_free_func (g_free);
  WeftWriterSummary summary = { .uninstrumented = uninstrumented };
  g_autofree char *temp_path = temp_path_for (options->output);

  if ((session = weft_session_open (options->recover, error)) == NULL)
    return 1;
  if (!recover_trace (session, temp_path, &summary, error)
      || !put_in_place (temp_path, options->output, error))
    {
      g_unlink (temp_path);
      return 1;
    }
  /* The trace holds it all now: give the shared memory back. */
  weft_session_set_keep_files (session, FALSE);
  fprintf (stderr, "weft record: recovered %s: the agents' events weft had not read yet"
           " and their lock counters; no scheduling data (sched_source is 'none')\n",
           weft_session_get_path (session));
  print_summary (options->output, &summary);
  return 0;
}

/* ---------------------------------------------------------------------- */

static gboolean
check_options (RecordOptions  *options,
               GError        **error)
{
  if (options->recover != NULL)
    {
      if (options->command != NULL && options->command[0] != NULL)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               "--recover takes no program; usage: weft record --recover DIR [-o FILE]");
          return FALSE;
        }
      return TRUE;
    }
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
    { "session-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.session_dir,
      "Keep the shared-memory session in DIR (default /dev/shm)", "DIR" },
    { "recover", 0, 0, G_OPTION_ARG_FILENAME, &options.recover,
      "Make a trace of the session DIR that a killed weft left behind", "DIR" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options.command, NULL,
      "-- PROGRAM [ARGS…]" },
    { NULL }
  };
  /* No parameter string: the G_OPTION_REMAINING entry adds its own. */
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  int status;

  /* Stop at the program's name, so `weft record ./prog -x` works without --. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Runs PROGRAM with the weft agent and records, into one SQLite trace, when each\n"
    "of its threads and processes ran on which CPU and every time one of them waited\n"
    "on a lock, condition variable, barrier, semaphore, join, child process, poll or sleep.\n"
    "Exits with PROGRAM's status (128+N if a signal N killed it).");
  g_option_context_set_description (context,
    "Examples:\n"
    "  weft record -- ./my-server --threads 4\n"
    "  weft record -o pigz.db -- pigz -p 2 big.tar\n"
    "  weft record --sched=proc -- make -j2     (where perf events are not allowed)\n"
    "\n"
    "If weft itself is killed, the program runs on untraced, and what its agents\n"
    "recorded since weft last read them stays in /dev/shm/weft-PID-XXXXXX (PID:\n"
    "weft's), with complete lock counters. Turn it into a trace without\n"
    "scheduling data, which frees that memory:\n"
    "  weft record --recover /dev/shm/weft-4242-Ab12Cd -o rescued.db\n");
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
      status = options.recover != NULL ? recover (&options, &error) : record (&options, &error);
      if (error != NULL)
        fprintf (stderr, "weft record: %s\n", error->message);
    }
  g_free (options.output);
  g_free (options.sched);
  g_free (options.session_dir);
  g_free (options.recover);
  g_strfreev (options.command);
  return status;
}
