/* weft-tables.c — sortable tables of objects, threads, processes
 * (weft-tables.h). */
#include <string.h>

#include "weft-tables.h"

struct _WeftTableRow
{
  GObject parent_instance;
  guint   index;
};

G_DEFINE_FINAL_TYPE (WeftTableRow, weft_table_row, G_TYPE_OBJECT)

static void weft_table_row_class_init (WeftTableRowClass *klass) { }
static void weft_table_row_init (WeftTableRow *self) { }

guint
weft_table_row_get_index (WeftTableRow *row)
{
  return row->index;
}

typedef enum { COL_TEXT, COL_COUNT, COL_DURATION, COL_SHARE } ColType;

typedef struct
{
  const char *title;
  ColType     type;
  int         field;   /* which value of the row (see cell_value) */
  gboolean    expand;
} Column;

/* Fields */
enum
{
  L_NAME, L_KIND, L_CONTENTIONS, L_WAITS, L_WAIT_TOTAL, L_WAIT_MAX, L_HOLD_TOTAL, L_HOLD_MAX,
  L_THREADS, L_ACQUISITIONS,
  T_NAME = 100, T_TID, T_PID, T_STATE0, /* T_STATE0 + WeftState */
  T_WAITS = T_STATE0 + WEFT_N_STATES,
  P_PID = 200, P_PARENT, P_COMMAND, P_THREADS, P_RUNNING, P_CPU, P_EXIT,
};

static const Column lock_columns[] = {
  { "Object", COL_TEXT, L_NAME, TRUE },
  { "Kind", COL_TEXT, L_KIND, FALSE },
  { "Contentions", COL_COUNT, L_CONTENTIONS, FALSE },
  { "Waits", COL_COUNT, L_WAITS, FALSE },
  { "Wait total", COL_DURATION, L_WAIT_TOTAL, FALSE },
  { "Wait max", COL_DURATION, L_WAIT_MAX, FALSE },
  { "Hold total", COL_DURATION, L_HOLD_TOTAL, FALSE },
  { "Hold max", COL_DURATION, L_HOLD_MAX, FALSE },
  { "Acquisitions", COL_COUNT, L_ACQUISITIONS, FALSE },
  { "Threads", COL_COUNT, L_THREADS, FALSE },
};

static const Column thread_columns[] = {
  { "Thread", COL_TEXT, T_NAME, TRUE },
  { "TID", COL_COUNT, T_TID, FALSE },
  { "PID", COL_COUNT, T_PID, FALSE },
  { "Running", COL_SHARE, T_STATE0 + WEFT_STATE_RUNNING, FALSE },
  { "Runnable", COL_SHARE, T_STATE0 + WEFT_STATE_RUNNABLE, FALSE },
  { "Lock", COL_SHARE, T_STATE0 + WEFT_STATE_LOCK, FALSE },
  { "Sync", COL_SHARE, T_STATE0 + WEFT_STATE_SYNC, FALSE },
  { "IO", COL_SHARE, T_STATE0 + WEFT_STATE_IO, FALSE },
  { "Sleep", COL_SHARE, T_STATE0 + WEFT_STATE_SLEEP, FALSE },
  { "Blocked", COL_SHARE, T_STATE0 + WEFT_STATE_BLOCKED, FALSE },
  { "Waits", COL_COUNT, T_WAITS, FALSE },
};

static const Column process_columns[] = {
  { "PID", COL_COUNT, P_PID, FALSE },
  { "Parent", COL_COUNT, P_PARENT, FALSE },
  { "Command", COL_TEXT, P_COMMAND, TRUE },
  { "Threads", COL_COUNT, P_THREADS, FALSE },
  { "Running", COL_DURATION, P_RUNNING, FALSE },
  { "CPU (kernel)", COL_DURATION, P_CPU, FALSE },
  { "Exit", COL_COUNT, P_EXIT, FALSE },
};

static const char * const kind_names[] = { "lock", "thread", "process" };

typedef struct
{
  WeftTableKind    kind;
  const Column    *columns;
  guint            n_columns;
  WeftViewData    *data;
  GListStore      *store;
  GtkSingleSelection *selection;
  GtkColumnView   *view;
} Table;

static gint64
thread_life (const WeftViewThread *t)
{
  gint64 life = 0;

  for (guint s = 0; s < WEFT_N_STATES; s++)
    life += t->state_ns[s];
  return life;
}

/* The raw value of a cell: a number, or text (then *text is set, not owned). */
static gint64
cell_value (WeftViewData  *d,
            int            field,
            guint          i,
            const char   **text)
{
  *text = NULL;
  switch (field)
    {
    case L_NAME: *text = d->locks[i].name; return 0;
    case L_KIND: *text = d->locks[i].kind; return 0;
    case L_CONTENTIONS: return d->locks[i].contentions;
    case L_WAITS: return d->locks[i].waits;
    case L_WAIT_TOTAL: return d->locks[i].wait_total_ns;
    case L_WAIT_MAX: return d->locks[i].wait_max_ns;
    case L_HOLD_TOTAL: return d->locks[i].hold_total_ns;
    case L_HOLD_MAX: return d->locks[i].hold_max_ns;
    case L_THREADS: return d->locks[i].threads;
    case L_ACQUISITIONS: return d->locks[i].acquisitions;
    case T_NAME: *text = d->threads[i].name; return 0;
    case T_TID: return d->threads[i].tid;
    case T_PID: return d->processes[d->threads[i].process].pid;
    case T_WAITS: return d->threads[i].n_wait_rows;
    case P_PID: return d->processes[i].pid;
    case P_PARENT: return d->processes[i].parent_pid;
    case P_COMMAND: *text = d->processes[i].command; return 0;
    case P_THREADS: return d->processes[i].n_threads;
    case P_RUNNING: return d->processes[i].running_ns;
    case P_CPU: return d->processes[i].cpu_ns;
    case P_EXIT: return d->processes[i].exit_signal > 0 ? 128 + d->processes[i].exit_signal
                                                         : d->processes[i].exit_status;
    default:
      if (field >= T_STATE0 && field < T_STATE0 + WEFT_N_STATES)
        return d->threads[i].state_ns[field - T_STATE0];
      g_return_val_if_reached (0);
    }
}

static char *
cell_text (Table        *table,
           const Column *col,
           guint         i)
{
  const char *text;
  gint64 v = cell_value (table->data, col->field, i, &text);
  char buf[32];

  switch (col->type)
    {
    case COL_TEXT:
      return g_strdup (text);
    case COL_COUNT:
      if (v < 0 || (col->field == P_PARENT && v == 0))
        return g_strdup ("—");
      return g_strdup_printf ("%" G_GINT64_FORMAT, v);
    case COL_DURATION:
      if (v < 0)
        return g_strdup ("—");
      weft_view_format_duration (buf, sizeof buf, v);
      return g_strdup (buf);
    case COL_SHARE:
      {
        gint64 life = thread_life (&table->data->threads[i]);

        if (v == 0)
          return g_strdup ("·");
        weft_view_format_duration (buf, sizeof buf, v);
        return g_strdup_printf ("%s  %.0f%%", buf, life > 0 ? 100.0 * v / life : 0.0);
      }
    }
  return NULL;
}

static void
setup_cell (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            const Column             *col)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), col->type == COL_TEXT ? 0 : 1);
  gtk_label_set_ellipsize (GTK_LABEL (label), col->type == COL_TEXT ? PANGO_ELLIPSIZE_END
                                                                    : PANGO_ELLIPSIZE_NONE);
  gtk_widget_add_css_class (label, col->type == COL_TEXT ? "table-text" : "numeric");
  gtk_list_item_set_child (item, label);
}

static void
bind_cell (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           const Column             *col)
{
  Table *table = g_object_get_data (G_OBJECT (factory), "weft-table");
  WeftTableRow *row = gtk_list_item_get_item (item);
  g_autofree char *text = NULL;

  if (table->data == NULL || row == NULL)
    return;
  text = cell_text (table, col, row->index);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), text);
  if (col->type == COL_TEXT)
    gtk_widget_set_tooltip_text (gtk_list_item_get_child (item), text);
}

static int
compare_rows (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  const Column *col = user_data;
  Table *table = g_object_get_data (G_OBJECT (a), "weft-table");
  const char *ta, *tb;
  gint64 va, vb;

  if (table == NULL || table->data == NULL)
    return 0;
  va = cell_value (table->data, col->field, WEFT_TABLE_ROW ((gpointer) a)->index, &ta);
  vb = cell_value (table->data, col->field, WEFT_TABLE_ROW ((gpointer) b)->index, &tb);
  if (ta != NULL || tb != NULL)
    return g_utf8_collate (ta != NULL ? ta : "", tb != NULL ? tb : "");
  return va < vb ? -1 : va > vb;
}

static void
table_free (gpointer p)
{
  Table *table = p;

  g_clear_pointer (&table->data, weft_view_data_unref);
  g_clear_object (&table->store);
  g_free (table);
}

GtkWidget *
weft_table_new (WeftTableKind kind)
{
  Table *table = g_new0 (Table, 1);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkSortListModel *sorted;

  table->kind = kind;
  switch (kind)
    {
    case WEFT_TABLE_LOCKS:
      table->columns = lock_columns;
      table->n_columns = G_N_ELEMENTS (lock_columns);
      break;
    case WEFT_TABLE_THREADS:
      table->columns = thread_columns;
      table->n_columns = G_N_ELEMENTS (thread_columns);
      break;
    default:
      table->columns = process_columns;
      table->n_columns = G_N_ELEMENTS (process_columns);
      break;
    }
  table->store = g_list_store_new (WEFT_TYPE_TABLE_ROW);
  table->view = GTK_COLUMN_VIEW (gtk_column_view_new (NULL));
  gtk_column_view_set_show_column_separators (table->view, TRUE);
  gtk_column_view_set_reorderable (table->view, FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (table->view), "data-table");
  for (guint c = 0; c < table->n_columns; c++)
    {
      const Column *col = &table->columns[c];
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;
      GtkSorter *sorter = GTK_SORTER (gtk_custom_sorter_new (compare_rows, (gpointer) col, NULL));

      g_object_set_data (G_OBJECT (factory), "weft-table", table);
      g_signal_connect (factory, "setup", G_CALLBACK (setup_cell), (gpointer) col);
      g_signal_connect (factory, "bind", G_CALLBACK (bind_cell), (gpointer) col);
      column = gtk_column_view_column_new (col->title, factory);
      gtk_column_view_column_set_sorter (column, sorter);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_column_set_expand (column, col->expand);
      if (col->expand)
        gtk_column_view_column_set_fixed_width (column, kind == WEFT_TABLE_LOCKS ? 220 : 180);
      gtk_column_view_append_column (table->view, column);
      g_object_unref (sorter);
      g_object_unref (column);
    }
  sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (table->store)),
                                    g_object_ref (gtk_column_view_get_sorter (table->view)));
  table->selection = gtk_single_selection_new (G_LIST_MODEL (sorted));
  gtk_single_selection_set_autoselect (table->selection, FALSE);
  gtk_single_selection_set_can_unselect (table->selection, TRUE);
  gtk_column_view_set_model (table->view, GTK_SELECTION_MODEL (table->selection));
  g_object_unref (table->selection);

  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (table->view));
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_AUTOMATIC,
                                  GTK_POLICY_AUTOMATIC);
  g_object_set_data_full (G_OBJECT (scrolled), "weft-table", table, table_free);
  return scrolled;
}

static Table *
table_of (GtkWidget *widget)
{
  return g_object_get_data (G_OBJECT (widget), "weft-table");
}

GtkColumnView *
weft_table_get_view (GtkWidget *widget)
{
  return table_of (widget)->view;
}

void
weft_table_set_data (GtkWidget    *widget,
                     WeftViewData *data)
{
  Table *table = table_of (widget);
  guint n;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (g_object_unref);

  g_list_store_remove_all (table->store);
  g_clear_pointer (&table->data, weft_view_data_unref);
  if (data == NULL)
    return;
  table->data = weft_view_data_ref (data);
  n = table->kind == WEFT_TABLE_LOCKS ? data->n_locks
    : table->kind == WEFT_TABLE_THREADS ? data->n_threads : data->n_processes;
  for (guint i = 0; i < n; i++)
    {
      WeftTableRow *row = g_object_new (WEFT_TYPE_TABLE_ROW, NULL);

      row->index = i;
      g_object_set_data (G_OBJECT (row), "weft-table", table);
      g_ptr_array_add (rows, row);
    }
  g_list_store_splice (table->store, 0, 0, rows->pdata, rows->len);
}

void
weft_table_select (GtkWidget *widget,
                   gint       index)
{
  Table *table = table_of (widget);
  GListModel *model = G_LIST_MODEL (table->selection);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; index >= 0 && i < n; i++)
    {
      g_autoptr(WeftTableRow) row = g_list_model_get_item (model, i);

      if ((gint) row->index == index)
        {
          if (gtk_single_selection_get_selected (table->selection) != i)
            gtk_single_selection_set_selected (table->selection, i);
          return;
        }
    }
  gtk_single_selection_set_selected (table->selection, GTK_INVALID_LIST_POSITION);
}

void
weft_table_print (GtkWidget *widget,
                  FILE      *out)
{
  Table *table = table_of (widget);
  GListModel *model = G_LIST_MODEL (table->selection);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n && table->data != NULL; i++)
    {
      g_autoptr(WeftTableRow) row = g_list_model_get_item (model, i);

      fputs (kind_names[table->kind], out);
      for (guint c = 0; c < table->n_columns; c++)
        {
          const char *text;
          gint64 v = cell_value (table->data, table->columns[c].field, row->index, &text);

          if (text != NULL)
            fprintf (out, "\t%s", text);
          else
            fprintf (out, "\t%" G_GINT64_FORMAT, v);
        }
      fputc ('\n', out);
    }
}
