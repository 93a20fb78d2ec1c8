/* weft-window.h — a window showing one trace (weft-window.ui).
 *
 * weft_window_load() reads the trace in a worker thread (GTask) and applies
 * it on the main loop; until then the window shows a spinner, and on failure
 * a message. "loaded" is emitted once either way. Main thread only.
 */
#pragma once

#include <gtk/gtk.h>

#include "weft-timeline.h"

G_BEGIN_DECLS

#define WEFT_TYPE_WINDOW (weft_window_get_type ())
G_DECLARE_FINAL_TYPE (WeftWindow, weft_window, WEFT, WINDOW, GtkApplicationWindow)

WeftWindow   *weft_window_new          (GtkApplication *app);

/* Starts loading file (replacing what is shown). */
void          weft_window_load         (WeftWindow *self,
                                        GFile      *file);

/* After "loaded": the error, or NULL when the trace is shown. */
const GError *weft_window_get_error    (WeftWindow *self);
WeftTimeline *weft_window_get_timeline (WeftWindow *self);

G_END_DECLS
