/* drawable.c — GIMP 2.10 drawables through a job (see drawable.h). */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "drawable.h"
#include "error.h"
#include "gimp-progress.h"

const Babl *
aenet_gimp2_float_format(gint32 drawable, int *n_channels)
{
  /* Channels and masks report gray: one channel, no alpha. */
  return aenet_plugin_float_format(gimp_drawable_is_gray(drawable)
                                       || gimp_item_is_channel(drawable),
                                   gimp_drawable_has_alpha(drawable),
                                   gimp_drawable_get_format(drawable), n_channels);
}

gboolean
aenet_gimp2_check_drawable(gint32 drawable, gboolean need_layer, GError **error)
{
  if (!gimp_item_is_valid(drawable) || !gimp_item_is_drawable(drawable))
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_INVALID, NULL);
  const char *name = gimp_item_get_name(drawable);
  if (gimp_drawable_is_indexed(drawable))
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_INDEXED, name);
  if (gimp_item_is_group(drawable))
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_GROUP, name);
  if (need_layer && !gimp_item_is_layer(drawable))
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_NOT_LAYER, name);
  if (gimp_item_get_lock_content(drawable))
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_LOCKED, name);
  return TRUE;
}

gboolean
aenet_gimp2_filter(gint32 drawable, AenetJob *job, double estimate, GError **error)
{
  int x, y, w, h, n_channels;
  gboolean ok = FALSE;

  if (!aenet_gimp2_check_drawable(drawable, FALSE, error))
    return FALSE;
  if (!gimp_drawable_mask_intersect(drawable, &x, &y, &w, &h) || w <= 0 || h <= 0)
    return aenet_plugin_drawable_error(error, AENET_DRAWABLE_OUTSIDE, gimp_item_get_name(drawable));

  const Babl *format = aenet_gimp2_float_format(drawable, &n_channels);
  AenetBufferIO b;
  aenet_buffer_io_init(&b, gimp_drawable_get_buffer(drawable),
                       gimp_drawable_get_shadow_buffer(drawable), gimp_drawable_width(drawable),
                       gimp_drawable_height(drawable), format, n_channels);
  AenetJobRegion region;
  aenet_plugin_region_init(&region, x, y, w, h);

  if (!aenet_plugin_run_job(job, &b, &region, estimate, &aenet_gimp_progress, error))
    goto out;
  gegl_buffer_flush(b.dst);
  /* The merge applies the selection (with its feathering) and is one undo step. */
  gimp_drawable_merge_shadow(drawable, TRUE);
  gimp_drawable_update(drawable, x, y, w, h);
  gimp_progress_update(1.0);
  ok = TRUE;

out:
  g_object_unref(b.src);
  g_object_unref(b.dst);
  return ok;
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
aenet_gimp2_enlarge(gint32 image, gint32 drawable, AenetJob *job, AenetOutput output,
                    gboolean interactive, gint32 *new_image, gint32 *new_layer, GError **error)
{
  int n_channels;
  int scale = aenet_job_get_scale(job);
  int w = gimp_drawable_width(drawable), h = gimp_drawable_height(drawable);
  int offx, offy;
  gint32 target_image = image, layer;
  gboolean ok = FALSE;

  *new_image = -1;
  *new_layer = -1;
  if (!aenet_gimp2_check_drawable(drawable, TRUE, error))
    return FALSE;
  if ((gint64)w * scale > GIMP_MAX_IMAGE_SIZE || (gint64)h * scale > GIMP_MAX_IMAGE_SIZE)
    return aenet_plugin_too_large_error(error, w, h, scale, GIMP_MAX_IMAGE_SIZE);
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
  const Babl *format = aenet_gimp2_float_format(drawable, &n_channels);
  AenetBufferIO b;
  aenet_buffer_io_init(&b, gimp_drawable_get_buffer(drawable), gimp_drawable_get_buffer(layer), w,
                       h, format, n_channels);
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
