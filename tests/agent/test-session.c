/* test-session.c — how the agent treats its environment: no session means
 * silent pass-through, a bad one means one warning and pass-through. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "agent-test-util.h"

static void
run_with_env (const char  *session,
              char       **out,
              char       **err,
              int         *status)
{
  const char *argv[] = { AGENT_HELPER, "errorcheck", NULL };
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (GError) error = NULL;

  envp = g_environ_setenv (envp, WEFT_ENV_PRELOAD, agent_test_agent_path (), TRUE);
  if (session != NULL)
    envp = g_environ_setenv (envp, WEFT_ENV_SESSION, session, TRUE);
  else
    envp = g_environ_unsetenv (envp, WEFT_ENV_SESSION);
  g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, out, err, status, &error);
  g_assert_no_error (error);
}

static void
test_inactive (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status;

  g_test_summary ("Preloaded without WEFT_SESSION the agent is silent and changes nothing");
  run_with_env (NULL, &out, &err, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (err, ==, "");
  g_assert_nonnull (strstr (out, "relock EDEADLK\n"));
}

static void
test_not_private (void)
{
  g_autofree char *dir = g_dir_make_tmp ("weft-test-XXXXXX", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GDir) d = NULL;
  int status;

  g_test_summary ("A session directory readable by others is refused with one `weft:` "
                  "line; the program runs unchanged and nothing is written there");
  g_assert_nonnull (dir);
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  run_with_env (dir, &out, &err, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_str_has_prefix (err, "weft: "));
  g_assert_nonnull (strchr (err, '\n'));
  g_assert_cmpstr (strchr (err, '\n') + 1, ==, "");
  g_assert_nonnull (strstr (out, "relock EDEADLK\n"));
  d = g_dir_open (dir, 0, NULL);
  g_assert_null (g_dir_read_name (d));
  g_rmdir (dir);
}

static void
test_relative (void)
{
  g_autofree char *out = NULL, *err = NULL;
  int status;

  g_test_summary ("A relative WEFT_SESSION is refused with one warning");
  run_with_env ("relative/dir", &out, &err, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_str_has_prefix (err, "weft: "));
  g_assert_nonnull (strstr (out, "relock EDEADLK\n"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent/session/inactive", test_inactive);
  g_test_add_func ("/agent/session/not-private", test_not_private);
  g_test_add_func ("/agent/session/relative", test_relative);
  return g_test_run ();
}
