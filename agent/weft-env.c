/* weft-env.c — keeps the whole process tree traced: an environment handed
 * to exec or posix_spawn that lost WEFT_SESSION, or whose LD_PRELOAD no
 * longer names the agent, gets them back.
 *
 * No malloc (exec may be called from a vfork child, where the heap belongs
 * to the parent): the caller provides bounded buffers on its stack.
 */
#include "weft-agent-private.h"

#include <string.h>

static bool
has_prefix (const char *s,
            const char *prefix,
            size_t      prefix_len)
{
  return strncmp (s, prefix, prefix_len) == 0;
}

static const char *
base_name (const char *path,
           size_t      len,
           size_t     *base_len)
{
  size_t i = len;

  while (i > 0 && path[i - 1] != '/')
    i--;
  *base_len = len - i;
  return path + i;
}

/* Whether an LD_PRELOAD value (':' or ' ' separated) names the agent, by
 * path or by file name (a relative or differently spelled path still loads
 * us). */
static bool
preload_has_agent (const char *value)
{
  size_t agent_len = strlen (weft_agent.agent_path);
  size_t agent_base_len, base_len;
  const char *agent_base = base_name (weft_agent.agent_path, agent_len, &agent_base_len);

  while (*value != '\0')
    {
      size_t len = strcspn (value, ": ");
      const char *base = base_name (value, len, &base_len);

      if ((len == agent_len && memcmp (value, weft_agent.agent_path, len) == 0) ||
          (base_len == agent_base_len && base_len > 0 &&
           memcmp (base, agent_base, base_len) == 0))
        return true;
      value += len;
      if (*value != '\0')
        value++;
    }
  return false;
}

/* weft_env_fix:
 * Returns envp itself when it already carries WEFT_SESSION and an
 * LD_PRELOAD naming the agent (or the agent is inactive, or envp is too big
 * to rebuild); otherwise a copy in `out` (WEFT_ENV_MAX entries) with the
 * missing pieces added, using `preload_buf` (WEFT_ENV_PRELOAD_BYTES) for a
 * rebuilt LD_PRELOAD entry. envp may be NULL (an empty environment).
 * Async-signal-safe. */
char *const *
weft_env_fix (char *const *envp,
              char       **out,
              char        *preload_buf)
{
  static const char session_prefix[] = WEFT_ENV_SESSION "=";
  static const char preload_prefix[] = WEFT_ENV_PRELOAD "=";
  const size_t session_len = sizeof session_prefix - 1;
  const size_t preload_len = sizeof preload_prefix - 1;
  bool has_session = false;
  long preload_at = -1;
  size_t n = 0, m = 0;
  char *p;

  if (!weft_agent.active || weft_agent.agent_path[0] == '\0')
    return envp;
  for (n = 0; envp != NULL && envp[n] != NULL; n++)
    {
      if (has_prefix (envp[n], session_prefix, session_len))
        has_session = true;
      else if (preload_at < 0 && has_prefix (envp[n], preload_prefix, preload_len))
        preload_at = (long) n;
    }
  if (has_session && preload_at >= 0 && preload_has_agent (envp[preload_at] + preload_len))
    return envp;
  if (n + 3 > WEFT_ENV_MAX)
    return envp;

  /* LD_PRELOAD=<agent>[:<what was there>] */
  p = stpcpy (preload_buf, preload_prefix);
  p += weft_strlcpy (p, weft_agent.agent_path, WEFT_ENV_PRELOAD_BYTES - (size_t) (p - preload_buf));
  if (preload_at >= 0)
    {
      const char *old = envp[preload_at] + preload_len;

      /* Keep the original entry when it already names us, or when it is too
       * long to extend (never cut the program's own preloads short). */
      if (preload_has_agent (old) ||
          strlen (old) + 2 >= WEFT_ENV_PRELOAD_BYTES - (size_t) (p - preload_buf))
        preload_at = -2;
      else if (old[0] != '\0')
        {
          *p++ = ':';
          weft_strlcpy (p, old, WEFT_ENV_PRELOAD_BYTES - (size_t) (p - preload_buf));
        }
    }

  for (size_t i = 0; i < n; i++)
    out[m++] = (long) i == preload_at ? preload_buf : envp[i];
  if (preload_at == -1)
    out[m++] = preload_buf;
  if (!has_session)
    out[m++] = weft_agent.env_session;
  out[m] = NULL;
  return out;
}
