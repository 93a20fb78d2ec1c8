/* weft-reach.h — why the agent could not run in a process.
 *
 * LD_PRELOAD is honoured by the dynamic loader only: a statically linked
 * program has no loader, and a program started in secure-execution mode
 * (setuid, setgid, file capabilities) gets a loader that ignores preloads
 * given by path. Such processes still show in the kernel's scheduling data,
 * so `weft record` asks here why no agent image ever appeared for them.
 *
 * Plain functions of the collector's drain thread (they read /proc and
 * files, no shared state).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define WEFT_REACH_STATIC "statically linked"
#define WEFT_REACH_SECURE "setuid or setgid (secure-execution mode ignores LD_PRELOAD)"
#define WEFT_REACH_UNKNOWN "the agent did not start in it (LD_PRELOAD or WEFT_SESSION " \
                           "removed from its environment?)"

/* Looks at running process pid (/proc/PID/exe and its credentials). Returns
 * TRUE when it could tell, with *reason set to one of the WEFT_REACH_*
 * strings (static, not to be freed) or NULL when nothing stops the agent;
 * FALSE when the process is gone or cannot be inspected. */
gboolean weft_reach_check_pid  (gint32        pid,
                                const char  **reason);

/* The same for an executable file about to be run by this process's user. */
gboolean weft_reach_check_file (const char   *path,
                                const char  **reason);

/* Opens path read-only if it is a regular file, without ever blocking (a
 * FIFO or device named by a traced program's records must not hang weft).
 * Returns the fd (O_CLOEXEC), or -1 with errno set (EINVAL: not a regular
 * file). */
int      weft_open_regular_file (const char *path);

G_END_DECLS
