/* weft-wire.h — the shared-memory format between the agent and the collector.
 *
 * This header is the whole contract between libweft-agent.so (the writer, running
 * inside the traced program) and `weft record` (the reader). It uses only C11 and
 * <stdint.h>/<stdatomic.h> so both sides can include it. Every record is a fixed
 * layout pinned by a _Static_assert; change a layout and you must bump
 * WEFT_WIRE_VERSION.
 *
 * The session
 * -----------
 * The collector makes a private directory (mode 0700, named after its pid,
 * e.g. /dev/shm/weft-4242-XXXXXX) and passes its absolute path to the program
 * in WEFT_SESSION. In it, the collector writes the file `session`
 * (struct WeftWireSession) before starting the program, and holds an
 * exclusive flock(2) on it for as long as it runs: an agent that can take a
 * shared lock knows the collector died, stops making chunks and turns itself
 * off (the chunks already written stay for `weft record --recover`). The
 * agent refuses a
 * session directory that is not owned by its effective uid, is not mode 0700,
 * or whose `session` file has the wrong magic/version.
 *
 * Chunks
 * ------
 * Each process image (a pid between two execs) creates its own files, named
 *   p<pid>-<image_start_ns>-<chunk_seq>.chunk
 * created with O_CREAT|O_EXCL, mode 0600, sized with ftruncate and mapped
 * MAP_SHARED (the fd is closed right away, so closefrom() in the program cannot
 * hurt us). The file is sparse; before anyone stores into a page of it, the
 * agent reserves that page with fallocate (the header page and every slot
 * header when it creates the chunk, ring pages as the ring fills, reopening
 * the file by its name), so a full /dev/shm makes a syscall fail and an event
 * drop, never a SIGBUS in the traced program. A chunk is a WeftWireChunk header page followed by `slot_count`
 * thread slots. A slot is a WeftWireSlot header (counters) followed by a ring of
 * `ring_bytes` bytes. The file outlives the process, so whatever was written
 * before a crash or SIGKILL is still read by the collector. When a process runs
 * out of free slots it creates chunk seq+1.
 *
 * Slot ownership (one writer thread, one reader: the collector)
 * -------------------------------------------------------------
 *   FREE --agent CAS--> CLAIMING --agent--> OWNED --agent, at thread end--> RETIRED
 *   RETIRED --collector, after draining ring and reading counters--> FREE
 * On claiming a FREE slot (CAS to CLAIMING, which the collector skips like
 * FREE) the agent zeroes head, tail and counters, stores tid and increments
 * `generation` before publishing OWNED (release). The collector treats a new
 * generation as a new thread.
 *
 * The ring
 * --------
 * `head` and `tail` are byte counts that only grow; the write offset is
 * head % ring_bytes. The agent writes a record at head and then publishes
 * head += size (release); the collector reads up to head (acquire) and then
 * publishes tail (release). A record never wraps: when the bytes left before
 * the end of the ring are fewer than the record, the agent writes a
 * WEFT_REC_PAD record that fills them (if at least a header fits; otherwise the
 * reader skips the < 8 bytes tail by itself) and starts again at offset 0. If
 * the ring has no room (ring_bytes - (head - tail) < needed) the event is
 * dropped and `lost_events` of the slot is incremented: the agent never blocks.
 * All records are 8-byte aligned and their size is a multiple of 8.
 *
 * Times are CLOCK_MONOTONIC nanoseconds. Thread ids are kernel tids (gettid).
 */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
#include <atomic>
#define WEFT_ATOMIC(T) std::atomic<T>
#else
#include <stdatomic.h>
#define WEFT_ATOMIC(T) _Atomic T
#endif

#define WEFT_WIRE_VERSION 2

/* Environment variables (the only ones the agent reads). */
#define WEFT_ENV_SESSION "WEFT_SESSION"   /* absolute path of the session directory */
#define WEFT_ENV_PRELOAD "LD_PRELOAD"

#define WEFT_WIRE_SESSION_FILE "session"
#define WEFT_WIRE_SESSION_MAGIC UINT64_C (0x4e4f495353455457) /* "WTSESSIO" */
#define WEFT_WIRE_CHUNK_MAGIC UINT64_C (0x4b4e554843544657)   /* "WFTCHUNK" */

#define WEFT_WIRE_PAGE_BYTES 4096u
#define WEFT_WIRE_STACK_MAX 64u        /* frames kept per stack */
#define WEFT_WIRE_PYSTACK_MAX 64u      /* Python frames kept per stack */
#define WEFT_WIRE_NAME_BYTES 16u       /* a thread name, as the kernel's comm */
#define WEFT_WIRE_PATH_BYTES 256u      /* module and exec paths (truncated) */
#define WEFT_WIRE_CMDLINE_BYTES 2048u  /* NUL-separated argv (truncated) */
#define WEFT_WIRE_COUNTERS 64u         /* per-slot table of per-object counters */

/* ---------------------------------------------------------------------- */
/* The session file, written once by the collector before the program runs. */

typedef struct
{
  uint64_t magic;             /* WEFT_WIRE_SESSION_MAGIC */
  uint32_t version;           /* WEFT_WIRE_VERSION */
  uint32_t slot_count;        /* thread slots per chunk */
  uint32_t ring_bytes;        /* ring size per slot, a power of two, >= 64 KiB */
  uint32_t flags;             /* WEFT_SESSION_* */
  int32_t collector_pid;      /* so the agent can tell the collector died */
  uint32_t reserved0;
  uint64_t start_ns;          /* session start, CLOCK_MONOTONIC */
  uint64_t reserved[4];
} WeftWireSession;
_Static_assert (sizeof (WeftWireSession) == 72, "WeftWireSession layout");

enum
{
  WEFT_SESSION_NO_STACKS = 1u << 0,   /* do not capture call stacks */
};

/* ---------------------------------------------------------------------- */
/* Chunk header: the first page of every chunk file. Written by the agent at
 * creation; only `state`, `exit_*`, `lost_events` and `next_stack_id` change
 * afterwards. */

enum
{
  WEFT_CHUNK_ALIVE = 1,
  WEFT_CHUNK_EXEC = 2,     /* the image called exec: no more records from it */
  WEFT_CHUNK_EXITED = 3,   /* the process called exit/_exit (see exit_status) */
};

typedef struct
{
  uint64_t magic;                     /* WEFT_WIRE_CHUNK_MAGIC */
  uint32_t version;                   /* WEFT_WIRE_VERSION */
  uint32_t header_bytes;              /* offset of slot 0 (one page) */
  uint32_t slot_count;
  uint32_t slot_bytes;                /* sizeof (WeftWireSlot) + ring_bytes */
  uint32_t ring_bytes;
  uint32_t chunk_seq;                 /* 0, 1, … for one process image */
  int32_t pid;
  int32_t ppid;                       /* getppid() at image start */
  uint64_t image_start_ns;            /* agent init time; (pid, image_start_ns) names the image */
  WEFT_ATOMIC (uint32_t) state;       /* WEFT_CHUNK_* (meaningful in chunk 0) */
  int32_t exit_status;                /* valid when state == EXITED */
  WEFT_ATOMIC (uint64_t) exit_ns;
  WEFT_ATOMIC (uint64_t) process_cpu_ns;   /* CLOCK_PROCESS_CPUTIME_ID at exit/exec */
  WEFT_ATOMIC (uint64_t) lost_events;      /* process-wide drops (no slot, no chunk) */
  uint32_t cmdline_bytes;             /* bytes used in cmdline */
  uint32_t reserved0;
  char exe[WEFT_WIRE_PATH_BYTES];     /* readlink /proc/self/exe, NUL-terminated */
  char cmdline[WEFT_WIRE_CMDLINE_BYTES]; /* /proc/self/cmdline: argv, NUL-separated */
} WeftWireChunk;
_Static_assert (sizeof (WeftWireChunk) <= WEFT_WIRE_PAGE_BYTES, "chunk header fits a page");

/* ---------------------------------------------------------------------- */
/* Thread slot header, followed by the ring. */

enum
{
  WEFT_SLOT_FREE = 0,
  WEFT_SLOT_OWNED = 1,
  WEFT_SLOT_RETIRED = 2,
  WEFT_SLOT_CLAIMING = 3,   /* agent won the CAS and is resetting it: not yet readable */
};

/* Counters for one sync object, kept by the owning thread without atomics
 * (one writer); the collector reads them when the slot is RETIRED or the process
 * is gone. address == 0 is an empty entry. Entry WEFT_WIRE_COUNTERS-1 with
 * address == UINT64_MAX collects objects that did not fit. */
typedef struct
{
  uint64_t address;
  uint64_t acquisitions;     /* successful lock operations (any path) */
  uint64_t contentions;      /* acquisitions that had to wait */
  uint64_t hold_ns;          /* total held time, measured (see hold_sampled) */
  uint64_t hold_max_ns;
  uint64_t hold_samples;     /* how many holds were timed (hold_ns covers those) */
  uint32_t kind;             /* WEFT_OBJ_* */
  uint32_t reserved;
} WeftWireCounter;
_Static_assert (sizeof (WeftWireCounter) == 56, "WeftWireCounter layout");

typedef struct
{
  WEFT_ATOMIC (uint32_t) state;       /* WEFT_SLOT_* */
  WEFT_ATOMIC (uint32_t) generation;  /* +1 per claim */
  int32_t tid;
  uint32_t reserved0;
  WEFT_ATOMIC (uint64_t) head;        /* bytes written (agent) */
  WEFT_ATOMIC (uint64_t) tail;        /* bytes consumed (collector) */
  WEFT_ATOMIC (uint64_t) lost_events; /* records dropped because the ring was full */
  uint64_t ring_reserved_bytes;       /* agent only: ring bytes backed by reserved
                                         pages; kept across generations */
  uint64_t reserved1[2];
  WeftWireCounter counters[WEFT_WIRE_COUNTERS];
} WeftWireSlot;
_Static_assert (sizeof (WeftWireSlot) == 64 + 56 * 64, "WeftWireSlot layout");
_Static_assert (sizeof (WeftWireSlot) % 64 == 0, "ring starts cache-line aligned");

/* ---------------------------------------------------------------------- */
/* Records. */

typedef enum
{
  WEFT_REC_PAD = 0,           /* filler up to the end of the ring */
  WEFT_REC_THREAD_START = 1,  /* WeftRecThread */
  WEFT_REC_THREAD_END = 2,    /* WeftRecThread */
  WEFT_REC_THREAD_NAME = 3,   /* WeftRecThreadName */
  WEFT_REC_WAIT = 4,          /* WeftRecWait */
  WEFT_REC_STACK = 5,         /* WeftRecStack (variable: depth frames) */
  WEFT_REC_MODULE = 6,        /* WeftRecModule */
  WEFT_REC_FORK = 7,          /* WeftRecProcess: this thread forked child_pid */
  WEFT_REC_SPAWN = 8,         /* WeftRecProcess: posix_spawn started child_pid */
  WEFT_REC_EXEC = 9,          /* WeftRecExec: about to exec (status -1) or exec failed (errno) */
  WEFT_REC_EXIT = 10,         /* WeftRecProcess: exit/_exit(status) called */
  WEFT_REC_REAP = 11,         /* WeftRecProcess: wait*() reaped child_pid with wait status */
  WEFT_REC_PYSTACK = 12,      /* WeftRecPyStack (variable): the Python frames of a stack */
} WeftRecType;

typedef struct
{
  uint16_t type;              /* WeftRecType */
  uint16_t size;              /* bytes of the whole record, multiple of 8 */
  int32_t tid;                /* writer thread */
} WeftRecHeader;
_Static_assert (sizeof (WeftRecHeader) == 8, "WeftRecHeader layout");

/* Kinds of sync objects (objects.kind in the trace). */
typedef enum
{
  WEFT_OBJ_NONE = 0,
  WEFT_OBJ_MUTEX = 1,
  WEFT_OBJ_RWLOCK = 2,
  WEFT_OBJ_SPIN = 3,
  WEFT_OBJ_COND = 4,
  WEFT_OBJ_BARRIER = 5,
  WEFT_OBJ_SEM = 6,
  WEFT_OBJ_THREAD = 7,        /* a joined thread (address = pthread_t) */
} WeftObjKind;

/* Kinds of waits (waits.kind in the trace). */
typedef enum
{
  WEFT_WAIT_MUTEX = 1,
  WEFT_WAIT_RDLOCK = 2,
  WEFT_WAIT_WRLOCK = 3,
  WEFT_WAIT_SPIN = 4,
  WEFT_WAIT_COND = 5,
  WEFT_WAIT_BARRIER = 6,
  WEFT_WAIT_SEM = 7,
  WEFT_WAIT_JOIN = 8,
  WEFT_WAIT_POLL = 9,         /* poll, ppoll */
  WEFT_WAIT_SELECT = 10,      /* select, pselect */
  WEFT_WAIT_EPOLL = 11,       /* epoll_wait, epoll_pwait, epoll_pwait2 */
  WEFT_WAIT_SLEEP = 12,       /* nanosleep, clock_nanosleep, usleep, sleep */
  WEFT_WAIT_CHILD = 13,       /* wait, waitpid, wait3, wait4, waitid that blocked */
} WeftWaitKind;

typedef enum
{
  WEFT_RESULT_OK = 0,         /* acquired / woken / ready / slept fully */
  WEFT_RESULT_TIMEOUT = 1,    /* deadline passed (ETIMEDOUT, poll returned 0) */
  WEFT_RESULT_ERROR = 2,      /* failed with `error` (errno or return code) */
  WEFT_RESULT_INTERRUPTED = 3,/* EINTR */
} WeftWaitResult;

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_THREAD_START / WEFT_REC_THREAD_END */
  uint64_t time_ns;
  uint64_t pthread;           /* pthread_self() of the thread */
  int32_t creator_tid;        /* START: thread that called pthread_create (0 unknown) */
  uint32_t reserved;
  char name[WEFT_WIRE_NAME_BYTES]; /* END: the thread's comm at its end (PR_GET_NAME) */
} WeftRecThread;
_Static_assert (sizeof (WeftRecThread) == 48, "WeftRecThread layout");

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_THREAD_NAME */
  uint64_t time_ns;
  uint64_t target_pthread;    /* the pthread_t that was named */
  int32_t target_tid;         /* its tid when known (0 if not) */
  uint32_t reserved;
  char name[WEFT_WIRE_NAME_BYTES];
} WeftRecThreadName;
_Static_assert (sizeof (WeftRecThreadName) == 48, "WeftRecThreadName layout");

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_WAIT */
  uint64_t object;            /* address of the object (pthread_t for join, 0 for poll/sleep/child) */
  uint64_t start_ns;
  uint64_t end_ns;
  uint64_t arg;               /* cond: the mutex address; poll: nfds; epoll: epfd; sleep: requested ns; sem: 0;
                                 child: the pid asked for, as waitpid's (int64: -1 any, <= 0 a group) */
  uint32_t stack_id;          /* 0 = no stack; else a WEFT_REC_STACK of this process image */
  int32_t holder_tid;         /* thread that held the object when the wait began (0 unknown);
                                 child: the child whose change of state ended the wait */
  int32_t error;              /* errno / return code when result is ERROR, else 0 */
  uint8_t kind;               /* WeftWaitKind */
  uint8_t object_kind;        /* WeftObjKind */
  uint8_t result;             /* WeftWaitResult */
  uint8_t reserved;
} WeftRecWait;
_Static_assert (sizeof (WeftRecWait) == 56, "WeftRecWait layout");

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_STACK, size = 16 + 8 * depth */
  uint32_t stack_id;          /* unique per process image, from 1 */
  uint32_t depth;             /* frames that follow, innermost (the caller of the
                                 interposed function) first */
  uint64_t ips[];             /* instruction pointers (return addresses) */
} WeftRecStack;
_Static_assert (sizeof (WeftRecStack) == 16, "WeftRecStack layout");

/* The Python frames of a stack, written right after its WEFT_REC_STACK (same
 * stack_id) when the waiting thread was running Python code in CPython
 * (agent/weft-python.c). The record holds `count` frames, innermost first,
 * each a WeftWirePyFrame followed by its qualified name (name_bytes) and its
 * file (file_bytes), UTF-8 without NUL, then padding to 8 bytes. */
typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_PYSTACK */
  uint32_t stack_id;          /* the WEFT_REC_STACK these frames belong to */
  uint32_t count;             /* frames that follow */
} WeftRecPyStack;
_Static_assert (sizeof (WeftRecPyStack) == 16, "WeftRecPyStack layout");

typedef struct
{
  int32_t line;               /* source line, 0 if unknown */
  uint32_t offset;            /* bytecode offset of the current instruction */
  uint16_t segment;           /* which call of the interpreter loop runs the
                                 frame: 0 = the innermost native
                                 _PyEval_EvalFrameDefault of the stack, 1 the
                                 next one out, … */
  uint16_t name_bytes;        /* co_qualname, truncated */
  uint16_t file_bytes;        /* co_filename, its end kept when truncated */
  uint16_t reserved;
} WeftWirePyFrame;
_Static_assert (sizeof (WeftWirePyFrame) == 16, "WeftWirePyFrame layout");

/* Bytes one frame takes in a WEFT_REC_PYSTACK record. */
static inline uint32_t
weft_wire_pyframe_bytes (uint32_t name_bytes,
                         uint32_t file_bytes)
{
  return (uint32_t) ((sizeof (WeftWirePyFrame) + name_bytes + file_bytes + 7u) & ~7u);
}

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_MODULE */
  uint64_t bias;              /* load bias (dlpi_addr) */
  uint64_t start;             /* lowest address of its PT_LOAD segments */
  uint64_t end;               /* highest address + 1 */
  char path[WEFT_WIRE_PATH_BYTES]; /* dlpi_name, or /proc/self/exe's target for the main program */
} WeftRecModule;
_Static_assert (sizeof (WeftRecModule) == 32 + 256, "WeftRecModule layout");

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_FORK / SPAWN / EXIT / REAP */
  uint64_t time_ns;
  int32_t child_pid;          /* FORK/SPAWN/REAP: the child; EXIT: 0 */
  int32_t status;             /* EXIT: the exit status; REAP: the raw wait status */
  uint64_t cpu_ns;            /* EXIT: CLOCK_PROCESS_CPUTIME_ID */
} WeftRecProcess;
_Static_assert (sizeof (WeftRecProcess) == 32, "WeftRecProcess layout");

typedef struct
{
  WeftRecHeader h;            /* WEFT_REC_EXEC */
  uint64_t time_ns;
  int32_t error;              /* 0: about to exec; else errno of a failed exec */
  uint32_t reserved;
  char path[WEFT_WIRE_PATH_BYTES];
} WeftRecExec;
_Static_assert (sizeof (WeftRecExec) == 24 + 256, "WeftRecExec layout");

/* Byte offset of slot i in a chunk. */
static inline uint64_t
weft_wire_slot_offset (uint32_t header_bytes,
                       uint32_t slot_bytes,
                       uint32_t i)
{
  return (uint64_t) header_bytes + (uint64_t) slot_bytes * i;
}
