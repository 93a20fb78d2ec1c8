/* weft-session.h — the collector's side of the shared-memory session
 * (agent/weft-wire.h): create the session directory, find the chunk files the
 * agents create, and drain their rings.
 *
 * Used from one thread (the drain loop). Records are handed out in ring order
 * per thread slot; there is no order across slots.
 */
#pragma once

#include <glib.h>
#include "weft-wire.h"

G_BEGIN_DECLS

typedef struct _WeftSession WeftSession;

/* Identifies the process image a record came from. */
typedef struct
{
  gint32          pid;
  gint32          ppid;
  guint64         image_start_ns;
  /* A copy of the header of the image's chunk 0 (exe, cmdline, exit),
   * taken when it was found and again by weft_session_close(); NULL until
   * chunk 0 was found. The chunks themselves are only read in here. */
  const WeftWireChunk *chunk0;
} WeftSessionImage;

/* Called for each record. `record` is a copy of the ring's record whose
 * header (type, size) is the one the reader checked, so record->size bytes
 * may be read whatever the program does to its ring meanwhile; valid only
 * during the call. */
typedef void (*WeftSessionRecordFunc) (const WeftSessionImage *image,
                                       const WeftRecHeader    *record,
                                       gpointer                user_data);

/* Called once per thread slot generation when the collector is done with it
 * (the thread retired, or the session is being closed): its final per-object
 * counters and lost-event count. */
typedef void (*WeftSessionSlotFunc)   (const WeftSessionImage *image,
                                       const WeftWireSlot     *slot,
                                       gpointer                user_data);

/* Creates a private session directory under dir (NULL: /dev/shm, else
 * g_get_tmp_dir()), mode 0700, named weft-PID-XXXXXX, with its `session` file,
 * and holds the collector's lock on that file until freed. */
WeftSession *weft_session_new          (const char   *dir,
                                        guint32       ring_bytes,
                                        guint32       slot_count,
                                        guint32       flags,
                                        GError      **error);

/* Opens the directory of a session whose collector died (`weft record
 * --recover`): checks that it is ours, private and of this wire version, and
 * takes the collector's lock (failing with G_IO_ERROR_BUSY while a weft still
 * records into it). Its files are kept on free until
 * weft_session_set_keep_files (self, FALSE). */
WeftSession *weft_session_open         (const char   *path,
                                        GError      **error);

/* Whether weft_session_free() leaves the directory and its files in place
 * (default FALSE for a new session, TRUE for an opened one). */
void         weft_session_set_keep_files (WeftSession *self,
                                          gboolean     keep_files);

/* From the session file: when the session started (CLOCK_MONOTONIC) and the
 * pid of the collector that made it. */
guint64      weft_session_get_start_ns (WeftSession  *self);
gint32       weft_session_get_collector_pid (WeftSession *self);

/* Absolute path of the directory, for WEFT_SESSION. */
const char  *weft_session_get_path     (WeftSession  *self);

/* Finds new chunk files and drains every ring. Returns the number of records
 * delivered. */
guint        weft_session_drain        (WeftSession          *self,
                                        WeftSessionRecordFunc record_func,
                                        WeftSessionSlotFunc   slot_func,
                                        gpointer              user_data);

/* Final drain: everything left, then slot_func for every slot still owned
 * (threads that never retired: the process was killed or is still running). */
void         weft_session_close        (WeftSession          *self,
                                        WeftSessionRecordFunc record_func,
                                        WeftSessionSlotFunc   slot_func,
                                        gpointer              user_data);

/* Process images seen so far (WeftSessionImage *, owned by the session). */
GPtrArray   *weft_session_get_images   (WeftSession  *self);

/* Records skipped because their ring held an impossible size, plus one for
 * each damaged chunk. */
guint64      weft_session_get_corrupt_records (WeftSession *self);

/* Chunk files the program truncated under the collector's mapping (reading
 * them raised SIGBUS, which the session catches): what their rings still
 * held is lost. */
guint        weft_session_get_damaged_chunks (WeftSession *self);

/* Removes the directory and its files (unless kept, see above) and drops
 * the collector's lock. Safe to call on NULL. */
void         weft_session_free         (WeftSession  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftSession, weft_session_free)

G_END_DECLS
