/* weft-cmd-info.c — `weft info FILE`: a trace's header facts and table sizes.
 *
 * Reads only the meta table and one count per table, so it answers at once on
 * a trace of any size and is the quick way to check that a file is a sound
 * trace. Everything read from the trace is untrusted text and is escaped
 * before it reaches the terminal.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "weft-commands.h"
#include "weft-text.h"
#include "weft-trace.h"

#define LABEL_WIDTH 14

typedef struct
{
  gboolean   help;
  char     **files;  /* G_OPTION_REMAINING */
} InfoOptions;

/* The tables whose sizes are shown, in the order of the data flow. */
static const char * const counted_tables[] = {
  "processes", "threads", "objects", "waits", "cpu_slices", "stacks", "frames",
};

/* meta keys shown in the header; any other key is listed after them. */
static const char * const known_meta_keys[] = {
  "weft_version", "format_version", "command", "start_ns", "start_unix_ns", "end_ns",
  "cpus", "hostname", "sched_source", "sched_period_ns", "lost_events",
  "lost_agent_events", "lost_sched_events", "root_pid", "complete",
  NULL,
};

static const char info_description[] =
  "Prints what a trace says about itself (the recorded command, when and\n"
  "where it ran, how scheduling was observed, whether events were lost and\n"
  "whether the recording was finalized) and how many rows each table has.\n"
  "It reads no more than that, so it is quick on a trace of any size, and it\n"
  "is the way to check that a file is a sound weft trace: a file that is not\n"
  "one, or is truncated, or comes from a newer weft, gets a one-line reason\n"
  "and exit status 1.\n"
  "\n"
  "Example:\n"
  "  $ weft record -o build.db -- make -j4\n"
  "  $ weft info build.db\n"
  "  trace         build.db (3.1 MB)\n"
  "  command       make -j4\n"
  "  recorded by   weft 0.1.0, trace format 1\n"
  "  started       2026-11-25 09:14:03 UTC (CLOCK_MONOTONIC 8052417795112 ns)\n"
  "  duration      12.41 s\n"
  "  cpus          4\n"
  "  host          buildbox\n"
  "  scheduling    perf: exact context switches\n"
  "  lost events   0\n"
  "  complete      yes\n"
  "\n"
  "  rows\n"
  "    processes      37\n"
  "    threads        52\n"
  "    objects        12\n"
  "    waits        4318\n"
  "    cpu_slices  91270\n"
  "    stacks        211\n"
  "    frames        640\n"
  "\n"
  "Exit status: 0 when the trace was read, 1 when it could not be, 2 on a\n"
  "usage error. Query the trace further with sqlite3(1): every table and\n"
  "column is described in its schema (sqlite3 build.db .schema).";

static void
print_fact (const char *label,
            const char *value)
{
  g_autofree char *safe = weft_text_escape (value);

  printf ("%-*s %s\n", LABEL_WIDTH - 1, label, safe);
}

/* Parses a whole decimal integer; untrusted text may be anything. */
static gboolean
parse_int (const char *text,
           gint64     *value)
{
  return text != NULL && g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, value, NULL);
}

static void
print_time_facts (WeftTrace *trace)
{
  g_autofree char *start = weft_trace_get_meta (trace, "start_ns");
  g_autofree char *start_unix = weft_trace_get_meta (trace, "start_unix_ns");
  g_autofree char *end = weft_trace_get_meta (trace, "end_ns");
  gint64 start_ns, start_unix_ns, end_ns;

  if (parse_int (start, &start_ns))
    {
      g_autofree char *when = NULL;
      g_autofree char *line = NULL;

      /* Wall-clock time when the trace has it; else all we know is the
       * machine's uptime at the start. */
      if (parse_int (start_unix, &start_unix_ns))
        {
          g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (start_unix_ns / 1000000000);

          when = date != NULL ? g_date_time_format (date, "%Y-%m-%d %H:%M:%S UTC") : NULL;
        }
      if (when == NULL)
        {
          g_autofree char *since_boot = weft_text_format_duration (start_ns);

          when = g_strdup_printf ("%s after boot", since_boot);
        }
      line = g_strdup_printf ("%s (CLOCK_MONOTONIC %" G_GINT64_FORMAT " ns)", when, start_ns);
      print_fact ("started", line);
    }
  else
    print_fact ("started", start != NULL ? start : "(not recorded)");

  if (parse_int (start, &start_ns) && parse_int (end, &end_ns))
    {
      g_autofree char *duration = weft_text_format_duration (end_ns - start_ns);
      print_fact ("duration", duration);
    }
  else
    print_fact ("duration", "unknown (no end time: the recording did not finish)");
}

static void
print_sched_fact (WeftTrace *trace)
{
  g_autofree char *source = weft_trace_get_meta (trace, "sched_source");
  g_autofree char *period = weft_trace_get_meta (trace, "sched_period_ns");
  gint64 period_ns;

  if (g_strcmp0 (source, "perf") == 0)
    print_fact ("scheduling", "perf: exact context switches");
  else if (g_strcmp0 (source, "proc") == 0 && parse_int (period, &period_ns) && period_ns > 0)
    {
      g_autofree char *every = weft_text_format_duration (period_ns);
      g_autofree char *line = g_strdup_printf ("proc: /proc sampled every %s "
                                               "(on-CPU times are approximate to that)", every);
      print_fact ("scheduling", line);
    }
  else if (g_strcmp0 (source, "proc") == 0)
    print_fact ("scheduling", "proc: /proc sampling (period not recorded; approximate)");
  else
    print_fact ("scheduling", source != NULL ? source : "(not recorded)");
}

static void
print_header (WeftTrace  *trace,
              const char *path)
{
  g_autofree char *command = weft_trace_get_meta (trace, "command");
  g_autofree char *version = weft_trace_get_meta (trace, "weft_version");
  g_autofree char *format = weft_trace_get_meta (trace, "format_version");
  g_autofree char *cpus = weft_trace_get_meta (trace, "cpus");
  g_autofree char *host = weft_trace_get_meta (trace, "hostname");
  g_autofree char *lost = weft_trace_get_meta (trace, "lost_events");
  g_autofree char *complete = weft_trace_get_meta (trace, "complete");
  g_autofree char *shown_path = g_filename_display_name (path);
  g_autofree char *trace_line = NULL;
  g_autofree char *recorded_by = NULL;
  gint64 lost_count;
  struct stat st;

  if (stat (path, &st) == 0)
    {
      g_autofree char *formatted = g_format_size (st.st_size);
      GString *size = g_string_new (formatted);

      /* g_format_size separates with a no-break space; a plain one reads the
       * same and survives a non-UTF-8 terminal. */
      g_string_replace (size, "\u00a0", " ", 0);
      trace_line = g_strdup_printf ("%s (%s)", shown_path, size->str);
      g_string_free (size, TRUE);
    }
  print_fact ("trace", trace_line != NULL ? trace_line : shown_path);
  print_fact ("command", command != NULL ? command : "(not recorded)");

  recorded_by = g_strdup_printf ("weft %s, trace format %s",
                                 version != NULL ? version : "(unknown version)",
                                 format != NULL ? format : "(not recorded)");
  print_fact ("recorded by", recorded_by);

  print_time_facts (trace);
  print_fact ("cpus", cpus != NULL ? cpus : "(not recorded)");
  print_fact ("host", host != NULL ? host : "(not recorded)");
  print_sched_fact (trace);

  if (parse_int (lost, &lost_count) && lost_count > 0)
    {
      g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT " (events are missing: "
                                               "see threads.lost_events)", lost_count);
      print_fact ("lost events", line);
    }
  else
    print_fact ("lost events", lost != NULL ? lost : "(not recorded)");

  if (g_strcmp0 (complete, "1") == 0)
    print_fact ("complete", "yes");
  else
    print_fact ("complete", "no: not finalized (recording interrupted or still running); "
                            "states and summaries may be missing");
}

/* meta keys this weft does not know (a newer writer's, or a user's). */
static gboolean
print_other_meta (WeftTrace  *trace,
                  GError    **error)
{
  static const char sql[] = "SELECT key, value FROM meta ORDER BY key";
  sqlite3_stmt *stmt = weft_trace_prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *key = (const char *) sqlite3_column_text (stmt, 0);
      const char *value = (const char *) sqlite3_column_text (stmt, 1);
      g_autofree char *safe_key = NULL;

      if (key == NULL || g_strv_contains (known_meta_keys, key))
        continue;
      safe_key = weft_text_escape (key);
      print_fact (safe_key, value != NULL ? value : "NULL");
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return weft_trace_sql_error (trace, sql, error);
  return TRUE;
}

/* Counts come first, then print: an error leaves no half table on stdout.
 * cpu_slices has no INTEGER PRIMARY KEY: count(*) walks its smallest index,
 * reading page headers only (~75 ms warm for 5 million rows). */
static gboolean
print_row_counts (WeftTrace  *trace,
                  GError    **error)
{
  gint64 counts[G_N_ELEMENTS (counted_tables)];
  int name_width = 0;
  int count_width = 1;

  for (gsize i = 0; i < G_N_ELEMENTS (counted_tables); i++)
    {
      g_autofree char *digits = NULL;

      counts[i] = weft_trace_count_rows (trace, counted_tables[i], error);
      if (counts[i] < 0)
        return FALSE;
      digits = g_strdup_printf ("%" G_GINT64_FORMAT, counts[i]);
      name_width = MAX (name_width, (int) strlen (counted_tables[i]));
      count_width = MAX (count_width, (int) strlen (digits));
    }

  printf ("\nrows\n");
  for (gsize i = 0; i < G_N_ELEMENTS (counted_tables); i++)
    printf ("  %-*s  %*" G_GINT64_FORMAT "\n", name_width, counted_tables[i], count_width, counts[i]);
  return TRUE;
}

static int
fail (const char *message)
{
  g_autofree char *safe = weft_text_escape (message);

  fflush (stdout);
  fprintf (stderr, "weft info: %s\n", safe);
  return 1;
}

/* Returns -1 to go on, or the exit status (help printed, usage error). */
static int
parse_options (int           argc,
               char        **argv,
               InfoOptions  *options)
{
  const GOptionEntry entries[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, &options->help, "Show this help and exit", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->files, NULL, "FILE" },
    { NULL }
  };
  /* No parameter string: the G_OPTION_REMAINING entry adds "FILE" itself. */
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context, "Print a trace's header facts and the size of each table.");
  g_option_context_set_description (context, info_description);
  /* Our own --help: GLib's calls exit(), and a command returns its status. */
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_autofree char *safe = weft_text_escape (error->message);
      fprintf (stderr, "weft info: %s; see 'weft info --help'\n", safe);
      return 2;
    }
  if (options->help)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      fputs (help, stdout);
      return 0;
    }
  if (options->files == NULL || options->files[0] == NULL || options->files[1] != NULL)
    {
      fprintf (stderr, "weft info: expected one trace file, as in 'weft info weft.db'; "
                       "see 'weft info --help'\n");
      return 2;
    }
  return -1;
}

int
weft_cmd_info (int    argc,
               char **argv)
{
  InfoOptions options = { 0 };
  g_autoptr(WeftTrace) trace = NULL;
  g_autoptr(GError) error = NULL;
  int status = parse_options (argc, argv, &options);

  if (status >= 0)
    goto out;

  status = 1;
  trace = weft_trace_open (options.files[0], &error);
  if (trace == NULL)
    {
      fail (error->message);
      goto out;
    }
  print_header (trace, options.files[0]);
  if (!print_other_meta (trace, &error) || !print_row_counts (trace, &error))
    {
      fail (error->message);
      goto out;
    }
  status = fflush (stdout) == 0 ? 0 : fail ("cannot write the output");

out:
  g_strfreev (options.files);
  return status;
}
