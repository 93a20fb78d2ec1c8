/* weft-text.h — text for the terminal, shared by the commands that print
 * what a trace says (`weft info`, `weft report`). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Makes untrusted text (thread names, symbols, paths, messages that quote
 * them) safe for a terminal: C0 and C1 control characters, DEL, the line and
 * paragraph separators and the Unicode bidirectional controls (which reorder
 * what the reader sees) become visible escapes (\xNN, \uNNNN); bytes that are
 * not UTF-8 become \xNN. text may be NULL (returns ""). Returns a new string. */
char *weft_text_escape          (const char *text);

/* A duration in the largest unit that keeps it readable: "840 ns",
 * "12.5 µs", "3.1 ms", "1.02 s", "2 min 3.0 s", "1 h 4 min". Negative
 * durations are shown in ns with a note. Returns a new string. */
char *weft_text_format_duration (gint64      ns);

G_END_DECLS
