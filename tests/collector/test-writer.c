/* test-writer.c — the writer's model of the recorded program, fed records and
 * kernel events made up here (no agent, no perf), checked in the trace it
 * writes: which thread a wait names as its holder (a lock's owner by tid,
 * a joined thread by pthread_t), and from which image an object is named.
 *
 * Times are small made-up nanoseconds; process 100 is the root. */
#include <link.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "weft-writer.h"

/* A data symbol of this program for the writer to name an object after. */
G_GNUC_UNUSED volatile guint64 weft_test_lock[8];

typedef struct
{
  char             *dir;
  WeftTrace        *trace;
  WeftWriter       *writer;
  GPtrArray        *images;       /* WeftSessionImage*, owned */
} Fixture;

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *path = NULL;
  GError *error = NULL;

  fx->dir = g_dir_make_tmp ("weft-test-writer-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (fx->dir, "trace.db", NULL);
  fx->trace = weft_trace_create (path, &error);
  g_assert_no_error (error);
  fx->writer = weft_writer_new (fx->trace);
  fx->images = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "trace.db", NULL);

  weft_trace_free (fx->trace);
  g_unlink (path);
  g_rmdir (fx->dir);
  g_free (fx->dir);
  g_ptr_array_unref (fx->images);
}

static const WeftSessionImage *
add_image (Fixture *fx,
           gint32   pid,
           gint32   ppid,
           guint64  start_ns)
{
  WeftSessionImage *image = g_new0 (WeftSessionImage, 1);

  image->pid = pid;
  image->ppid = ppid;
  image->image_start_ns = start_ns;
  g_ptr_array_add (fx->images, image);
  return image;
}

static void
finish (Fixture *fx)
{
  WeftWriterMeta meta = {
    .command = "test", .start_ns = 1, .end_ns = 1000, .sched_source = "perf", .root_pid = 100,
  };
  WeftWriterSummary summary = { 0 };
  GError *error = NULL;

  g_assert_true (weft_writer_finish (fx->writer, fx->images, &meta, &summary, &error));
  g_assert_no_error (error);
  fx->writer = NULL;
}

/* The kernel saw thread tid of process pid start (FORK) and, if end_ns is
 * not 0, end. A new process's main thread has ppid != pid. */
static void
add_kernel_thread (Fixture *fx,
                   gint32   pid,
                   gint32   tid,
                   gint32   ppid,
                   guint64  start_ns,
                   guint64  end_ns)
{
  WeftSchedEvent event = {
    .type = WEFT_SCHED_FORK, .pid = pid, .tid = tid, .ppid = ppid, .ptid = ppid,
    .time_ns = start_ns,
  };

  weft_writer_add_sched (fx->writer, &event);
  if (end_ns == 0)
    return;
  event = (WeftSchedEvent) { .type = WEFT_SCHED_EXIT, .pid = pid, .tid = tid, .time_ns = end_ns };
  weft_writer_add_sched (fx->writer, &event);
}

/* The agent's THREAD_START or THREAD_END of tid, with its pthread_t. */
static void
add_agent_thread (Fixture                *fx,
                  const WeftSessionImage *image,
                  WeftRecType             type,
                  gint32                  tid,
                  guint64                 time_ns,
                  guint64                 pthread,
                  const char             *name)
{
  WeftRecThread record = {
    .h = { .type = type, .size = sizeof record, .tid = tid },
    .time_ns = time_ns, .pthread = pthread,
  };

  if (name != NULL)
    g_strlcpy (record.name, name, sizeof record.name);
  weft_writer_add_record (fx->writer, image, &record.h);
}

static void
add_wait (Fixture                *fx,
          const WeftSessionImage *image,
          gint32                  tid,
          WeftWaitKind            kind,
          WeftObjKind             object_kind,
          guint64                 object,
          guint64                 start_ns,
          guint64                 end_ns,
          gint32                  holder_tid)
{
  WeftRecWait record = {
    .h = { .type = WEFT_REC_WAIT, .size = sizeof record, .tid = tid },
    .object = object, .start_ns = start_ns, .end_ns = end_ns, .holder_tid = holder_tid,
    .kind = kind, .object_kind = object_kind, .result = WEFT_RESULT_OK,
  };

  weft_writer_add_record (fx->writer, image, &record.h);
}

static gint64
query_int (Fixture    *fx,
           const char *format,
           ...)
{
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value = -1;
  va_list args;

  va_start (args, format);
  sql = g_strdup_vprintf (format, args);
  va_end (args);
  g_assert_cmpint (sqlite3_prepare_v2 (weft_trace_get_db (fx->trace), sql, -1, &stmt, NULL),
                   ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = sqlite3_column_type (stmt, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static char *
query_text (Fixture    *fx,
            const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  char *value = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (weft_trace_get_db (fx->trace), sql, -1, &stmt, NULL),
                   ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0) != NULL)
    value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  return value;
}

/* "pid:tid" of the holder of the wait that began at start_ns, "" if none. */
static char *
holder_of_wait (Fixture *fx,
                guint64  start_ns)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT coalesce ((SELECT p.pid || ':' || h.tid FROM threads h"
    " JOIN processes p ON p.id = h.process_id WHERE h.id = w.holder_thread_id), '')"
    " FROM waits w WHERE w.start_ns = %" G_GUINT64_FORMAT, start_ns);

  return query_text (fx, sql);
}

#define assert_holder(fx, start_ns, expected) \
  G_STMT_START { \
    g_autofree char *holder_ = holder_of_wait ((fx), (start_ns)); \
    g_assert_cmpstr (holder_, ==, (expected)); \
  } G_STMT_END

/* ---------------------------------------------------------------------- */

static void
test_holder_other_process (Fixture       *fx,
                           gconstpointer  data)
{
  const WeftSessionImage *parent = add_image (fx, 100, 0, 2);
  const WeftSessionImage *child = add_image (fx, 200, 100, 12);

  g_test_summary ("A process-shared mutex: the owner's tid that the agent read is a thread "
                  "of the other process, named there; no thread of that tid is made up "
                  "in the waiter's process");
  add_kernel_thread (fx, 200, 200, 100, 10, 90);
  add_wait (fx, parent, 100, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 20, 30, 200);
  add_wait (fx, child, 200, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 40, 50, 100);
  finish (fx);

  assert_holder (fx, 20, "200:200");
  assert_holder (fx, 40, "100:100");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM threads"), ==, 2);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM threads t JOIN processes p"
                                  " ON p.id = t.process_id WHERE t.tid <> p.pid"), ==, 0);
}

static void
test_holder_unknown (Fixture       *fx,
                     gconstpointer  data)
{
  const WeftSessionImage *image = add_image (fx, 100, 0, 2);

  g_test_summary ("An owner's tid that no thread of the trace had: the wait has no "
                  "holder, and no thread is made up for it");
  add_wait (fx, image, 100, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 20, 30, 999);
  finish (fx);

  assert_holder (fx, 20, "");
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM threads WHERE tid = 999"), ==, 0);
  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM threads"), ==, 1);
}

static void
test_holder_by_time (Fixture       *fx,
                     gconstpointer  data)
{
  const WeftSessionImage *image = add_image (fx, 100, 0, 2);

  g_test_summary ("One tid, three threads: 300 of the waiter's process (10..100), then "
                  "300 of another process (200..300, the kernel reused the number), then "
                  "300 of the waiter's process again (400..): each wait names the one "
                  "alive during it, in the waiter's process first; an owner alive "
                  "nowhere is the waiter's process's last such thread (it ended "
                  "holding the lock)");
  add_kernel_thread (fx, 100, 300, 100, 10, 100);
  add_kernel_thread (fx, 200, 200, 100, 150, 350);
  add_kernel_thread (fx, 200, 300, 200, 200, 300);
  add_kernel_thread (fx, 100, 300, 100, 400, 0);
  /* The reader's order is not the kernel's: the waits come first. */
  add_wait (fx, image, 100, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 50, 60, 300);
  add_wait (fx, image, 100, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 250, 260, 300);
  add_wait (fx, image, 100, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 360, 370, 300);
  add_wait (fx, image, 100, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x1000, 450, 460, 300);
  finish (fx);

  g_assert_cmpint (query_int (fx, "SELECT count(*) FROM threads WHERE tid = 300"), ==, 3);
  assert_holder (fx, 50, "100:300");
  g_assert_cmpint (query_int (fx, "SELECT h.start_ns FROM waits w JOIN threads h"
                                  " ON h.id = w.holder_thread_id WHERE w.start_ns = 50"), ==, 10);
  assert_holder (fx, 250, "200:300");
  assert_holder (fx, 360, "100:300");
  g_assert_cmpint (query_int (fx, "SELECT h.start_ns FROM waits w JOIN threads h"
                                  " ON h.id = w.holder_thread_id WHERE w.start_ns = 360"), ==, 10);
  assert_holder (fx, 450, "100:300");
  g_assert_cmpint (query_int (fx, "SELECT h.start_ns FROM waits w JOIN threads h"
                                  " ON h.id = w.holder_thread_id WHERE w.start_ns = 450"), ==, 400);
}

/* Name of the holder of the join that began at start_ns. */
static char *
joined_name (Fixture *fx,
             guint64  start_ns)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT h.name FROM waits w JOIN threads h ON h.id = w.holder_thread_id"
    " WHERE w.kind = 'join' AND w.start_ns = %" G_GUINT64_FORMAT, start_ns);

  return query_text (fx, sql);
}

#define assert_joined(fx, start_ns, expected) \
  G_STMT_START { \
    g_autofree char *name_ = joined_name ((fx), (start_ns)); \
    g_assert_cmpstr (name_, ==, (expected)); \
  } G_STMT_END

static void
test_join_reused_pthread (Fixture       *fx,
                          gconstpointer  data)
{
  const guint64 pthread = 0x7f0000001000;
  const WeftSessionImage *image = add_image (fx, 100, 0, 2);
  g_autofree char *object_name = NULL;

  g_test_summary ("Four threads had one pthread_t in turn (glibc reuses a joined thread's "
                  "stack): each join names the thread that had it when the join began: "
                  "the one alive then; a thread that had ended already; a thread whose "
                  "start the agent saw only after its join began (no kernel data); and "
                  "the object is named after the first and says there were more");
  /* a: alive at its join. */
  add_kernel_thread (fx, 100, 101, 100, 10, 40);
  add_agent_thread (fx, image, WEFT_REC_THREAD_START, 101, 11, pthread, NULL);
  add_agent_thread (fx, image, WEFT_REC_THREAD_END, 101, 39, pthread, "a");
  add_wait (fx, image, 100, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, pthread, 20, 41, 0);
  /* b: ended before its join began. */
  add_kernel_thread (fx, 100, 102, 100, 50, 60);
  add_agent_thread (fx, image, WEFT_REC_THREAD_START, 102, 51, pthread, NULL);
  add_agent_thread (fx, image, WEFT_REC_THREAD_END, 102, 59, pthread, "b");
  add_wait (fx, image, 100, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, pthread, 70, 71, 0);
  /* c: only the agent saw it, starting after its join began. */
  add_agent_thread (fx, image, WEFT_REC_THREAD_START, 103, 85, pthread, NULL);
  add_agent_thread (fx, image, WEFT_REC_THREAD_END, 103, 95, pthread, "c");
  add_wait (fx, image, 100, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, pthread, 80, 96, 0);
  /* d: started after all the joins. */
  add_kernel_thread (fx, 100, 104, 100, 200, 210);
  add_agent_thread (fx, image, WEFT_REC_THREAD_START, 104, 201, pthread, NULL);
  add_agent_thread (fx, image, WEFT_REC_THREAD_END, 104, 209, pthread, "d");
  finish (fx);

  assert_joined (fx, 20, "a");
  assert_joined (fx, 70, "b");
  assert_joined (fx, 80, "c");
  object_name = query_text (fx, "SELECT name FROM objects WHERE kind = 'thread'");
  g_assert_cmpstr (object_name, ==, "thread a and 2 more");
}

/* The load bias and address range of this program. */
static int
find_self (struct dl_phdr_info *info,
           size_t               size,
           void                *data)
{
  WeftRecModule *module = data;
  guint64 lo = G_MAXUINT64, hi = 0;

  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_LOAD)
      {
        lo = MIN (lo, info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        hi = MAX (hi, info->dlpi_addr + info->dlpi_phdr[i].p_vaddr + info->dlpi_phdr[i].p_memsz);
      }
  module->bias = info->dlpi_addr;
  module->start = lo;
  module->end = hi;
  return 1;                               /* the first is the program */
}

static void
test_object_image (Fixture       *fx,
                   gconstpointer  data)
{
  const WeftSessionImage *before = add_image (fx, 100, 0, 2);
  const WeftSessionImage *after = add_image (fx, 100, 0, 500);
  WeftRecModule module = { .h = { .type = WEFT_REC_MODULE, .size = sizeof module, .tid = 100 } };
  WeftRecModule other = module;
  guint64 address = (guint64) (guintptr) &weft_test_lock[0];
  g_autofree char *name = NULL;
  ssize_t n;

  g_test_summary ("A process execs: a mutex of the image before the exec is named from "
                  "that image's modules (here, this program's symbol), not from the "
                  "image after, where its address means something else");
  dl_iterate_phdr (find_self, &module);
  n = readlink ("/proc/self/exe", module.path, sizeof module.path - 1);
  g_assert_cmpint (n, >, 0);
  g_assert_cmpuint (address, >=, module.start);
  g_assert_cmpuint (address, <, module.end);
  /* The image after the exec has something else at that address: this
   * program again, moved by a page. */
  memcpy (other.path, module.path, sizeof other.path);
  other.bias = module.bias + 4096;
  other.start = module.start + 4096;
  other.end = module.end + 4096;

  weft_writer_add_record (fx->writer, before, &module.h);
  weft_writer_add_record (fx->writer, after, &other.h);
  add_wait (fx, before, 101, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, address, 20, 30, 100);
  add_wait (fx, after, 100, WEFT_WAIT_POLL, WEFT_OBJ_NONE, 0, 600, 700, 0);
  finish (fx);

  name = query_text (fx, "SELECT name FROM objects WHERE kind = 'mutex'");
  g_assert_cmpstr (name, ==, "weft_test_lock");
  assert_holder (fx, 20, "100:100");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/collector/writer/holder/other-process", Fixture, NULL,
              fixture_set_up, test_holder_other_process, fixture_tear_down);
  g_test_add ("/collector/writer/holder/unknown", Fixture, NULL,
              fixture_set_up, test_holder_unknown, fixture_tear_down);
  g_test_add ("/collector/writer/holder/by-time", Fixture, NULL,
              fixture_set_up, test_holder_by_time, fixture_tear_down);
  g_test_add ("/collector/writer/join/reused-pthread", Fixture, NULL,
              fixture_set_up, test_join_reused_pthread, fixture_tear_down);
  g_test_add ("/collector/writer/object/image", Fixture, NULL,
              fixture_set_up, test_object_image, fixture_tear_down);

  return g_test_run ();
}
