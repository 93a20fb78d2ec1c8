/* weft-cmd-view.c — `weft view [FILE]`: open a trace in weft-view.
 *
 * Only finds the viewer that belongs to this `weft` (the build tree's when
 * this binary runs from the build tree, else the installed one, as the agent
 * is found in weft-agent-path.c) and replaces this process with it, passing
 * every argument through, so `weft view --screenshot out.png trace.db` works
 * as `weft-view` does.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "weft-commands.h"
#include "weft-config.h"

static const char view_help[] =
  "Usage: weft view [OPTIONS…] [FILE]\n"
  "\n"
  "Shows a trace (default weft.db) in weft-view, the GTK 4 timeline: the\n"
  "concurrency chart (how many threads ran, and why the others did not), one\n"
  "lane per CPU and one lane per thread, grouped by process.\n"
  "\n"
  "Options (passed to weft-view):\n"
  "  --screenshot OUT.png   render the window into a PNG and exit\n"
  "  --size WxH             window size for --screenshot (default 1280x800)\n"
  "  --span START:END       show only this span, in seconds from the trace's\n"
  "                         start (units ns, us, ms, s may follow a number)\n"
  "\n"
  "Examples:\n"
  "  $ weft record -o build.db -- make -j4\n"
  "  $ weft view build.db\n"
  "  $ weft view --screenshot build.png --size 1600x900 build.db\n";

static gboolean
running_from_build_tree (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = NULL;

  if (exe == NULL)
    return FALSE;
  dir = g_path_get_dirname (exe);
  return strcmp (dir, WEFT_COLLECTOR_BUILDDIR) == 0;
}

int
weft_cmd_view (int    argc,
               char **argv)
{
  const char *viewer = running_from_build_tree () ? WEFT_VIEWER_BUILDDIR : WEFT_VIEWER_INSTALLED;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      {
        fputs (view_help, stdout);
        return 0;
      }
  if (access (viewer, X_OK) != 0)
    {
      fprintf (stderr, "%s: the viewer %s is missing; build weft with GTK 4 "
               "(meson setup -Dviewer=enabled) or reinstall it\n", argv[0], viewer);
      return 1;
    }

  g_ptr_array_add (args, (char *) "weft-view");
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  fflush (stdout);
  execv (viewer, (char **) args->pdata);
  fprintf (stderr, "%s: cannot run %s: %s\n", argv[0], viewer, g_strerror (errno));
  return 1;
}
