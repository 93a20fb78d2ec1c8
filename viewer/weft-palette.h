/* weft-palette.h — the viewer's colours, one definition (tests read it too).
 *
 * One colour per thread state (DESIGN.md, "Metrics"), the same in the
 * concurrency chart, the thread lanes and the legend:
 *
 *   running   green       on a CPU
 *   runnable  orange      wants a CPU (not enough cores, preempted)
 *   lock      red         waiting for a mutex, rwlock, spinlock, semaphore, GIL
 *   sync      purple      condition variable, barrier, join
 *   io        blue        poll, select, epoll
 *   sleep     light grey  in a sleep call (not part of concurrency)
 *   blocked   dark grey   off CPU elsewhere in the kernel
 *
 * CPU lanes are coloured by thread instead (weft_palette_thread()), with the
 * same colour as the swatch in front of the thread's label.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  WEFT_STATE_RUNNING,
  WEFT_STATE_RUNNABLE,
  WEFT_STATE_LOCK,
  WEFT_STATE_SYNC,
  WEFT_STATE_IO,
  WEFT_STATE_SLEEP,
  WEFT_STATE_BLOCKED,
  WEFT_N_STATES,
  WEFT_STATE_NONE = 255,  /* not alive (before creation, after exit) */
} WeftState;

typedef struct
{
  guint8 r, g, b;
} WeftRgb;

/* Indexed by WeftState. */
static const WeftRgb weft_palette_states[WEFT_N_STATES] = {
  [WEFT_STATE_RUNNING]  = { 0x3a, 0xa5, 0x4a },
  [WEFT_STATE_RUNNABLE] = { 0xf0, 0x9a, 0x1c },
  [WEFT_STATE_LOCK]     = { 0xd9, 0x32, 0x2b },
  [WEFT_STATE_SYNC]     = { 0x8e, 0x44, 0xad },
  [WEFT_STATE_IO]       = { 0x2f, 0x75, 0xc8 },
  [WEFT_STATE_SLEEP]    = { 0xcf, 0xd2, 0xd6 },
  [WEFT_STATE_BLOCKED]  = { 0x55, 0x5a, 0x61 },
};

static const char * const weft_state_names[WEFT_N_STATES] = {
  "running", "runnable", "lock", "sync", "io", "sleep", "blocked",
};

/* Colour of the line at the CPU count in the concurrency chart. */
static const WeftRgb weft_palette_cpu_line = { 0x20, 0x20, 0x20 };

/* Colour of thread number index (its position in the viewer's thread list):
 * hues spread by the golden angle so neighbours differ. */
static inline WeftRgb
weft_palette_thread (guint index)
{
  double h = (index * 0.618033988749895);
  double s = 0.55, v = 0.80;
  double f, p, q, t, r, g, b;
  int i;

  h = (h - (int) h) * 6.0;
  i = (int) h;
  f = h - i;
  p = v * (1 - s);
  q = v * (1 - s * f);
  t = v * (1 - s * (1 - f));
  switch (i % 6)
    {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
    }
  return (WeftRgb) { (guint8) (r * 255), (guint8) (g * 255), (guint8) (b * 255) };
}

G_END_DECLS
