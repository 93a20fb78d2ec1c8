/* weft-analysis.h — derives thread states, the concurrency profile and the
 * per-object summaries of a trace (the DERIVED TABLES of schema/weft.sql)
 * from its raw tables.
 *
 * The rules are written once, in weft.sql's comments on the derived tables
 * and in weft-analysis.c, with the figures that the report also computes for
 * a span (wait percentiles, granularity) in weft-metrics.c; the report and
 * the viewer otherwise only read the results.
 */
#pragma once

#include <glib.h>

#include "weft-trace.h"

G_BEGIN_DECLS

/* Version of the rules; stored as meta analysis_version. Bump it when a rule
 * changes, so that readers can tell an older analysis. */
#define WEFT_ANALYSIS_VERSION 2

/* The seven thread states of DESIGN.md, in the order of the profile's
 * columns. The names (weft_state_name) are the text of thread_states.state
 * and the profile's column names. */
typedef enum
{
  WEFT_STATE_RUNNING,
  WEFT_STATE_RUNNABLE,
  WEFT_STATE_LOCK,
  WEFT_STATE_SYNC,
  WEFT_STATE_IO,
  WEFT_STATE_SLEEP,
  WEFT_STATE_BLOCKED,
  WEFT_N_STATES
} WeftState;

/* "running", "runnable", …; static strings. */
const char *weft_state_name          (WeftState   state);

/* The state named name (weft_state_name); FALSE (and *state = _BLOCKED)
 * for NULL or a name the rules do not know. */
gboolean    weft_state_from_name     (const char *name,
                                      WeftState  *state);

/* The state that a wait of waits.kind puts a thread in while off CPU:
 * WEFT_STATE_LOCK, _SYNC, _IO or _SLEEP; FALSE (and *state = _BLOCKED) for
 * a kind the rules do not know. */
gboolean    weft_state_for_wait_kind (const char *kind,
                                      WeftState  *state);

/* Reads the raw tables of a complete trace and (re)writes every derived table
 * and the meta keys analysis_version and analysis_anomalies. trace must be a
 * read-write connection outside any transaction; the analysis runs in its own
 * transaction (BEGIN … COMMIT). Idempotent: the derived tables are dropped
 * and created again from weft.sql, so it also brings an older trace up to
 * date. On failure the derived tables are left empty (not half-filled) and
 * analysis_version is removed. Memory: about 40 bytes per slice and wait
 * while it runs. Not thread-safe (one WeftTrace, one thread). */
gboolean    weft_analysis_run        (WeftTrace  *trace,
                                      GError    **error);

/* The same for a read-only connection (`weft report` on a trace whose
 * analysis is missing or older): writes the derived tables as TEMP tables of
 * this connection, which shadow the trace's own for every unqualified query
 * on it, and leaves the file untouched. */
gboolean    weft_analysis_run_scratch (WeftTrace  *trace,
                                       GError    **error);

/* TRUE if the trace's derived tables were written by this version of the
 * rules (meta analysis_version == WEFT_ANALYSIS_VERSION). */
gboolean    weft_analysis_is_current (WeftTrace  *trace);

G_END_DECLS
