/* weft-view-data.c — reads a trace into arrays, and aggregates them to the
 * pixel (weft-view-data.h). */
#include <math.h>
#include <string.h>

#include "weft-trace.h"
#include "weft-view-data.h"

char *
weft_view_printable (const char *text,
                     const char *fallback)
{
  g_autofree char *valid = NULL;
  GString *out;

  if (text == NULL)
    return g_strdup (fallback);
  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_string_append_unichar (out, g_unichar_iscntrl (c) ? 0xFFFD : c);
    }
  return g_string_free (out, FALSE);
}

static WeftState
state_from_text (const char *text)
{
  if (text != NULL)
    for (guint i = 0; i < WEFT_N_STATES; i++)
      if (strcmp (text, weft_state_names[i]) == 0)
        return i;
  return WEFT_STATE_BLOCKED;
}

static gint64
meta_int (WeftTrace  *trace,
          const char *key,
          gint64      fallback)
{
  g_autofree char *value = weft_trace_get_meta (trace, key);

  return value != NULL ? g_ascii_strtoll (value, NULL, 10) : fallback;
}

/* Runs sql and calls row() for each row; FALSE with error on SQL failure. */
static gboolean
for_each_row (WeftTrace    *trace,
              const char   *sql,
              void        (*row) (sqlite3_stmt *stmt, gpointer user_data),
              gpointer      user_data,
              GError      **error)
{
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    row (stmt, user_data);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);
  sqlite3_reset (stmt);
  return TRUE;
}

typedef struct
{
  WeftViewData *data;
  GArray       *processes;   /* WeftViewProcess */
  GArray       *threads;     /* WeftViewThread */
  GHashTable   *thread_ix;   /* threads.id → index + 1 */
  GHashTable   *process_ix;  /* processes.id → index + 1 */
  GArray      **st_start;    /* per thread */
  GArray      **st_end;
  GArray      **st_state;
  GArray       *cpu_start[1024];
  GArray       *cpu_end[1024];
  GArray       *cpu_thread[1024];
  guint         max_cpu;
  GArray       *p_start;
  GArray       *p_end;
  GArray       *p_counts;
  GArray       *locks;
} Loader;

static void
process_row (sqlite3_stmt *stmt,
             gpointer      user_data)
{
  Loader *l = user_data;
  WeftViewProcess p = { 0 };

  p.id = sqlite3_column_int64 (stmt, 0);
  p.pid = sqlite3_column_int64 (stmt, 1);
  p.command = weft_view_printable ((const char *) sqlite3_column_text (stmt, 2), "?");
  g_array_append_val (l->processes, p);
  g_hash_table_insert (l->process_ix, GSIZE_TO_POINTER ((gsize) p.id),
                       GUINT_TO_POINTER (l->processes->len));
}

static void
thread_row (sqlite3_stmt *stmt,
            gpointer      user_data)
{
  Loader *l = user_data;
  WeftViewThread t = { 0 };
  guint pix = GPOINTER_TO_UINT (g_hash_table_lookup (l->process_ix,
                                                     GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 1))));
  WeftViewProcess *p;

  if (pix == 0)
    return;
  t.id = sqlite3_column_int64 (stmt, 0);
  t.process = pix - 1;
  t.tid = sqlite3_column_int64 (stmt, 2);
  t.name = weft_view_printable ((const char *) sqlite3_column_text (stmt, 3), "?");
  t.start_ns = sqlite3_column_type (stmt, 4) == SQLITE_NULL ? G_MAXINT64 : sqlite3_column_int64 (stmt, 4);
  t.end_ns = sqlite3_column_type (stmt, 5) == SQLITE_NULL ? G_MININT64 : sqlite3_column_int64 (stmt, 5);
  p = &g_array_index (l->processes, WeftViewProcess, t.process);
  if (p->n_threads == 0)
    p->first_thread = l->threads->len;
  p->n_threads++;
  g_array_append_val (l->threads, t);
  g_hash_table_insert (l->thread_ix, GSIZE_TO_POINTER ((gsize) t.id),
                       GUINT_TO_POINTER (l->threads->len));
}

static void
state_row (sqlite3_stmt *stmt,
           gpointer      user_data)
{
  Loader *l = user_data;
  guint ix = GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 0))));
  gint64 s = sqlite3_column_int64 (stmt, 1);
  gint64 e = sqlite3_column_int64 (stmt, 2);
  guint8 st = state_from_text ((const char *) sqlite3_column_text (stmt, 3));

  if (ix-- == 0 || e <= s)
    return;
  g_array_append_val (l->st_start[ix], s);
  g_array_append_val (l->st_end[ix], e);
  g_array_append_val (l->st_state[ix], st);
}

static void
slice_row (sqlite3_stmt *stmt,
           gpointer      user_data)
{
  Loader *l = user_data;
  gint64 cpu = sqlite3_column_int64 (stmt, 0);
  guint ix = GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 1))));
  gint64 s = sqlite3_column_int64 (stmt, 2);
  gint64 e = sqlite3_column_int64 (stmt, 3);

  if (ix-- == 0 || cpu < 0 || cpu >= (gint64) G_N_ELEMENTS (l->cpu_start) || e <= s)
    return;
  if (l->cpu_start[cpu] == NULL)
    {
      l->cpu_start[cpu] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->cpu_end[cpu] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->cpu_thread[cpu] = g_array_new (FALSE, FALSE, sizeof (guint));
    }
  /* Slices of one CPU do not overlap in a sound trace; clip if they do. */
  if (l->cpu_end[cpu]->len > 0)
    s = MAX (s, g_array_index (l->cpu_end[cpu], gint64, l->cpu_end[cpu]->len - 1));
  if (e <= s)
    return;
  g_array_append_val (l->cpu_start[cpu], s);
  g_array_append_val (l->cpu_end[cpu], e);
  g_array_append_val (l->cpu_thread[cpu], ix);
  l->max_cpu = MAX (l->max_cpu, (guint) cpu + 1);
}

static void
profile_row (sqlite3_stmt *stmt,
             gpointer      user_data)
{
  Loader *l = user_data;
  gint64 s = sqlite3_column_int64 (stmt, 0);
  gint64 e = sqlite3_column_int64 (stmt, 1);
  gint32 c = 0;

  g_array_append_val (l->p_start, s);
  g_array_append_val (l->p_end, e);
  for (guint i = 0; i < WEFT_N_STATES; i++)
    {
      gint32 n = sqlite3_column_int (stmt, 2 + i);

      g_array_append_val (l->p_counts, n);
      if (i != WEFT_STATE_SLEEP)
        c += n;
    }
  l->data->max_concurrency = MAX (l->data->max_concurrency, c);
}

static void
lock_row (sqlite3_stmt *stmt,
          gpointer      user_data)
{
  Loader *l = user_data;
  WeftViewLock k = { 0 };
  const char *name = (const char *) sqlite3_column_text (stmt, 0);
  const char *kind = (const char *) sqlite3_column_text (stmt, 1);

  k.kind = weft_view_printable (kind, "?");
  if (name != NULL)
    k.name = weft_view_printable (name, "?");
  else
    k.name = g_strdup_printf ("%s@0x%" G_GINT64_MODIFIER "x", k.kind,
                              (gint64) sqlite3_column_int64 (stmt, 2));
  k.waits = sqlite3_column_int64 (stmt, 3);
  k.contentions = sqlite3_column_int64 (stmt, 4);
  k.wait_total_ns = sqlite3_column_int64 (stmt, 5);
  k.wait_max_ns = sqlite3_column_int64 (stmt, 6);
  g_array_append_val (l->locks, k);
}

static void
finish_threads (Loader *l)
{
  WeftViewData *d = l->data;

  for (guint i = 0; i < d->n_threads; i++)
    {
      WeftViewThread *t = &d->threads[i];

      t->n_states = l->st_start[i]->len;
      if (t->n_states > 0)
        {
          t->start_ns = g_array_index (l->st_start[i], gint64, 0);
          t->end_ns = g_array_index (l->st_end[i], gint64, t->n_states - 1);
        }
      if (t->start_ns == G_MAXINT64)
        t->start_ns = d->start_ns;
      if (t->end_ns == G_MININT64)
        t->end_ns = d->end_ns;
      t->state_start_ns = g_array_steal (l->st_start[i], NULL);
      t->state_end_ns = g_array_steal (l->st_end[i], NULL);
      t->state = g_array_steal (l->st_state[i], NULL);
      g_array_unref (l->st_start[i]);
      g_array_unref (l->st_end[i]);
      g_array_unref (l->st_state[i]);
    }
}

static void
finish_cpus (Loader *l)
{
  WeftViewData *d = l->data;

  d->cpus = MAX (d->cpus, l->max_cpu);
  d->cpu = g_new0 (WeftViewCpu, MAX (d->cpus, 1));
  for (guint c = 0; c < d->cpus && c < G_N_ELEMENTS (l->cpu_start); c++)
    {
      if (l->cpu_start[c] == NULL)
        continue;
      d->cpu[c].n_slices = l->cpu_start[c]->len;
      d->cpu[c].start_ns = g_array_steal (l->cpu_start[c], NULL);
      d->cpu[c].end_ns = g_array_steal (l->cpu_end[c], NULL);
      d->cpu[c].thread = g_array_steal (l->cpu_thread[c], NULL);
      g_array_unref (l->cpu_start[c]);
      g_array_unref (l->cpu_end[c]);
      g_array_unref (l->cpu_thread[c]);
    }
}

static gboolean
load_rows (Loader    *l,
           WeftTrace *trace,
           GError   **error)
{
  WeftViewData *d = l->data;

  if (!for_each_row (trace, "SELECT id, pid, command FROM processes ORDER BY start_ns, id",
                     process_row, l, error)
      || !for_each_row (trace,
                        "SELECT t.id, t.process_id, t.tid, t.name, t.start_ns, t.end_ns"
                        " FROM threads t JOIN processes p ON p.id = t.process_id"
                        " ORDER BY p.start_ns, p.id, t.tid != p.pid, t.start_ns, t.tid",
                        thread_row, l, error))
    return FALSE;

  d->n_threads = l->threads->len;
  if (d->n_threads == 0)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s records no threads: the program did not start, or the "
                   "recording was cut short", d->path);
      return FALSE;
    }
  d->threads = (WeftViewThread *) l->threads->data;
  l->st_start = g_new0 (GArray *, d->n_threads);
  l->st_end = g_new0 (GArray *, d->n_threads);
  l->st_state = g_new0 (GArray *, d->n_threads);
  for (guint i = 0; i < d->n_threads; i++)
    {
      l->st_start[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->st_end[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->st_state[i] = g_array_new (FALSE, FALSE, sizeof (guint8));
    }

  return for_each_row (trace,
                       "SELECT thread_id, start_ns, end_ns, state FROM thread_states"
                       " ORDER BY thread_id, start_ns", state_row, l, error)
      && for_each_row (trace,
                       "SELECT cpu, thread_id, start_ns, end_ns FROM cpu_slices"
                       " ORDER BY cpu, start_ns", slice_row, l, error)
      && for_each_row (trace,
                       "SELECT start_ns, end_ns, running, runnable, lock, sync, io, sleep, blocked"
                       " FROM profile ORDER BY start_ns", profile_row, l, error)
      && for_each_row (trace,
                       "SELECT o.name, o.kind, o.address, s.waits, s.contentions,"
                       " s.wait_total_ns, s.wait_max_ns"
                       " FROM lock_stats s JOIN objects o ON o.id = s.object_id"
                       " WHERE s.waits > 0 ORDER BY s.wait_total_ns DESC LIMIT 20",
                       lock_row, l, error);
}

WeftViewData *
weft_view_data_load (const char  *path,
                     GError     **error)
{
  g_autoptr(WeftTrace) trace = weft_trace_open (path, error);
  g_autoptr(WeftViewData) d = NULL;
  g_autofree char *command = NULL;
  Loader l = { 0 };
  gboolean ok;

  if (trace == NULL)
    return NULL;

  d = g_new0 (WeftViewData, 1);
  g_atomic_ref_count_init (&d->ref);
  d->path = g_strdup (path);
  command = weft_trace_get_meta (trace, "command");
  d->command = weft_view_printable (command, "?");
  d->start_ns = meta_int (trace, "start_ns", 0);
  d->end_ns = meta_int (trace, "end_ns", d->start_ns);
  d->cpus = (guint) CLAMP (meta_int (trace, "cpus", 1), 1, 1024);

  l.data = d;
  l.processes = g_array_new (FALSE, TRUE, sizeof (WeftViewProcess));
  l.threads = g_array_new (FALSE, TRUE, sizeof (WeftViewThread));
  l.thread_ix = g_hash_table_new (NULL, NULL);
  l.process_ix = g_hash_table_new (NULL, NULL);
  l.p_start = g_array_new (FALSE, FALSE, sizeof (gint64));
  l.p_end = g_array_new (FALSE, FALSE, sizeof (gint64));
  l.p_counts = g_array_new (FALSE, FALSE, sizeof (gint32));
  l.locks = g_array_new (FALSE, TRUE, sizeof (WeftViewLock));

  ok = load_rows (&l, trace, error);

  d->n_processes = l.processes->len;
  d->processes = (WeftViewProcess *) g_array_free (l.processes, FALSE);
  d->n_threads = l.threads->len;
  d->threads = (WeftViewThread *) g_array_free (l.threads, FALSE);
  if (l.st_start != NULL && ok)
    finish_threads (&l);
  else if (l.st_start != NULL)
    for (guint i = 0; i < d->n_threads; i++)
      {
        g_array_unref (l.st_start[i]);
        g_array_unref (l.st_end[i]);
        g_array_unref (l.st_state[i]);
      }
  g_free (l.st_start);
  g_free (l.st_end);
  g_free (l.st_state);
  finish_cpus (&l);
  for (guint c = d->cpus; c < G_N_ELEMENTS (l.cpu_start); c++)
    if (l.cpu_start[c] != NULL)
      {
        g_array_unref (l.cpu_start[c]);
        g_array_unref (l.cpu_end[c]);
        g_array_unref (l.cpu_thread[c]);
      }
  d->n_profile = l.p_start->len;
  d->profile_start_ns = (gint64 *) g_array_free (l.p_start, FALSE);
  d->profile_end_ns = (gint64 *) g_array_free (l.p_end, FALSE);
  d->profile_counts = (gint32 *) g_array_free (l.p_counts, FALSE);
  d->n_locks = l.locks->len;
  d->locks = (WeftViewLock *) g_array_free (l.locks, FALSE);
  g_hash_table_unref (l.thread_ix);
  g_hash_table_unref (l.process_ix);

  if (!ok)
    return NULL;
  if (d->n_profile == 0)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s has no concurrency profile: the recording was not finalized "
                   "(weft record was killed?)", path);
      return NULL;
    }
  d->start_ns = MIN (d->start_ns, d->profile_start_ns[0]);
  d->end_ns = MAX (d->end_ns, d->profile_end_ns[d->n_profile - 1]);
  if (d->end_ns <= d->start_ns)
    d->end_ns = d->start_ns + 1;
  return g_steal_pointer (&d);
}

WeftViewData *
weft_view_data_ref (WeftViewData *data)
{
  g_atomic_ref_count_inc (&data->ref);
  return data;
}

void
weft_view_data_unref (WeftViewData *d)
{
  if (d == NULL || !g_atomic_ref_count_dec (&d->ref))
    return;
  for (guint i = 0; i < d->n_processes; i++)
    g_free (d->processes[i].command);
  for (guint i = 0; i < d->n_threads; i++)
    {
      g_free (d->threads[i].name);
      g_free (d->threads[i].state_start_ns);
      g_free (d->threads[i].state_end_ns);
      g_free (d->threads[i].state);
    }
  for (guint c = 0; d->cpu != NULL && c < d->cpus; c++)
    {
      g_free (d->cpu[c].start_ns);
      g_free (d->cpu[c].end_ns);
      g_free (d->cpu[c].thread);
    }
  for (guint i = 0; i < d->n_locks; i++)
    {
      g_free (d->locks[i].name);
      g_free (d->locks[i].kind);
    }
  g_free (d->locks);
  g_free (d->cpu);
  g_free (d->processes);
  g_free (d->threads);
  g_free (d->profile_start_ns);
  g_free (d->profile_end_ns);
  g_free (d->profile_counts);
  g_free (d->command);
  g_free (d->path);
  g_free (d);
}

/* Index of the first interval whose end is after t (ends are sorted). */
static guint
first_ending_after (const gint64 *end_ns,
                    guint         n,
                    gint64        t)
{
  guint lo = 0, hi = n;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (end_ns[mid] <= t)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

void
weft_view_data_span_means (WeftViewData *d,
                           gint64        start_ns,
                           gint64        end_ns,
                           double       *mean_p,
                           double       *mean_c)
{
  double p = 0, c = 0;

  if (end_ns <= start_ns)
    end_ns = start_ns + 1;
  for (guint i = first_ending_after (d->profile_end_ns, d->n_profile, start_ns);
       i < d->n_profile && d->profile_start_ns[i] < end_ns; i++)
    {
      double w = MIN (d->profile_end_ns[i], end_ns) - MAX (d->profile_start_ns[i], start_ns);
      const gint32 *n = &d->profile_counts[i * WEFT_N_STATES];

      p += w * n[WEFT_STATE_RUNNING];
      for (guint s = 0; s < WEFT_N_STATES; s++)
        if (s != WEFT_STATE_SLEEP)
          c += w * n[s];
    }
  *mean_p = p / (end_ns - start_ns);
  *mean_c = c / (end_ns - start_ns);
}

/* Adds weight × (the part of each column that [x0, x1) covers) to
 * acc[column * stride + k]. x are in column units. */
static void
spread (double *acc,
        guint   stride,
        guint   k,
        double  x0,
        double  x1,
        guint   columns,
        double  weight)
{
  guint c0, c1;

  x0 = MAX (x0, 0.0);
  x1 = MIN (x1, (double) columns);
  if (x1 <= x0)
    return;
  c0 = (guint) x0;
  c1 = MIN ((guint) ceil (x1), columns);
  for (guint c = c0; c < c1; c++)
    {
      double lo = MAX (x0, (double) c), hi = MIN (x1, (double) c + 1);

      if (hi > lo)
        acc[c * stride + k] += (hi - lo) * weight;
    }
}

static void
raster_chart (WeftViewRaster *r,
              WeftViewData   *d,
              double          cols_per_ns)
{
  g_autofree double *acc = g_new0 (double, r->columns * WEFT_N_STATES);

  for (guint i = first_ending_after (d->profile_end_ns, d->n_profile, r->start_ns);
       i < d->n_profile && d->profile_start_ns[i] < r->end_ns; i++)
    {
      double x0 = (d->profile_start_ns[i] - r->start_ns) * cols_per_ns;
      double x1 = (d->profile_end_ns[i] - r->start_ns) * cols_per_ns;

      for (guint s = 0; s < WEFT_N_STATES; s++)
        if (d->profile_counts[i * WEFT_N_STATES + s] != 0)
          spread (acc, WEFT_N_STATES, s, x0, x1, r->columns,
                  d->profile_counts[i * WEFT_N_STATES + s]);
    }
  for (guint i = 0; i < r->columns * WEFT_N_STATES; i++)
    r->chart[i] = (float) acc[i];
}

static void
raster_thread (WeftViewRaster       *r,
               const WeftViewThread *t,
               guint8               *out,
               double               *acc,
               double                cols_per_ns)
{
  memset (acc, 0, sizeof (double) * r->columns * WEFT_N_STATES);
  for (guint i = first_ending_after (t->state_end_ns, t->n_states, r->start_ns);
       i < t->n_states && t->state_start_ns[i] < r->end_ns; i++)
    spread (acc, WEFT_N_STATES, t->state[i],
            (t->state_start_ns[i] - r->start_ns) * cols_per_ns,
            (t->state_end_ns[i] - r->start_ns) * cols_per_ns, r->columns, 1.0);
  for (guint c = 0; c < r->columns; c++)
    {
      const double *a = &acc[c * WEFT_N_STATES];
      double total = 0, best = 0;
      guint8 state = WEFT_STATE_NONE;

      for (guint s = 0; s < WEFT_N_STATES; s++)
        {
          total += a[s];
          if (a[s] > best)
            {
              best = a[s];
              state = s;
            }
        }
      /* A column that the thread's life barely touches stays empty. */
      out[c] = total >= 0.5 ? state : WEFT_STATE_NONE;
    }
}

/* Per column: the thread with the most time on this CPU (consecutive slices
 * of one thread add up), or -1 when the CPU was busy less than half of it. */
static void
raster_cpu (WeftViewRaster    *r,
            const WeftViewCpu *cpu,
            gint32            *out,
            double             cols_per_ns)
{
  guint c = 0;
  double busy = 0, best = 0, run = 0;
  gint32 best_thread = -1, run_thread = -1;

  for (guint i = 0; i < r->columns; i++)
    out[i] = -1;
  for (guint i = first_ending_after (cpu->end_ns, cpu->n_slices, r->start_ns);
       i < cpu->n_slices && cpu->start_ns[i] < r->end_ns; i++)
    {
      double x0 = MAX ((cpu->start_ns[i] - r->start_ns) * cols_per_ns, 0.0);
      double x1 = MIN ((cpu->end_ns[i] - r->start_ns) * cols_per_ns, (double) r->columns);

      while (x0 < x1)
        {
          guint col = (guint) x0;
          double hi = MIN (x1, (double) col + 1);

          if (col != c)
            {
              if (c < r->columns && busy >= 0.5)
                out[c] = best_thread;
              c = col;
              busy = best = run = 0;
              best_thread = run_thread = -1;
            }
          if ((gint32) cpu->thread[i] != run_thread)
            {
              run_thread = cpu->thread[i];
              run = 0;
            }
          run += hi - x0;
          busy += hi - x0;
          if (run > best)
            {
              best = run;
              best_thread = run_thread;
            }
          x0 = hi;
          if (col >= r->columns - 1 && hi >= x1)
            break;
        }
    }
  if (c < r->columns && busy >= 0.5)
    out[c] = best_thread;
}

WeftViewRaster *
weft_view_raster_new (WeftViewData *d,
                      gint64        start_ns,
                      gint64        end_ns,
                      guint         columns)
{
  WeftViewRaster *r = g_new0 (WeftViewRaster, 1);
  g_autofree double *acc = NULL;
  double cols_per_ns;

  g_atomic_ref_count_init (&r->ref);
  columns = MAX (columns, 1);
  if (end_ns <= start_ns)
    end_ns = start_ns + 1;
  r->start_ns = start_ns;
  r->end_ns = end_ns;
  r->columns = columns;
  r->n_cpus = d->cpus;
  r->n_threads = d->n_threads;
  r->chart = g_new0 (float, (gsize) columns * WEFT_N_STATES);
  r->cpu_thread = g_new (gint32, (gsize) columns * d->cpus);
  r->thread_state = g_new (guint8, (gsize) columns * d->n_threads);
  cols_per_ns = (double) columns / (double) (end_ns - start_ns);

  raster_chart (r, d, cols_per_ns);
  for (guint c = 0; c < d->cpus; c++)
    raster_cpu (r, &d->cpu[c], &r->cpu_thread[(gsize) c * columns], cols_per_ns);
  acc = g_new (double, (gsize) columns * WEFT_N_STATES);
  for (guint t = 0; t < d->n_threads; t++)
    raster_thread (r, &d->threads[t], &r->thread_state[(gsize) t * columns], acc, cols_per_ns);
  return r;
}

WeftViewRaster *
weft_view_raster_ref (WeftViewRaster *r)
{
  g_atomic_ref_count_inc (&r->ref);
  return r;
}

void
weft_view_raster_unref (WeftViewRaster *r)
{
  if (r == NULL || !g_atomic_ref_count_dec (&r->ref))
    return;
  g_free (r->chart);
  g_free (r->cpu_thread);
  g_free (r->thread_state);
  g_free (r);
}
