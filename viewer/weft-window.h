/* weft-window.h — a window showing one trace (weft-window.ui).
 *
 * weft_window_load() reads the trace in a worker thread (GTask) and applies
 * it on the main loop; until then the window shows how far the load is (a
 * progress bar; for a large trace, beside a sampled preview of the
 * timeline), and on failure a message. "loaded" is emitted once either way.
 * Main thread only.
 */
#pragma once

#include <gtk/gtk.h>

#include "weft-tables.h"
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
GtkWidget    *weft_window_get_table    (WeftWindow    *self,
                                        WeftTableKind  kind);
/* Selects the row of lock (index into the data's locks; -1: none) in the
 * objects table, which highlights its waits and describes it. */
void          weft_window_select_lock  (WeftWindow *self,
                                        gint        lock);
/* The text of the details pane; "info-shown" is emitted when it changes to
 * what was asked last (an object or a wait, read in a worker). */
const char   *weft_window_get_info     (WeftWindow *self);

G_END_DECLS
