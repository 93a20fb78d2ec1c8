/* weft-stack.c — call stacks of waits, deduplicated per process image, and
 * the MODULE records the collector needs to symbolize them.
 *
 * libunwind is dlopen'ed RTLD_LOCAL rather than linked: linked into a
 * preloaded library it would sit in the global scope ahead of libgcc_s and
 * take over the program's `_Unwind_*` (C++ exceptions) and `backtrace`. Loaded
 * locally, only we see it.
 *
 * The dedup table is private anonymous memory (never malloc) of 64-bit stack
 * hashes, inserted by CAS; a stack's id is its index + 1. The thread whose CAS
 * inserts the hash writes the STACK record; the others just use the id.
 */
#include "weft-agent-private.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define STACK_TABLE_ENTRIES (1u << 16)
#define STACK_TABLE_PROBES 64u
#define MAX_MODULES 1024u

typedef int (*UnwBacktraceFunc) (void **buffer, int size);

typedef struct
{
  uintptr_t start;
  uintptr_t end;
} ModuleRange;

static UnwBacktraceFunc unw_backtrace_func;
static _Atomic uint64_t *stack_table;
static ModuleRange modules[MAX_MODULES];
static _Atomic uint32_t n_modules;
static atomic_flag module_scan;

static _Atomic uint64_t *
table_new (void)
{
  void *p = mmap (NULL, STACK_TABLE_ENTRIES * sizeof (uint64_t), PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

  return p == MAP_FAILED ? NULL : p;
}

/* libunwind (1.6) validates addresses, when it falls back from DWARF, by
 * writing them to a pipe it opened once, at the lowest free descriptors (3
 * and 4 in most programs). A program that closes every descriptor and opens
 * its own would then have libunwind read from and write to *its* files, and
 * close them. So the pipes libunwind makes while we capture a stack (the only
 * time it runs) are moved to the top of the descriptor range, out of the
 * program's way; when the program closes them, libunwind finds out and makes
 * new ones, moved again. Other callers' pipes are left as they are. */
static int (*real_pipe2) (int fds[2], int flags);

static int
private_fd_floor (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur < 128)
    return 64;
  return limit.rlim_cur - 32 < (rlim_t) INT_MAX ? (int) (limit.rlim_cur - 32) : INT_MAX - 32;
}

WEFT_EXPORT int
pipe2 (int fds[2],
       int flags)
{
  int rc;

  if (real_pipe2 == NULL)
    real_pipe2 = (int (*) (int *, int)) dlsym (RTLD_NEXT, "pipe2");
  if (real_pipe2 == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  rc = real_pipe2 (fds, flags);
  if (rc != 0 || !weft_thread.busy)
    return rc;
  for (int i = 0; i < 2; i++)
    {
      int high = fcntl (fds[i], (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, private_fd_floor ());

      if (high >= 0)
        {
          close (fds[i]);
          fds[i] = high;
        }
    }
  return 0;
}

/* weft_stack_init:
 * Loads libunwind privately and maps the dedup table. Init only. Returns
 * false (after one warning) when stacks cannot be captured. */
bool
weft_stack_init (void)
{
  void *handle = dlopen ("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);

  if (handle == NULL)
    handle = dlopen ("libunwind.so", RTLD_NOW | RTLD_LOCAL);
  if (handle != NULL)
    unw_backtrace_func = (UnwBacktraceFunc) dlsym (handle, "unw_backtrace");
  stack_table = table_new ();
  if (unw_backtrace_func == NULL || stack_table == NULL)
    {
      weft_warn ("cannot load libunwind", "recording without call stacks");
      return false;
    }
  /* Only here, at init: dlsym on an event path could wait for the loader's
   * lock while a dlopen holding it runs a constructor that waits for a lock
   * this thread holds. So a CPython loaded later by dlopen (a program
   * embedding Python as a plugin) gets native frames only. */
  weft_python_probe ();
  return true;
}

/* weft_stack_reset:
 * Fork child: stack ids and reported modules are per image, start over. Keeps
 * the parent's table mapped when the fork interrupted the agent (the
 * interrupted code may still be probing it). */
void
weft_stack_reset (void)
{
  _Atomic uint64_t *old = stack_table;

  atomic_store_explicit (&n_modules, 0, memory_order_relaxed);
  atomic_flag_clear (&module_scan);
  if (old == NULL)
    return;
  stack_table = table_new ();
  if (!weft_thread.busy)
    munmap ((void *) old, STACK_TABLE_ENTRIES * sizeof (uint64_t));
  if (stack_table == NULL)
    weft_agent.stacks = false;
}

static bool
module_known (uintptr_t ip)
{
  uint32_t n = atomic_load_explicit (&n_modules, memory_order_acquire);

  for (uint32_t i = 0; i < n; i++)
    if (ip >= modules[i].start && ip < modules[i].end)
      return true;
  return false;
}

static int
module_report (struct dl_phdr_info *info,
               size_t               size,
               void                *data)
{
  WeftThread *t = data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  uint32_t n = atomic_load_explicit (&n_modules, memory_order_relaxed);
  WeftRecModule *r;

  for (int i = 0; i < info->dlpi_phnum; i++)
    {
      const ElfW (Phdr) *ph = &info->dlpi_phdr[i];

      if (ph->p_type != PT_LOAD)
        continue;
      if (info->dlpi_addr + ph->p_vaddr < lo)
        lo = info->dlpi_addr + ph->p_vaddr;
      if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
        hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
  if (hi == 0 || n >= MAX_MODULES)
    return 0;
  for (uint32_t i = 0; i < n; i++)
    if (modules[i].start == lo && modules[i].end == hi)
      return 0;

  r = weft_ring_reserve (t, WEFT_REC_MODULE, sizeof *r);
  if (r != NULL)
    {
      r->bias = info->dlpi_addr;
      r->start = lo;
      r->end = hi;
      memset (r->path, 0, sizeof r->path);
      weft_strlcpy (r->path,
                    info->dlpi_name != NULL && info->dlpi_name[0] != '\0' ? info->dlpi_name : weft_agent.exe,
                    sizeof r->path);
      weft_ring_commit (t, r);
    }
  /* Known even if the record was dropped: rescanning on every stack would
   * not bring it back and would cost a loader lock each time. */
  modules[n] = (ModuleRange) { lo, hi };
  atomic_store_explicit (&n_modules, n + 1, memory_order_release);
  return 0;
}

/* Writes MODULE records for the modules not reported yet. Only one thread
 * scans at a time; a thread that finds a scan under way goes on (its stack's
 * module will be reported by that scan, in another ring: the collector
 * symbolizes after the run, so order across rings does not matter). */
static void
modules_scan (WeftThread *t)
{
  if (atomic_flag_test_and_set_explicit (&module_scan, memory_order_acquire))
    return;
  dl_iterate_phdr (module_report, t);
  atomic_flag_clear_explicit (&module_scan, memory_order_release);
}

/* weft_modules_write_all:
 * MODULE records for every loaded module (init, fork child). Caller holds
 * t->busy or is the only thread. */
void
weft_modules_write_all (WeftThread *t)
{
  uint8_t busy = t->busy;

  t->busy = 1;
  modules_scan (t);
  t->busy = busy;
}

static inline uint64_t
hash_mix (uint64_t h,
          uint64_t value)
{
  h ^= value;
  h *= UINT64_C (0x100000001b3);
  return h ^ (h >> 29);
}

/* The native frames and the Python frames (code object and bytecode offset:
 * the same native stack runs every Python function). */
static uint64_t
stack_hash (void *const          *ips,
            uint32_t              depth,
            const WeftPyFrameRef *py,
            uint32_t              py_depth)
{
  uint64_t h = UINT64_C (0xcbf29ce484222325) ^ depth ^ ((uint64_t) py_depth << 32);

  for (uint32_t i = 0; i < depth; i++)
    h = hash_mix (h, (uint64_t) (uintptr_t) ips[i]);
  for (uint32_t i = 0; i < py_depth; i++)
    h = hash_mix (hash_mix (h, (uint64_t) (uintptr_t) py[i].code),
                  py[i].offset | (uint64_t) py[i].segment << 32);
  h ^= h >> 33;
  h *= UINT64_C (0xff51afd7ed558ccd);
  h ^= h >> 33;
  return h != 0 ? h : 1;
}

static void
stack_write (WeftThread           *t,
             uint32_t              id,
             void *const          *ips,
             uint32_t              depth,
             const WeftPyFrameRef *py,
             uint32_t              py_depth)
{
  WeftRecStack *r;

  for (uint32_t i = 0; i < depth; i++)
    if (!module_known ((uintptr_t) ips[i]))
      {
        modules_scan (t);
        break;
      }

  r = weft_ring_reserve (t, WEFT_REC_STACK, (uint32_t) (sizeof *r + 8 * depth));
  if (r == NULL)
    return;
  r->stack_id = id;
  r->depth = depth;
  for (uint32_t i = 0; i < depth; i++)
    r->ips[i] = (uint64_t) (uintptr_t) ips[i];
  weft_ring_commit (t, r);
  weft_python_write (t, id, py, py_depth);
}

/* weft_stack_capture:
 * The calling thread's stack, minus the agent's own frames, as a stack id of
 * this image (0 when none could be taken). Writes the STACK record (and any
 * MODULE records it needs) the first time a stack is seen. Caller holds
 * t->busy: libunwind and dl_iterate_phdr take locks that may be ours to wrap. */
uint32_t
weft_stack_capture (WeftThread *t)
{
  void *buf[WEFT_WIRE_STACK_MAX + 8];
  WeftPyFrameRef py[WEFT_WIRE_PYSTACK_MAX];
  void **ips = buf;
  int n, skip = 0;
  uint32_t depth, py_depth, i;
  uint64_t h;
  _Atomic uint64_t *table = stack_table;

  if (unw_backtrace_func == NULL || table == NULL)
    return 0;
  n = unw_backtrace_func (buf, (int) (sizeof buf / sizeof buf[0]));
  while (skip < n && (uintptr_t) buf[skip] >= weft_agent.text_start &&
         (uintptr_t) buf[skip] < weft_agent.text_end)
    skip++;
  if (skip >= n)
    return 0;
  ips = buf + skip;
  depth = (uint32_t) (n - skip);
  if (depth > WEFT_WIRE_STACK_MAX)
    depth = WEFT_WIRE_STACK_MAX;

  py_depth = weft_python_frames (py, WEFT_WIRE_PYSTACK_MAX);
  h = stack_hash (ips, depth, py, py_depth);
  i = (uint32_t) h & (STACK_TABLE_ENTRIES - 1);
  for (uint32_t probe = 0; probe < STACK_TABLE_PROBES; probe++)
    {
      uint64_t seen = atomic_load_explicit (&table[i], memory_order_relaxed);

      if (seen == h)
        return i + 1;
      if (seen == 0)
        {
          uint64_t expected = 0;

          if (atomic_compare_exchange_strong_explicit (&table[i], &expected, h,
                                                       memory_order_relaxed,
                                                       memory_order_relaxed))
            {
              stack_write (t, i + 1, ips, depth, py, py_depth);
              return i + 1;
            }
          if (expected == h)
            return i + 1;
        }
      i = (i + 1) & (STACK_TABLE_ENTRIES - 1);
    }
  return 0;
}
