/* weft-report-output.c — how a report or an export reaches its reader
 * (weft-report.h): the escaping of untrusted text for JSON, CSV and HTML,
 * shared by `weft report` and `weft export`, and the writing of a finished
 * text to stdout or, atomically, to a file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "weft-report.h"
#include "weft-text.h"

void
weft_report_append_json_string (GString    *out,
                                const char *text)
{
  const char *p = text != NULL ? text : "";

  g_string_append_c (out, '"');
  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\\ufffd");
          p++;
          continue;
        }
      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_len (out, p, g_utf8_next_char (p) - p);
        }
      p = g_utf8_next_char (p);
    }
  g_string_append_c (out, '"');
}

/* Invalid UTF-8 becomes U+FFFD; everything else is kept, so a field parses
 * back to the program's own text. */
static char *
valid_utf8 (const char *text)
{
  return g_utf8_make_valid (text, -1);
}

void
weft_report_append_csv_text (GString    *out,
                             const char *text)
{
  g_autofree char *valid = valid_utf8 (text != NULL ? text : "");
  const char *p = valid;
  gboolean quote = strpbrk (valid, ",\"\r\n") != NULL;

  /* A spreadsheet runs a cell that begins with one of these as a formula:
   * a leading ' makes it text (OWASP's advice for CSV injection). */
  if (strchr ("=+-@\t\r", valid[0]) != NULL && valid[0] != '\0')
    {
      quote = TRUE;
      g_string_append (out, "\"'");
    }
  else if (quote)
    g_string_append_c (out, '"');
  for (; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  if (quote)
    g_string_append_c (out, '"');
}

void
weft_report_append_html (GString    *out,
                         const char *text)
{
  /* Control characters, bidirectional overrides and bytes that are not
   * UTF-8 become the same visible escapes as on a terminal first; they are
   * not allowed in XML and would otherwise hide or reorder what is shown. */
  g_autofree char *visible = weft_text_escape (text);

  for (const char *p = visible; *p != '\0'; p++)
    switch (*p)
      {
      case '&': g_string_append (out, "&amp;"); break;
      case '<': g_string_append (out, "&lt;"); break;
      case '>': g_string_append (out, "&gt;"); break;
      case '"': g_string_append (out, "&quot;"); break;
      case '\'': g_string_append (out, "&#39;"); break;
      default: g_string_append_c (out, *p);
      }
}

gboolean
weft_report_same_file (const char *a,
                       const char *b)
{
  struct stat st_a, st_b;

  return stat (a, &st_a) == 0 && stat (b, &st_b) == 0
         && st_a.st_dev == st_b.st_dev && st_a.st_ino == st_b.st_ino;
}

gboolean
weft_report_write_out (const char     *output,
                       const GString  *text,
                       GError        **error)
{
  g_autoptr(GError) local_error = NULL;

  if (output == NULL)
    {
      if (fwrite (text->str, 1, text->len, stdout) != text->len || fflush (stdout) != 0)
        {
          int saved = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       "cannot write to stdout: %s", g_strerror (saved));
          return FALSE;
        }
      return TRUE;
    }
  /* A temporary file beside OUT, renamed over it once complete. GLib's
   * error names that temporary file; the user named OUT. */
  if (!g_file_set_contents_full (output, text->str, text->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0666, &local_error))
    {
      g_autofree char *dir = g_path_get_dirname (output);
      int code = local_error->domain == G_FILE_ERROR ? local_error->code : -1;

      if (code == G_FILE_ERROR_NOENT)
        g_set_error (error, G_FILE_ERROR, code, "cannot write %s: no directory %s", output, dir);
      else if (code == G_FILE_ERROR_ACCES || code == G_FILE_ERROR_ROFS || code == G_FILE_ERROR_NOSPC)
        g_set_error (error, G_FILE_ERROR, code, "cannot write %s: %s", output,
                     code == G_FILE_ERROR_ACCES ? "permission denied"
                     : code == G_FILE_ERROR_ROFS ? "read-only file system" : "no space left on device");
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}
