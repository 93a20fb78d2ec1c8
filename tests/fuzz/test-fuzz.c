/* test-fuzz.c — a seeded random mutator of traces.
 *
 * Each case starts from a small valid, analysed trace and damages a copy:
 * flips bytes, overwrites or zeroes a page, truncates it, or runs SQL that
 * leaves it well-formed but inconsistent (negative durations, NULLs, dangling
 * ids, overlapping slices, huge and tiny times, text where numbers belong,
 * deleted rows). The copy then goes through the schema library (open), the
 * analysis (in this process, so that AddressSanitizer sees it) and the
 * commands (report in text, json, html, csv and over a span, export, info). Nothing may crash; what
 * is refused is refused with one line naming the file and no output file.
 *
 * The seeds are fixed (case i uses seed i), so a failure is reproducible with
 * -p /fuzz/mutate/<i>. 48 cases by default, 600 under -m perf; WEFT_FUZZ_CASES
 * overrides. */
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "fuzz-run.h"
#include "weft-analysis.h"

static char *dir;
static char *good;
static char *good_data;
static gsize good_length;

static const char * const sql_mutations[] = {
  "UPDATE cpu_slices SET end_ns = start_ns - %d WHERE rowid %% %d = 0",
  "UPDATE waits SET end_ns = start_ns - %d WHERE id %% %d = 0",
  "UPDATE cpu_slices SET thread_id = thread_id + %d WHERE rowid %% %d = 0",
  "UPDATE waits SET thread_id = %d, holder_thread_id = %d",
  "UPDATE waits SET object_id = %d WHERE id %% %d = 1",
  "UPDATE waits SET stack_id = %d WHERE id %% %d = 1",
  "UPDATE waits SET kind = 'kind%d' WHERE id %% %d = 0",
  "UPDATE waits SET kind = NULL, result = NULL WHERE id %% %d = %d",
  "UPDATE cpu_slices SET start_ns = NULL WHERE rowid %% %d = %d",
  "UPDATE cpu_slices SET start_ns = -9223372036854775807 + %d, end_ns = 9223372036854775807 - %d WHERE rowid = 1",
  "UPDATE waits SET start_ns = -9223372036854775807 + %d, end_ns = 9223372036854775807 - %d WHERE id = 1",
  "UPDATE threads SET start_ns = 9223372036854775000 - %d, end_ns = -%d WHERE id %% 2 = 0",
  "UPDATE threads SET start_ns = NULL, end_ns = NULL, name = NULL WHERE id %% %d = %d",
  "UPDATE threads SET process_id = %d WHERE id %% %d = 0",
  "UPDATE threads SET id = id * %d + %d",
  "UPDATE threads SET name = x'ff00fe%02x' || zeroblob(%d)",
  "UPDATE cpu_slices SET cpu = -%d, preempted = %d",
  "UPDATE cpu_slices SET start_ns = 'soon%d', end_ns = x'%02x'",
  "UPDATE waits SET start_ns = 1.5e300 * %d, end_ns = -1.5e300 * %d",
  "INSERT INTO cpu_slices SELECT thread_id, cpu, start_ns + %d, end_ns + %d, preempted FROM cpu_slices",
  "INSERT INTO waits (thread_id, object_id, kind, start_ns, end_ns, result) SELECT thread_id, object_id, kind, start_ns + %d, end_ns + %d, result FROM waits",
  "DELETE FROM threads WHERE id %% %d = %d",
  "DELETE FROM processes WHERE id %% %d = %d",
  "DELETE FROM objects WHERE id %% %d = %d",
  "DELETE FROM frames WHERE id %% %d = %d",
  "DELETE FROM meta WHERE rowid %% %d = %d",
  "UPDATE meta SET value = CASE key WHEN 'start_ns' THEN 9223372036854775807 - %d WHEN 'end_ns' THEN -%d ELSE value END",
  "UPDATE meta SET value = 'x%d' WHERE key IN ('start_ns', 'end_ns', 'cpus', 'lost_events') AND %d",
  "UPDATE meta SET value = %d * 1000000 WHERE key = 'cpus' OR key = 'complete' OR %d",
  "UPDATE processes SET parent_id = id + %d, pid = -%d",
  "UPDATE stacks SET depth = %d * 100000, process_id = %d",
  "UPDATE stack_frames SET frame_id = frame_id + %d, depth = depth * %d",
  "UPDATE object_stats SET acquisitions = -%d, hold_ns = 9223372036854775807 - %d",
  "DELETE FROM thread_states WHERE rowid %% %d = %d",
  "UPDATE profile SET running = -%d, end_ns = start_ns - %d",
  "UPDATE profile_summary SET running = %d * 1000000000, time_ns = -%d",
  "UPDATE lock_stats SET waits = -%d, wait_p50_ns = NULL, object_id = object_id + %d",
  "DROP TABLE profile_summary; SELECT %d, %d",
  "DROP TABLE thread_states; SELECT %d, %d",
  "UPDATE meta SET value = 1 WHERE key = 'analysis_version' AND %d <> %d",
};

typedef enum
{
  MUTATE_BYTES,
  MUTATE_PAGE,
  MUTATE_TRUNCATE,
  MUTATE_SQL,
  MUTATE_SQL_TWICE,
  N_MUTATIONS,
} Mutation;

static void
write_file (const char *path,
            const char *data,
            gsize       length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
}

static void
mutate_sql (const char *path,
            GRand      *rand)
{
  const char *format = sql_mutations[g_rand_int_range (rand, 0, G_N_ELEMENTS (sql_mutations))];
  int a = g_rand_int_range (rand, 1, 1000), b = g_rand_int_range (rand, 1, 7);
  g_autofree char *sql = NULL;
  sqlite3 *db = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  sql = g_strdup_printf (format, a, b);
#pragma GCC diagnostic pop
  g_test_message ("sql: %s", sql);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  /* Constraints may refuse a mutation (NOT NULL, primary keys): fine. */
  sqlite3_exec (db, sql, NULL, NULL, NULL);
  sqlite3_close (db);
}

static void
mutate (const char *path,
        guint       seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autofree char *data = g_memdup2 (good_data, good_length);
  Mutation mutation = g_rand_int_range (rand, 0, N_MUTATIONS);
  gsize page_bytes = 4096, pages = good_length / page_bytes;

  switch (mutation)
    {
    case MUTATE_BYTES:
      for (int n = g_rand_int_range (rand, 1, 40); n > 0; n--)
        {
          /* Mostly past the 100-byte header, which open checks by itself. */
          gsize at = g_rand_int_range (rand, 0, 8) == 0 ? g_rand_int_range (rand, 0, 100)
                                                       : g_rand_int_range (rand, 100, good_length);

          data[at] ^= 1 << g_rand_int_range (rand, 0, 8);
        }
      g_test_message ("flipped bits");
      write_file (path, data, good_length);
      break;
    case MUTATE_PAGE:
      {
        gsize page = g_rand_int_range (rand, 0, pages);
        gboolean zero = g_rand_boolean (rand);

        for (gsize i = page * page_bytes + (page == 0 ? 100 : 0); i < (page + 1) * page_bytes; i++)
          data[i] = zero ? 0 : (char) g_rand_int (rand);
        g_test_message ("%s page %" G_GSIZE_FORMAT, zero ? "zeroed" : "scrambled", page);
        write_file (path, data, good_length);
      }
      break;
    case MUTATE_TRUNCATE:
      {
        gsize length = g_rand_int_range (rand, 0, good_length);

        g_test_message ("truncated to %" G_GSIZE_FORMAT " bytes", length);
        write_file (path, data, length);
      }
      break;
    case MUTATE_SQL:
    case MUTATE_SQL_TWICE:
      write_file (path, data, good_length);
      mutate_sql (path, rand);
      if (mutation == MUTATE_SQL_TWICE)
        mutate_sql (path, rand);
      break;
    case N_MUTATIONS:
      g_assert_not_reached ();
    }
}

/* The library, in this process: open, then a scratch analysis. */
static void
check_library (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_path_get_basename (path);
  WeftTrace *trace = weft_trace_open (path, &error);

  if (trace != NULL)
    {
      weft_analysis_run_scratch (trace, &error);
      weft_trace_free (trace);
    }
  if (error != NULL)
    {
      g_test_message ("library: %s", error->message);
      g_assert_nonnull (strstr (error->message, base));
      g_assert_null (strchr (error->message, '\n'));
    }
}

static void
test_mutate (gconstpointer data)
{
  guint seed = GPOINTER_TO_UINT (data);
  g_autofree char *path = g_strdup_printf ("%s/mutant-%u.db", dir, seed);
  static const char * const commands[] = {
    "report-text", "report-json", "report-html", "report-span", "report-csv-states",
    "export-chrome", "export-collapsed", "info",
  };

  mutate (path, seed);
  check_library (path);
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    for (gsize c = 0; c < fuzz_n_commands; c++)
      if (strcmp (fuzz_commands[c].name, commands[i]) == 0)
        {
          FuzzResult result;

          fuzz_run (&fuzz_commands[c], path, dir, &result);
          if (result.ran)
            fuzz_assert_handled (&result, &fuzz_commands[c], path);
          g_remove (result.out);
          fuzz_result_clear (&result);
        }
  g_remove (path);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  const char *cases_text;
  guint cases;
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Randomly damaged traces (fixed seeds) through open, the analysis and the"
                  " commands: no crash, and a refusal is one line naming the file.");
  cases_text = g_getenv ("WEFT_FUZZ_CASES");
  cases = cases_text != NULL ? (guint) g_ascii_strtoull (cases_text, NULL, 10) : g_test_perf () ? 600 : 48;
  dir = g_dir_make_tmp ("weft-fuzz-XXXXXX", &error);
  g_assert_no_error (error);
  good = g_build_filename (dir, "good.db", NULL);
  fuzz_make_trace (good, 600);
  g_assert_true (g_file_get_contents (good, &good_data, &good_length, NULL));
  for (guint i = 0; i < cases; i++)
    {
      g_autofree char *test_path = g_strdup_printf ("/fuzz/mutate/%u", i);

      g_test_add_data_func (test_path, GUINT_TO_POINTER (i), test_mutate);
    }
  status = g_test_run ();
  g_remove (good);
  g_rmdir (dir);
  g_free (good);
  g_free (good_data);
  g_free (dir);
  return status;
}
