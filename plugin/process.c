/* process.c — GIMP drawables through the engine's tiler (see process.h).
 *
 * Rectangles cross the tiler's callbacks as interleaved floats, h rows of
 * w * n_channels, in drawable-local coordinates (output coordinates for
 * upscaling, i.e. times the scale). */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "process.h"
#include "error.h"
#include "network.h"
#include "noise-estimate.h"
#include "tiler.h"

const Babl *
aenet_plugin_float_format(gint32 drawable, int *n_channels)
{
  gboolean alpha = gimp_drawable_has_alpha(drawable);
  /* Channels and masks report gray: one channel, no alpha. */
  gboolean gray = gimp_drawable_is_gray(drawable) || gimp_item_is_channel(drawable);

  if (gray) {
    *n_channels = alpha ? 2 : 1;
    return babl_format(alpha ? "Y'A float" : "Y' float");
  }
  *n_channels = alpha ? 4 : 3;
  return babl_format(alpha ? "R'G'B'A float" : "R'G'B' float");
}

gboolean
aenet_plugin_check_drawable(gint32 drawable, gboolean need_layer, GError **error)
{
  if (!gimp_item_is_valid(drawable) || !gimp_item_is_drawable(drawable)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The drawable given is not a layer, mask or channel of an open image."));
    return FALSE;
  }
  if (gimp_drawable_is_indexed(drawable)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("Indexed images are not supported. Convert the image to RGB or "
                  "grayscale first (Image ▸ Mode)."));
    return FALSE;
  }
  if (gimp_item_is_group(drawable)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("“%s” is a layer group; choose one of its layers."),
                gimp_item_get_name(drawable));
    return FALSE;
  }
  if (need_layer && !gimp_item_is_layer(drawable)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("Upscaling works on layers only; “%s” is a mask or channel."),
                gimp_item_get_name(drawable));
    return FALSE;
  }
  if (gimp_item_get_lock_content(drawable)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("The pixels of “%s” are locked."),
                gimp_item_get_name(drawable));
    return FALSE;
  }
  return TRUE;
}

double
aenet_plugin_estimate_noise(GeglBuffer *buf, const Babl *format, int n_channels,
                            const GeglRectangle *rect, GError **error)
{
  /* Alpha is no image content: estimate on the colour channels only. */
  int colour = (n_channels == 2 || n_channels == 4) ? n_channels - 1 : n_channels;
  int w = MIN(rect->width, 512), h = MIN(rect->height, 512);
  GeglRectangle crop = { rect->x + (rect->width - w) / 2, rect->y + (rect->height - h) / 2, w, h };
  float *pixels = g_try_new(float, (gsize)w *h *n_channels); /* (h, w, n_channels) */
  float *planar = g_try_new(float, (gsize)w *h *colour);     /* (colour, h, w) */
  double sigma = -1.0;

  if (!pixels || !planar) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("Not enough memory to estimate the noise level."));
    goto out;
  }
  gegl_buffer_get(buf, &crop, 1.0, format, pixels, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  for (int c = 0; c < colour; c++)
    for (gsize i = 0; i < (gsize)w * h; i++)
      planar[(gsize)c * w * h + i] = CLAMP(pixels[i * n_channels + c], 0.0f, 1.0f);
  sigma = aenet_noise_estimate(planar, colour, h, w, error);

out:
  g_free(pixels);
  g_free(planar);
  return sigma;
}

/* Reading the source buffer is the same for both filters; a struct that
 * starts with a BufferIO can be handed to buffer_read. */
typedef struct {
  GeglBuffer *src; /* the drawable */
  GeglBuffer *dst; /* denoise: its shadow; upscale: the enlarged layer */
  const Babl *format;
} BufferIO;

static gboolean
buffer_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  BufferIO *io = user;

  gegl_buffer_get(io->src, GEGL_RECTANGLE(x, y, w, h), 1.0, io->format, dst, GEGL_AUTO_ROWSTRIDE,
                  GEGL_ABYSS_NONE);
  return TRUE;
}

/* ---- denoise ---- */

typedef struct {
  BufferIO buf; /* first, for buffer_read */
  int n_channels;
  double strength;    /* weight of the result against the original */
  float *scratch;     /* the original of one written rectangle */
  gsize scratch_size; /* in floats */
} DenoiseIO;

static gboolean
denoise_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  DenoiseIO *io = user;
  gsize n = (gsize)w * h * io->n_channels;

  if (io->strength >= 1.0) {
    gegl_buffer_set(io->buf.dst, GEGL_RECTANGLE(x, y, w, h), 0, io->buf.format, src,
                    GEGL_AUTO_ROWSTRIDE);
    return TRUE;
  }
  if (n > io->scratch_size) {
    g_free(io->scratch);
    io->scratch = g_try_new(float, n);
    io->scratch_size = io->scratch ? n : 0;
    if (!io->scratch) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                  _("Not enough memory to blend the result with the original."));
      return FALSE;
    }
  }
  gegl_buffer_get(io->buf.src, GEGL_RECTANGLE(x, y, w, h), 1.0, io->buf.format, io->scratch,
                  GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  float s = (float)io->strength;
  for (gsize i = 0; i < n; i++)
    io->scratch[i] += s * (src[i] - io->scratch[i]);
  gegl_buffer_set(io->buf.dst, GEGL_RECTANGLE(x, y, w, h), 0, io->buf.format, io->scratch,
                  GEGL_AUTO_ROWSTRIDE);
  return TRUE;
}

static void
report_progress(void *user, double fraction)
{
  gimp_progress_update(fraction);
}

gboolean
aenet_plugin_denoise(gint32 drawable, const AenetModel *model, double noise_level, double strength,
                     GError **error)
{
  int x, y, w, h, n_channels;
  gboolean ok = FALSE;

  if (!aenet_plugin_check_drawable(drawable, FALSE, error))
    return FALSE;
  if (!gimp_drawable_mask_intersect(drawable, &x, &y, &w, &h) || w <= 0 || h <= 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The selection does not touch “%s”; there is nothing to denoise."),
                gimp_item_get_name(drawable));
    return FALSE;
  }

  const Babl *format = aenet_plugin_float_format(drawable, &n_channels);
  DenoiseIO dio
      = { { gimp_drawable_get_buffer(drawable), gimp_drawable_get_shadow_buffer(drawable), format },
          n_channels,
          CLAMP(strength, 0.0, 1.0),
          NULL,
          0 };
  AenetImageIO io = { gimp_drawable_width(drawable),
                      gimp_drawable_height(drawable),
                      n_channels,
                      buffer_read,
                      denoise_write,
                      &dio };
  AenetTilerOptions opt;

  aenet_tiler_options_init(&opt);
  opt.roi_x = x;
  opt.roi_y = y;
  opt.roi_width = w;
  opt.roi_height = h;
  opt.n_threads = (int)MAX(1, g_get_num_processors());
  opt.progress = report_progress;

  gimp_progress_init_printf(_("Denoising with “%s”"), aenet_model_get_display_name(model));
  if (aenet_network_takes_noise_level(model->network)) {
    if (noise_level < 0) {
      gimp_progress_set_text(_("Estimating the noise level"));
      noise_level = aenet_plugin_estimate_noise(dio.buf.src, format, n_channels,
                                                GEGL_RECTANGLE(x, y, w, h), error);
      if (noise_level < 0)
        goto out;
      gimp_progress_set_text_printf(_("Denoising (estimated noise level %.1f)"), noise_level);
    }
    opt.noise_level = (float)(noise_level / 255.0);
  }

  if (!aenet_tiler_run(model->network, &io, &opt, error))
    goto out;
  gegl_buffer_flush(dio.buf.dst);
  /* The merge applies the selection (with its feathering) and is one undo step. */
  gimp_drawable_merge_shadow(drawable, TRUE);
  gimp_drawable_update(drawable, x, y, w, h);
  gimp_progress_update(1.0);
  ok = TRUE;

out:
  g_object_unref(dio.buf.src);
  g_object_unref(dio.buf.dst);
  g_free(dio.scratch);
  return ok;
}

/* ---- upscale ---- */

static gboolean
upscale_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  BufferIO *io = user;

  gegl_buffer_set(io->dst, GEGL_RECTANGLE(x, y, w, h), 0, io->format, src, GEGL_AUTO_ROWSTRIDE);
  return TRUE;
}

static void
copy_resolution(gint32 from, gint32 to, int scale)
{
  double xres, yres;

  /* The same print size: scale× the pixels at scale× the resolution. */
  if (gimp_image_get_resolution(from, &xres, &yres))
    gimp_image_set_resolution(to, xres * scale, yres * scale);
}

gboolean
aenet_plugin_upscale(gint32 image, gint32 drawable, const AenetModel *model, AenetOutput output,
                     gboolean interactive, gint32 *new_image, gint32 *new_layer, GError **error)
{
  int n_channels;
  int scale = aenet_network_get_scale(model->network);
  int w = gimp_drawable_width(drawable), h = gimp_drawable_height(drawable);
  int offx, offy;
  gint32 target_image = image, layer;
  gboolean ok = FALSE;

  *new_image = -1;
  *new_layer = -1;
  if (!aenet_plugin_check_drawable(drawable, TRUE, error))
    return FALSE;
  if ((gint64)w * scale > GIMP_MAX_IMAGE_SIZE || (gint64)h * scale > GIMP_MAX_IMAGE_SIZE) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("%d × %d pixels enlarged %d× is larger than GIMP allows (%d pixels "
                  "per side)."),
                w, h, scale, GIMP_MAX_IMAGE_SIZE);
    return FALSE;
  }
  gimp_drawable_offsets(drawable, &offx, &offy);

  if (output == AENET_OUTPUT_NEW_IMAGE) {
    target_image = gimp_image_new_with_precision(w * scale, h * scale, gimp_image_base_type(image),
                                                 gimp_image_get_precision(image));
    if (target_image < 0) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("GIMP could not create a new image."));
      return FALSE;
    }
    gimp_image_undo_disable(target_image);
  }

  char *name = g_strdup_printf("%s ×%d", gimp_item_get_name(drawable), scale);
  layer = gimp_layer_new(
      target_image, name, w * scale, h * scale, gimp_drawable_type(drawable),
      output == AENET_OUTPUT_NEW_IMAGE ? 100.0 : gimp_layer_get_opacity(drawable),
      output == AENET_OUTPUT_NEW_IMAGE ? GIMP_LAYER_MODE_NORMAL : gimp_layer_get_mode(drawable));
  g_free(name);
  if (layer < 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("GIMP could not create a new layer."));
    goto out;
  }

  /* The result goes into a layer that is not in any image yet, so that
   * stopping half-way leaves the image as it was. */
  const Babl *format = aenet_plugin_float_format(drawable, &n_channels);
  BufferIO uio = { gimp_drawable_get_buffer(drawable), gimp_drawable_get_buffer(layer), format };
  AenetImageIO io = { w, h, n_channels, buffer_read, upscale_write, &uio };
  AenetTilerOptions opt;

  aenet_tiler_options_init(&opt);
  opt.n_threads = (int)MAX(1, g_get_num_processors());
  opt.progress = report_progress;
  gimp_progress_init_printf(_("Upscaling %d× with “%s”"), scale,
                            aenet_model_get_display_name(model));
  ok = aenet_tiler_run(model->network, &io, &opt, error);
  gegl_buffer_flush(uio.dst);
  g_object_unref(uio.src);
  g_object_unref(uio.dst);
  if (!ok)
    goto out;

  switch (output) {
  case AENET_OUTPUT_NEW_IMAGE: {
    GimpColorProfile *profile = gimp_image_get_color_profile(image);

    gimp_image_insert_layer(target_image, layer, 0, 0);
    if (profile) {
      gimp_image_set_color_profile(target_image, profile);
      g_object_unref(profile);
    }
    copy_resolution(image, target_image, scale);
    gimp_image_undo_enable(target_image);
    if (interactive)
      gimp_display_new(target_image);
    *new_image = target_image;
    *new_layer = layer;
    break;
  }
  case AENET_OUTPUT_NEW_LAYER:
    gimp_image_undo_group_start(image);
    gimp_image_insert_layer(image, layer, gimp_item_get_parent(drawable),
                            gimp_image_get_item_position(image, drawable));
    gimp_layer_set_offsets(layer, offx, offy);
    gimp_image_undo_group_end(image);
    *new_layer = layer;
    break;
  case AENET_OUTPUT_IN_PLACE: {
    int iw = gimp_image_width(image), ih = gimp_image_height(image);
    GeglBuffer *from, *to;

    gimp_image_undo_group_start(image);
    /* Scaling without interpolation is cheap, carries a layer mask
     * along and records the old pixels for undo; the result is then
     * copied over every pixel. */
    gimp_context_push();
    gimp_context_set_interpolation(GIMP_INTERPOLATION_NONE);
    gimp_layer_scale(drawable, w * scale, h * scale, TRUE);
    gimp_context_pop();
    gimp_layer_set_offsets(drawable, offx, offy);
    from = gimp_drawable_get_buffer(layer);
    to = gimp_drawable_get_buffer(drawable);
    gegl_buffer_copy(from, NULL, GEGL_ABYSS_NONE, to, NULL);
    gegl_buffer_flush(to);
    g_object_unref(from);
    g_object_unref(to);
    gimp_item_delete(layer);
    layer = -1;
    if (offx + w * scale > iw || offy + h * scale > ih)
      gimp_image_resize(image, MAX(iw, offx + w * scale), MAX(ih, offy + h * scale), 0, 0);
    gimp_drawable_update(drawable, 0, 0, w * scale, h * scale);
    gimp_image_undo_group_end(image);
    *new_layer = drawable;
    break;
  }
  }
  gimp_progress_update(1.0);
  return TRUE;

out:
  if (layer >= 0)
    gimp_item_delete(layer);
  if (target_image != image)
    gimp_image_delete(target_image);
  return FALSE;
}
