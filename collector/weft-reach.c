/* weft-reach.c — why the agent could not run in a process (weft-reach.h). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "weft-reach.h"

#define PHDRS_MAX 4096u  /* more program headers than any real binary has */

/* Whether the ELF file open on fd asks for a program interpreter (the
 * dynamic loader, PT_INTERP): 1 yes, 0 no (static, static-pie included),
 * -1 when it is not an ELF file we can read. */
static int
elf_has_interp (int fd)
{
  Elf64_Ehdr eh64;
  Elf32_Ehdr eh32;
  guint64 phoff;
  guint phnum, phentsize;

  if (pread (fd, &eh64, sizeof eh64, 0) < (ssize_t) sizeof eh32
      || memcmp (eh64.e_ident, ELFMAG, SELFMAG) != 0)
    return -1;
  if (eh64.e_ident[EI_CLASS] == ELFCLASS64)
    {
      phoff = eh64.e_phoff;
      phnum = eh64.e_phnum;
      phentsize = eh64.e_phentsize;
      if (phentsize < sizeof (Elf64_Phdr))
        return -1;
    }
  else if (eh64.e_ident[EI_CLASS] == ELFCLASS32)
    {
      memcpy (&eh32, &eh64, sizeof eh32);
      phoff = eh32.e_phoff;
      phnum = eh32.e_phnum;
      phentsize = eh32.e_phentsize;
      if (phentsize < sizeof (Elf32_Phdr))
        return -1;
    }
  else
    return -1;

  /* p_type is the first 32-bit word of both layouts. */
  for (guint i = 0; i < MIN (phnum, PHDRS_MAX); i++)
    {
      guint32 type;

      if (pread (fd, &type, sizeof type, (off_t) (phoff + (guint64) i * phentsize))
          != (ssize_t) sizeof type)
        return -1;
      if (type == PT_INTERP)
        return 1;
    }
  return 0;
}

/* Real and effective ids differ on a "Uid:" or "Gid:" line of
 * /proc/PID/status: the kernel ran the program setuid/setgid, which puts the
 * loader in secure-execution mode. */
static gboolean
status_is_secure (const char *status)
{
  static const char *const keys[] = { "\nUid:", "\nGid:" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *line = strstr (status, keys[i]);
      unsigned long real_id, effective_id;
      char *end;

      if (line == NULL)
        continue;
      line += strlen (keys[i]);
      real_id = strtoul (line, &end, 10);
      effective_id = strtoul (end, NULL, 10);
      if (real_id != effective_id)
        return TRUE;
    }
  return FALSE;
}

gboolean
weft_reach_check_pid (gint32        pid,
                      const char  **reason)
{
  g_autofree char *exe = g_strdup_printf ("/proc/%d/exe", (int) pid);
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  int interp = -1;
  int fd;

  /* /proc/PID/exe needs ptrace access: a setuid process of another user
   * refuses it, while its status stays readable. */
  fd = open (exe, O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      interp = elf_has_interp (fd);
      close (fd);
    }
  if (!g_file_get_contents (status_path, &status, NULL, NULL))
    return FALSE;
  if (interp == 0)
    *reason = WEFT_REACH_STATIC;
  else if (status_is_secure (status))
    *reason = WEFT_REACH_SECURE;
  else if (interp == 1)
    *reason = NULL;
  else
    return FALSE;
  return TRUE;
}

/* Whether exec'ing st, a file on the filesystem of path, would change our
 * ids (a nosuid mount ignores the bits). */
static gboolean
file_is_secure (const char        *path,
                const struct stat *st)
{
  struct statvfs vfs;

  if (!((st->st_mode & S_ISUID) && st->st_uid != geteuid ())
      && !((st->st_mode & S_ISGID) && st->st_gid != getegid ()))
    return FALSE;
  return statvfs (path, &vfs) != 0 || (vfs.f_flag & ST_NOSUID) == 0;
}

int
weft_open_regular_file (const char *path)
{
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      errno = EINVAL;
      return -1;
    }
  return fd;
}

gboolean
weft_reach_check_file (const char   *path,
                       const char  **reason)
{
  struct stat st;
  int interp;
  int fd;

  fd = weft_open_regular_file (path);
  if (fd < 0)
    return FALSE;
  interp = fstat (fd, &st) == 0 ? elf_has_interp (fd) : -1;
  close (fd);
  if (interp < 0)
    return FALSE;   /* a script: its interpreter decides */
  if (interp == 0)
    *reason = WEFT_REACH_STATIC;
  else if (file_is_secure (path, &st))
    *reason = WEFT_REACH_SECURE;
  else
    *reason = NULL;
  return TRUE;
}
