/* close-fds — a program that closes every descriptor it did not open
 * itself, as daemons and careful spawners do, then opens its own and
 * carries on.
 *
 * Usage: close-fds [STATUS=5]
 *
 * `main` makes the thread `before` wait once for a mutex it holds (a
 * contended wait, see sample.h). Then it closes everything: close_range (3,
 * ~0U, 0), and close() of every descriptor 0…1023 except stdout and stderr.
 * Whatever the agent (or a library it uses) kept open is gone now, and the
 * program opens two pipes of its own, which take the lowest numbers (0, 3,
 * 4, 5: the numbers a library may still believe are its own), and puts a
 * message in each. Then two new threads, `after-1` and `after-2`, each wait
 * once more for the mutex held by `main`.
 *
 * At the end it checks its pipes: every descriptor still open on the same
 * pipe end, each message there untouched, nothing else in the pipes. If not,
 * it says what changed on stderr and exits 1; else it exits with STATUS. It
 * also counts the descriptors open at the end that are not its own (nor
 * stdout, stderr): what a library opened since and left behind.
 *
 * The trace must show: contended_waits 'mutex' waits, one by each of
 * `before`, `after-1` and `after-2`, with holder `main`; threads threads;
 * exit status STATUS; nothing lost.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "sample.h"

#define MESSAGE "weft!\n"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct
{
  const char *name;
  pid_t       tid;
  atomic_int  announced;
  atomic_int  done;
} Waiter;

typedef struct
{
  int   fd;
  ino_t inode;
  int   access;                     /* O_RDONLY or O_WRONLY */
} OwnFd;

static __attribute__((noinline)) void *
waiter_main (void *data)
{
  Waiter *self = data;

  sample_name_self (self->name);
  self->tid = gettid ();
  sample_announce (&self->announced);
  pthread_mutex_lock (&lock);                     /* blocks: main holds it */
  pthread_mutex_unlock (&lock);
  atomic_store (&self->done, 1);
  return NULL;
}

/* A new thread waits once for the mutex that main holds. */
static int
contend_once (const char *name)
{
  Waiter waiter = { .name = name };
  pthread_t thread;

  pthread_mutex_lock (&lock);
  if (pthread_create (&thread, NULL, waiter_main, &waiter) != 0)
    return 0;
  while (atomic_load (&waiter.announced) == 0)
    sample_sleep_ms (1);
  sample_await_blocked (waiter.tid, &waiter.announced, &waiter.done);
  pthread_mutex_unlock (&lock);
  pthread_join (thread, NULL);
  return 1;
}

/* Descriptors open other than stdout, stderr and the one that lists them;
 * each one is described on stderr. */
static int
count_open_fds (const char *when)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  int n = 0;

  if (dir == NULL)
    return -1;
  while ((entry = readdir (dir)) != NULL)
    {
      int fd = atoi (entry->d_name);
      char path[64], target[256];
      ssize_t len;

      if (entry->d_name[0] == '.' || fd == 1 || fd == 2 || fd == dirfd (dir))
        continue;
      n++;
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      len = readlink (path, target, sizeof target - 1);
      target[len > 0 ? len : 0] = '\0';
      fprintf (stderr, "close-fds: %s, descriptor %d is open: %s\n", when, fd, target);
    }
  closedir (dir);
  return n;
}

static int
own_fd_note (OwnFd *own)
{
  struct stat st;
  int flags = fcntl (own->fd, F_GETFL);

  if (flags < 0 || fstat (own->fd, &st) != 0)
    return 0;
  own->inode = st.st_ino;
  own->access = flags & O_ACCMODE;
  return 1;
}

/* Two pipes with MESSAGE in each; own[] gets their four ends. */
static int
open_own_pipes (OwnFd own[4])
{
  int a[2], b[2];

  if (pipe2 (a, O_NONBLOCK) != 0 || pipe2 (b, O_NONBLOCK) != 0)
    return 0;
  own[0].fd = a[0], own[1].fd = a[1], own[2].fd = b[0], own[3].fd = b[1];
  for (int i = 0; i < 4; i++)
    if (!own_fd_note (&own[i]))
      return 0;
  return write (a[1], MESSAGE, strlen (MESSAGE)) == (ssize_t) strlen (MESSAGE)
         && write (b[1], MESSAGE, strlen (MESSAGE)) == (ssize_t) strlen (MESSAGE);
}

/* Whether the four ends are as they were and each pipe holds MESSAGE only. */
static int
own_pipes_intact (OwnFd own[4])
{
  int intact = 1;

  for (int i = 0; i < 4; i++)
    {
      OwnFd now = { .fd = own[i].fd };

      if (!own_fd_note (&now) || now.inode != own[i].inode || now.access != own[i].access)
        {
          fprintf (stderr, "close-fds: descriptor %d is no longer the pipe end it opened\n",
                   own[i].fd);
          intact = 0;
        }
    }
  for (int i = 0; i < 4 && intact; i += 2)
    {
      char buf[64];
      ssize_t n = read (own[i].fd, buf, sizeof buf);

      if (n != (ssize_t) strlen (MESSAGE) || memcmp (buf, MESSAGE, n) != 0)
        {
          fprintf (stderr, "close-fds: the pipe read at descriptor %d held %zd bytes, not '%s'\n",
                   own[i].fd, n, "weft!\\n");
          intact = 0;
        }
    }
  return intact;
}

int
main (int    argc,
      char **argv)
{
  long status = sample_arg (argc, argv, 1, 5, 0, 255, "[STATUS=5]");
  int waits = 0, open_before, closed = 0, intact, foreign;
  OwnFd own[4];

  sample_name_self ("main");
  waits += contend_once ("before");

  fflush (stdout);
  open_before = count_open_fds ("before closing");
  if (close_range (3, ~0U, 0) != 0)
    perror ("close_range");
  for (int fd = 0; fd < 1024; fd++)
    if (fd != STDOUT_FILENO && fd != STDERR_FILENO && close (fd) == 0)
      closed++;
  if (!open_own_pipes (own))
    {
      perror ("pipe");
      return 1;
    }

  waits += contend_once ("after-1");
  waits += contend_once ("after-2");
  intact = own_pipes_intact (own);
  foreign = count_open_fds ("at the end") - 4;

  printf ("expect threads 4\n");
  printf ("expect contended_waits %d\n", waits);
  printf ("expect open_fds_before %d\n", open_before);
  printf ("expect closed_by_loop %d\n", closed);
  printf ("expect own_fds %d %d %d %d\n", own[0].fd, own[1].fd, own[2].fd, own[3].fd);
  printf ("expect own_fds_intact %d\n", intact);
  printf ("expect foreign_fds_at_end %d\n", foreign);
  printf ("expect exit_status %ld\n", intact ? status : 1);
  printf ("Closed every descriptor but stdout and stderr, opened its own, then took %d"
          " contended locks.\n", waits);
  return intact ? (int) status : 1;
}
