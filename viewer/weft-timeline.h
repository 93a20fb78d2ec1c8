/* weft-timeline.h — the timeline: concurrency chart, CPU lanes, thread lanes.
 *
 * From top to bottom: a time ruler; the concurrency chart (P(t) as a green
 * area, C(t) above it with the gap coloured by why the threads did not run,
 * a line at the CPU count, a legend); one lane per CPU coloured by the thread
 * on it; one lane per thread, grouped by process, coloured by state
 * (weft-palette.h). The widget paints a WeftViewRaster that is recomputed in
 * a worker thread whenever the visible span or the width changes, made there
 * into textures (a row of texels per lane, one texel per pixel column, and
 * the chart) that GSK stretches over the lanes; snapshot() does no SQL, no
 * I/O and no per-item allocation, and paints only the part of the widget
 * that its scrolled window shows.
 *
 * Main thread only.
 */
#pragma once

#include <gtk/gtk.h>
#include <stdio.h>

#include "weft-view-data.h"

G_BEGIN_DECLS

#define WEFT_TYPE_TIMELINE (weft_timeline_get_type ())
G_DECLARE_FINAL_TYPE (WeftTimeline, weft_timeline, WEFT, TIMELINE, GtkWidget)

/* Shows data (a reference is taken; NULL clears) over the whole trace. A
 * preview (weft_view_data_load_preview()) shows its sampled raster and never
 * settles; the full data of the same trace replacing it keeps the view. */
void      weft_timeline_set_data      (WeftTimeline *self,
                                       WeftViewData *data);
WeftViewData *weft_timeline_get_data  (WeftTimeline *self);

/* The visible span, absolute ns; clamped to the trace. */
void      weft_timeline_set_view      (WeftTimeline *self,
                                       gint64        start_ns,
                                       gint64        end_ns);
void      weft_timeline_get_view      (WeftTimeline *self,
                                       gint64       *start_ns,
                                       gint64       *end_ns);

/* Zooms by factor (< 1 zooms in) keeping the time under widget x where it is;
 * x < 0 means the middle of the plot. */
void      weft_timeline_zoom          (WeftTimeline *self,
                                       double        factor,
                                       double        x);
/* Pans by fraction of the visible span (negative: to earlier). */
void      weft_timeline_pan           (WeftTimeline *self,
                                       double        fraction);
void      weft_timeline_zoom_all      (WeftTimeline *self);

/* The selected span (drag in the plot), FALSE when there is none. */
gboolean  weft_timeline_get_selection (WeftTimeline *self,
                                       gint64       *start_ns,
                                       gint64       *end_ns);
void      weft_timeline_zoom_selection (WeftTimeline *self);

/* Highlights the waits on lock (index into the data's locks; -1: none). */
void      weft_timeline_set_lock      (WeftTimeline *self,
                                       gint          lock);
gint      weft_timeline_get_lock      (WeftTimeline *self);

/* The selected wait (a click on a wait in a thread lane): thread index and
 * index into its waits; FALSE when none. "wait-selected" is emitted when it
 * changes. Selecting one outlines it, highlights the holder's lane over the
 * same interval and draws a line from the waiter to the holder. */
gboolean  weft_timeline_get_selected_wait (WeftTimeline *self,
                                           guint        *thread,
                                           guint        *wait);
void      weft_timeline_select_wait   (WeftTimeline *self,
                                       gint          thread,
                                       gint          wait);

/* What is under widget point (x, y), as a tooltip would say it; NULL over
 * nothing. Also sets *thread / *wait (or -1) when a thread lane / wait is
 * there (either may be NULL). */
char     *weft_timeline_describe_at   (WeftTimeline *self,
                                       double        x,
                                       double        y,
                                       gint         *thread,
                                       gint         *wait);

/* Folds (hides the thread lanes of) process, an index into the data's
 * processes, under its header band, or unfolds it. A click on the band
 * does the same. */
void      weft_timeline_set_process_collapsed (WeftTimeline *self,
                                               guint         process,
                                               gboolean      collapsed);
gboolean  weft_timeline_get_process_collapsed (WeftTimeline *self,
                                               guint         process);

/* The y of the middle of thread lane i (or of its process's band when that
 * is collapsed), in widget coordinates. */
int       weft_timeline_thread_y      (WeftTimeline *self,
                                       guint         i);
/* The x of time t. */
double    weft_timeline_time_x        (WeftTimeline *self,
                                       gint64        t);

/* TRUE when the painted raster matches the current span and width; the
 * "settled" signal is emitted when it becomes so. */
gboolean  weft_timeline_is_settled    (WeftTimeline *self);

/* Writes where things are drawn, in coordinates of `relative` (used by
 * --screenshot --print-layout and the tests), one per line:
 *   plot X0 X1 START_NS END_NS          the time axis
 *   chart Y0 Y1
 *   cpu N Y0 Y1
 *   process PID Y0 Y1 expanded|collapsed one per process header band
 *   thread TID Y0 Y1 NAME                one per thread lane shown */
void      weft_timeline_print_layout  (WeftTimeline *self,
                                       GtkWidget    *relative,
                                       FILE         *out);

G_END_DECLS
