/* drawable.c — GIMP 3 drawables through a job (see drawable.h). */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "drawable.h"
#include "error.h"
#include "gimp-progress.h"

const Babl *
aenet_gimp3_float_format(GimpDrawable *drawable, int *n_channels)
{
  /* Channels and masks report gray: one channel, no alpha. */
  return aenet_plugin_float_format(gimp_drawable_is_gray(drawable)
                                       || gimp_item_is_channel(GIMP_ITEM(drawable)),
                                   gimp_drawable_has_alpha(drawable),
                                   gimp_drawable_get_format(drawable), n_channels);
}

gboolean
aenet_gimp3_check_drawable(GimpDrawable *drawable, gboolean need_layer, GError **error)
{
  GimpItem *item = GIMP_ITEM(drawable);
  AenetDrawableProblem problem;

  if (!gimp_item_is_valid(item))
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_INVALID, NULL);
  if (gimp_drawable_is_indexed(drawable))
    problem = AENET_DRAWABLE_INDEXED;
  else if (gimp_item_is_group(item))
    problem = AENET_DRAWABLE_GROUP;
  else if (need_layer && !gimp_item_is_layer(item))
    problem = AENET_DRAWABLE_NOT_LAYER;
  else if (gimp_item_get_lock_content(item))
    problem = AENET_DRAWABLE_LOCKED;
  else
    return TRUE;
  char *name = gimp_item_get_name(item);
  aenet_plugin_drawable_error(error, problem, name);
  g_free(name);
  return FALSE;
}

gboolean
aenet_gimp3_filter(GimpDrawable *drawable, AenetJob *job, double estimate, GeglRectangle *rect,
                   GError **error)
{
  int x, y, w, h, n_channels;
  gboolean ok;

  if (!aenet_gimp3_check_drawable(drawable, FALSE, error))
    return FALSE;
  if (!gimp_drawable_mask_intersect(drawable, &x, &y, &w, &h) || w <= 0 || h <= 0) {
    char *name = gimp_item_get_name(GIMP_ITEM(drawable));
    aenet_plugin_drawable_error(error, AENET_DRAWABLE_OUTSIDE, name);
    g_free(name);
    return FALSE;
  }

  const Babl *format = aenet_gimp3_float_format(drawable, &n_channels);
  AenetBufferIO b;
  aenet_buffer_io_init(&b, gimp_drawable_get_buffer(drawable),
                       gimp_drawable_get_shadow_buffer(drawable),
                       gimp_drawable_get_width(drawable), gimp_drawable_get_height(drawable),
                       format, n_channels);
  AenetJobRegion region;
  aenet_plugin_region_init(&region, x, y, w, h);

  *rect = (GeglRectangle){ x, y, w, h };
  ok = aenet_plugin_run_job(job, &b, &region, estimate, &aenet_gimp_progress, error);
  gegl_buffer_flush(b.dst);
  g_object_unref(b.src);
  g_object_unref(b.dst);
  return ok;
}

void
aenet_gimp3_merge(GimpDrawable *drawable, const GeglRectangle *rect)
{
  /* The merge applies the selection (with its feathering) and is one undo step. */
  gimp_drawable_merge_shadow(drawable, TRUE);
  gimp_drawable_update(drawable, rect->x, rect->y, rect->width, rect->height);
}

static void
copy_resolution(GimpImage *from, GimpImage *to, int scale)
{
  double xres, yres;

  /* The same print size: scale× the pixels at scale× the resolution. */
  if (gimp_image_get_resolution(from, &xres, &yres))
    gimp_image_set_resolution(to, xres * scale, yres * scale);
}

gboolean
aenet_gimp3_enlarge(GimpImage *image, GimpDrawable *drawable, AenetJob *job, AenetOutput output,
                    gboolean interactive, GimpImage **new_image, GimpLayer **new_layer,
                    GError **error)
{
  int n_channels;
  int scale = aenet_job_get_scale(job);
  int w = gimp_drawable_get_width(drawable), h = gimp_drawable_get_height(drawable);
  int offx, offy;
  GimpImage *target_image = image;
  GimpLayer *layer;
  gboolean ok = FALSE;

  *new_image = NULL;
  *new_layer = NULL;
  if (!aenet_gimp3_check_drawable(drawable, TRUE, error))
    return FALSE;
  if ((gint64)w * scale > GIMP_MAX_IMAGE_SIZE || (gint64)h * scale > GIMP_MAX_IMAGE_SIZE)
    return aenet_plugin_too_large_error(error, w, h, scale, GIMP_MAX_IMAGE_SIZE);
  gimp_drawable_get_offsets(drawable, &offx, &offy);

  if (output == AENET_OUTPUT_NEW_IMAGE) {
    target_image = gimp_image_new_with_precision(w * scale, h * scale,
                                                 gimp_image_get_base_type(image),
                                                 gimp_image_get_precision(image));
    if (!target_image) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("GIMP could not create a new image."));
      return FALSE;
    }
    gimp_image_undo_disable(target_image);
  }

  char *item_name = gimp_item_get_name(GIMP_ITEM(drawable));
  char *name = g_strdup_printf("%s ×%d", item_name, scale);
  gboolean own = output == AENET_OUTPUT_NEW_IMAGE;
  layer = gimp_layer_new(target_image, name, w * scale, h * scale, gimp_drawable_type(drawable),
                         own ? 100.0 : gimp_layer_get_opacity(GIMP_LAYER(drawable)),
                         own ? GIMP_LAYER_MODE_NORMAL : gimp_layer_get_mode(GIMP_LAYER(drawable)));
  g_free(name);
  g_free(item_name);
  if (!layer) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("GIMP could not create a new layer."));
    goto out;
  }

  /* The result goes into a layer that is not in any image yet, so that
   * stopping half-way leaves the image as it was. */
  const Babl *format = aenet_gimp3_float_format(drawable, &n_channels);
  AenetBufferIO b;
  aenet_buffer_io_init(&b, gimp_drawable_get_buffer(drawable),
                       gimp_drawable_get_buffer(GIMP_DRAWABLE(layer)), w, h, format, n_channels);
  AenetJobRegion region;
  aenet_job_region_init(&region);
  ok = aenet_plugin_run_job(job, &b, &region, -1, &aenet_gimp_progress, error);
  gegl_buffer_flush(b.dst);
  g_object_unref(b.src);
  g_object_unref(b.dst);
  if (!ok)
    goto out;

  switch (output) {
  case AENET_OUTPUT_NEW_IMAGE: {
    GimpColorProfile *profile = gimp_image_get_color_profile(image);

    gimp_image_insert_layer(target_image, layer, NULL, 0);
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
    gimp_image_insert_layer(image, layer, GIMP_LAYER(gimp_item_get_parent(GIMP_ITEM(drawable))),
                            gimp_image_get_item_position(image, GIMP_ITEM(drawable)));
    gimp_layer_set_offsets(layer, offx, offy);
    gimp_image_undo_group_end(image);
    *new_layer = layer;
    break;
  case AENET_OUTPUT_IN_PLACE: {
    int iw = gimp_image_get_width(image), ih = gimp_image_get_height(image);
    GeglBuffer *from, *to;

    gimp_image_undo_group_start(image);
    /* Scaling without interpolation is cheap, carries a layer mask
     * along and records the old pixels for undo; the result is then
     * copied over every pixel. */
    gimp_context_push();
    gimp_context_set_interpolation(GIMP_INTERPOLATION_NONE);
    gimp_layer_scale(GIMP_LAYER(drawable), w * scale, h * scale, TRUE);
    gimp_context_pop();
    gimp_layer_set_offsets(GIMP_LAYER(drawable), offx, offy);
    from = gimp_drawable_get_buffer(GIMP_DRAWABLE(layer));
    to = gimp_drawable_get_buffer(drawable);
    gegl_buffer_copy(from, NULL, GEGL_ABYSS_NONE, to, NULL);
    gegl_buffer_flush(to);
    g_object_unref(from);
    g_object_unref(to);
    gimp_item_delete(GIMP_ITEM(layer));
    layer = NULL;
    if (offx + w * scale > iw || offy + h * scale > ih)
      gimp_image_resize(image, MAX(iw, offx + w * scale), MAX(ih, offy + h * scale), 0, 0);
    gimp_drawable_update(drawable, 0, 0, w * scale, h * scale);
    gimp_image_undo_group_end(image);
    *new_layer = GIMP_LAYER(drawable);
    break;
  }
  }
  gimp_progress_update(1.0);
  return TRUE;

out:
  if (layer)
    gimp_item_delete(GIMP_ITEM(layer));
  if (target_image != image)
    gimp_image_delete(target_image);
  return FALSE;
}
