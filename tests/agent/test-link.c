/* test-link.c — the agent links libc only (libunwind is dlopen'ed), never
 * GLib: it runs inside programs that may use another GLib or none. */
#include <glib.h>
#include <string.h>

#include "agent-test-util.h"

static void
test_needed_no_glib (void)
{
  const char *argv[] = { "readelf", "-d", NULL, NULL };
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *readelf = g_find_program_in_path ("readelf");
  int status;
  guint needed = 0;

  g_test_summary ("The NEEDED entries of libweft-agent.so name no GLib library");
  argv[2] = agent_test_agent_path ();
  if (readelf == NULL)
    {
      g_test_skip ("readelf not installed");
      return;
    }
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (strstr (lines[i], "(NEEDED)") == NULL)
        continue;
      needed++;
      g_test_message ("%s", lines[i]);
      g_assert_null (strstr (lines[i], "libglib"));
      g_assert_null (strstr (lines[i], "libgobject"));
      g_assert_null (strstr (lines[i], "libgio"));
      /* libunwind is loaded RTLD_LOCAL at run time, never linked. */
      g_assert_null (strstr (lines[i], "libunwind"));
    }
  g_assert_cmpuint (needed, >, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent/link/no-glib", test_needed_no_glib);
  return g_test_run ();
}
