/* weft-symbols.h — turns instruction and data addresses of a traced process
 * into module, function, file:line and symbol+offset names, offline, from the
 * files on disk (ELF symbol tables, DWARF when present) with elfutils libdw.
 *
 * The collector calls it at finalize time with the modules the agent reported
 * (path, load bias). Modules are opened once and cached. Not thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char    *function;   /* function name (mangled as in the symbol table), or NULL */
  char    *file;       /* source file from debug info, or NULL */
  gint     line;       /* source line, or 0 */
  guint64  offset;     /* file-relative address: address - bias */
} WeftSymbol;

typedef struct _WeftSymbolizer WeftSymbolizer;

WeftSymbolizer *weft_symbolizer_new          (void);
void            weft_symbolizer_free         (WeftSymbolizer *self);

/* Looks up a code address of a module mapped with load bias `bias` from file
 * `path`. For return addresses (stack frames above the innermost) pass
 * is_return_address so the call instruction's line is found (address - 1).
 * Fills out (free with weft_symbol_clear) and returns TRUE when the module
 * could be read; FALSE (out->offset still set, names NULL) when it could not. */
gboolean        weft_symbolizer_lookup_code  (WeftSymbolizer *self,
                                              const char     *path,
                                              guint64         bias,
                                              guint64         address,
                                              gboolean        is_return_address,
                                              WeftSymbol     *out);

/* Names a data address, e.g. a global mutex: "symbol+0xoff" (or "symbol" at
 * offset 0) from the module's symbol tables (dynamic and static), or NULL
 * when no data or function symbol contains it. Newly allocated. */
char           *weft_symbolizer_name_data    (WeftSymbolizer *self,
                                              const char     *path,
                                              guint64         bias,
                                              guint64         address);

void            weft_symbol_clear            (WeftSymbol     *symbol);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WeftSymbolizer, weft_symbolizer_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (WeftSymbol, weft_symbol_clear)

G_END_DECLS
