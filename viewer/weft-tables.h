/* weft-tables.h — the tables below the timeline: contended objects, threads
 * and processes of a trace, each a sortable GtkColumnView over
 * WeftViewData's arrays (lock_stats, thread_summary, processes).
 *
 * Each row is a WeftTableRow naming an index into the data's locks, threads
 * or processes. Main thread only.
 */
#pragma once

#include <gtk/gtk.h>
#include <stdio.h>

#include "weft-view-data.h"

G_BEGIN_DECLS

typedef enum
{
  WEFT_TABLE_LOCKS,
  WEFT_TABLE_THREADS,
  WEFT_TABLE_PROCESSES,
} WeftTableKind;

#define WEFT_TYPE_TABLE_ROW (weft_table_row_get_type ())
G_DECLARE_FINAL_TYPE (WeftTableRow, weft_table_row, WEFT, TABLE_ROW, GObject)

guint        weft_table_row_get_index (WeftTableRow *row);

/* A scrolled GtkColumnView of kind; "row-selected" is not a signal: use
 * gtk_column_view_get_model() (a GtkSingleSelection) of
 * weft_table_get_view(). */
GtkWidget   *weft_table_new        (WeftTableKind  kind);
GtkColumnView *weft_table_get_view (GtkWidget     *table);
void         weft_table_set_data   (GtkWidget     *table,
                                    WeftViewData  *data);
/* Selects the row of index (or none for -1) without emitting anything more
 * than the selection model's own signals. */
void         weft_table_select     (GtkWidget     *table,
                                    gint           index);

/* Writes the table's rows as the model holds them, in its current order, one
 * per line: KIND<TAB>raw values of each column<TAB>… (numbers in ns/units,
 * untruncated text), for tests (--print-tables). */
void         weft_table_print      (GtkWidget     *table,
                                    FILE          *out);

G_END_DECLS
