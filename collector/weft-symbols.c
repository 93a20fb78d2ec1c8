/* weft-symbols.c — offline symbolization with elfutils libdwfl.
 *
 * One Dwfl per module file, holding that one ELF reported at base 0, so every
 * lookup is by file-relative address (runtime address - load bias) and the
 * same file serves every process that mapped it, wherever it was loaded.
 * Failures are cached too: a missing or unreadable file is tried once.
 */
#include <elfutils/libdwfl.h>
#include <string.h>
#include <unistd.h>

#include "weft-reach.h"
#include "weft-symbols.h"

typedef struct
{
  Dwfl        *dwfl;    /* NULL when the file could not be read */
  Dwfl_Module *module;  /* owned by dwfl */
} ModuleEntry;

struct _WeftSymbolizer
{
  GHashTable *modules;  /* path (owned) -> ModuleEntry (owned) */
};

/* Separate debug info is looked for where distributions put it: next to the
 * file, in .debug/, and under /usr/lib/debug (by build-id and by path), as
 * dwfl_standard_find_debuginfo does with the default debuginfo_path. */
static char *debuginfo_path = NULL;

static const Dwfl_Callbacks offline_callbacks = {
  .find_elf = dwfl_build_id_find_elf,
  .find_debuginfo = dwfl_standard_find_debuginfo,
  .section_address = dwfl_offline_section_address,
  .debuginfo_path = &debuginfo_path,
};

static void
module_entry_free (gpointer data)
{
  ModuleEntry *entry = data;

  if (entry->dwfl != NULL)
    dwfl_end (entry->dwfl);
  g_free (entry);
}

WeftSymbolizer *
weft_symbolizer_new (void)
{
  WeftSymbolizer *self = g_new0 (WeftSymbolizer, 1);

  self->modules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, module_entry_free);
  return self;
}

void
weft_symbolizer_free (WeftSymbolizer *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->modules);
  g_free (self);
}

void
weft_symbol_clear (WeftSymbol *symbol)
{
  if (symbol == NULL)
    return;
  g_clear_pointer (&symbol->function, g_free);
  g_clear_pointer (&symbol->file, g_free);
  symbol->line = 0;
  symbol->offset = 0;
}

/* Reports path alone at base 0. For ET_DYN that makes module addresses the
 * file's own virtual addresses; ET_EXEC files are at their link addresses
 * anyway, with a load bias of 0. */
static ModuleEntry *
module_open (const char *path)
{
  ModuleEntry *entry = g_new0 (ModuleEntry, 1);
  int fd = weft_open_regular_file (path);
  Dwfl *dwfl;
  Dwfl_Module *module;

  /* The path comes from the traced program: never let libdw open a FIFO. */
  if (fd < 0)
    return entry;
  if ((dwfl = dwfl_begin (&offline_callbacks)) == NULL)
    {
      close (fd);
      return entry;
    }

  dwfl_report_begin (dwfl);
  module = dwfl_report_elf (dwfl, path, path, fd, 0, false);   /* takes fd on success */
  if (module == NULL)
    close (fd);
  if (module == NULL || dwfl_report_end (dwfl, NULL, NULL) != 0)
    {
      g_debug ("weft: cannot read symbols of %s: %s", path, dwfl_errmsg (-1));
      dwfl_end (dwfl);
      return entry;
    }
  entry->dwfl = dwfl;
  entry->module = module;
  return entry;
}

static ModuleEntry *
module_lookup (WeftSymbolizer *self,
               const char     *path)
{
  ModuleEntry *entry = g_hash_table_lookup (self->modules, path);

  if (entry == NULL)
    {
      entry = module_open (path);
      g_hash_table_insert (self->modules, g_strdup (path), entry);
    }
  return entry;
}

/* "__libc_start_main@@GLIBC_2.34" → "__libc_start_main": the symbol version
 * in a static symbol table name means nothing to a reader of a stack. */
static char *
symbol_name_without_version (const char *name)
{
  const char *at = strchr (name, '@');

  return at != NULL && at != name ? g_strndup (name, at - name) : g_strdup (name);
}

gboolean
weft_symbolizer_lookup_code (WeftSymbolizer *self,
                             const char     *path,
                             guint64         bias,
                             guint64         address,
                             gboolean        is_return_address,
                             WeftSymbol     *out)
{
  ModuleEntry *entry;
  GElf_Addr file_address;
  GElf_Off symbol_offset = 0;
  GElf_Sym sym;
  const char *name;
  Dwfl_Line *line;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  out->offset = address - bias;

  entry = module_lookup (self, path);
  if (entry->module == NULL)
    return FALSE;

  /* A return address is the instruction after the call, which may belong to
   * the next line or even the next function. */
  file_address = out->offset;
  if (is_return_address && file_address > 0)
    file_address--;

  name = dwfl_module_addrinfo (entry->module, file_address, &symbol_offset, &sym,
                               NULL, NULL, NULL);
  if (name != NULL)
    out->function = symbol_name_without_version (name);

  line = dwfl_module_getsrc (entry->module, file_address);
  if (line != NULL)
    {
      int lineno = 0;
      const char *file = dwfl_lineinfo (line, NULL, &lineno, NULL, NULL, NULL);

      if (file != NULL)
        {
          out->file = g_strdup (file);
          out->line = lineno;
        }
    }
  return TRUE;
}

char *
weft_symbolizer_name_data (WeftSymbolizer *self,
                           const char     *path,
                           guint64         bias,
                           guint64         address)
{
  ModuleEntry *entry;
  GElf_Off offset = 0;
  GElf_Sym sym;
  const char *name;
  g_autofree char *bare = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  entry = module_lookup (self, path);
  if (entry->module == NULL)
    return NULL;

  /* addrinfo also answers with the nearest sizeless label below the address;
   * a name is only given when the symbol's extent contains the address. */
  name = dwfl_module_addrinfo (entry->module, address - bias, &offset, &sym,
                               NULL, NULL, NULL);
  if (name == NULL || offset >= MAX (sym.st_size, 1))
    return NULL;
  bare = symbol_name_without_version (name);
  if (offset == 0)
    return g_steal_pointer (&bare);
  return g_strdup_printf ("%s+0x%" G_GINT64_MODIFIER "x", bare, (guint64) offset);
}
