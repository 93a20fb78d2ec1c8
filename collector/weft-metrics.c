/* weft-metrics.c — the figures shared by the analysis and the report
 * (weft-metrics.h).
 */
#include <string.h>

#include "weft-metrics.h"

/* Reading a trace */

gboolean
weft_metrics_query_done (WeftTrace     *trace,
                         sqlite3_stmt  *stmt,
                         int            rc,
                         GError       **error)
{
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sqlite3_sql (stmt), error);
  return TRUE;
}

/* Sums of waits by up to three ids */

guint
weft_metrics_key_hash (gconstpointer data)
{
  const WeftMetricsKey *key = data;
  guint64 h = (guint64) key->a * 0x9e3779b97f4a7c15u;

  h = (h ^ (guint64) key->b) * 0xbf58476d1ce4e5b9u;
  h = (h ^ (guint64) key->c) * 0x94d049bb133111ebu;
  return (guint) (h ^ (h >> 32));
}

gboolean
weft_metrics_key_equal (gconstpointer a,
                        gconstpointer b)
{
  return memcmp (a, b, sizeof (WeftMetricsKey)) == 0;
}

GHashTable *
weft_metrics_keys_new (void)
{
  return g_hash_table_new_full (weft_metrics_key_hash, weft_metrics_key_equal, g_free, NULL);
}

gboolean
weft_metrics_keys_add (GHashTable *keys,
                       gint64      a,
                       gint64      b,
                       gint64      c)
{
  WeftMetricsKey key = { a, b, c };

  if (g_hash_table_contains (keys, &key))
    return FALSE;
  g_hash_table_add (keys, g_memdup2 (&key, sizeof key));
  return TRUE;
}

GHashTable *
weft_metrics_sums_new (void)
{
  return g_hash_table_new_full (weft_metrics_key_hash, weft_metrics_key_equal, g_free, g_free);
}

void
weft_metrics_sums_add (GHashTable *sums,
                       gint64      a,
                       gint64      b,
                       gint64      c,
                       gint64      wait_ns)
{
  WeftMetricsKey key = { a, b, c };
  WeftMetricsSum *sum = g_hash_table_lookup (sums, &key);

  if (sum == NULL)
    {
      sum = g_new0 (WeftMetricsSum, 1);
      g_hash_table_insert (sums, g_memdup2 (&key, sizeof key), sum);
    }
  sum->count++;
  sum->total_ns = weft_metrics_sat_add (sum->total_ns, wait_ns);
  sum->max_ns = MAX (sum->max_ns, wait_ns);
}

/* Percentiles */

/* 8 bits a pass; passes where every key has the same digit (the high bytes
 * of durations, or of times relative to the trace start) are skipped. */
void
weft_metrics_sort_u64 (guint64 *keys,
                       gsize    n)
{
  g_autofree guint64 *scratch = n > 1 ? g_new (guint64, n) : NULL;
  guint64 *src = keys, *dst = scratch;

  if (n < 2)
    return;
  for (guint shift = 0; shift < 64; shift += 8)
    {
      gsize counts[256] = { 0 };
      gsize offset = 0;
      gboolean one_digit = FALSE;

      for (gsize i = 0; i < n; i++)
        counts[(src[i] >> shift) & 0xff]++;
      for (guint d = 0; d < 256; d++)
        {
          gsize count = counts[d];

          one_digit |= count == n;
          counts[d] = offset;
          offset += count;
        }
      if (one_digit)
        continue;
      for (gsize i = 0; i < n; i++)
        dst[counts[(src[i] >> shift) & 0xff]++] = src[i];
      guint64 *swap = src;
      src = dst;
      dst = swap;
    }
  if (src != keys)
    memcpy (keys, src, n * sizeof *keys);
}

gint64
weft_metrics_percentile (const gint64 *sorted,
                         gsize         n,
                         guint         percent)
{
  guint64 rank = ((guint64) percent * n + 99) / 100;

  if (n == 0)
    return 0;
  return sorted[CLAMP (rank, 1, n) - 1];
}

WeftMetricsWaits
weft_metrics_waits (gint64 *wait_ns,
                    gsize   n)
{
  WeftMetricsWaits figures = { .waits = n };

  weft_metrics_sort_u64 ((guint64 *) wait_ns, n);
  for (gsize i = 0; i < n; i++)
    figures.total_ns = weft_metrics_sat_add (figures.total_ns, wait_ns[i]);
  figures.max_ns = n > 0 ? wait_ns[n - 1] : 0;
  figures.p50_ns = weft_metrics_percentile (wait_ns, n, 50);
  figures.p90_ns = weft_metrics_percentile (wait_ns, n, 90);
  figures.p99_ns = weft_metrics_percentile (wait_ns, n, 99);
  return figures;
}

/* Granularity */

struct _WeftMetricsBursts
{
  GArray     *thread;      /* gint64: the current thread's bursts, all > 0 */
  gint64      burst_ns;    /* the burst under way */
  GHashTable *processes;   /* gint64* process id → GArray of its threads' bursts */
};

WeftMetricsBursts *
weft_metrics_bursts_new (void)
{
  WeftMetricsBursts *bursts = g_new0 (WeftMetricsBursts, 1);

  bursts->thread = g_array_new (FALSE, FALSE, sizeof (gint64));
  bursts->processes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                             (GDestroyNotify) g_array_unref);
  return bursts;
}

void
weft_metrics_bursts_free (WeftMetricsBursts *bursts)
{
  if (bursts == NULL)
    return;
  g_array_unref (bursts->thread);
  g_hash_table_unref (bursts->processes);
  g_free (bursts);
}

gboolean
weft_metrics_bursts_add_processes (WeftMetricsBursts  *bursts,
                                   WeftTrace          *trace,
                                   GError            **error)
{
  static const char sql[] = "SELECT id FROM processes";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      if (!g_hash_table_contains (bursts->processes, &id))
        g_hash_table_insert (bursts->processes, g_memdup2 (&id, sizeof id),
                             g_array_new (FALSE, FALSE, sizeof (gint64)));
    }
  return weft_metrics_query_done (trace, stmt, rc, error);
}

static void
close_burst (WeftMetricsBursts *bursts)
{
  if (bursts->burst_ns > 0)
    g_array_append_val (bursts->thread, bursts->burst_ns);
  bursts->burst_ns = 0;
}

void
weft_metrics_bursts_add_state (WeftMetricsBursts *bursts,
                               WeftState          state,
                               gint64             ns)
{
  if (state == WEFT_STATE_RUNNING)
    bursts->burst_ns += ns;
  else if (state != WEFT_STATE_RUNNABLE)
    close_burst (bursts);
}

/* The figures of n bursts (sorted here; all > 0). */
static WeftMetricsGranularity
granularity_of (gint64 *ns,
                guint   n,
                gint64  thread_id,
                gint64  process_id)
{
  gint64 total_ns = 0, sum_ns = 0;
  WeftMetricsGranularity row = { thread_id, process_id, n, 0, 0, 0 };

  weft_metrics_sort_u64 ((guint64 *) ns, n);
  row.p50_ns = weft_metrics_percentile (ns, n, 50);
  row.p90_ns = weft_metrics_percentile (ns, n, 90);
  /* The burst in which the middle nanosecond of CPU time was spent. */
  for (guint i = 0; i < n; i++)
    total_ns = weft_metrics_sat_add (total_ns, ns[i]);
  for (guint i = 0; i < n; i++)
    {
      sum_ns = weft_metrics_sat_add (sum_ns, ns[i]);
      if (sum_ns >= total_ns - sum_ns)
        {
          row.cpu_p50_ns = ns[i];
          break;
        }
    }
  return row;
}

WeftMetricsGranularity
weft_metrics_bursts_end_thread (WeftMetricsBursts *bursts,
                                gint64             thread_id,
                                gint64             process_id,
                                gboolean           pooled)
{
  GArray *thread = bursts->thread;
  GArray *pool = pooled ? g_hash_table_lookup (bursts->processes, &process_id) : NULL;
  WeftMetricsGranularity row;

  close_burst (bursts);
  row = granularity_of ((gint64 *) thread->data, thread->len, thread_id, process_id);
  if (pool != NULL)
    g_array_append_vals (pool, thread->data, thread->len);
  g_array_set_size (thread, 0);
  return row;
}

static gint
compare_ids (gconstpointer a,
             gconstpointer b)
{
  gint64 x = **(const gint64 * const *) a, y = **(const gint64 * const *) b;

  return x < y ? -1 : x > y;
}

void
weft_metrics_bursts_end (WeftMetricsBursts *bursts,
                         GArray            *rows)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  WeftMetricsGranularity row;
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, bursts->processes);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, key);
  g_ptr_array_sort (ids, compare_ids);
  for (guint i = 0; i < ids->len; i++)
    {
      GArray *pool = g_hash_table_lookup (bursts->processes, ids->pdata[i]);

      g_array_append_vals (all, pool->data, pool->len);
      row = granularity_of ((gint64 *) pool->data, pool->len, 0, *(gint64 *) ids->pdata[i]);
      g_array_append_val (rows, row);
    }
  row = granularity_of ((gint64 *) all->data, all->len, 0, 0);
  g_array_append_val (rows, row);
}
