/* weft-export-collapsed.c — where threads waited for locks, as folded stacks
 * (weft-export.h, docs/export.md).
 *
 * The waits are summed per (stack, object) in SQL; each stack is read once
 * and folded outermost first (stack_frames depth 0 is the innermost), the
 * object the thread waited for is the last frame, and lines that fold to the
 * same text after sanitizing are merged. The weights are the waits'
 * durations in ns, so the lines add up to the total lock wait of the trace.
 */
#include <string.h>

#include "weft-export.h"

char *
weft_export_frame_name (const char *name)
{
  g_autofree char *valid = NULL;
  GString *out;

  if (name == NULL || name[0] == '\0')
    return g_strdup ("[unknown]");
  valid = g_utf8_make_valid (name, -1);
  out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == ';' || g_unichar_isspace (c) || g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, '_');
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

/* The frames of a stack, outermost first, joined by ';' (each sanitized). */
static char *
fold_stack (WeftTrace  *trace,
            gint64      stack_id,
            GError    **error)
{
  static const char sql[] =
    "SELECT f.function, f.module, f.address FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id"
    " WHERE sf.stack_id = :stack ORDER BY sf.depth DESC";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  g_autoptr(GString) folded = g_string_new (NULL);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, stack_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *function = (const char *) sqlite3_column_text (stmt, 0);
      const char *module = (const char *) sqlite3_column_text (stmt, 1);
      g_autofree char *base = module != NULL ? g_path_get_basename (module) : g_strdup ("?");
      g_autofree char *unknown = NULL;
      g_autofree char *frame = NULL;

      if (function == NULL)
        unknown = g_strdup_printf ("%s+0x%" G_GINT64_MODIFIER "x", base, (guint64) sqlite3_column_int64 (stmt, 2));
      frame = weft_export_frame_name (function != NULL ? function : unknown);
      if (folded->len > 0)
        g_string_append_c (folded, ';');
      g_string_append (folded, frame);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      weft_trace_sql_error (trace, sql, error);
      return NULL;
    }
  if (folded->len == 0)
    g_string_append (folded, "[no_frames]");
  return g_string_free (g_steal_pointer (&folded), FALSE);
}

/* "[kind name]" or "[kind at 0x…]", sanitized. */
static char *
object_frame (sqlite3_stmt *stmt)
{
  const char *wait_kind = (const char *) sqlite3_column_text (stmt, 5);
  const char *kind = (const char *) sqlite3_column_text (stmt, 2);
  const char *name = (const char *) sqlite3_column_text (stmt, 3);
  g_autofree char *label = NULL;

  if (kind == NULL)
    label = g_strdup_printf ("[%s]", wait_kind);
  else if (name != NULL && name[0] != '\0')
    label = g_strdup_printf ("[%s %s]", kind, name);
  else
    label = g_strdup_printf ("[%s at 0x%" G_GINT64_MODIFIER "x]", kind, (guint64) sqlite3_column_int64 (stmt, 4));
  return weft_export_frame_name (label);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

gboolean
weft_export_collapsed (WeftTrace  *trace,
                       GString    *out,
                       GError    **error)
{
  static const char sql[] =
    "SELECT w.stack_id, w.object_id, o.kind, o.name, o.address, w.kind, sum(w.end_ns - w.start_ns)"
    " FROM waits w LEFT JOIN objects o ON o.id = w.object_id"
    " WHERE w.kind IN ('mutex', 'rdlock', 'wrlock', 'spin', 'sem') OR o.kind = 'gil'"
    " GROUP BY w.stack_id, w.object_id, w.kind";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  g_autoptr(GHashTable) stacks = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(GHashTable) lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) keys = NULL;
  GHashTableIter iter;
  gpointer key, value;
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 stack_id = sqlite3_column_int64 (stmt, 0);
      gint64 wait_ns = sqlite3_column_int64 (stmt, 6);
      g_autofree char *object = object_frame (stmt);
      const char *folded = "[no_stack]";
      char *line;
      gint64 *sum;

      if (wait_ns <= 0)
        continue;
      if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
        {
          folded = g_hash_table_lookup (stacks, &stack_id);
          if (folded == NULL)
            {
              /* fold_stack uses another statement: this one stays on its row. */
              char *made = fold_stack (trace, stack_id, error);

              if (made == NULL)
                {
                  sqlite3_reset (stmt);
                  return FALSE;
                }
              g_hash_table_insert (stacks, g_memdup2 (&stack_id, sizeof stack_id), made);
              folded = made;
            }
        }
      line = g_strdup_printf ("%s;%s", folded, object);
      sum = g_hash_table_lookup (lines, line);
      if (sum == NULL)
        g_hash_table_insert (lines, line, g_memdup2 (&wait_ns, sizeof wait_ns));
      else
        {
          *sum += wait_ns;
          g_free (line);
        }
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);

  keys = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, lines);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_ptr_array_add (keys, key);
  g_ptr_array_sort (keys, compare_strings);
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (out, "%s %" G_GINT64_FORMAT "\n", (const char *) keys->pdata[i],
                            *(gint64 *) g_hash_table_lookup (lines, keys->pdata[i]));
  return TRUE;
}
