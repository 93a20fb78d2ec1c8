/* weft-sched.c — the public face of the scheduling sources: dispatch to the
 * perf or /proc implementation, plus the helpers both use. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "weft-sched-private.h"

guint64
weft_sched_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static gboolean
parse_cpu_list (const char *text,
                GArray     *cpus)
{
  const char *p = text;

  while (*p != '\0' && *p != '\n')
    {
      char *end;
      long first, last;

      first = strtol (p, &end, 10);
      if (end == p || first < 0)
        return FALSE;
      last = first;
      p = end;
      if (*p == '-')
        {
          p++;
          last = strtol (p, &end, 10);
          if (end == p || last < first)
            return FALSE;
          p = end;
        }
      for (long cpu = first; cpu <= last; cpu++)
        {
          gint32 c = (gint32) cpu;
          g_array_append_val (cpus, c);
        }
      if (*p == ',')
        p++;
      else if (*p != '\0' && *p != '\n')
        return FALSE;
    }
  return cpus->len > 0;
}

GArray *
weft_sched_online_cpus (void)
{
  g_autofree char *text = NULL;
  GArray *cpus = g_array_new (FALSE, FALSE, sizeof (gint32));

  if (g_file_get_contents ("/sys/devices/system/cpu/online", &text, NULL, NULL) &&
      parse_cpu_list (text, cpus))
    return cpus;

  g_array_set_size (cpus, 0);
  for (gint32 cpu = 0; cpu < (gint32) MAX (1, sysconf (_SC_NPROCESSORS_ONLN)); cpu++)
    g_array_append_val (cpus, cpu);
  return cpus;
}

const char *
weft_sched_get_source (WeftSched *sched)
{
  g_return_val_if_fail (sched != NULL, NULL);

  return sched->klass->name;
}

guint64
weft_sched_get_period_ns (WeftSched *sched)
{
  g_return_val_if_fail (sched != NULL, 0);

  return sched->period_ns;
}

void
weft_sched_poll (WeftSched     *sched,
                 WeftSchedFunc  func,
                 gpointer       user_data)
{
  g_return_if_fail (sched != NULL);
  g_return_if_fail (func != NULL);

  if (sched->finished)
    return;
  sched->klass->poll (sched, func, user_data);
}

void
weft_sched_finish (WeftSched     *sched,
                   guint64        end_ns,
                   WeftSchedFunc  func,
                   gpointer       user_data)
{
  g_return_if_fail (sched != NULL);
  g_return_if_fail (func != NULL);

  /* A second finish would close the same slices twice. */
  if (sched->finished)
    return;
  sched->klass->finish (sched, end_ns, func, user_data);
  sched->finished = TRUE;
}

void
weft_sched_add_poll_fds (WeftSched *sched,
                         GArray    *pollfds)
{
  g_return_if_fail (sched != NULL);
  g_return_if_fail (pollfds != NULL);

  if (!sched->finished && sched->klass->add_poll_fds != NULL)
    sched->klass->add_poll_fds (sched, pollfds);
}

gboolean
weft_sched_covers (WeftSched *sched,
                   pid_t      pid)
{
  g_return_val_if_fail (sched != NULL, FALSE);

  return sched->klass->covers != NULL && sched->klass->covers (sched, pid);
}

guint64
weft_sched_get_lost (WeftSched *sched)
{
  g_return_val_if_fail (sched != NULL, 0);

  return sched->lost;
}

guint64
weft_sched_get_anomalies (WeftSched *sched)
{
  g_return_val_if_fail (sched != NULL, 0);

  return sched->anomalies;
}

void
weft_sched_free (WeftSched *sched)
{
  if (sched == NULL)
    return;
  sched->klass->free (sched);
}
