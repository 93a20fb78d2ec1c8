/* weft-export.h — a trace in other tools' formats, for `weft export`
 * (weft-cmd-export.c); docs/export.md describes both.
 *
 * Each exporter reads the trace's derived tables: the caller makes sure the
 * analysis is current (weft_analysis_run_scratch on a read-only connection
 * otherwise) and appends to out only what is complete: on error out may
 * hold part of the export and must be thrown away.
 */
#pragma once

#include <glib.h>

#include "weft-trace.h"

G_BEGIN_DECLS

/* Above this many profile rows the counter tracks are downsampled to
 * WEFT_EXPORT_COUNTER_COLUMNS time-weighted means. */
#define WEFT_EXPORT_PROFILE_MAX_ROWS 200000
#define WEFT_EXPORT_COUNTER_COLUMNS 20000

/* Chrome's Trace Event Format (JSON object form), for Perfetto UI and
 * chrome://tracing: a name for every process and thread, every thread's
 * states as complete ("X") events, P(t) and C(t) as counter ("C") tracks.
 * Times are microseconds from the trace's start. */
gboolean weft_export_chrome    (WeftTrace  *trace,
                                GString    *out,
                                GError    **error);

/* Folded stacks for flamegraph.pl and speedscope: one line per distinct
 * stack of the waits for locks (kinds mutex rdlock wrlock spin sem, and any
 * wait on a gil object), "outermost;…;innermost;[object] wait_ns", sorted. */
gboolean weft_export_collapsed (WeftTrace  *trace,
                                GString    *out,
                                GError    **error);

/* A frame or object name made safe for a folded line: spaces, semicolons,
 * control and other blank characters become '_', bad UTF-8 U+FFFD, and an
 * empty or NULL name "[unknown]". Returns a new string. */
char    *weft_export_frame_name (const char *name);

G_END_DECLS
