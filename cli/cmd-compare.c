/* cmd-compare.c — "aenet compare": PSNR and SSIM of image files against
 * their references, as the papers score them (metrics.h). It measures what
 * a user gets: files written by any program, read back as files. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "commands.h"
#include "imageio.h"
#include "metrics.h"

/* The colour planes (3, h, w) of an image file in [0, 1]: gray becomes
 * R = G = B (so a gray file can be scored against a colour one), alpha is
 * dropped. */
static float *
load_planar_rgb(const char *path, int *w, int *h, GError **error)
{
  int c;
  float *planes = aenet_image_load_planar(path, &c, w, h, error);
  if (planes == NULL || c == 3)
    return planes;
  gsize plane = (gsize)*w * *h;
  float *rgb = g_try_renew(float, planes, 3 * plane);
  if (rgb == NULL) {
    g_free(planes);
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, _("%s is too large to load"), path);
    return NULL;
  }
  memcpy(rgb + plane, rgb, plane * sizeof(float));
  memcpy(rgb + 2 * plane, rgb, plane * sizeof(float));
  return rgb;
}

int
aenet_cmd_compare(int argc, char **argv)
{
  gboolean luma = FALSE, no_ssim = FALSE;
  int crop = 0;
  GOptionEntry entries[] = {
    { "y", 0, 0, G_OPTION_ARG_NONE, &luma,
      N_("Score the Y channel (BT.601), as super-resolution papers do"), NULL },
    { "crop", 0, 0, G_OPTION_ARG_INT, &crop,
      N_("Leave out N pixels at every border (with --y; normally the scale)"), "N" },
    { "no-ssim", 0, 0, G_OPTION_ARG_NONE, &no_ssim, N_("Only PSNR (faster)"), NULL },
    { NULL },
  };
  GOptionContext *context = g_option_context_new(_("REFERENCE IMAGE [REFERENCE IMAGE…]"));
  g_option_context_set_summary(
      context, _("PSNR and SSIM of each image file against its reference file, 8-bit, over\n"
                 "R, G and B (or Y with --y), and their mean over all pairs."));
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  GError *error = NULL;
  int status = 2;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr(_("aenet: %s (see “%s --help”)\n"), error->message, g_get_prgname());
    goto out;
  }
  if (argc < 3 || (argc - 1) % 2 != 0 || crop < 0 || (crop > 0 && !luma)) {
    g_printerr(_("aenet: compare takes pairs of files REFERENCE IMAGE, and --crop only with --y "
                 "(see “aenet compare --help”)\n"));
    goto out;
  }
  double sum_psnr = 0, sum_ssim = 0;
  int n = 0;
  status = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    int rw, rh, w, h;
    float *ref = load_planar_rgb(argv[i], &rw, &rh, &error), *img = NULL;
    if (ref != NULL)
      img = load_planar_rgb(argv[i + 1], &w, &h, &error);
    if (img != NULL && (w != rw || h != rh))
      g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                  _("%s is %d×%d but its reference %s is %d×%d"), argv[i + 1], w, h, argv[i], rw,
                  rh);
    double psnr = NAN, ssim = NAN;
    if (error == NULL) {
      if (luma)
        aenet_metrics_upscale(img, ref, 3, h, w, crop, &psnr, no_ssim ? NULL : &ssim);
      else
        aenet_metrics_denoise(img, ref, 3, h, w, &psnr, no_ssim ? NULL : &ssim);
    }
    g_free(ref);
    g_free(img);
    if (error != NULL) {
      g_printerr("aenet: %s\n", error->message);
      g_clear_error(&error);
      status = 1;
      continue;
    }
    if (no_ssim)
      g_print(_("%s: PSNR %.2f dB\n"), argv[i + 1], psnr);
    else
      g_print(_("%s: PSNR %.2f dB, SSIM %.4f\n"), argv[i + 1], psnr, ssim);
    sum_psnr += psnr, sum_ssim += ssim, n++;
  }
  if (n > 1) {
    if (no_ssim)
      g_print(_("mean of %d: PSNR %.2f dB\n"), n, sum_psnr / n);
    else
      g_print(_("mean of %d: PSNR %.2f dB, SSIM %.4f\n"), n, sum_psnr / n, sum_ssim / n);
  }
out:
  g_option_context_free(context);
  return status;
}
