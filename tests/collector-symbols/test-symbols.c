/* test-symbols.c — the symbolizer against a library with known symbols
 * (symtest-lib.c), loaded here with dlopen so its load bias is real. */
#include <dlfcn.h>
#include <glib.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "weft-symbols.h"

int main (int argc, char **argv);  /* symbolized by /collector/symbols/executable */

typedef struct
{
  void     *handle;
  char     *path;     /* as the agent reports it: the mapped file */
  guint64   bias;     /* l_addr: runtime address = file address + bias */
  void   *(*function) (void);
  void    *(*where) (int line);
  pthread_mutex_t *lock;
  int      *call_line;
} Library;

static void
library_load (Library    *lib,
              const char *path)
{
  struct link_map *map = NULL;

  lib->handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  g_assert_nonnull (lib->handle);
  g_assert_cmpint (dlinfo (lib->handle, RTLD_DI_LINKMAP, &map), ==, 0);
  lib->path = g_strdup (map->l_name);
  lib->bias = map->l_addr;
  lib->function = (void *(*) (void)) dlsym (lib->handle, "weft_test_function");
  lib->where = (void *(*) (int)) dlsym (lib->handle, "weft_test_where");
  lib->lock = dlsym (lib->handle, "weft_test_lock");
  lib->call_line = dlsym (lib->handle, "weft_test_call_line");
  g_assert_nonnull (lib->function);
  g_assert_nonnull (lib->where);
  g_assert_nonnull (lib->lock);
  g_assert_nonnull (lib->call_line);
}

static void
library_unload (Library *lib)
{
  dlclose (lib->handle);
  g_free (lib->path);
}

/* The line of `text` at the start of a line in symtest-lib.c. */
static int
source_line_of (const char *text)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (SYMTEST_SOURCE, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], text))
      return i + 1;
  g_assert_not_reached ();
}

static void
test_return_address (void)
{
  g_autoptr(WeftSymbolizer) symbolizer = weft_symbolizer_new ();
  WeftSymbol symbol;
  Library lib = { 0 };
  guint64 address;

  g_test_summary ("A return address gives its function and the source line of the call.");
  library_load (&lib, SYMTEST_LIB);
  address = GPOINTER_TO_SIZE (lib.function ());

  g_assert_true (weft_symbolizer_lookup_code (symbolizer, lib.path, lib.bias, address, TRUE, &symbol));
  g_assert_cmpuint (symbol.offset, ==, address - lib.bias);
  g_assert_cmpstr (symbol.function, ==, "weft_test_function");
  g_assert_nonnull (symbol.file);
  g_assert_true (g_str_has_suffix (symbol.file, "/symtest-lib.c"));
  g_assert_cmpint (symbol.line, ==, *lib.call_line);
  weft_symbol_clear (&symbol);
  g_assert_null (symbol.function);

  library_unload (&lib);
}

static void
test_function_entry (void)
{
  g_autoptr(WeftSymbolizer) symbolizer = weft_symbolizer_new ();
  WeftSymbol symbol;
  Library lib = { 0 };
  guint64 address;
  int first_line, call_line;

  g_test_summary ("A function's own address gives its name and a line inside its definition.");
  library_load (&lib, SYMTEST_LIB);
  address = GPOINTER_TO_SIZE (lib.where);
  first_line = source_line_of ("weft_test_where (int line)");
  call_line = source_line_of ("weft_test_function (void)");

  g_assert_true (weft_symbolizer_lookup_code (symbolizer, lib.path, lib.bias, address, FALSE, &symbol));
  g_assert_cmpstr (symbol.function, ==, "weft_test_where");
  g_assert_true (g_str_has_suffix (symbol.file, "/symtest-lib.c"));
  g_assert_cmpint (symbol.line, >=, first_line);
  g_assert_cmpint (symbol.line, <, call_line);
  weft_symbol_clear (&symbol);

  library_unload (&lib);
}

static void
test_data (void)
{
  g_autoptr(WeftSymbolizer) symbolizer = weft_symbolizer_new ();
  Library lib = { 0 };
  guint64 lock;
  char *name;
  int on_stack = 0;

  g_test_summary ("A data address inside a global is named symbol+0xoffset; the stack is not named.");
  library_load (&lib, SYMTEST_LIB);
  lock = GPOINTER_TO_SIZE (lib.lock);

  name = weft_symbolizer_name_data (symbolizer, lib.path, lib.bias, lock + 8);
  g_assert_cmpstr (name, ==, "weft_test_lock+0x8");
  g_free (name);

  name = weft_symbolizer_name_data (symbolizer, lib.path, lib.bias, lock);
  g_assert_cmpstr (name, ==, "weft_test_lock");
  g_free (name);

  /* One past the end belongs to something else, or to nothing. */
  name = weft_symbolizer_name_data (symbolizer, lib.path, lib.bias, lock + sizeof (pthread_mutex_t));
  g_assert_false (name != NULL && g_str_has_prefix (name, "weft_test_lock"));
  g_free (name);

  name = weft_symbolizer_name_data (symbolizer, lib.path, lib.bias, GPOINTER_TO_SIZE (&on_stack));
  g_assert_null (name);

  library_unload (&lib);
}

static void
test_stripped (void)
{
  g_autoptr(WeftSymbolizer) symbolizer = weft_symbolizer_new ();
  WeftSymbol symbol;
  Library lib = { 0 };
  guint64 address;
  char *name;

  g_test_summary ("A stripped library still gives function and data names from .dynsym, without lines.");
  library_load (&lib, SYMTEST_STRIPPED_LIB);
  address = GPOINTER_TO_SIZE (lib.function ());

  g_assert_true (weft_symbolizer_lookup_code (symbolizer, lib.path, lib.bias, address, TRUE, &symbol));
  g_assert_cmpstr (symbol.function, ==, "weft_test_function");
  g_assert_null (symbol.file);
  g_assert_cmpint (symbol.line, ==, 0);
  weft_symbol_clear (&symbol);

  name = weft_symbolizer_name_data (symbolizer, lib.path, lib.bias, GPOINTER_TO_SIZE (lib.lock) + 8);
  g_assert_cmpstr (name, ==, "weft_test_lock+0x8");
  g_free (name);

  library_unload (&lib);
}

static void
test_missing (void)
{
  g_autoptr(WeftSymbolizer) symbolizer = weft_symbolizer_new ();
  const char *path = "/nonexistent/weft/libnothing.so";
  WeftSymbol symbol;

  g_test_summary ("A module file that is not there gives FALSE with the offset set, every time.");
  for (int i = 0; i < 2; i++)
    {
      g_assert_false (weft_symbolizer_lookup_code (symbolizer, path, 0x10000, 0x11234, TRUE, &symbol));
      g_assert_cmpuint (symbol.offset, ==, 0x1234);
      g_assert_null (symbol.function);
      g_assert_null (symbol.file);
      g_assert_cmpint (symbol.line, ==, 0);
      g_assert_null (weft_symbolizer_name_data (symbolizer, path, 0x10000, 0x11234));
    }
  /* Not an ELF file at all. */
  g_assert_false (weft_symbolizer_lookup_code (symbolizer, SYMTEST_SOURCE, 0, 0x10, FALSE, &symbol));
}

static int
find_main_bias (struct dl_phdr_info *info,
                size_t               size,
                void                *data)
{
  /* The first object is the executable. */
  *(guint64 *) data = info->dlpi_addr;
  return 1;
}

static void
test_executable (void)
{
  g_autoptr(WeftSymbolizer) symbolizer = weft_symbolizer_new ();
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  WeftSymbol symbol;
  guint64 bias = 0;

  g_test_summary ("The program itself (a PIE, biased) is symbolized like a library.");
  g_assert_nonnull (exe);
  dl_iterate_phdr (find_main_bias, &bias);

  g_assert_true (weft_symbolizer_lookup_code (symbolizer, exe, bias, GPOINTER_TO_SIZE (main), FALSE, &symbol));
  g_assert_cmpstr (symbol.function, ==, "main");
  g_assert_true (g_str_has_suffix (symbol.file, "/test-symbols.c"));
  weft_symbol_clear (&symbol);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/collector/symbols/return-address", test_return_address);
  g_test_add_func ("/collector/symbols/function-entry", test_function_entry);
  g_test_add_func ("/collector/symbols/data", test_data);
  g_test_add_func ("/collector/symbols/stripped", test_stripped);
  g_test_add_func ("/collector/symbols/missing", test_missing);
  g_test_add_func ("/collector/symbols/executable", test_executable);

  return g_test_run ();
}
