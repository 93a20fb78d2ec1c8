/* weft-application.h — the weft-view application.
 *
 * Opens one window per trace given on the command line (or weft.db of the
 * current directory, or an empty window). With --screenshot it instead loads
 * the one trace given, renders the window into a PNG once the timeline has
 * settled, and quits; failures are one "weft-view: …" line on stderr and a
 * non-zero weft_application_get_exit_status(). Main thread only.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define WEFT_TYPE_APPLICATION (weft_application_get_type ())
G_DECLARE_FINAL_TYPE (WeftApplication, weft_application, WEFT, APPLICATION, GtkApplication)

WeftApplication *weft_application_new             (void);

/* What main() should return after g_application_run(): 0, or 1 when the
 * screenshot could not be made. */
int              weft_application_get_exit_status (WeftApplication *self);

G_END_DECLS
