/* weft-python.c — the Python frames of a thread that waits inside CPython.
 *
 * A wait in a CPython process (for the GIL, a threading.Lock, a queue) has a
 * native stack that says only `_PyEval_EvalFrameDefault`. The Python frames
 * are in the waiting thread's own interpreter frames:
 * PyGILState_GetThisThreadState() gives its thread state without the GIL (a
 * pthread_getspecific), and from there the chain of `_PyInterpreterFrame`s
 * leads through code objects to file, qualified name and line. Like
 * faulthandler, we read them in place without the GIL: the thread reading
 * them owns them and is inside our hook, so they do not change under us, and
 * code objects and their strings are immutable and kept alive by the frames.
 * Every code object and string is checked against its type object before it
 * is read.
 *
 * The layouts are private to each CPython minor version: a table of the
 * versions we know (offsets from their own headers, see docs/gil.md), chosen by
 * the exported `Py_Version`. Any other version gets no Python frames, never
 * misread ones.
 */
#include "weft-agent-private.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/types.h>

#define PY_NAME_MAX 120u         /* bytes of a qualified name kept */
#define PY_FILE_MAX 200u         /* bytes of a file name kept (its end) */

/* CPython's _frameowner values (the same in 3.11–3.13; CSTACK from 3.12). */
#define OWNED_BY_GENERATOR 1
#define OWNED_BY_CSTACK 3

/* Where one CPython minor version keeps what we read (64-bit). 3.9 and 3.10
 * chain PyFrameObjects, each run by its own call of the interpreter loop;
 * 3.11+ chain _PyInterpreterFrames, several per call. */
typedef struct
{
  unsigned minor;
  uint16_t tstate_frame;         /* PyThreadState: frame, cframe (3.11, 3.12) or current_frame */
  int16_t cframe_current;        /* _PyCFrame.current_frame; -1: tstate_frame is the frame */
  uint16_t frame_code;           /* f_code / f_executable */
  uint16_t frame_previous;       /* f_back / previous */
  int16_t frame_instr;           /* 3.11+: prev_instr / instr_ptr; -1: use frame_lasti */
  int16_t frame_lasti;           /* 3.9, 3.10: f_lasti (an int) in lasti_unit bytes */
  uint8_t lasti_unit;
  int16_t frame_owner;           /* 3.11+: owner; -1 none */
  int16_t frame_is_entry;        /* 3.11's is_entry; -1: none (entries are CSTACK frames in 3.12+) */
  uint16_t code_filename;
  uint16_t code_name;            /* co_qualname (3.11+) or co_name */
  int16_t code_adaptive;         /* 3.11+: co_code_adaptive, the bytecode */
  int16_t code_firsttraceable;   /* 3.11+ */
  uint16_t ascii_size;           /* sizeof (PyASCIIObject) */
  uint16_t compact_size;         /* sizeof (PyCompactUnicodeObject) */
} PyLayout;

static const PyLayout layouts[] = {
  {  9, 24, -1, 32, 24, -1, 104, 1, -1, -1, 104, 112, -1, -1, 48, 72 },
  { 10, 24, -1, 32, 24, -1, 96, 2, -1, -1, 104, 112, -1, -1, 48, 72 },
  { 11, 56, 8, 32, 48, 56, -1, 0, 69, 68, 112, 128, 184, 168, 48, 72 },
  { 12, 56, 0, 0, 8, 56, -1, 0, 70, -1, 112, 128, 192, 176, 40, 56 },
  { 13, 72, -1, 0, 8, 56, -1, 0, 70, -1, 112, 128, 200, 184, 40, 56 },
};

typedef struct
{
  const PyLayout *layout;
  void *(*this_thread_state) (void);
  void *(*main_interpreter) (void);
  int (*addr2line) (void *code, int byte_offset);
  const void *code_type;
  const void *unicode_type;
} Python;

static Python python;
static _Atomic (const Python *) python_ready;

/* The CPython version of the program's global scope, if any: Py_Version
 * (3.11+), else the string of Py_GetVersion() ("3.10.13 (main, …"). */
static bool
python_version (unsigned *major,
                unsigned *minor)
{
  const unsigned long *version = dlsym (RTLD_DEFAULT, "Py_Version");
  const char *(*get_version) (void);
  const char *text;

  if (version != NULL)
    {
      *major = (unsigned) (*version >> 24) & 0xff;
      *minor = (unsigned) (*version >> 16) & 0xff;
      return true;
    }
  get_version = (const char *(*) (void)) dlsym (RTLD_DEFAULT, "Py_GetVersion");
  if (get_version == NULL || (text = get_version ()) == NULL)
    return false;
  if (text[0] < '0' || text[0] > '9' || text[1] != '.' || text[2] < '0' || text[2] > '9')
    return false;
  *major = (unsigned) (text[0] - '0');
  *minor = (unsigned) (text[2] - '0');
  if (text[3] >= '0' && text[3] <= '9')
    *minor = *minor * 10 + (unsigned) (text[3] - '0');
  return true;
}

/* weft_python_probe:
 * Looks for a CPython we know in the program's global scope (the program
 * itself or a library it was linked with). At init only. */
void
weft_python_probe (void)
{
  unsigned major, minor;

  if (atomic_load_explicit (&python_ready, memory_order_acquire) != NULL)
    return;
  if (!python_version (&major, &minor))
    return;
  for (size_t i = 0; major == 3 && i < sizeof layouts / sizeof layouts[0]; i++)
    if (layouts[i].minor == minor)
      python.layout = &layouts[i];
  python.this_thread_state = (void *(*) (void)) dlsym (RTLD_DEFAULT, "PyGILState_GetThisThreadState");
  python.addr2line = (int (*) (void *, int)) dlsym (RTLD_DEFAULT, "PyCode_Addr2Line");
  python.code_type = dlsym (RTLD_DEFAULT, "PyCode_Type");
  python.unicode_type = dlsym (RTLD_DEFAULT, "PyUnicode_Type");
  python.main_interpreter = (void *(*) (void)) dlsym (RTLD_DEFAULT, "PyInterpreterState_Main");
  if (python.layout == NULL || python.this_thread_state == NULL || python.addr2line == NULL
      || python.code_type == NULL || python.unicode_type == NULL || python.main_interpreter == NULL)
    return;
  /* A free-threaded build (3.13t) says 3.13 too but lays its objects out
   * differently; only it has this function. */
  if (dlsym (RTLD_DEFAULT, "_Py_MergeZeroLocalRefcount") != NULL)
    return;
  atomic_store_explicit (&python_ready, &python, memory_order_release);
}

static inline const void *
field_ptr (const void *base,
           size_t      offset)
{
  return *(const void *const *) ((const char *) base + offset);
}

static bool
has_type (const void *object,
          const void *type)
{
  return object != NULL && ((uintptr_t) object & 7) == 0 && field_ptr (object, 8) == type;
}

/* The thread's innermost interpreter frame, or NULL. */
static const void *
current_frame (const Python *py)
{
  const PyLayout *l = py->layout;
  const void *tstate = py->this_thread_state ();
  const void *p;

  /* PyThreadState starts with prev, next, interp in every version: a thread
   * of the main interpreter is one whose layout we know (sub-interpreters
   * are left out). */
  if (tstate == NULL || ((uintptr_t) tstate & 7) != 0 || field_ptr (tstate, 16) != py->main_interpreter ())
    return NULL;
  p = field_ptr (tstate, l->tstate_frame);
  if (p == NULL || l->cframe_current < 0)
    return p;
  return field_ptr (p, (size_t) l->cframe_current);
}

/* The bytecode offset a frame is at, or -1 for a frame that has not started
 * (skipped, as CPython's own tracebacks do). */
static int64_t
frame_offset (const PyLayout *l,
              const void     *frame,
              const void     *code,
              int             owner)
{
  const char *instr, *bytecode;
  int first;

  if (l->frame_instr < 0)
    {
      int lasti = *(const int *) ((const char *) frame + l->frame_lasti);

      return lasti < 0 ? -1 : (int64_t) lasti * l->lasti_unit;
    }
  instr = field_ptr (frame, (size_t) l->frame_instr);
  bytecode = (const char *) code + l->code_adaptive;
  first = *(const int *) ((const char *) code + l->code_firsttraceable);
  if (owner != OWNED_BY_GENERATOR && instr < bytecode + 2 * (ptrdiff_t) first)
    return -1;
  return instr >= bytecode ? instr - bytecode : 0;
}

/* weft_python_frames:
 * The calling thread's Python frames, innermost first, at most `max`: their
 * code object, bytecode offset and interpreter-loop segment. 0 when the
 * process is not a CPython we know or the thread runs no Python code. */
uint32_t
weft_python_frames (WeftPyFrameRef *out,
                    uint32_t        max)
{
  const Python *py = atomic_load_explicit (&python_ready, memory_order_acquire);
  const PyLayout *l;
  const void *frame;
  uint32_t n = 0, segment = 0, walked = 0;

  if (py == NULL)
    return 0;
  l = py->layout;
  for (frame = current_frame (py); frame != NULL && n < max && walked < 4 * max;
       frame = field_ptr (frame, l->frame_previous), walked++)
    {
      int owner = l->frame_owner >= 0 ? *((const uint8_t *) frame + l->frame_owner) : -1;
      const void *code;
      int64_t offset;

      if (((uintptr_t) frame & 7) != 0)
        break;
      if (owner == OWNED_BY_CSTACK && l->frame_is_entry < 0)
        {
          /* 3.12+: the shim frame each call of the loop pushes below its
           * first frame. */
          segment++;
          continue;
        }
      code = field_ptr (frame, l->frame_code);
      if (has_type (code, py->code_type) && (offset = frame_offset (l, frame, code, owner)) >= 0)
        out[n++] = (WeftPyFrameRef) {
          .code = code,
          .offset = (uint32_t) offset,
          .segment = (uint16_t) (segment < UINT16_MAX ? segment : UINT16_MAX),
        };
      if (l->frame_instr < 0 || (l->frame_is_entry >= 0 && *((const uint8_t *) frame + l->frame_is_entry)))
        segment++;
    }
  return n;
}

/* Copies a str object as UTF-8 into dst (NULL: only measures), at most cap
 * bytes: the head, or the tail when keep_tail. Returns the bytes. Only
 * compact strings (all that code objects hold) are read; others give "?". */
static size_t
unicode_utf8 (const Python *py,
              const void   *str,
              char         *dst,
              size_t        cap,
              bool          keep_tail)
{
  const PyLayout *l = py->layout;
  int64_t length;
  uint32_t state;
  unsigned kind;
  const uint8_t *data;
  size_t first = 0, out = 0, keep;
  bool ascii;

  if (!has_type (str, py->unicode_type))
    goto unknown;
  length = *(const int64_t *) ((const char *) str + 16);
  state = *(const uint32_t *) ((const char *) str + 32);
  kind = (state >> 2) & 7;
  if (length < 0 || !(state & (1u << 5)) || (kind != 1 && kind != 2 && kind != 4))
    goto unknown;
  ascii = (state & (1u << 6)) != 0;
  data = (const uint8_t *) str + (ascii ? l->ascii_size : l->compact_size);
  /* A code point takes at most 4 bytes: the last cap/4 of them fit. */
  keep = ascii ? cap : cap / 4;
  if (keep_tail && (uint64_t) length > keep)
    first = (size_t) length - keep;
  for (size_t i = first; i < (size_t) length; i++)
    {
      uint32_t c = kind == 1 ? data[i] : kind == 2 ? ((const uint16_t *) data)[i] : ((const uint32_t *) data)[i];
      uint8_t buf[4];
      size_t len;

      if (c < 0x80)
        buf[0] = (uint8_t) c, len = 1;
      else if (c < 0x800)
        buf[0] = (uint8_t) (0xc0 | c >> 6), buf[1] = (uint8_t) (0x80 | (c & 0x3f)), len = 2;
      else if (c < 0x10000)
        buf[0] = (uint8_t) (0xe0 | c >> 12), buf[1] = (uint8_t) (0x80 | ((c >> 6) & 0x3f)),
        buf[2] = (uint8_t) (0x80 | (c & 0x3f)), len = 3;
      else
        buf[0] = (uint8_t) (0xf0 | (c >> 18 & 7)), buf[1] = (uint8_t) (0x80 | ((c >> 12) & 0x3f)),
        buf[2] = (uint8_t) (0x80 | ((c >> 6) & 0x3f)), buf[3] = (uint8_t) (0x80 | (c & 0x3f)), len = 4;
      if (out + len > cap)
        break;
      if (dst != NULL)
        memcpy (dst + out, buf, len);
      out += len;
    }
  return out;

unknown:
  if (dst != NULL && cap > 0)
    dst[0] = '?';
  return cap > 0 ? 1 : 0;
}

/* weft_python_write:
 * The WEFT_REC_PYSTACK record of stack `stack_id`: names, files and lines of
 * frames from weft_python_frames(). Caller holds t->busy. */
void
weft_python_write (WeftThread           *t,
                   uint32_t              stack_id,
                   const WeftPyFrameRef *frames,
                   uint32_t              count)
{
  const Python *py = atomic_load_explicit (&python_ready, memory_order_acquire);
  uint32_t size = sizeof (WeftRecPyStack);
  WeftRecPyStack *r;
  char *p;

  if (py == NULL || count == 0)
    return;
  for (uint32_t i = 0; i < count; i++)
    size += weft_wire_pyframe_bytes (
      (uint32_t) unicode_utf8 (py, field_ptr (frames[i].code, py->layout->code_name), NULL, PY_NAME_MAX, false),
      (uint32_t) unicode_utf8 (py, field_ptr (frames[i].code, py->layout->code_filename), NULL, PY_FILE_MAX, true));
  r = weft_ring_reserve (t, WEFT_REC_PYSTACK, size);
  if (r == NULL)
    return;
  r->stack_id = stack_id;
  r->count = count;
  p = (char *) (r + 1);
  for (uint32_t i = 0; i < count; i++)
    {
      WeftWirePyFrame *f = (WeftWirePyFrame *) p;
      char *text = p + sizeof *f;
      const void *code = frames[i].code;

      memset (f, 0, sizeof *f);
      f->offset = frames[i].offset;
      f->segment = frames[i].segment;
      f->line = py->addr2line ((void *) code, (int) frames[i].offset);
      f->name_bytes = (uint16_t) unicode_utf8 (py, field_ptr (code, py->layout->code_name),
                                               text, PY_NAME_MAX, false);
      f->file_bytes = (uint16_t) unicode_utf8 (py, field_ptr (code, py->layout->code_filename),
                                               text + f->name_bytes, PY_FILE_MAX, true);
      p += weft_wire_pyframe_bytes (f->name_bytes, f->file_bytes);
      memset (text + f->name_bytes + f->file_bytes, 0,
              (size_t) (p - (text + f->name_bytes + f->file_bytes)));
    }
  weft_ring_commit (t, r);
}
