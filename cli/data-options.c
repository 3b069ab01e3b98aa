/* data-options.c — see data-options.h. */
#include "config.h"

#include "data-options.h"

#include <glib/gi18n.h>
#include <string.h>

/* "lo-hi" (also "lo,hi", "lo:hi") or one number for both; FALSE if
 * malformed or lo > hi. */
static gboolean
parse_range(const char *text, double *lo, double *hi)
{
  char *end = NULL;
  *lo = g_ascii_strtod(text, &end);
  if (end == text)
    return FALSE;
  if (*end == '\0') {
    *hi = *lo;
    return TRUE;
  }
  if (*end != '-' && *end != ',' && *end != ':')
    return FALSE;
  const char *rest = end + 1;
  *hi = g_ascii_strtod(rest, &end);
  return end != rest && *end == '\0' && *lo <= *hi;
}

void
aenet_data_options_add(AenetDataOptions *o, GOptionContext *context)
{
  memset(o, 0, sizeof *o);
  o->seed = -1;
  GOptionEntry entries[] = {
    { "task", 0, 0, G_OPTION_ARG_STRING, &o->task, N_("denoise or upscale"), N_("TASK") },
    { "scale", 0, 0, G_OPTION_ARG_INT, &o->scale, N_("Upscaling factor: 2, 3 or 4"), "N" },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &o->data, N_("Folder of training images"), N_("DIR") },
    { "patch", 0, 0, G_OPTION_ARG_INT, &o->patch,
      N_("Patch size in input pixels (default 96 for denoise, 48 for upscale)"), "PX" },
    { "sigma", 0, 0, G_OPTION_ARG_STRING, &o->sigma,
      N_("Training noise levels, 0–255 scale (default 0-50)"), N_("MIN-MAX") },
    { "photo", 0, 0, G_OPTION_ARG_NONE, &o->photo,
      N_("Camera noise, Gaussian noise and JPEG on the input as in real photographs (for "
         "denoising, a blind model: --arch unet-photo)"),
      NULL },
    { "photo-jpeg", 0, 0, G_OPTION_ARG_NONE, &o->photo_jpeg,
      N_("Strong JPEG compression (quality 15–75) on the input, some of it over light noise: "
         "for a blind denoiser of strongly compressed JPEGs"),
      NULL },
    { "photo-grain", 0, 0, G_OPTION_ARG_NONE, &o->photo_grain,
      N_("Noise as cameras' own JPEGs leave it, mostly brightness grain: for fine-tuning a "
         "blind photo denoiser"),
      NULL },
    { "photo-mottle", 0, 0, G_OPTION_ARG_NONE, &o->photo_mottle,
      N_("The photo mix with brightness mottle, the blotches a camera's noise reduction leaves: "
         "for fine-tuning a blind photo denoiser"),
      NULL },
    { "lr-sigma", 0, 0, G_OPTION_ARG_DOUBLE, &o->lr_sigma,
      N_("Upscaling: add noise up to this level (0–255) to the low-resolution input"), "S" },
    { "unclipped", 0, 0, G_OPTION_ARG_DOUBLE, &o->unclipped,
      N_("Denoising: leave this fraction of noisy inputs unclipped and unrounded, as the paper "
         "protocol's are (default 0)"),
      "F" },
    { "overstated", 0, 0, G_OPTION_ARG_DOUBLE, &o->overstated,
      N_("Denoising: give this fraction of noisy inputs less noise than the level the model is "
         "told (default 0)"),
      "F" },
    { "poisson", 0, 0, G_OPTION_ARG_DOUBLE, &o->poisson,
      N_("Also add signal-dependent noise up to this gain"), "G" },
    { "jpeg", 0, 0, G_OPTION_ARG_STRING, &o->jpeg,
      N_("Also compress inputs as JPEG at a quality in this range"), N_("MIN-MAX") },
    { "per-image", 0, 0, G_OPTION_ARG_NONE, &o->per_image,
      N_("Draw every image equally often, whatever its size (default: in proportion to its "
         "area, so large photos count per pixel as much as small ones)"),
      NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, N_("Random seed (default 1)"), "N" },
    { "cache-mb", 0, 0, G_OPTION_ARG_DOUBLE, &o->cache_mb,
      N_("Memory for decoded images (default 2048)"), "MB" },
    { NULL },
  };
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
}

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, __VA_ARGS__);                        \
    return FALSE;                                                                                  \
  } while (0)

gboolean
aenet_data_options_apply(const AenetDataOptions *o, gboolean balance_sigma, AenetTrainConfig *cfg,
                         GError **error)
{
  if (o->task != NULL && strcmp(o->task, "denoise") != 0 && strcmp(o->task, "upscale") != 0)
    FAIL(_("the task must be denoise or upscale, not “%s”"), o->task);
  if (o->scale != 0 && (o->scale < 2 || o->scale > 4))
    FAIL(_("the scale must be 2, 3 or 4, not %d"), o->scale);
  if (balance_sigma && g_strcmp0(o->task, "upscale") == 0)
    FAIL(_("--balance-sigma is for denoising"));
  int n_photo = o->photo + o->photo_jpeg + o->photo_grain + o->photo_mottle;
  if (n_photo > 1)
    FAIL(_("give one of --photo, --photo-jpeg, --photo-grain and --photo-mottle"));
  if (n_photo > 0
      && (balance_sigma || o->sigma != NULL || o->jpeg != NULL || o->poisson > 0 || o->lr_sigma > 0
          || o->unclipped > 0 || o->overstated > 0))
    FAIL(_("--photo, --photo-jpeg, --photo-grain and --photo-mottle choose the noise and JPEG "
           "themselves: give "
           "them without --sigma, --jpeg, --poisson, --lr-sigma, --unclipped, --overstated and "
           "--balance-sigma"));
  const struct {
    const char *option;
    double value;
  } fractions[] = { { "--unclipped", o->unclipped }, { "--overstated", o->overstated } };
  for (guint i = 0; i < G_N_ELEMENTS(fractions); i++) {
    if (fractions[i].value < 0 || fractions[i].value > 1)
      FAIL(_("%s is a fraction within 0–1, not %g"), fractions[i].option, fractions[i].value);
    if (fractions[i].value > 0 && g_strcmp0(o->task, "upscale") == 0)
      FAIL(_("%s is for denoising"), fractions[i].option);
  }
  if (o->lr_sigma < 0 || o->lr_sigma > 255)
    FAIL(_("--lr-sigma must be within 0–255, not %g"), o->lr_sigma);
  double sigma_lo = 0, sigma_hi = 0, jpeg_lo = 0, jpeg_hi = 0;
  if (o->sigma != NULL
      && (!parse_range(o->sigma, &sigma_lo, &sigma_hi) || sigma_lo < 0 || sigma_hi > 255))
    FAIL(_("--sigma takes a range like 0-50 within 0–255, not “%s”"), o->sigma);
  if (o->jpeg != NULL
      && (!parse_range(o->jpeg, &jpeg_lo, &jpeg_hi) || jpeg_lo < 1 || jpeg_hi > 100))
    FAIL(_("--jpeg takes a quality range like 30-95 within 1–100, not “%s”"), o->jpeg);

  aenet_train_config_init(cfg, o->task != NULL ? o->task : "denoise", o->scale ? o->scale : 2);
  cfg->data_dir = g_strdup(o->data);
  cfg->photo = o->photo         ? AENET_PHOTO_TASK_MIX
               : o->photo_jpeg  ? AENET_PHOTO_STRONG_JPEG
               : o->photo_grain ? AENET_PHOTO_CAMERA_GRAIN
               : o->photo_mottle ? AENET_PHOTO_MOTTLE
                                : AENET_PHOTO_NONE;
  cfg->area_sampling = !o->per_image;
  if (o->patch)
    cfg->patch = o->patch;
  if (o->seed >= 0)
    cfg->seed = o->seed;
  if (o->cache_mb > 0)
    cfg->cache_bytes = (gsize)(o->cache_mb * 1048576.0);
  cfg->poisson_gain = o->poisson;
  cfg->lr_sigma = o->lr_sigma;
  cfg->unclipped = o->unclipped;
  cfg->overstated = o->overstated;
  if (o->sigma != NULL) {
    cfg->sigma_min = sigma_lo;
    cfg->sigma_max = sigma_hi;
  }
  if (o->jpeg != NULL) {
    cfg->jpeg_min = jpeg_lo;
    cfg->jpeg_max = jpeg_hi;
  }
  return TRUE;
}

#undef FAIL

void
aenet_data_options_clear(AenetDataOptions *o)
{
  g_free(o->task);
  g_free(o->data);
  g_free(o->sigma);
  g_free(o->jpeg);
  memset(o, 0, sizeof *o);
}
