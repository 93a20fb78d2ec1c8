/* bench-fastpath.c — what the agent costs a program that locks a lot.
 *
 *   bench-fastpath [--quick] [AGENT]
 *
 * Runs itself twice as a child, plain and with AGENT (default: $WEFT_AGENT)
 * preloaded into a fresh private session, and prints for each workload the
 * plain and traced figures and their ratio:
 *
 *   uncontended  ns per lock+unlock pair on one mutex, a second thread alive
 *                (budget: traced <= 2x plain)
 *   two-threads  wall time of two threads hammering one mutex
 *                (budget: traced <= 1.5x plain)
 *
 * It also reports events the traced run lost (budget: 0) by reading the
 * chunk files. Plain C, no GLib: the child must be a program the agent can
 * trace like any other.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft-wire.h"

extern char **environ;

static pthread_mutex_t bench_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t idle_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int idle_done;
static long shared_counter;
static long iterations;

static uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Keeps the process multi-threaded, as the budget says, without running. */
static void *
idle_thread (void *data)
{
  pthread_mutex_lock (&idle_mutex);
  while (!idle_done)
    pthread_cond_wait (&idle_cond, &idle_mutex);
  pthread_mutex_unlock (&idle_mutex);
  return NULL;
}

static double
run_uncontended (void)
{
  pthread_t idle;
  double best_ns = 1e30;

  pthread_create (&idle, NULL, idle_thread, NULL);
  for (int rep = 0; rep < 7; rep++)
    {
      uint64_t t0 = now_ns ();
      double ns;

      for (long i = 0; i < iterations; i++)
        {
          pthread_mutex_lock (&bench_mutex);
          pthread_mutex_unlock (&bench_mutex);
        }
      ns = (double) (now_ns () - t0) / (double) iterations;
      if (ns < best_ns)
        best_ns = ns;
    }
  pthread_mutex_lock (&idle_mutex);
  idle_done = 1;
  pthread_cond_signal (&idle_cond);
  pthread_mutex_unlock (&idle_mutex);
  pthread_join (idle, NULL);
  return best_ns;
}

static void *
hammer_thread (void *data)
{
  for (long i = 0; i < iterations; i++)
    {
      pthread_mutex_lock (&bench_mutex);
      shared_counter++;
      pthread_mutex_unlock (&bench_mutex);
    }
  return NULL;
}

static double
run_two_threads (void)
{
  double best_ms = 1e30;

  for (int rep = 0; rep < 5; rep++)
    {
      pthread_t a, b;
      uint64_t t0 = now_ns ();
      double ms;

      pthread_create (&a, NULL, hammer_thread, NULL);
      pthread_create (&b, NULL, hammer_thread, NULL);
      pthread_join (a, NULL);
      pthread_join (b, NULL);
      ms = (double) (now_ns () - t0) / 1e6;
      if (ms < best_ms)
        best_ms = ms;
    }
  return best_ms;
}

/* Child mode: one workload, result on stdout. */
static int
child_main (const char *workload)
{
  if (strcmp (workload, "uncontended") == 0)
    printf ("%.3f\n", run_uncontended ());
  else
    printf ("%.3f\n", run_two_threads ());
  return 0;
}

static char *
make_session (void)
{
  char *dir = strdup ("/dev/shm/weft-bench-XXXXXX");
  WeftWireSession s = { 0 };
  int fd;

  if (mkdtemp (dir) == NULL)
    return NULL;
  s.magic = WEFT_WIRE_SESSION_MAGIC;
  s.version = WEFT_WIRE_VERSION;
  s.slot_count = 16;
  s.ring_bytes = 4u << 20;
  s.start_ns = now_ns ();
  s.collector_pid = 0;
  {
    char path[512];

    snprintf (path, sizeof path, "%s/session", dir);
    fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write (fd, &s, sizeof s) != sizeof s)
      return NULL;
    close (fd);
  }
  return dir;
}

/* Sum of lost events (process-wide and per slot) over the session's chunks. */
static uint64_t
session_lost (const char *dir)
{
  char pattern[512];
  glob_t g;
  uint64_t lost = 0;

  snprintf (pattern, sizeof pattern, "%s/*.chunk", dir);
  if (glob (pattern, 0, NULL, &g) != 0)
    return 0;
  for (size_t i = 0; i < g.gl_pathc; i++)
    {
      int fd = open (g.gl_pathv[i], O_RDONLY);
      struct stat st;
      const uint8_t *map;
      const WeftWireChunk *c;

      if (fd < 0 || fstat (fd, &st) != 0)
        continue;
      map = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
      close (fd);
      if (map == MAP_FAILED)
        continue;
      c = (const WeftWireChunk *) map;
      lost += c->lost_events;
      for (uint32_t s = 0; s < c->slot_count; s++)
        lost += ((const WeftWireSlot *) (map + weft_wire_slot_offset (c->header_bytes, c->slot_bytes, s)))->lost_events;
      munmap ((void *) map, (size_t) st.st_size);
      unlink (g.gl_pathv[i]);
    }
  globfree (&g);
  return lost;
}

static double
run_child (const char *self,
           const char *workload,
           const char *iters,
           const char *agent,
           const char *session)
{
  char *argv[] = { (char *) self, "--child", (char *) workload, (char *) iters, NULL };
  char *envp[8];
  char preload[4096], sess[4096];
  int n = 0, pipefd[2], status;
  posix_spawn_file_actions_t fa;
  pid_t pid;
  char buf[64] = { 0 };
  ssize_t got;

  if (agent != NULL)
    {
      snprintf (preload, sizeof preload, "LD_PRELOAD=%s", agent);
      snprintf (sess, sizeof sess, "WEFT_SESSION=%s", session);
      envp[n++] = preload;
      envp[n++] = sess;
    }
  envp[n] = NULL;
  if (pipe (pipefd) != 0)
    return -1;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, pipefd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose (&fa, pipefd[0]);
  if (posix_spawn (&pid, self, &fa, NULL, argv, envp) != 0)
    return -1;
  close (pipefd[1]);
  got = read (pipefd[0], buf, sizeof buf - 1);
  close (pipefd[0]);
  waitpid (pid, &status, 0);
  if (got <= 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return -1;
  return strtod (buf, NULL);
}

int
main (int    argc,
      char **argv)
{
  const char *agent = getenv ("WEFT_AGENT");
  const char *iters = "2000000";
  const char *workloads[] = { "uncontended", "two-threads" };
  const char *units[] = { "ns/pair", "ms" };
  const double budget[] = { 2.0, 1.5 };
  char *session;
  char self[4096];
  ssize_t len;
  int failed = 0;

  if (argc >= 4 && strcmp (argv[1], "--child") == 0)
    {
      iterations = atol (argv[3]);
      return child_main (argv[2]);
    }
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--quick") == 0)
        iters = "100000";
      else
        agent = argv[i];
    }
  if (agent == NULL)
    {
      fprintf (stderr, "usage: bench-fastpath [--quick] AGENT (or set WEFT_AGENT)\n");
      return 2;
    }
  len = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0)
    return 2;
  self[len] = '\0';

  session = make_session ();
  if (session == NULL)
    {
      fprintf (stderr, "bench-fastpath: cannot create a session in /dev/shm\n");
      return 2;
    }
  for (size_t w = 0; w < 2; w++)
    {
      double plain = run_child (self, workloads[w], iters, NULL, NULL);
      double traced = run_child (self, workloads[w], iters, agent, session);

      if (plain <= 0 || traced <= 0)
        {
          fprintf (stderr, "bench-fastpath: %s: a child failed\n", workloads[w]);
          failed = 1;
          continue;
        }
      printf ("%-12s plain %9.3f %s  traced %9.3f %s  ratio %.2f (budget %.1f)\n",
              workloads[w], plain, units[w], traced, units[w], traced / plain, budget[w]);
    }
  printf ("lost events: %llu (budget 0)\n", (unsigned long long) session_lost (session));
  {
    char path[512];

    snprintf (path, sizeof path, "%s/session", session);
    unlink (path);
    rmdir (session);
  }
  free (session);
  return failed;
}
