/* weft-session.c — the collector's side of the shared-memory session: the
 * private directory, the chunk files the agents create in it, and draining
 * their rings (see agent/weft-wire.h for the protocol). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "weft-session.h"

/* The header fields that say where things are in a chunk, each read once:
 * the traced program can rewrite its chunk's header at any time, so after
 * the checks we only ever use these copies. */
typedef struct
{
  guint32 header_bytes;
  guint32 slot_bytes;
  guint32 slot_count;
  guint32 ring_bytes;
  guint32 chunk_seq;
  gint32  pid;
  gint32  ppid;
  guint64 image_start_ns;
} ChunkLayout;

typedef struct
{
  char             *name;          /* file name in the session directory */
  WeftWireChunk    *chunk;         /* the mapping; NULL once it faulted */
  gsize             map_bytes;
  ChunkLayout       layout;        /* as checked when mapped */
  WeftSessionImage *image;
  guint32          *generations;   /* per slot: the generation last seen owned */
} SessionChunk;

struct _WeftSession
{
  char       *path;
  int         dir_fd;
  int         lock_fd;           /* the session file, flock'ed LOCK_EX while we live */
  gboolean    keep_files;        /* free() leaves the directory in place */
  guint64     start_ns;          /* from the session file */
  gint32      collector_pid;     /* from the session file */
  guint32     ring_bytes;
  guint32     slot_count;
  GHashTable *known;             /* file name → SessionChunk*, NULL: not one we read */
  GPtrArray  *chunks;            /* SessionChunk*, in discovery order */
  GPtrArray  *images;            /* WeftSessionImage* */
  GHashTable *images_by_key;     /* "pid-start_ns" → WeftSessionImage* */
  guint64     corrupt_records;   /* records that could not be parsed (bad size) */
  guint       damaged_chunks;    /* chunk files that shrank under our mapping */
  guint       delivered;         /* records delivered by the drain_chunk() running */
  guint64    *record;            /* a copy of the record being delivered (64 KiB) */
  WeftWireSlot *slot;            /* a copy of the slot handed to slot_func */
};

/* The traced program can truncate its chunk file while we have it mapped
 * (it owns the file as much as we do), and reading a mapped page past the
 * end of a file raises SIGBUS. Every read or write of a mapping happens with
 * fault_jump set, and the handler returns there; the chunk is then given
 * up. fault_jump is cleared around the callbacks, which only ever see
 * copies, so a fault anywhere else still kills us as it would have. */
static __thread sigjmp_buf *volatile fault_jump;

static void
on_sigbus (int        signum,
           siginfo_t *info,
           void      *context)
{
  sigjmp_buf *jump = fault_jump;

  if (jump != NULL)
    {
      fault_jump = NULL;
      siglongjmp (*jump, 1);
    }
  signal (SIGBUS, SIG_DFL);
  raise (SIGBUS);
}

/* SA_NODEFER leaves SIGBUS unblocked after the jump, so sigsetjmp need not
 * save the signal mask (a system call at every drain). */
static void
install_sigbus_handler (void)
{
  static gsize installed = 0;

  if (g_once_init_enter (&installed))
    {
      struct sigaction action = { .sa_sigaction = on_sigbus,
                                  .sa_flags = SA_SIGINFO | SA_NODEFER };

      sigemptyset (&action.sa_mask);
      sigaction (SIGBUS, &action, NULL);
      g_once_init_leave (&installed, 1);
    }
}

static inline void
mapping_enter (sigjmp_buf *jump)
{
  fault_jump = jump;
  atomic_signal_fence (memory_order_seq_cst);
}

static inline void
mapping_leave (void)
{
  atomic_signal_fence (memory_order_seq_cst);
  fault_jump = NULL;
}

static void
session_image_free (gpointer data)
{
  WeftSessionImage *image = data;

  g_free ((gpointer) image->chunk0);
  g_free (image);
}

static void
session_chunk_free (gpointer data)
{
  SessionChunk *chunk = data;

  if (chunk->chunk != NULL)
    munmap (chunk->chunk, chunk->map_bytes);
  g_free (chunk->generations);
  g_free (chunk->name);
  g_free (chunk);
}

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

/* Takes the collector's lock on the session file (weft-wire.h): agents
 * that can take a shared lock on it know we are gone. */
static gboolean
lock_session_file (WeftSession  *self,
                   int           fd,
                   GError      **error)
{
  if (flock (fd, LOCK_EX | LOCK_NB) == 0)
    {
      self->lock_fd = fd;
      return TRUE;
    }
  if (errno == EWOULDBLOCK)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                 "%s is still being recorded by a running weft (pid %d)",
                 self->path, (int) self->collector_pid);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "cannot lock %s/%s: %s", self->path, WEFT_WIRE_SESSION_FILE, g_strerror (errno));
  close (fd);
  return FALSE;
}

static gboolean
write_session_file (WeftSession  *self,
                    guint32       flags,
                    GError      **error)
{
  WeftWireSession session = {
    .magic = WEFT_WIRE_SESSION_MAGIC,
    .version = WEFT_WIRE_VERSION,
    .slot_count = self->slot_count,
    .ring_bytes = self->ring_bytes,
    .flags = flags,
    .collector_pid = getpid (),
    .start_ns = monotonic_ns (),
  };
  int fd;

  self->start_ns = session.start_ns;
  self->collector_pid = session.collector_pid;
  fd = openat (self->dir_fd, WEFT_WIRE_SESSION_FILE,
               O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || write (fd, &session, sizeof session) != sizeof session)
    {
      int saved_errno = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot write the session file in %s: %s",
                   self->path, g_strerror (saved_errno));
      return FALSE;
    }
  /* Kept open (close-on-exec, so the program never holds our lock). */
  return lock_session_file (self, fd, error);
}

static WeftSession *
session_alloc (void)
{
  WeftSession *self = g_new0 (WeftSession, 1);

  self->dir_fd = -1;
  self->lock_fd = -1;
  self->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->chunks = g_ptr_array_new_with_free_func (session_chunk_free);
  self->images = g_ptr_array_new_with_free_func (session_image_free);
  self->images_by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->record = g_new (guint64, (G_MAXUINT16 + 1) / sizeof (guint64));
  self->slot = g_new (WeftWireSlot, 1);
  install_sigbus_handler ();
  return self;
}

/* Creates the private directory: under /dev/shm by default so rings live in
 * memory, else in the temporary directory. Its name carries our pid
 * (weft-PID-XXXXXX), so that after weft was killed the user can tell which
 * directory to hand to `weft record --recover`. */
WeftSession *
weft_session_new (const char  *dir,
                  guint32      ring_bytes,
                  guint32      slot_count,
                  guint32      flags,
                  GError     **error)
{
  g_autoptr (WeftSession) self = session_alloc ();
  g_autofree char *template = NULL;
  g_autofree char *name = g_strdup_printf ("weft-%d-XXXXXX", (int) getpid ());

  g_return_val_if_fail (ring_bytes >= 65536 && (ring_bytes & (ring_bytes - 1)) == 0, NULL);
  g_return_val_if_fail (slot_count > 0, NULL);

  self->ring_bytes = ring_bytes;
  self->slot_count = slot_count;
  if (dir == NULL)
    dir = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) && access ("/dev/shm", W_OK) == 0
          ? "/dev/shm" : g_get_tmp_dir ();
  template = g_build_filename (dir, name, NULL);
  if (g_mkdtemp_full (template, 0700) == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot create a session directory in %s: %s", dir, g_strerror (saved_errno));
      return NULL;
    }
  self->path = g_steal_pointer (&template);
  self->dir_fd = open (self->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->dir_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot open %s: %s", self->path, g_strerror (saved_errno));
      return NULL;
    }
  if (!write_session_file (self, flags, error))
    return NULL;

  return g_steal_pointer (&self);
}

/* Reads and checks the session file of an existing directory. */
static gboolean
read_session_file (WeftSession  *self,
                   GError      **error)
{
  WeftWireSession session;
  struct stat st;
  ssize_t n;
  int fd;

  fd = openat (self->dir_fd, WEFT_WIRE_SESSION_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s is not a weft session directory: %s/%s: %s", self->path,
                   self->path, WEFT_WIRE_SESSION_FILE, g_strerror (saved_errno));
      return FALSE;
    }
  n = pread (fd, &session, sizeof session, 0);
  if (fstat (fd, &st) != 0 || st.st_uid != geteuid () || n != (ssize_t) sizeof session
      || session.magic != WEFT_WIRE_SESSION_MAGIC || session.version != WEFT_WIRE_VERSION)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s is not a weft session directory of this user and weft version", self->path);
      return FALSE;
    }
  /* The limits the agent puts on a session it joins (weft-agent.c): it
   * never made chunks in one outside them. */
  if (session.ring_bytes < 65536 || session.ring_bytes > (1u << 30)
      || (session.ring_bytes & (session.ring_bytes - 1)) != 0
      || session.slot_count == 0 || session.slot_count > 4096)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s is not a weft session directory of this user and weft version", self->path);
      return FALSE;
    }
  self->ring_bytes = session.ring_bytes;
  self->slot_count = session.slot_count;
  self->start_ns = session.start_ns;
  self->collector_pid = session.collector_pid;
  return lock_session_file (self, fd, error);
}

WeftSession *
weft_session_open (const char  *path,
                   GError     **error)
{
  g_autoptr (WeftSession) self = session_alloc ();
  struct stat st;

  /* Nothing here may be removed unless a trace was made of it. */
  self->keep_files = TRUE;
  self->path = g_canonicalize_filename (path, NULL);
  self->dir_fd = open (self->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (self->dir_fd < 0 || fstat (self->dir_fd, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot open the session directory %s: %s", self->path, g_strerror (saved_errno));
      return NULL;
    }
  if (st.st_uid != geteuid () || (st.st_mode & 0777) != 0700)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "%s is not a private directory of this user (owner, mode 0700)", self->path);
      return NULL;
    }
  if (!read_session_file (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

void
weft_session_set_keep_files (WeftSession *self,
                             gboolean     keep_files)
{
  self->keep_files = keep_files;
}

guint64
weft_session_get_start_ns (WeftSession *self)
{
  return self->start_ns;
}

gint32
weft_session_get_collector_pid (WeftSession *self)
{
  return self->collector_pid;
}

const char *
weft_session_get_path (WeftSession *self)
{
  return self->path;
}

GPtrArray *
weft_session_get_images (WeftSession *self)
{
  return self->images;
}

/* A chunk file is ready once its header is complete: the agent creates the
 * file, sizes it, maps it, fills the header and writes the magic last. A
 * file with the magic whose fields do not add up never will: CHUNK_JUNK.
 * The agent makes every chunk of a session with the session's slot count
 * and ring size, so nothing else is one of ours (and a huge sparse file
 * claiming millions of slots costs us nothing). Reads each field once into
 * layout. */
typedef enum
{
  CHUNK_NOT_YET,  /* being made: look again at the next drain */
  CHUNK_READY,
  CHUNK_JUNK,     /* never one we can read: remembered and left alone */
} ChunkStatus;

static ChunkStatus
chunk_header_status (WeftSession         *self,
                     const WeftWireChunk *chunk,
                     gsize                file_bytes,
                     ChunkLayout         *layout)
{
  if (chunk->magic != WEFT_WIRE_CHUNK_MAGIC)
    return CHUNK_NOT_YET;
  *layout = (ChunkLayout) {
    .header_bytes = chunk->header_bytes,
    .slot_bytes = chunk->slot_bytes,
    .slot_count = chunk->slot_count,
    .ring_bytes = chunk->ring_bytes,
    .chunk_seq = chunk->chunk_seq,
    .pid = chunk->pid,
    .ppid = chunk->ppid,
    .image_start_ns = chunk->image_start_ns,
  };
  if (chunk->version != WEFT_WIRE_VERSION
      || layout->pid <= 0 || layout->image_start_ns == 0
      || layout->slot_count != self->slot_count || layout->ring_bytes != self->ring_bytes
      || layout->ring_bytes < 8 || layout->ring_bytes % 8 != 0
      || layout->slot_bytes != sizeof (WeftWireSlot) + layout->ring_bytes
      || layout->header_bytes < sizeof (WeftWireChunk) || layout->header_bytes % 8 != 0)
    return CHUNK_JUNK;
  if (weft_wire_slot_offset (layout->header_bytes, layout->slot_bytes, layout->slot_count)
      > file_bytes)
    return CHUNK_JUNK;
  return CHUNK_READY;
}

/* The image keeps a copy of its chunk 0's header, the one finalize reads
 * (exe, command line, exit): refreshed from the mapping when the session
 * closes, so nobody outside this file ever reads a mapping. */
static WeftSessionImage *
session_image_for (WeftSession         *self,
                   const WeftWireChunk *header,
                   const ChunkLayout   *layout)
{
  g_autofree char *key = g_strdup_printf ("%d-%" G_GUINT64_FORMAT,
                                          layout->pid, layout->image_start_ns);
  WeftSessionImage *image = g_hash_table_lookup (self->images_by_key, key);

  if (image == NULL)
    {
      image = g_new0 (WeftSessionImage, 1);
      image->pid = layout->pid;
      image->ppid = layout->ppid;
      image->image_start_ns = layout->image_start_ns;
      g_ptr_array_add (self->images, image);
      g_hash_table_insert (self->images_by_key, g_steal_pointer (&key), image);
    }
  if (layout->chunk_seq == 0)
    {
      g_free ((gpointer) image->chunk0);
      image->chunk0 = g_memdup2 (header, sizeof *header);
    }
  return image;
}

/* Maps one chunk file, its header read with pread (a file being truncated
 * cannot fault a read). Returns CHUNK_READY and the chunk in *out, or why
 * not. */
static ChunkStatus
session_try_map (WeftSession   *self,
                 const char    *name,
                 SessionChunk **out)
{
  g_autofree WeftWireChunk *header = g_new0 (WeftWireChunk, 1);
  SessionChunk *chunk;
  ChunkLayout layout;
  ChunkStatus status;
  struct stat st;
  void *map;
  int fd;

  fd = openat (self->dir_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return errno == ELOOP ? CHUNK_JUNK : CHUNK_NOT_YET;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid ())
    {
      close (fd);
      return CHUNK_JUNK;
    }
  if ((gsize) st.st_size < WEFT_WIRE_PAGE_BYTES
      || pread (fd, header, sizeof *header, 0) != (ssize_t) sizeof *header
      || (status = chunk_header_status (self, header, st.st_size, &layout)) == CHUNK_NOT_YET)
    {
      close (fd);
      return CHUNK_NOT_YET;
    }
  if (status == CHUNK_JUNK)
    {
      close (fd);
      return CHUNK_JUNK;
    }
  map = mmap (NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close (fd);
  if (map == MAP_FAILED)
    return CHUNK_NOT_YET;

  chunk = g_new0 (SessionChunk, 1);
  chunk->name = g_strdup (name);
  chunk->chunk = map;
  chunk->map_bytes = st.st_size;
  chunk->layout = layout;
  chunk->generations = g_new0 (guint32, layout.slot_count);
  chunk->image = session_image_for (self, header, &layout);
  *out = chunk;
  return CHUNK_READY;
}

static gint
compare_chunk_seq (gconstpointer a,
                   gconstpointer b)
{
  guint32 seq_a = (*(SessionChunk * const *) a)->layout.chunk_seq;
  guint32 seq_b = (*(SessionChunk * const *) b)->layout.chunk_seq;

  return seq_a < seq_b ? -1 : seq_a > seq_b;
}

/* A directory stream of its own: a dup() of dir_fd would share (and leave at
 * the end) the read position of every other stream on it. */
static DIR *
open_session_dir (WeftSession *self)
{
  int fd = openat (self->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir;

  if (fd < 0)
    return NULL;
  if ((dir = fdopendir (fd)) == NULL)
    close (fd);
  return dir;
}

static void
session_scan (WeftSession *self)
{
  g_autoptr (GPtrArray) fresh = g_ptr_array_new ();
  DIR *dir;
  struct dirent *entry;

  if ((dir = open_session_dir (self)) == NULL)
    return;
  while ((entry = readdir (dir)) != NULL)
    {
      SessionChunk *chunk = NULL;

      if (!g_str_has_suffix (entry->d_name, ".chunk")
          || g_hash_table_contains (self->known, entry->d_name))
        continue;
      switch (session_try_map (self, entry->d_name, &chunk))
        {
        case CHUNK_NOT_YET:
          break;
        case CHUNK_JUNK:
          g_hash_table_insert (self->known, g_strdup (entry->d_name), NULL);
          break;
        case CHUNK_READY:
          g_hash_table_insert (self->known, g_strdup (entry->d_name), chunk);
          g_ptr_array_add (fresh, chunk);
          break;
        }
    }
  closedir (dir);

  /* Lower chunk numbers first, so an image's slots are drained in the order
   * its threads claimed them. */
  g_ptr_array_sort (fresh, compare_chunk_seq);
  for (guint i = 0; i < fresh->len; i++)
    g_ptr_array_add (self->chunks, fresh->pdata[i]);
}

static WeftWireSlot *
chunk_slot (SessionChunk *chunk,
            guint32       i)
{
  return (WeftWireSlot *) ((char *) chunk->chunk
                           + weft_wire_slot_offset (chunk->layout.header_bytes,
                                                    chunk->layout.slot_bytes, i));
}

/* Delivers the records between tail and head. A record whose size is not
 * plausible means the ring is damaged (a writer killed mid-record cannot do
 * that: head moves only after the record is complete); we skip to head and
 * count it rather than guess. Each record is handed on as a copy whose
 * header is the one we checked: the program may rewrite its ring while we
 * read it, and a size it changed after our check must not make anyone read
 * past the ring. Reads the mapping only under jump (see fault_jump). */
static void
drain_ring (WeftSession           *self,
            SessionChunk          *chunk,
            WeftWireSlot          *slot,
            sigjmp_buf            *jump,
            WeftSessionRecordFunc  record_func,
            gpointer               user_data)
{
  const guint32 ring_bytes = chunk->layout.ring_bytes;
  const char *ring = (const char *) (slot + 1);
  guint64 head = atomic_load_explicit (&slot->head, memory_order_acquire);
  guint64 tail = atomic_load_explicit (&slot->tail, memory_order_relaxed);

  if (head - tail > ring_bytes)
    {
      self->corrupt_records++;
      tail = head;
    }
  while (tail < head)
    {
      guint64 offset = tail % ring_bytes;
      guint64 raw;
      WeftRecHeader header;

      if (ring_bytes - offset < sizeof (WeftRecHeader))
        {
          tail += ring_bytes - offset;
          continue;
        }
      raw = *(const volatile guint64 *) (ring + offset);
      memcpy (&header, &raw, sizeof header);
      if (header.size < sizeof (WeftRecHeader) || header.size % 8 != 0
          || header.size > ring_bytes - offset || header.size > head - tail)
        {
          self->corrupt_records++;
          tail = head;
          break;
        }
      if (header.type != WEFT_REC_PAD)
        {
          memcpy (self->record, ring + offset, header.size);
          memcpy (self->record, &header, sizeof header);
          mapping_leave ();
          record_func (chunk->image, (const WeftRecHeader *) self->record, user_data);
          mapping_enter (jump);
          self->delivered++;
        }
      tail += header.size;
    }
  atomic_store_explicit (&slot->tail, tail, memory_order_release);
}

/* Hands slot_func a copy of the slot (its counters), taken under jump. */
static void
deliver_slot (WeftSession         *self,
              SessionChunk        *chunk,
              const WeftWireSlot  *slot,
              sigjmp_buf          *jump,
              WeftSessionSlotFunc  slot_func,
              gpointer             user_data)
{
  memcpy (self->slot, slot, sizeof *self->slot);
  mapping_leave ();
  slot_func (chunk->image, self->slot, user_data);
  mapping_enter (jump);
}

/* The program shrank the file under our mapping: what its rings still held
 * is lost. Counted (one corrupt record) and never read again. */
static void
chunk_faulted (WeftSession  *self,
               SessionChunk *chunk)
{
  munmap (chunk->chunk, chunk->map_bytes);
  chunk->chunk = NULL;
  self->damaged_chunks++;
  self->corrupt_records++;
}

static void
drain_chunk_slots (WeftSession           *self,
                   SessionChunk          *chunk,
                   gboolean               closing,
                   sigjmp_buf            *jump,
                   WeftSessionRecordFunc  record_func,
                   WeftSessionSlotFunc    slot_func,
                   gpointer               user_data)
{
  for (guint32 i = 0; i < chunk->layout.slot_count; i++)
    {
      WeftWireSlot *slot = chunk_slot (chunk, i);
      guint32 state = atomic_load_explicit (&slot->state, memory_order_acquire);
      guint32 generation = atomic_load_explicit (&slot->generation, memory_order_acquire);

      /* FREE and CLAIMING (an agent is resetting it) are not readable. */
      if (state != WEFT_SLOT_OWNED && state != WEFT_SLOT_RETIRED)
        continue;
      chunk->generations[i] = generation;
      drain_ring (self, chunk, slot, jump, record_func, user_data);

      /* RETIRED was read before head, so the ring is complete: hand over its
       * counters and give the slot back to the agent. */
      if (state == WEFT_SLOT_RETIRED)
        {
          guint32 expected = WEFT_SLOT_RETIRED;

          deliver_slot (self, chunk, slot, jump, slot_func, user_data);
          atomic_compare_exchange_strong_explicit (&slot->state, &expected, WEFT_SLOT_FREE,
                                                   memory_order_release, memory_order_relaxed);
        }
      else if (closing)
        deliver_slot (self, chunk, slot, jump, slot_func, user_data);
    }
  /* Chunk 0's header as the image's last word (finalize reads the copy). */
  if (closing && chunk->layout.chunk_seq == 0 && chunk->image->chunk0 != NULL)
    memcpy ((gpointer) chunk->image->chunk0, chunk->chunk, sizeof (WeftWireChunk));
}

/* Drains one chunk with the fault guard set (see fault_jump), counting the
 * records delivered in self->delivered, which a fault leaves as it was. */
static guint
drain_chunk (WeftSession           *self,
             SessionChunk          *chunk,
             gboolean               closing,
             WeftSessionRecordFunc  record_func,
             WeftSessionSlotFunc    slot_func,
             gpointer               user_data)
{
  sigjmp_buf jump;

  if (chunk->chunk == NULL)
    return 0;
  self->delivered = 0;
  if (sigsetjmp (jump, 0) != 0)
    {
      chunk_faulted (self, chunk);
      return self->delivered;
    }
  mapping_enter (&jump);
  drain_chunk_slots (self, chunk, closing, &jump, record_func, slot_func, user_data);
  mapping_leave ();
  return self->delivered;
}

guint
weft_session_drain (WeftSession           *self,
                    WeftSessionRecordFunc  record_func,
                    WeftSessionSlotFunc    slot_func,
                    gpointer               user_data)
{
  guint delivered = 0;

  session_scan (self);
  for (guint i = 0; i < self->chunks->len; i++)
    delivered += drain_chunk (self, self->chunks->pdata[i], FALSE,
                              record_func, slot_func, user_data);
  return delivered;
}

void
weft_session_close (WeftSession           *self,
                    WeftSessionRecordFunc  record_func,
                    WeftSessionSlotFunc    slot_func,
                    gpointer               user_data)
{
  /* Drain until nothing moves, so a retired slot is freed and re-read once. */
  while (weft_session_drain (self, record_func, slot_func, user_data) > 0)
    ;
  for (guint i = 0; i < self->chunks->len; i++)
    drain_chunk (self, self->chunks->pdata[i], TRUE, record_func, slot_func, user_data);
}

guint64
weft_session_get_corrupt_records (WeftSession *self)
{
  return self->corrupt_records;
}

guint
weft_session_get_damaged_chunks (WeftSession *self)
{
  return self->damaged_chunks;
}

static void
remove_session_files (WeftSession *self)
{
  DIR *dir = open_session_dir (self);
  struct dirent *entry;

  if (dir == NULL)
    return;
  while ((entry = readdir (dir)) != NULL)
    if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
      unlinkat (self->dir_fd, entry->d_name, 0);
  closedir (dir);
}

void
weft_session_free (WeftSession *self)
{
  if (self == NULL)
    return;
  if (self->dir_fd >= 0)
    {
      if (!self->keep_files)
        remove_session_files (self);
      close (self->dir_fd);
    }
  if (self->path != NULL && !self->keep_files)
    g_rmdir (self->path);
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_clear_pointer (&self->chunks, g_ptr_array_unref);
  g_clear_pointer (&self->known, g_hash_table_unref);
  g_clear_pointer (&self->images_by_key, g_hash_table_unref);
  g_clear_pointer (&self->images, g_ptr_array_unref);
  g_free (self->record);
  g_free (self->slot);
  g_free (self->path);
  g_free (self);
}
