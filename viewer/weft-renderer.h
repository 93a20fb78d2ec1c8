/* weft-renderer.h — which GSK renderer weft-view draws with. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

const char *weft_renderer_choose (GdkDisplay *display);

G_END_DECLS
