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
#include "data-options.h"
#include "dataset.h"
#include "degrade.h"
#include "safetensors.h"
#include "train.h"

#define SHARD_FORMAT "1"

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
  meta_add(meta, "photo", g_strdup_printf("%d", c->photo));
  meta_add(meta, "area_sampling", g_strdup_printf("%d", c->area_sampling));
  return meta;
}

/* Draws `count` pairs and writes them to path. */
static gboolean
write_shard(const AenetTrainConfig *c, AenetDataset *ds, const AenetImagePicker *picker,
            AenetRng *rng, long first, int count, const char *path, GError **error)
{
  int p = c->patch, hp = p * c->scale;
  gsize in_n = (gsize)3 * p * p, out_n = (gsize)3 * hp * hp;
  float *input = g_try_new(float, in_n *count);   /* (count, 3, p, p) */
  float *target = g_try_new(float, out_n *count); /* (count, 3, hp, hp) */
  float *sigma = g_new(float, count);             /* (count) */
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(p, p));
  gboolean ok = input != NULL && target != NULL;
  if (!ok)
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                _("not enough memory for a shard of %d pairs"), count);
  for (int i = 0; ok && i < count; i++)
    ok = aenet_train_draw_sample(c, ds, picker, scratch, rng, input + i * in_n, target + i * out_n,
                                 &sigma[i], error);
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
  g_free(scratch);
  return ok;
}

int
aenet_cmd_degrade(int argc, char **argv)
{
  char *out = NULL;
  int shard_size = 512;
  gint64 samples = 0;
  AenetDataOptions data;
  GOptionEntry entries[] = {
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, N_("Folder for the shards"), N_("DIR") },
    { "samples", 0, 0, G_OPTION_ARG_INT64, &samples, N_("Number of pairs to write"), "N" },
    { "shard-size", 0, 0, G_OPTION_ARG_INT, &shard_size, N_("Pairs per shard (default 512)"), "N" },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new(NULL);
  g_option_context_set_summary(
      ctx, _("Writes training pairs made by aenet's degradations, as “aenet train” makes them,\n"
             "to shards that other trainers read (tools/torch/train.py). The same seed and\n"
             "options give the same pairs."));
  aenet_data_options_add(&data, ctx);
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  GError *error = NULL;
  int status = 2;
  AenetTrainConfig cfg = { 0 };
  AenetDataset *ds = NULL;
  guint *images = NULL;
  AenetImagePicker picker = { 0 };
  if (!g_option_context_parse(ctx, &argc, &argv, &error))
    goto usage;
  if (argc > 1) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _("unexpected argument “%s”"),
                argv[1]);
    goto usage;
  }
  if (data.task == NULL) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("--task denoise or --task upscale is required"));
    goto usage;
  }
  if (data.data == NULL || out == NULL || samples <= 0 || shard_size <= 0 || data.patch < 0) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("--data DIR, --out DIR and --samples N are required (N, --shard-size and "
                  "--patch positive)"));
    goto usage;
  }
  if (!aenet_data_options_apply(&data, FALSE, &cfg, &error))
    goto usage;

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
  /* Every image is a training image: validation data is made apart (aenet
   * eval --save-inputs). */
  images = g_new(guint, aenet_dataset_get_n_images(ds));
  for (guint i = 0; i < aenet_dataset_get_n_images(ds); i++)
    images[i] = i;
  aenet_image_picker_init(&picker, &cfg, ds, images, aenet_dataset_get_n_images(ds));
  AenetRng rng;
  aenet_train_data_rng_init(&rng, cfg.seed);
  for (long first = 0, k = 0; first < samples; first += shard_size, k++) {
    int count = (int)MIN(shard_size, samples - first);
    char *name = g_strdup_printf("shard-%05ld.safetensors", k);
    char *path = g_build_filename(out, name, NULL);
    gboolean ok = write_shard(&cfg, ds, &picker, &rng, first, count, path, &error);
    if (ok)
      g_print(ngettext("%s: %d pair\n", "%s: %d pairs\n", count), path, count);
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
             _("Run “aenet degrade --help” for the options."));
done:
  g_clear_error(&error);
  aenet_image_picker_clear(&picker);
  g_free(images);
  aenet_dataset_free(ds);
  aenet_train_config_clear(&cfg);
  g_option_context_free(ctx);
  aenet_data_options_clear(&data);
  g_free(out);
  return status;
}
