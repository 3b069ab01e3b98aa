/* presets.c — the architectures we train and ship.
 *
 * Both families are U-Net style encoder–decoders that do most of their work
 * at low resolution: strided 3×3 convolutions go down, 1×1 convolutions with
 * pixel shuffle come back up, and skip connections add the encoder's
 * features to the decoder's. The network predicts a residual: denoisers add
 * it to the noisy input, upscalers to a bicubic enlargement. The levels are
 * built of 3×3 convolutions with ReLUs, of NAFNet's blocks (denoisers) or
 * of EDSR's residual blocks (upscalers). */
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

/* x + scale · r, the scale learned per channel and starting at 0. */
static int
scaled_add(Graph *g, int x, int r)
{
  int s = graph_add(g, "\"op\": \"scale\", \"in\": [%d]", r);
  return graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", x, s);
}

/* gate (conv1 (layernorm (x)) to 2c), c channels. */
static int
norm_expand_gate(Graph *g, int x, int c, gboolean depthwise)
{
  int n = graph_add(g, "\"op\": \"layernorm\", \"in\": [%d]", x);
  int e = conv(g, n, 2 * c, 1, 1);
  if (depthwise)
    e = graph_add(g, "\"op\": \"dwconv\", \"in\": [%d], \"k\": 3", e);
  return graph_add(g, "\"op\": \"gate\", \"in\": [%d]", e);
}

/* A block of width c: a 3×3 convolution and a ReLU. */
static int
conv_relu_block(Graph *g, int x, int c)
{
  return conv_relu(g, x, c, 1);
}

/* NAFNet's block (Chen et al., "Simple Baselines for Image Restoration",
 * 2022) of width c, with pixel attention (a 1×1 conv, a sigmoid and a
 * product) where NAFNet has channel attention: that one averages over the
 * whole image, so tiles would differ from it. With a = gate (dwconv3
 * (conv1 (layernorm (x)) to 2c)),
 *   y = x + beta · conv1 (a · sigmoid (conv1 (a))),
 * then its feed-forward network,
 *   y + gamma · conv1 (gate (conv1 (layernorm (y)) to 2c)).
 * Each adds 7c² + 18c multiply-adds per pixel of its level. */
static int
naf_block(Graph *g, int x, int c)
{
  int a = norm_expand_gate(g, x, c, TRUE);
  int att = graph_add(g, "\"op\": \"sigmoid\", \"in\": [%d]", conv(g, a, c, 1, 1));
  int m = graph_add(g, "\"op\": \"mul\", \"in\": [%d, %d]", a, att);
  int y = scaled_add(g, x, conv(g, m, c, 1, 1));
  return scaled_add(g, y, conv(g, norm_expand_gate(g, y, c, FALSE), c, 1, 1));
}

/* EDSR's residual block (Lim et al., 2017) of width c, its scale learned
 * per channel from 0: x + scale · conv3 (relu (conv3 (x))). 18c²
 * multiply-adds per pixel of its level. */
static int
res_block(Graph *g, int x, int c)
{
  return scaled_add(g, x, conv(g, conv_relu(g, x, c, 1), c, 3, 1));
}

typedef int (*BlockFn)(Graph *g, int x, int c);

/* A 3×3 convolution into a level, with a ReLU in the plain U-Net; NAFNet's
 * have none, as its blocks normalise what they read. */
static int
level_conv(Graph *g, int in, int out, int stride, gboolean relu)
{
  return relu ? conv_relu(g, in, out, stride) : conv(g, in, out, 3, stride);
}

static int
blocks(Graph *g, BlockFn block, int x, int c, int count)
{
  for (int i = 0; i < count; i++)
    x = block(g, x, c);
  return x;
}

/* Denoiser: input and noise-level map (none for a blind denoiser, which
 * finds the noise itself), unshuffled to half resolution, a 3×3
 * convolution to width w1, then three levels: 1/2 of width w1, 1/4 and
 * 1/8 of width 2w and 4w, with the preset's count of blocks at each
 * (at 1/2 and 1/4 on the way down and again on the way up). */
static void
build_unet_denoise(Graph *g, const AenetPreset *p)
{
  int w1 = p->width_first, w = p->width;
  gboolean relu = p->block == AENET_BLOCK_CONV_RELU;
  BlockFn block = relu ? conv_relu_block : naf_block;
  int img = graph_add(g, "\"op\": \"input\", \"channels\": 3");
  int cat = img;
  if (!p->blind) {
    int sigma = graph_add(g, "\"op\": \"noise_level\"");
    cat = graph_add(g, "\"op\": \"concat\", \"in\": [%d, %d]", img, sigma);
  }
  int half = graph_add(g, "\"op\": \"unshuffle\", \"in\": [%d], \"factor\": 2", cat);
  int l1 = blocks(g, block, level_conv(g, half, w1, 1, relu), w1, p->blocks[0]);
  int l2 = blocks(g, block, level_conv(g, l1, 2 * w, 2, relu), 2 * w, p->blocks[1]);
  int l3 = blocks(g, block, level_conv(g, l2, 4 * w, 2, relu), 4 * w, p->blocks[2]);
  l3 = blocks(g, res_block, l3, 4 * w, p->deepest_res_blocks);
  int u2 = blocks(g, block, up_add(g, l3, 2 * w, l2), 2 * w, p->blocks[1]);
  int u1 = blocks(g, block, up_add(g, u2, w1, l1), w1, p->blocks[0]);
  int res = conv(g, u1, 3 * 4, 3, 1);
  int full = graph_add(g, "\"op\": \"shuffle\", \"in\": [%d], \"factor\": 2", res);
  graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", full, img);
}

/* Upscaler at low resolution, of 3×3 convolutions with ReLUs: two levels
 * (1, 1/2) of width width_first and 2 × width, then a learned
 * pixel-shuffle up-sampling added to bicubic. */
static void
build_unet_upscale(Graph *g, const AenetPreset *p)
{
  int w1 = p->width_first, w2 = 2 * p->width, scale = p->scale;
  int img = graph_add(g, "\"op\": \"input\", \"channels\": 3");
  int l1 = conv_relu(g, conv_relu(g, img, w1, 1), w1, 1);
  int l2 = conv_relu(g, conv_relu(g, conv_relu(g, l1, w2, 2), w2, 1), w2, 1);
  l2 = blocks(g, res_block, l2, w2, p->deepest_res_blocks);
  int u1 = conv_relu(g, conv_relu(g, up_add(g, l2, w1, l1), w1, 1), w1, 1);
  int res = conv(g, u1, 3 * scale * scale, 3, 1);
  int up = graph_add(g, "\"op\": \"shuffle\", \"in\": [%d], \"factor\": %d", res, scale);
  int bic = graph_add(g, "\"op\": \"bicubic\", \"in\": [%d], \"factor\": %d", img, scale);
  graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", up, bic);
}

/* Upscaler of residual blocks: a 3×3 convolution to width w, the preset's
 * count of blocks at the input's resolution; with blocks at 1/2 (width
 * 2w), a level there and the same count again at full resolution after
 * it; the long skip from the first convolution, then pixel shuffle added
 * to bicubic as above. */
static void
build_res_upscale(Graph *g, const AenetPreset *p)
{
  int w = p->width, s = p->scale;
  int img = graph_add(g, "\"op\": \"input\", \"channels\": 3");
  int head = conv(g, img, w, 3, 1);
  int x = blocks(g, res_block, head, w, p->blocks[0]);
  if (p->blocks[1] > 0) {
    int half = blocks(g, res_block, conv(g, x, 2 * w, 3, 2), 2 * w, p->blocks[1]);
    x = blocks(g, res_block, up_add(g, half, w, x), w, p->blocks[0]);
  }
  x = graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", conv(g, x, w, 3, 1), head);
  int res = conv(g, x, 3 * s * s, 3, 1);
  int up = graph_add(g, "\"op\": \"shuffle\", \"in\": [%d], \"factor\": %d", res, s);
  int bic = graph_add(g, "\"op\": \"bicubic\", \"in\": [%d], \"factor\": %d", img, s);
  graph_add(g, "\"op\": \"add\", \"in\": [%d, %d]", up, bic);
}

/* One row a preset, its fields named. */
/* clang-format off */
static const AenetPreset presets[] = {
  { .name = "unet-denoise", .task = "denoise", .scale = 1,
    .description = "colour denoiser for noise levels 0–50, U-Net at 1/2, 1/4, 1/8 resolution, "
                   "width 48",
    .width_first = 48, .width = 48, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 } },
  { .name = "unet-denoise-deep", .task = "denoise", .scale = 1,
    .description = "unet-denoise with one more convolution on each side at 1/2 resolution",
    .width_first = 48, .width = 48, .block = AENET_BLOCK_CONV_RELU, .blocks = { 2, 1, 2 } },
  { .name = "unet-denoise-wide", .task = "denoise", .scale = 1,
    .description = "unet-denoise with width 64 at 1/2 resolution",
    .width_first = 64, .width = 48, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 } },
  { .name = "unet-denoise-small", .task = "denoise", .scale = 1,
    .description = "a faster, smaller colour denoiser (width 32) for tests and quick fine-tuning",
    .width_first = 32, .width = 32, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 } },
  { .name = "unet-photo", .task = "denoise", .scale = 1,
    .description = "blind denoiser for photographs (camera noise, JPEG): unet-denoise-wide "
                   "without a noise level",
    .width_first = 64, .width = 48, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 },
    .blind = TRUE },
  /* Widened from unet-photo (--widen-from keeps what it computes), for
   * the capacity real photographs need: about twice the multiply-adds. */
  { .name = "unet-photo-wide", .task = "denoise", .scale = 1,
    .description = "blind denoiser for photographs: unet-photo with widths 96, 128, 256",
    .width_first = 96, .width = 64, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 },
    .blind = TRUE },
  /* Deepened from unet-photo-wide (--deepen-from) at 1/8, where it costs
   * least and sees farthest: the coarse noise that the photo model leaves
   * on real photos (models/README.md) needs a wider view. Reach ±45 → ±77
   * pixels for 37 % more multiply-adds. */
  { .name = "unet-photo-deep", .task = "denoise", .scale = 1,
    .description = "blind denoiser for photographs: unet-photo-wide with 2 residual blocks at "
                   "1/8 resolution",
    .width_first = 96, .width = 64, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 },
    .blind = TRUE, .deepest_res_blocks = 2 },
  /* Widened from unet-denoise-wide as unet-photo-wide was from
   * unet-photo: the capacity clipped files and issue 15's bars need. */
  { .name = "unet-denoise-wider", .task = "denoise", .scale = 1,
    .description = "unet-denoise-wide with widths 96, 128, 256",
    .width_first = 96, .width = 64, .block = AENET_BLOCK_CONV_RELU, .blocks = { 1, 1, 2 } },
  /* NAFNet's blocks at widths 64, 160, 320, most of them at 1/8 where
   * they cost least: 188 596 multiply-adds per pixel, 3.6 times
   * unet-denoise-wide's, within the 250 000 of issue #15. */
  { .name = "naf-denoise", .task = "denoise", .scale = 1,
    .description = "colour denoiser for noise levels 0–50 built of NAFNet's blocks, U-Net at 1/2, "
                   "1/4, 1/8 resolution, widths 64, 160, 320",
    .width_first = 64, .width = 80, .block = AENET_BLOCK_NAF, .blocks = { 2, 3, 6 } },
  { .name = "naf-photo", .task = "denoise", .scale = 1,
    .description = "blind denoiser for photographs (camera noise, JPEG): naf-denoise without a "
                   "noise level",
    .width_first = 64, .width = 80, .block = AENET_BLOCK_NAF, .blocks = { 2, 3, 6 },
    .blind = TRUE },
  { .name = "unet-x2", .task = "upscale", .scale = 2,
    .description = "2× upscaler, U-Net at low resolution, width 64",
    .width_first = 64, .width = 64 },
  { .name = "unet-x3", .task = "upscale", .scale = 3,
    .description = "3× upscaler, U-Net at low resolution, width 64",
    .width_first = 64, .width = 64 },
  { .name = "unet-x4", .task = "upscale", .scale = 4,
    .description = "4× upscaler, U-Net at low resolution, width 64",
    .width_first = 64, .width = 64 },
  /* unet-x2 deepened where it costs least, for issue 15's bars: grown
   * from the trained unet-x2 (--deepen-from), its reach ±11 → ±19 input
   * pixels for 1.67 times the multiply-adds. */
  { .name = "unet-deep-x2", .task = "upscale", .scale = 2,
    .description = "2× upscaler, unet-x2 with 2 residual blocks at 1/2 resolution",
    .width_first = 64, .width = 64, .deepest_res_blocks = 2 },
  /* unet-x2 widened where the detail is made, at the input's resolution
   * (--widen-from keeps what the trained unet-x2 computes), for issue
   * 15's bars, which depth added at 1/2 (unet-deep-x2) did not bring. */
  { .name = "unet-wide-x2", .task = "upscale", .scale = 2,
    .description = "2× upscaler, unet-x2 with width 96 at low resolution",
    .width_first = 96, .width = 64 },
  /* Residual blocks for issue 15's upscaler bars: about unet-x2's
   * multiply-adds (1.2 times) at full resolution only, and twice them with
   * a level at 1/2 for reach. */
  { .name = "res-x2", .task = "upscale", .scale = 2,
    .description = "2× upscaler of 3 residual blocks at low resolution, width 64",
    .width = 64, .block = AENET_BLOCK_RES, .blocks = { 3, 0 } },
  { .name = "unet-res-x2", .task = "upscale", .scale = 2,
    .description = "2× upscaler of residual blocks at low resolution and at 1/2, widths 64, 128",
    .width = 64, .block = AENET_BLOCK_RES, .blocks = { 1, 3 } },
  { NULL },
};
/* clang-format on */

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
    build_unet_denoise(&g, preset);
  else if (preset->width_first > 0) /* a U-Net's levels; res-x2's have one width */
    build_unet_upscale(&g, preset);
  else
    build_res_upscale(&g, preset);
  g_string_append(g.json, "\n]");
  return g_string_free(g.json, FALSE);
}
