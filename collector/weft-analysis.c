/* weft-analysis.c — thread states, the concurrency profile and the object
 * summaries, derived from a trace's raw tables (rules: schema/weft.sql,
 * DERIVED TABLES).
 *
 * Shape of the work, chosen for traces of tens of millions of rows:
 *  1. Full scans of cpu_slices and waits in rowid order (a scan through the
 *     (thread_id, start_ns) indexes costs a b-tree seek per row and is five
 *     times slower), each row appended to its thread's array; per-object
 *     aggregates (wait durations, stacks, who blocked whom) are folded in
 *     during the waits scan.
 *  2. For each thread, an explicit sweep over its slices and its wait
 *     coverage writes its thread_states rows in primary-key order and appends
 *     one packed transition (time, from-state, to-state) per state change.
 *  3. The transitions of all threads, radix-sorted by time, are swept once
 *     into the profile's step function, and summed per level of parallelism
 *     into profile_summary, so that whole-trace reports never scan it.
 * Rows are written by multi-row INSERTs (Batch): at tens of millions of rows
 * SQLite's per-statement work, not the b-tree, was most of the time (about
 * 1 µs a row with one row per statement, under 0.5 µs with 256).
 * Rows the rules cannot place (overlaps, times outside a thread's life, or
 * times far outside the trace, which a damaged file can hold) are clipped and
 * counted in meta analysis_anomalies, never silently dropped.
 */
#include <string.h>

#include "weft-analysis.h"
#include "weft-metrics.h"

#define DERIVED_MARKER "\n-- DERIVED TABLES\n"

/* Times of a damaged trace can be anything in int64. The trace's bounds are
 * kept within ±TIME_LIMIT_NS and at most SPAN_LIMIT_NS apart (18 weeks),
 * and raw times are clipped to the window of MARGIN_NS around them (as
 * anomalies), so that every difference and packed transition time fits. */
#define TIME_LIMIT_NS (G_GINT64_CONSTANT (1) << 60)
#define SPAN_LIMIT_NS (G_GINT64_CONSTANT (1) << 53)
#define MARGIN_NS     (G_GINT64_CONSTANT (1) << 53)

/* Page cache of the connection while the analysis writes (KiB). */
#define ANALYSIS_CACHE_KIB (256 * 1024)

/* In packed transitions: "not alive" (before a thread's start, after its end). */
#define NO_STATE 7
#define TRANSITION_STATE_BITS 3
#define TRANSITION_TIME_SHIFT (2 * TRANSITION_STATE_BITS)

static const char * const state_names[WEFT_N_STATES] = {
  [WEFT_STATE_RUNNING] = "running", [WEFT_STATE_RUNNABLE] = "runnable",
  [WEFT_STATE_LOCK] = "lock", [WEFT_STATE_SYNC] = "sync", [WEFT_STATE_IO] = "io",
  [WEFT_STATE_SLEEP] = "sleep", [WEFT_STATE_BLOCKED] = "blocked",
};

static const struct
{
  const char *kind;
  WeftState   state;
} wait_kinds[] = {
  { "mutex", WEFT_STATE_LOCK }, { "rdlock", WEFT_STATE_LOCK }, { "wrlock", WEFT_STATE_LOCK },
  { "spin", WEFT_STATE_LOCK }, { "sem", WEFT_STATE_LOCK }, { "gil", WEFT_STATE_LOCK },
  { "cond", WEFT_STATE_SYNC }, { "barrier", WEFT_STATE_SYNC }, { "join", WEFT_STATE_SYNC },
  { "child", WEFT_STATE_SYNC },
  { "poll", WEFT_STATE_IO }, { "select", WEFT_STATE_IO }, { "epoll", WEFT_STATE_IO },
  { "sleep", WEFT_STATE_SLEEP },
};

/* One on-CPU slice, 16 bytes: there may be tens of millions. */
typedef struct
{
  gint64  start_ns;
  gint64  end_ns    : 63;
  guint64 preempted : 1;
} Slice;

/* One wait, 24 bytes; after make_coverage() an interval of the thread's
 * disjoint wait coverage. */
typedef struct
{
  gint64  id    : 60;
  guint64 state : 4;
  gint64  start_ns;
  gint64  end_ns;
} Wait;

typedef struct
{
  gint64  id;
  gint64  start_ns;   /* life, after defaults */
  gint64  end_ns;
  GArray *slices;     /* Slice, freed once swept */
  GArray *waits;      /* Wait, freed once swept */
  gint64  process_id;
  gint64  state_ns[WEFT_N_STATES];
  gint64  waits_count;
} Thread;

typedef struct
{
  GArray *wait_ns;    /* durations of its waits */
  gint64  acquisitions;
  gint64  contentions;
  gint64  hold_total_ns;
  gint64  hold_max_ns;
  gint64  hold_samples;
  guint   threads;
  guint   holders;
} Object;

enum { ROLE_USER, ROLE_HOLDER };

typedef struct
{
  WeftTrace  *trace;
  const char *schema;        /* "main", or "temp" for a scratch analysis */
  gint64      trace_start_ns;
  gint64      trace_end_ns;
  gint64      base_ns;       /* origin of packed transition times */
  gint64      profile_end_ns;
  GPtrArray  *threads;       /* Thread, by id */
  Thread    **thread_index;  /* id - min_thread_id → Thread, when ids are dense */
  gint64      min_thread_id;
  gsize       thread_index_len;
  GHashTable *threads_by_id; /* gint64* → Thread, when they are not */
  GHashTable *gil_objects;   /* object ids of kind 'gil' */
  GHashTable *objects;       /* gint64* → Object */
  GHashTable *blocking;      /* (waiter, holder, object) → WeftMetricsSum */
  GHashTable *stacks;        /* (object, stack, 0) → WeftMetricsSum */
  GHashTable *users;         /* (object, thread, role) set */
  GArray     *transitions;   /* guint64, packed */
  GArray     *granularity;   /* WeftMetricsGranularity rows of the threads, then the rest */
  WeftMetricsBursts *bursts; /* the threads' bursts, pooled by process */
  gint64      anomalies;
  gint64      phase_start_us; /* for the timings of G_MESSAGES_DEBUG=all */
  gint64      old_cache_size; /* PRAGMA cache_size before the analysis */
  gboolean    cache_set;
} Analysis;

const char *
weft_state_name (WeftState state)
{
  g_return_val_if_fail (state < WEFT_N_STATES, "?");
  return state_names[state];
}

gboolean
weft_state_from_name (const char *name,
                      WeftState  *state)
{
  for (int s = 0; name != NULL && s < WEFT_N_STATES; s++)
    if (strcmp (name, state_names[s]) == 0)
      {
        *state = s;
        return TRUE;
      }
  *state = WEFT_STATE_BLOCKED;
  return FALSE;
}

gboolean
weft_state_for_wait_kind (const char *kind,
                          WeftState  *state)
{
  for (gsize i = 0; kind != NULL && i < G_N_ELEMENTS (wait_kinds); i++)
    if (strcmp (kind, wait_kinds[i].kind) == 0)
      {
        *state = wait_kinds[i].state;
        return TRUE;
      }
  *state = WEFT_STATE_BLOCKED;
  return FALSE;
}

/* Objects and threads */

static void
object_free (gpointer data)
{
  Object *object = data;

  if (object->wait_ns != NULL)
    g_array_unref (object->wait_ns);
  g_free (object);
}

static Object *
object_for (Analysis *an,
            gint64    id)
{
  Object *object = g_hash_table_lookup (an->objects, &id);

  if (object == NULL)
    {
      object = g_new0 (Object, 1);
      g_hash_table_insert (an->objects, g_memdup2 (&id, sizeof id), object);
    }
  return object;
}

static void
thread_free (gpointer data)
{
  Thread *thread = data;

  g_clear_pointer (&thread->slices, g_array_unref);
  g_clear_pointer (&thread->waits, g_array_unref);
  g_free (thread);
}

static Thread *
thread_for (Analysis *an,
            gint64    id)
{
  if (an->thread_index != NULL)
    {
      guint64 i = (guint64) (id - an->min_thread_id);

      return i < an->thread_index_len ? an->thread_index[i] : NULL;
    }
  return g_hash_table_lookup (an->threads_by_id, &id);
}

/* Sorting */

static gint
compare_slices (gconstpointer a,
                gconstpointer b)
{
  const Slice *x = a, *y = b;

  return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static gint
compare_waits (gconstpointer a,
               gconstpointer b)
{
  const Wait *x = a, *y = b;

  if (x->start_ns != y->start_ns)
    return x->start_ns < y->start_ns ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* SQL helpers */

/* A statement on the analysis's schema: "@" in sql stands for it. */
static sqlite3_stmt *
prepare (Analysis    *an,
         const char  *sql,
         GError     **error)
{
  g_autoptr(GString) text = g_string_new (sql);

  g_string_replace (text, "@", an->schema, 0);
  return weft_trace_prepare (an->trace, text->str, error);
}

static gboolean
step_insert (Analysis      *an,
             sqlite3_stmt  *stmt,
             GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (an->trace, sqlite3_sql (stmt), error);
  return TRUE;
}

/* Batched inserts: one INSERT of many rows costs little more than an INSERT
 * of one (the per-statement work of the VDBE, cursors and locks is most of
 * the cost of a small row), so rows are gathered BATCH_ROWS at a time. Rows
 * keep their order, so tables filled in primary-key order stay appends. */
#define BATCH_ROWS 256
#define BATCH_MAX_COLUMNS 10

typedef struct
{
  gint64      value;
  const char *text;    /* static text, or NULL */
  gboolean    null;
} Cell;

typedef struct
{
  Analysis     *an;
  const char   *head;     /* "INSERT INTO @.table (columns) VALUES " */
  guint         columns;
  guint         rows;     /* complete rows in cells */
  guint         column;   /* next column of the row being filled */
  sqlite3_stmt *full;     /* the statement for BATCH_ROWS rows */
  Cell          cells[BATCH_ROWS * BATCH_MAX_COLUMNS];
} Batch;

static Batch *
batch_new (Analysis    *an,
           const char  *head,
           guint        columns)
{
  Batch *batch = g_new (Batch, 1);

  g_assert (columns <= BATCH_MAX_COLUMNS);
  batch->an = an;
  batch->head = head;
  batch->columns = columns;
  batch->rows = 0;
  batch->column = 0;
  batch->full = NULL;
  return batch;
}

static sqlite3_stmt *
batch_statement (Batch   *batch,
                 guint    rows,
                 GError **error)
{
  g_autoptr(GString) sql = g_string_new (batch->head);

  for (guint r = 0; r < rows; r++)
    {
      g_string_append (sql, r == 0 ? "(" : ",(");
      for (guint c = 0; c < batch->columns; c++)
        g_string_append (sql, c == 0 ? "?" : ",?");
      g_string_append_c (sql, ')');
    }
  return prepare (batch->an, sql->str, error);
}

/* Writes the gathered rows. */
static gboolean
batch_flush (Batch   *batch,
             GError **error)
{
  sqlite3_stmt *stmt;
  guint n = batch->rows * batch->columns;

  if (batch->rows == 0)
    return TRUE;
  if (batch->rows == BATCH_ROWS)
    {
      if (batch->full == NULL && (batch->full = batch_statement (batch, BATCH_ROWS, error)) == NULL)
        return FALSE;
      stmt = batch->full;
    }
  else if ((stmt = batch_statement (batch, batch->rows, error)) == NULL)
    return FALSE;
  batch->rows = 0;
  for (guint i = 0; i < n; i++)
    {
      const Cell *cell = &batch->cells[i];

      if (cell->null)
        sqlite3_bind_null (stmt, i + 1);
      else if (cell->text != NULL)
        sqlite3_bind_text (stmt, i + 1, cell->text, -1, SQLITE_STATIC);
      else
        sqlite3_bind_int64 (stmt, i + 1, cell->value);
    }
  return step_insert (batch->an, stmt, error);
}

static Cell *
batch_cell (Batch *batch)
{
  Cell *cell = &batch->cells[batch->rows * batch->columns + batch->column];

  g_assert (batch->column < batch->columns);
  batch->column++;
  return cell;
}

static void
batch_int (Batch  *batch,
           gint64  value)
{
  *batch_cell (batch) = (Cell) { .value = value };
}

static void
batch_null (Batch *batch)
{
  *batch_cell (batch) = (Cell) { .null = TRUE };
}

/* text must outlive the batch (a static string). */
static void
batch_text (Batch      *batch,
            const char *text)
{
  *batch_cell (batch) = (Cell) { .text = text };
}

/* Ends the row whose columns were just given; writes a full batch. */
static gboolean
batch_end_row (Batch   *batch,
               GError **error)
{
  g_assert (batch->column == batch->columns);
  batch->column = 0;
  batch->rows++;
  return batch->rows < BATCH_ROWS || batch_flush (batch, error);
}

/* One integer from a query of one row; *value is left alone for NULL. */
static gboolean
query_int (Analysis    *an,
           const char  *sql,
           gint64      *value,
           GError     **error)
{
  sqlite3_stmt *stmt = weft_trace_prepare (an->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    *value = sqlite3_column_int64 (stmt, 0);
  return weft_metrics_query_done (an->trace, stmt, rc == SQLITE_ROW ? SQLITE_DONE : rc, error);
}

/* The derived tables */

static const char *
derived_sql (GError **error)
{
  const char *marker = strstr (weft_trace_schema_sql (), DERIVED_MARKER);

  if (marker == NULL)
    g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL,
                 "weft.sql has no '-- DERIVED TABLES' section: this weft is built wrong");
  return marker;
}

/* Drops every table that the derived section creates, then creates them
 * again, empty: in the trace, or as TEMP tables for a scratch analysis. */
static gboolean
reset_derived_tables (Analysis  *an,
                      GError   **error)
{
  const char *sql = derived_sql (error);
  g_autoptr(GString) drops = g_string_new (NULL);
  g_autoptr(GString) creates = NULL;
  static const char create[] = "CREATE TABLE ";

  if (sql == NULL)
    return FALSE;
  for (const char *p = strstr (sql, create); p != NULL; p = strstr (p, create))
    {
      const char *name = p + strlen (create);
      gsize length = strspn (name, "abcdefghijklmnopqrstuvwxyz_0123456789");

      g_string_append_printf (drops, "DROP TABLE IF EXISTS %s.%.*s;\n", an->schema, (int) length, name);
      p = name + length;
    }
  creates = g_string_new (sql);
  if (strcmp (an->schema, "temp") == 0)
    g_string_replace (creates, create, "CREATE TEMP TABLE ", 0);
  return weft_trace_exec (an->trace, drops->str, error)
         && weft_trace_exec (an->trace, creates->str, error);
}

/* Logs how long the step that just ended took (G_MESSAGES_DEBUG=all). */
static gboolean
phase_done (Analysis   *an,
            const char *step)
{
  gint64 now_us = g_get_monotonic_time ();

  g_debug ("analysis: %s took %.3f s", step, (now_us - an->phase_start_us) / 1e6);
  an->phase_start_us = now_us;
  return TRUE;
}

/* Loading */

static gboolean
load_bounds (Analysis  *an,
             GError   **error)
{
  if (!weft_trace_get_meta_int (an->trace, "start_ns", &an->trace_start_ns))
    {
      an->trace_start_ns = 0;
      if (!query_int (an, "SELECT min(start_ns) FROM threads", &an->trace_start_ns, error))
        return FALSE;
    }
  if (!weft_trace_get_meta_int (an->trace, "end_ns", &an->trace_end_ns))
    {
      /* An unfinished trace: its end is the last thing seen. */
      an->trace_end_ns = an->trace_start_ns;
      if (!query_int (an, "SELECT max(x) FROM (SELECT max(end_ns) AS x FROM threads"
                          " UNION ALL SELECT max(end_ns) FROM cpu_slices"
                          " UNION ALL SELECT max(end_ns) FROM waits)",
                      &an->trace_end_ns, error))
        return FALSE;
    }
  if (an->trace_start_ns < -TIME_LIMIT_NS || an->trace_start_ns > TIME_LIMIT_NS
      || an->trace_end_ns < an->trace_start_ns || an->trace_end_ns - an->trace_start_ns > SPAN_LIMIT_NS)
    an->anomalies++;
  an->trace_start_ns = CLAMP (an->trace_start_ns, -TIME_LIMIT_NS, TIME_LIMIT_NS);
  an->trace_end_ns = CLAMP (an->trace_end_ns, an->trace_start_ns, an->trace_start_ns + SPAN_LIMIT_NS);
  return TRUE;
}

/* Clips a raw time to the window around the trace; TRUE if it was outside. */
static gboolean
clip_time (Analysis *an,
           gint64   *time_ns)
{
  gint64 clipped = CLAMP (*time_ns, an->trace_start_ns - MARGIN_NS, an->trace_end_ns + MARGIN_NS);

  if (clipped == *time_ns)
    return FALSE;
  *time_ns = clipped;
  return TRUE;
}

static void
index_threads (Analysis *an)
{
  gint64 min_id = G_MAXINT64, max_id = G_MININT64;

  for (guint i = 0; i < an->threads->len; i++)
    {
      Thread *thread = an->threads->pdata[i];

      min_id = MIN (min_id, thread->id);
      max_id = MAX (max_id, thread->id);
    }
  /* Ids are the writer's 1, 2, 3…: index them directly when dense enough. */
  if (an->threads->len > 0 && (guint64) (max_id - min_id) < 4 * (guint64) an->threads->len + 1024)
    {
      an->min_thread_id = min_id;
      an->thread_index_len = (gsize) (max_id - min_id) + 1;
      an->thread_index = g_new0 (Thread *, an->thread_index_len);
      for (guint i = 0; i < an->threads->len; i++)
        {
          Thread *thread = an->threads->pdata[i];

          an->thread_index[thread->id - min_id] = thread;
        }
      return;
    }
  an->threads_by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < an->threads->len; i++)
    {
      Thread *thread = an->threads->pdata[i];

      g_hash_table_insert (an->threads_by_id, &thread->id, thread);
    }
}

static gboolean
load_threads (Analysis  *an,
              GError   **error)
{
  static const char sql[] = "SELECT id, start_ns, end_ns, process_id FROM threads ORDER BY id";
  sqlite3_stmt *stmt = weft_trace_prepare (an->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Thread *thread = g_new0 (Thread, 1);

      thread->id = sqlite3_column_int64 (stmt, 0);
      thread->process_id = sqlite3_column_int64 (stmt, 3);
      thread->start_ns = sqlite3_column_type (stmt, 1) == SQLITE_NULL
                         ? an->trace_start_ns : sqlite3_column_int64 (stmt, 1);
      thread->end_ns = sqlite3_column_type (stmt, 2) == SQLITE_NULL
                       ? an->trace_end_ns : sqlite3_column_int64 (stmt, 2);
      if (clip_time (an, &thread->start_ns) | clip_time (an, &thread->end_ns))
        an->anomalies++;
      if (thread->end_ns < thread->start_ns)
        {
          an->anomalies++;
          thread->end_ns = thread->start_ns;
        }
      thread->slices = g_array_new (FALSE, FALSE, sizeof (Slice));
      thread->waits = g_array_new (FALSE, FALSE, sizeof (Wait));
      g_ptr_array_add (an->threads, thread);
    }
  if (!weft_metrics_query_done (an->trace, stmt, rc, error))
    return FALSE;
  index_threads (an);
  return TRUE;
}

static gboolean
load_gil_objects (Analysis  *an,
                  GError   **error)
{
  static const char sql[] = "SELECT id FROM objects WHERE kind = 'gil'";
  sqlite3_stmt *stmt = weft_trace_prepare (an->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      g_hash_table_add (an->gil_objects, g_memdup2 (&id, sizeof id));
    }
  return weft_metrics_query_done (an->trace, stmt, rc, error);
}

static gboolean
load_slices (Analysis  *an,
             GError   **error)
{
  static const char sql[] = "SELECT thread_id, start_ns, end_ns, preempted FROM cpu_slices";
  sqlite3_stmt *stmt = weft_trace_prepare (an->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Thread *thread = thread_for (an, sqlite3_column_int64 (stmt, 0));
      gint64 start_ns = sqlite3_column_int64 (stmt, 1);
      gint64 end_ns = sqlite3_column_int64 (stmt, 2);
      gboolean clipped = clip_time (an, &start_ns) | clip_time (an, &end_ns);
      Slice slice = {
        .start_ns = start_ns,
        .end_ns = end_ns,
        .preempted = sqlite3_column_int (stmt, 3) != 0,
      };

      if (thread == NULL || clipped)
        an->anomalies++;
      if (thread != NULL)
        g_array_append_val (thread->slices, slice);
    }
  return weft_metrics_query_done (an->trace, stmt, rc, error);
}

/* The kernel saw a thread on a CPU before the agent saw it start (between
 * fork and exec, the agent is not loaded yet) or after its recorded end: its
 * life is widened to its slices, so that no CPU time is lost. Then the
 * profile's bounds: the trace, widened to every thread's life. */
static void
widen_lives (Analysis *an)
{
  an->base_ns = an->trace_start_ns;
  an->profile_end_ns = an->trace_end_ns;
  for (guint i = 0; i < an->threads->len; i++)
    {
      Thread *thread = an->threads->pdata[i];
      const Slice *slices = (const Slice *) thread->slices->data;

      for (guint j = 0; j < thread->slices->len; j++)
        if (slices[j].end_ns > slices[j].start_ns)
          {
            thread->start_ns = MIN (thread->start_ns, slices[j].start_ns);
            thread->end_ns = MAX (thread->end_ns, slices[j].end_ns);
          }
      an->base_ns = MIN (an->base_ns, thread->start_ns);
      an->profile_end_ns = MAX (an->profile_end_ns, thread->end_ns);
    }
}

/* Folds one wait into the per-object figures. */
static void
add_object_wait (Analysis *an,
                 gint64    object_id,
                 gint64    thread_id,
                 gint64    holder_id,
                 gint64    stack_id,
                 gint64    duration_ns)
{
  Object *object = object_for (an, object_id);

  if (object->wait_ns == NULL)
    object->wait_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_array_append_val (object->wait_ns, duration_ns);
  weft_metrics_keys_add (an->users, object_id, thread_id, ROLE_USER);
  if (holder_id != 0)
    {
      weft_metrics_keys_add (an->users, object_id, holder_id, ROLE_HOLDER);
      weft_metrics_sums_add (an->blocking, thread_id, holder_id, object_id, duration_ns);
    }
  if (stack_id != 0)
    weft_metrics_sums_add (an->stacks, object_id, stack_id, 0, duration_ns);
}

static gboolean
load_waits (Analysis  *an,
            GError   **error)
{
  static const char sql[] =
    "SELECT id, thread_id, object_id, kind, start_ns, end_ns, holder_thread_id, stack_id FROM waits";
  sqlite3_stmt *stmt = weft_trace_prepare (an->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 thread_id = sqlite3_column_int64 (stmt, 1);
      Thread *thread = thread_for (an, thread_id);
      gint64 object_id = sqlite3_column_int64 (stmt, 2);  /* NULL reads as 0 */
      WeftState state;
      Wait wait = {
        .id = sqlite3_column_int64 (stmt, 0),
        .start_ns = sqlite3_column_int64 (stmt, 4),
        .end_ns = sqlite3_column_int64 (stmt, 5),
      };

      if (!weft_state_for_wait_kind ((const char *) sqlite3_column_text (stmt, 3), &state))
        an->anomalies++;
      if (clip_time (an, &wait.start_ns) | clip_time (an, &wait.end_ns))
        an->anomalies++;
      if (object_id != 0 && g_hash_table_contains (an->gil_objects, &object_id))
        state = WEFT_STATE_LOCK;
      wait.state = state;
      if (thread == NULL)
        {
          an->anomalies++;
          continue;
        }
      g_array_append_val (thread->waits, wait);
      thread->waits_count++;
      if (object_id != 0)
        add_object_wait (an, object_id, thread_id, sqlite3_column_int64 (stmt, 6),
                         sqlite3_column_int64 (stmt, 7), MAX (0, wait.end_ns - wait.start_ns));
    }
  return weft_metrics_query_done (an->trace, stmt, rc, error);
}

static gboolean
load_object_stats (Analysis  *an,
                   GError   **error)
{
  static const char sql[] =
    "SELECT object_id, thread_id, acquisitions, contentions, hold_ns, hold_max_ns, hold_samples"
    " FROM object_stats";
  sqlite3_stmt *stmt = weft_trace_prepare (an->trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 object_id = sqlite3_column_int64 (stmt, 0);
      Object *object = object_for (an, object_id);

      weft_metrics_keys_add (an->users, object_id, sqlite3_column_int64 (stmt, 1), ROLE_USER);
      object->acquisitions = weft_metrics_sat_add (object->acquisitions, sqlite3_column_int64 (stmt, 2));
      object->contentions = weft_metrics_sat_add (object->contentions, sqlite3_column_int64 (stmt, 3));
      object->hold_total_ns = weft_metrics_sat_add (object->hold_total_ns, sqlite3_column_int64 (stmt, 4));
      object->hold_max_ns = MAX (object->hold_max_ns, sqlite3_column_int64 (stmt, 5));
      object->hold_samples = weft_metrics_sat_add (object->hold_samples, sqlite3_column_int64 (stmt, 6));
    }
  return weft_metrics_query_done (an->trace, stmt, rc, error);
}

/* Granularity */

static gboolean
write_granularity (Analysis  *an,
                   GError   **error)
{
  g_autofree Batch *insert = batch_new (an, "INSERT INTO @.granularity (thread_id, process_id, bursts,"
                                        " p50_ns, p90_ns, cpu_p50_ns) VALUES ", 6);

  /* Threads (written by the sweep), then processes in id order, then the
   * whole trace. */
  weft_metrics_bursts_end (an->bursts, an->granularity);
  for (guint i = 0; i < an->granularity->len; i++)
    {
      const WeftMetricsGranularity *row = &g_array_index (an->granularity, WeftMetricsGranularity, i);

      if (row->thread_id != 0)
        batch_int (insert, row->thread_id);
      else
        batch_null (insert);
      if (row->process_id != 0)
        batch_int (insert, row->process_id);
      else
        batch_null (insert);
      batch_int (insert, row->bursts);
      batch_int (insert, row->p50_ns);
      batch_int (insert, row->p90_ns);
      batch_int (insert, row->cpu_p50_ns);
      if (!batch_end_row (insert, error))
        return FALSE;
    }
  return batch_flush (insert, error);
}

/* The thread sweep */

typedef struct
{
  Analysis     *an;
  Thread       *thread;
  Batch        *insert;
  const Wait   *cover;        /* the thread's disjoint wait coverage */
  guint         n_cover;
  guint         next_cover;   /* first coverage interval that may still matter */
  gboolean      seen_slice;
  gboolean      preempted;    /* how the last slice ended */
  int           last_state;   /* state of the last row written, NO_STATE before */
  int           state;        /* the pending row, NO_STATE if none */
  gint64        wait_id;
  gint64        start_ns;
  gint64        end_ns;
  GError       *error;
} Sweep;

static void
push_transition (Analysis *an,
                 gint64    time_ns,
                 int       from,
                 int       to)
{
  guint64 key = ((guint64) (time_ns - an->base_ns) << TRANSITION_TIME_SHIFT)
                | ((guint64) from << TRANSITION_STATE_BITS) | (guint64) to;

  g_array_append_val (an->transitions, key);
}

static void
flush_row (Sweep *sw)
{
  Batch *batch = sw->insert;

  if (sw->state == NO_STATE)
    return;
  push_transition (sw->an, sw->start_ns, sw->last_state, sw->state);
  weft_metrics_bursts_add_state (sw->an->bursts, sw->state, sw->end_ns - sw->start_ns);
  sw->thread->state_ns[sw->state] += sw->end_ns - sw->start_ns;
  sw->last_state = sw->state;
  if (sw->error != NULL)
    return;
  batch_int (batch, sw->thread->id);
  batch_int (batch, sw->start_ns);
  batch_int (batch, sw->end_ns);
  batch_text (batch, state_names[sw->state]);
  if (sw->wait_id != 0)
    batch_int (batch, sw->wait_id);
  else
    batch_null (batch);
  batch_end_row (batch, &sw->error);
}

/* Adds [start_ns, end_ns), which begins where the previous interval ended. */
static void
emit (Sweep     *sw,
      WeftState  state,
      gint64     wait_id,
      gint64     start_ns,
      gint64     end_ns)
{
  if (end_ns <= start_ns)
    return;
  if (sw->state == (int) state && sw->wait_id == wait_id && sw->end_ns == start_ns)
    {
      sw->end_ns = end_ns;
      return;
    }
  flush_row (sw);
  sw->state = state;
  sw->wait_id = wait_id;
  sw->start_ns = start_ns;
  sw->end_ns = end_ns;
}

/* [from_ns, to_ns) off CPU: runnable after a preemption; else the state of
 * the waits that cover it, and `blocked` (or, before the first slice,
 * `runnable`) where none does. */
static void
off_cpu (Sweep  *sw,
         gint64  from_ns,
         gint64  to_ns)
{
  WeftState uncovered = sw->seen_slice ? WEFT_STATE_BLOCKED : WEFT_STATE_RUNNABLE;
  gint64 at_ns = from_ns;

  if (to_ns <= from_ns)
    return;
  if (sw->seen_slice && sw->preempted)
    {
      emit (sw, WEFT_STATE_RUNNABLE, 0, from_ns, to_ns);
      return;
    }
  while (sw->next_cover < sw->n_cover && sw->cover[sw->next_cover].end_ns <= from_ns)
    sw->next_cover++;
  for (guint i = sw->next_cover; i < sw->n_cover && sw->cover[i].start_ns < to_ns; i++)
    {
      const Wait *wait = &sw->cover[i];
      gint64 start_ns = MAX (wait->start_ns, at_ns);
      gint64 end_ns = MIN (wait->end_ns, to_ns);

      emit (sw, uncovered, 0, at_ns, start_ns);
      emit (sw, wait->state, wait->id, start_ns, end_ns);
      at_ns = end_ns;
    }
  emit (sw, uncovered, 0, at_ns, to_ns);
}

/* Turns the thread's waits, sorted by start, into disjoint intervals within
 * its life: where waits overlap, the one that began first keeps the common
 * time. Returns how many intervals remain at the front of the array. */
static guint
make_coverage (Analysis *an,
               Thread   *thread)
{
  Wait *waits = (Wait *) thread->waits->data;
  gint64 covered_ns = thread->start_ns;
  guint kept = 0;

  for (guint i = 0; i < thread->waits->len; i++)
    {
      Wait wait = waits[i];
      gint64 start_ns = MAX (wait.start_ns, covered_ns);
      gint64 end_ns = MIN (wait.end_ns, thread->end_ns);

      /* Outside the thread's life, or overlapping a wait of the same thread. */
      if (wait.start_ns < covered_ns || wait.end_ns > thread->end_ns)
        an->anomalies++;
      if (end_ns <= start_ns)
        continue;
      wait.start_ns = start_ns;
      wait.end_ns = end_ns;
      waits[kept++] = wait;
      covered_ns = end_ns;
    }
  return kept;
}

static gboolean
sweep_thread (Analysis      *an,
              Thread        *thread,
              Batch         *insert,
              GError       **error)
{
  Sweep sw = {
    .an = an, .thread = thread, .insert = insert,
    .last_state = NO_STATE, .state = NO_STATE,
  };
  const Slice *slices = (const Slice *) thread->slices->data;
  gint64 at_ns = thread->start_ns;
  WeftMetricsGranularity granularity;

  g_array_sort (thread->waits, compare_waits);
  g_array_sort (thread->slices, compare_slices);
  sw.n_cover = make_coverage (an, thread);
  sw.cover = (const Wait *) thread->waits->data;

  for (guint i = 0; i < thread->slices->len; i++)
    {
      gint64 start_ns = slices[i].start_ns;
      gint64 end_ns = slices[i].end_ns;

      if (end_ns <= start_ns)
        continue;
      /* Before the thread's life, overlapping the previous slice, or after
       * the thread's end: clip. */
      if (start_ns < at_ns || end_ns > thread->end_ns)
        an->anomalies++;
      start_ns = MAX (start_ns, at_ns);
      end_ns = MIN (end_ns, thread->end_ns);
      if (end_ns <= start_ns)
        continue;
      off_cpu (&sw, at_ns, start_ns);
      emit (&sw, WEFT_STATE_RUNNING, 0, start_ns, end_ns);
      sw.seen_slice = TRUE;
      sw.preempted = slices[i].preempted;
      at_ns = end_ns;
    }
  off_cpu (&sw, at_ns, thread->end_ns);
  flush_row (&sw);
  granularity = weft_metrics_bursts_end_thread (an->bursts, thread->id, thread->process_id, TRUE);
  g_array_append_val (an->granularity, granularity);
  if (sw.last_state != NO_STATE)
    push_transition (an, thread->end_ns, sw.last_state, NO_STATE);

  g_clear_pointer (&thread->slices, g_array_unref);
  g_clear_pointer (&thread->waits, g_array_unref);
  if (sw.error != NULL)
    {
      g_propagate_error (error, sw.error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_thread_states (Analysis  *an,
                     GError   **error)
{
  g_autofree Batch *insert = batch_new (an, "INSERT INTO @.thread_states"
                                       " (thread_id, start_ns, end_ns, state, wait_id) VALUES ", 5);

  for (guint i = 0; i < an->threads->len; i++)
    if (!sweep_thread (an, an->threads->pdata[i], insert, error))
      return FALSE;
  return batch_flush (insert, error);
}

/* The profile */

typedef struct
{
  Analysis     *an;
  Batch        *insert;
  gboolean      pending;
  gint64        start_ns;
  gint64        end_ns;
  gint64        counts[WEFT_N_STATES];
  GArray       *levels;   /* Level, by running: the whole-trace summary */
} ProfileRow;

/* One level of parallelism in profile_summary. */
typedef struct
{
  gint64 time_ns;
  gint64 state_ns[WEFT_N_STATES];
} Level;

/* Adds [start_ns, end_ns) with counts, clipped to the trace, to the summary. */
static void
add_to_summary (ProfileRow   *row,
                gint64        start_ns,
                gint64        end_ns,
                const gint64 *counts)
{
  gint64 ns = MIN (end_ns, row->an->trace_end_ns) - MAX (start_ns, row->an->trace_start_ns);
  gint64 running = counts[WEFT_STATE_RUNNING];
  Level *level;

  if (ns <= 0 || running < 0 || running > G_MAXINT / 2)
    return;
  if ((guint64) running >= row->levels->len)
    g_array_set_size (row->levels, running + 1);
  level = &g_array_index (row->levels, Level, running);
  level->time_ns += ns;
  for (int s = 0; s < WEFT_N_STATES; s++)
    level->state_ns[s] = weft_metrics_sat_add (level->state_ns[s], weft_metrics_sat_mul (counts[s], ns));
}

static gboolean
write_profile_summary (ProfileRow  *row,
                       GError     **error)
{
  g_autofree Batch *insert = batch_new (row->an, "INSERT INTO @.profile_summary (running, start_ns,"
                                        " end_ns, time_ns, runnable_ns, lock_ns, sync_ns, io_ns,"
                                        " sleep_ns, blocked_ns) VALUES ", 10);

  for (guint p = 0; p < row->levels->len; p++)
    {
      const Level *level = &g_array_index (row->levels, Level, p);

      if (level->time_ns == 0)
        continue;
      batch_int (insert, p);
      batch_int (insert, row->an->trace_start_ns);
      batch_int (insert, row->an->trace_end_ns);
      batch_int (insert, level->time_ns);
      for (int s = WEFT_STATE_RUNNABLE; s < WEFT_N_STATES; s++)
        batch_int (insert, level->state_ns[s]);
      if (!batch_end_row (insert, error))
        return FALSE;
    }
  return batch_flush (insert, error);
}

static gboolean
flush_profile_row (ProfileRow  *row,
                   GError     **error)
{
  if (!row->pending)
    return TRUE;
  row->pending = FALSE;
  batch_int (row->insert, row->start_ns);
  batch_int (row->insert, row->end_ns);
  for (int s = 0; s < WEFT_N_STATES; s++)
    batch_int (row->insert, row->counts[s]);
  return batch_end_row (row->insert, error);
}

/* Appends [start_ns, end_ns) with counts, merged into the pending row when
 * the counts are the same. */
static gboolean
add_profile_row (ProfileRow    *row,
                 gint64         start_ns,
                 gint64         end_ns,
                 const gint64  *counts,
                 GError       **error)
{
  if (end_ns <= start_ns)
    return TRUE;
  add_to_summary (row, start_ns, end_ns, counts);
  if (row->pending && row->end_ns == start_ns
      && memcmp (row->counts, counts, sizeof row->counts) == 0)
    {
      row->end_ns = end_ns;
      return TRUE;
    }
  if (!flush_profile_row (row, error))
    return FALSE;
  row->pending = TRUE;
  row->start_ns = start_ns;
  row->end_ns = end_ns;
  memcpy (row->counts, counts, sizeof row->counts);
  return TRUE;
}

static gboolean
write_profile (Analysis  *an,
               GError   **error)
{
  g_autofree Batch *insert = batch_new (an, "INSERT INTO @.profile (start_ns, end_ns, running,"
                                       " runnable, lock, sync, io, sleep, blocked) VALUES ", 9);
  g_autoptr(GArray) levels = g_array_new (FALSE, TRUE, sizeof (Level));
  ProfileRow row = { .an = an, .insert = insert, .levels = levels };
  guint64 *keys = (guint64 *) an->transitions->data;
  gsize n = an->transitions->len;
  gint64 counts[NO_STATE + 1] = { 0 };
  gint64 at_ns = an->base_ns;

  weft_metrics_sort_u64 (keys, n);
  for (gsize i = 0; i < n;)
    {
      gint64 time_ns = an->base_ns + (gint64) (keys[i] >> TRANSITION_TIME_SHIFT);

      if (!add_profile_row (&row, at_ns, time_ns, counts, error))
        return FALSE;
      for (; i < n && an->base_ns + (gint64) (keys[i] >> TRANSITION_TIME_SHIFT) == time_ns; i++)
        {
          counts[(keys[i] >> TRANSITION_STATE_BITS) & NO_STATE]--;
          counts[keys[i] & NO_STATE]++;
        }
      at_ns = time_ns;
    }
  /* Every thread has ended: the tail is zeros. */
  return add_profile_row (&row, at_ns, an->profile_end_ns, counts, error)
         && flush_profile_row (&row, error)
         && batch_flush (insert, error)
         && write_profile_summary (&row, error);
}

/* Summaries */

static gboolean
write_thread_summary (Analysis  *an,
                      GError   **error)
{
  sqlite3_stmt *stmt = prepare (an,
    "INSERT INTO @.thread_summary (thread_id, running_ns, runnable_ns, lock_ns, sync_ns, io_ns,"
    " sleep_ns, blocked_ns, waits) VALUES (:thread, :running, :runnable, :lock, :sync, :io,"
    " :sleep, :blocked, :waits)", error);

  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < an->threads->len; i++)
    {
      const Thread *thread = an->threads->pdata[i];

      sqlite3_bind_int64 (stmt, 1, thread->id);
      for (int s = 0; s < WEFT_N_STATES; s++)
        sqlite3_bind_int64 (stmt, 2 + s, thread->state_ns[s]);
      sqlite3_bind_int64 (stmt, 9, thread->waits_count);
      if (!step_insert (an, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static void
count_users (Analysis *an)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, an->users);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const WeftMetricsKey *user = key;
      Object *object = object_for (an, user->a);

      if (user->c == ROLE_HOLDER)
        object->holders++;
      else
        object->threads++;
    }
}

static gboolean
write_lock_stats (Analysis  *an,
                  GError   **error)
{
  static const char objects_sql[] = "SELECT id FROM objects ORDER BY id";
  sqlite3_stmt *objects = weft_trace_prepare (an->trace, objects_sql, error);
  sqlite3_stmt *insert = prepare (an,
    "INSERT INTO @.lock_stats (object_id, acquisitions, contentions, waits, wait_total_ns,"
    " wait_max_ns, wait_p50_ns, wait_p90_ns, wait_p99_ns, hold_total_ns, hold_max_ns,"
    " hold_samples, threads, holders) VALUES (:object, :acquisitions, :contentions, :waits,"
    " :wait_total, :wait_max, :p50, :p90, :p99, :hold_total, :hold_max, :hold_samples,"
    " :threads, :holders)", error);
  int rc;

  if (objects == NULL || insert == NULL)
    return FALSE;
  count_users (an);
  while ((rc = sqlite3_step (objects)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (objects, 0);
      Object *object = object_for (an, id);
      WeftMetricsWaits waits = { 0 };

      if (object->wait_ns != NULL)
        waits = weft_metrics_waits ((gint64 *) object->wait_ns->data, object->wait_ns->len);
      sqlite3_bind_int64 (insert, 1, id);
      sqlite3_bind_int64 (insert, 2, object->acquisitions);
      sqlite3_bind_int64 (insert, 3, MAX (object->contentions, waits.waits));
      sqlite3_bind_int64 (insert, 4, waits.waits);
      sqlite3_bind_int64 (insert, 5, waits.total_ns);
      sqlite3_bind_int64 (insert, 6, waits.max_ns);
      sqlite3_bind_int64 (insert, 7, waits.p50_ns);
      sqlite3_bind_int64 (insert, 8, waits.p90_ns);
      sqlite3_bind_int64 (insert, 9, waits.p99_ns);
      sqlite3_bind_int64 (insert, 10, object->hold_total_ns);
      sqlite3_bind_int64 (insert, 11, object->hold_max_ns);
      sqlite3_bind_int64 (insert, 12, object->hold_samples);
      sqlite3_bind_int64 (insert, 13, object->threads);
      sqlite3_bind_int64 (insert, 14, object->holders);
      if (!step_insert (an, insert, error))
        {
          sqlite3_reset (objects);
          return FALSE;
        }
    }
  return weft_metrics_query_done (an->trace, objects, rc, error);
}

/* Writes a table of sums (weft_metrics_sums_new); with_max for blocking,
 * which has wait_max_ns. */
static gboolean
write_sums (Analysis    *an,
            GHashTable  *sums,
            const char  *sql,
            gboolean     with_max,
            GError     **error)
{
  sqlite3_stmt *stmt = prepare (an, sql, error);
  GHashTableIter iter;
  gpointer key, value;
  int column;

  if (stmt == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, sums);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const WeftMetricsKey *ids = key;
      const WeftMetricsSum *sum = value;

      sqlite3_bind_int64 (stmt, 1, ids->a);
      sqlite3_bind_int64 (stmt, 2, ids->b);
      column = 3;
      if (with_max)
        sqlite3_bind_int64 (stmt, column++, ids->c);
      sqlite3_bind_int64 (stmt, column++, sum->count);
      sqlite3_bind_int64 (stmt, column++, sum->total_ns);
      if (with_max)
        sqlite3_bind_int64 (stmt, column++, sum->max_ns);
      if (!step_insert (an, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
write_object_tables (Analysis  *an,
                     GError   **error)
{
  return write_lock_stats (an, error)
         && write_sums (an, an->stacks,
                        "INSERT INTO @.lock_stacks (object_id, stack_id, waits, wait_total_ns)"
                        " VALUES (:object, :stack, :waits, :wait_total)", FALSE, error)
         && write_sums (an, an->blocking,
                        "INSERT INTO @.blocking (waiter_thread_id, holder_thread_id, object_id,"
                        " waits, wait_total_ns, wait_max_ns)"
                        " VALUES (:waiter, :holder, :object, :waits, :wait_total, :wait_max)",
                        TRUE, error);
}

/* Running it */

static void
analysis_clear (Analysis *an)
{
  g_clear_pointer (&an->threads, g_ptr_array_unref);
  g_clear_pointer (&an->thread_index, g_free);
  g_clear_pointer (&an->threads_by_id, g_hash_table_unref);
  g_clear_pointer (&an->gil_objects, g_hash_table_unref);
  g_clear_pointer (&an->objects, g_hash_table_unref);
  g_clear_pointer (&an->blocking, g_hash_table_unref);
  g_clear_pointer (&an->stacks, g_hash_table_unref);
  g_clear_pointer (&an->users, g_hash_table_unref);
  g_clear_pointer (&an->transitions, g_array_unref);
  g_clear_pointer (&an->granularity, g_array_unref);
  g_clear_pointer (&an->bursts, weft_metrics_bursts_free);
}

/* The derived tables are written as appends of a gigabyte or more: a page
 * cache larger than SQLite's 2 MB default keeps their b-trees' inner pages
 * and the free-list in memory. restore_cache() puts the old size back. */
static gboolean
set_cache (Analysis  *an,
           GError   **error)
{
  g_autofree char *get = g_strdup_printf ("PRAGMA %s.cache_size", an->schema);
  g_autofree char *set = g_strdup_printf ("PRAGMA %s.cache_size = -%d", an->schema, ANALYSIS_CACHE_KIB);

  return query_int (an, get, &an->old_cache_size, error)
         && weft_trace_exec (an->trace, set, error)
         && (an->cache_set = TRUE);
}

static void
restore_cache (Analysis *an)
{
  g_autofree char *sql = g_strdup_printf ("PRAGMA %s.cache_size = %" G_GINT64_FORMAT,
                                          an->schema, an->old_cache_size);

  if (an->cache_set)
    weft_trace_exec (an->trace, sql, NULL);
}

static gboolean
analyse (Analysis  *an,
         GError   **error)
{
  an->threads = g_ptr_array_new_with_free_func (thread_free);
  an->gil_objects = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  an->objects = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, object_free);
  an->blocking = weft_metrics_sums_new ();
  an->stacks = weft_metrics_sums_new ();
  an->users = weft_metrics_keys_new ();
  an->transitions = g_array_new (FALSE, FALSE, sizeof (guint64));
  an->granularity = g_array_new (FALSE, FALSE, sizeof (WeftMetricsGranularity));
  an->bursts = weft_metrics_bursts_new ();

  an->phase_start_us = g_get_monotonic_time ();
  return set_cache (an, error)
         && reset_derived_tables (an, error) && phase_done (an, "dropping the old tables")
         && load_bounds (an, error)
         && load_threads (an, error)
         && load_gil_objects (an, error)
         && weft_metrics_bursts_add_processes (an->bursts, an->trace, error)
         && load_slices (an, error) && phase_done (an, "reading cpu_slices")
         && (widen_lives (an), TRUE)
         && load_waits (an, error) && phase_done (an, "reading waits")
         && load_object_stats (an, error)
         && write_thread_states (an, error) && phase_done (an, "writing thread_states")
         && write_profile (an, error) && phase_done (an, "writing the profile")
         && write_thread_summary (an, error)
         && write_granularity (an, error)
         && write_object_tables (an, error) && phase_done (an, "writing the summaries");
}

static gboolean
journal_is_off (WeftTrace  *trace,
                const char *schema)
{
  g_autofree char *sql = g_strdup_printf ("PRAGMA %s.journal_mode", schema);
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, NULL);
  gboolean off = FALSE;

  if (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    off = g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "off") == 0;
  if (stmt != NULL)
    sqlite3_reset (stmt);
  return off;
}

/* After a failure: no half-filled derived tables and no claim that the
 * analysis ran. A trace written with journal_mode OFF (weft_trace_create)
 * cannot roll back, so the tables are emptied instead. Best effort: the
 * first error is the one reported. */
static void
undo (Analysis *an)
{
  gboolean main_schema = strcmp (an->schema, "main") == 0;

  if (sqlite3_get_autocommit (weft_trace_get_db (an->trace)))
    return;
  if (!journal_is_off (an->trace, an->schema))
    {
      weft_trace_exec (an->trace, "ROLLBACK", NULL);
      return;
    }
  reset_derived_tables (an, NULL);
  if (main_schema)
    weft_trace_exec (an->trace, "DELETE FROM meta WHERE key = 'analysis_version'", NULL);
  weft_trace_exec (an->trace, "COMMIT", NULL);
}

static gboolean
run (WeftTrace   *trace,
     const char  *schema,
     GError     **error)
{
  Analysis an = { .trace = trace, .schema = schema };
  gboolean main_schema = strcmp (schema, "main") == 0;
  gboolean ok;

  g_return_val_if_fail (trace != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!sqlite3_get_autocommit (weft_trace_get_db (trace)))
    {
      g_set_error (error, WEFT_TRACE_ERROR, WEFT_TRACE_ERROR_SQL,
                   "%s: the analysis needs a connection outside any transaction",
                   weft_trace_get_path (trace));
      return FALSE;
    }
  if (!weft_trace_exec (trace, main_schema ? "BEGIN IMMEDIATE" : "BEGIN", error))
    return FALSE;
  ok = analyse (&an, error);
  if (ok && main_schema)
    ok = weft_trace_set_meta_int (trace, "analysis_version", WEFT_ANALYSIS_VERSION, error)
         && weft_trace_set_meta_int (trace, "analysis_anomalies", an.anomalies, error);
  analysis_clear (&an);
  if (ok)
    ok = weft_trace_exec (trace, "COMMIT", error);
  if (!ok)
    undo (&an);
  restore_cache (&an);
  return ok;
}

gboolean
weft_analysis_run (WeftTrace  *trace,
                   GError    **error)
{
  return run (trace, "main", error);
}

gboolean
weft_analysis_run_scratch (WeftTrace  *trace,
                           GError    **error)
{
  return run (trace, "temp", error);
}

gboolean
weft_analysis_is_current (WeftTrace *trace)
{
  gint64 version = 0;

  return weft_trace_get_meta_int (trace, "analysis_version", &version) && version == WEFT_ANALYSIS_VERSION;
}
