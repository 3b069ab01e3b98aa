/* presets.c — the architectures we train and ship.
 *
 * Both families are U-Net style encoder–decoders that do most of their work
 * at low resolution: strided 3×3 convolutions go down, 1×1 convolutions with
 * pixel shuffle come back up, and skip connections add the encoder's
 * features to the decoder's. The network predicts a residual: denoisers add
 * it to the noisy input, upscalers to a bicubic enlargement. */
#include "config.h"

#include "presets.h"

#include "error.h"

#include <glib/gi18n-lib.h>
#include <string.h>

/* Appends nodes to a graph description and returns their indices. */
typedef struct {
  GString *json;
  int n;
} Graph;

static int G_GNUC_PRINTF(2, 3) graph_add(Graph *g, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_string_append(g->json, g->n == 0 ? "[\n  {" : ",\n  {");
  g_string_append_vprintf(g->json, fmt, ap);
  g_string_append(g->json, "}");
  va_end(ap);
  return g->n++;
}

static int
conv(Graph *g, int in, int out, int k, int stride)
{
  return graph_add(g, "\"op\": \"conv\", \"in\": [%d], \"out\": %d, \"k\": %d, \"stride\": %d", in,
                   out, k, stride);
}

static int
conv_relu(Graph *g, int in, int out, int stride)
{
  int c = conv(g, in, out, 3, stride);
  return graph_add(g, "\"op\": \"relu\", \"in\": [%d]", c);
}

/* Up one level: 1×1 conv to 4× channels, shuffle by 2, add the skip. */
static int
up_add(Graph *g, int in, int out, int skip)
{
  int c = conv(g, in, out * 4, 1, 1);
  int s = graph_add(g, "\"op\": \"shuffle\", \"in\": [%d], \"factor\": 2", c);
  return graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", s, skip);
}

/* Denoiser: input and noise-level map (none for a blind denoiser, which
 * finds the noise itself), unshuffled to half resolution, then three
 * levels: 1/2 of width w1 with 2 + extra convolutions on each side, 1/4 and
 * 1/8 of width 2w and 4w. */
static void
build_unet_denoise(Graph *g, int w1, int w, int extra, gboolean blind)
{
  int img = graph_add(g, "\"op\": \"input\", \"channels\": 3");
  int cat = img;
  if (!blind) {
    int sigma = graph_add(g, "\"op\": \"noise_level\"");
    cat = graph_add(g, "\"op\": \"concat\", \"in\": [%d, %d]", img, sigma);
  }
  int half = graph_add(g, "\"op\": \"unshuffle\", \"in\": [%d], \"factor\": 2", cat);
  int l1 = conv_relu(g, conv_relu(g, half, w1, 1), w1, 1);
  for (int i = 0; i < extra; i++)
    l1 = conv_relu(g, l1, w1, 1);
  int l2 = conv_relu(g, conv_relu(g, l1, 2 * w, 2), 2 * w, 1);
  int l3 = conv_relu(g, conv_relu(g, conv_relu(g, l2, 4 * w, 2), 4 * w, 1), 4 * w, 1);
  int u2 = conv_relu(g, up_add(g, l3, 2 * w, l2), 2 * w, 1);
  int u1 = conv_relu(g, up_add(g, u2, w1, l1), w1, 1);
  for (int i = 0; i < extra; i++)
    u1 = conv_relu(g, u1, w1, 1);
  int res = conv(g, u1, 3 * 4, 3, 1);
  int full = graph_add(g, "\"op\": \"shuffle\", \"in\": [%d], \"factor\": 2", res);
  graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", full, img);
}

/* Upscaler at low resolution: two levels (1, 1/2) of width w and 2w, then a
 * learned pixel-shuffle up-sampling added to bicubic. */
static void
build_unet_upscale(Graph *g, int w, int scale)
{
  int img = graph_add(g, "\"op\": \"input\", \"channels\": 3");
  int l1 = conv_relu(g, conv_relu(g, img, w, 1), w, 1);
  int l2 = conv_relu(g, conv_relu(g, conv_relu(g, l1, 2 * w, 2), 2 * w, 1), 2 * w, 1);
  int u1 = conv_relu(g, conv_relu(g, up_add(g, l2, w, l1), w, 1), w, 1);
  int res = conv(g, u1, 3 * scale * scale, 3, 1);
  int up = graph_add(g, "\"op\": \"shuffle\", \"in\": [%d], \"factor\": %d", res, scale);
  int bic = graph_add(g, "\"op\": \"bicubic\", \"in\": [%d], \"factor\": %d", img, scale);
  graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", up, bic);
}

static const AenetPreset presets[] = {
  { "unet-denoise", "denoise", 1,
    "colour denoiser for noise levels 0–50, U-Net at 1/2, 1/4, 1/8 resolution, width 48", 48, 48,
    0, FALSE },
  { "unet-denoise-deep", "denoise", 1,
    "unet-denoise with one more convolution on each side at 1/2 resolution", 48, 48, 1, FALSE },
  { "unet-denoise-wide", "denoise", 1, "unet-denoise with width 64 at 1/2 resolution", 64, 48, 0,
    FALSE },
  { "unet-denoise-small", "denoise", 1,
    "a faster, smaller colour denoiser (width 32) for tests and quick fine-tuning", 32, 32, 0,
    FALSE },
  { "unet-photo", "denoise", 1,
    "blind denoiser for photographs (camera noise, JPEG): unet-denoise-wide without a noise "
    "level",
    64, 48, 0, TRUE },
  { "unet-x2", "upscale", 2, "2× upscaler, U-Net at low resolution, width 64", 64, 64, 0, FALSE },
  { "unet-x3", "upscale", 3, "3× upscaler, U-Net at low resolution, width 64", 64, 64, 0, FALSE },
  { "unet-x4", "upscale", 4, "4× upscaler, U-Net at low resolution, width 64", 64, 64, 0, FALSE },
  { NULL },
};

const AenetPreset *
aenet_presets_get(void)
{
  return presets;
}

const AenetPreset *
aenet_preset_find(const char *name, GError **error)
{
  GString *names = g_string_new(NULL);
  for (const AenetPreset *p = presets; p->name != NULL; p++) {
    if (strcmp(p->name, name) == 0) {
      g_string_free(names, TRUE);
      return p;
    }
    g_string_append_printf(names, "%s%s", names->len ? ", " : "", p->name);
  }
  g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("unknown architecture “%s” (known: %s)"),
              name, names->str);
  g_string_free(names, TRUE);
  return NULL;
}

const AenetPreset *
aenet_preset_find_default(const char *task, int scale, GError **error)
{
  for (const AenetPreset *p = presets; p->name != NULL; p++)
    if (strcmp(p->task, task) == 0 && (strcmp(task, "denoise") == 0 || p->scale == scale))
      return p;
  g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
              _("no architecture for task “%s” at scale %d"), task, scale);
  return NULL;
}

char *
aenet_preset_build_graph(const AenetPreset *preset)
{
  Graph g = { g_string_new(NULL), 0 };
  if (preset->scale == 1)
    build_unet_denoise(&g, preset->width_first, preset->width, preset->extra, preset->blind);
  else
    build_unet_upscale(&g, preset->width, preset->scale);
  g_string_append(g.json, "\n]");
  return g_string_free(g.json, FALSE);
}
