/* test-fuzz-session.c — a seeded random mutator of session directories.
 *
 * The agent's shared memory is written from inside the traced program, so a
 * buggy or hostile program can leave anything in it (issue 6, "Bad input"
 * and "Security"). Each case copies a pristine session directory, damages
 * the copy and runs `weft record --recover COPY -o OUT`, which must exit 0 or
 * 1 within a time limit, never crash or trip a sanitizer, say each thing on
 * one clear line (a refusal on exactly one), write nothing when it refuses,
 * and when it exits 0 leave a trace that `weft info` and `weft report` (text
 * and JSON) read.
 *
 * The damage: bits flipped in chunk headers, slot headers and live ring
 * records; chosen fields set to edge values (record type, size and tid;
 * stack depths; the count and string lengths of WEFT_REC_PYSTACK records;
 * slot state, generation, head, tail and counters; chunk magic, version,
 * header_bytes, slot_count, slot_bytes, ring_bytes, chunk_seq, pid, state,
 * cmdline_bytes, exe; the session file); chunk files truncated, emptied,
 * duplicated, hard-linked, grown sparse with a huge slot_count; extra files
 * named like chunks (junk, empty, symlinks, a FIFO, a directory); a session
 * file that is a symlink, a directory that is not private.
 *
 * Two pristine sessions: one built here from the structs of weft-wire.h
 * (every record type, a ring that wraps with a PAD, a retired slot with
 * counters, chunk 1 of an image, an exec'd image, FREE and CLAIMING slots),
 * and, when the agent and the samples are built, one recorded by the real
 * agent: this test plays the collector (it writes the session file and holds
 * its lock) while samples run with the agent preloaded, so nothing is read
 * from the rings before the copy.
 *
 * Crafted cases: PYSTACK records whose count and lengths run past their size
 * (the frames that fit are kept), chunk numbers at the ends of the range, a
 * huge sparse chunk, a process name with terminal escapes, MODULE and EXEC
 * paths naming a FIFO; and, with the session reader compiled into this
 * test, a program that rewrites its chunk header and records while the
 * collector reads them (a live recording).
 *
 * The seeds are fixed (case i uses seed i): a failure is reproducible with
 * -p /fuzz/session/mutate/<i>. 40 cases by default, 1000 under -m perf;
 * WEFT_FUZZ_CASES overrides. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "weft-session.h"
#include "weft-wire.h"

#define RING_BYTES 65536u
#define SLOT_COUNT 2u
#define CHUNK_BYTES (WEFT_WIRE_PAGE_BYTES + SLOT_COUNT * (sizeof (WeftWireSlot) + RING_BYTES))
#define FAKE_COLLECTOR_PID 3999
#define T0_NS G_GUINT64_CONSTANT (1000000000000)
#define MODULE_BIAS G_GUINT64_CONSTANT (0x10000)

/* A command taking longer than this is hung (ASan builds are slower). */
#define TIMEOUT_S 60

static char *dir;
static GPtrArray *bases;   /* char *: pristine session directories */

/* ---------------------------------------------------------------------- */
/* Running a command with a time limit. */

typedef struct
{
  gboolean timed_out;
  gboolean crashed;       /* killed by a signal, or a sanitizer reported */
  int      exit_status;
  char    *err;
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->err, g_free);
}

static void
run_command (const char * const *argv,
             guint               timeout_s,
             Run                *run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) err = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  gboolean open = TRUE;
  GPid pid;
  int err_fd, status = 0;

  memset (run, 0, sizeof *run);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                           NULL, NULL, &pid, NULL, NULL, &err_fd, &error));
  g_assert_no_error (error);
  while (open && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { err_fd, POLLIN, 0 };
      char buffer[4096];
      ssize_t n;

      if (poll (&pfd, 1, 200) <= 0)
        continue;
      n = read (err_fd, buffer, sizeof buffer);
      if (n > 0)
        g_string_append_len (err, buffer, n);
      else if (n == 0 || errno != EINTR)
        open = FALSE;
    }
  close (err_fd);
  while (waitpid (pid, &status, WNOHANG) == 0)
    {
      if (g_get_monotonic_time () >= deadline)
        {
          run->timed_out = TRUE;
          kill (pid, SIGKILL);
          g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
          break;
        }
      g_usleep (10000);
    }
  run->err = g_string_free (g_steal_pointer (&err), FALSE);
  run->crashed = WIFSIGNALED (status) && !run->timed_out;
  run->exit_status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  if (strstr (run->err, "Sanitizer") != NULL || strstr (run->err, "runtime error:") != NULL)
    run->crashed = TRUE;
  if (run->crashed || run->timed_out)
    g_test_message ("%s %s %s:\n%s", argv[1], argv[2], run->timed_out ? "hung" : "crashed", run->err);
}

/* A line says one thing clearly: it starts with the program's name and
 * holds no control characters (a name from shared memory must not move the
 * cursor or start a line of its own) and no bytes that are not UTF-8. */
static gboolean
line_is_clear (const char *line)
{
  if (!g_str_has_prefix (line, "weft") || !g_utf8_validate (line, -1, NULL))
    return FALSE;
  for (const char *c = line; *c != '\0'; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      return FALSE;
  return TRUE;
}

/* Counts the lines of err and fails unless each is clear; when unclear is
 * not NULL, sets it instead. */
static guint
check_lines (const char *err,
             gboolean   *unclear)
{
  g_auto(GStrv) lines = g_strsplit (err, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == '\0' && lines[i + 1] == NULL)
        break;
      g_test_message ("stderr: %s", lines[i]);
      if (unclear != NULL && !line_is_clear (lines[i]))
        *unclear = TRUE;
      else
        g_assert_true (line_is_clear (lines[i]));
      n++;
    }
  return n;
}

static void
assert_normal_run (const Run *run)
{
  g_assert_false (run->timed_out);
  g_assert_false (run->crashed);
}

/* ---------------------------------------------------------------------- */
/* Files. */

static int
remove_entry (const char        *path,
              const struct stat *st,
              int                flag,
              struct FTW        *ftw)
{
  (void) st;
  (void) ftw;
  if (flag == FTW_DP)
    g_rmdir (path);
  else
    g_unlink (path);
  return 0;
}

/* rm -rf, never following a symlink. */
static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    g_chmod (path, 0700);
  nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
write_file (const char *path,
            const void *data,
            gsize       length)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
}

/* A private directory and its session file; returns the file's descriptor. */
static int
make_session_dir (const char *path,
                  gint32      collector_pid)
{
  WeftWireSession session = {
    .magic = WEFT_WIRE_SESSION_MAGIC,
    .version = WEFT_WIRE_VERSION,
    .slot_count = SLOT_COUNT,
    .ring_bytes = RING_BYTES,
    .collector_pid = collector_pid,
    .start_ns = T0_NS,
  };
  g_autofree char *file = g_build_filename (path, WEFT_WIRE_SESSION_FILE, NULL);
  int fd;

  if (collector_pid == getpid ())
    session.start_ns = (guint64) g_get_monotonic_time () * 1000;
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  fd = open (file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, &session, sizeof session), ==, sizeof session);
  return fd;
}

static void
copy_session (const char *from,
              const char *to)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) entries = g_dir_open (from, 0, &error);
  const char *name;

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (to, 0700), ==, 0);
  while ((name = g_dir_read_name (entries)) != NULL)
    {
      g_autofree char *source = g_build_filename (from, name, NULL);
      g_autofree char *target = g_build_filename (to, name, NULL);
      g_autofree char *data = NULL;
      gsize length;

      g_assert_true (g_file_get_contents (source, &data, &length, NULL));
      write_file (target, data, length);
    }
}

/* The chunk files of a session directory, sorted; not the huge sparse
 * ones a mutation made. */
static GPtrArray *
list_chunks (const char *path)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) entries = g_dir_open (path, 0, NULL);
  const char *name;

  while (entries != NULL && (name = g_dir_read_name (entries)) != NULL)
    {
      g_autofree char *full = g_build_filename (path, name, NULL);
      struct stat st;

      if (g_str_has_suffix (name, ".chunk") && lstat (full, &st) == 0 && S_ISREG (st.st_mode)
          && st.st_size < 64 * 1024 * 1024)
        g_ptr_array_add (names, g_steal_pointer (&full));
    }
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  return names;
}

/* ---------------------------------------------------------------------- */
/* Building a session from the structs of weft-wire.h. */

typedef struct
{
  char         *data;    /* the chunk file */
  WeftWireChunk *chunk;
} Chunk;

typedef struct
{
  WeftWireSlot *slot;
  char         *ring;
} Ring;

static Chunk
chunk_new (gint32      pid,
           gint32      ppid,
           guint64     image_start_ns,
           guint32     seq,
           guint32     state,
           const char *exe,
           const char *cmdline,
           guint32     cmdline_bytes)
{
  Chunk c = { g_malloc0 (CHUNK_BYTES), NULL };

  c.chunk = (WeftWireChunk *) c.data;
  c.chunk->magic = WEFT_WIRE_CHUNK_MAGIC;
  c.chunk->version = WEFT_WIRE_VERSION;
  c.chunk->header_bytes = WEFT_WIRE_PAGE_BYTES;
  c.chunk->slot_count = SLOT_COUNT;
  c.chunk->slot_bytes = sizeof (WeftWireSlot) + RING_BYTES;
  c.chunk->ring_bytes = RING_BYTES;
  c.chunk->chunk_seq = seq;
  c.chunk->pid = pid;
  c.chunk->ppid = ppid;
  c.chunk->image_start_ns = image_start_ns;
  atomic_store (&c.chunk->state, state);
  c.chunk->cmdline_bytes = cmdline_bytes;
  g_strlcpy (c.chunk->exe, exe, sizeof c.chunk->exe);
  memcpy (c.chunk->cmdline, cmdline, cmdline_bytes);
  return c;
}

static void
chunk_write (Chunk      *c,
             const char *session,
             const char *name)
{
  g_autofree char *path = g_build_filename (session, name, NULL);

  write_file (path, c->data, CHUNK_BYTES);
  g_free (c->data);
}

/* Slot i, claimed by tid; its ring starts at byte `start` of the ring
 * stream (a value near a multiple of RING_BYTES makes it wrap). */
static Ring
slot_claim (Chunk   *c,
            guint32  i,
            guint32  state,
            gint32   tid,
            guint64  start)
{
  WeftWireSlot *slot = (WeftWireSlot *) (c->data + weft_wire_slot_offset (c->chunk->header_bytes,
                                                                          c->chunk->slot_bytes, i));

  atomic_store (&slot->state, state);
  atomic_store (&slot->generation, 1);
  slot->tid = tid;
  atomic_store (&slot->head, start);
  atomic_store (&slot->tail, start);
  return (Ring) { slot, (char *) (slot + 1) };
}

/* Appends a record as the agent does: a PAD to the end of the ring when the
 * record does not fit before it. */
static void
ring_put (Ring       *ring,
          const void *record,
          gsize       size)
{
  guint64 head = atomic_load (&ring->slot->head);
  guint64 offset = head % RING_BYTES;

  g_assert_cmpuint (size % 8, ==, 0);
  if (RING_BYTES - offset < size)
    {
      WeftRecHeader pad = { WEFT_REC_PAD, (guint16) (RING_BYTES - offset), ring->slot->tid };

      memcpy (ring->ring + offset, &pad, sizeof pad);
      head += RING_BYTES - offset;
      offset = 0;
    }
  memcpy (ring->ring + offset, record, size);
  atomic_store (&ring->slot->head, head + size);
}

static void
put_thread (Ring       *ring,
            guint16     type,
            guint64     time_ns,
            gint32      creator_tid,
            const char *name)
{
  WeftRecThread r = { { type, sizeof r, ring->slot->tid }, time_ns, 0x7f0000001000u + (guint64) ring->slot->tid,
                      creator_tid, 0, { 0 } };

  if (name != NULL)
    memcpy (r.name, name, MIN (strlen (name), sizeof r.name));
  ring_put (ring, &r, sizeof r);
}

static void
put_name (Ring       *ring,
          gint32      target_tid,
          guint64     target_pthread,
          const char *name)
{
  WeftRecThreadName r = { { WEFT_REC_THREAD_NAME, sizeof r, ring->slot->tid }, T0_NS + 2000,
                          target_pthread, target_tid, 0, { 0 } };

  memcpy (r.name, name, MIN (strlen (name), sizeof r.name));
  ring_put (ring, &r, sizeof r);
}

static void
put_wait (Ring    *ring,
          guint8   kind,
          guint8   object_kind,
          guint64  object,
          guint64  start_ns,
          guint64  wait_ns,
          guint32  stack_id,
          gint32   holder_tid,
          guint8   result)
{
  WeftRecWait r = { { WEFT_REC_WAIT, sizeof r, ring->slot->tid }, object, start_ns, start_ns + wait_ns,
                    object_kind == WEFT_OBJ_COND ? 0x5000 : 0, stack_id, holder_tid,
                    result == WEFT_RESULT_ERROR ? 22 : 0, kind, object_kind, result, 0 };

  ring_put (ring, &r, sizeof r);
}

static void
put_stack (Ring    *ring,
           guint32  stack_id,
           guint32  depth)
{
  gsize size = sizeof (WeftRecStack) + depth * sizeof (guint64);
  g_autofree WeftRecStack *r = g_malloc0 (size);

  *r = (WeftRecStack) { { WEFT_REC_STACK, (guint16) size, ring->slot->tid }, stack_id, depth };
  for (guint32 d = 0; d < depth; d++)
    r->ips[d] = MODULE_BIAS + 0x1000 + 0x40 * d + stack_id;
  ring_put (ring, r, size);
}

typedef struct
{
  const char *name;
  const char *file;
  gint32      line;
  guint16     segment;
} PyFrame;

/* A WEFT_REC_PYSTACK record of n frames into buffer (which holds 64 KiB);
 * returns its size. */
static gsize
build_pystack (guint8        *buffer,
               gint32         tid,
               guint32        stack_id,
               const PyFrame *frames,
               guint          n)
{
  gsize size = sizeof (WeftRecPyStack);
  WeftRecPyStack head = { { WEFT_REC_PYSTACK, 0, tid }, stack_id, n };

  for (guint i = 0; i < n; i++)
    {
      WeftWirePyFrame wire = { frames[i].line, 10 * i, frames[i].segment,
                               (guint16) strlen (frames[i].name), (guint16) strlen (frames[i].file), 0 };

      memset (buffer + size, 0, weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes));
      memcpy (buffer + size, &wire, sizeof wire);
      memcpy (buffer + size + sizeof wire, frames[i].name, wire.name_bytes);
      memcpy (buffer + size + sizeof wire + wire.name_bytes, frames[i].file, wire.file_bytes);
      size += weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes);
    }
  head.h.size = (guint16) size;
  memcpy (buffer, &head, sizeof head);
  return size;
}

static void
put_pystack (Ring          *ring,
             guint32        stack_id,
             const PyFrame *frames,
             guint          n)
{
  g_autofree guint8 *buffer = g_malloc0 (65536);

  ring_put (ring, buffer, build_pystack (buffer, ring->slot->tid, stack_id, frames, n));
}

static void
put_module (Ring       *ring,
            const char *path)
{
  WeftRecModule r = { { WEFT_REC_MODULE, sizeof r, ring->slot->tid }, MODULE_BIAS, MODULE_BIAS,
                      MODULE_BIAS + 0x100000, { 0 } };

  g_strlcpy (r.path, path, sizeof r.path);
  ring_put (ring, &r, sizeof r);
}

static void
put_process (Ring    *ring,
             guint16  type,
             guint64  time_ns,
             gint32   child_pid,
             gint32   status)
{
  WeftRecProcess r = { { type, sizeof r, ring->slot->tid }, time_ns, child_pid, status, 5000000 };

  ring_put (ring, &r, sizeof r);
}

static void
put_exec (Ring       *ring,
          guint64     time_ns,
          gint32      error,
          const char *path)
{
  WeftRecExec r = { { WEFT_REC_EXEC, sizeof r, ring->slot->tid }, time_ns, error, 0, { 0 } };

  g_strlcpy (r.path, path, sizeof r.path);
  ring_put (ring, &r, sizeof r);
}

static void
put_raw (Ring   *ring,
         GBytes *record)
{
  ring_put (ring, g_bytes_get_data (record, NULL), g_bytes_get_size (record));
}

static void
put_counter (WeftWireSlot *slot,
             guint         i,
             guint64       address,
             guint32       kind,
             guint64       acquisitions,
             guint64       contentions)
{
  slot->counters[i] = (WeftWireCounter) { address, acquisitions, contentions, acquisitions * 1000,
                                          5000, acquisitions, kind, 0 };
}

/* The synthetic session: image A (pid 4000, started by the collector) with
 * chunks 0 and 1; image B (pid 4100, forked by A), which exec'd into image C.
 * `extra` records go into A's main thread ring before its exit. */
static void
make_synthetic (const char *path,
                GPtrArray  *extra)
{
  static const PyFrame py_main[] = {
    { "Worker.run", "/srv/app/worker.py", 42, 0 },
    { "<module>", "/srv/app/main.py", 7, 1 },
  };
  static const PyFrame py_worker[] = { { "lock_and_wait", "/srv/app/sync.py", 3, 0 } };
  static const char cmdline[] = "./app\0--threads\0" "3";
  const char *weft = g_getenv ("WEFT");
  Chunk a0, a1, b0, c0;
  Ring ring;

  close (make_session_dir (path, FAKE_COLLECTOR_PID));

  a0 = chunk_new (4000, FAKE_COLLECTOR_PID, T0_NS + 1000, 0, WEFT_CHUNK_EXITED, weft,
                  cmdline, sizeof cmdline);
  a0.chunk->exit_status = 3;
  atomic_store (&a0.chunk->exit_ns, T0_NS + 90000000);
  atomic_store (&a0.chunk->process_cpu_ns, 7000000);
  atomic_store (&a0.chunk->lost_events, 2);
  /* The main thread: its ring wraps (with a PAD) twice over. */
  ring = slot_claim (&a0, 0, WEFT_SLOT_OWNED, 4000, 3 * (guint64) RING_BYTES - 200);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 1500, 0, NULL);
  put_module (&ring, weft);
  put_name (&ring, 4001, 0, "worker-1");
  put_name (&ring, 0, 0x7f0000001000u + 4002, "worker-2");
  put_stack (&ring, 1, 5);
  put_pystack (&ring, 1, py_main, G_N_ELEMENTS (py_main));
  put_wait (&ring, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x6000, T0_NS + 10000, 2000000, 1, 4001, WEFT_RESULT_OK);
  put_wait (&ring, WEFT_WAIT_JOIN, WEFT_OBJ_THREAD, 0x7f0000001000u + 4001, T0_NS + 3000000, 500000, 0, 0,
            WEFT_RESULT_OK);
  put_wait (&ring, WEFT_WAIT_POLL, WEFT_OBJ_NONE, 0, T0_NS + 4000000, 100000, 1, 0, WEFT_RESULT_TIMEOUT);
  put_wait (&ring, WEFT_WAIT_EPOLL, WEFT_OBJ_NONE, 0, T0_NS + 4200000, 100000, 0, 0, WEFT_RESULT_INTERRUPTED);
  put_wait (&ring, WEFT_WAIT_SELECT, WEFT_OBJ_NONE, 0, T0_NS + 4400000, 100000, 0, 0, WEFT_RESULT_ERROR);
  put_process (&ring, WEFT_REC_FORK, T0_NS + 5000000, 4100, 0);
  put_process (&ring, WEFT_REC_SPAWN, T0_NS + 5100000, 4200, 0);
  put_process (&ring, WEFT_REC_REAP, T0_NS + 60000000, 4100, 0x0300);
  put_process (&ring, WEFT_REC_REAP, T0_NS + 61000000, 4200, 9);
  put_exec (&ring, T0_NS + 62000000, ENOENT, "/nonexistent/program");
  for (guint i = 0; extra != NULL && i < extra->len; i++)
    put_raw (&ring, extra->pdata[i]);
  put_process (&ring, WEFT_REC_EXIT, T0_NS + 90000000, 0, 3);
  /* A worker that ended: a retired slot with counters. */
  ring = slot_claim (&a0, 1, WEFT_SLOT_RETIRED, 4001, RING_BYTES / 2);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 2000, 4000, NULL);
  put_stack (&ring, 2, 3);
  put_pystack (&ring, 2, py_worker, G_N_ELEMENTS (py_worker));
  put_wait (&ring, WEFT_WAIT_COND, WEFT_OBJ_COND, 0x6100, T0_NS + 20000, 300000, 2, 0, WEFT_RESULT_OK);
  put_wait (&ring, WEFT_WAIT_SEM, WEFT_OBJ_SEM, 0x6200, T0_NS + 400000, 300000, 2, 0, WEFT_RESULT_TIMEOUT);
  put_wait (&ring, WEFT_WAIT_SLEEP, WEFT_OBJ_NONE, 0, T0_NS + 800000, 1000000, 0, 0, WEFT_RESULT_OK);
  put_thread (&ring, WEFT_REC_THREAD_END, T0_NS + 2900000, 0, "worker-1");
  atomic_store (&ring.slot->lost_events, 1);
  put_counter (ring.slot, 0, 0x6000, WEFT_OBJ_MUTEX, 100, 3);
  put_counter (ring.slot, 1, 0x6100, WEFT_OBJ_COND, 0, 5);
  put_counter (ring.slot, WEFT_WIRE_COUNTERS - 1, G_MAXUINT64, WEFT_OBJ_MUTEX, 7, 0);
  chunk_write (&a0, path, "p4000-1000000001000-0.chunk");

  /* Chunk 1 of image A: a third thread; a FREE slot with stale content. */
  a1 = chunk_new (4000, FAKE_COLLECTOR_PID, T0_NS + 1000, 1, 0, weft, cmdline, sizeof cmdline);
  ring = slot_claim (&a1, 0, WEFT_SLOT_OWNED, 4002, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 3000, 4000, NULL);
  put_wait (&ring, WEFT_WAIT_BARRIER, WEFT_OBJ_BARRIER, 0x6300, T0_NS + 30000, 700000, 0, 0, WEFT_RESULT_OK);
  put_wait (&ring, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x6000, T0_NS + 900000, 50000, 0, 4000, WEFT_RESULT_OK);
  ring = slot_claim (&a1, 1, WEFT_SLOT_OWNED, 4003, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 4000, 4000, NULL);
  put_wait (&ring, WEFT_WAIT_SPIN, WEFT_OBJ_SPIN, 0x6400, T0_NS + 40000, 10000, 0, 4002, WEFT_RESULT_OK);
  atomic_store (&ring.slot->state, WEFT_SLOT_FREE);
  chunk_write (&a1, path, "p4000-1000000001000-1.chunk");

  /* Image B, forked by A, exec'd: a CLAIMING slot is not read. */
  b0 = chunk_new (4100, 4000, T0_NS + 5000500, 0, WEFT_CHUNK_EXEC, weft, cmdline, sizeof cmdline);
  ring = slot_claim (&b0, 0, WEFT_SLOT_OWNED, 4100, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 5000600, 0, NULL);
  put_wait (&ring, WEFT_WAIT_RDLOCK, WEFT_OBJ_RWLOCK, 0x8000, T0_NS + 5001000, 200000, 0, 0, WEFT_RESULT_OK);
  put_exec (&ring, T0_NS + 6000000, 0, "/bin/true");
  ring = slot_claim (&b0, 1, WEFT_SLOT_CLAIMING, 4101, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 5000700, 4100, NULL);
  chunk_write (&b0, path, "p4100-1000005000500-0.chunk");

  /* Image C: what B exec'd, with the agent again. */
  c0 = chunk_new (4100, 4000, T0_NS + 6000100, 0, WEFT_CHUNK_EXITED, "/bin/true", "true", 5);
  ring = slot_claim (&c0, 0, WEFT_SLOT_RETIRED, 4100, 0);
  put_wait (&ring, WEFT_WAIT_WRLOCK, WEFT_OBJ_RWLOCK, 0x8000, T0_NS + 6001000, 300000, 0, 0, WEFT_RESULT_OK);
  put_process (&ring, WEFT_REC_EXIT, T0_NS + 59000000, 0, 3);
  put_counter (ring.slot, 0, 0x8000, WEFT_OBJ_RWLOCK, 10, 1);
  chunk_write (&c0, path, "p4100-1000006000100-0.chunk");
}

/* ---------------------------------------------------------------------- */
/* Recording a session with the real agent. */

static const char gil_script[] =
  "import threading\n"
  "def burn():\n"
  "    n = 0\n"
  "    for i in range(200000):\n"
  "        n += i\n"
  "threads = [threading.Thread(target=burn) for _ in range(3)]\n"
  "for t in threads:\n"
  "    t.start()\n"
  "for t in threads:\n"
  "    t.join()\n";

/* Runs the samples with the agent in a session of our own, whose lock we
 * hold like a collector that never reads. Returns FALSE if the agent or the
 * samples are not built. */
static gboolean
make_recorded (const char *path)
{
  const char *agent = g_getenv ("WEFT_AGENT"), *samples = g_getenv ("WEFT_SAMPLES_DIR");
  g_autofree char *script = g_build_filename (dir, "gil.py", NULL);
  g_autofree char *python = g_find_program_in_path ("python3");
  g_autofree char *mutex = NULL, *fork_exec = NULL, *condvar = NULL, *exit_status = NULL;
  g_auto(GStrv) envp = NULL;
  int fd;

  if (agent == NULL || samples == NULL)
    return FALSE;
  mutex = g_build_filename (samples, "mutex-contention", NULL);
  fork_exec = g_build_filename (samples, "fork-exec", NULL);
  condvar = g_build_filename (samples, "condvar-pingpong", NULL);
  exit_status = g_build_filename (samples, "exit-status", NULL);
  if (!g_file_test (agent, G_FILE_TEST_EXISTS) || !g_file_test (mutex, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;

  {
    const char *programs[][4] = {
      { mutex, "2", "20", NULL },
      { fork_exec, "20", NULL },
      { condvar, "50", NULL },
      { exit_status, "3", NULL },
      { python, script, NULL },
    };

    write_file (script, gil_script, strlen (gil_script));
    fd = make_session_dir (path, getpid ());
    g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);
    envp = g_environ_setenv (g_get_environ (), "LD_PRELOAD", agent, TRUE);
    envp = g_environ_setenv (envp, "WEFT_SESSION", path, TRUE);
    for (gsize i = 0; i < G_N_ELEMENTS (programs); i++)
      {
        g_autoptr(GError) error = NULL;

        if (programs[i][0] == NULL)
          continue;
        g_spawn_sync (NULL, (char **) programs[i], envp,
                      G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, NULL, NULL, NULL, &error);
        g_assert_no_error (error);
      }
    close (fd);
  }
  g_unlink (script);
  {
    /* An agent that could not join left nothing to start from. */
    g_autoptr(GPtrArray) chunks = list_chunks (path);

    if (chunks->len == 0)
      g_test_message ("the agent recorded nothing in %s", path);
    return chunks->len > 0;
  }
}

/* ---------------------------------------------------------------------- */
/* The mutator. */

typedef struct
{
  char   *path;
  char   *data;
  gsize   length;
} File;

static void
file_load (File       *file,
           const char *path)
{
  file->path = g_strdup (path);
  g_assert_true (g_file_get_contents (path, &file->data, &file->length, NULL));
}

static void
file_store (File *file)
{
  write_file (file->path, file->data, file->length);
  g_clear_pointer (&file->path, g_free);
  g_clear_pointer (&file->data, g_free);
}

static guint64
edge_value (GRand *rand)
{
  static const guint64 edges[] = {
    0, 1, 7, 8, 15, 16, 48, 56, 255, 4095, 4096, RING_BYTES - 8, RING_BYTES, RING_BYTES + 8,
    G_MAXUINT16, G_MAXINT32, G_MAXUINT32, (guint64) G_MAXUINT32 + 1, G_MAXINT64,
    (guint64) G_MININT64, G_MAXUINT64, G_MAXUINT64 - 7,
  };

  if (g_rand_int_range (rand, 0, 4) == 0)
    return ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);
  return edges[g_rand_int_range (rand, 0, G_N_ELEMENTS (edges))];
}

static void
set_field (char   *at,
           gsize   bytes,
           guint64 value)
{
  switch (bytes)
    {
    case 1: { guint8 v = value; memcpy (at, &v, 1); break; }
    case 2: { guint16 v = value; memcpy (at, &v, 2); break; }
    case 4: { guint32 v = value; memcpy (at, &v, 4); break; }
    default: memcpy (at, &value, 8); break;
    }
}

typedef struct
{
  gsize       offset;
  gsize       bytes;
  const char *name;
} Field;

#define FIELD(type, member) { offsetof (type, member), sizeof (((type *) 0)->member), #member }

static const Field chunk_fields[] = {
  FIELD (WeftWireChunk, magic), FIELD (WeftWireChunk, version), FIELD (WeftWireChunk, header_bytes),
  FIELD (WeftWireChunk, slot_count), FIELD (WeftWireChunk, slot_bytes), FIELD (WeftWireChunk, ring_bytes),
  FIELD (WeftWireChunk, chunk_seq), FIELD (WeftWireChunk, pid), FIELD (WeftWireChunk, ppid),
  FIELD (WeftWireChunk, image_start_ns), FIELD (WeftWireChunk, state), FIELD (WeftWireChunk, exit_status),
  FIELD (WeftWireChunk, exit_ns), FIELD (WeftWireChunk, process_cpu_ns), FIELD (WeftWireChunk, lost_events),
  FIELD (WeftWireChunk, cmdline_bytes),
};

static const Field slot_fields[] = {
  FIELD (WeftWireSlot, state), FIELD (WeftWireSlot, generation), FIELD (WeftWireSlot, tid),
  FIELD (WeftWireSlot, head), FIELD (WeftWireSlot, tail), FIELD (WeftWireSlot, lost_events),
};

static const Field counter_fields[] = {
  FIELD (WeftWireCounter, address), FIELD (WeftWireCounter, acquisitions),
  FIELD (WeftWireCounter, contentions), FIELD (WeftWireCounter, hold_ns),
  FIELD (WeftWireCounter, hold_max_ns), FIELD (WeftWireCounter, hold_samples),
  FIELD (WeftWireCounter, kind),
};

static const Field session_fields[] = {
  FIELD (WeftWireSession, magic), FIELD (WeftWireSession, version), FIELD (WeftWireSession, slot_count),
  FIELD (WeftWireSession, ring_bytes), FIELD (WeftWireSession, flags),
  FIELD (WeftWireSession, collector_pid), FIELD (WeftWireSession, start_ns),
};

/* Fields inside records, by type: offset from the record's start. */
typedef struct
{
  guint16 type;
  Field   field;
} RecordField;

static const RecordField record_fields[] = {
  { WEFT_REC_THREAD_START, FIELD (WeftRecThread, time_ns) },
  { WEFT_REC_THREAD_START, FIELD (WeftRecThread, pthread) },
  { WEFT_REC_THREAD_START, FIELD (WeftRecThread, creator_tid) },
  { WEFT_REC_THREAD_END, FIELD (WeftRecThread, time_ns) },
  { WEFT_REC_THREAD_NAME, FIELD (WeftRecThreadName, target_tid) },
  { WEFT_REC_THREAD_NAME, FIELD (WeftRecThreadName, target_pthread) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, object) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, start_ns) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, end_ns) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, stack_id) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, holder_tid) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, kind) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, object_kind) },
  { WEFT_REC_WAIT, FIELD (WeftRecWait, result) },
  { WEFT_REC_STACK, FIELD (WeftRecStack, stack_id) },
  { WEFT_REC_STACK, FIELD (WeftRecStack, depth) },
  { WEFT_REC_STACK, FIELD (WeftRecStack, depth) },
  { WEFT_REC_PYSTACK, FIELD (WeftRecPyStack, stack_id) },
  { WEFT_REC_PYSTACK, FIELD (WeftRecPyStack, count) },
  { WEFT_REC_PYSTACK, FIELD (WeftRecPyStack, count) },
  { WEFT_REC_MODULE, FIELD (WeftRecModule, bias) },
  { WEFT_REC_MODULE, FIELD (WeftRecModule, start) },
  { WEFT_REC_MODULE, FIELD (WeftRecModule, end) },
  { WEFT_REC_FORK, FIELD (WeftRecProcess, child_pid) },
  { WEFT_REC_REAP, FIELD (WeftRecProcess, status) },
  { WEFT_REC_EXIT, FIELD (WeftRecProcess, status) },
  { WEFT_REC_EXIT, FIELD (WeftRecProcess, cpu_ns) },
  { WEFT_REC_EXEC, FIELD (WeftRecExec, error) },
};

/* Where a chunk's slots and rings are, if its header is sane. */
typedef struct
{
  guint32 header_bytes, slot_count, slot_bytes, ring_bytes;
} Geometry;

static gboolean
chunk_geometry (const File *file,
                Geometry   *g)
{
  const WeftWireChunk *chunk = (const WeftWireChunk *) file->data;

  if (file->length < WEFT_WIRE_PAGE_BYTES)
    return FALSE;
  *g = (Geometry) { chunk->header_bytes, chunk->slot_count, chunk->slot_bytes, chunk->ring_bytes };
  return g->ring_bytes >= 8 && g->ring_bytes % 8 == 0 && g->header_bytes >= sizeof (WeftWireChunk)
         && g->header_bytes % 8 == 0 && g->slot_bytes == sizeof (WeftWireSlot) + g->ring_bytes
         && g->slot_count > 0
         && weft_wire_slot_offset (g->header_bytes, g->slot_bytes, g->slot_count) <= file->length;
}

static gsize
slot_at (const Geometry *g,
         guint32         i)
{
  return weft_wire_slot_offset (g->header_bytes, g->slot_bytes, i);
}

/* File offsets of the records between tail and head of every slot whose
 * ring the collector reads, as it walks them. */
static GArray *
live_records (const File     *file,
              const Geometry *g)
{
  GArray *offsets = g_array_new (FALSE, FALSE, sizeof (gsize));

  for (guint32 i = 0; i < g->slot_count; i++)
    {
      const WeftWireSlot *slot = (const WeftWireSlot *) (file->data + slot_at (g, i));
      gsize ring = slot_at (g, i) + sizeof (WeftWireSlot);
      guint64 head = atomic_load (&slot->head), tail = atomic_load (&slot->tail);

      if (head - tail > g->ring_bytes)
        continue;
      while (tail < head)
        {
          guint64 offset = tail % g->ring_bytes;
          WeftRecHeader h;

          if (g->ring_bytes - offset < sizeof h)
            {
              tail += g->ring_bytes - offset;
              continue;
            }
          memcpy (&h, file->data + ring + offset, sizeof h);
          if (h.size < sizeof h || h.size % 8 != 0 || h.size > g->ring_bytes - offset)
            break;
          if (h.type != WEFT_REC_PAD)
            {
              gsize at = ring + offset;

              g_array_append_val (offsets, at);
            }
          tail += h.size;
        }
    }
  return offsets;
}

static void
mutate_record (File  *file,
               GRand *rand)
{
  Geometry g;
  g_autoptr(GArray) offsets = NULL;
  WeftRecHeader h;
  gsize at;
  guint choice;

  if (!chunk_geometry (file, &g) || (offsets = live_records (file, &g))->len == 0)
    return;
  /* Half the time, a PYSTACK or a STACK record if there is one. */
  at = g_array_index (offsets, gsize, g_rand_int_range (rand, 0, offsets->len));
  if (g_rand_boolean (rand))
    for (guint i = 0; i < offsets->len; i++)
      {
        gsize candidate = g_array_index (offsets, gsize, (i + g_rand_int (rand)) % offsets->len);

        memcpy (&h, file->data + candidate, sizeof h);
        if (h.type == WEFT_REC_PYSTACK || h.type == WEFT_REC_STACK)
          {
            at = candidate;
            break;
          }
      }
  memcpy (&h, file->data + at, sizeof h);
  choice = g_rand_int_range (rand, 0, 6);
  if (choice == 0)
    {
      guint16 size = g_rand_boolean (rand) ? (guint16) edge_value (rand)
                                           : (guint16) (h.size + 8 * g_rand_int_range (rand, -4, 5));

      g_test_message ("record type %u at %" G_GSIZE_FORMAT ": size %u → %u", h.type, at, h.size, size);
      set_field (file->data + at + offsetof (WeftRecHeader, size), 2, size);
    }
  else if (choice == 1)
    {
      guint16 type = g_rand_int_range (rand, 0, 3) == 0 ? (guint16) edge_value (rand)
                                                        : (guint16) g_rand_int_range (rand, 0, 16);

      g_test_message ("record type %u at %" G_GSIZE_FORMAT ": type → %u", h.type, at, type);
      set_field (file->data + at + offsetof (WeftRecHeader, type), 2, type);
    }
  else if (choice == 2)
    {
      g_test_message ("record type %u at %" G_GSIZE_FORMAT ": tid", h.type, at);
      set_field (file->data + at + offsetof (WeftRecHeader, tid), 4, edge_value (rand));
    }
  else if (choice == 3 && h.type == WEFT_REC_PYSTACK && h.size >= sizeof (WeftRecPyStack) + sizeof (WeftWirePyFrame))
    {
      /* A frame's lengths, or its line and segment. */
      static const Field frame_fields[] = {
        FIELD (WeftWirePyFrame, line), FIELD (WeftWirePyFrame, offset), FIELD (WeftWirePyFrame, segment),
        FIELD (WeftWirePyFrame, name_bytes), FIELD (WeftWirePyFrame, file_bytes),
        FIELD (WeftWirePyFrame, name_bytes), FIELD (WeftWirePyFrame, file_bytes),
      };
      const Field *f = &frame_fields[g_rand_int_range (rand, 0, G_N_ELEMENTS (frame_fields))];
      gsize frame = at + sizeof (WeftRecPyStack);
      WeftWirePyFrame wire;

      /* Walk to a random frame that is inside the record. */
      for (int skip = g_rand_int_range (rand, 0, 3); skip > 0; skip--)
        {
          memcpy (&wire, file->data + frame, sizeof wire);
          if (frame + weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes) + sizeof wire
              > at + h.size)
            break;
          frame += weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes);
        }
      g_test_message ("pystack at %" G_GSIZE_FORMAT ": frame %s", at, f->name);
      set_field (file->data + frame + f->offset, f->bytes, edge_value (rand));
    }
  else if (choice == 3 || choice == 4)
    {
      /* A field of this type of record, if it has a known one. */
      for (guint n = 0, i = g_rand_int (rand); n < G_N_ELEMENTS (record_fields); n++, i++)
        {
          const RecordField *rf = &record_fields[i % G_N_ELEMENTS (record_fields)];

          if (rf->type == h.type && rf->field.offset + rf->field.bytes <= h.size)
            {
              g_test_message ("record type %u at %" G_GSIZE_FORMAT ": %s", h.type, at, rf->field.name);
              set_field (file->data + at + rf->field.offset, rf->field.bytes,
                         g_rand_boolean (rand) ? edge_value (rand) : (guint64) g_rand_int_range (rand, 0, 70));
              break;
            }
        }
    }
  else
    {
      /* Bytes of the body: names lose their NUL, texts stop being UTF-8. */
      g_test_message ("record type %u at %" G_GSIZE_FORMAT ": body bytes", h.type, at);
      for (int n = g_rand_int_range (rand, 1, 24); n > 0; n--)
        {
          gsize i = at + 8 + g_rand_int_range (rand, 0, MAX (h.size, 9) - 8);

          file->data[i] = (char) (g_rand_boolean (rand) ? g_rand_int (rand) : 0xff);
        }
    }
}

static void
mutate_slot (File  *file,
             GRand *rand)
{
  Geometry g;
  guint32 i;
  gsize slot;

  if (!chunk_geometry (file, &g))
    return;
  i = g_rand_int_range (rand, 0, g.slot_count);
  slot = slot_at (&g, i);
  if (g_rand_int_range (rand, 0, 3) == 0)
    {
      const Field *f = &counter_fields[g_rand_int_range (rand, 0, G_N_ELEMENTS (counter_fields))];
      guint c = g_rand_int_range (rand, 0, WEFT_WIRE_COUNTERS);

      g_test_message ("slot %u counter %u: %s", i, c, f->name);
      set_field (file->data + slot + offsetof (WeftWireSlot, counters) + c * sizeof (WeftWireCounter)
                 + f->offset, f->bytes, edge_value (rand));
    }
  else
    {
      const Field *f = &slot_fields[g_rand_int_range (rand, 0, G_N_ELEMENTS (slot_fields))];
      guint64 value = edge_value (rand);

      if (strcmp (f->name, "state") == 0 && g_rand_boolean (rand))
        value = g_rand_int_range (rand, 0, 5);
      else if (strcmp (f->name, "head") == 0 && g_rand_boolean (rand))
        {
          guint64 tail;

          memcpy (&tail, file->data + slot + offsetof (WeftWireSlot, tail), sizeof tail);
          value = tail + 8 * g_rand_int_range (rand, -64, RING_BYTES / 8 + 64);
        }
      g_test_message ("slot %u: %s = %" G_GUINT64_FORMAT, i, f->name, value);
      set_field (file->data + slot + f->offset, f->bytes, value);
    }
}

static void
mutate_chunk_header (File  *file,
                     GRand *rand)
{
  guint choice = g_rand_int_range (rand, 0, 8);

  if (file->length < WEFT_WIRE_PAGE_BYTES)
    return;
  if (choice == 0)
    {
      /* exe and cmdline: no NUL, control characters, not UTF-8. */
      gsize start = offsetof (WeftWireChunk, exe);
      gsize end = offsetof (WeftWireChunk, cmdline) + WEFT_WIRE_CMDLINE_BYTES;

      g_test_message ("chunk exe/cmdline bytes");
      for (int n = g_rand_int_range (rand, 1, 300); n > 0; n--)
        file->data[g_rand_int_range (rand, start, end)] = (char) g_rand_int_range (rand, 1, 256);
    }
  else
    {
      const Field *f = &chunk_fields[g_rand_int_range (rand, 0, G_N_ELEMENTS (chunk_fields))];
      guint64 value = edge_value (rand);

      if (g_rand_boolean (rand) && f->bytes == 4)
        value = g_rand_int_range (rand, -2, 8);
      g_test_message ("chunk: %s = %" G_GUINT64_FORMAT, f->name, value);
      set_field (file->data + f->offset, f->bytes, value);
    }
}

static void
flip_bits (File  *file,
           GRand *rand)
{
  Geometry g;
  gboolean sane = chunk_geometry (file, &g);
  g_autoptr(GArray) offsets = sane ? live_records (file, &g) : NULL;
  int region = g_rand_int_range (rand, 0, 3);

  if (file->length == 0)
    return;
  g_test_message ("flipped bits (region %d)", region);
  for (int n = g_rand_int_range (rand, 1, 32); n > 0; n--)
    {
      gsize at;

      if (region == 0 || !sane)
        at = g_rand_int_range (rand, 0, MIN (file->length, WEFT_WIRE_PAGE_BYTES));
      else if (region == 1)
        at = slot_at (&g, g_rand_int_range (rand, 0, g.slot_count))
             + g_rand_int_range (rand, 0, 64);
      else if (offsets->len > 0)
        at = g_array_index (offsets, gsize, g_rand_int_range (rand, 0, offsets->len))
             + g_rand_int_range (rand, 0, 64);
      else
        at = g_rand_int_range (rand, 0, file->length);
      if (at < file->length)
        file->data[at] ^= 1 << g_rand_int_range (rand, 0, 8);
    }
}

static void
truncate_chunk (File  *file,
                GRand *rand)
{
  Geometry g;
  gsize length;

  if (file->length == 0)
    return;
  switch (g_rand_int_range (rand, 0, 4))
    {
    case 0: length = 0; break;
    case 1: length = g_rand_int_range (rand, 1, WEFT_WIRE_PAGE_BYTES + 1); break;
    case 2:
      length = chunk_geometry (file, &g) ? slot_at (&g, g.slot_count) - 8 * g_rand_int_range (rand, 1, 100)
                                         : file->length / 2;
      break;
    default: length = g_rand_int_range (rand, 0, file->length); break;
    }
  g_test_message ("truncated %s to %" G_GSIZE_FORMAT, file->path, MIN (length, file->length));
  file->length = MIN (length, file->length);
}

static void
mutate_session_file (const char *session,
                     GRand      *rand)
{
  g_autofree char *path = g_build_filename (session, WEFT_WIRE_SESSION_FILE, NULL);
  File file;

  file_load (&file, path);
  if (file.length < sizeof (WeftWireSession))
    {
      g_free (file.path);
      g_free (file.data);
      return;
    }
  if (g_rand_int_range (rand, 0, 4) == 0)
    {
      file.length = g_rand_int_range (rand, 0, file.length);
      g_test_message ("session file truncated to %" G_GSIZE_FORMAT, file.length);
    }
  else
    {
      const Field *f = &session_fields[g_rand_int_range (rand, 0, G_N_ELEMENTS (session_fields))];
      guint64 value = edge_value (rand);

      if (strcmp (f->name, "slot_count") == 0 && g_rand_boolean (rand))
        value = g_rand_int_range (rand, 0, 8);
      g_test_message ("session: %s = %" G_GUINT64_FORMAT, f->name, value);
      set_field (file.data + f->offset, f->bytes, value);
    }
  file_store (&file);
}

/* Files that are not what their names say, or chunks twice. */
static void
add_files (const char *session,
           GPtrArray  *chunks,
           GRand      *rand)
{
  g_autofree char *name = g_strdup_printf ("p%d-%u-%u.chunk", g_rand_int_range (rand, -1, 5000),
                                           g_rand_int (rand), g_rand_int_range (rand, 0, 3));
  g_autofree char *path = g_build_filename (session, name, NULL);
  const char *chunk = chunks->len > 0 ? chunks->pdata[g_rand_int_range (rand, 0, chunks->len)] : NULL;
  guint choice = g_rand_int_range (rand, 0, 11);

  g_test_message ("extra file %s (kind %u)", name, choice);
  switch (choice)
    {
    case 0:
      write_file (path, "", 0);
      break;
    case 1:
      {
        gsize length = g_rand_int_range (rand, 0, 3) * WEFT_WIRE_PAGE_BYTES + g_rand_int_range (rand, 0, 9000);
        g_autofree char *junk = g_malloc (length + 1);

        for (gsize i = 0; i < length; i++)
          junk[i] = (char) g_rand_int (rand);
        write_file (path, junk, length);
      }
      break;
    case 2:
      if (chunk != NULL)
        {
          g_autofree char *data = NULL;
          gsize length;

          g_assert_true (g_file_get_contents (chunk, &data, &length, NULL));
          write_file (path, data, length);
        }
      break;
    case 3:
      if (chunk != NULL)
        g_assert_cmpint (link (chunk, path), ==, 0);
      break;
    case 4:
      g_assert_cmpint (symlink (chunk != NULL ? chunk : "/dev/zero", path), ==, 0);
      break;
    case 5:
      g_assert_cmpint (symlink ("/dev/zero", path), ==, 0);
      break;
    case 6:
      g_assert_cmpint (symlink ("nowhere.chunk", path), ==, 0);
      break;
    case 7:
      g_assert_cmpint (mkfifo (path, 0600), ==, 0);
      break;
    case 8:
      g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
      break;
    case 9:
      {
        g_autofree char *junk = g_strdup_printf ("%s/junk-%u", session, g_rand_int (rand));

        write_file (junk, "not a chunk", 11);
      }
      break;
    default:
      /* A huge sparse chunk: a real header that claims very many slots. */
      if (chunk != NULL)
        {
          File file;
          guint32 slots = 1u << g_rand_int_range (rand, 8, 17);
          int fd;

          file_load (&file, chunk);
          if (file.length >= WEFT_WIRE_PAGE_BYTES)
            {
              WeftWireChunk *header = (WeftWireChunk *) file.data;
              guint64 length = weft_wire_slot_offset (header->header_bytes, header->slot_bytes, slots);

              header->slot_count = slots;
              g_test_message ("sparse chunk of %u slots, %" G_GUINT64_FORMAT " bytes", slots, length);
              fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
              g_assert_cmpint (fd, >=, 0);
              g_assert_cmpint (write (fd, file.data, WEFT_WIRE_PAGE_BYTES), ==, WEFT_WIRE_PAGE_BYTES);
              g_assert_cmpint (ftruncate (fd, (off_t) length), ==, 0);
              close (fd);
            }
          g_free (file.path);
          g_free (file.data);
        }
      break;
    }
}

typedef enum
{
  MUTATE_BITS,
  MUTATE_RECORD,
  MUTATE_RECORD_TOO,   /* records are where most parsing happens: twice the weight */
  MUTATE_SLOT,
  MUTATE_CHUNK,
  MUTATE_TRUNCATE,
  MUTATE_FILES,
  MUTATE_SESSION,
  MUTATE_DIRECTORY,
  N_MUTATIONS,
} Mutation;

static void
mutate_once (const char *session,
             GRand      *rand)
{
  g_autoptr(GPtrArray) chunks = list_chunks (session);
  Mutation mutation = g_rand_int_range (rand, 0, N_MUTATIONS);
  File file = { 0 };

  /* Rare ones first. */
  if (mutation == MUTATE_SESSION && g_rand_boolean (rand))
    mutation = MUTATE_RECORD;
  if (mutation == MUTATE_DIRECTORY && g_rand_int_range (rand, 0, 3) != 0)
    mutation = MUTATE_SLOT;

  switch (mutation)
    {
    case MUTATE_SESSION:
      mutate_session_file (session, rand);
      return;
    case MUTATE_FILES:
      add_files (session, chunks, rand);
      return;
    case MUTATE_DIRECTORY:
      if (g_rand_boolean (rand))
        {
          g_test_message ("directory mode 0755");
          g_assert_cmpint (g_chmod (session, 0755), ==, 0);
        }
      else
        {
          g_autofree char *path = g_build_filename (session, WEFT_WIRE_SESSION_FILE, NULL);
          g_autofree char *moved = g_build_filename (session, "session.real", NULL);

          g_test_message ("session file is a symlink");
          g_assert_cmpint (g_rename (path, moved), ==, 0);
          g_assert_cmpint (symlink ("session.real", path), ==, 0);
        }
      return;
    default:
      break;
    }
  if (chunks->len == 0)
    return;
  file_load (&file, chunks->pdata[g_rand_int_range (rand, 0, chunks->len)]);
  switch (mutation)
    {
    case MUTATE_BITS: flip_bits (&file, rand); break;
    case MUTATE_RECORD:
    case MUTATE_RECORD_TOO: mutate_record (&file, rand); break;
    case MUTATE_SLOT: mutate_slot (&file, rand); break;
    case MUTATE_CHUNK: mutate_chunk_header (&file, rand); break;
    case MUTATE_TRUNCATE: truncate_chunk (&file, rand); break;
    default: g_assert_not_reached ();
    }
  file_store (&file);
}

/* ---------------------------------------------------------------------- */
/* The checks. */

/* What a crafted case checks itself, after the common checks. */
typedef struct
{
  gboolean hung;      /* took longer than its time limit */
  gboolean unclear;   /* a line on stderr was not clear */
} Known;

/* Recovers session into out and checks how: returns the exit status. When
 * known is not NULL, a recovery that takes longer than timeout_s sets
 * known->hung (and returns -1) and an unclear line known->unclear, instead
 * of failing. */
static int
recover_and_check_within (const char *session,
                          const char *out,
                          guint       timeout_s,
                          Known      *known)
{
  const char *weft = g_getenv ("WEFT");
  const char *argv[] = { weft, "record", "--recover", session, "-o", out, NULL };
  Run run;
  guint lines;
  int status;

  run_command (argv, timeout_s, &run);
  if (known != NULL && run.timed_out)
    {
      known->hung = TRUE;
      run_clear (&run);
      return -1;
    }
  assert_normal_run (&run);
  lines = check_lines (run.err, known != NULL ? &known->unclear : NULL);
  status = run.exit_status;
  g_assert_true (status == 0 || status == 1);
  if (status != 0)
    {
      g_assert_cmpuint (lines, ==, 1);
      g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    }
  else
    {
      g_autofree char *text = g_strconcat (out, ".txt", NULL);
      g_autofree char *json = g_strconcat (out, ".json", NULL);
      const char *info[] = { weft, "info", out, NULL };
      const char *report[] = { weft, "report", out, "-o", text, NULL };
      const char *report_json[] = { weft, "report", "--format", "json", out, "-o", json, NULL };
      const char * const *commands[] = { info, report, report_json };

      g_assert_true (g_file_test (out, G_FILE_TEST_IS_REGULAR));
      for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
        {
          Run check;

          run_command (commands[i], TIMEOUT_S, &check);
          assert_normal_run (&check);
          if (check.exit_status != 0)
            g_test_message ("%s %s said: %s", commands[i][1], out, check.err);
          g_assert_cmpint (check.exit_status, ==, 0);
          run_clear (&check);
        }
      g_unlink (text);
      g_unlink (json);
    }
  run_clear (&run);
  return status;
}

static int
recover_and_check (const char *session,
                   const char *out)
{
  return recover_and_check_within (session, out, TIMEOUT_S, NULL);
}

static void
test_mutate (gconstpointer data)
{
  guint seed = GPOINTER_TO_UINT (data);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  const char *base = bases->pdata[g_rand_int_range (rand, 0, bases->len)];
  g_autofree char *session = g_strdup_printf ("%s/session-%u", dir, seed);
  g_autofree char *out = g_strdup_printf ("%s/out-%u.db", dir, seed);

  g_test_summary ("A randomly damaged session directory (fixed seeds) through weft record"
                  " --recover: exit 0 with a trace info and report read, or 1 with one line;"
                  " never a crash, a sanitizer report or a hang.");
  g_test_message ("base %s", base);
  copy_session (base, session);
  for (int n = g_rand_int_range (rand, 1, 4); n > 0; n--)
    mutate_once (session, rand);
  recover_and_check (session, out);
  remove_tree (session);
  g_unlink (out);
}

/* Each pristine session recovers into a trace with what it holds. */
static void
test_pristine (void)
{
  g_test_summary ("The unharmed sessions the mutator starts from recover into valid traces:"
                  " the synthetic one with every kind of record, the Python frames included.");
  for (guint i = 0; i < bases->len; i++)
    {
      g_autofree char *session = g_strdup_printf ("%s/pristine-%u", dir, i);
      g_autofree char *out = g_strdup_printf ("%s/pristine-%u.db", dir, i);
      sqlite3 *db = NULL;
      sqlite3_stmt *stmt = NULL;

      copy_session (bases->pdata[i], session);
      g_assert_cmpint (recover_and_check (session, out), ==, 0);
      g_assert_false (g_file_test (session, G_FILE_TEST_EXISTS));
      g_assert_cmpint (sqlite3_open_v2 (out, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT (SELECT count(*) FROM waits),"
                                           " (SELECT count(*) FROM processes),"
                                           " (SELECT count(*) FROM frames WHERE kind = 'python')",
                                           -1, &stmt, NULL), ==, SQLITE_OK);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
      g_assert_cmpint (sqlite3_column_int (stmt, 0), >, 5);
      g_assert_cmpint (sqlite3_column_int (stmt, 1), >=, 2);
      if (i == 0)
        {
          /* Synthetic: 12 waits (not the FREE slot's), processes 4000, 4100 and
           * 4200 (spawned, never instrumented), 3 Python frames. */
          g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 12);
          g_assert_cmpint (sqlite3_column_int (stmt, 1), ==, 3);
          g_assert_cmpint (sqlite3_column_int (stmt, 2), ==, 3);
        }
      sqlite3_finalize (stmt);
      sqlite3_close (db);
      g_unlink (out);
    }
}

/* ---------------------------------------------------------------------- */
/* Crafted PYSTACK records. */

static GBytes *
stack_record (guint32 stack_id)
{
  guint8 buffer[sizeof (WeftRecStack) + sizeof (guint64)];
  WeftRecStack r = { { WEFT_REC_STACK, sizeof buffer, 4000 }, stack_id, 1 };
  guint64 ip = MODULE_BIAS + 0x2000;

  memcpy (buffer, &r, sizeof r);
  memcpy (buffer + sizeof r, &ip, sizeof ip);
  return g_bytes_new (buffer, sizeof buffer);
}

static GBytes *
wait_record (guint32 stack_id,
             guint64 start_ns)
{
  WeftRecWait r = { { WEFT_REC_WAIT, sizeof r, 4000 }, 0x9000 + stack_id, start_ns, start_ns + 1000,
                    0, stack_id, 0, 0, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, WEFT_RESULT_OK, 0 };

  return g_bytes_new (&r, sizeof r);
}

/* A PYSTACK of stack_id whose frames are given, then changed by `damage`,
 * which sees the record and its size. */
typedef void (*Damage) (guint8 *record, gsize *size);

static void
add_pystack (GPtrArray     *extra,
             guint32        stack_id,
             const PyFrame *frames,
             guint          n,
             Damage         damage)
{
  g_autofree guint8 *buffer = g_malloc0 (65536 + 4096);
  gsize size = build_pystack (buffer, 4000, stack_id, frames, n);

  if (damage != NULL)
    damage (buffer, &size);
  g_ptr_array_add (extra, stack_record (stack_id));
  g_ptr_array_add (extra, g_bytes_new (buffer, size));
  g_ptr_array_add (extra, wait_record (stack_id, T0_NS + 70000000 + stack_id * 10000));
}

static void
set_count (guint8 *record,
           guint32 count)
{
  memcpy (record + offsetof (WeftRecPyStack, count), &count, sizeof count);
}

static void
set_size (guint8 *record,
          gsize  *size,
          gsize   new_size)
{
  guint16 size16 = (guint16) new_size;

  memcpy (record + offsetof (WeftRecHeader, size), &size16, sizeof size16);
  *size = new_size;
}

static WeftWirePyFrame *
frame_at (guint8 *record,
          guint   i)
{
  guint8 *p = record + sizeof (WeftRecPyStack);
  WeftWirePyFrame wire;

  for (; i > 0; i--)
    {
      memcpy (&wire, p, sizeof wire);
      p += weft_wire_pyframe_bytes (wire.name_bytes, wire.file_bytes);
    }
  return (WeftWirePyFrame *) p;
}

/* count says 1000 frames, the record holds 1. */
static void
damage_count (guint8 *record, gsize *size)
{
  (void) size;
  set_count (record, 1000);
}

/* count says UINT32_MAX, the record holds 2, then zeroes (frames with empty
 * name and file, as long as the record lasts). */
static void
damage_count_max (guint8 *record, gsize *size)
{
  set_count (record, G_MAXUINT32);
  set_size (record, size, *size + 64);
}

/* The second frame's name and file run past the record (and the ring). */
static void
damage_lengths (guint8 *record, gsize *size)
{
  WeftWirePyFrame *second = frame_at (record, 1);

  second->name_bytes = G_MAXUINT16;
  second->file_bytes = G_MAXUINT16;
  (void) size;
}

/* The second frame's file runs 8 bytes past the record's end. */
static void
damage_lengths_by_8 (guint8 *record, gsize *size)
{
  WeftWirePyFrame *second = frame_at (record, 1);

  second->file_bytes += 8;
  (void) size;
}

/* The record ends in the middle of the first frame's header. */
static void
damage_cut_header (guint8 *record, gsize *size)
{
  set_size (record, size, sizeof (WeftRecPyStack) + 8);
}

/* The record ends in the middle of the second frame's name. */
static void
damage_cut_name (guint8 *record, gsize *size)
{
  set_size (record, size, (gsize) ((guint8 *) frame_at (record, 1) - record) + sizeof (WeftWirePyFrame) + 8);
}

/* A record shorter than its own header (size 8): not a PYSTACK at all. */
static void
damage_tiny (guint8 *record, gsize *size)
{
  set_size (record, size, 8);
}

/* Names that are not UTF-8 and hold control characters. */
static void
damage_bytes (guint8 *record, gsize *size)
{
  guint8 *name = (guint8 *) (frame_at (record, 0) + 1);

  name[0] = 0xff;
  name[1] = '\n';
  name[2] = 0x1b;
  (void) size;
}

typedef struct
{
  guint32     stack_id;
  Damage      damage;
  guint       frames;          /* frames written */
  int         expected;        /* Python frames the trace must keep */
  const char *first;           /* the innermost one's function, if any */
} PyCase;

static const PyCase py_cases[] = {
  { 101, damage_count, 1, 1, "one" },
  { 102, damage_count_max, 2, 6, "one" },
  { 103, damage_lengths, 3, 1, "one" },
  { 104, damage_lengths_by_8, 2, 1, "one" },
  { 105, damage_cut_header, 2, 0, NULL },
  { 106, damage_cut_name, 3, 1, "one" },
  { 107, damage_tiny, 1, 0, NULL },
  { 108, damage_bytes, 2, 2, NULL },
  { 109, NULL, 64, 64, "one" },
};

static void
test_pystack (void)
{
  static const PyFrame frames[64] = {
    { "one", "/srv/one.py", 1, 0 }, { "two", "/srv/two.py", 2, 0 }, { "three", "/srv/three.py", 3, 1 },
    [3 ... 63] = { "deep", "/srv/deep.py", 9, 2 },
  };
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree char *session = g_build_filename (dir, "pystack", NULL);
  g_autofree char *out = g_build_filename (dir, "pystack.db", NULL);
  sqlite3 *db = NULL;

  g_test_summary ("WEFT_REC_PYSTACK records whose frame count and string lengths run past"
                  " their size: the frames that fit are kept, the rest dropped, no crash.");
  for (gsize i = 0; i < G_N_ELEMENTS (py_cases); i++)
    add_pystack (extra, py_cases[i].stack_id, frames, py_cases[i].frames, py_cases[i].damage);
  make_synthetic (session, extra);
  g_assert_cmpint (recover_and_check (session, out), ==, 0);

  g_assert_cmpint (sqlite3_open_v2 (out, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  for (gsize i = 0; i < G_N_ELEMENTS (py_cases); i++)
    {
      static const char sql[] =
        "SELECT count(f.id), min(CASE WHEN sf.depth = (SELECT min(sf2.depth) FROM stack_frames AS sf2"
        "   JOIN frames AS f2 ON f2.id = sf2.frame_id WHERE sf2.stack_id = w.stack_id"
        "   AND f2.kind = 'python') THEN f.function END)"
        " FROM waits AS w JOIN objects AS o ON o.id = w.object_id"
        " LEFT JOIN stack_frames AS sf ON sf.stack_id = w.stack_id"
        " LEFT JOIN frames AS f ON f.id = sf.frame_id AND f.kind = 'python'"
        " WHERE o.address = ?";
      sqlite3_stmt *stmt = NULL;
      const PyCase *c = &py_cases[i];

      g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
      sqlite3_bind_int64 (stmt, 1, 0x9000 + c->stack_id);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
      g_test_message ("stack %u: %d Python frames, innermost %s", c->stack_id,
                      sqlite3_column_int (stmt, 0), sqlite3_column_text (stmt, 1));
      if (c->expected >= 0)
        g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, c->expected);
      else
        g_assert_cmpint (sqlite3_column_int (stmt, 0), <=, WEFT_WIRE_PYSTACK_MAX);
      if (c->first != NULL)
        g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 1), ==, c->first);
      sqlite3_finalize (stmt);
    }
  {
    /* The damaged names were made valid UTF-8. */
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT function FROM frames WHERE kind = 'python'",
                                         -1, &stmt, NULL), ==, SQLITE_OK);
    while (sqlite3_step (stmt) == SQLITE_ROW)
      if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
        g_assert_true (g_utf8_validate ((const char *) sqlite3_column_text (stmt, 0), -1, NULL));
    sqlite3_finalize (stmt);
  }
  sqlite3_close (db);
  g_unlink (out);
}

/* A PYSTACK as the last record of a ring whose size runs past the ring's
 * end, and one whose size runs past head: the ring is damaged there. */
static void
test_pystack_ring_end (void)
{
  static const PyFrame frames[] = { { "one", "/srv/one.py", 1, 0 }, { "two", "/srv/two.py", 2, 0 } };
  g_autofree char *session = g_build_filename (dir, "pystack-end", NULL);
  g_autofree char *out = g_build_filename (dir, "pystack-end.db", NULL);
  g_autofree guint8 *buffer = g_malloc0 (65536);
  gsize size = build_pystack (buffer, 4100, 5, frames, G_N_ELEMENTS (frames));
  Chunk c;
  Ring ring;

  g_test_summary ("A PYSTACK record at the very end of a ring, or past head, whose size"
                  " runs beyond either: counted as damage, never read past the ring.");
  close (make_session_dir (session, FAKE_COLLECTOR_PID));
  c = chunk_new (4100, FAKE_COLLECTOR_PID, T0_NS + 100, 0, WEFT_CHUNK_ALIVE, "/bin/true", "true", 5);
  /* Slot 0: the record is the last bytes of the ring, then size grows past it. */
  ring = slot_claim (&c, 0, WEFT_SLOT_OWNED, 4100, RING_BYTES - size);
  ring_put (&ring, buffer, size);
  g_assert_cmpuint (atomic_load (&ring.slot->head), ==, RING_BYTES);
  {
    gsize grown = size;

    set_size ((guint8 *) ring.ring + RING_BYTES - size, &grown, size + 64);
  }
  /* Slot 1: head stops inside the record. */
  ring = slot_claim (&c, 1, WEFT_SLOT_RETIRED, 4101, 0);
  ring_put (&ring, buffer, size);
  atomic_store (&ring.slot->head, size - 16);
  chunk_write (&c, session, "p4100-1000000000100-0.chunk");
  recover_and_check (session, out);
  remove_tree (session);
  g_unlink (out);
}

/* Paths in records name files the collector opens: the module of a stack
 * frame (for its symbols), the program an image exec'd (to tell why it had
 * no agent). A FIFO there, with no writer (open blocks) or with one that
 * never writes (read blocks), must not stop the collector. */
typedef enum
{
  HOSTILE_MODULE = 1 << 0,   /* the FIFO is a MODULE record's path */
  HOSTILE_EXEC = 1 << 1,     /* the FIFO is an EXEC record's path */
  HOSTILE_WRITER = 1 << 2,   /* this process holds its write end open */
} Hostile;

static void
test_hostile_path (gconstpointer data)
{
  Hostile hostile = GPOINTER_TO_UINT (data);
  g_autofree char *session = g_build_filename (dir, "hostile-path", NULL);
  g_autofree char *out = g_build_filename (dir, "hostile-path.db", NULL);
  g_autofree char *fifo = g_build_filename (dir, "fifo", NULL);
  WeftRecModule module = { { WEFT_REC_MODULE, sizeof module, 4300 }, 0, 0x900000, 0x910000, { 0 } };
  guint8 stack[sizeof (WeftRecStack) + sizeof (guint64)];
  WeftRecStack stack_head = { { WEFT_REC_STACK, sizeof stack, 4300 }, 1, 1 };
  guint64 ip = 0x900100;
  Known known = { 0 };
  int writer = -1;
  Chunk c;
  Ring ring;

  g_test_summary ("MODULE and EXEC records naming a FIFO: the collector neither blocks"
                  " opening it nor reading it.");
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  if (hostile & HOSTILE_WRITER)
    g_assert_cmpint ((writer = open (fifo, O_RDWR | O_CLOEXEC)), >=, 0);
  close (make_session_dir (session, FAKE_COLLECTOR_PID));
  /* An image that exec'd and was not seen again: finalize asks why. */
  c = chunk_new (4300, FAKE_COLLECTOR_PID, T0_NS + 100, 0, WEFT_CHUNK_EXEC, "/bin/true", "x", 2);
  ring = slot_claim (&c, 0, WEFT_SLOT_OWNED, 4300, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 200, 0, NULL);
  g_strlcpy (module.path, (hostile & HOSTILE_MODULE) ? fifo : "/nonexistent/lib.so", sizeof module.path);
  ring_put (&ring, &module, sizeof module);
  memcpy (stack, &stack_head, sizeof stack_head);
  memcpy (stack + sizeof stack_head, &ip, sizeof ip);
  ring_put (&ring, stack, sizeof stack);
  put_wait (&ring, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x6000, T0_NS + 1000, 1000, 1, 0, WEFT_RESULT_OK);
  put_exec (&ring, T0_NS + 5000, 0, (hostile & HOSTILE_EXEC) ? fifo : "/nonexistent/program");
  chunk_write (&c, session, "p4300-1000000000100-0.chunk");
  /* A plain open() of a FIFO waits for a writer: weft opens such paths with
   * weft_open_regular_file(). A hang fails the case (after 5 s). */
  recover_and_check_within (session, out, 5, &known);
  g_assert_false (known.hung);
  if (writer >= 0)
    close (writer);
  remove_tree (session);
  g_unlink (out);
  g_unlink (fifo);
}

/* A sparse chunk file whose header claims a million slots, and is
 * as big as that says: the session's chunks all have its slot count, so
 * the reader need not walk (and fault in) every slot header of it. */
static void
test_huge_slot_count (void)
{
  g_autofree char *session = g_build_filename (dir, "huge-slots", NULL);
  g_autofree char *out = g_build_filename (dir, "huge-slots.db", NULL);
  g_autofree char *path = g_build_filename (session, "p4700-1000000000100-0.chunk", NULL);
  Chunk c;
  Ring ring;
  int fd;

  g_test_summary ("A sparse chunk of 2^20 slots (72 GB) in a session of 2-slot chunks:"
                  " not read, and no time spent on it.");
  close (make_session_dir (session, FAKE_COLLECTOR_PID));
  c = chunk_new (4700, FAKE_COLLECTOR_PID, T0_NS + 100, 0, WEFT_CHUNK_ALIVE, "/bin/true", "true", 5);
  ring = slot_claim (&c, 0, WEFT_SLOT_OWNED, 4700, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 200, 0, NULL);
  c.chunk->slot_count = 1u << 20;
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, c.data, CHUNK_BYTES), ==, CHUNK_BYTES);
  g_assert_cmpint (ftruncate (fd, (off_t) weft_wire_slot_offset (c.chunk->header_bytes, c.chunk->slot_bytes,
                                                                 c.chunk->slot_count)), ==, 0);
  close (fd);
  g_free (c.data);
  g_assert_cmpint (recover_and_check (session, out), ==, 0);
  remove_tree (session);
  g_unlink (out);
}

/* A process that exec'd and was not seen again is named on stderr by its
 * exe from shared memory: control characters there must not reach the
 * terminal (a newline would forge a line, an escape would drive it). */
static void
test_hostile_exe_name (void)
{
  g_autofree char *session = g_build_filename (dir, "hostile-exe", NULL);
  g_autofree char *out = g_build_filename (dir, "hostile-exe.db", NULL);
  Known known = { 0 };
  Chunk c;
  Ring ring;

  g_test_summary ("An exe name with a newline and terminal escapes, printed in the"
                  " 'was not instrumented' line: still one clean line.");
  close (make_session_dir (session, FAKE_COLLECTOR_PID));
  c = chunk_new (4400, FAKE_COLLECTOR_PID, T0_NS + 100, 0, WEFT_CHUNK_EXEC,
                 "/usr/bin/evil\x1b]0;owned\x07\x1b[2J\nweft record: forged line", "evil", 5);
  ring = slot_claim (&c, 0, WEFT_SLOT_OWNED, 4400, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 200, 0, NULL);
  put_exec (&ring, T0_NS + 5000, 0, "/nonexistent/program");
  chunk_write (&c, session, "p4400-1000000000100-0.chunk");
  recover_and_check_within (session, out, TIMEOUT_S, &known);
  g_assert_false (known.unclear);
  remove_tree (session);
  g_unlink (out);
}

/* ---------------------------------------------------------------------- */
/* The reader in this process, facing a program that rewrites its chunk
 * while the collector reads it (a live recording, where the program is
 * still running: what --recover cannot show). */

typedef struct
{
  char    *map;          /* the program's own mapping of its chunk file */
  gsize    ring_at;      /* offset of slot 0's ring in it */
  guint    records;
  guint    slots;
} Live;

/* While the collector holds a record, the program makes every record of
 * its ring claim the largest size: the record handed over keeps the size
 * that was checked, and all of it can be read. */
static void
live_record (const WeftSessionImage *image,
             const WeftRecHeader    *record,
             gpointer                user_data)
{
  Live *live = user_data;
  guint16 size = record->size;
  guint8 sum = 0;

  (void) image;
  for (gsize offset = 0; offset + sizeof (WeftRecHeader) <= RING_BYTES; offset += 8)
    {
      guint16 huge = 0xfff8;

      memcpy (live->map + live->ring_at + offset + offsetof (WeftRecHeader, size), &huge, sizeof huge);
    }
  g_assert_cmpuint (record->size, ==, size);
  for (guint16 i = 0; i < size; i++)
    sum += ((const guint8 *) record)[i];
  (void) sum;
  live->records++;
}

static void
live_slot (const WeftSessionImage *image,
           const WeftWireSlot     *slot,
           gpointer                user_data)
{
  Live *live = user_data;

  (void) image;
  (void) slot;
  live->slots++;
}

/* The program rewrites its chunk header after the collector mapped it
 * (millions of slots, another ring size, slots past the end of the file),
 * and its records while the collector reads them. */
static void
test_live_rewrite (void)
{
  g_autoptr(GError) error = NULL;
  WeftSession *session;
  g_autofree char *name = NULL;
  WeftWireChunk *header;
  Live live = { 0 };
  Chunk c;
  Ring ring;
  int fd;

  g_test_summary ("A program that rewrites its chunk header and ring records while the"
                  " collector reads them: the collector keeps to what it checked.");
  session = weft_session_new (dir, RING_BYTES, SLOT_COUNT, 0, &error);
  g_assert_no_error (error);
  c = chunk_new (4500, getpid (), T0_NS + 100, 0, WEFT_CHUNK_ALIVE, "/bin/true", "true", 5);
  ring = slot_claim (&c, 0, WEFT_SLOT_OWNED, 4500, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 200, 0, NULL);
  put_wait (&ring, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x6000, T0_NS + 1000, 1000, 0, 0, WEFT_RESULT_OK);
  put_wait (&ring, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x6000, T0_NS + 3000, 1000, 0, 0, WEFT_RESULT_OK);
  live.ring_at = (char *) ring.ring - c.data;
  ring = slot_claim (&c, 1, WEFT_SLOT_RETIRED, 4501, 0);
  put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 300, 0, NULL);
  name = g_strdup_printf ("p4500-%" G_GUINT64_FORMAT "-0.chunk", T0_NS + 100);
  chunk_write (&c, weft_session_get_path (session), name);

  {
    g_autofree char *path = g_build_filename (weft_session_get_path (session), name, NULL);

    fd = open (path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint (fd, >=, 0);
    live.map = mmap (NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true (live.map != MAP_FAILED);
    close (fd);
  }

  /* First pass: three records of slot 0 (each rewritten while held: the
   * first one's checked size decides where the next begins, so the others
   * are counted as damage), one of slot 1, and slot 1's counters. */
  weft_session_drain (session, live_record, live_slot, &live);
  g_assert_cmpuint (live.records, >=, 1);
  g_assert_cmpuint (live.slots, ==, 1);

  /* Now the header says the chunk is far bigger than the file. */
  header = (WeftWireChunk *) live.map;
  header->slot_count = 1u << 20;
  header->ring_bytes = 8;
  header->slot_bytes = sizeof (WeftWireSlot) + 8;
  header->header_bytes = 1u << 30;
  header->chunk_seq = G_MAXUINT32;
  {
    WeftWireSlot *slot = (WeftWireSlot *) (live.map + WEFT_WIRE_PAGE_BYTES);
    Ring more = { slot, (char *) (slot + 1) };

    atomic_store (&slot->tail, atomic_load (&slot->head));
    put_thread (&more, WEFT_REC_THREAD_END, T0_NS + 9000, 0, "done");
  }
  live.records = 0;
  weft_session_close (session, live_record, live_slot, &live);
  g_assert_cmpuint (live.records, ==, 1);
  munmap (live.map, CHUNK_BYTES);
  weft_session_free (session);
}

/* Chunks of one image whose numbers are at the ends of the range: sorting
 * them must not overflow. */
static void
test_chunk_seq_extremes (void)
{
  static const guint32 seqs[] = { 0, 1, G_MAXINT32, (guint32) G_MAXINT32 + 1, G_MAXUINT32 - 1, G_MAXUINT32 };
  g_autofree char *session = g_build_filename (dir, "chunk-seq", NULL);
  g_autofree char *out = g_build_filename (dir, "chunk-seq.db", NULL);

  g_test_summary ("Chunks numbered 0, 1, 2^31-1, 2^31, 2^32-2 and 2^32-1 in one session:"
                  " all read, in order, no overflow.");
  close (make_session_dir (session, FAKE_COLLECTOR_PID));
  for (gsize i = 0; i < G_N_ELEMENTS (seqs); i++)
    {
      g_autofree char *name = g_strdup_printf ("p4600-1000000000100-%u.chunk", seqs[i]);
      Chunk c = chunk_new (4600, FAKE_COLLECTOR_PID, T0_NS + 100, seqs[i], WEFT_CHUNK_ALIVE,
                           "/bin/true", "true", 5);
      Ring ring = slot_claim (&c, 0, WEFT_SLOT_OWNED, 4600 + i, 0);

      put_thread (&ring, WEFT_REC_THREAD_START, T0_NS + 200 + i, 0, NULL);
      put_wait (&ring, WEFT_WAIT_MUTEX, WEFT_OBJ_MUTEX, 0x6000, T0_NS + 1000 + i * 1000, 500, 0, 0,
                WEFT_RESULT_OK);
      chunk_write (&c, session, name);
    }
  g_assert_cmpint (recover_and_check (session, out), ==, 0);
  g_unlink (out);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *synthetic = NULL, *recorded = NULL;
  const char *cases_text;
  guint cases;
  int status;

  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("WEFT") == NULL)
    {
      g_test_skip ("WEFT is not set");
      return g_test_run ();
    }
  cases_text = g_getenv ("WEFT_FUZZ_CASES");
  cases = cases_text != NULL ? (guint) g_ascii_strtoull (cases_text, NULL, 10) : g_test_perf () ? 1000 : 40;
  dir = g_dir_make_tmp ("weft-fuzz-session-XXXXXX", &error);
  g_assert_no_error (error);
  bases = g_ptr_array_new ();
  synthetic = g_build_filename (dir, "base-synthetic", NULL);
  make_synthetic (synthetic, NULL);
  g_ptr_array_add (bases, synthetic);
  recorded = g_build_filename (dir, "base-recorded", NULL);
  if (make_recorded (recorded))
    g_ptr_array_add (bases, recorded);

  g_test_add_func ("/fuzz/session/pristine", test_pristine);
  g_test_add_func ("/fuzz/session/pystack", test_pystack);
  g_test_add_func ("/fuzz/session/pystack-ring-end", test_pystack_ring_end);
  g_test_add_func ("/fuzz/session/chunk-seq-extremes", test_chunk_seq_extremes);
  g_test_add_func ("/fuzz/session/huge-slot-count", test_huge_slot_count);
  g_test_add_func ("/fuzz/session/hostile-exe-name", test_hostile_exe_name);
  g_test_add_func ("/fuzz/session/live-rewrite", test_live_rewrite);
  g_test_add_data_func ("/fuzz/session/hostile-path/module", GUINT_TO_POINTER (HOSTILE_MODULE),
                        test_hostile_path);
  g_test_add_data_func ("/fuzz/session/hostile-path/module-writer",
                        GUINT_TO_POINTER (HOSTILE_MODULE | HOSTILE_WRITER), test_hostile_path);
  g_test_add_data_func ("/fuzz/session/hostile-path/exec", GUINT_TO_POINTER (HOSTILE_EXEC),
                        test_hostile_path);
  g_test_add_data_func ("/fuzz/session/hostile-path/exec-writer",
                        GUINT_TO_POINTER (HOSTILE_EXEC | HOSTILE_WRITER), test_hostile_path);
  for (guint i = 0; i < cases; i++)
    {
      g_autofree char *test_path = g_strdup_printf ("/fuzz/session/mutate/%u", i);

      g_test_add_data_func (test_path, GUINT_TO_POINTER (i), test_mutate);
    }
  status = g_test_run ();
  remove_tree (dir);
  g_ptr_array_unref (bases);
  g_free (dir);
  return status;
}
