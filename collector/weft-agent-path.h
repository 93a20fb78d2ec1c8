/* weft-agent-path.h — where libweft-agent.so is. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns the absolute path of the agent for this `weft`: the one in the build
 * tree when this binary runs from the build tree, else the installed one under
 * the library directory. NULL with error set when it is missing or its path
 * cannot go into LD_PRELOAD (spaces or colons). */
char *weft_agent_path (GError **error);

G_END_DECLS
