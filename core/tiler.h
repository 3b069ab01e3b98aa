/* tiler.h — running a network over an image of any size, tile by tile.
 *
 * The image is read and written through callbacks, so an image in memory
 * and a GEGL buffer are just two adapters. Pixels cross the callbacks as
 * interleaved floats, row-major, n_channels per pixel:
 *   1 = Y', 2 = Y'A, 3 = R'G'B', 4 = R'G'B'A, values nominally in [0, 1].
 *
 * Each output tile is computed from the input area around it grown by the
 * network's tile margin (at most its reach rounded up to its alignment),
 * with edges mirrored (symmetric) where that area leaves the image; inside
 * the network each node computes only the part of that area that later
 * nodes read (see network.h), so the margin costs less and less towards
 * the output. The result is the same whatever the tile size: tiled output
 * equals whole-image output.
 * With more than one pass, each tile also goes through the network
 * mirrored left–right (2 passes), and top–bottom and both ways (4), and
 * the outputs, mirrored back, are averaged: the network's errors differ
 * between mirror images, so the mean is closer to the truth (about
 * 0.1 dB at σ 50, models/README.md) for that many times the work. The
 * tile and its margin mirror as a whole, keeping the down-sampling phase,
 * so tiled output still equals whole-image output.
 * Gray images go through a colour network as three equal channels and come
 * back as their mean; alpha is not given to the network: denoising copies
 * it, upscaling resizes it with bicubic.
 *
 * Threads each own their workspace and take tiles from a shared counter.
 * Callbacks are called with a lock held, one at a time, from any thread. */
#ifndef AENET_TILER_H
#define AENET_TILER_H

#include <glib.h>
#include "network.h"

G_BEGIN_DECLS

#define AENET_DEFAULT_MEMORY_BUDGET ((gsize)256 << 20)
#define AENET_MAX_PASSES 4 /* identity and the three mirrors */

typedef struct {
  int width, height; /* the whole input image */
  int n_channels;    /* 1 to 4, see above */
  /* Reads the input rectangle (always inside the image) into dst: h rows of
   * w * n_channels floats. */
  gboolean (*read)(void *user, int x, int y, int w, int h, float *dst, GError **error);
  /* Writes an output rectangle (in output coordinates, i.e. times the
   * network's scale): h rows of w * n_channels floats. */
  gboolean (*write)(void *user, int x, int y, int w, int h, const float *src, GError **error);
  void *user;
} AenetImageIO;

typedef struct {
  /* Input area to process (x, y, width, height); width 0 = whole image.
   * Pixels around it are read as context where the image has them. */
  int roi_x, roi_y, roi_width, roi_height;
  /* Largest tile edge in input pixels (tiles split the area evenly, so
   * they can come out smaller); 0 = the tiles within the budget that make
   * the least work (see aenet_tiler_plan). */
  int tile;
  int tile_height;             /* with tile > 0: largest tile height, tile is then the width */
  gsize memory_budget;         /* bytes for all threads' working memory; 0 = default */
  int n_threads;               /* 0 = number of cores */
  float noise_level;           /* sigma on the [0, 1] scale, for networks that take it */
  int passes;                  /* 1 to AENET_MAX_PASSES (see above); 0 = 1 */
  AenetConvKernel conv_kernel; /* how 3×3 convolutions run; 0 = Winograd */
  /* Called from the thread that called aenet_tiler_run after each tile is
   * written, with the fraction done. */
  void (*progress)(void *user, double fraction);
  void *progress_user;
  const volatile int *cancel; /* set non-zero (from anywhere) to stop; may be NULL */
} AenetTilerOptions;

/* Fills opt with defaults (everything zero, whole image). */
void aenet_tiler_options_init(AenetTilerOptions *opt);
/* How a run splits the area into tiles. Each tile is computed from the
 * input area around it, margin pixels wider on every side; every layer
 * of the network computes part of its neighbours' tiles too, so the work
 * done is `work` times the multiply-adds of the area alone. */
typedef struct {
  int tile_width, tile_height; /* input pixels, multiples of the alignment */
  int tiles_x, tiles_y;
  int margin;   /* input pixels read around each tile */
  gsize memory; /* bytes of working memory, all threads */
  double work;  /* multiply-adds of the tiles / of the area, ≥ 1 */
} AenetTilePlan;

/* The tiles the options give for this network and image. Without a tile
 * size, among the ways to cut the area into equal aligned tiles whose
 * working memory fits the budget, the one with the least work per thread:
 * rounds of tiles (tiles / threads, rounded up) times a tile's
 * multiply-adds. Wide or tall tiles can beat squares when they split the
 * area evenly. */
gboolean aenet_tiler_plan(const AenetNetwork *net, const AenetImageIO *io,
                          const AenetTilerOptions *opt, AenetTilePlan *plan, GError **error);
/* Working memory in bytes for a tile size, thread count and passes. */
gsize aenet_tiler_memory_for_tile(const AenetNetwork *net, int n_channels, int tile_width,
                                  int tile_height, int n_threads, int passes);
/* Runs the network over the image; FALSE with error set on failure,
 * AENET_ERROR_CANCELLED when stopped by the cancel flag. */
gboolean aenet_tiler_run(const AenetNetwork *net, const AenetImageIO *io,
                         const AenetTilerOptions *opt, GError **error);

/* The simple case: a whole image in memory, planar (c, h, w) with c = 1 or
 * 3 (no alpha); out is (c, h * scale, w * scale). roi options are ignored. */
gboolean aenet_tiler_run_planar(const AenetNetwork *net, const float *in, int c, int h, int w,
                                float *out, const AenetTilerOptions *opt, GError **error);

/* Pixel layout: copies the first n_keep channels of n_pixels interleaved
 * pixels (n_channels each) into planes, channel c at dst + c * dst_plane
 * (e.g. to drop alpha on the way to planar (c, h, w)). */
void aenet_pixels_deinterleave(float *dst, gsize dst_plane, const float *src, gsize n_pixels,
                               int n_channels, int n_keep);

G_END_DECLS

#endif
