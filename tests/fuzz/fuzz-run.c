/* fuzz-run.c — runs weft's commands on bad traces (fuzz-run.h). */
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "fuzz-run.h"
#include "report-fixture.h"
#include "weft-analysis.h"

const FuzzCommand fuzz_commands[] = {
  { "report-text", { "@WEFT", "report", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-json", { "@WEFT", "report", "--format", "json", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-csv", { "@WEFT", "report", "--format", "csv", "--table", "threads", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-html", { "@WEFT", "report", "--format", "html", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-stdout", { "@WEFT", "report", "@FILE" }, FALSE },
  { "report-span", { "@WEFT", "report", "--format", "json", "--span", "1ms:500ms", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-csv-states", { "@WEFT", "report", "--format", "csv", "--table", "states", "@FILE", "-o", "@OUT" }, TRUE },
  { "report-csv-waits", { "@WEFT", "report", "--format", "csv", "--table", "waits", "@FILE", "-o", "@OUT" }, TRUE },
  { "export-chrome", { "@WEFT", "export", "--format", "chrome", "@FILE", "-o", "@OUT" }, TRUE },
  { "export-collapsed", { "@WEFT", "export", "--format", "collapsed", "@FILE", "-o", "@OUT" }, TRUE },
  { "info", { "@WEFT", "info", "@FILE" }, FALSE },
  { "view", { "@VIEW", "--screenshot", "@OUT", "--size", "400x300", "@FILE" }, TRUE },
};
const gsize fuzz_n_commands = G_N_ELEMENTS (fuzz_commands);

void
fuzz_result_clear (FuzzResult *result)
{
  g_clear_pointer (&result->lines, g_ptr_array_unref);
  g_clear_pointer (&result->out, g_free);
}

/* GTK's and GLib's own complaints about the sandbox (no session bus, no
 * accessibility bus) are not the viewer's message. */
static gboolean
is_noise (const char *line)
{
  return *line == '\0' || strstr (line, "Unable to acquire session bus") != NULL
         || strstr (line, "Gtk-WARNING") != NULL || strstr (line, "dbind-WARNING") != NULL;
}

void
fuzz_run (const FuzzCommand *command,
          const char        *file,
          const char        *dir,
          FuzzResult        *result)
{
  static guint counter;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) envp = NULL;
  g_autofree char *asan = NULL;
  int status = 0;

  memset (result, 0, sizeof *result);
  result->out = g_strdup_printf ("%s/out-%u-%s", dir, counter++, command->name);
  for (gsize i = 0; i < G_N_ELEMENTS (command->argv) && command->argv[i] != NULL; i++)
    {
      const char *arg = command->argv[i];

      if (strcmp (arg, "@WEFT") == 0 || strcmp (arg, "@VIEW") == 0)
        {
          const char *program = g_getenv (arg[1] == 'W' ? "WEFT" : "WEFT_VIEW");
          g_autofree char *xvfb = g_find_program_in_path ("xvfb-run");

          if (program == NULL || (arg[1] == 'V' && xvfb == NULL))
            return;
          if (arg[1] == 'V')
            {
              g_ptr_array_add (argv, g_steal_pointer (&xvfb));
              g_ptr_array_add (argv, g_strdup ("-a"));
            }
          g_ptr_array_add (argv, g_strdup (program));
        }
      else if (strcmp (arg, "@FILE") == 0)
        g_ptr_array_add (argv, g_strdup (file));
      else if (strcmp (arg, "@OUT") == 0)
        g_ptr_array_add (argv, g_strdup (result->out));
      else
        g_ptr_array_add (argv, g_strdup (arg));
    }
  g_ptr_array_add (argv, NULL);

  /* Leaks (GTK's fontconfig caches) are not what this test is about, and a
   * leak report would read as a second line on stderr. */
  asan = g_strdup_printf ("%s%sdetect_leaks=0", g_getenv ("ASAN_OPTIONS") ? g_getenv ("ASAN_OPTIONS") : "",
                          g_getenv ("ASAN_OPTIONS") ? ":" : "");
  envp = g_environ_setenv (g_get_environ (), "ASAN_OPTIONS", asan, TRUE);
  g_assert_true (g_spawn_sync (dir, (char **) argv->pdata, envp, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &err, &status, &error));
  g_assert_no_error (error);
  result->ran = TRUE;
  result->signaled = WIFSIGNALED (status);
  result->exit_status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  /* Sanitizers report on stderr and exit 1: that is a crash, not a refusal. */
  if (strstr (err, "ERROR: AddressSanitizer") != NULL || strstr (err, "runtime error:") != NULL)
    result->signaled = TRUE;
  result->lines = g_ptr_array_new_with_free_func (g_free);
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (!is_noise (lines[i]))
      g_ptr_array_add (result->lines, g_strdup (lines[i]));
  if (result->signaled)
    g_test_message ("%s on %s crashed:\n%s", command->name, file, err);
}

void
fuzz_assert_refused (const FuzzResult *result,
                     const char       *file,
                     gboolean          name_file)
{
  g_autofree char *base = g_path_get_basename (file);

  g_assert_false (result->signaled);
  g_assert_cmpint (result->exit_status, !=, 0);
  if (result->lines->len != 1)
    for (guint i = 0; i < result->lines->len; i++)
      g_test_message ("stderr: %s", (const char *) result->lines->pdata[i]);
  g_assert_cmpuint (result->lines->len, ==, 1);
  if (name_file)
    g_assert_nonnull (strstr (result->lines->pdata[0], base));
  g_assert_false (g_file_test (result->out, G_FILE_TEST_EXISTS));
}

gboolean
fuzz_assert_handled (const FuzzResult  *result,
                     const FuzzCommand *command,
                     const char        *file)
{
  g_assert_false (result->signaled);
  if (result->exit_status == 0)
    {
      if (command->writes_out)
        g_assert_true (g_file_test (result->out, G_FILE_TEST_IS_REGULAR));
      return TRUE;
    }
  fuzz_assert_refused (result, file, TRUE);
  return FALSE;
}

void
fuzz_make_trace (const char *path,
                 gint64      events)
{
  g_autoptr(GError) error = NULL;
  WeftTrace *trace = report_fixture_create (path, REPORT_S, 4);
  gint64 process_id, thread_id, object_id, stack_id;

  report_fixture_big (trace, 4, events, REPORT_S);
  /* A second process with a named thread, a stack with frames and a GIL. */
  process_id = report_fixture_process (trace, 200, 1, "python3 ./script.py");
  thread_id = report_fixture_thread (trace, process_id, 201, "wörker \"<b>\"", REPORT_T0_NS, 0);
  object_id = report_fixture_object (trace, process_id, 0x3000, "gil", "GIL");
  stack_id = report_fixture_stack (trace, process_id, "take_gil", "PyEval_RestoreThread", "main", NULL);
  report_fixture_slice (trace, thread_id, 1, REPORT_T0_NS + 10, REPORT_T0_NS + 5000, FALSE);
  report_fixture_wait (trace, thread_id, object_id, "gil", REPORT_T0_NS + 4000,
                       REPORT_T0_NS + 90000, 1, stack_id);
  report_fixture_slice (trace, thread_id, 2, REPORT_T0_NS + 90000, REPORT_T0_NS + 99000, FALSE);
  g_assert_true (weft_analysis_run (trace, &error));
  g_assert_no_error (error);
  weft_trace_free (trace);
}
