/* weft-renderer.c — prefer GSK's cairo renderer where OpenGL is software.
 *
 * GTK 4.8 draws with OpenGL wherever it can get a context. On a GPU that is
 * the fast path. Where the only OpenGL is Mesa's software rasterizer
 * (llvmpipe under Xvfb, VNC, most VMs and remote X servers), each frame is
 * re-rendered over the whole window in software, because those drivers
 * report no buffer age and GTK cannot redraw only what changed. The cairo
 * renderer does track damage, so while the user pans the timeline it draws
 * the timeline alone: bench-view measured p95 18.3 ms per frame with GL on
 * llvmpipe against 5.4 ms with cairo on the same trace. */
#include <epoxy/gl.h>
#include <string.h>

#include "weft-renderer.h"

/* What Mesa calls its software drivers in GL_RENDERER. */
static gboolean
renderer_is_software (const char *name)
{
  static const char * const software[] = {
    "llvmpipe", "softpipe", "Software Rasterizer", "swrast",
  };

  for (guint i = 0; i < G_N_ELEMENTS (software); i++)
    if (strstr (name, software[i]) != NULL)
      return TRUE;
  return FALSE;
}

/* GL_RENDERER of a context made on DISPLAY, or NULL without OpenGL. */
static char *
display_gl_renderer (GdkDisplay *display)
{
  g_autoptr(GdkGLContext) context = NULL;
  const char *name;
  char *copy;

  context = gdk_display_create_gl_context (display, NULL);
  if (context == NULL || !gdk_gl_context_realize (context, NULL))
    return NULL;
  gdk_gl_context_make_current (context);
  name = (const char *) glGetString (GL_RENDERER);
  copy = g_strdup (name);
  gdk_gl_context_clear_current ();
  return copy;
}

/* Sets GSK_RENDERER=cairo for the windows to come when the user has not set
 * GSK_RENDERER and DISPLAY's OpenGL is a software rasterizer. GSK reads the
 * variable once, when the first window is realized, so call this before.
 * Returns why it chose what it chose, for the benchmark to print. */
const char *
weft_renderer_choose (GdkDisplay *display)
{
  g_autofree char *gl = NULL;

  if (g_getenv ("GSK_RENDERER") != NULL)
    return "GSK_RENDERER set by the user";
  if (display == NULL || (gl = display_gl_renderer (display)) == NULL)
    return "no OpenGL: GTK's default";
  if (!renderer_is_software (gl))
    return "hardware OpenGL: GTK's default";
  g_setenv ("GSK_RENDERER", "cairo", TRUE);
  return "software OpenGL: cairo";
}
