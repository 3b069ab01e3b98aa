/* tiler.c — overlapping tiles through a network, stitched without seams.
 *
 * A tile's output rectangle [x0, x0 + Tw) × [y0, y0 + Th) is computed by a
 * tile workspace (network.h) from the input rectangle grown by the
 * network's tile margin on every side: each node of the network computes
 * its output over the tile grown by only what later nodes read of it, so
 * the overlap between tiles is paid in full by the first layers alone and
 * shrinks towards the output. Tile origins differ by multiples of Tw and
 * Th (themselves multiples of the alignment), so every tile sees the same
 * down-sampling phase, and every output pixel depends on the same input
 * pixels as in the whole image: the stitched result does not depend on
 * the tile size (up to rounding, since Winograd convolutions round
 * differently at different positions in their 4×4 tiles). Outside the
 * image, coordinates are mirrored (half-sample symmetric).
 *
 * Per-thread buffers (input region as read, the network's planar input,
 * the output tile, alpha for upscaling) are sized once per run. */
#include "config.h"

#include "tiler.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "error.h"
#include "resize.h"

/* Half-sample symmetric mirror of x into [0, n). */
static int
mirror(int x, int n)
{
  int period = 2 * n;
  int m = x % period;
  if (m < 0)
    m += period;
  return m < n ? m : period - 1 - m;
}

static int
round_up(int x, int a)
{
  return (x + a - 1) / a * a;
}

typedef struct {
  int scale, align;
  int margin; /* input pixels the network reads around a tile */
  int pad;    /* input pixels read around a tile: the margin, or what alpha's upscaling needs */
  int cin;    /* network channels, 1 or 3 */
  int cout;   /* network output channels */
  int nc;     /* image channels, 1 to 4 */
  gboolean alpha;
  int color;  /* nc without alpha */
  int passes; /* 1 to AENET_MAX_PASSES */
} Geometry;

static void
geometry_init(Geometry *g, const AenetNetwork *net, int n_channels, int passes)
{
  g->scale = aenet_network_get_scale(net);
  g->align = aenet_network_get_alignment(net);
  g->margin = aenet_network_get_tile_margin(net);
  /* Alpha is upscaled by bicubic, which reaches 3. */
  g->pad = g->scale > 1 ? MAX(g->margin, 3) : g->margin;
  g->cin = aenet_network_get_in_channels(net);
  g->cout = aenet_network_get_out_channels(net);
  g->nc = n_channels;
  g->alpha = n_channels == 2 || n_channels == 4;
  g->color = n_channels - g->alpha;
  g->passes = CLAMP(passes, 1, AENET_MAX_PASSES);
}

/* What each thread needs besides the network's workspace, for tiles read
 * with sides of side = tile + 2 pad. */
typedef struct {
  float *region; /* (side, side, nc) interleaved, as read (mirrored box first) */
  float *out;    /* (tile*s, tile*s, nc) interleaved, where region was: written after it is read */
  float *input;  /* (cin, tile + 2 margin, tile + 2 margin) planar network input */
  float *alpha_in, *alpha_up, *resize_scratch; /* (side, side), (side*s, side*s) */
  float *sum; /* (cout, tile*s, tile*s): the passes' outputs added up; NULL for one pass */
} ThreadBuffers;

/* Lays the buffers out from base, or with base NULL only counts them;
 * returns their floats. */
static gsize
thread_buffers_layout(ThreadBuffers *b, float *base, const Geometry *g, int tile_w, int tile_h)
{
  gsize side_w = tile_w + 2 * g->pad, side_h = tile_h + 2 * g->pad;
  gsize region = side_w * side_h;
  gsize out = (gsize)tile_w * g->scale * tile_h * g->scale;
  gsize n_region = MAX(region, out) * g->nc;
  gsize n_input = (gsize)(tile_w + 2 * g->margin) * (tile_h + 2 * g->margin) * g->cin;
  gsize n_alpha = g->alpha ? region : 0;
  gsize n_up = g->alpha && g->scale > 1 ? region * g->scale * g->scale : 0;
  gsize n_scratch = n_up > 0 ? aenet_resize_scratch_size(1, side_h, side_w, side_h * g->scale,
                                                         side_w * g->scale)
                             : 0;
  gsize n_sum = g->passes > 1 ? out * g->cout : 0;
  if (base != NULL) {
    b->region = b->out = base;
    b->input = base + n_region;
    b->alpha_in = n_alpha > 0 ? b->input + n_input : NULL;
    b->alpha_up = n_up > 0 ? b->input + n_input + n_alpha : NULL;
    b->resize_scratch = n_up > 0 ? b->alpha_up + n_up : NULL;
    b->sum = n_sum > 0 ? b->input + n_input + n_alpha + n_up + n_scratch : NULL;
  }
  return n_region + n_input + n_alpha + n_up + n_scratch + n_sum;
}

static gsize
memory_for_tile(const AenetNetwork *net, const Geometry *g, int tile_w, int tile_h, int n_threads)
{
  return (gsize)MAX(n_threads, 1)
         * (aenet_workspace_tile_size(net, tile_h, tile_w)
            + thread_buffers_layout(NULL, NULL, g, tile_w, tile_h) * sizeof(float));
}

gsize
aenet_tiler_memory_for_tile(const AenetNetwork *net, int n_channels, int tile_width,
                            int tile_height, int n_threads, int passes)
{
  Geometry g;
  geometry_init(&g, net, n_channels, passes);
  return memory_for_tile(net, &g, round_up(MAX(tile_width, 1), g.align),
                         round_up(MAX(tile_height, 1), g.align), n_threads);
}

void
aenet_tiler_options_init(AenetTilerOptions *opt)
{
  memset(opt, 0, sizeof *opt);
}

static int
resolve_threads(const AenetTilerOptions *opt)
{
  return opt->n_threads > 0 ? opt->n_threads : (int)g_get_num_processors();
}

static gboolean
resolve_roi(const AenetImageIO *io, const AenetTilerOptions *opt, int roi[4], GError **error)
{
  if (io->width <= 0 || io->height <= 0 || io->n_channels < 1 || io->n_channels > 4) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("the image is empty or has an unsupported layout (%d × %d, %d channels)"),
                io->width, io->height, io->n_channels);
    return FALSE;
  }
  if (opt->roi_width == 0) {
    roi[0] = roi[1] = 0;
    roi[2] = io->width;
    roi[3] = io->height;
    return TRUE;
  }
  roi[0] = opt->roi_x;
  roi[1] = opt->roi_y;
  roi[2] = opt->roi_width;
  roi[3] = opt->roi_height;
  if (roi[0] < 0 || roi[1] < 0 || roi[2] <= 0 || roi[3] <= 0 || roi[0] + roi[2] > io->width
      || roi[1] + roi[3] > io->height) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                /* TRANSLATORS: the area is given as (x, y, width × height), the image as width ×
                   height, in pixels. */
                _("the area to process (%d, %d, %d × %d) is empty or outside the %d × %d image"),
                roi[0], roi[1], roi[2], roi[3], io->width, io->height);
    return FALSE;
  }
  return TRUE;
}

/* The tile grid starts on a multiple of the alignment at or before the
 * region, so every tile sees the down-sampling phase of the whole image;
 * grid = (x, y, width, height). */
static void
grid_from_roi(const int roi[4], int align, int grid[4])
{
  grid[0] = roi[0] / align * align;
  grid[1] = roi[1] / align * align;
  grid[2] = roi[0] + roi[2] - grid[0];
  grid[3] = roi[1] + roi[3] - grid[1];
}

/* Equal tiles along one axis of n pixels: the tile size for k tiles. */
static int
split(int n, int k, int align)
{
  return round_up((n + k - 1) / k, align);
}

/* Fills plan->tile_* and tiles_* for tiles of at most cap_w × cap_h,
 * as even as the grid allows: an image 1.1 tiles wide gets two tiles of
 * 0.55, not one and a sliver. */
static void
plan_capped(AenetTilePlan *plan, const int grid[4], int cap_w, int cap_h, int align)
{
  plan->tiles_x = (grid[2] + cap_w - 1) / cap_w;
  plan->tiles_y = (grid[3] + cap_h - 1) / cap_h;
  plan->tile_width = MIN(cap_w, split(grid[2], plan->tiles_x, align));
  plan->tile_height = MIN(cap_h, split(grid[3], plan->tiles_y, align));
}

/* Work per thread of a plan, in multiply-adds: rounds of tiles times a
 * tile's. */
static double
plan_cost(const AenetTilePlan *p, const AenetNetwork *net, int threads)
{
  int n = p->tiles_x * p->tiles_y;
  return (double)((n + threads - 1) / threads)
         * aenet_network_get_tile_macs(net, p->tile_height, p->tile_width);
}

/* Searches tiles_x; for each, the fewest rows of tiles that fit the budget
 * and a few more (more rows can even out the rounds of threads). */
static gboolean
plan_within_budget(AenetTilePlan *best, const AenetNetwork *net, const Geometry *g,
                   const int grid[4], int threads, gsize budget)
{
  int max_x = (grid[2] + g->align - 1) / g->align, max_y = (grid[3] + g->align - 1) / g->align;
  double best_cost = -1;
  int last_w = -1;
  for (int nx = 1; nx <= max_x; nx++) {
    int tw = split(grid[2], nx, g->align);
    if (tw == last_w)
      continue; /* same tiles as the previous count */
    last_w = tw;
    if (memory_for_tile(net, g, tw, split(grid[3], max_y, g->align), threads) > budget)
      continue; /* too wide even for the flattest tiles */
    /* The fewest rows that fit: memory grows with the tile height. */
    int lo = 1, hi = max_y;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (memory_for_tile(net, g, tw, split(grid[3], mid, g->align), threads) <= budget)
        hi = mid;
      else
        lo = mid + 1;
    }
    for (int ny = lo; ny <= MIN(max_y, lo + threads); ny++) {
      AenetTilePlan p;
      plan_capped(&p, grid, tw, split(grid[3], ny, g->align), g->align);
      double cost = plan_cost(&p, net, threads);
      if (best_cost < 0 || cost < best_cost) {
        best_cost = cost;
        *best = p;
      }
    }
  }
  return best_cost >= 0;
}

static gboolean
plan_tiles(AenetTilePlan *plan, const AenetNetwork *net, const AenetImageIO *io,
           const AenetTilerOptions *opt, const int roi[4], GError **error)
{
  Geometry g;
  geometry_init(&g, net, io->n_channels, opt->passes);
  int threads = resolve_threads(opt);
  int grid[4];
  grid_from_roi(roi, g.align, grid);
  if (opt->tile > 0) {
    int cap_w = round_up(opt->tile, g.align);
    int cap_h = round_up(opt->tile_height > 0 ? opt->tile_height : opt->tile, g.align);
    plan_capped(plan, grid, cap_w, cap_h, g.align);
  } else {
    gsize budget = opt->memory_budget ? opt->memory_budget : AENET_DEFAULT_MEMORY_BUDGET;
    if (!plan_within_budget(plan, net, &g, grid, threads, budget)) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                  _("a memory budget of %zu MiB is too small for this model with %d threads "
                    "(it needs at least %zu MiB)"),
                  budget >> 20, threads,
                  (memory_for_tile(net, &g, g.align, g.align, threads) >> 20) + 1);
      return FALSE;
    }
  }
  plan->margin = g.pad;
  plan->memory = memory_for_tile(net, &g, plan->tile_width, plan->tile_height,
                                 MIN(threads, plan->tiles_x * plan->tiles_y));
  double nominal = aenet_network_get_macs_per_pixel(net) * roi[2] * roi[3];
  plan->work = nominal > 0
                   ? plan->tiles_x * plan->tiles_y
                         * aenet_network_get_tile_macs(net, plan->tile_height, plan->tile_width)
                         / nominal
                   : 1.0; /* nothing to count */
  return TRUE;
}

gboolean
aenet_tiler_plan(const AenetNetwork *net, const AenetImageIO *io, const AenetTilerOptions *opt,
                 AenetTilePlan *plan, GError **error)
{
  int roi[4];
  AenetTilerOptions defaults;
  if (opt == NULL) {
    aenet_tiler_options_init(&defaults);
    opt = &defaults;
  }
  return resolve_roi(io, opt, roi, error) && plan_tiles(plan, net, io, opt, roi, error);
}

/* ---- running ---------------------------------------------------------- */

typedef struct {
  const AenetNetwork *net;
  const AenetImageIO *io;
  const AenetTilerOptions *opt;
  Geometry g;
  int roi[4], grid[4];
  int tile_w, tile_h, tiles_x, n_tiles;

  GMutex lock; /* guards the callbacks and everything below */
  GCond changed;
  int next_tile, tiles_done, threads_running;
  GError *error;
} Run;

typedef struct {
  Run *run;
  AenetWorkspace *ws;
  float *memory; /* for b */
  ThreadBuffers b;
} Worker;

static gboolean
cancelled(const Run *run)
{
  return run->opt->cancel != NULL && *run->opt->cancel != 0;
}

/* Reads the input rectangle at (sx, sy), side_w × side_h, with mirrored
 * edges and fills w->b.input (planar, the part the network reads) and, with
 * alpha, w->b.alpha_in. */
static gboolean
read_region(Worker *w, int sx, int sy, int side_w, int side_h, GError **error)
{
  Run *run = w->run;
  const Geometry *g = &run->g;
  const AenetImageIO *io = run->io;
  /* The mirror of an interval is an interval no longer than it, so the
   * source box fits in a side_w × side_h buffer. */
  int bx0 = G_MAXINT, bx1 = -1, by0 = G_MAXINT, by1 = -1;
  for (int i = 0; i < side_w; i++) {
    int mx = mirror(sx + i, io->width);
    bx0 = MIN(bx0, mx), bx1 = MAX(bx1, mx);
  }
  for (int i = 0; i < side_h; i++) {
    int my = mirror(sy + i, io->height);
    by0 = MIN(by0, my), by1 = MAX(by1, my);
  }
  int bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
  g_mutex_lock(&run->lock);
  gboolean ok = io->read(io->user, bx0, by0, bw, bh, w->b.region, error);
  g_mutex_unlock(&run->lock);
  if (!ok)
    return FALSE;

  int nc = g->nc;
  int skip = g->pad - g->margin; /* pixels on each side that only alpha needs */
  int in_w = side_w - 2 * skip;
  gsize plane = (gsize)in_w * (side_h - 2 * skip);
  for (int y = 0; y < side_h; y++) {
    const float *row = w->b.region + (gsize)(mirror(sy + y, io->height) - by0) * bw * nc;
    for (int x = 0; x < side_w; x++) {
      const float *px = row + (gsize)(mirror(sx + x, io->width) - bx0) * nc;
      if (w->b.alpha_in != NULL)
        w->b.alpha_in[(gsize)y * side_w + x] = px[nc - 1];
      if (y < skip || y >= side_h - skip || x < skip || x >= side_w - skip)
        continue;
      gsize o = (gsize)(y - skip) * in_w + x - skip;
      if (g->cin == 3)
        for (int c = 0; c < 3; c++)
          w->b.input[c * plane + o] = px[g->color == 3 ? c : 0];
      else /* a gray network sees the mean of the colour channels */
        w->b.input[o] = g->color == 3 ? (px[0] + px[1] + px[2]) / 3.0f : px[0];
    }
  }
  return TRUE;
}

/* Converts the network's output for the part of a tile that lies in the
 * region, tw × th input pixels at (dx, dy) in the tile, into w->b.out
 * (interleaved image channels). */
static void
gather_output(Worker *w, const float *net_out, int dx, int dy, int tw, int th, int side_w)
{
  const Run *run = w->run;
  const Geometry *g = &run->g;
  int s = g->scale, nc = g->nc;
  int ow = tw * s, oh = th * s;
  int tile_ow = run->tile_w * s; /* the network's output is the whole tile */
  gsize oplane = (gsize)tile_ow * run->tile_h * s;
  int aside_w = side_w * s, aoffx = (g->pad + dx) * s, aoffy = (g->pad + dy) * s; /* alpha's */
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      gsize o = (gsize)(y + dy * s) * tile_ow + x + dx * s;
      gsize ao = (gsize)(y + aoffy) * aside_w + x + aoffx;
      float *px = w->b.out + ((gsize)y * ow + x) * nc;
      if (g->color == 3)
        for (int c = 0; c < 3; c++)
          px[c] = net_out[(g->cin == 3 ? c : 0) * oplane + o];
      else
        px[0] = g->cin == 3 ? (net_out[o] + net_out[oplane + o] + net_out[2 * oplane + o]) / 3.0f
                            : net_out[o];
      if (!g->alpha)
        continue;
      /* Denoising leaves alpha as it was; upscaling resizes it. */
      px[nc - 1] = s == 1 ? w->b.alpha_in[ao] : w->b.alpha_up[ao];
    }
}

/* Mirrors each of n planes of h × w in place: left–right, top–bottom or
 * both. */
static void
mirror_planes(float *planes, int n, int h, int w, gboolean flip_x, gboolean flip_y)
{
  for (int c = 0; c < n; c++) {
    float *p = planes + (gsize)c * h * w;
    if (flip_y)
      for (int y = 0; y < h / 2; y++) {
        float *a = p + (gsize)y * w, *b = p + (gsize)(h - 1 - y) * w;
        for (int x = 0; x < w; x++) {
          float t = a[x];
          a[x] = b[x];
          b[x] = t;
        }
      }
    if (flip_x)
      for (int y = 0; y < h; y++) {
        float *row = p + (gsize)y * w;
        for (int x = 0; x < w / 2; x++) {
          float t = row[x];
          row[x] = row[w - 1 - x];
          row[w - 1 - x] = t;
        }
      }
  }
}

/* The mirroring pass p sees: left–right for p = 1, 2, top–bottom for
 * p = 2, 3, so each pass is one mirroring away from the last. */
static gboolean
pass_mirrors_x(int p)
{
  return p == 1 || p == 2;
}

static gboolean
pass_mirrors_y(int p)
{
  return p >= 2;
}

/* Runs the network on w->b.input; returns its output, or with several
 * passes the mean of the outputs for the input and its mirror images
 * (tiler.h), each mirrored back. Leaves the input mirrored. */
static const float *
forward_passes(Worker *w, int tile_w, int tile_h)
{
  const Run *run = w->run;
  const Geometry *g = &run->g;
  aenet_network_forward(run->net, w->ws, w->b.input, run->opt->noise_level);
  if (g->passes == 1)
    return aenet_workspace_get_output(w->ws);
  int in_w = tile_w + 2 * g->margin, in_h = tile_h + 2 * g->margin;
  int out_w = tile_w * g->scale, out_h = tile_h * g->scale;
  gsize plane = (gsize)out_w * out_h;
  memcpy(w->b.sum, aenet_workspace_get_output(w->ws), plane * g->cout * sizeof(float));
  for (int p = 1; p < g->passes; p++) {
    gboolean mx = pass_mirrors_x(p), my = pass_mirrors_y(p);
    mirror_planes(w->b.input, g->cin, in_h, in_w, mx != pass_mirrors_x(p - 1),
                  my != pass_mirrors_y(p - 1));
    aenet_network_forward(run->net, w->ws, w->b.input, run->opt->noise_level);
    const float *out = aenet_workspace_get_output(w->ws);
    for (int c = 0; c < g->cout; c++)
      for (int y = 0; y < out_h; y++) {
        float *dst = w->b.sum + c * plane + (gsize)y * out_w;
        const float *src = out + c * plane + (gsize)(my ? out_h - 1 - y : y) * out_w;
        for (int x = 0; x < out_w; x++)
          dst[x] += src[mx ? out_w - 1 - x : x];
      }
  }
  float inv = 1.0f / (float)g->passes;
  for (gsize i = 0; i < plane * g->cout; i++)
    w->b.sum[i] *= inv;
  return w->b.sum;
}

static gboolean
process_tile(Worker *w, int index, GError **error)
{
  Run *run = w->run;
  const Geometry *g = &run->g;
  int side_w = run->tile_w + 2 * g->pad, side_h = run->tile_h + 2 * g->pad;
  int x0 = run->grid[0] + (index % run->tiles_x) * run->tile_w;
  int y0 = run->grid[1] + (index / run->tiles_x) * run->tile_h;
  /* The part of the tile inside the region. */
  int ox = MAX(x0, run->roi[0]), oy = MAX(y0, run->roi[1]);
  int tw = MIN(x0 + run->tile_w, run->roi[0] + run->roi[2]) - ox;
  int th = MIN(y0 + run->tile_h, run->roi[1] + run->roi[3]) - oy;

  if (!read_region(w, x0 - g->pad, y0 - g->pad, side_w, side_h, error))
    return FALSE;
  const float *net_out = forward_passes(w, run->tile_w, run->tile_h);
  if (g->alpha && g->scale > 1)
    aenet_resize_bicubic(w->b.alpha_up, w->b.alpha_in, w->b.resize_scratch, 1, side_h, side_w,
                         side_h * g->scale, side_w * g->scale);
  gather_output(w, net_out, ox - x0, oy - y0, tw, th, side_w);

  g_mutex_lock(&run->lock);
  gboolean ok = run->io->write(run->io->user, ox * g->scale, oy * g->scale, tw * g->scale,
                               th * g->scale, w->b.out, error);
  g_mutex_unlock(&run->lock);
  return ok;
}

static gpointer
worker_main(gpointer data)
{
  Worker *w = data;
  Run *run = w->run;
  for (;;) {
    g_mutex_lock(&run->lock);
    int index = run->error == NULL && !cancelled(run) ? run->next_tile++ : run->n_tiles;
    g_mutex_unlock(&run->lock);
    if (index >= run->n_tiles)
      break;
    GError *error = NULL;
    gboolean ok = process_tile(w, index, &error);
    g_mutex_lock(&run->lock);
    if (!ok && run->error == NULL)
      run->error = error;
    else
      g_clear_error(&error);
    run->tiles_done += ok;
    g_cond_signal(&run->changed);
    g_mutex_unlock(&run->lock);
  }
  g_mutex_lock(&run->lock);
  run->threads_running--;
  g_cond_signal(&run->changed);
  g_mutex_unlock(&run->lock);
  return NULL;
}

static gboolean
worker_init(Worker *w, Run *run, GError **error)
{
  const Geometry *g = &run->g;
  w->run = run;
  w->ws = aenet_workspace_new_tile(run->net, run->tile_h, run->tile_w, error);
  if (w->ws == NULL)
    return FALSE;
  aenet_workspace_set_conv_kernel(w->ws, run->opt->conv_kernel);
  w->memory = g_try_new(float, thread_buffers_layout(NULL, NULL, g, run->tile_w, run->tile_h));
  if (w->memory == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("not enough memory for the tiles"));
    return FALSE;
  }
  thread_buffers_layout(&w->b, w->memory, g, run->tile_w, run->tile_h);
  return TRUE;
}

static void
worker_clear(Worker *w)
{
  aenet_workspace_free(w->ws);
  g_free(w->memory);
}

gboolean
aenet_tiler_run(const AenetNetwork *net, const AenetImageIO *io, const AenetTilerOptions *opt,
                GError **error)
{
  AenetTilerOptions defaults;
  if (opt == NULL) {
    aenet_tiler_options_init(&defaults);
    opt = &defaults;
  }
  Run run = { net, io, opt };
  if (!resolve_roi(io, opt, run.roi, error))
    return FALSE;
  geometry_init(&run.g, net, io->n_channels, opt->passes);
  AenetTilePlan plan;
  if (!plan_tiles(&plan, net, io, opt, run.roi, error))
    return FALSE;
  grid_from_roi(run.roi, run.g.align, run.grid);
  run.tile_w = plan.tile_width;
  run.tile_h = plan.tile_height;
  run.tiles_x = plan.tiles_x;
  run.n_tiles = plan.tiles_x * plan.tiles_y;
  int n_threads = MIN(resolve_threads(opt), run.n_tiles);

  Worker *workers = g_new0(Worker, n_threads);
  for (int t = 0; t < n_threads; t++)
    if (!worker_init(&workers[t], &run, error)) {
      for (int u = 0; u <= t; u++)
        worker_clear(&workers[u]);
      g_free(workers);
      return FALSE;
    }

  g_mutex_init(&run.lock);
  g_cond_init(&run.changed);
  run.threads_running = n_threads;
  GThread **threads = g_new(GThread *, n_threads);
  for (int t = 0; t < n_threads; t++)
    threads[t] = g_thread_new("aenet-tile", worker_main, &workers[t]);

  /* Report progress from this thread, under the lock, so a caller whose
   * progress and pixel callbacks share a channel never sees them overlap. */
  g_mutex_lock(&run.lock);
  int reported = -1;
  while (run.threads_running > 0) {
    if (opt->progress != NULL && run.tiles_done != reported) {
      reported = run.tiles_done;
      opt->progress(opt->progress_user, (double)reported / run.n_tiles);
    }
    g_cond_wait(&run.changed, &run.lock);
  }
  if (opt->progress != NULL && run.tiles_done != reported)
    opt->progress(opt->progress_user, (double)run.tiles_done / run.n_tiles);
  g_mutex_unlock(&run.lock);

  for (int t = 0; t < n_threads; t++) {
    g_thread_join(threads[t]);
    worker_clear(&workers[t]);
  }
  g_free(threads);
  g_free(workers);
  g_mutex_clear(&run.lock);
  g_cond_clear(&run.changed);

  if (run.error != NULL) {
    g_propagate_error(error, run.error);
    return FALSE;
  }
  if (run.tiles_done < run.n_tiles) {
    /* TRANSLATORS: the user stopped the work. */
    g_set_error(error, AENET_ERROR, AENET_ERROR_CANCELLED, _("cancelled"));
    return FALSE;
  }
  return TRUE;
}

/* ---- images in memory ------------------------------------------------- */

void
aenet_pixels_deinterleave(float *dst, gsize dst_plane, const float *src, gsize n_pixels,
                          int n_channels, int n_keep)
{
  for (int c = 0; c < n_keep; c++)
    for (gsize i = 0; i < n_pixels; i++)
      dst[c * dst_plane + i] = src[i * n_channels + c];
}

typedef struct {
  const float *in;
  float *out;
  int c, h, w, scale;
} PlanarIO;

static gboolean
planar_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const PlanarIO *p = user;
  gsize plane = (gsize)p->h * p->w;
  for (int r = 0; r < h; r++)
    for (int i = 0; i < w; i++)
      for (int c = 0; c < p->c; c++)
        dst[((gsize)r * w + i) * p->c + c] = p->in[c * plane + (gsize)(y + r) * p->w + x + i];
  return TRUE;
}

static gboolean
planar_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  PlanarIO *p = user;
  int ow = p->w * p->scale;
  gsize plane = (gsize)p->h * p->scale * ow;
  for (int r = 0; r < h; r++)
    for (int i = 0; i < w; i++)
      for (int c = 0; c < p->c; c++)
        p->out[c * plane + (gsize)(y + r) * ow + x + i] = src[((gsize)r * w + i) * p->c + c];
  return TRUE;
}

gboolean
aenet_tiler_run_planar(const AenetNetwork *net, const float *in, int c, int h, int w, float *out,
                       const AenetTilerOptions *opt, GError **error)
{
  if (c != 1 && c != 3) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("an image in memory needs 1 or 3 channels, not %d"), c);
    return FALSE;
  }
  PlanarIO p = { in, out, c, h, w, aenet_network_get_scale(net) };
  AenetImageIO io = { w, h, c, planar_read, planar_write, &p };
  AenetTilerOptions whole;
  if (opt != NULL)
    whole = *opt;
  else
    aenet_tiler_options_init(&whole);
  whole.roi_x = whole.roi_y = whole.roi_width = whole.roi_height = 0;
  return aenet_tiler_run(net, &io, &whole, error);
}
