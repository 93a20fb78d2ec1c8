-- weft trace format, version 1.
--
-- A weft trace is one SQLite file. Its application_id is 0x57454654 ("WEFT")
-- and its user_version is the format version below; readers refuse a file with
-- another application_id and a user_version newer than they know.
--
-- All times are integer nanoseconds on CLOCK_MONOTONIC of the recording
-- machine (the same clock for the agent's events and the kernel's scheduling
-- records). Durations are end_ns - start_ns. Thread ids (tid) and process ids
-- (pid) are the kernel's; `id` columns are the trace's own keys.
--
-- Raw tables (what was recorded) come first; derived tables, rebuilt by the
-- collector's finalize step, come after them.

PRAGMA application_id = 1464157780;  -- 0x57454654, "WEFT"
PRAGMA user_version = 1;

-- Facts about the whole trace, one row per key. Keys written by `weft record`:
--   weft_version   version of weft that recorded the trace
--   format_version the schema version (same as PRAGMA user_version)
--   command        the recorded command line, arguments separated by spaces
--   start_ns       when recording started (the program was started right after)
--   start_unix_ns  the same moment as wall-clock time (ns since the Unix epoch)
--   end_ns         when the last process of the program ended
--   cpus           online CPUs of the recording machine
--   hostname       the recording machine's name
--   sched_source   'perf' (exact context switches from perf_event_open) or
--                  'proc' (sampling of /proc, see sched_period_ns)
--   sched_period_ns  sampling period when sched_source is 'proc', else 0
--   lost_events    events the agent or the kernel had to drop (0 means complete)
--   lost_agent_events  of those, dropped by agents (a thread's ring was full)
--   lost_sched_events  of those, dropped by the kernel (a perf buffer was full)
--   root_pid       pid of the recorded command (the root of the process tree)
--   complete       1 when the trace was finalized normally
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,  -- name of the fact
  value                              -- its value (integer or text)
) WITHOUT ROWID;

-- Every process of the recorded program's tree, one row per pid lifetime. A
-- process that calls exec stays one process; `command` is its last image.
CREATE TABLE processes (
  id           INTEGER PRIMARY KEY,             -- trace key
  pid          INTEGER NOT NULL,                -- kernel process id
  parent_id    INTEGER REFERENCES processes(id),-- parent process in this trace; NULL for the root
  command      TEXT,                            -- argv of the last image, joined by spaces (untrusted text)
  exe          TEXT,                            -- path of the last executable image (untrusted text)
  start_ns     INTEGER,                         -- process creation (fork or spawn), or first sight
  end_ns       INTEGER,                         -- process exit; NULL if never seen ending
  exit_status  INTEGER,                         -- exit code 0-255 if it exited; NULL if unknown or killed
  exit_signal  INTEGER,                         -- number of the signal that killed it; NULL otherwise
  cpu_ns       INTEGER,                         -- CPU time (user + system) as the kernel counted it; NULL if unknown
  instrumented INTEGER NOT NULL DEFAULT 0,      -- 1 if the agent ran in its last image (lock data exists), 0 if only scheduling was seen
  uninstrumented_reason TEXT                    -- why the agent could not run in it when instrumented = 0 ('statically linked', 'setuid or setgid', …), else NULL
);

-- Every thread of every process. The main thread has tid = pid.
CREATE TABLE threads (
  id          INTEGER PRIMARY KEY,                       -- trace key
  process_id  INTEGER NOT NULL REFERENCES processes(id), -- owning process
  tid         INTEGER NOT NULL,                          -- kernel thread id
  name        TEXT,                                      -- last known name (comm, pthread_setname_np; untrusted text)
  start_ns    INTEGER,                                   -- creation, or first sight
  end_ns      INTEGER,                                   -- exit; NULL if never seen ending
  lost_events INTEGER NOT NULL DEFAULT 0                 -- agent events dropped for this thread (full ring)
);

-- Synchronization objects that were contended or waited on, per process.
CREATE TABLE objects (
  id          INTEGER PRIMARY KEY,                       -- trace key
  process_id  INTEGER NOT NULL REFERENCES processes(id), -- process whose address space holds it
  address     INTEGER NOT NULL,                          -- its address (pthread_t value for kind 'thread')
  kind        TEXT NOT NULL,                             -- mutex, rwlock, spin, cond, barrier, sem, thread, gil
  name        TEXT                                       -- data symbol containing it ('symbol+0xoff'), or NULL (heap, stack)
);

-- Per-thread counters of each object, including uncontended acquisitions that
-- the agent counted without recording an event.
CREATE TABLE object_stats (
  object_id    INTEGER NOT NULL REFERENCES objects(id),  -- the object
  thread_id    INTEGER NOT NULL REFERENCES threads(id),  -- the thread that used it
  acquisitions INTEGER NOT NULL,                          -- successful lock operations, contended or not
  contentions  INTEGER NOT NULL,                          -- acquisitions that had to wait
  hold_ns      INTEGER NOT NULL,                          -- total time held, over the timed holds (hold_samples)
  hold_max_ns  INTEGER NOT NULL,                          -- longest timed hold
  hold_samples INTEGER NOT NULL,                          -- holds that were timed (all, or a sample of them)
  PRIMARY KEY (object_id, thread_id)
) WITHOUT ROWID;

-- Every blocking wait of every instrumented thread: contended lock
-- acquisitions, condition/barrier/semaphore/join waits, poll-family calls with
-- a non-zero timeout, sleeps, and waits for a child process (wait, waitpid,
-- wait3, wait4, waitid) that found no child ready and blocked.
CREATE TABLE waits (
  id               INTEGER PRIMARY KEY,                  -- trace key, in order of start_ns per thread
  thread_id        INTEGER NOT NULL REFERENCES threads(id), -- the waiting thread
  object_id        INTEGER REFERENCES objects(id),       -- what it waited on; NULL for poll-family, sleep and child
  kind             TEXT NOT NULL,                        -- mutex rdlock wrlock spin cond barrier sem join poll select epoll sleep child (a wait for a child process) gil (one take of the CPython GIL, docs/gil.md)
  start_ns         INTEGER NOT NULL,                     -- wait began (the try that failed, or the blocking call)
  end_ns           INTEGER NOT NULL,                     -- wait ended (call returned)
  result           TEXT NOT NULL,                        -- ok, timeout, error, interrupted
  error            INTEGER NOT NULL DEFAULT 0,           -- errno or return code when result is 'error'
  holder_thread_id INTEGER REFERENCES threads(id),       -- the thread that held the lock when the wait began, as the lock said (or the thread joined; for child, the main thread of the child that ended the wait); of another process for a process-shared lock or a child; NULL if unknown or not in the trace
  stack_id         INTEGER REFERENCES stacks(id),        -- call stack of the waiter; NULL if none was captured
  arg              INTEGER                               -- kind-specific: cond = mutex address, poll/select = descriptor count, epoll = epoll fd, sleep = requested ns, child = the pid waited for as waitpid takes it (-1 any child, 0 or -pgid a process group; waitid on a pidfd: the child that ended the wait, else -1), gil = switch intervals that expired while it waited (docs/gil.md)
);

-- When each thread was on which CPU: one row per on-CPU interval.
CREATE TABLE cpu_slices (
  thread_id INTEGER NOT NULL REFERENCES threads(id), -- the thread
  cpu       INTEGER NOT NULL,                        -- CPU number
  start_ns  INTEGER NOT NULL,                        -- switched in
  end_ns    INTEGER NOT NULL,                        -- switched out
  preempted INTEGER NOT NULL                         -- 1 if switched out while still runnable (preemption), 0 if it blocked or exited
);

-- Call stacks of waits, deduplicated per process image.
CREATE TABLE stacks (
  id         INTEGER PRIMARY KEY,                       -- trace key
  process_id INTEGER NOT NULL REFERENCES processes(id), -- whose address space the addresses belong to
  depth      INTEGER NOT NULL                           -- number of frames
);

-- Symbolized code locations, shared by stacks. A stack of a thread running
-- Python code in CPython also has its Python frames (kind 'python'), each
-- just inside the native _PyEval_EvalFrameDefault call that runs it.
CREATE TABLE frames (
  id       INTEGER PRIMARY KEY, -- trace key
  module   TEXT,                -- path of the executable or library (untrusted text); NULL for Python frames
  address  INTEGER NOT NULL,    -- native: offset of the instruction in the module (file-relative virtual address); python: bytecode offset in the code object
  function TEXT,                -- native: function name from the symbol table, demangling left to the reader, NULL if unknown; python: the code object's qualified name (co_qualname)
  file     TEXT,                -- native: source file from debug info, NULL without; python: co_filename
  line     INTEGER,             -- source line; NULL if unknown
  kind     TEXT NOT NULL DEFAULT 'native'  -- 'native' or 'python'
);

-- The frames of each stack, depth 0 being the innermost (the caller of the
-- function that waited).
CREATE TABLE stack_frames (
  stack_id INTEGER NOT NULL REFERENCES stacks(id),
  depth    INTEGER NOT NULL,  -- 0 = innermost
  frame_id INTEGER NOT NULL REFERENCES frames(id),
  PRIMARY KEY (stack_id, depth)
) WITHOUT ROWID;

-- Executables and libraries mapped in each process image, as the agent saw
-- them; used to symbolize stacks and to name objects.
CREATE TABLE modules (
  process_id INTEGER NOT NULL REFERENCES processes(id),
  path       TEXT NOT NULL,     -- path of the file (untrusted text)
  start      INTEGER NOT NULL,  -- lowest mapped address
  end        INTEGER NOT NULL,  -- highest mapped address + 1
  bias       INTEGER NOT NULL   -- load bias: runtime address = file address + bias
);

-- Indexes for the queries of reports and viewer.
CREATE INDEX waits_by_thread ON waits (thread_id, start_ns);
CREATE INDEX waits_by_object ON waits (object_id, start_ns);
CREATE INDEX cpu_slices_by_thread ON cpu_slices (thread_id, start_ns);
CREATE INDEX cpu_slices_by_cpu ON cpu_slices (cpu, start_ns);
CREATE INDEX threads_by_process ON threads (process_id);
CREATE UNIQUE INDEX frames_by_location ON frames (module, address);

-- ---------------------------------------------------------------------------
-- DERIVED TABLES
--
-- Everything below is computed from the raw tables above by the analysis
-- (collector/weft-analysis.c) when `weft record` finalizes a trace. They hold
-- no fact of their own: the analysis drops and rebuilds all of them, so a
-- trace can be re-analysed at any time. The statements from here to the end
-- of this file are the analysis's own definition of them: keep only derived
-- tables below this heading.
--
-- The analysis also sets these meta keys:
--   analysis_version    version of the rules that filled these tables (2)
--   analysis_anomalies  raw rows the rules had to clip or could not place: a
--                       wait outside its thread's life, slices of one thread
--                       that overlap, waits of one thread that overlap, a wait
--                       of an unknown kind, a slice or wait of a thread that
--                       is not in `threads`, a time more than 2^53 ns (104
--                       days) outside the trace or a trace longer than that
--                       (clipped) (0 for a consistent trace)
--
-- A trace is readable without its derived tables (weft_trace_open checks
-- only the raw ones): readers re-analyse a trace whose analysis_version is
-- older than theirs.
--
-- The seven thread states (DESIGN.md, "Metrics"), as the text of the `state`
-- column: running, runnable, lock, sync, io, sleep, blocked.

-- Each thread's life cut into exclusive, gap-free intervals, one state each.
-- A thread's life is [threads.start_ns, threads.end_ns], or up to meta end_ns
-- when threads.end_ns is NULL (and from meta start_ns when start_ns is NULL),
-- widened to cover its cpu_slices (the kernel sees a process on a CPU between
-- fork and exec, before the agent can note its start). Waits, and slices that
-- overlap an earlier slice, are clipped to it. The rules, in order:
--   running   inside one of the thread's cpu_slices. Running wins over every
--             other state: a spin wait, or the first part of a blocking call,
--             is spent on a CPU.
--   runnable  off CPU after a slice that ended with preempted = 1, until the
--             thread's next slice, whatever waits say (the kernel took the
--             CPU away; the thread still wanted it).
--   lock, sync, io, sleep
--             off CPU after a slice that ended with preempted = 0, while one
--             of the thread's waits covers the time, by waits.kind:
--               mutex rdlock wrlock spin sem      -> lock
--               cond barrier join child           -> sync
--               poll select epoll                 -> io
--               sleep                             -> sleep
--             a wait on an object of kind 'gil' is lock whatever its kind.
--             When two waits of a thread overlap, the one that began first
--             covers their common time.
--   blocked   off CPU after a slice that ended with preempted = 0 when no
--             wait covers the time (in the kernel for anything else: read,
--             write, page faults, …), and during a wait of an unknown kind.
--   before the thread's first slice: the state of the wait that covers the
--             time if there is one, else runnable (created, not yet run).
-- Consecutive intervals with the same state and the same wait are one row.
CREATE TABLE thread_states (
  thread_id INTEGER NOT NULL REFERENCES threads(id), -- the thread
  start_ns  INTEGER NOT NULL,                         -- interval begins
  end_ns    INTEGER NOT NULL,                         -- interval ends: the next row's start_ns, or the thread's end
  state     TEXT NOT NULL,                            -- running runnable lock sync io sleep blocked
  wait_id   INTEGER REFERENCES waits(id),             -- the wait behind a lock/sync/io/sleep (or unknown-kind blocked) row; else NULL
  PRIMARY KEY (thread_id, start_ns)
) WITHOUT ROWID;

-- The concurrency profile of the whole trace as a step function: each row is
-- an interval during which the number of threads in each state is constant,
-- counted over all threads of all processes. Rows tile [meta start_ns,
-- meta end_ns] (widened to any thread life that reaches outside it) in order,
-- without gap or overlap; time with no thread alive is a row of zeros.
--   parallelism  P(t) = running
--   concurrency  C(t) = running + runnable + lock + sync + io + blocked
--                       (alive and not sleeping)
-- Means over a span [:s, :e) are one query, e.g. mean parallelism:
--   SELECT sum(running * (min(end_ns, :e) - max(start_ns, :s))) * 1.0 / (:e - :s)
--     FROM profile WHERE start_ns < :e AND end_ns > :s;
-- and the share of time at each level of parallelism:
--   SELECT running, sum(min(end_ns, :e) - max(start_ns, :s)) * 1.0 / (:e - :s)
--     FROM profile WHERE start_ns < :e AND end_ns > :s GROUP BY running;
CREATE TABLE profile (
  start_ns INTEGER PRIMARY KEY, -- interval begins
  end_ns   INTEGER NOT NULL,    -- interval ends: the next row's start_ns
  running  INTEGER NOT NULL,    -- threads in state running: parallelism P
  runnable INTEGER NOT NULL,    -- threads in state runnable
  lock     INTEGER NOT NULL,    -- threads in state lock
  sync     INTEGER NOT NULL,    -- threads in state sync
  io       INTEGER NOT NULL,    -- threads in state io
  sleep    INTEGER NOT NULL,    -- threads in state sleep (not part of C)
  blocked  INTEGER NOT NULL     -- threads in state blocked
);

-- The profile summed over the whole trace, so that whole-trace means and the
-- share of time at each level of parallelism need no scan of `profile`: one
-- row per level of P that occurs, over the span [start_ns, end_ns) (meta
-- start_ns to meta end_ns; the same on every row). For the span, with
-- D = end_ns - start_ns: mean parallelism = sum(running * time_ns) / D, the
-- mean of state X = sum(X_ns) / D, the share at level P = time_ns / D.
-- A reader whose span differs from the rows' uses `profile` instead.
CREATE TABLE profile_summary (
  running     INTEGER PRIMARY KEY, -- a level of parallelism P
  start_ns    INTEGER NOT NULL,    -- the span summed over begins
  end_ns      INTEGER NOT NULL,    -- and ends
  time_ns     INTEGER NOT NULL,    -- time in the span with P = running
  runnable_ns INTEGER NOT NULL,    -- integral of the profile's runnable over that time (thread-ns)
  lock_ns     INTEGER NOT NULL,    -- the same for lock
  sync_ns     INTEGER NOT NULL,    -- sync
  io_ns       INTEGER NOT NULL,    -- io
  sleep_ns    INTEGER NOT NULL,    -- sleep
  blocked_ns  INTEGER NOT NULL     -- blocked
);

-- Time each thread spent in each state over its whole life (the sums of its
-- thread_states rows; together they add up to its life).
CREATE TABLE thread_summary (
  thread_id   INTEGER PRIMARY KEY REFERENCES threads(id), -- the thread
  running_ns  INTEGER NOT NULL,  -- on a CPU (the clipped sum of its cpu_slices)
  runnable_ns INTEGER NOT NULL,  -- wanting a CPU
  lock_ns     INTEGER NOT NULL,  -- waiting for a lock
  sync_ns     INTEGER NOT NULL,  -- waiting on a condition, barrier, join or child process
  io_ns       INTEGER NOT NULL,  -- in poll/select/epoll
  sleep_ns    INTEGER NOT NULL,  -- sleeping
  blocked_ns  INTEGER NOT NULL,  -- off CPU elsewhere in the kernel
  waits       INTEGER NOT NULL   -- its rows in waits
);

-- Granularity over the whole trace (DESIGN.md, "Metrics"): a burst is a
-- thread's CPU time between two consecutive waits, read from its
-- thread_states rows in order: running adds to the burst, runnable does not
-- end it, any other state does, and so does the thread's end. One row per
-- thread, one per process (its threads' bursts pooled), and one for the
-- whole trace (every process's bursts pooled; threads whose process is not in
-- `processes` are left out of both). Percentiles are nearest-rank, as in
-- lock_stats; 0 without bursts.
CREATE TABLE granularity (
  thread_id  INTEGER REFERENCES threads(id),   -- the thread; NULL on a process's and the whole trace's row
  process_id INTEGER REFERENCES processes(id), -- the thread's process, or the process; NULL on the whole trace's row
  bursts     INTEGER NOT NULL,  -- number of bursts
  p50_ns     INTEGER NOT NULL,  -- median burst
  p90_ns     INTEGER NOT NULL,  -- 90th percentile burst
  cpu_p50_ns INTEGER NOT NULL   -- the burst in which the middle nanosecond of their CPU time was spent
);

-- One row per synchronization object of `objects` (every kind, not only
-- locks): how much it was used and waited for over the whole trace. Wait
-- figures come from `waits` (durations end_ns - start_ns, unclipped); hold
-- figures and uncontended acquisitions from the agent's counters in
-- `object_stats`. Percentiles are nearest-rank: the p-th percentile of n
-- sorted durations is the one at rank ceil(p * n / 100).
CREATE TABLE lock_stats (
  object_id     INTEGER PRIMARY KEY REFERENCES objects(id), -- the object
  acquisitions  INTEGER NOT NULL,  -- sum of object_stats.acquisitions (0 for objects the agent does not count: cond, barrier, thread)
  contentions   INTEGER NOT NULL,  -- sum of object_stats.contentions, or the number of waits if that is larger
  waits         INTEGER NOT NULL,  -- rows of waits on the object
  wait_total_ns INTEGER NOT NULL,  -- sum of their durations
  wait_max_ns   INTEGER NOT NULL,  -- longest wait (0 without waits)
  wait_p50_ns   INTEGER NOT NULL,  -- median wait (0 without waits)
  wait_p90_ns   INTEGER NOT NULL,  -- 90th percentile wait
  wait_p99_ns   INTEGER NOT NULL,  -- 99th percentile wait
  hold_total_ns INTEGER NOT NULL,  -- sum of object_stats.hold_ns (over the timed holds)
  hold_max_ns   INTEGER NOT NULL,  -- largest object_stats.hold_max_ns
  hold_samples  INTEGER NOT NULL,  -- sum of object_stats.hold_samples: holds that were timed
  threads       INTEGER NOT NULL,  -- distinct threads that used it (object_stats) or waited on it (waits)
  holders       INTEGER NOT NULL   -- distinct threads named as waits.holder_thread_id for it
);

-- Where the waits on each object came from: waits grouped by object and call
-- stack (waits without a stack are left out).
CREATE TABLE lock_stacks (
  object_id     INTEGER NOT NULL REFERENCES objects(id), -- the object waited on
  stack_id      INTEGER NOT NULL REFERENCES stacks(id),  -- the waiter's call stack
  waits         INTEGER NOT NULL,  -- waits with this stack
  wait_total_ns INTEGER NOT NULL,  -- sum of their durations
  PRIMARY KEY (object_id, stack_id)
) WITHOUT ROWID;

-- Who blocked whom: waits with a known holder (waits.holder_thread_id: the
-- thread that held the lock, or the thread being joined), grouped by waiter,
-- holder and object.
CREATE TABLE blocking (
  waiter_thread_id INTEGER NOT NULL REFERENCES threads(id), -- the thread that waited
  holder_thread_id INTEGER NOT NULL REFERENCES threads(id), -- the thread it waited for
  object_id        INTEGER NOT NULL REFERENCES objects(id), -- what it waited on
  waits            INTEGER NOT NULL,  -- how many times
  wait_total_ns    INTEGER NOT NULL,  -- sum of those waits' durations
  wait_max_ns      INTEGER NOT NULL,  -- the longest of them
  PRIMARY KEY (waiter_thread_id, holder_thread_id, object_id)
) WITHOUT ROWID;
