/* session-mode — how private the weft session it runs in is.
 *
 * Usage: session-mode
 *
 * Looks at the directory named by WEFT_SESSION (set by `weft record`) from
 * inside the traced program: its owner and mode, and the mode of every file
 * in it (the `session` file and this process's chunk files). Outside weft it
 * prints session_mode none.
 *
 * The trace must show nothing in particular; the test checks the expect
 * lines: session_mode 700, file_modes 600 (the distinct modes of all files,
 * octal), chunk_files at least 1, owned_by_me 1.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "sample.h"

int
main (void)
{
  const char *dir_path = getenv ("WEFT_SESSION");
  char modes[64] = "";
  int chunks = 0, owned = 1;
  struct dirent *entry;
  struct stat st;
  DIR *dir;

  if (dir_path == NULL || stat (dir_path, &st) != 0 || (dir = opendir (dir_path)) == NULL)
    {
      printf ("expect session_mode none\n");
      return 0;
    }
  printf ("expect session_mode %o\n", (unsigned) (st.st_mode & 07777));
  owned = st.st_uid == geteuid ();
  while ((entry = readdir (dir)) != NULL)
    {
      char mode[16];

      if (entry->d_name[0] == '.' || fstatat (dirfd (dir), entry->d_name, &st, 0) != 0)
        continue;
      owned = owned && st.st_uid == geteuid ();
      chunks += strstr (entry->d_name, ".chunk") != NULL;
      snprintf (mode, sizeof mode, "%s%o", modes[0] ? "," : "", (unsigned) (st.st_mode & 07777));
      if (strstr (modes, mode + (modes[0] ? 1 : 0)) == NULL && strlen (modes) + strlen (mode) < sizeof modes)
        strcat (modes, mode);
    }
  closedir (dir);
  printf ("expect file_modes %s\n", modes);
  printf ("expect chunk_files %d\n", chunks);
  printf ("expect owned_by_me %d\n", owned);
  printf ("The session %s is mode %s inside.\n", dir_path, modes);
  return 0;
}
