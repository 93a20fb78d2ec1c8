/* weft-text.c — text for the terminal (weft-text.h). */
#include "weft-text.h"

char *
weft_text_escape (const char *text)
{
  GString *out = g_string_new (NULL);
  const char *p = text != NULL ? text : "";

  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guint8) *p);
          p++;
          continue;
        }
      if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else if ((c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029
               || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

char *
weft_text_format_duration (gint64 ns)
{
  double seconds = ns / 1e9;

  if (ns < 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " ns (negative: clock error?)", ns);
  if (ns < 1000)
    return g_strdup_printf ("%" G_GINT64_FORMAT " ns", ns);
  if (ns < 1000000)
    return g_strdup_printf ("%.1f µs", ns / 1e3);
  if (ns < 1000000000)
    return g_strdup_printf ("%.1f ms", ns / 1e6);
  if (seconds < 60)
    return g_strdup_printf ("%.2f s", seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%d min %.1f s", (int) (seconds / 60), seconds - 60 * (int) (seconds / 60));
  return g_strdup_printf ("%d h %d min", (int) (seconds / 3600), (int) (seconds / 60) % 60);
}
