/* weft-gil.h — recognizes the CPython GIL in a trace and makes it one object.
 *
 * The agent sees the GIL as what it is made of: a condition variable and a
 * mutex (and, with FORCE_SWITCHING, a second pair) inside the data symbol
 * _PyRuntime, so a raw trace has objects named `_PyRuntime+0x188` and so on,
 * and a thread that waits for the GIL leaves one timed cond wait per switch
 * interval (5 ms). This pass turns each process's GIL into the one object
 * `GIL` of kind 'gil' and each take_gil loop into one wait of kind 'gil'.
 * How it decides, and how it fails, is in docs/gil.md.
 */
#pragma once

#include <glib.h>

#include "weft-trace.h"

G_BEGIN_DECLS

/* What one run of the pass did, summed over the processes of the trace. */
typedef struct
{
  guint   processes;     /* processes whose GIL was recognized */
  guint64 raw_waits;     /* waits on the GIL's parts before merging */
  guint64 gil_waits;     /* waits of kind 'gil' they were merged into */
  guint64 timeouts;      /* switch-interval timeouts among the raw waits */
  guint64 holders;       /* gil waits whose holder is known */
} WeftGilSummary;

/* Finds, in every process of the trace whose objects have `_PyRuntime+0x…`
 * names, the CPython version (from the file that holds _PyRuntime: its name,
 * and its Py_Version symbol when it has one), looks up where that version
 * keeps its GIL, checks the trace agrees (the cond's waits pass the GIL mutex
 * that must sit next to it) and only then merges: objects, object_stats and
 * waits are rewritten in place. A process whose Python is unknown, or whose
 * trace disagrees with the known layout while it shows something GIL-like,
 * keeps its raw objects and gets one line in `warnings` (a GPtrArray of
 * newly allocated strings, may be NULL).
 *
 * Needs the raw tables complete (objects, object_stats, modules, waits,
 * cpu_slices); the derived tables, if any, must be rebuilt afterwards. Runs
 * in the caller's transaction if there is one (call it inside one: it
 * updates a row per raw GIL wait). Idempotent: a trace already merged is
 * left as it is. summary may be NULL. Returns FALSE with error set when a
 * statement fails; the trace may then be half-merged, so the caller should
 * roll back. */
gboolean weft_gil_recognize (WeftTrace      *trace,
                             GPtrArray      *warnings,
                             WeftGilSummary *summary,
                             GError        **error);

/* CPython version of a module file. A name like python3.N or
 * libpython3.N.so… gives major.minor; Py_Version, where the file exports it
 * (3.11+), must agree with it, gives the micro version (-1 when unknown),
 * and alone places a file whose name says nothing (python, python3, a
 * program that embeds Python). FALSE when neither tells, when they
 * disagree, and for a name that marks another build (3.13t free-threaded,
 * 3.11d debug). */
gboolean weft_gil_python_version (const char *path,
                                  gint       *major,
                                  gint       *minor,
                                  gint       *micro);

G_END_DECLS
