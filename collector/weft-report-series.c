/* weft-report-series.c — the profile and the threads' states over time, cut
 * into a fixed number of equal columns (weft-report.h), for the HTML chart
 * and strips and for exports too large to draw row by row.
 *
 * One pass over the rows in time order: each row's time is added to the
 * columns it overlaps, so the work is rows + columns and the memory is the
 * columns, whatever the size of the trace.
 */
#include <string.h>

#include "weft-report.h"

typedef struct
{
  gint64 start_ns;
  gint64 span_ns;
  guint  n_columns;
} Columns;

static void
columns_init (Columns *columns,
              gint64   start_ns,
              gint64   end_ns,
              guint    n_columns)
{
  columns->start_ns = start_ns;
  columns->span_ns = MAX (end_ns - start_ns, 0);
  columns->n_columns = (guint) MIN ((gint64) n_columns, columns->span_ns);
}

/* Columns are [start(i), start(i + 1)); spans up to ~100 days keep
 * span_ns × n_columns below 2^63 for 1000 columns. */
static gint64
column_start (const Columns *columns,
              guint          column)
{
  if (columns->n_columns == 0)
    return columns->start_ns;
  return columns->start_ns + (gint64) ((__int128) columns->span_ns * column / columns->n_columns);
}

/* The column whose [start, next start) holds t_ns. The division can land
 * one off from column_start()'s rounding: step to the exact one, or a walk
 * would see an empty overlap and never move. */
static guint
column_of (const Columns *columns,
           gint64         t_ns)
{
  __int128 estimate = (__int128) (t_ns - columns->start_ns) * columns->n_columns / columns->span_ns;
  guint column = (guint) CLAMP (estimate, 0, (__int128) columns->n_columns - 1);

  while (column + 1 < columns->n_columns && column_start (columns, column + 1) <= t_ns)
    column++;
  while (column > 0 && column_start (columns, column) > t_ns)
    column--;
  return column;
}

/* Walks the columns that [a, b) overlaps: walk_init, then walk_next gives
 * each column and the time of [a, b) in it, until it returns FALSE. */
typedef struct
{
  gint64 at_ns;
  gint64 end_ns;
} Walk;

static void
walk_init (const Columns *columns,
           Walk          *walk,
           gint64         a_ns,
           gint64         b_ns)
{
  walk->at_ns = MAX (a_ns, columns->start_ns);
  walk->end_ns = MIN (b_ns, columns->start_ns + columns->span_ns);
}

static gboolean
walk_next (const Columns *columns,
           Walk          *walk,
           guint         *column,
           gint64        *overlap_ns)
{
  if (walk->at_ns >= walk->end_ns)
    return FALSE;
  *column = column_of (columns, walk->at_ns);
  *overlap_ns = MIN (walk->end_ns, column_start (columns, *column + 1)) - walk->at_ns;
  walk->at_ns += *overlap_ns;
  return TRUE;
}

static void
bind_range (sqlite3_stmt *stmt,
            gint64        start_ns,
            gint64        end_ns)
{
  sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_index (stmt, ":s"), start_ns);
  sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_index (stmt, ":e"), end_ns);
}

void
weft_report_series_free (WeftReportSeries *series)
{
  if (series == NULL)
    return;
  g_free (series->means);
  g_free (series);
}

gint64
weft_report_series_column_start (const WeftReportSeries *series,
                                 guint                   column)
{
  Columns columns;

  columns_init (&columns, series->start_ns, series->end_ns, series->n_columns);
  return column_start (&columns, column);
}

WeftReportSeries *
weft_report_series_load (WeftTrace  *trace,
                         gint64      start_ns,
                         gint64      end_ns,
                         guint       n_columns,
                         GError    **error)
{
  static const char sql[] =
    "SELECT start_ns, end_ns, running, runnable, lock, sync, io, sleep, blocked FROM profile"
    " WHERE start_ns < :e AND end_ns > :s ORDER BY start_ns";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  WeftReportSeries *series;
  Columns columns;
  int rc;

  if (stmt == NULL)
    return NULL;
  columns_init (&columns, start_ns, end_ns, n_columns);
  series = g_new0 (WeftReportSeries, 1);
  series->start_ns = start_ns;
  series->end_ns = end_ns;
  series->n_columns = columns.n_columns;
  series->means = g_new0 (double, (gsize) columns.n_columns * WEFT_N_STATES + 1);
  bind_range (stmt, start_ns, end_ns);
  while (columns.n_columns > 0 && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 counts[WEFT_N_STATES];
      Walk walk;
      guint column;
      gint64 ns;

      for (int s = 0; s < WEFT_N_STATES; s++)
        counts[s] = sqlite3_column_int64 (stmt, 2 + s);
      walk_init (&columns, &walk, sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1));
      while (walk_next (&columns, &walk, &column, &ns))
        for (int s = 0; s < WEFT_N_STATES; s++)
          series->means[column * WEFT_N_STATES + s] += (double) counts[s] * ns;
    }
  if (columns.n_columns == 0)
    rc = SQLITE_DONE;
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      weft_report_series_free (series);
      weft_trace_sql_error (trace, sql, error);
      return NULL;
    }
  for (guint c = 0; c < columns.n_columns; c++)
    {
      gint64 width_ns = column_start (&columns, c + 1) - column_start (&columns, c);

      for (int s = 0; s < WEFT_N_STATES; s++)
        series->means[c * WEFT_N_STATES + s] /= (double) width_ns;
    }
  return series;
}

static WeftState
state_from_name (const char *name)
{
  WeftState state;

  for (state = 0; state < WEFT_N_STATES && g_strcmp0 (name, weft_state_name (state)) != 0; state++)
    ;
  return state;
}

/* The dominant state of each column of one thread, from its time per state. */
static guint8 *
strip_from_time (const gint64 *time_ns,
                 guint         n_columns)
{
  guint8 *strip = g_new (guint8, MAX (n_columns, 1));

  for (guint c = 0; c < n_columns; c++)
    {
      const gint64 *column = time_ns + (gsize) c * WEFT_N_STATES;
      guint8 best = WEFT_N_STATES;

      for (guint8 s = 0; s < WEFT_N_STATES; s++)
        if (column[s] > 0 && (best == WEFT_N_STATES || column[s] > column[best]))
          best = s;
      strip[c] = best;
    }
  return strip;
}

GHashTable *
weft_report_strips_load (WeftTrace  *trace,
                         gint64      start_ns,
                         gint64      end_ns,
                         guint       n_columns,
                         GError    **error)
{
  static const char sql[] =
    "SELECT thread_id, start_ns, end_ns, state FROM thread_states"
    " WHERE start_ns < :e AND end_ns > :s ORDER BY thread_id, start_ns";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  g_autoptr(GHashTable) strips = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autofree gint64 *time_ns = NULL;
  gint64 thread_id = -1;
  gboolean any = FALSE;
  Columns columns;
  int rc;

  if (stmt == NULL)
    return NULL;
  columns_init (&columns, start_ns, end_ns, n_columns);
  if (columns.n_columns == 0)
    return g_steal_pointer (&strips);
  time_ns = g_new0 (gint64, (gsize) columns.n_columns * WEFT_N_STATES);
  bind_range (stmt, start_ns, end_ns);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      WeftState state = state_from_name ((const char *) sqlite3_column_text (stmt, 3));
      Walk walk;
      guint column;
      gint64 ns;

      if (id != thread_id && any)
        {
          g_hash_table_insert (strips, g_memdup2 (&thread_id, sizeof thread_id),
                               strip_from_time (time_ns, columns.n_columns));
          memset (time_ns, 0, sizeof (gint64) * columns.n_columns * WEFT_N_STATES);
        }
      thread_id = id;
      any = TRUE;
      if (state == WEFT_N_STATES)
        continue;
      walk_init (&columns, &walk, sqlite3_column_int64 (stmt, 1), sqlite3_column_int64 (stmt, 2));
      while (walk_next (&columns, &walk, &column, &ns))
        time_ns[column * WEFT_N_STATES + state] += ns;
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      weft_trace_sql_error (trace, sql, error);
      return NULL;
    }
  if (any)
    g_hash_table_insert (strips, g_memdup2 (&thread_id, sizeof thread_id),
                         strip_from_time (time_ns, columns.n_columns));
  return g_steal_pointer (&strips);
}
