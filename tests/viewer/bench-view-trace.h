/* bench-view-trace.h — builds bench-view's synthetic trace. */
#pragma once

#include <glib.h>

/* Creates path: 16 threads over 10 s, events slices + waits, analysed.
 * counts gets the rows of cpu_slices, waits, thread_states and profile. */
void bench_view_build_trace (const char *path,
                             gint64      events,
                             gint64     *counts);
