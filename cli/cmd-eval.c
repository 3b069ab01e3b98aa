/* cmd-eval.c — "aenet eval": a model's quality on a folder of test images,
 * measured the way the papers measure it (see metrics.h).
 *
 *   denoise: clean image + N(0, (sigma/255)^2) (fixed seed per image and
 *            sigma, not clipped; with --clip clipped and rounded to 8 bits
 *            as a saved file is) → model → PSNR/SSIM of the 8-bit output
 *            against the clean image; the baseline is the noisy input.
 *   upscale: *_HR.* images (or every image) cropped to a multiple of the
 *            scale; the LR image is the matching *_LR.* file or the bicubic
 *            downscale → model → Y PSNR/SSIM with `scale` pixels of border
 *            cropped; the baseline is bicubic upscaling of the LR image.
 *
 * Layout: images are planar (c, h, w) floats in [0, 1], c = 1 or 3 (alpha
 * is dropped). */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <glib/gi18n.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "degrade.h"
#include "error.h"
#include "imageio.h"
#include "json.h"
#include "metrics.h"
#include "job.h"
#include "model.h"
#include "resize.h"
#include "safetensors.h"
#include "tiler.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define SIGMA_MAX 75.0
#define MAX_SIGMAS 16
#define THREADS_MAX 1024

typedef struct {
  char *name; /* file name without folder */
  char *path;
  int c, h, w; /* c = 1 or 3 */
  float *data; /* (c, h, w) */
} EvalImage;

typedef struct {
  char *name;
  int condition; /* sigma or scale */
  double psnr, ssim, baseline_psnr, baseline_ssim;
} EvalResult;

/* The model runs through a job, as in the commands; sigma on 0–255. */
static gboolean
run_model(AenetJob *job, const float *input, float *output, int c, int h, int w, double sigma,
          GError **error)
{
  aenet_job_set_noise_level(job, sigma);
  return aenet_job_run_planar(job, input, c, h, w, output, error);
}

/* ---- images ---- */

static void
eval_image_free(EvalImage *im)
{
  if (im == NULL)
    return;
  g_free(im->name);
  g_free(im->path);
  g_free(im->data);
  g_free(im);
}

/* Loads a file as planar gray or RGB floats, alpha dropped. */
static EvalImage *
eval_image_load(const char *path, GError **error)
{
  int c, w, h;
  float *data = aenet_image_load_planar(path, &c, &w, &h, error);
  if (data == NULL)
    return NULL;
  EvalImage *im = g_new0(EvalImage, 1);
  im->path = g_strdup(path);
  im->name = g_path_get_basename(path);
  im->c = c;
  im->h = h;
  im->w = w;
  im->data = data;
  return im;
}

static gboolean
has_image_extension(const char *name)
{
  const char *dot = strrchr(name, '.');
  if (dot == NULL)
    return FALSE;
  static const char *const exts[] = { ".png", ".jpg", ".jpeg", ".tif", ".tiff" };
  for (guint i = 0; i < G_N_ELEMENTS(exts); i++)
    if (g_ascii_strcasecmp(dot, exts[i]) == 0)
      return TRUE;
  return FALSE;
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted file names (not paths) of the images in dir. */
static GPtrArray *
list_images(const char *dir, GError **error)
{
  GDir *d = g_dir_open(dir, 0, error);
  if (d == NULL)
    return NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL)
    if (has_image_extension(name))
      g_ptr_array_add(names, g_strdup(name));
  g_dir_close(d);
  g_ptr_array_sort(names, compare_strings);
  return names;
}

/* Whether name contains `tag` (e.g. "_HR.") — the SR test sets' naming. */
static gboolean
name_has_tag(const char *name, const char *tag)
{
  return strstr(name, tag) != NULL;
}

/* A seed that depends only on the image's name and the condition, so a
 * result does not change with --limit or the folder's other files. */
static guint64
seed_for(const char *name, int condition)
{
  guint64 h = 1469598103934665603ull; /* FNV-1a */
  for (const char *p = name; *p; p++)
    h = (h ^ (guchar)*p) * 1099511628211ull;
  return h ^ ((guint64)condition * 0x9E3779B97F4A7C15ull);
}

/* ---- options ---- */

static gboolean
parse_sigmas(const char *text, int *sigmas, int *n)
{
  char **parts = g_strsplit(text, ",", -1);
  *n = 0;
  gboolean ok = parts[0] != NULL;
  for (int i = 0; ok && parts[i] != NULL; i++) {
    char *end = NULL;
    const char *s = g_strstrip(parts[i]);
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < 0 || v > SIGMA_MAX || *n == MAX_SIGMAS)
      ok = FALSE;
    else
      sigmas[(*n)++] = (int)v;
  }
  g_strfreev(parts);
  return ok && *n > 0;
}

/* ---- output ---- */

static void
append_number(GString *out, double v, int decimals)
{
  if (isfinite(v))
    g_string_append_printf(out, "%.*f", decimals, v);
  else
    g_string_append(out, "null");
}

/* The mean scores of one condition in *mean; returns how many images. */
static int
condition_mean(GArray *results, int condition, EvalResult *mean)
{
  int count = 0;
  memset(mean, 0, sizeof *mean);
  for (guint i = 0; i < results->len; i++) {
    const EvalResult *r = &g_array_index(results, EvalResult, i);
    if (r->condition != condition)
      continue;
    mean->psnr += r->psnr;
    mean->ssim += r->ssim;
    mean->baseline_psnr += r->baseline_psnr;
    mean->baseline_ssim += r->baseline_ssim;
    count++;
  }
  if (count > 0) {
    mean->psnr /= count;
    mean->ssim /= count;
    mean->baseline_psnr /= count;
    mean->baseline_ssim /= count;
  }
  return count;
}

static void
print_json(const char *task, const char *model_name, const char *key, const int *conditions,
           int n_conditions, GArray *results)
{
  GString *out = g_string_new("{\"task\": ");
  aenet_json_append_string(out, task);
  g_string_append(out, ", \"model\": ");
  aenet_json_append_string(out, model_name);
  g_string_append(out, ", \"conditions\": [");
  for (int k = 0; k < n_conditions; k++) {
    EvalResult mean;
    int count = condition_mean(results, conditions[k], &mean);
    g_string_append_printf(out, "%s{\"%s\": %d, \"psnr\": ", k ? ", " : "", key, conditions[k]);
    append_number(out, count ? mean.psnr : NAN, 4);
    g_string_append(out, ", \"ssim\": ");
    append_number(out, count ? mean.ssim : NAN, 6);
    g_string_append(out, ", \"baseline_psnr\": ");
    append_number(out, count ? mean.baseline_psnr : NAN, 4);
    g_string_append(out, ", \"baseline_ssim\": ");
    append_number(out, count ? mean.baseline_ssim : NAN, 6);
    g_string_append_printf(out, ", \"images\": %d}", count);
  }
  g_string_append(out, "], \"images\": [");
  for (guint i = 0; i < results->len; i++) {
    EvalResult *r = &g_array_index(results, EvalResult, i);
    g_string_append(out, i ? ", {\"name\": " : "{\"name\": ");
    aenet_json_append_string(out, r->name);
    g_string_append_printf(out, ", \"%s\": %d, \"psnr\": ", key, r->condition);
    append_number(out, r->psnr, 4);
    g_string_append(out, ", \"ssim\": ");
    append_number(out, r->ssim, 6);
    g_string_append(out, ", \"baseline_psnr\": ");
    append_number(out, r->baseline_psnr, 4);
    g_string_append(out, "}");
  }
  g_string_append(out, "]}\n");
  g_print("%s", out->str);
  g_string_free(out, TRUE);
}

static void
print_means(const char *key_label, const int *conditions, int n_conditions, GArray *results)
{
  g_print("\n%-10s %7s %10s %8s %10s %8s\n", key_label, _("images"), _("baseline"), _("SSIM"),
          _("model"), _("SSIM"));
  for (int k = 0; k < n_conditions; k++) {
    EvalResult mean;
    int count = condition_mean(results, conditions[k], &mean);
    if (count == 0)
      continue;
    g_print("%-10d %7d %10.2f %8.4f %10.2f %8.4f\n", conditions[k], count, mean.baseline_psnr,
            mean.baseline_ssim, mean.psnr, mean.ssim);
  }
}

/* ---- the inputs given to the model (--save-inputs) ---- */

static void
tensor_free(AenetTensor *t)
{
  g_free(t->name);
  g_free(t->data);
  g_free(t);
}

static void
saved_add(GPtrArray *saved, const char *role, const float *data, int c, int h, int w)
{
  AenetTensor *t = g_new0(AenetTensor, 1);
  t->name = g_strdup_printf("%u.%s", saved->len / 2, role);
  t->n_dims = 3;
  t->shape[0] = c, t->shape[1] = h, t->shape[2] = w;
  t->n_elements = (gsize)c * h * w;
  t->data = g_memdup2(data, t->n_elements * sizeof(float));
  g_ptr_array_add(saved, t);
}

/* One pair per image and condition, "<k>.input" (c, h, w) as the model got
 * it and "<k>.target" (c, H, W); metadata "<k>.name", "<k>.<key>", "task". */
static gboolean
saved_write(GPtrArray *saved, GArray *results, const char *task, const char *key, const char *path,
            GError **error)
{
  GHashTable *meta = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert(meta, g_strdup("task"), g_strdup(task));
  for (guint i = 0; i < results->len; i++) {
    const EvalResult *r = &g_array_index(results, EvalResult, i);
    g_hash_table_insert(meta, g_strdup_printf("%u.name", i), g_strdup(r->name));
    g_hash_table_insert(meta, g_strdup_printf("%u.%s", i, key),
                        g_strdup_printf("%d", r->condition));
  }
  gboolean ok = aenet_safetensors_save(path, (const AenetTensor *const *)saved->pdata, saved->len,
                                       meta, error);
  g_hash_table_unref(meta);
  return ok;
}

/* ---- the two tasks ---- */

static gboolean
eval_denoise_image(AenetJob *job, const EvalImage *im, int sigma, gboolean clip, GPtrArray *saved,
                   EvalResult *r, GError **error)
{
  gsize n = (gsize)im->c * im->h * im->w;
  float *noisy = g_new(float, n);  /* (c, h, w) */
  float *output = g_new(float, n); /* (c, h, w) */
  memcpy(noisy, im->data, n * sizeof(float));
  AenetRng rng;
  aenet_rng_init(&rng, seed_for(im->name, sigma));
  aenet_degrade_gaussian(noisy, n, (float)sigma, &rng);
  if (clip)
    aenet_degrade_quantize(noisy, n, 255);
  gboolean ok = run_model(job, noisy, output, im->c, im->h, im->w, sigma, error);
  if (ok) {
    r->name = im->name;
    r->condition = sigma;
    aenet_metrics_denoise(output, im->data, im->c, im->h, im->w, &r->psnr, &r->ssim);
    aenet_metrics_denoise(noisy, im->data, im->c, im->h, im->w, &r->baseline_psnr,
                          &r->baseline_ssim);
    if (saved != NULL) {
      saved_add(saved, "input", noisy, im->c, im->h, im->w);
      saved_add(saved, "target", im->data, im->c, im->h, im->w);
    }
  }
  g_free(noisy);
  g_free(output);
  return ok;
}

/* The low-resolution partner of an *_HR.* file: the same name with _LR.,
 * any image extension. NULL when there is none. */
static char *
find_lr_path(const char *dir, const char *hr_name, GPtrArray *names)
{
  const char *tag = strstr(hr_name, "_HR.");
  if (tag == NULL)
    return NULL;
  gsize stem = tag - hr_name;
  for (guint i = 0; i < names->len; i++) {
    const char *n = names->pdata[i];
    if (strncmp(n, hr_name, stem) == 0 && strncmp(n + stem, "_LR.", 4) == 0)
      return g_build_filename(dir, n, NULL);
  }
  return NULL;
}

/* Crops im in place to (h - h % s, w - w % s), keeping the top-left part. */
static void
crop_to_multiple(EvalImage *im, int s)
{
  int h = im->h - im->h % s, w = im->w - im->w % s;
  if (h == im->h && w == im->w)
    return;
  float *d = g_new(float, (gsize)im->c *h *w);
  for (int k = 0; k < im->c; k++)
    for (int y = 0; y < h; y++)
      memcpy(d + ((gsize)k * h + y) * w, im->data + ((gsize)k * im->h + y) * im->w,
             sizeof(float) * w);
  g_free(im->data);
  im->data = d;
  im->h = h;
  im->w = w;
}

static gboolean
eval_upscale_image(AenetJob *job, EvalImage *hr, const char *lr_path, GPtrArray *saved,
                   EvalResult *r, GError **error)
{
  int s = aenet_job_get_scale(job);
  crop_to_multiple(hr, s);
  int lh = hr->h / s, lw = hr->w / s, c = hr->c;
  if (lh < 1 || lw < 1) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("%s is too small for ×%d upscaling"),
                hr->name, s);
    return FALSE;
  }
  gsize ln = (gsize)c * lh * lw, hn = (gsize)c * hr->h * hr->w;
  float *lr = NULL; /* (c, lh, lw) */
  if (lr_path != NULL) {
    EvalImage *lim = eval_image_load(lr_path, error);
    if (lim == NULL)
      return FALSE;
    if (lim->h != lh || lim->w != lw || lim->c != c) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                  _("%s is %d×%d with %d channels, but its HR image needs %d×%d with %d "
                    "at ×%d"),
                  lr_path, lim->w, lim->h, lim->c, lw, lh, c, s);
      eval_image_free(lim);
      return FALSE;
    }
    lr = lim->data;
    lim->data = NULL;
    eval_image_free(lim);
  } else {
    lr = g_new(float, ln);
    float *scratch = g_new(float, aenet_degrade_downscale_scratch_size(c, hr->h, hr->w, s));
    aenet_degrade_downscale(lr, hr->data, scratch, c, hr->h, hr->w, s);
    /* A saved LR file is 8-bit; match what the test sets provide. */
    aenet_degrade_quantize(lr, ln, 255);
    g_free(scratch);
  }

  float *output = g_new(float, hn);  /* (c, h, w) */
  float *bicubic = g_new(float, hn); /* (c, h, w) */
  float *scratch = g_new(float, aenet_resize_scratch_size(c, lh, lw, hr->h, hr->w));
  aenet_resize_bicubic(bicubic, lr, scratch, c, lh, lw, hr->h, hr->w);
  gboolean ok = run_model(job, lr, output, c, lh, lw, 0.0, error);
  if (ok) {
    r->name = hr->name;
    r->condition = s;
    aenet_metrics_upscale(output, hr->data, c, hr->h, hr->w, s, &r->psnr, &r->ssim);
    aenet_metrics_upscale(bicubic, hr->data, c, hr->h, hr->w, s, &r->baseline_psnr,
                          &r->baseline_ssim);
    if (saved != NULL) {
      saved_add(saved, "input", lr, c, lh, lw);
      saved_add(saved, "target", hr->data, c, hr->h, hr->w);
    }
  }
  g_free(scratch);
  g_free(bicubic);
  g_free(output);
  g_free(lr);
  return ok;
}

/* ---- the command ---- */

int
aenet_cmd_eval(int argc, char **argv)
{
  char *model_name = NULL, *data_dir = NULL, *sigma_text = NULL, *save_inputs = NULL;
  int scale = 0, n_threads = 0, limit = 0, passes = 1;
  gboolean json = FALSE, clip = FALSE;
  int status = EXIT_RUNTIME;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model_name, N_("Model name or file"), N_("MODEL") },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, N_("Folder of test images"), N_("DIR") },
    { "sigma", 0, 0, G_OPTION_ARG_STRING, &sigma_text,
      N_("Noise levels to test, 0–75 on the 0–255 scale (default 15,25,50)"), N_("LIST") },
    { "clip", 0, 0, G_OPTION_ARG_NONE, &clip,
      N_("Clip and round the noisy images to 8 bits, as a saved file is"), NULL },
    { "scale", 0, 0, G_OPTION_ARG_INT, &scale, N_("Upscaling factor (must match the model)"),
      N_("N") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the results as JSON"), NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &n_threads, N_("Worker threads (0 = one per core)"),
      N_("N") },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, N_("Use only the first N images"), N_("N") },
    { "passes", 0, 0, G_OPTION_ARG_INT, &passes,
      N_("Also run on mirror images and average: 1 (default) to 4 passes"), N_("N") },
    { "save-inputs", 0, 0, G_OPTION_ARG_FILENAME, &save_inputs,
      N_("Also write each input given to the model and its reference image to FILE "
         "(safetensors), to validate with the same data elsewhere"),
      N_("FILE") },
    { NULL }
  };
  GOptionContext *context = g_option_context_new(_("- measure a model on test images"));
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      context, _("Denoising: PSNR/SSIM over RGB after adding Gaussian noise of each sigma.\n"
                 "Upscaling: PSNR/SSIM of the Y channel, border of `scale` pixels cropped;\n"
                 "*_HR.* / *_LR.* pairs are used when the folder has them."));
  GError *error = NULL;
  AenetJob *job = NULL;
  const AenetModel *model = NULL;
  GPtrArray *names = NULL;
  GArray *results = g_array_new(FALSE, TRUE, sizeof(EvalResult));
  GPtrArray *keep = g_ptr_array_new_with_free_func((GDestroyNotify)eval_image_free);
  GPtrArray *saved = NULL;
  int sigmas[MAX_SIGMAS], n_sigmas = 0;

  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr("aenet eval: %s\n", error->message);
    status = EXIT_USAGE;
    goto out;
  }
  if (model_name == NULL || data_dir == NULL) {
    g_printerr(_("aenet eval: both -m MODEL and --data DIR are needed\n"));
    status = EXIT_USAGE;
    goto out;
  }
  if (sigma_text != NULL && scale != 0) {
    g_printerr(_("aenet eval: --sigma is for denoising and --scale for upscaling; give one\n"));
    status = EXIT_USAGE;
    goto out;
  }
  if (sigma_text != NULL && !parse_sigmas(sigma_text, sigmas, &n_sigmas)) {
    g_printerr(_("aenet eval: --sigma needs a comma-separated list of whole numbers from 0 "
                 "to %d (at most %d of them), not “%s”\n"),
               (int)SIGMA_MAX, MAX_SIGMAS, sigma_text);
    status = EXIT_USAGE;
    goto out;
  }
  if (scale != 0 && (scale < 2 || scale > 4)) {
    g_printerr(_("aenet eval: --scale must be 2, 3 or 4, not %d\n"), scale);
    status = EXIT_USAGE;
    goto out;
  }
  if (n_threads < 0 || n_threads > THREADS_MAX || limit < 0) {
    g_printerr(_("aenet eval: --threads must be from 0 to %d and --limit not negative\n"),
               THREADS_MAX);
    status = EXIT_USAGE;
    goto out;
  }

  AenetJobSettings settings;
  aenet_job_settings_init(&settings, NULL);
  settings.model = model_name;
  settings.n_threads = n_threads;
  settings.passes = passes;
  job = aenet_job_new(NULL, &settings, &error);
  if (job == NULL) {
    g_printerr("aenet eval: %s\n", error->message);
    goto out;
  }
  model = aenet_job_get_model(job);
  AenetMetric metric = aenet_job_get_task(job)->metric;
  if (metric == AENET_METRIC_NONE) {
    g_printerr(_("aenet eval: %s is a “%s” model, which has no test protocol\n"),
               aenet_model_get_display_name(model), model->task);
    goto out;
  }
  gboolean denoise = metric == AENET_METRIC_DENOISE_RGB;
  if ((sigma_text != NULL && !denoise) || (scale != 0 && denoise)) {
    if (denoise)
      g_printerr(_("aenet eval: %s is a denoising model; --scale is for upscaling models\n"),
                 aenet_model_get_display_name(model));
    else
      g_printerr(_("aenet eval: %s is an upscaling model; --sigma is for denoising models\n"),
                 aenet_model_get_display_name(model));
    status = EXIT_USAGE;
    goto out;
  }
  if (!denoise && scale != 0 && scale != model->scale) {
    g_printerr(_("aenet eval: --scale %d does not match %s, which enlarges %d times\n"), scale,
               aenet_model_get_display_name(model), model->scale);
    status = EXIT_USAGE;
    goto out;
  }
  if (denoise && n_sigmas == 0) {
    sigmas[0] = 15, sigmas[1] = 25, sigmas[2] = 50;
    n_sigmas = 3;
  }

  names = list_images(data_dir, &error);
  if (names == NULL) {
    g_printerr("aenet eval: %s\n", error->message);
    goto out;
  }
  /* For upscaling, the HR files are the test images when there are any. */
  gboolean paired = FALSE;
  if (!denoise)
    for (guint i = 0; i < names->len && !paired; i++)
      paired = name_has_tag(names->pdata[i], "_HR.");
  GPtrArray *tests = g_ptr_array_new();
  for (guint i = 0; i < names->len; i++)
    if (!paired || name_has_tag(names->pdata[i], "_HR."))
      g_ptr_array_add(tests, names->pdata[i]);
  if (limit > 0 && tests->len > (guint)limit)
    g_ptr_array_set_size(tests, limit);
  if (tests->len == 0) {
    g_printerr(_("aenet eval: %s has no PNG, JPEG or TIFF images\n"), data_dir);
    g_ptr_array_unref(tests);
    goto out;
  }

  const char *key = denoise ? "sigma" : "scale";
  int conditions[MAX_SIGMAS];
  int n_conditions = denoise ? n_sigmas : 1;
  if (denoise)
    memcpy(conditions, sigmas, sizeof(int) * n_sigmas);
  else
    conditions[0] = model->scale;

  if (!json) {
    g_print(
        ngettext("Model %s, %s, %u image in %s\n", "Model %s, %s, %u images in %s\n", tests->len),
        aenet_model_get_display_name(model), model->task, tests->len, data_dir);
    g_print("\n%-28s %-6s %10s %10s %8s\n", _("image"), key, _("baseline"), _("PSNR"), _("SSIM"));
  }
  gint64 start = g_get_monotonic_time();
  int failures = 0;
  if (save_inputs != NULL)
    saved = g_ptr_array_new_with_free_func((GDestroyNotify)tensor_free);
  for (guint i = 0; i < tests->len; i++) {
    char *file = g_build_filename(data_dir, tests->pdata[i], NULL);
    EvalImage *im = eval_image_load(file, &error);
    g_free(file);
    if (im == NULL) {
      g_printerr(_("aenet eval: warning: skipping %s: %s\n"), (char *)tests->pdata[i],
                 error->message);
      g_clear_error(&error);
      failures++;
      continue;
    }
    g_ptr_array_add(keep, im); /* results point at its name */
    char *lr_path = paired ? find_lr_path(data_dir, im->name, names) : NULL;
    for (int k = 0; k < n_conditions; k++) {
      EvalResult r = { 0 };
      gboolean ok = denoise ? eval_denoise_image(job, im, conditions[k], clip, saved, &r, &error)
                            : eval_upscale_image(job, im, lr_path, saved, &r, &error);
      if (!ok) {
        g_printerr(_("aenet eval: warning: skipping %s: %s\n"), im->name, error->message);
        if (error->code == AENET_ERROR_CANCELLED || error->code == AENET_ERROR_NOMEM) {
          g_free(lr_path);
          g_ptr_array_unref(tests);
          goto out;
        }
        g_clear_error(&error);
        failures++;
        break;
      }
      g_array_append_val(results, r);
      if (!json)
        g_print("%-28s %-6d %10.2f %10.2f %8.4f\n", r.name, r.condition, r.baseline_psnr, r.psnr,
                r.ssim);
    }
    g_free(lr_path);
    /* Free the pixels now; only the name is needed later. */
    g_clear_pointer(&im->data, g_free);
  }
  g_ptr_array_unref(tests);
  double seconds = (g_get_monotonic_time() - start) / 1e6;

  if (results->len == 0) {
    g_printerr(_("aenet eval: no image in %s could be evaluated\n"), data_dir);
    goto out;
  }
  if (json) {
    print_json(model->task, aenet_model_get_display_name(model), key, conditions, n_conditions,
               results);
    g_printerr(_("Evaluated in %.1f s\n"), seconds);
  } else {
    print_means(key, conditions, n_conditions, results);
    g_print(_("\nEvaluated in %.1f s"), seconds);
    if (failures > 0)
      g_print(ngettext(" (%d image skipped)", " (%d images skipped)", failures), failures);
    g_print("\n");
  }
  if (saved != NULL && !saved_write(saved, results, model->task, key, save_inputs, &error)) {
    g_printerr("aenet eval: %s\n", error->message);
    goto out;
  }
  status = 0;

out:
  g_clear_error(&error);
  g_array_unref(results);
  g_ptr_array_unref(keep);
  if (names != NULL)
    g_ptr_array_unref(names);
  aenet_job_free(job);
  g_option_context_free(context);
  g_free(model_name);
  g_free(data_dir);
  g_free(sigma_text);
  g_free(save_inputs);
  if (saved != NULL)
    g_ptr_array_unref(saved);
  return status;
}
