/* weft-agent-path.c — find the agent that matches this `weft` binary. */
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "weft-agent-path.h"
#include "weft-config.h"

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

char *
weft_agent_path (GError **error)
{
  const char *path = running_from_build_tree () ? WEFT_AGENT_BUILDDIR : WEFT_AGENT_INSTALLED;

  if (access (path, R_OK) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "the agent library %s is missing; rebuild or reinstall weft", path);
      return NULL;
    }
  if (strpbrk (path, " :\t") != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                   "the agent's path %s contains a space or colon, which LD_PRELOAD cannot hold; "
                   "install weft under another prefix", path);
      return NULL;
    }
  return g_strdup (path);
}
