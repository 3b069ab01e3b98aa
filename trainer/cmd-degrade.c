/* cmd-degrade.c — "aenet degrade": training pairs made by aenet's own
 * degradations, written as shards for another trainer (tools/torch/train.py).
 *
 * A shard is a safetensors file (shard-NNNNN.safetensors) holding
 *   "input"  (n, 3, p, p)      noisy or low-resolution patches,
 *   "target" (n, 3, p*s, p*s)  the clean patches,
 *   "sigma"  (n)               the noise level the network is given, σ/255,
 * and metadata saying how they were made ("aenet.shard" = "1"). Pairs are
 * drawn as `aenet train` draws its batches, from one generator seeded the
 * same way, so the same seed and options give the same pairs. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "commands.h"
#include "dataset.h"
#include "degrade.h"
#include "rng.h"
#include "safetensors.h"
#include "train.h"

#define SHARD_FORMAT "1"

/* Interim copy of train.c's make_sample, until train.c offers it. */
static gboolean
make_pair(const AenetTrainConfig *c, AenetDataset *ds, AenetRng *rng, float *input, float *target,
          float *sigma, GError **error)
{
  int s = c->scale, p = c->patch;
  guint image = aenet_rng_below(rng, aenet_dataset_get_n_images(ds));
  int w, h;
  aenet_dataset_get_size(ds, image, &w, &h);
  int x = aenet_rng_below(rng, w / s - p + 1);
  int y = aenet_rng_below(rng, h / s - p + 1);
  int transform = aenet_rng_below(rng, 8);
  if (!aenet_dataset_get_patch(ds, image, x, y, p, transform, target, s > 1 ? input : NULL, error))
    return FALSE;
  gsize n = (gsize)3 * p * p;
  float level = 0;
  if (s == 1) {
    memcpy(input, target, n * sizeof(float));
    level = c->sigma_min + (c->sigma_max - c->sigma_min) * aenet_rng_uniform(rng);
  } else if (c->lr_sigma > 0)
    level = c->lr_sigma * aenet_rng_uniform(rng);
  if (c->jpeg_max > 0) {
    int q = c->jpeg_min + aenet_rng_below(rng, c->jpeg_max - c->jpeg_min + 1);
    if (!aenet_degrade_jpeg(input, 3, p, p, q, error))
      return FALSE;
  }
  if (c->poisson_gain > 0)
    aenet_degrade_poisson_gaussian(input, n, c->poisson_gain * aenet_rng_uniform(rng), 0, rng);
  if (level > 0)
    aenet_degrade_gaussian(input, n, level, rng);
  *sigma = level / 255.0f;
  return TRUE;
}

static void
meta_add(GHashTable *meta, const char *key, char *value)
{
  g_hash_table_insert(meta, g_strdup(key), value);
}

/* How the pairs were made, so a shard describes itself. */
static GHashTable *
shard_metadata(const AenetTrainConfig *c, long first, int count)
{
  GHashTable *meta = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  meta_add(meta, "aenet.shard", g_strdup(SHARD_FORMAT));
  meta_add(meta, "task", g_strdup(c->task));
  meta_add(meta, "scale", g_strdup_printf("%d", c->scale));
  meta_add(meta, "patch", g_strdup_printf("%d", c->patch));
  meta_add(meta, "seed", g_strdup_printf("%" G_GUINT64_FORMAT, c->seed));
  meta_add(meta, "first", g_strdup_printf("%ld", first));
  meta_add(meta, "count", g_strdup_printf("%d", count));
  meta_add(meta, "data", g_strdup(c->data_dir));
  meta_add(meta, "sigma", g_strdup_printf("%g-%g", c->sigma_min, c->sigma_max));
  meta_add(meta, "lr_sigma", g_strdup_printf("%g", c->lr_sigma));
  meta_add(meta, "poisson", g_strdup_printf("%g", c->poisson_gain));
  meta_add(meta, "jpeg", g_strdup_printf("%d-%d", c->jpeg_min, c->jpeg_max));
  return meta;
}

/* Draws `count` pairs and writes them to path. */
static gboolean
write_shard(const AenetTrainConfig *c, AenetDataset *ds, AenetRng *rng, long first, int count,
            const char *path, GError **error)
{
  int p = c->patch, hp = p * c->scale;
  gsize in_n = (gsize)3 * p * p, out_n = (gsize)3 * hp * hp;
  float *input = g_try_new(float, in_n * count);   /* (count, 3, p, p) */
  float *target = g_try_new(float, out_n * count); /* (count, 3, hp, hp) */
  float *sigma = g_new(float, count);              /* (count) */
  gboolean ok = input != NULL && target != NULL;
  if (!ok)
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, _("not enough memory for a shard of %d "
                                                           "pairs"),
                count);
  for (int i = 0; ok && i < count; i++)
    ok = make_pair(c, ds, rng, input + i * in_n, target + i * out_n, &sigma[i], error);
  if (ok) {
    AenetTensor tensors[3] = {
      { "input", 4, { count, 3, p, p }, in_n * count, input },
      { "target", 4, { count, 3, hp, hp }, out_n * count, target },
      { "sigma", 1, { count }, count, sigma },
    };
    const AenetTensor *list[3] = { &tensors[0], &tensors[1], &tensors[2] };
    GHashTable *meta = shard_metadata(c, first, count);
    ok = aenet_safetensors_save(path, list, 3, meta, error);
    g_hash_table_unref(meta);
  }
  g_free(input);
  g_free(target);
  g_free(sigma);
  return ok;
}

int
aenet_cmd_degrade(int argc, char **argv)
{
  char *task = NULL, *data = NULL, *out = NULL, *sigma = NULL, *jpeg = NULL;
  int scale = 0, patch = 0, shard_size = 512;
  gint64 samples = 0, seed = -1;
  double poisson = 0, lr_sigma = 0, cache_mb = 0;
  GOptionEntry entries[] = {
    { "task", 0, 0, G_OPTION_ARG_STRING, &task, N_("denoise or upscale"), N_("TASK") },
    { "scale", 0, 0, G_OPTION_ARG_INT, &scale, N_("Upscaling factor: 2, 3 or 4"), "N" },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &data, N_("Folder of training images"), N_("DIR") },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, N_("Folder for the shards"), N_("DIR") },
    { "samples", 0, 0, G_OPTION_ARG_INT64, &samples, N_("Number of pairs to write"), "N" },
    { "shard-size", 0, 0, G_OPTION_ARG_INT, &shard_size, N_("Pairs per shard (default 512)"),
      "N" },
    { "patch", 0, 0, G_OPTION_ARG_INT, &patch,
      N_("Patch size in input pixels (default 96 for denoise, 48 for upscale)"), "PX" },
    { "sigma", 0, 0, G_OPTION_ARG_STRING, &sigma,
      N_("Training noise levels, 0–255 scale (default 0-50)"), N_("MIN-MAX") },
    { "lr-sigma", 0, 0, G_OPTION_ARG_DOUBLE, &lr_sigma,
      N_("Upscaling: add noise up to this level (0–255) to the low-resolution input"), "S" },
    { "poisson", 0, 0, G_OPTION_ARG_DOUBLE, &poisson,
      N_("Also add signal-dependent noise up to this gain"), "G" },
    { "jpeg", 0, 0, G_OPTION_ARG_STRING, &jpeg,
      N_("Also compress inputs as JPEG at a quality in this range"), N_("MIN-MAX") },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, N_("Random seed (default 1)"), "N" },
    { "cache-mb", 0, 0, G_OPTION_ARG_DOUBLE, &cache_mb,
      N_("Memory for decoded images (default 2048)"), "MB" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new(NULL);
  g_option_context_set_summary(
      ctx, _("Writes training pairs made by aenet's degradations, as `aenet train` makes them,\n"
             "to shards that other trainers read (tools/torch/train.py). The same seed and\n"
             "options give the same pairs."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  GError *error = NULL;
  int status = 2;
  AenetTrainConfig cfg = { 0 };
  AenetDataset *ds = NULL;
  double lo, hi;
  if (!g_option_context_parse(ctx, &argc, &argv, &error))
    goto usage;
  if (argc > 1) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _("unexpected argument “%s”"),
                argv[1]);
    goto usage;
  }
  if (task == NULL || (strcmp(task, "denoise") != 0 && strcmp(task, "upscale") != 0)) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("--task denoise or --task upscale is required"));
    goto usage;
  }
  if (scale != 0 && (scale < 2 || scale > 4)) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("the scale must be 2, 3 or 4, not %d"), scale);
    goto usage;
  }
  if (data == NULL || out == NULL || samples <= 0 || shard_size <= 0 || patch < 0) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("--data DIR, --out DIR and --samples N are required (N, --shard-size and "
                  "--patch positive)"));
    goto usage;
  }
  aenet_train_config_init(&cfg, task, scale ? scale : 2);
  cfg.data_dir = g_strdup(data);
  if (patch)
    cfg.patch = patch;
  if (seed >= 0)
    cfg.seed = seed;
  if (cache_mb > 0)
    cfg.cache_bytes = (gsize)(cache_mb * 1048576.0);
  cfg.poisson_gain = poisson;
  if (lr_sigma < 0 || lr_sigma > 255) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("--lr-sigma must be within 0–255, not %g"), lr_sigma);
    goto usage;
  }
  cfg.lr_sigma = lr_sigma;
  if (sigma != NULL) {
    if (!aenet_cmd_parse_range(sigma, &lo, &hi) || lo < 0 || hi > 255) {
      g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                  _("--sigma takes a range like 0-50 within 0–255, not “%s”"), sigma);
      goto usage;
    }
    cfg.sigma_min = lo;
    cfg.sigma_max = hi;
  }
  if (jpeg != NULL) {
    if (!aenet_cmd_parse_range(jpeg, &lo, &hi) || lo < 1 || hi > 100) {
      g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                  _("--jpeg takes a quality range like 30-95 within 1–100, not “%s”"), jpeg);
      goto usage;
    }
    cfg.jpeg_min = lo;
    cfg.jpeg_max = hi;
  }

  status = 1;
  GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
  ds = aenet_dataset_open(cfg.data_dir, cfg.scale, cfg.patch * cfg.scale, 1, cfg.cache_bytes,
                          warnings, &error);
  for (guint i = 0; i < warnings->len; i++)
    g_printerr("%s\n", (char *)g_ptr_array_index(warnings, i));
  g_ptr_array_unref(warnings);
  if (ds == NULL || g_mkdir_with_parents(out, 0755) != 0) {
    if (error == NULL)
      g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_FAILED, _("could not create the folder %s"),
                  out);
    g_printerr("aenet degrade: %s\n", error->message);
    goto done;
  }
  AenetRng rng;
  aenet_rng_init(&rng, cfg.seed ^ 0xda7a); /* as train.c seeds its data generator */
  for (long first = 0, k = 0; first < samples; first += shard_size, k++) {
    int count = (int)MIN(shard_size, samples - first);
    char *name = g_strdup_printf("shard-%05ld.safetensors", k);
    char *path = g_build_filename(out, name, NULL);
    gboolean ok = write_shard(&cfg, ds, &rng, first, count, path, &error);
    if (ok)
      g_print(_("%s: %d pairs\n"), path, count);
    g_free(path);
    g_free(name);
    if (!ok) {
      g_printerr("aenet degrade: %s\n", error->message);
      goto done;
    }
  }
  status = 0;
  goto done;

usage:
  g_printerr("aenet degrade: %s\n%s\n", error->message,
             _("Run 'aenet degrade --help' for the options."));
done:
  g_clear_error(&error);
  aenet_dataset_free(ds);
  aenet_train_config_clear(&cfg);
  g_option_context_free(ctx);
  g_free(task), g_free(data), g_free(out), g_free(sigma), g_free(jpeg);
  return status;
}
