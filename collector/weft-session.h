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
  const WeftWireChunk *chunk0;   /* header of the image's chunk 0 (exe, cmdline, exit) */
} WeftSessionImage;

/* Called for each record. `record` points into shared memory and is valid only
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
 * g_get_tmp_dir()), mode 0700, with its `session` file. */
WeftSession *weft_session_new          (const char   *dir,
                                        guint32       ring_bytes,
                                        guint32       slot_count,
                                        guint32       flags,
                                        GError      **error);

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

/* Records skipped because their ring held an impossible size. */
guint64      weft_session_get_corrupt_records (WeftSession *self);

/* Removes the directory and its files. Safe to call on NULL. */
void         weft_session_free         (WeftSession  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftSession, weft_session_free)

G_END_DECLS
