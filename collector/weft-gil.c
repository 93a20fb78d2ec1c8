/* weft-gil.c — the CPython GIL as one object (see weft-gil.h, docs/gil.md).
 *
 * CPython 3.9–3.13 keep the GIL in a struct _gil_runtime_state:
 *
 *   unsigned long interval;        +0x00  switch interval (µs)
 *   void *last_holder;             +0x08
 *   int locked;                    +0x10
 *   unsigned long switch_number;   +0x18
 *   pthread_cond_t cond;           +0x20  take_gil waits here, timed
 *   pthread_mutex_t mutex;         +0x50  cond's mutex
 *   pthread_cond_t switch_cond;    +0x78  drop_gil waits here (FORCE_SWITCHING)
 *   pthread_mutex_t switch_mutex;  +0xa0
 *
 * Up to 3.11 it is _PyRuntime.ceval.gil; from 3.12 it is the main
 * interpreter's _gil, and the main interpreter is inside _PyRuntime too. So
 * every part is `_PyRuntime+0x…`, at an offset that depends on the version.
 * take_gil loops on a timed wait of one switch interval: each expiry is a
 * cond wait with result 'timeout' (and a request that the holder drop the
 * GIL), the last wait of the loop ends when the GIL was handed over.
 */
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "weft-gil.h"
#include "weft-reach.h"

/* Offsets from gil->cond, the part every take_gil waits on. */
#define GIL_STRUCT_FROM_COND  (-0x20)
#define GIL_MUTEX_FROM_COND   0x30   /* sizeof (pthread_cond_t) */
#define GIL_SWCOND_FROM_COND  0x58   /* + sizeof (pthread_mutex_t) */
#define GIL_SWMUTEX_FROM_COND 0x88

/* Two waits of one thread on GIL parts are one take_gil when the second
 * began at most this long after the first ended: inside the loop the thread
 * only rechecks a flag (a few µs); after taking the GIL it runs Python until
 * another waiter's switch interval (5 ms) expires. */
#define GIL_LOOP_GAP_NS 200000

#define RUNTIME_PREFIX "_PyRuntime+0x"

typedef struct
{
  gint        minor;          /* CPython 3.minor */
  guint64     cond_offset;    /* offset of gil->cond in _PyRuntime */
  const char *verified_on;    /* versions whose traces showed it */
} GilLayout;

/* Only versions seen in real traces (docs/gil.md says how). An offset is
 * used only if the trace agrees with it; a new version needs a new line. */
static const GilLayout gil_layouts[] = {
  { 9,  0x180,   "3.9.18" },
  { 10, 0x180,   "3.10.13" },
  { 11, 0x188,   "3.11.2, 3.11.7" },
  { 12, 0x12e98, "3.12.1" },
  { 13, 0x17788, "3.13.0" },
};

typedef enum
{
  PART_COND,
  PART_MUTEX,
  PART_SWITCH_COND,
  PART_SWITCH_MUTEX,
  N_PARTS
} GilPart;

static const struct
{
  gint64      from_cond;
  const char *kind;
} gil_parts[N_PARTS] = {
  [PART_COND] = { 0, "cond" },
  [PART_MUTEX] = { GIL_MUTEX_FROM_COND, "mutex" },
  [PART_SWITCH_COND] = { GIL_SWCOND_FROM_COND, "cond" },
  [PART_SWITCH_MUTEX] = { GIL_SWMUTEX_FROM_COND, "mutex" },
};

/* A raw wait on a part of the GIL. */
typedef struct
{
  gint64  id;
  gint64  thread_id;
  GilPart part;
  gint64  start_ns;
  gint64  end_ns;
  char    result[16];
  gint64  error;
  gboolean after_other;   /* the thread began another wait since its previous raw wait */
} RawWait;

/* Raw waits of one thread that make one GIL wait: raws[first … first+n). */
typedef struct
{
  guint   first;
  guint   n;
  gint64  thread_id;
  gint64  start_ns;
  gint64  end_ns;
  gint64  ref_ns;        /* start of its first wait on gil->cond; -1 if none */
  gint64  timeouts;      /* switch intervals that expired */
  gboolean acquired;     /* it ended by taking the GIL */
  gint64  holder_id;     /* 0 = unknown */
} GilWait;

/* One process's GIL as found in the trace. */
typedef struct
{
  gint64  process_id;
  gint32  pid;
  guint64 runtime;           /* address of _PyRuntime */
  gint64  part_ids[N_PARTS]; /* object ids; 0 when the part was never waited on */
  guint64 cond_address;
} Gil;

/* ---------------------------------------------------------------------- */
/* Which Python. */

typedef enum
{
  NAME_SAYS_NOTHING,   /* "python", "python3", an embedding program */
  NAME_SAYS_VERSION,   /* "python3.11", "libpython3.12.so.1.0" */
  NAME_SAYS_OTHER,     /* "python3.13t", "python3.11d": another layout */
} NameVersion;

/* What a file name says of the CPython in it. Anything after the minor but
 * the library suffix (d, t: debug, free-threaded) means another layout. */
static NameVersion
version_from_name (const char *path,
                   gint       *major,
                   gint       *minor)
{
  g_autofree char *base = g_path_get_basename (path);
  gboolean library = g_str_has_prefix (base, "lib");
  const char *p = library ? base + 3 : base;
  char *end = NULL;

  if (!g_str_has_prefix (p, "python"))
    return NAME_SAYS_NOTHING;
  p += strlen ("python");
  if (!g_ascii_isdigit (p[0]))
    return NAME_SAYS_NOTHING;
  *major = (gint) g_ascii_strtoll (p, &end, 10);
  if (*end != '.' || !g_ascii_isdigit (end[1]))
    return library && g_str_has_prefix (end, ".so") ? NAME_SAYS_NOTHING : NAME_SAYS_OTHER;
  *minor = (gint) g_ascii_strtoll (end + 1, &end, 10);
  if (library ? g_str_has_prefix (end, ".so") : *end == '\0')
    return NAME_SAYS_VERSION;
  return NAME_SAYS_OTHER;
}

/* The value of the exported `const unsigned long Py_Version` (3.11+), read
 * from the file. FALSE if the file has no such symbol. */
static gboolean
read_py_version (const char *path,
                 guint64    *hexversion)
{
  gboolean found = FALSE;
  Elf_Scn *scn = NULL;
  Elf *elf;
  int fd;

  if ((fd = weft_open_regular_file (path)) < 0)
    return FALSE;
  elf_version (EV_CURRENT);
  if ((elf = elf_begin (fd, ELF_C_READ, NULL)) == NULL)
    {
      close (fd);
      return FALSE;
    }
  while (!found && (scn = elf_nextscn (elf, scn)) != NULL)
    {
      GElf_Shdr shdr;
      Elf_Data *data;

      if (gelf_getshdr (scn, &shdr) == NULL
          || (shdr.sh_type != SHT_DYNSYM && shdr.sh_type != SHT_SYMTAB)
          || shdr.sh_entsize == 0 || (data = elf_getdata (scn, NULL)) == NULL)
        continue;
      for (gsize i = 0; i < shdr.sh_size / shdr.sh_entsize; i++)
        {
          GElf_Sym sym;
          const char *name;
          Elf_Scn *holder;
          GElf_Shdr holder_shdr;
          Elf_Data *holder_data;
          guint64 offset;

          if (gelf_getsym (data, (int) i, &sym) == NULL
              || (name = elf_strptr (elf, shdr.sh_link, sym.st_name)) == NULL
              || strcmp (name, "Py_Version") != 0 || sym.st_size < 4 || sym.st_size > 8
              || (holder = elf_getscn (elf, sym.st_shndx)) == NULL
              || gelf_getshdr (holder, &holder_shdr) == NULL
              || holder_shdr.sh_type == SHT_NOBITS
              || (holder_data = elf_getdata (holder, NULL)) == NULL
              || sym.st_value < holder_shdr.sh_addr
              || (offset = sym.st_value - holder_shdr.sh_addr) + sym.st_size > holder_data->d_size)
            continue;
          *hexversion = 0;
          /* Little-endian x86-64 (and aarch64): the low bytes come first. */
          for (guint b = 0; b < sym.st_size; b++)
            *hexversion |= (guint64) ((const guint8 *) holder_data->d_buf)[offset + b] << (8 * b);
          found = TRUE;
          break;
        }
    }
  elf_end (elf);
  close (fd);
  return found;
}

gboolean
weft_gil_python_version (const char *path,
                         gint       *major,
                         gint       *minor,
                         gint       *micro)
{
  NameVersion name = version_from_name (path, major, minor);
  guint64 hexversion = 0;

  *micro = -1;
  if (name == NAME_SAYS_OTHER)
    return FALSE;
  if (!read_py_version (path, &hexversion))
    return name == NAME_SAYS_VERSION;
  if (name == NAME_SAYS_NOTHING)
    {
      *major = (gint) ((hexversion >> 24) & 0xff);
      *minor = (gint) ((hexversion >> 16) & 0xff);
    }
  else if ((gint) ((hexversion >> 24) & 0xff) != *major
           || (gint) ((hexversion >> 16) & 0xff) != *minor)
    return FALSE;
  *micro = (gint) ((hexversion >> 8) & 0xff);
  return TRUE;
}

static const GilLayout *
layout_for (gint major,
            gint minor)
{
  for (guint i = 0; major == 3 && i < G_N_ELEMENTS (gil_layouts); i++)
    if (gil_layouts[i].minor == minor)
      return &gil_layouts[i];
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* SQL helpers: statements are prepared once by the trace and cached. */

static sqlite3_stmt *
prepare (WeftTrace   *trace,
         const char  *sql,
         GError     **error)
{
  return weft_trace_prepare (trace, sql, error);
}

static gboolean
step_done (WeftTrace    *trace,
           sqlite3_stmt *stmt,
           const char   *sql,
           GError      **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  return rc == SQLITE_DONE ? TRUE : weft_trace_sql_error (trace, sql, error);
}

/* Processes that have `_PyRuntime+0x…` objects and no GIL yet. */
static GArray *
candidate_processes (WeftTrace  *trace,
                     GError    **error)
{
  static const char sql[] =
    "SELECT DISTINCT o.process_id, p.pid FROM objects o JOIN processes p ON p.id = o.process_id"
    " WHERE substr(o.name, 1, 13) = '" RUNTIME_PREFIX "'"
    " AND NOT EXISTS (SELECT 1 FROM objects g WHERE g.process_id = o.process_id AND g.kind = 'gil')";
  g_autoptr (GArray) found = g_array_new (FALSE, TRUE, sizeof (Gil));
  sqlite3_stmt *stmt = prepare (trace, sql, error);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      Gil gil = { .process_id = sqlite3_column_int64 (stmt, 0),
                  .pid = sqlite3_column_int (stmt, 1) };

      g_array_append_val (found, gil);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      weft_trace_sql_error (trace, sql, error);
      return NULL;
    }
  return g_steal_pointer (&found);
}

/* The address of _PyRuntime in the process, from any of its named objects,
 * and the file that holds it. */
static gboolean
find_runtime (WeftTrace  *trace,
              Gil        *gil,
              char      **path,
              GError    **error)
{
  static const char object_sql[] =
    "SELECT address, name FROM objects WHERE process_id = :process"
    " AND substr(name, 1, 13) = '" RUNTIME_PREFIX "' LIMIT 1";
  static const char module_sql[] =
    "SELECT path FROM modules WHERE process_id = :process AND start <= :address"
    " AND :address < end ORDER BY rowid DESC LIMIT 1";
  sqlite3_stmt *stmt;
  guint64 address = 0, offset = 0;
  gboolean ok = FALSE;

  *path = NULL;
  if ((stmt = prepare (trace, object_sql, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, gil->process_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      address = (guint64) sqlite3_column_int64 (stmt, 0);
      offset = g_ascii_strtoull ((const char *) sqlite3_column_text (stmt, 1) + strlen (RUNTIME_PREFIX),
                                 NULL, 16);
      ok = TRUE;
    }
  sqlite3_reset (stmt);
  if (!ok)
    return TRUE;
  gil->runtime = address - offset;

  if ((stmt = prepare (trace, module_sql, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, gil->process_id);
  sqlite3_bind_int64 (stmt, 2, (gint64) gil->runtime);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    *path = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);
  return TRUE;
}

/* Object id of the process's object at address with the given kind, or 0. */
static gint64
object_at (WeftTrace   *trace,
           gint64       process_id,
           guint64      address,
           const char  *kind,
           GError     **error)
{
  static const char sql[] =
    "SELECT id FROM objects WHERE process_id = :process AND address = :address AND kind = :kind";
  sqlite3_stmt *stmt = prepare (trace, sql, error);
  gint64 id = 0;

  if (stmt == NULL)
    return -1;
  sqlite3_bind_int64 (stmt, 1, process_id);
  sqlite3_bind_int64 (stmt, 2, (gint64) address);
  sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    id = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  return id;
}

/* The signature of a GIL cond: it was waited on, every wait passed the mutex
 * right after it (arg), and, if timeouts is set, some waits timed out (the
 * switch interval). */
static gboolean
cond_signature (WeftTrace  *trace,
                gint64      cond_id,
                guint64     cond_address,
                gboolean    timeouts,
                GError    **error)
{
  static const char sql[] =
    "SELECT count(*), total(arg = :mutex), total(result = 'timeout') FROM waits"
    " WHERE object_id = :cond";
  sqlite3_stmt *stmt = prepare (trace, sql, error);
  gint64 waits = 0;
  double matching = 0, timed_out = 0;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (gint64) (cond_address + GIL_MUTEX_FROM_COND));
  sqlite3_bind_int64 (stmt, 2, cond_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      waits = sqlite3_column_int64 (stmt, 0);
      matching = sqlite3_column_double (stmt, 1);
      timed_out = sqlite3_column_double (stmt, 2);
    }
  sqlite3_reset (stmt);
  return waits > 0 && matching == (double) waits && (!timeouts || timed_out > 0);
}

/* Offset in _PyRuntime of a cond that looks like a GIL's (timed waits that
 * pass the mutex next to it), anywhere; 0 if there is none. Only used to
 * tell the user there was something we did not recognize. */
static guint64
gil_like_cond (WeftTrace  *trace,
               const Gil  *gil,
               GError    **error)
{
  static const char sql[] =
    "SELECT id, address FROM objects WHERE process_id = :process AND kind = 'cond'"
    " AND substr(name, 1, 13) = '" RUNTIME_PREFIX "' ORDER BY address";
  g_autoptr (GArray) conds = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt = prepare (trace, sql, error);

  if (stmt == NULL)
    return 0;
  sqlite3_bind_int64 (stmt, 1, gil->process_id);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 pair[2] = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };

      g_array_append_vals (conds, pair, 2);
    }
  sqlite3_reset (stmt);
  for (guint i = 0; i + 1 < conds->len; i += 2)
    {
      gint64 id = g_array_index (conds, gint64, i);
      guint64 address = (guint64) g_array_index (conds, gint64, i + 1);

      if (cond_signature (trace, id, address, TRUE, error))
        return address - gil->runtime;
      if (*error != NULL)
        return 0;
    }
  return 0;
}

/* Decides whether the process's GIL can be named; fills gil->part_ids. A
 * FALSE answer may add a warning; *error is set only if a statement failed.
 * error must not be NULL (here and below). */
static gboolean
recognize (WeftTrace  *trace,
           Gil        *gil,
           GPtrArray  *warnings,
           GError    **error)
{
  g_autofree char *path = NULL;
  const GilLayout *layout = NULL;
  gint major = 0, minor = 0, micro = -1;
  gboolean known;
  guint64 elsewhere;

  if (!find_runtime (trace, gil, &path, error))
    return FALSE;
  known = path != NULL && weft_gil_python_version (path, &major, &minor, &micro);
  if (known)
    layout = layout_for (major, minor);

  if (layout != NULL)
    {
      gil->cond_address = gil->runtime + layout->cond_offset;
      gil->part_ids[PART_COND] = object_at (trace, gil->process_id, gil->cond_address, "cond", error);
      if (*error != NULL)
        return FALSE;
      if (gil->part_ids[PART_COND] > 0
          && cond_signature (trace, gil->part_ids[PART_COND], gil->cond_address, FALSE, error))
        {
          for (guint p = 1; p < N_PARTS && *error == NULL; p++)
            gil->part_ids[p] = object_at (trace, gil->process_id,
                                          gil->cond_address + gil_parts[p].from_cond,
                                          gil_parts[p].kind, error);
          return *error == NULL;
        }
      gil->part_ids[PART_COND] = 0;
      if (*error != NULL)
        return FALSE;
    }

  /* Not recognized: say so only if the trace shows GIL-like waiting. */
  elsewhere = gil_like_cond (trace, gil, error);
  if (elsewhere != 0 && *error == NULL && warnings != NULL)
    {
      g_autofree char *version = NULL;

      if (!known)
        version = g_strdup ("a Python this weft cannot identify");
      else if (micro >= 0)
        version = g_strdup_printf ("CPython %d.%d.%d", major, minor, micro);
      else
        version = g_strdup_printf ("CPython %d.%d", major, minor);

      if (layout == NULL)
        g_ptr_array_add (warnings,
                         g_strdup_printf ("pid %d runs %s (%s); weft knows the GIL of CPython "
                                          "3.9 to 3.13 only, so its parts stay raw objects "
                                          "(e.g. _PyRuntime+0x%" G_GINT64_MODIFIER "x); see docs/gil.md",
                                          gil->pid, version, path ? path : "no module", elsewhere));
      else
        g_ptr_array_add (warnings,
                         g_strdup_printf ("pid %d runs %s (%s), but its trace does not match the "
                                          "GIL layout weft knows for it (verified on %s): the GIL "
                                          "stays raw objects (e.g. _PyRuntime+0x%" G_GINT64_MODIFIER
                                          "x); see docs/gil.md",
                                          gil->pid, version, path, layout->verified_on, elsewhere));
    }
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* Merging. */

static GilPart
part_of (const Gil *gil,
         gint64     object_id)
{
  for (guint p = 0; p < N_PARTS; p++)
    if (gil->part_ids[p] == object_id)
      return p;
  g_assert_not_reached ();
}

/* Every wait on a part of the GIL, by thread and time, each marked when the
 * thread waited for something else since its previous one (the blocking
 * call between a drop_gil and the next take_gil). */
static GArray *
load_raw_waits (WeftTrace  *trace,
                const Gil  *gil,
                GError    **error)
{
  static const char sql[] =
    "SELECT id, thread_id, object_id, start_ns, end_ns, result, error,"
    " coalesce (object_id IN (:cond, :mutex, :switch_cond, :switch_mutex), 0) FROM waits"
    " WHERE thread_id IN (SELECT thread_id FROM waits"
    "  WHERE object_id IN (:cond, :mutex, :switch_cond, :switch_mutex))"
    " ORDER BY thread_id, start_ns, id";
  g_autoptr (GArray) raws = g_array_new (FALSE, TRUE, sizeof (RawWait));
  sqlite3_stmt *stmt = prepare (trace, sql, error);
  gint64 other_thread_id = 0;
  int rc;

  if (stmt == NULL)
    return NULL;
  for (guint p = 0; p < N_PARTS; p++)
    sqlite3_bind_int64 (stmt, p + 1, gil->part_ids[p] > 0 ? gil->part_ids[p] : -1);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      RawWait raw;

      if (!sqlite3_column_int (stmt, 7))
        {
          other_thread_id = sqlite3_column_int64 (stmt, 1);
          continue;
        }
      raw = (RawWait) {
        .id = sqlite3_column_int64 (stmt, 0),
        .thread_id = sqlite3_column_int64 (stmt, 1),
        .part = part_of (gil, sqlite3_column_int64 (stmt, 2)),
        .start_ns = sqlite3_column_int64 (stmt, 3),
        .end_ns = sqlite3_column_int64 (stmt, 4),
        .error = sqlite3_column_int64 (stmt, 6),
        .after_other = other_thread_id == sqlite3_column_int64 (stmt, 1),
      };
      other_thread_id = 0;

      g_strlcpy (raw.result, (const char *) sqlite3_column_text (stmt, 5), sizeof raw.result);
      g_array_append_val (raws, raw);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      weft_trace_sql_error (trace, sql, error);
      return NULL;
    }
  return g_steal_pointer (&raws);
}

/* Back-to-back waits of a thread on the GIL's parts, with no other wait of
 * the thread between them, are one GIL wait (one take_gil loop, with the
 * drop_gil switch wait and the mutex waits around it). It took the GIL when its last wait on gil->cond was its last wait
 * but for the switch_mutex that take_gil locks once it has won. */
static GArray *
group_waits (GArray *raws)
{
  GArray *groups = g_array_new (FALSE, TRUE, sizeof (GilWait));
  GilWait *current = NULL;

  for (guint i = 0; i < raws->len; i++)
    {
      const RawWait *raw = &g_array_index (raws, RawWait, i);

      if (current == NULL || raw->thread_id != current->thread_id || raw->after_other
          || raw->start_ns - current->end_ns > GIL_LOOP_GAP_NS)
        {
          GilWait fresh = { .first = i, .thread_id = raw->thread_id,
                            .start_ns = raw->start_ns, .end_ns = raw->end_ns, .ref_ns = -1 };

          g_array_append_val (groups, fresh);
          current = &g_array_index (groups, GilWait, groups->len - 1);
        }
      current->n++;
      current->end_ns = MAX (current->end_ns, raw->end_ns);
      if (raw->part == PART_COND)
        {
          if (current->ref_ns < 0)
            current->ref_ns = raw->start_ns;
          if (strcmp (raw->result, "timeout") == 0)
            current->timeouts++;
          current->acquired = TRUE;
        }
      else if (raw->part != PART_SWITCH_MUTEX)
        current->acquired = FALSE;
    }
  return groups;
}

typedef struct
{
  gint64 time_ns;
  gint64 thread_id;
} Acquisition;

static gint
compare_acquisitions (gconstpointer a,
                      gconstpointer b)
{
  const Acquisition *x = a, *y = b;

  return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

/* TRUE if, between its taking the GIL at after_ns and before_ns, the thread
 * did nothing that could have let the GIL go: began no wait (every blocking
 * call in CPython releases the GIL, and the agent records the blocking calls
 * it knows) and left no CPU except by preemption (a thread that blocks in a
 * call the agent does not see, say read(), has released the GIL too). */
static gboolean
kept_gil (WeftTrace  *trace,
          gint64      thread_id,
          gint64      after_ns,
          gint64      before_ns,
          GError    **error)
{
  static const char sql[] =
    "SELECT EXISTS (SELECT 1 FROM waits WHERE thread_id = :thread"
    "   AND start_ns > :after AND start_ns < :before)"
    " OR EXISTS (SELECT 1 FROM cpu_slices WHERE thread_id = :thread"
    "   AND start_ns >= coalesce ((SELECT max(start_ns) FROM cpu_slices"
    "                              WHERE thread_id = :thread AND start_ns <= :after), 0)"
    "   AND start_ns < :before AND end_ns > :after AND end_ns < :before AND preempted = 0)"
    " OR EXISTS (SELECT 1 FROM threads WHERE id = :thread AND end_ns < :before)";
  sqlite3_stmt *stmt = prepare (trace, sql, error);
  gboolean let_go = TRUE;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, thread_id);
  sqlite3_bind_int64 (stmt, 2, after_ns);
  sqlite3_bind_int64 (stmt, 3, before_ns);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    let_go = sqlite3_column_int (stmt, 0) != 0;
  sqlite3_reset (stmt);
  return !let_go;
}

/* The holder of the GIL when a wait's take_gil began: the thread that took
 * it last before that moment, provided it kept it since (kept_gil). Takes
 * that did not have to wait leave no trace, so when the last visible one is
 * not known to be still in force, the holder stays unknown. */
static gboolean
find_holders (WeftTrace  *trace,
              GArray     *groups,
              GError    **error)
{
  g_autoptr (GArray) takes = g_array_new (FALSE, FALSE, sizeof (Acquisition));

  for (guint i = 0; i < groups->len; i++)
    {
      const GilWait *wait = &g_array_index (groups, GilWait, i);
      Acquisition take = { wait->end_ns, wait->thread_id };

      if (wait->acquired)
        g_array_append_val (takes, take);
    }
  g_array_sort (takes, compare_acquisitions);

  for (guint i = 0; i < groups->len; i++)
    {
      GilWait *wait = &g_array_index (groups, GilWait, i);
      guint lo = 0, hi = takes->len;
      const Acquisition *last;

      if (wait->ref_ns < 0)
        continue;
      /* The last take that ended before the wait began. */
      while (lo < hi)
        {
          guint mid = (lo + hi) / 2;

          if (g_array_index (takes, Acquisition, mid).time_ns <= wait->ref_ns)
            lo = mid + 1;
          else
            hi = mid;
        }
      if (lo == 0)
        continue;
      last = &g_array_index (takes, Acquisition, lo - 1);
      if (last->thread_id == wait->thread_id)
        continue;
      if (kept_gil (trace, last->thread_id, last->time_ns, wait->ref_ns, error))
        wait->holder_id = last->thread_id;
      else if (*error != NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
write_waits (WeftTrace  *trace,
             const Gil  *gil,
             GArray     *raws,
             GArray     *groups,
             GError    **error)
{
  static const char update_sql[] =
    "UPDATE waits SET object_id = :gil, kind = 'gil', end_ns = :end, result = :result,"
    " error = :error, holder_thread_id = :holder, arg = :timeouts WHERE id = :id";
  static const char delete_sql[] = "DELETE FROM waits WHERE id = :id";

  for (guint i = 0; i < groups->len; i++)
    {
      const GilWait *wait = &g_array_index (groups, GilWait, i);
      const RawWait *first = &g_array_index (raws, RawWait, wait->first);
      const RawWait *last = &g_array_index (raws, RawWait, wait->first + wait->n - 1);
      sqlite3_stmt *stmt;

      if ((stmt = prepare (trace, update_sql, error)) == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, gil->part_ids[PART_COND]);
      sqlite3_bind_int64 (stmt, 2, wait->end_ns);
      sqlite3_bind_text (stmt, 3, wait->acquired ? "ok" : last->result, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (stmt, 4, wait->acquired ? 0 : last->error);
      if (wait->holder_id > 0)
        sqlite3_bind_int64 (stmt, 5, wait->holder_id);
      sqlite3_bind_int64 (stmt, 6, wait->timeouts);
      sqlite3_bind_int64 (stmt, 7, first->id);
      if (!step_done (trace, stmt, update_sql, error))
        return FALSE;

      for (guint r = 1; r < wait->n; r++)
        {
          if ((stmt = prepare (trace, delete_sql, error)) == NULL)
            return FALSE;
          sqlite3_bind_int64 (stmt, 1, g_array_index (raws, RawWait, wait->first + r).id);
          if (!step_done (trace, stmt, delete_sql, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* The GIL's parts become one object: the cond's row, renamed; the others'
 * per-thread counters (the agent counts the two mutexes: every take_gil and
 * drop_gil locks gil->mutex) are summed into it. Their hold times are the
 * microseconds those mutexes were held, not the time the GIL was: they are
 * dropped (hold_samples 0: no hold of the GIL was timed). */
static gboolean
write_object (WeftTrace  *trace,
              const Gil  *gil,
              GError    **error)
{
  static const char object_sql[] =
    "UPDATE objects SET kind = 'gil', name = 'GIL', address = :address WHERE id = :id";
  static const char merge_sql[] =
    "INSERT INTO object_stats (object_id, thread_id, acquisitions, contentions, hold_ns,"
    " hold_max_ns, hold_samples)"
    " SELECT :gil, thread_id, acquisitions, contentions, hold_ns, hold_max_ns, hold_samples"
    " FROM object_stats WHERE object_id = :part AND true"
    " ON CONFLICT (object_id, thread_id) DO UPDATE SET"
    " acquisitions = acquisitions + excluded.acquisitions,"
    " contentions = contentions + excluded.contentions,"
    " hold_ns = hold_ns + excluded.hold_ns,"
    " hold_max_ns = max (hold_max_ns, excluded.hold_max_ns),"
    " hold_samples = hold_samples + excluded.hold_samples";
  static const char drop_stats_sql[] = "DELETE FROM object_stats WHERE object_id = :part";
  static const char no_hold_sql[] =
    "UPDATE object_stats SET hold_ns = 0, hold_max_ns = 0, hold_samples = 0 WHERE object_id = :gil";
  static const char drop_object_sql[] = "DELETE FROM objects WHERE id = :part";
  gint64 gil_id = gil->part_ids[PART_COND];
  sqlite3_stmt *stmt;

  if ((stmt = prepare (trace, object_sql, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (gint64) (gil->cond_address + GIL_STRUCT_FROM_COND));
  sqlite3_bind_int64 (stmt, 2, gil_id);
  if (!step_done (trace, stmt, object_sql, error))
    return FALSE;

  for (guint p = 1; p < N_PARTS; p++)
    {
      const char *sqls[] = { merge_sql, drop_stats_sql, drop_object_sql };

      if (gil->part_ids[p] <= 0)
        continue;
      for (guint s = 0; s < G_N_ELEMENTS (sqls); s++)
        {
          if ((stmt = prepare (trace, sqls[s], error)) == NULL)
            return FALSE;
          if (s == 0)
            {
              sqlite3_bind_int64 (stmt, 1, gil_id);
              sqlite3_bind_int64 (stmt, 2, gil->part_ids[p]);
            }
          else
            sqlite3_bind_int64 (stmt, 1, gil->part_ids[p]);
          if (!step_done (trace, stmt, sqls[s], error))
            return FALSE;
        }
    }
  if ((stmt = prepare (trace, no_hold_sql, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, gil_id);
  return step_done (trace, stmt, no_hold_sql, error);
}

static gboolean
merge (WeftTrace      *trace,
       const Gil      *gil,
       WeftGilSummary *summary,
       GError        **error)
{
  g_autoptr (GArray) raws = NULL;
  g_autoptr (GArray) groups = NULL;

  if ((raws = load_raw_waits (trace, gil, error)) == NULL)
    return FALSE;
  groups = group_waits (raws);
  if (!find_holders (trace, groups, error)
      || !write_waits (trace, gil, raws, groups, error)
      || !write_object (trace, gil, error))
    return FALSE;

  summary->processes++;
  summary->raw_waits += raws->len;
  summary->gil_waits += groups->len;
  for (guint i = 0; i < groups->len; i++)
    {
      const GilWait *wait = &g_array_index (groups, GilWait, i);

      summary->timeouts += wait->timeouts;
      summary->holders += wait->holder_id > 0;
    }
  return TRUE;
}

gboolean
weft_gil_recognize (WeftTrace      *trace,
                    GPtrArray      *warnings,
                    WeftGilSummary *summary,
                    GError        **error)
{
  WeftGilSummary local = { 0 };
  g_autoptr (GArray) processes = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (trace != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (summary == NULL)
    summary = &local;
  memset (summary, 0, sizeof *summary);
  processes = candidate_processes (trace, &local_error);
  for (guint i = 0; processes != NULL && i < processes->len && local_error == NULL; i++)
    {
      Gil *gil = &g_array_index (processes, Gil, i);

      if (recognize (trace, gil, warnings, &local_error))
        merge (trace, gil, summary, &local_error);
    }
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}
