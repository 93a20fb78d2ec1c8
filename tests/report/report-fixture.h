/* report-fixture.h — synthetic traces with known answers, for the analysis
 * and report tests and the analysis benchmark.
 *
 * A ReportFixture is a trace being built with the schema library
 * (weft_trace_create + INSERTs). Every helper fails the test on error. Times
 * are absolute CLOCK_MONOTONIC ns; REPORT_T0_NS is the trace start the
 * helpers use, so tests write REPORT_T0_NS + offset.
 */
#pragma once

#include <glib.h>

#include "weft-trace.h"

G_BEGIN_DECLS

#define REPORT_T0_NS G_GINT64_CONSTANT (1000000000000)
#define REPORT_MS (G_GINT64_CONSTANT (1000000))
#define REPORT_S (G_GINT64_CONSTANT (1000000000))

/* Creates path (must not exist) with meta for a complete trace of
 * [REPORT_T0_NS, REPORT_T0_NS + duration_ns] on cpus CPUs, recorded with perf. */
WeftTrace *report_fixture_create  (const char *path,
                                   gint64      duration_ns,
                                   int         cpus);

void       report_fixture_exec    (WeftTrace  *trace,
                                   const char *sql);

/* Each returns the new row's id. parent_id 0 = none; end_ns 0 = NULL. */
gint64     report_fixture_process (WeftTrace  *trace,
                                   int         pid,
                                   gint64      parent_id,
                                   const char *command);
gint64     report_fixture_thread  (WeftTrace  *trace,
                                   gint64      process_id,
                                   int         tid,
                                   const char *name,
                                   gint64      start_ns,
                                   gint64      end_ns);
gint64     report_fixture_object  (WeftTrace  *trace,
                                   gint64      process_id,
                                   gint64      address,
                                   const char *kind,
                                   const char *name);
void       report_fixture_slice   (WeftTrace  *trace,
                                   gint64      thread_id,
                                   int         cpu,
                                   gint64      start_ns,
                                   gint64      end_ns,
                                   gboolean    preempted);
/* object_id and holder_thread_id 0 = NULL; stack_id 0 = NULL. */
gint64     report_fixture_wait    (WeftTrace  *trace,
                                   gint64      thread_id,
                                   gint64      object_id,
                                   const char *kind,
                                   gint64      start_ns,
                                   gint64      end_ns,
                                   gint64      holder_thread_id,
                                   gint64      stack_id);
/* A stack of the process whose frames are the given function names,
 * innermost first, NULL-terminated. */
gint64     report_fixture_stack   (WeftTrace  *trace,
                                   gint64      process_id,
                                   const char *first_function,
                                   ...) G_GNUC_NULL_TERMINATED;

/* First column of the first row of a query, as an integer (0 if no row). */
gint64     report_fixture_int     (WeftTrace  *trace,
                                   const char *sql);
double     report_fixture_double  (WeftTrace  *trace,
                                   const char *sql);

/* A large trace for timing: threads threads over duration_ns, each doing
 * cycles of a slice and, unless the slice was preempted (one in three), a
 * wait, so that slices + waits = events in total. Waits cycle through mutex
 * (4 shared objects, with holders), cond, poll and sleep. Inserted in time
 * order across threads, as the writer does. */
void       report_fixture_big     (WeftTrace  *trace,
                                   int         threads,
                                   gint64      events,
                                   gint64      duration_ns);

G_END_DECLS
