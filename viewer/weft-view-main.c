/* weft-view-main.c — `weft-view [--screenshot OUT.png] [FILE]`. */
#include <locale.h>

#include "weft-application.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(WeftApplication) app = NULL;
  int status;

  setlocale (LC_ALL, "");
  app = weft_application_new ();
  status = g_application_run (G_APPLICATION (app), argc, argv);
  return status != 0 ? status : weft_application_get_exit_status (app);
}
