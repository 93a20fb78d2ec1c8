/* weft-view-data.c — reads a trace into arrays, and aggregates them to the
 * pixel (weft-view-data.h). */
#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "weft-trace.h"
#include "weft-view-data.h"

const char * const weft_view_wait_kinds[WEFT_VIEW_N_WAIT_KINDS] = {
  "mutex", "rdlock", "wrlock", "spin", "cond", "barrier", "sem", "join",
  "poll", "select", "epoll", "sleep", "gil", "child", "other",
};

static guint8
wait_kind_from_text (const char *text)
{
  for (guint i = 0; text != NULL && i < WEFT_VIEW_N_WAIT_KINDS - 1; i++)
    if (strcmp (text, weft_view_wait_kinds[i]) == 0)
      return i;
  return WEFT_VIEW_N_WAIT_KINDS - 1;
}

void
weft_view_format_duration (char   *buf,
                           gsize   size,
                           gint64  ns)
{
  if (ns >= 10000000000)
    g_snprintf (buf, size, "%.1f s", ns / 1e9);
  else if (ns >= 1000000000)
    g_snprintf (buf, size, "%.2f s", ns / 1e9);
  else if (ns >= 1000000)
    g_snprintf (buf, size, "%.1f ms", ns / 1e6);
  else if (ns >= 1000)
    g_snprintf (buf, size, "%.1f µs", ns / 1e3);
  else
    g_snprintf (buf, size, "%" G_GINT64_FORMAT " ns", ns);
}

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

/* An integer of the meta table, or fallback. */
static gint64
meta_int (WeftTrace  *trace,
          const char *key,
          gint64      fallback)
{
  gint64 value;

  return weft_trace_get_meta_int (trace, key, &value) ? value : fallback;
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
  GHashTable   *lock_ix;     /* objects.id → index + 1 */
  GArray      **w_start;     /* per thread */
  GArray      **w_end;
  GArray      **w_id;
  GArray      **w_object;
  GArray      **w_holder;
  GArray      **w_kind;
  /* Progress (weft_view_data_load_with_progress()) */
  WeftViewProgress progress;
  gpointer      progress_data;
  const char   *phase;       /* what the rows being read are */
  double        phase_base;  /* fraction done before this phase */
  double        phase_share; /* its share of the whole */
  double        phase_pos;   /* how far into it, [0, 1], set by the row callbacks */
  double        reported;    /* the last fraction reported */
  guint        *id_rank;     /* per thread index: its rank by threads.id */
  gboolean      cancelled;
} Loader;

/* Tells l->progress how far the load is, now at fraction pos of the current
 * phase; sets l->cancelled when it says stop. */
static void
report (Loader *l,
        double  pos)
{
  double f;

  if (l->progress == NULL || l->cancelled)
    return;
  f = l->phase_base + l->phase_share * CLAMP (pos, 0.0, 1.0);
  if (f < l->reported + 0.002 && pos > 0)
    return;
  l->reported = MAX (l->reported, f);
  if (!l->progress (l->reported, l->phase, l->progress_data))
    l->cancelled = TRUE;
}

/* Starts the next phase of the load: what, with share of the whole. */
static void
begin_phase (Loader     *l,
             const char *what,
             double      share)
{
  l->phase_base += l->phase_share;
  l->phase_share = share;
  l->phase = what;
  l->phase_pos = 0;
  report (l, 0);
}

/* Runs sql and calls row() for each row; FALSE with error on SQL failure,
 * or when the progress callback asked to stop. */
static gboolean
for_each_row (WeftTrace    *trace,
              const char   *sql,
              void        (*row) (sqlite3_stmt *stmt, Loader *l),
              Loader       *l,
              GError      **error)
{
  sqlite3_stmt *stmt;
  guint n = 0;
  int rc;

  if (l->cancelled)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "loading %s was cancelled",
                   l->data->path);
      return FALSE;
    }
  if ((stmt = weft_trace_prepare (trace, sql, error)) == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      row (stmt, l);
      if ((++n & 8191) == 0)
        report (l, l->phase_pos);
      if (l->cancelled)
        {
          sqlite3_reset (stmt);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "loading %s was cancelled",
                       l->data->path);
          return FALSE;
        }
    }
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);
  sqlite3_reset (stmt);
  return TRUE;
}

static void
process_row (sqlite3_stmt *stmt,
             Loader       *l)
{
  WeftViewProcess p = { 0 };

  p.id = sqlite3_column_int64 (stmt, 0);
  p.pid = sqlite3_column_int64 (stmt, 1);
  p.command = weft_view_printable ((const char *) sqlite3_column_text (stmt, 2), "?");
  p.parent_pid = sqlite3_column_int64 (stmt, 3);
  p.exit_status = sqlite3_column_type (stmt, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 4);
  p.exit_signal = sqlite3_column_int64 (stmt, 5);
  p.cpu_ns = sqlite3_column_type (stmt, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 6);
  g_array_append_val (l->processes, p);
  g_hash_table_insert (l->process_ix, GSIZE_TO_POINTER ((gsize) p.id),
                       GUINT_TO_POINTER (l->processes->len));
}

static void
thread_row (sqlite3_stmt *stmt,
            Loader       *l)
{
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

/* Where t is in the trace, [0, 1]. */
static inline double
time_frac (Loader *l,
           gint64  t)
{
  WeftViewData *d = l->data;

  return d->end_ns > d->start_ns ? (double) (t - d->start_ns) / (double) (d->end_ns - d->start_ns) : 0;
}

/* How far rows ordered by (thread_id, start_ns) are, at thread ix, time t. */
static inline double
thread_frac (Loader *l,
             guint   ix,
             gint64  t)
{
  return (l->id_rank[ix] + CLAMP (time_frac (l, t), 0.0, 1.0)) / MAX (l->data->n_threads, 1);
}

static void
state_row (sqlite3_stmt *stmt,
           Loader       *l)
{
  guint ix = GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 0))));
  gint64 s = sqlite3_column_int64 (stmt, 1);
  gint64 e = sqlite3_column_int64 (stmt, 2);
  guint8 st = state_from_text ((const char *) sqlite3_column_text (stmt, 3));

  if (ix-- == 0 || e <= s)
    return;
  l->phase_pos = thread_frac (l, ix, s);
  g_array_append_val (l->st_start[ix], s);
  g_array_append_val (l->st_end[ix], e);
  g_array_append_val (l->st_state[ix], st);
}

static void
slice_row (sqlite3_stmt *stmt,
           Loader       *l)
{
  gint64 cpu = sqlite3_column_int64 (stmt, 0);
  guint ix = GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 1))));
  gint64 s = sqlite3_column_int64 (stmt, 2);
  gint64 e = sqlite3_column_int64 (stmt, 3);

  if (ix-- == 0 || cpu < 0 || cpu >= (gint64) G_N_ELEMENTS (l->cpu_start) || e <= s)
    return;
  l->phase_pos = (MIN ((guint) cpu, l->data->cpus - 1) + CLAMP (time_frac (l, s), 0.0, 1.0))
                 / MAX (l->data->cpus, 1);
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
             Loader       *l)
{
  gint64 s = sqlite3_column_int64 (stmt, 0);
  gint64 e = sqlite3_column_int64 (stmt, 1);
  gint32 c = 0;

  l->phase_pos = time_frac (l, s);
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
          Loader       *l)
{
  WeftViewLock k = { 0 };
  const char *name = (const char *) sqlite3_column_text (stmt, 0);
  const char *kind = (const char *) sqlite3_column_text (stmt, 1);

  k.kind = weft_view_printable (kind, "?");
  if (name != NULL)
    k.name = weft_view_printable (name, "?");
  else
    k.name = g_strdup_printf ("%s@0x%" G_GINT64_MODIFIER "x", k.kind,
                              (gint64) sqlite3_column_int64 (stmt, 2));
  k.named = name != NULL;
  k.address = sqlite3_column_int64 (stmt, 2);
  k.waits = sqlite3_column_int64 (stmt, 3);
  k.contentions = sqlite3_column_int64 (stmt, 4);
  k.wait_total_ns = sqlite3_column_int64 (stmt, 5);
  k.wait_max_ns = sqlite3_column_int64 (stmt, 6);
  k.id = sqlite3_column_int64 (stmt, 7);
  k.acquisitions = sqlite3_column_int64 (stmt, 8);
  k.wait_p50_ns = sqlite3_column_int64 (stmt, 9);
  k.wait_p90_ns = sqlite3_column_int64 (stmt, 10);
  k.hold_total_ns = sqlite3_column_int64 (stmt, 11);
  k.hold_max_ns = sqlite3_column_int64 (stmt, 12);
  k.hold_samples = sqlite3_column_int64 (stmt, 13);
  k.threads = sqlite3_column_int64 (stmt, 14);
  k.holders = sqlite3_column_int64 (stmt, 15);
  k.pid = sqlite3_column_int64 (stmt, 16);
  g_array_append_val (l->locks, k);
  g_hash_table_insert (l->lock_ix, GSIZE_TO_POINTER ((gsize) k.id),
                       GUINT_TO_POINTER (l->locks->len));
}

static void
summary_row (sqlite3_stmt *stmt,
             Loader       *l)
{
  guint ix = GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 0))));
  WeftViewThread *t;

  if (ix-- == 0)
    return;
  t = &l->data->threads[ix];
  for (guint s = 0; s < WEFT_N_STATES; s++)
    t->state_ns[s] = sqlite3_column_int64 (stmt, 1 + s);
  t->n_wait_rows = sqlite3_column_int64 (stmt, 1 + WEFT_N_STATES);
  g_array_index (l->processes, WeftViewProcess, t->process).running_ns += t->state_ns[WEFT_STATE_RUNNING];
}

static void
wait_row (sqlite3_stmt *stmt,
          Loader       *l)
{
  guint ix = GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 0))));
  gint64 s = sqlite3_column_int64 (stmt, 1);
  gint64 e = sqlite3_column_int64 (stmt, 2);
  gint64 id = sqlite3_column_int64 (stmt, 3);
  gint32 object = -1, holder = -1;
  guint8 kind = wait_kind_from_text ((const char *) sqlite3_column_text (stmt, 6));

  if (ix-- == 0)
    return;
  l->phase_pos = thread_frac (l, ix, s);
  if (sqlite3_column_type (stmt, 4) != SQLITE_NULL)
    object = (gint32) GPOINTER_TO_UINT (g_hash_table_lookup (l->lock_ix,
                                        GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 4)))) - 1;
  if (sqlite3_column_type (stmt, 5) != SQLITE_NULL)
    holder = (gint32) GPOINTER_TO_UINT (g_hash_table_lookup (l->thread_ix,
                                        GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 5)))) - 1;
  g_array_append_val (l->w_start[ix], s);
  g_array_append_val (l->w_end[ix], e);
  g_array_append_val (l->w_id[ix], id);
  g_array_append_val (l->w_object[ix], object);
  g_array_append_val (l->w_holder[ix], holder);
  g_array_append_val (l->w_kind[ix], kind);
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
      t->n_waits = l->w_start[i]->len;
      d->n_waits += t->n_waits;
      t->wait_start_ns = (gint64 *) g_array_free (l->w_start[i], FALSE);
      t->wait_end_ns = (gint64 *) g_array_free (l->w_end[i], FALSE);
      t->wait_id = (gint64 *) g_array_free (l->w_id[i], FALSE);
      t->wait_object = (gint32 *) g_array_free (l->w_object[i], FALSE);
      t->wait_holder = (gint32 *) g_array_free (l->w_holder[i], FALSE);
      t->wait_kind = (guint8 *) g_array_free (l->w_kind[i], FALSE);
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

#define LOD_BUCKETS    65536
#define LOD_MIN_STATES 1000000  /* below this, rasters read the intervals */
#define LOD_MAX_BYTES  (256 * 1024 * 1024)

/* Traces with at least this many thread_states and profile rows get levels
 * of detail (WEFT_VIEW_LOD_MIN_STATES changes it, for tests). */
static guint64
lod_min_states (void)
{
  const char *min = g_getenv ("WEFT_VIEW_LOD_MIN_STATES");

  return min != NULL ? g_ascii_strtoull (min, NULL, 10) : LOD_MIN_STATES;
}

static int
compare_by_id (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const WeftViewThread *threads = user_data;
  gint64 x = threads[*(const guint *) a].id, y = threads[*(const guint *) b].id;

  return x < y ? -1 : x > y;
}

/* l->id_rank: the thread_states and waits rows come in threads.id order. */
static void
rank_threads (Loader *l)
{
  WeftViewData *d = l->data;
  g_autofree guint *order = g_new (guint, d->n_threads);

  for (guint i = 0; i < d->n_threads; i++)
    order[i] = i;
  g_qsort_with_data (order, d->n_threads, sizeof (guint), compare_by_id, d->threads);
  l->id_rank = g_new (guint, d->n_threads);
  for (guint i = 0; i < d->n_threads; i++)
    l->id_rank[order[i]] = i;
}

static gint64 query_int (WeftTrace *trace, const char *sql);

/* Shares of the whole load: [0] thread states, [1] CPU slices, [2] the
 * profile, [3] waits and the small tables, [4] the level of detail. From
 * the tables' sizes, estimated without counting (the largest rowid of
 * cpu_slices and waits; thread_states and profile have about as many rows
 * as both together), each row weighted by what reading it costs. */
static void
estimate_phases (Loader    *l,
                 WeftTrace *trace,
                 double     shares[5])
{
  double slices = (double) query_int (trace, "SELECT max(rowid) FROM cpu_slices");
  double waits = (double) query_int (trace, "SELECT max(id) FROM waits");
  double states = slices + waits + l->data->n_threads;
  double total;

  /* µs per row, as measured on bench-view's trace of 10 million events */
  shares[0] = states * 0.3;
  shares[1] = slices * 0.63;
  shares[2] = states * 0.65;
  shares[3] = waits * 0.95 + 1000;
  shares[4] = states * 2 >= lod_min_states () ? states * 0.045 : 0;
  total = shares[0] + shares[1] + shares[2] + shares[3] + shares[4];
  for (guint i = 0; i < 5; i++)
    shares[i] /= total;
}

static gboolean
load_rows (Loader    *l,
           WeftTrace *trace,
           double     shares[5],
           GError   **error)
{
  WeftViewData *d = l->data;

  if (!for_each_row (trace,
                     "SELECT p.id, p.pid, p.command, q.pid, p.exit_status, p.exit_signal, p.cpu_ns"
                     " FROM processes p LEFT JOIN processes q ON q.id = p.parent_id"
                     " ORDER BY p.start_ns, p.id",
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
  l->w_start = g_new0 (GArray *, d->n_threads);
  l->w_end = g_new0 (GArray *, d->n_threads);
  l->w_id = g_new0 (GArray *, d->n_threads);
  l->w_object = g_new0 (GArray *, d->n_threads);
  l->w_holder = g_new0 (GArray *, d->n_threads);
  l->w_kind = g_new0 (GArray *, d->n_threads);
  for (guint i = 0; i < d->n_threads; i++)
    {
      l->st_start[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->st_end[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->st_state[i] = g_array_new (FALSE, FALSE, sizeof (guint8));
      l->w_start[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->w_end[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->w_id[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      l->w_object[i] = g_array_new (FALSE, FALSE, sizeof (gint32));
      l->w_holder[i] = g_array_new (FALSE, FALSE, sizeof (gint32));
      l->w_kind[i] = g_array_new (FALSE, FALSE, sizeof (guint8));
    }

  rank_threads (l);
  estimate_phases (l, trace, shares);

  begin_phase (l, "thread states", shares[0]);
  if (!for_each_row (trace,
                     "SELECT thread_id, start_ns, end_ns, state FROM thread_states"
                     " ORDER BY thread_id, start_ns", state_row, l, error))
    return FALSE;
  begin_phase (l, "CPU slices", shares[1]);
  if (!for_each_row (trace,
                     "SELECT cpu, thread_id, start_ns, end_ns FROM cpu_slices"
                     " ORDER BY cpu, start_ns", slice_row, l, error))
    return FALSE;
  begin_phase (l, "concurrency profile", shares[2]);
  if (!for_each_row (trace,
                     "SELECT start_ns, end_ns, running, runnable, lock, sync, io, sleep, blocked"
                     " FROM profile ORDER BY start_ns", profile_row, l, error))
    return FALSE;
  begin_phase (l, "waits", shares[3]);
  return for_each_row (trace,
                       "SELECT o.name, o.kind, o.address, s.waits, s.contentions,"
                       " s.wait_total_ns, s.wait_max_ns, o.id, s.acquisitions, s.wait_p50_ns,"
                       " s.wait_p90_ns, s.hold_total_ns, s.hold_max_ns, s.hold_samples,"
                       " s.threads, s.holders, p.pid"
                       " FROM lock_stats s JOIN objects o ON o.id = s.object_id"
                       " LEFT JOIN processes p ON p.id = o.process_id"
                       " WHERE s.waits > 0 OR s.contentions > 0"
                       " ORDER BY s.wait_total_ns DESC, s.contentions DESC, o.id",
                       lock_row, l, error)
      && for_each_row (trace,
                       "SELECT thread_id, running_ns, runnable_ns, lock_ns, sync_ns, io_ns,"
                       " sleep_ns, blocked_ns, waits FROM thread_summary",
                       summary_row, l, error)
      && for_each_row (trace,
                       "SELECT thread_id, start_ns, end_ns, id, object_id, holder_thread_id, kind"
                       " FROM waits ORDER BY thread_id, start_ns, id",
                       wait_row, l, error);
}


static void spread (double *acc, guint stride, guint k, double x0, double x1, guint columns,
                    double weight);

/* The CPUs' level of detail: per bucket, the share of it that the CPU was
 * busy, and its longest run of one thread (consecutive slices of a thread
 * add up, as raster_cpu() counts them per column). */
static void
build_lod_cpu (WeftViewData *d,
               guint         cpu)
{
  const WeftViewCpu *c = &d->cpu[cpu];
  float *busy = &d->lod_cpu_busy[(gsize) cpu * d->lod_buckets];
  float *best = &d->lod_cpu_run[(gsize) cpu * d->lod_buckets];
  gint32 *best_thread = &d->lod_cpu_thread[(gsize) cpu * d->lod_buckets];
  double per_ns = 1.0 / d->lod_bucket_ns, run = 0;
  gint32 run_thread = -1;
  guint bucket = G_MAXUINT;

  for (guint b = 0; b < d->lod_buckets; b++)
    {
      busy[b] = best[b] = 0;
      best_thread[b] = -1;
    }
  for (guint i = 0; i < c->n_slices; i++)
    {
      double x0 = MAX ((c->start_ns[i] - d->start_ns) * per_ns, 0.0);
      double x1 = MIN ((c->end_ns[i] - d->start_ns) * per_ns, (double) d->lod_buckets);

      while (x0 < x1)
        {
          guint b = MIN ((guint) x0, d->lod_buckets - 1);
          double hi = MIN (x1, (double) b + 1);

          if (b != bucket)
            {
              bucket = b;
              run = 0;
              run_thread = -1;
            }
          if ((gint32) c->thread[i] != run_thread)
            {
              run_thread = (gint32) c->thread[i];
              run = 0;
            }
          run += hi - x0;
          busy[b] += (float) (hi - x0);
          if (run > best[b])
            {
              best[b] = (float) run;
              best_thread[b] = run_thread;
            }
          if (hi <= x0)
            break;
          x0 = hi;
        }
    }
}

/* Builds the levels of detail of a large trace (see WeftViewData), telling
 * l's progress. */
static void
build_lod (WeftViewData *d,
           Loader       *l)
{
  gsize n_states = 0, per_bucket;
  double per_ns;
  g_autofree double *acc = NULL;
  guint buckets;

  for (guint i = 0; i < d->n_threads; i++)
    n_states += d->threads[i].n_states;
  if (n_states + d->n_profile < lod_min_states ())
    return;
  /* Many threads or CPUs: fewer, wider buckets (they serve the views in
   * which a column covers at least 4 of them). */
  per_bucket = ((gsize) d->n_threads * WEFT_N_STATES + WEFT_N_STATES) * sizeof (float)
               + (gsize) d->cpus * (2 * sizeof (float) + sizeof (gint32));
  buckets = (guint) MIN ((gsize) LOD_BUCKETS, LOD_MAX_BYTES / per_bucket);
  if (buckets < 1024)
    return;
  d->lod_buckets = buckets;
  d->lod_bucket_ns = (double) (d->end_ns - d->start_ns) / buckets;
  per_ns = 1.0 / d->lod_bucket_ns;
  d->lod_thread = g_new (float, (gsize) d->n_threads * buckets * WEFT_N_STATES);
  d->lod_chart = g_new (float, (gsize) buckets * WEFT_N_STATES);
  d->lod_cpu_busy = g_new (float, (gsize) d->cpus * buckets);
  d->lod_cpu_run = g_new (float, (gsize) d->cpus * buckets);
  d->lod_cpu_thread = g_new (gint32, (gsize) d->cpus * buckets);
  acc = g_new (double, (gsize) buckets * WEFT_N_STATES);
  for (guint i = 0; i < d->n_threads; i++)
    {
      const WeftViewThread *t = &d->threads[i];
      float *out = &d->lod_thread[(gsize) i * buckets * WEFT_N_STATES];

      report (l, (double) i / (d->n_threads + d->cpus + 1));
      memset (acc, 0, sizeof (double) * buckets * WEFT_N_STATES);
      for (guint k = 0; k < t->n_states; k++)
        spread (acc, WEFT_N_STATES, t->state[k], (t->state_start_ns[k] - d->start_ns) * per_ns,
                (t->state_end_ns[k] - d->start_ns) * per_ns, buckets, 1.0);
      for (gsize j = 0; j < (gsize) buckets * WEFT_N_STATES; j++)
        out[j] = (float) acc[j];
    }
  for (guint c = 0; c < d->cpus; c++)
    {
      report (l, (double) (d->n_threads + c) / (d->n_threads + d->cpus + 1));
      build_lod_cpu (d, c);
    }
  report (l, (double) (d->n_threads + d->cpus) / (d->n_threads + d->cpus + 1));
  memset (acc, 0, sizeof (double) * buckets * WEFT_N_STATES);
  for (guint k = 0; k < d->n_profile; k++)
    for (guint s = 0; s < WEFT_N_STATES; s++)
      if (d->profile_counts[k * WEFT_N_STATES + s] != 0)
        spread (acc, WEFT_N_STATES, s, (d->profile_start_ns[k] - d->start_ns) * per_ns,
                (d->profile_end_ns[k] - d->start_ns) * per_ns, buckets,
                d->profile_counts[k * WEFT_N_STATES + s]);
  for (gsize j = 0; j < (gsize) buckets * WEFT_N_STATES; j++)
    d->lod_chart[j] = (float) acc[j];
}

/* d->lock_wait_*: each lock's waits, by thread, in time order. */
static void
index_lock_waits (WeftViewData *d)
{
  g_autofree guint *next = g_new0 (guint, d->n_locks + 1);

  d->lock_wait_first = g_new0 (guint, d->n_locks + 1);
  for (guint t = 0; t < d->n_threads; t++)
    for (guint w = 0; w < d->threads[t].n_waits; w++)
      if (d->threads[t].wait_object[w] >= 0)
        d->lock_wait_first[d->threads[t].wait_object[w] + 1]++;
  for (guint k = 0; k < d->n_locks; k++)
    d->lock_wait_first[k + 1] += d->lock_wait_first[k];
  memcpy (next, d->lock_wait_first, sizeof (guint) * (d->n_locks + 1));
  d->lock_wait_thread = g_new (guint32, MAX (d->lock_wait_first[d->n_locks], 1));
  d->lock_wait_index = g_new (guint32, MAX (d->lock_wait_first[d->n_locks], 1));
  for (guint t = 0; t < d->n_threads; t++)
    for (guint w = 0; w < d->threads[t].n_waits; w++)
      {
        gint32 k = d->threads[t].wait_object[w];

        if (k < 0)
          continue;
        d->lock_wait_thread[next[k]] = t;
        d->lock_wait_index[next[k]] = w;
        next[k]++;
      }
}

/* Spreads the LOD buckets of src (stride WEFT_N_STATES) that overlap the
 * raster's span over its columns. */
static void
spread_lod (WeftViewRaster *r,
            WeftViewData   *d,
            const float    *src,
            double         *acc,
            double          cols_per_ns)
{
  gint64 b0 = (gint64) floor ((r->start_ns - d->start_ns) / d->lod_bucket_ns);
  gint64 b1 = (gint64) ceil ((r->end_ns - d->start_ns) / d->lod_bucket_ns);

  b0 = CLAMP (b0, 0, (gint64) d->lod_buckets);
  b1 = CLAMP (b1, b0, (gint64) d->lod_buckets);
  for (gint64 b = b0; b < b1; b++)
    {
      double x0 = (d->start_ns + b * d->lod_bucket_ns - r->start_ns) * cols_per_ns;
      double x1 = (d->start_ns + (b + 1) * d->lod_bucket_ns - r->start_ns) * cols_per_ns;
      const float *v = &src[b * WEFT_N_STATES];

      /* Most buckets lie in one column (a column covers 4 or more). */
      if (x0 >= 0 && x1 <= r->columns && floor (x0) == ceil (x1) - 1)
        {
          double *a = &acc[(gsize) x0 * WEFT_N_STATES];
          double w = x1 - x0;

          for (guint s = 0; s < WEFT_N_STATES; s++)
            a[s] += v[s] * w;
          continue;
        }
      for (guint s = 0; s < WEFT_N_STATES; s++)
        if (v[s] != 0)
          spread (acc, WEFT_N_STATES, s, x0, x1, r->columns, v[s]);
    }
}

/* TRUE when each column of r covers at least 4 LOD buckets. */
static gboolean
use_lod (WeftViewRaster *r,
         WeftViewData   *d)
{
  return d->lod_buckets > 0
         && (double) (r->end_ns - r->start_ns) / r->columns >= 4 * d->lod_bucket_ns;
}

WeftViewData *
weft_view_data_load (const char  *path,
                     GError     **error)
{
  return weft_view_data_load_with_progress (path, NULL, NULL, error);
}

/* A new WeftViewData with the trace's header (command, span, CPUs), and
 * the loader's tables of processes and threads made empty: what a full
 * load and a preview both start from. */
static WeftViewData *
data_begin (WeftTrace  *trace,
            const char *path,
            Loader     *l)
{
  WeftViewData *d = g_new0 (WeftViewData, 1);
  g_autofree char *command = weft_trace_get_meta (trace, "command");

  g_atomic_ref_count_init (&d->ref);
  d->path = g_strdup (path);
  d->command = weft_view_printable (command, "?");
  d->start_ns = meta_int (trace, "start_ns", 0);
  d->end_ns = meta_int (trace, "end_ns", d->start_ns);
  d->cpus = (guint) CLAMP (meta_int (trace, "cpus", 1), 1, 1024);
  l->data = d;
  l->processes = g_array_new (FALSE, TRUE, sizeof (WeftViewProcess));
  l->threads = g_array_new (FALSE, TRUE, sizeof (WeftViewThread));
  l->thread_ix = g_hash_table_new (NULL, NULL);
  l->process_ix = g_hash_table_new (NULL, NULL);
  return d;
}

WeftViewData *
weft_view_data_load_with_progress (const char        *path,
                                   WeftViewProgress   progress,
                                   gpointer           user_data,
                                   GError           **error)
{
  g_autoptr(WeftTrace) trace = weft_trace_open (path, error);
  g_autoptr(WeftViewData) d = NULL;
  Loader l = { .progress = progress, .progress_data = user_data };
  double shares[5] = { 0 };
  gboolean ok;

  if (trace == NULL)
    return NULL;

  d = data_begin (trace, path, &l);
  l.p_start = g_array_new (FALSE, FALSE, sizeof (gint64));
  l.p_end = g_array_new (FALSE, FALSE, sizeof (gint64));
  l.p_counts = g_array_new (FALSE, FALSE, sizeof (gint32));
  l.locks = g_array_new (FALSE, TRUE, sizeof (WeftViewLock));
  l.lock_ix = g_hash_table_new (NULL, NULL);

  ok = load_rows (&l, trace, shares, error);
  g_free (l.id_rank);

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
        g_array_unref (l.w_start[i]);
        g_array_unref (l.w_end[i]);
        g_array_unref (l.w_id[i]);
        g_array_unref (l.w_object[i]);
        g_array_unref (l.w_holder[i]);
        g_array_unref (l.w_kind[i]);
      }
  g_free (l.w_start);
  g_free (l.w_end);
  g_free (l.w_id);
  g_free (l.w_object);
  g_free (l.w_holder);
  g_free (l.w_kind);
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
  g_hash_table_unref (l.lock_ix);

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
  index_lock_waits (d);
  begin_phase (&l, "levels of detail", shares[4]);
  build_lod (d, &l);
  report (&l, 1);
  if (l.cancelled)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "loading %s was cancelled", path);
      return NULL;
    }
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
      g_free (d->threads[i].wait_start_ns);
      g_free (d->threads[i].wait_end_ns);
      g_free (d->threads[i].wait_id);
      g_free (d->threads[i].wait_object);
      g_free (d->threads[i].wait_holder);
      g_free (d->threads[i].wait_kind);
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
  g_clear_pointer (&d->preview, weft_view_raster_unref);
  g_free (d->lod_thread);
  g_free (d->lod_chart);
  g_free (d->lod_cpu_busy);
  g_free (d->lod_cpu_run);
  g_free (d->lod_cpu_thread);
  g_free (d->lock_wait_first);
  g_free (d->lock_wait_thread);
  g_free (d->lock_wait_index);
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

/* Adds the integrals of P and C over [a, b) from the profile rows, from
 * row first on (the first that ends after a). */
static void
profile_integral (WeftViewData *d,
                  guint         first,
                  double        a,
                  double        b,
                  double       *p,
                  double       *c)
{
  for (guint i = first; i < d->n_profile && d->profile_start_ns[i] < b; i++)
    {
      double w = MIN ((double) d->profile_end_ns[i], b) - MAX ((double) d->profile_start_ns[i], a);
      const gint32 *n = &d->profile_counts[i * WEFT_N_STATES];

      if (w <= 0)
        continue;
      *p += w * n[WEFT_STATE_RUNNING];
      for (guint s = 0; s < WEFT_N_STATES; s++)
        if (s != WEFT_STATE_SLEEP)
          *c += w * n[s];
    }
}

/* Adds the integrals over the whole buckets [b0, b1) of the level of
 * detail's chart (each bucket holds its means). */
static void
lod_integral (WeftViewData *d,
              guint         b0,
              guint         b1,
              double       *p,
              double       *c)
{
  for (guint b = b0; b < b1; b++)
    {
      const float *v = &d->lod_chart[(gsize) b * WEFT_N_STATES];

      *p += d->lod_bucket_ns * v[WEFT_STATE_RUNNING];
      for (guint s = 0; s < WEFT_N_STATES; s++)
        if (s != WEFT_STATE_SLEEP)
          *c += d->lod_bucket_ns * v[s];
    }
}

/* The integrals of P and C over [start_ns, end_ns), exact and in bounded
 * time: with levels of detail, the whole buckets inside the span come from
 * them, the two partial ones at its ends from the profile rows they hold. */
static void
span_integral (WeftViewData *d,
               gint64        start_ns,
               gint64        end_ns,
               double       *p,
               double       *c)
{
  guint first = first_ending_after (d->profile_end_ns, d->n_profile, start_ns);

  if (d->lod_buckets > 0)
    {
      double x0 = (start_ns - d->start_ns) / d->lod_bucket_ns;
      double x1 = (end_ns - d->start_ns) / d->lod_bucket_ns;
      guint b0 = (guint) CLAMP (ceil (x0), 0, d->lod_buckets);
      guint b1 = (guint) CLAMP (floor (x1), 0, d->lod_buckets);

      if (b0 < b1)
        {
          double a = d->start_ns + b0 * d->lod_bucket_ns;
          double b = d->start_ns + b1 * d->lod_bucket_ns;

          profile_integral (d, first, start_ns, a, p, c);
          lod_integral (d, b0, b1, p, c);
          profile_integral (d, first_ending_after (d->profile_end_ns, d->n_profile, (gint64) b),
                            b, end_ns, p, c);
          return;
        }
    }
  profile_integral (d, first, start_ns, end_ns, p, c);
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
  span_integral (d, start_ns, end_ns, &p, &c);
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

  if (use_lod (r, d))
    spread_lod (r, d, d->lod_chart, acc, cols_per_ns);
  else
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
               WeftViewData         *d,
               const WeftViewThread *t,
               guint8               *out,
               double               *acc,
               double                cols_per_ns)
{
  memset (acc, 0, sizeof (double) * r->columns * WEFT_N_STATES);
  if (use_lod (r, d))
    spread_lod (r, d, &d->lod_thread[(gsize) (t - d->threads) * d->lod_buckets * WEFT_N_STATES],
                acc, cols_per_ns);
  else
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

/* raster_cpu() from the CPU's level of detail: each bucket counts as a
 * slice of its longest run's thread, as long as that run, and its busy
 * time spread evenly over it. */
static void
raster_cpu_lod (WeftViewRaster *r,
                WeftViewData   *d,
                guint           cpu,
                gint32         *out,
                double          cols_per_ns)
{
  const float *busy_b = &d->lod_cpu_busy[(gsize) cpu * d->lod_buckets];
  const float *run_b = &d->lod_cpu_run[(gsize) cpu * d->lod_buckets];
  const gint32 *thread_b = &d->lod_cpu_thread[(gsize) cpu * d->lod_buckets];
  gint64 b0 = (gint64) floor ((r->start_ns - d->start_ns) / d->lod_bucket_ns);
  gint64 b1 = (gint64) ceil ((r->end_ns - d->start_ns) / d->lod_bucket_ns);
  double bucket_cols = d->lod_bucket_ns * cols_per_ns;
  double busy = 0, best = 0, run = 0;
  gint32 best_thread = -1, run_thread = -1;
  guint c = 0;

  for (guint i = 0; i < r->columns; i++)
    out[i] = -1;
  b0 = CLAMP (b0, 0, (gint64) d->lod_buckets);
  b1 = CLAMP (b1, b0, (gint64) d->lod_buckets);
  for (gint64 b = b0; b < b1; b++)
    {
      double x0 = (d->start_ns + b * d->lod_bucket_ns - r->start_ns) * cols_per_ns;
      double x1 = MIN (x0 + bucket_cols, (double) r->columns);

      x0 = MAX (x0, 0.0);
      while (x0 < x1)
        {
          guint col = MIN ((guint) x0, r->columns - 1);
          double hi = MIN (x1, (double) col + 1), share = (hi - x0) / bucket_cols;

          if (col != c)
            {
              if (busy >= 0.5)
                out[c] = best_thread;
              c = col;
              busy = best = run = 0;
              best_thread = run_thread = -1;
            }
          busy += busy_b[b] * bucket_cols * share;
          if (thread_b[b] >= 0)
            {
              if (thread_b[b] != run_thread)
                {
                  run_thread = thread_b[b];
                  run = 0;
                }
              run += run_b[b] * bucket_cols * share;
              if (run > best)
                {
                  best = run;
                  best_thread = run_thread;
                }
            }
          if (hi <= x0)
            break;
          x0 = hi;
        }
    }
  if (c < r->columns && busy >= 0.5)
    out[c] = best_thread;
}

/* First k in [lo, hi) whose wait ends after t (ends grow with k: one
 * thread's waits on one lock do not overlap). */
static guint
first_lock_wait_after (WeftViewData *d,
                       guint         lo,
                       guint         hi,
                       gint64        t)
{
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const WeftViewThread *th = &d->threads[d->lock_wait_thread[mid]];

      if (th->wait_end_ns[d->lock_wait_index[mid]] <= t)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Marks the columns where a wait on r->lock covers part of the column.
 * Reads only that lock's waits (index_lock_waits()), and once a wait has
 * marked a column, jumps to the first wait that ends after it: at most a
 * binary search per marked run of columns, however many waits there are. */
static void
raster_lock (WeftViewRaster *r,
             WeftViewData   *d,
             double          cols_per_ns)
{
  guint end = d->lock_wait_first[r->lock + 1];

  memset (r->thread_lock, 0, (gsize) r->columns * r->n_threads);
  for (guint k = d->lock_wait_first[r->lock]; k < end;)
    {
      guint t = d->lock_wait_thread[k], t_end = k;
      const WeftViewThread *th = &d->threads[t];
      guint8 *out = &r->thread_lock[(gsize) t * r->columns];

      while (t_end < end && d->lock_wait_thread[t_end] == t)
        t_end++;
      for (guint i = first_lock_wait_after (d, k, t_end, r->start_ns); i < t_end;)
        {
          guint w = d->lock_wait_index[i];
          double x0, x1;
          guint c, last;

          if (th->wait_start_ns[w] >= r->end_ns)
            break;
          x0 = MAX ((th->wait_start_ns[w] - r->start_ns) * cols_per_ns, 0.0);
          x1 = MIN ((th->wait_end_ns[w] - r->start_ns) * cols_per_ns, (double) r->columns);
          for (c = (guint) x0, last = c; c < r->columns && c < x1; c++)
            out[last = c] = 1;
          /* The next wait that can mark another column ends after this
           * one's last column. */
          i = MAX (i + 1, first_lock_wait_after (d, i + 1, t_end,
                                                 r->start_ns + (gint64) ((last + 1) / cols_per_ns)));
        }
      k = t_end;
    }
}

WeftViewRaster *
weft_view_raster_new (WeftViewData *d,
                      gint64        start_ns,
                      gint64        end_ns,
                      guint         columns)
{
  return weft_view_raster_new_full (d, start_ns, end_ns, columns, -1);
}

WeftViewRaster *
weft_view_raster_new_full (WeftViewData *d,
                           gint64        start_ns,
                           gint64        end_ns,
                           guint         columns,
                           gint          lock)
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
    if (use_lod (r, d))
      raster_cpu_lod (r, d, c, &r->cpu_thread[(gsize) c * columns], cols_per_ns);
    else
      raster_cpu (r, &d->cpu[c], &r->cpu_thread[(gsize) c * columns], cols_per_ns);
  acc = g_new (double, (gsize) columns * WEFT_N_STATES);
  for (guint t = 0; t < d->n_threads; t++)
    raster_thread (r, d, &d->threads[t], &r->thread_state[(gsize) t * columns], acc, cols_per_ns);
  r->lock = lock >= 0 && (guint) lock < d->n_locks ? lock : -1;
  if (r->lock >= 0)
    {
      r->thread_lock = g_new (guint8, (gsize) columns * d->n_threads);
      raster_lock (r, d, cols_per_ns);
    }
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
  g_free (r->thread_lock);
  g_free (r);
}

gint
weft_view_data_wait_at (WeftViewData *d,
                        guint         thread,
                        gint64        t)
{
  const WeftViewThread *th;
  guint i;

  if (thread >= d->n_threads)
    return -1;
  th = &d->threads[thread];
  /* Waits of a thread are sorted by start; ends too, as long as they do not
   * overlap (they may in a damaged trace: look back a little). */
  i = first_ending_after (th->wait_end_ns, th->n_waits, t);
  for (guint k = i; k < th->n_waits && k < i + 4; k++)
    if (th->wait_start_ns[k] <= t && t < th->wait_end_ns[k])
      return (gint) k;
  return -1;
}

gint
weft_view_data_lock_index (WeftViewData *d,
                           gint64        object_id)
{
  for (guint i = 0; i < d->n_locks; i++)
    if (d->locks[i].id == object_id)
      return (gint) i;
  return -1;
}

/* Appends the frames of stack_id as "function  file:line  module" lines. */
static gboolean
append_stack (WeftTrace  *trace,
              GString    *out,
              gint64      stack_id,
              guint       max_frames,
              GError    **error)
{
  static const char sql[] =
    "SELECT f.function, f.file, f.line, coalesce (f.module, CASE f.kind WHEN 'python' THEN 'Python' END),"
    " f.address FROM stack_frames sf"
    " JOIN frames f ON f.id = sf.frame_id WHERE sf.stack_id = ?1 ORDER BY sf.depth LIMIT ?2";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, stack_id);
  sqlite3_bind_int (stmt, 2, (int) max_frames);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autofree char *function = weft_view_printable ((const char *) sqlite3_column_text (stmt, 0), NULL);
      g_autofree char *file = weft_view_printable ((const char *) sqlite3_column_text (stmt, 1), NULL);
      g_autofree char *module = weft_view_printable ((const char *) sqlite3_column_text (stmt, 3), "?");
      g_autofree char *where = NULL;
      g_autofree char *line = NULL;
      const char *base = strrchr (module, '/');

      if (function == NULL)
        function = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", (gint64) sqlite3_column_int64 (stmt, 4));
      if (file != NULL)
        where = g_strdup_printf ("%s:%d", file, sqlite3_column_int (stmt, 2));
      line = g_markup_printf_escaped ("    <tt>%s</tt>  %s  <span foreground=\"#666\">%s</span>\n",
                                      function, where != NULL ? where : "",
                                      base != NULL ? base + 1 : module);
      g_string_append (out, line);
    }
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);
  sqlite3_reset (stmt);
  return TRUE;
}

static const char *
thread_name_of (WeftViewData *d,
                gint64        thread_id,
                gint64       *tid)
{
  for (guint i = 0; i < d->n_threads; i++)
    if (d->threads[i].id == thread_id)
      {
        *tid = d->threads[i].tid;
        return d->threads[i].name;
      }
  *tid = 0;
  return "?";
}

char *
weft_view_data_describe_lock (WeftViewData *d,
                              guint         lock,
                              GError      **error)
{
  static const char holders_sql[] =
    "SELECT holder_thread_id, sum(waits), sum(wait_total_ns) FROM blocking WHERE object_id = ?1"
    " GROUP BY holder_thread_id ORDER BY 3 DESC, 1 LIMIT 5";
  static const char stacks_sql[] =
    "SELECT stack_id, waits, wait_total_ns FROM lock_stacks WHERE object_id = ?1"
    " ORDER BY wait_total_ns DESC, stack_id LIMIT 3";
  g_autoptr(WeftTrace) trace = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  const WeftViewLock *k;
  char total[32], max[32], p50[32], p90[32], hold[32], hold_max[32];
  g_autofree char *head = NULL;
  sqlite3_stmt *stmt;
  g_autoptr(GArray) stacks = g_array_new (FALSE, FALSE, sizeof (gint64) * 3);
  int rc;

  g_return_val_if_fail (lock < d->n_locks, NULL);
  k = &d->locks[lock];
  trace = weft_trace_open (d->path, error);
  if (trace == NULL)
    return NULL;
  weft_view_format_duration (total, sizeof total, k->wait_total_ns);
  weft_view_format_duration (max, sizeof max, k->wait_max_ns);
  weft_view_format_duration (p50, sizeof p50, k->wait_p50_ns);
  weft_view_format_duration (p90, sizeof p90, k->wait_p90_ns);
  weft_view_format_duration (hold, sizeof hold, k->hold_total_ns);
  weft_view_format_duration (hold_max, sizeof hold_max, k->hold_max_ns);
  head = g_markup_printf_escaped ("<b>%s</b> (%s at 0x%" G_GINT64_MODIFIER "x, process %" G_GINT64_FORMAT ")\n"
                                  "%" G_GINT64_FORMAT " waits, %" G_GINT64_FORMAT " contentions of %"
                                  G_GINT64_FORMAT " acquisitions; waited %s in total, longest %s,"
                                  " median %s, p90 %s; held %s in total (%" G_GINT64_FORMAT
                                  " timed holds), longest %s; used by %" G_GINT64_FORMAT " threads\n",
                                  k->name, k->kind, k->address, k->pid, k->waits, k->contentions,
                                  k->acquisitions, total, max, p50, p90, hold, k->hold_samples,
                                  hold_max, k->threads);
  g_string_append (out, head);

  stmt = weft_trace_prepare (trace, holders_sql, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, k->id);
  g_string_append (out, "<b>Held by</b> (while others waited):\n");
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 tid;
      const char *name = thread_name_of (d, sqlite3_column_int64 (stmt, 0), &tid);
      g_autofree char *line = NULL;

      weft_view_format_duration (total, sizeof total, sqlite3_column_int64 (stmt, 2));
      line = g_markup_printf_escaped ("    %s %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT " waits, %s\n",
                                      name, tid, (gint64) sqlite3_column_int64 (stmt, 1), total);
      g_string_append (out, line);
    }
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, holders_sql, error), NULL;
  sqlite3_reset (stmt);

  stmt = weft_trace_prepare (trace, stacks_sql, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, k->id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 row[3] = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                        sqlite3_column_int64 (stmt, 2) };

      g_array_append_vals (stacks, row, 1);
    }
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, stacks_sql, error), NULL;
  sqlite3_reset (stmt);
  if (stacks->len == 0)
    g_string_append (out, "<b>Stacks</b>: none recorded\n");
  for (guint i = 0; i < stacks->len; i++)
    {
      const gint64 *row = &g_array_index (stacks, gint64, 3 * i);

      weft_view_format_duration (total, sizeof total, row[2]);
      g_string_append_printf (out, "<b>Stack %u</b>: %" G_GINT64_FORMAT " waits, %s\n", i + 1, row[1], total);
      if (!append_stack (trace, out, row[0], 8, error))
        return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
weft_view_data_describe_wait (WeftViewData *d,
                              guint         thread,
                              guint         wait,
                              GError      **error)
{
  static const char sql[] =
    "SELECT kind, result, error, holder_thread_id, stack_id, arg FROM waits WHERE id = ?1";
  g_autoptr(WeftTrace) trace = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  const WeftViewThread *t;
  sqlite3_stmt *stmt;
  char dur[32], at[32];
  g_autofree char *kind = NULL, *result = NULL, *head = NULL, *holder = NULL;
  gint64 stack_id = 0, err = 0;
  gint object;
  int rc;

  g_return_val_if_fail (thread < d->n_threads && wait < d->threads[thread].n_waits, NULL);
  t = &d->threads[thread];
  trace = weft_trace_open (d->path, error);
  if (trace == NULL)
    return NULL;
  stmt = weft_trace_prepare (trace, sql, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, t->wait_id[wait]);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      kind = weft_view_printable ((const char *) sqlite3_column_text (stmt, 0), "?");
      result = weft_view_printable ((const char *) sqlite3_column_text (stmt, 1), "?");
      err = sqlite3_column_int64 (stmt, 2);
      stack_id = sqlite3_column_int64 (stmt, 4);
    }
  else if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error), NULL;
  sqlite3_reset (stmt);
  if (kind == NULL)
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT, "wait %" G_GINT64_FORMAT
                   " is not in %s", t->wait_id[wait], d->path);
      return NULL;
    }
  weft_view_format_duration (dur, sizeof dur, t->wait_end_ns[wait] - t->wait_start_ns[wait]);
  weft_view_format_duration (at, sizeof at, t->wait_start_ns[wait] - d->start_ns);
  object = t->wait_object[wait];
  if (t->wait_holder[wait] >= 0)
    holder = g_markup_printf_escaped ("%s %" G_GINT64_FORMAT, d->threads[t->wait_holder[wait]].name,
                                      d->threads[t->wait_holder[wait]].tid);
  head = g_markup_printf_escaped ("<b>Wait</b> of %s %" G_GINT64_FORMAT ": <b>%s</b> on %s%s%s, %s at %s;"
                                  " result %s%s\n",
                                  t->name, t->tid, kind,
                                  object >= 0 ? d->locks[object].name : "no object",
                                  object >= 0 ? " " : "", object >= 0 ? d->locks[object].kind : "",
                                  dur, at, result, err != 0 && g_strcmp0 (result, "error") == 0 ? " (error)" : "");
  g_string_append (out, head);
  g_string_append_printf (out, "<b>Holder</b>: %s\n", holder != NULL ? holder : "unknown");
  if (stack_id > 0)
    {
      g_string_append (out, "<b>Stack</b>:\n");
      if (!append_stack (trace, out, stack_id, 16, error))
        return NULL;
    }
  else
    g_string_append (out, "<b>Stack</b>: none recorded\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gint64
query_int (WeftTrace  *trace,
           const char *sql)
{
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, NULL);
  gint64 v = 0;

  if (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    v = sqlite3_column_int64 (stmt, 0);
  if (stmt != NULL)
    sqlite3_reset (stmt);
  return v;
}

/* One value of a point-sample query: binds a, b and steps; FALSE at no row. */
static gboolean
sample (sqlite3_stmt *stmt,
        gint64        a,
        gint64        b)
{
  gboolean row;

  sqlite3_reset (stmt);
  sqlite3_bind_int64 (stmt, 1, a);
  sqlite3_bind_int64 (stmt, 2, b);
  row = sqlite3_step (stmt) == SQLITE_ROW;
  return row;
}

WeftViewData *
weft_view_data_load_preview (const char  *path,
                             guint        columns,
                             GError     **error)
{
  static const char profile_sql[] =
    "SELECT end_ns, running, runnable, lock, sync, io, sleep, blocked FROM profile"
    " WHERE start_ns <= ?1 AND ?2 IS NOT NULL ORDER BY start_ns DESC LIMIT 1";
  static const char state_sql[] =
    "SELECT end_ns, state FROM thread_states WHERE thread_id = ?1 AND start_ns <= ?2"
    " ORDER BY start_ns DESC LIMIT 1";
  static const char cpu_sql[] =
    "SELECT end_ns, thread_id FROM cpu_slices WHERE cpu = ?1 AND start_ns <= ?2"
    " ORDER BY cpu DESC, start_ns DESC LIMIT 1";
  g_autoptr(WeftTrace) trace = weft_trace_open (path, error);
  g_autoptr(WeftViewData) d = NULL;
  WeftViewRaster *r;
  sqlite3_stmt *stmt;
  Loader l = { 0 };
  gboolean ok;
  gint64 first, last;

  if (trace == NULL)
    return NULL;
  d = data_begin (trace, path, &l);
  ok = for_each_row (trace,
                     "SELECT p.id, p.pid, p.command, q.pid, p.exit_status, p.exit_signal, p.cpu_ns"
                     " FROM processes p LEFT JOIN processes q ON q.id = p.parent_id"
                     " ORDER BY p.start_ns, p.id", process_row, &l, error)
       && for_each_row (trace,
                        "SELECT t.id, t.process_id, t.tid, t.name, t.start_ns, t.end_ns"
                        " FROM threads t JOIN processes p ON p.id = t.process_id"
                        " ORDER BY p.start_ns, p.id, t.tid != p.pid, t.start_ns, t.tid",
                        thread_row, &l, error);
  d->n_processes = l.processes->len;
  d->processes = (WeftViewProcess *) g_array_free (l.processes, FALSE);
  d->n_threads = l.threads->len;
  d->threads = (WeftViewThread *) g_array_free (l.threads, FALSE);
  g_hash_table_unref (l.process_ix);
  d->cpu = g_new0 (WeftViewCpu, d->cpus);
  if (!ok)
    {
      g_hash_table_unref (l.thread_ix);
      return NULL;
    }
  first = query_int (trace, "SELECT min(start_ns) FROM profile");
  /* (end_ns has no index: take the last row by start_ns.) */
  last = query_int (trace, "SELECT end_ns FROM profile ORDER BY start_ns DESC LIMIT 1");
  if (d->n_threads == 0 || last <= first)
    {
      g_hash_table_unref (l.thread_ix);
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_CORRUPT,
                   "%s has no threads or no concurrency profile", path);
      return NULL;
    }
  d->start_ns = MIN (d->start_ns, first);
  d->end_ns = MAX (d->end_ns, last);
  for (guint i = 0; i < d->n_threads; i++)
    {
      if (d->threads[i].start_ns == G_MAXINT64)
        d->threads[i].start_ns = d->start_ns;
      if (d->threads[i].end_ns == G_MININT64)
        d->threads[i].end_ns = d->end_ns;
    }

  columns = MAX (columns, 1);
  r = g_new0 (WeftViewRaster, 1);
  g_atomic_ref_count_init (&r->ref);
  r->start_ns = d->start_ns;
  r->end_ns = d->end_ns;
  r->columns = columns;
  r->n_cpus = d->cpus;
  r->n_threads = d->n_threads;
  r->lock = -1;
  r->chart = g_new0 (float, (gsize) columns * WEFT_N_STATES);
  r->cpu_thread = g_new (gint32, (gsize) columns * d->cpus);
  r->thread_state = g_new (guint8, (gsize) columns * d->n_threads);
  d->preview = r;

#define COLUMN_T(c) (r->start_ns + (gint64) (((double) (c) + 0.5) * (double) (r->end_ns - r->start_ns) / columns))
  if ((stmt = weft_trace_prepare (trace, profile_sql, error)) == NULL)
    goto fail;
  for (guint c = 0; c < columns; c++)
    if (sample (stmt, COLUMN_T (c), 0) && sqlite3_column_int64 (stmt, 0) > COLUMN_T (c))
      {
        gint32 conc = 0;

        for (guint s = 0; s < WEFT_N_STATES; s++)
          {
            r->chart[c * WEFT_N_STATES + s] = (float) sqlite3_column_int (stmt, 1 + s);
            if (s != WEFT_STATE_SLEEP)
              conc += sqlite3_column_int (stmt, 1 + s);
          }
        d->max_concurrency = MAX (d->max_concurrency, conc);
      }
  sqlite3_reset (stmt);
  if ((stmt = weft_trace_prepare (trace, state_sql, error)) == NULL)
    goto fail;
  for (guint t = 0; t < d->n_threads; t++)
    for (guint c = 0; c < columns; c++)
      {
        guint8 *out = &r->thread_state[(gsize) t * columns + c];

        *out = WEFT_STATE_NONE;
        if (sample (stmt, d->threads[t].id, COLUMN_T (c)) && sqlite3_column_int64 (stmt, 0) > COLUMN_T (c))
          *out = state_from_text ((const char *) sqlite3_column_text (stmt, 1));
      }
  sqlite3_reset (stmt);
  if ((stmt = weft_trace_prepare (trace, cpu_sql, error)) == NULL)
    goto fail;
  for (guint cpu = 0; cpu < d->cpus; cpu++)
    for (guint c = 0; c < columns; c++)
      {
        gint32 *out = &r->cpu_thread[(gsize) cpu * columns + c];

        *out = -1;
        if (sample (stmt, cpu, COLUMN_T (c)) && sqlite3_column_int64 (stmt, 0) > COLUMN_T (c))
          *out = (gint32) GPOINTER_TO_UINT (g_hash_table_lookup (l.thread_ix,
                    GSIZE_TO_POINTER ((gsize) sqlite3_column_int64 (stmt, 1)))) - 1;
      }
  sqlite3_reset (stmt);
#undef COLUMN_T
  g_hash_table_unref (l.thread_ix);
  return g_steal_pointer (&d);

fail:
  g_hash_table_unref (l.thread_ix);
  return NULL;
}
