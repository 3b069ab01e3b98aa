/* test-train.c — the trainer: resuming equals not stopping, the same seed
 * gives the same weights, training learns, and bad folders are refused. */
#include <math.h>
#include <string.h>

#include "dataset.h"
#include "degrade.h"
#include "error.h"
#include "imageio.h"
#include "model.h"
#include "presets.h"
#include "safetensors.h"
#include "testutil.h"
#include "train.h"

/* Writes an 8-bit RGB image of interleaved pixels px. */
static void
write_image(const char *path, int w, int h, const float *px)
{
  GError *error = NULL;
  AenetImage *im = aenet_image_new(w, h, 3, 8, &error);
  g_assert_no_error(error);
  aenet_image_set_rect(im, 0, 0, w, h, px);
  g_assert_true(aenet_image_save(im, path, &error));
  g_assert_no_error(error);
  aenet_image_free(im);
}

/* A folder of smooth synthetic photos, plus one broken file. */
static char *
make_folder(int n_images, int size)
{
  char *dir = test_tmpdir_new();
  AenetRng rng;
  aenet_rng_init(&rng, 99);
  for (int i = 0; i < n_images; i++) {
    float *px = g_new(float, (gsize)size * size * 3);
    double fx = 0.05 + 0.2 * aenet_rng_uniform(&rng), fy = 0.05 + 0.2 * aenet_rng_uniform(&rng);
    for (int y = 0; y < size; y++)
      for (int x = 0; x < size; x++)
        for (int c = 0; c < 3; c++)
          px[((gsize)y * size + x) * 3 + c] = 0.5 + 0.35 * sin(fx * x + c) * cos(fy * y);
    char *path = g_strdup_printf("%s/img%02d.png", dir, i);
    write_image(path, size, size, px);
    g_free(path);
    g_free(px);
  }
  char *broken = g_strdup_printf("%s/broken.png", dir);
  g_assert_true(g_file_set_contents(broken, "\x89PNG\r\n\x1a\nnot really", 18, NULL));
  g_free(broken);
  return dir;
}

static void
collect(void *user, const char *text)
{
  g_ptr_array_add(user, g_strdup(text));
}

static void
base_config(AenetTrainConfig *cfg, const char *data, const char *out)
{
  aenet_train_config_init(cfg, "denoise", 1);
  cfg->arch = g_strdup("unet-denoise-small");
  cfg->data_dir = g_strdup(data);
  cfg->out = g_strdup(out);
  cfg->patch = 16;
  cfg->batch = 4;
  cfg->threads = 2;
  cfg->val_every = 0;
  cfg->val_images = 2;
  cfg->warmup = 5;
  cfg->seed = 5;
}

static float *
checkpoint_params(const char *path, gsize *n)
{
  GError *error = NULL;
  AenetSafetensors *f = aenet_safetensors_load(path, &error);
  g_assert_no_error(error);
  const AenetTensor *t = aenet_safetensors_find(f, "params");
  g_assert_nonnull(t);
  *n = t->n_elements;
  float *p = g_memdup2(t->data, t->n_elements * sizeof(float));
  aenet_safetensors_free(f);
  return p;
}

static void
run_ok(AenetTrainConfig *cfg, GPtrArray *messages)
{
  AenetTrainCallbacks cb = { NULL, collect, messages, NULL };
  GError *error = NULL;
  gboolean ok = aenet_train_run(cfg, &cb, &error);
  g_assert_no_error(error);
  g_assert_true(ok);
}

static void
test_resume_equals_straight(void)
{
  char *data = make_folder(10, 40);
  char *out = g_build_filename(data, "m.safetensors", NULL);
  GPtrArray *messages = g_ptr_array_new_with_free_func(g_free);
  AenetTrainConfig cfg;

  /* 20 steps straight. */
  base_config(&cfg, data, out);
  cfg.steps = 20;
  cfg.checkpoint = g_build_filename(data, "straight.ckpt", NULL);
  run_ok(&cfg, messages);
  gsize n;
  float *straight = checkpoint_params(cfg.checkpoint, &n);
  aenet_train_config_clear(&cfg);

  /* The same again: the same seed and threads give the same weights. */
  base_config(&cfg, data, out);
  cfg.steps = 20;
  cfg.checkpoint = g_build_filename(data, "again.ckpt", NULL);
  run_ok(&cfg, messages);
  gsize n2;
  float *again = checkpoint_params(cfg.checkpoint, &n2);
  g_assert_cmpmem(straight, n * sizeof(float), again, n2 * sizeof(float));
  aenet_train_config_clear(&cfg);

  /* 10 steps of the same 20-step run, stopped, then resumed to the end. */
  base_config(&cfg, data, out);
  cfg.steps = 20;
  cfg.stop_at_step = 10;
  cfg.checkpoint = g_build_filename(data, "split.ckpt", NULL);
  cfg.name = g_strdup("split-run");
  run_ok(&cfg, messages);
  gsize n3;
  float *half = checkpoint_params(cfg.checkpoint, &n3);
  aenet_train_config_clear(&cfg);
  g_assert_true(memcmp(half, straight, n * sizeof(float)) != 0);
  g_free(half);
  AenetTrainConfig resume;
  aenet_train_config_init(&resume, "denoise", 1);
  resume.resume = g_build_filename(data, "split.ckpt", NULL);
  resume.checkpoint = g_strdup(resume.resume);
  resume.out = g_strdup(out);
  resume.threads = 2;
  run_ok(&resume, messages);
  float *resumed = checkpoint_params(resume.checkpoint, &n3);
  /* --name, not given again, carried over to the checkpoint written at the end. */
  GError *error = NULL;
  AenetSafetensors *ckpt = aenet_safetensors_load(resume.checkpoint, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(g_hash_table_lookup(ckpt->metadata, "run_name"), ==, "split-run");
  aenet_safetensors_free(ckpt);
  aenet_train_config_clear(&resume);
  g_assert_cmpmem(straight, n * sizeof(float), resumed, n3 * sizeof(float));

  /* The broken file was skipped with a warning naming it, and the output
   * is a usable model. */
  gboolean warned = FALSE;
  for (guint i = 0; i < messages->len; i++)
    warned |= strstr(g_ptr_array_index(messages, i), "broken.png") != NULL;
  g_assert_true(warned);
  AenetModel *m = aenet_model_load(out, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(m->task, ==, "denoise");
  g_assert_nonnull(aenet_model_get_meta(m, "training_data"));
  g_assert_cmpstr(aenet_model_get_meta(m, "steps"), ==, "20");
  aenet_model_free(m);

  g_free(straight), g_free(again), g_free(resumed);
  g_ptr_array_unref(messages);
  g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

static void
record_status(void *user, const AenetTrainStatus *st)
{
  if (st->validated) {
    double *v = user;
    v[0] = st->val_psnr;
    v[1] = st->val_baseline_psnr;
  }
}

/* A small residual denoiser, so the test trains in seconds. */
static const char *const small_graph
    = "[{\"op\": \"input\", \"channels\": 3}, {\"op\": \"noise_level\"},"
      " {\"op\": \"concat\", \"in\": [0, 1]}, {\"op\": \"conv\", \"out\": 16},"
      " {\"op\": \"relu\"}, {\"op\": \"conv\", \"out\": 16}, {\"op\": \"relu\"},"
      " {\"op\": \"conv\", \"out\": 3}, {\"op\": \"add\", \"in\": [7, 0]}]";

/* A short fine-tuning run on smooth images beats the noisy input on
 * held-out ones by a wide margin, with each loss. */
static void
test_learns(gconstpointer loss)
{
  char *data = make_folder(12, 48);
  char *out = g_build_filename(data, "m.safetensors", NULL);
  char *start = g_build_filename(data, "start.safetensors", NULL);
  GError *error = NULL;
  AenetModel *m = aenet_model_new("denoise", small_graph, &error);
  g_assert_no_error(error);
  aenet_network_init_params(m->network, 1);
  g_assert_true(aenet_model_save(m, start, &error));
  aenet_model_free(m);

  AenetTrainConfig cfg;
  base_config(&cfg, data, out);
  g_clear_pointer(&cfg.arch, g_free);
  cfg.from = g_strdup(start);
  cfg.steps = 300;
  cfg.batch = 8;
  cfg.patch = 32;
  cfg.lr = 2e-3;
  cfg.sigma_min = cfg.sigma_max = cfg.val_sigma = 25;
  cfg.loss = GPOINTER_TO_INT(loss);
  double val[2] = { 0, 0 };
  AenetTrainCallbacks cb = { record_status, NULL, val, NULL };
  g_assert_true(aenet_train_run(&cfg, &cb, &error));
  g_assert_no_error(error);
  g_test_message("validation PSNR %.2f dB, noisy input %.2f dB", val[0], val[1]);
  g_assert_cmpfloat(val[1], >, 15);
  g_assert_cmpfloat(val[0], >, val[1] + 3);
  aenet_train_config_clear(&cfg);
  g_free(start);
  g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

static void
expect_failure(AenetTrainConfig *cfg, const char *fragment)
{
  GError *error = NULL;
  g_assert_false(aenet_train_run(cfg, NULL, &error));
  g_assert_nonnull(error);
  if (strstr(error->message, fragment) == NULL)
    g_error("message “%s” lacks “%s”", error->message, fragment);
  g_error_free(error);
}

static void
test_refusals(void)
{
  char *few = make_folder(3, 40);
  char *out = g_build_filename(few, "m.safetensors", NULL);
  AenetTrainConfig cfg;
  base_config(&cfg, few, out);
  cfg.steps = 5;
  expect_failure(&cfg, "at least");
  g_free(cfg.data_dir);
  cfg.data_dir = g_strdup("/nonexistent/photos");
  expect_failure(&cfg, "not a folder");
  aenet_train_config_clear(&cfg);

  /* Images smaller than a patch do not count. */
  char *small = make_folder(10, 12);
  base_config(&cfg, small, out);
  cfg.steps = 5;
  expect_failure(&cfg, "smaller than");
  cfg.patch = 20; /* not a multiple of the network's alignment (8) */
  expect_failure(&cfg, "multiple of 8");
  aenet_train_config_clear(&cfg);

  base_config(&cfg, few, out);
  g_free(cfg.arch);
  cfg.arch = g_strdup("unet-x2");
  cfg.steps = 5;
  expect_failure(&cfg, "architecture unet-x2");
  aenet_train_config_clear(&cfg);

  base_config(&cfg, few, out);
  cfg.resume = g_build_filename(few, "img00.png", NULL);
  cfg.steps = 5;
  expect_failure(&cfg, "img00.png");
  aenet_train_config_clear(&cfg);
  g_free(out);
  test_tmpdir_remove(few);
  test_tmpdir_remove(small);
  g_free(few);
  g_free(small);
}

/* A randomly initialised preset model, also saved to path. */
static AenetModel *
save_random_preset(const char *name, const char *task, const char *path)
{
  GError *error = NULL;
  char *graph = aenet_preset_build_graph(aenet_preset_find(name, &error));
  AenetModel *m = aenet_model_new(task, graph, &error);
  g_assert_no_error(error);
  g_free(graph);
  aenet_network_init_params(m->network, 77);
  /* Non-zero biases, so a wrongly placed bias would show. */
  for (guint i = 0; i < aenet_network_get_n_param_tensors(m->network); i++) {
    const AenetParamInfo *p = aenet_network_get_param_info(m->network, i);
    if (p->n_dims == 1)
      for (gsize j = 0; j < p->n_elements; j++)
        aenet_network_get_params(m->network)[p->offset + j] = 0.01f * (j % 7);
  }
  g_assert_true(aenet_model_save(m, path, &error));
  g_assert_no_error(error);
  return m;
}

/* One training step of an upscaler on small patches that leaves the
 * weights as they started; the caller sets the model to start from. */
static void
one_step_upscale_config(AenetTrainConfig *cfg, int scale, const char *data, const char *out)
{
  aenet_train_config_init(cfg, "upscale", scale);
  g_clear_pointer(&cfg->arch, g_free);
  cfg->data_dir = g_strdup(data);
  cfg->out = g_strdup(out);
  cfg->patch = 8;
  cfg->batch = 2;
  cfg->steps = 1;
  cfg->lr = 1e-12;
  cfg->val_every = 0;
  cfg->val_images = 2;
}

static void
test_init_from_other_scale(void)
{
  /* A 3x upscaler started from a 2x one takes every layer but the last. */
  char *data = make_folder(8, 40);
  char *x2 = g_build_filename(data, "x2.safetensors", NULL);
  char *out = g_build_filename(data, "x3.safetensors", NULL);
  AenetModel *source = save_random_preset("unet-x2", "upscale", x2);

  AenetTrainConfig cfg;
  one_step_upscale_config(&cfg, 3, data, out);
  cfg.arch = g_strdup("unet-x3");
  cfg.init_from = g_strdup(x2);
  GPtrArray *messages = g_ptr_array_new_with_free_func(g_free);
  run_ok(&cfg, messages);
  gboolean said = FALSE;
  for (guint i = 0; i < messages->len; i++)
    said |= strstr(g_ptr_array_index(messages, i), "started from 16 of 18 tensors") != NULL;
  g_assert_true(said);

  GError *error = NULL;
  AenetModel *x3 = aenet_model_load(out, &error);
  g_assert_no_error(error);
  guint same = 0, n = aenet_network_get_n_param_tensors(x3->network);
  for (guint i = 0; i < n; i++) {
    const AenetParamInfo *a = aenet_network_get_param_info(x3->network, i);
    const AenetParamInfo *b = aenet_network_get_param_info(source->network, i);
    g_assert_cmpstr(a->name, ==, b->name);
    if (a->n_elements != b->n_elements)
      continue;
    g_assert_cmpfloat(test_max_abs_diff(aenet_network_get_params(x3->network) + a->offset,
                                        aenet_network_get_params(source->network) + b->offset,
                                        a->n_elements),
                      <, 1e-6);
    same++;
  }
  g_assert_cmpuint(same, ==, n - 2);
  aenet_model_free(x3);
  aenet_model_free(source);
  aenet_train_config_clear(&cfg);
  g_ptr_array_unref(messages);
  g_free(x2), g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

static float *
run_forward(const AenetNetwork *net, const float *input, int size, float noise_level,
            gsize *n_out)
{
  GError *error = NULL;
  AenetWorkspace *ws = aenet_workspace_new(net, size, size, FALSE, &error);
  g_assert_no_error(error);
  aenet_network_forward(net, ws, input, noise_level);
  int out_size = size * aenet_network_get_scale(net);
  *n_out = (gsize)3 * out_size * out_size;
  float *out = g_memdup2(aenet_workspace_get_output(ws), *n_out * sizeof(float));
  aenet_workspace_free(ws);
  return out;
}

/* The largest difference between two networks' outputs for one random
 * size×size input, each given its noise level. */
static double
output_difference(const AenetNetwork *a, float level_a, const AenetNetwork *b, float level_b,
                  int size)
{
  float *input = g_new(float, 3 * size * size);
  AenetRng rng;
  aenet_rng_init(&rng, 3);
  test_fill_uniform(input, 3 * size * size, &rng, 0, 1);
  gsize n, n_b;
  float *out_a = run_forward(a, input, size, level_a, &n);
  float *out_b = run_forward(b, input, size, level_b, &n_b);
  g_assert_cmpuint(n, ==, n_b);
  double difference = test_max_abs_diff(out_a, out_b, n);
  g_free(input), g_free(out_a), g_free(out_b);
  return difference;
}

/* One step of a network of architecture arch (a denoiser at scale 1)
 * grown from the model at from, which leaves the weights as they started. */
static void
grow_config(AenetTrainConfig *cfg, int scale, const char *data, const char *out, const char *arch,
            const char *from, AenetGrowth grow)
{
  if (scale > 1) {
    one_step_upscale_config(cfg, scale, data, out);
  } else {
    base_config(cfg, data, out);
    g_free(cfg->arch);
    cfg->steps = 1;
    cfg->lr = 1e-12;
  }
  cfg->arch = g_strdup(arch);
  cfg->init_from = g_strdup(from);
  cfg->grow = grow;
}

/* A random from_arch network grown into to_arch (wider, or deeper by
 * residual blocks: more layers) takes every layer, has more than
 * min_growth times its parameters and gives the same output before
 * training. */
static void
check_grown(const char *from_arch, const char *to_arch, const char *task, int scale,
            AenetGrowth grow, double min_growth)
{
  char *data = make_folder(8, 40);
  char *from = g_build_filename(data, "from.safetensors", NULL);
  char *out = g_build_filename(data, "grown.safetensors", NULL);
  AenetModel *source = save_random_preset(from_arch, task, from);
  AenetTrainConfig cfg;
  grow_config(&cfg, scale, data, out, to_arch, from, grow);
  GPtrArray *messages = g_ptr_array_new_with_free_func(g_free);
  run_ok(&cfg, messages);
  guint n_source = aenet_network_get_n_param_tensors(source->network);
  char *said = g_strdup_printf("started from %u of", n_source);
  gboolean found = FALSE;
  for (guint i = 0; i < messages->len; i++)
    found |= strstr(g_ptr_array_index(messages, i), said) != NULL;
  g_assert_true(found);

  GError *error = NULL;
  AenetModel *grown = aenet_model_load(out, &error);
  g_assert_no_error(error);
  if (grow == AENET_GROW_DEEPER)
    g_assert_cmpuint(aenet_network_get_n_param_tensors(grown->network), >, n_source);
  g_assert_cmpfloat(aenet_network_get_n_params(grown->network), >,
                    min_growth * aenet_network_get_n_params(source->network));
  float level = 20 / 255.0f;
  g_assert_cmpfloat(output_difference(source->network, level, grown->network, level, 32), <, 1e-4);
  aenet_train_config_clear(&cfg);
  aenet_model_free(grown);
  aenet_model_free(source);
  g_ptr_array_unref(messages);
  g_free(said), g_free(from), g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

/* A random from_arch network refused as the source of to_arch, for the
 * reason why. */
static void
check_refused(const char *from_arch, const char *task, const char *to_arch, int scale,
              AenetGrowth grow, const char *why)
{
  char *data = make_folder(8, 40);
  char *from = g_build_filename(data, "from.safetensors", NULL);
  char *out = g_build_filename(data, "grown.safetensors", NULL);
  aenet_model_free(save_random_preset(from_arch, task, from));
  AenetTrainConfig cfg;
  grow_config(&cfg, scale, data, out, to_arch, from, grow);
  expect_failure(&cfg, why);
  aenet_train_config_clear(&cfg);
  g_free(from), g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

static void
test_widen_from(void)
{
  /* A denoiser widened at every level and an upscaler at its first start
   * as their sources; another layout is refused. */
  check_grown("unet-denoise-small", "unet-denoise", "denoise", 1, AENET_GROW_WIDER, 2.0);
  check_grown("unet-x2", "unet-wide-x2", "upscale", 2, AENET_GROW_WIDER, 1.3);
  check_refused("unet-x2", "upscale", "unet-denoise-small", 1, AENET_GROW_WIDER,
                "not a narrower version");
}

static void
test_deepen_from(void)
{
  /* Both grown presets start as their sources; a network whose layers do
   * not all find a place (unet-x3's last) is refused, and so is one whose
   * layers all map but whose new layers are not identities (unet-denoise
   * into unet-denoise-deep, whose extra convolutions are plain). */
  check_grown("unet-x2", "unet-deep-x2", "upscale", 2, AENET_GROW_DEEPER, 1.0);
  check_grown("unet-photo-wide", "unet-photo-deep", "denoise", 1, AENET_GROW_DEEPER, 1.0);
  check_refused("unet-x3", "upscale", "unet-deep-x2", 2, AENET_GROW_DEEPER,
                "not a shallower version");
  check_refused("unet-denoise", "denoise", "unet-denoise-deep", 1, AENET_GROW_DEEPER,
                "does not compute what it did");
}

static void
record_loss(void *user, const AenetTrainStatus *st)
{
  if (!st->validated)
    *(double *)user = st->loss;
}

static void
test_balance_sigma(void)
{
  /* The same step at σ 15 reports a loss 30 / (15 + 5) = 1.5 times larger
   * when balanced, and 30 / 55 times at σ 50. */
  char *data = make_folder(8, 40);
  char *out = g_build_filename(data, "m.safetensors", NULL);
  const float levels[] = { 15, 50 }, ratios[] = { 1.5f, 30.0f / 55 };
  for (int l = 0; l < 2; l++) {
    double loss[2];
    for (int balance = 0; balance < 2; balance++) {
      AenetTrainConfig cfg;
      base_config(&cfg, data, out);
      cfg.steps = 1;
      cfg.sigma_min = cfg.sigma_max = levels[l];
      cfg.balance_sigma = balance;
      AenetTrainCallbacks cb = { record_loss, NULL, &loss[balance], NULL };
      GError *error = NULL;
      loss[balance] = -1;
      g_assert_true(aenet_train_run(&cfg, &cb, &error));
      g_assert_no_error(error);
      g_assert_cmpfloat(loss[balance], >, 0);
      aenet_train_config_clear(&cfg);
    }
    g_assert_cmpfloat_with_epsilon(loss[1] / loss[0], ratios[l], 1e-4);
  }
  g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

static void
test_blind_from(void)
{
  /* A blind photo denoiser started from a noise-level-conditioned one of
   * the same layout keeps every layer (the first without the noise level's
   * inputs), so it starts as the source at noise level 0; and it trains on
   * the photo degradations. */
  char *data = make_folder(8, 40);
  char *wide = g_build_filename(data, "wide.safetensors", NULL);
  char *out = g_build_filename(data, "photo.safetensors", NULL);
  AenetModel *source = save_random_preset("unet-denoise-wide", "denoise", wide);

  AenetTrainConfig cfg;
  base_config(&cfg, data, out);
  g_free(cfg.arch);
  cfg.arch = g_strdup("unet-photo");
  cfg.init_from = g_strdup(wide);
  cfg.photo = AENET_PHOTO_TASK_MIX;
  cfg.steps = 2;
  cfg.lr = 1e-12; /* so the steps leave the weights as they started */
  GPtrArray *messages = g_ptr_array_new_with_free_func(g_free);
  run_ok(&cfg, messages);
  gboolean all_copied = FALSE;
  for (guint i = 0; i < messages->len; i++)
    all_copied |= strstr(messages->pdata[i], "started from 24 of 24 tensors") != NULL;
  g_assert_true(all_copied);

  GError *error = NULL;
  AenetModel *blind = aenet_model_load(out, &error);
  g_assert_no_error(error);
  g_assert_false(aenet_network_takes_noise_level(blind->network));
  /* The blind network ignores the level. */
  g_assert_cmpfloat(output_difference(source->network, 0, blind->network, 0.3f, 32), <, 1e-4);

  aenet_train_config_clear(&cfg);
  aenet_model_free(blind);
  aenet_model_free(source);
  g_ptr_array_unref(messages);
  g_free(wide), g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

/* Photo upscalers are validated on low-resolution images through the
 * photo mix (what they learn), not on clean ones: with the same weights
 * the baseline, bicubic of the inputs, is lower than from clean inputs,
 * and the same at every run. */
static void
test_photo_upscale_validation(void)
{
  char *data = make_folder(8, 64);
  char *x2 = g_build_filename(data, "x2.safetensors", NULL);
  char *out = g_build_filename(data, "out.safetensors", NULL);
  AenetModel *source = save_random_preset("unet-x2", "upscale", x2);
  double val[3][2] = { { 0 } };
  for (int run = 0; run < 3; run++) {
    AenetTrainConfig cfg;
    one_step_upscale_config(&cfg, 2, data, out);
    cfg.from = g_strdup(x2);
    cfg.val_every = 1;
    cfg.val_images = 4;
    cfg.photo = run > 0 ? AENET_PHOTO_TASK_MIX : AENET_PHOTO_NONE;
    AenetTrainCallbacks cb = { record_status, NULL, val[run], NULL };
    GError *error = NULL;
    g_assert_true(aenet_train_run(&cfg, &cb, &error));
    g_assert_no_error(error);
    aenet_train_config_clear(&cfg);
  }
  g_test_message("bicubic baseline: clean %.2f dB, photo mix %.2f dB", val[0][1], val[1][1]);
  g_assert_cmpfloat(val[0][1], >, 20);
  g_assert_cmpfloat(val[1][1], <, val[0][1] - 0.5);
  g_assert_cmpfloat(val[1][1], ==, val[2][1]);
  g_assert_cmpfloat(val[1][0], ==, val[2][0]);
  aenet_model_free(source);
  g_free(x2), g_free(out);
  test_tmpdir_remove(data);
  g_free(data);
}

/* Draws inputs as training does (aenet_train_degrade), each from start
 * (3, size, size): returns them one after another, (draws, 3, size, size),
 * each draw's level told in levels (0–255 scale). */
static float *
degraded_draws(const AenetTrainConfig *cfg, const float *start, int size, int draws,
               guint64 seed, float *levels)
{
  gsize n = (gsize)3 * size * size;
  float *inputs = g_new(float, n * draws);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(size, size));
  AenetRng rng;
  aenet_train_data_rng_init(&rng, seed);
  for (int d = 0; d < draws; d++) {
    float *input = inputs + n * d;
    memcpy(input, start, n * sizeof(float));
    GError *error = NULL;
    g_assert_true(aenet_train_degrade(cfg, input, size, scratch, &rng, &levels[d], &error));
    g_assert_no_error(error);
    levels[d] *= 255;
  }
  g_free(scratch);
  return inputs;
}

/* Training inputs end as saved files do, clipped and rounded to 8 bits,
 * except the --unclipped fraction of Gaussian ones, which stay floats as
 * the paper protocol's inputs are. */
static void
test_unclipped_fraction(void)
{
  enum { SIZE = 16, DRAWS = 200 };
  const gsize n = (gsize)3 * SIZE * SIZE;
  float start[3 * SIZE * SIZE], levels[DRAWS];
  for (gsize i = 0; i < n; i++)
    start[i] = 0.5f + 0.45f * sinf(0.3f * i); /* near both ends of the range */
  int floats[3];
  for (int k = 0; k < 3; k++) {
    AenetTrainConfig cfg;
    aenet_train_config_init(&cfg, "denoise", 1);
    cfg.sigma_min = cfg.sigma_max = 50;
    cfg.unclipped = 0.5f * k;
    float *inputs = degraded_draws(&cfg, start, SIZE, DRAWS, 3, levels);
    floats[k] = 0;
    for (int d = 0; d < DRAWS; d++) {
      const float *input = inputs + n * d;
      gboolean as_file = TRUE;
      for (gsize i = 0; i < n; i++)
        as_file &= input[i] >= 0 && input[i] <= 1
                   && fabsf(input[i] * 255 - rintf(input[i] * 255)) < 1e-3f;
      floats[k] += !as_file;
    }
    g_free(inputs);
    aenet_train_config_clear(&cfg);
  }
  g_assert_cmpint(floats[0], ==, 0);
  g_assert_cmpint(floats[1], >, DRAWS * 3 / 10);
  g_assert_cmpint(floats[1], <, DRAWS * 7 / 10);
  g_assert_cmpint(floats[2], ==, DRAWS);
}

/* Patches come from images in proportion to their patch positions (an
 * image 19 times larger gives 19 times as many), or with per-image
 * sampling from each image equally often. */
static void
test_area_sampling(void)
{
  enum { DRAWS = 20000 };
  char *dir = test_tmpdir_new();
  const int sizes[2][2] = { { 32, 32 }, { 128, 64 } };
  for (int i = 0; i < 2; i++) {
    float *px = g_new0(float, (gsize)sizes[i][0] * sizes[i][1] * 3);
    char *path = g_strdup_printf("%s/img%d.png", dir, i);
    write_image(path, sizes[i][0], sizes[i][1], px);
    g_free(path);
    g_free(px);
  }
  GError *error = NULL;
  GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
  AenetDataset *ds = aenet_dataset_open(dir, 1, 16, 1, 1 << 20, warnings, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(aenet_dataset_get_n_images(ds), ==, 2);
  int w0, h0;
  aenet_dataset_get_size(ds, 0, &w0, &h0);
  guint small = w0 == 32 ? 0 : 1;
  const guint images[2] = { 0, 1 };
  /* 17 × 17 positions of a 16-pixel patch against 113 × 49 */
  const double share = 289.0 / (289.0 + 5537.0);
  for (int area = 0; area <= 1; area++) {
    AenetTrainConfig cfg;
    aenet_train_config_init(&cfg, "denoise", 1);
    g_assert_true(cfg.area_sampling); /* the default */
    cfg.patch = 16;
    cfg.area_sampling = area;
    AenetImagePicker picker;
    aenet_image_picker_init(&picker, &cfg, ds, images, 2);
    AenetRng rng;
    aenet_rng_init(&rng, 5);
    int from_small = 0;
    for (int d = 0; d < DRAWS; d++)
      from_small += aenet_image_picker_draw(&picker, &rng) == small;
    double expected = DRAWS * (area ? share : 0.5);
    double sd = sqrt(expected * (1 - expected / DRAWS));
    g_assert_cmpfloat(fabs(from_small - expected), <, 5 * sd);
    aenet_image_picker_clear(&picker);
    aenet_train_config_clear(&cfg);
  }
  aenet_dataset_free(ds);
  g_ptr_array_unref(warnings);
  test_tmpdir_remove(dir);
  g_free(dir);
}

/* --overstated F: a fraction F of denoising inputs carry less noise than
 * the level the network is told, anywhere from none to all of it. */
static void
test_overstated_fraction(void)
{
  enum { SIZE = 32, DRAWS = 200 };
  const gsize n = (gsize)3 * SIZE * SIZE;
  float start[3 * SIZE * SIZE], levels[DRAWS];
  for (gsize i = 0; i < n; i++)
    start[i] = 0.5f;
  int below[3], near_zero = 0;
  for (int k = 0; k < 3; k++) {
    AenetTrainConfig cfg;
    aenet_train_config_init(&cfg, "denoise", 1);
    cfg.sigma_min = cfg.sigma_max = 20;
    cfg.unclipped = 1; /* floats, so the noise is measured unclipped */
    cfg.overstated = 0.5f * k;
    float *inputs = degraded_draws(&cfg, start, SIZE, DRAWS, 4, levels);
    below[k] = 0;
    for (int d = 0; d < DRAWS; d++) {
      const float *input = inputs + n * d;
      g_assert_cmpfloat(levels[d], ==, 20.0f); /* the level told never changes */
      double ss = 0;
      for (gsize i = 0; i < n; i++)
        ss += (input[i] - 0.5) * (input[i] - 0.5);
      double sigma = sqrt(ss / n) * 255;
      g_assert_cmpfloat(sigma, <, 20 * 1.06);
      below[k] += sigma < 20 * 0.94;
      near_zero += sigma < 2;
    }
    g_free(inputs);
    aenet_train_config_clear(&cfg);
  }
  g_assert_cmpint(below[0], ==, 0);
  g_assert_cmpint(below[1], >, DRAWS * 3 / 10);
  g_assert_cmpint(below[1], <, DRAWS * 6 / 10);
  g_assert_cmpint(below[2], >, DRAWS * 9 / 10);
  g_assert_cmpint(near_zero, >, 0); /* clean inputs told a level too */
}

/* aenet average: each parameter the weighted mean, the first model's
 * metadata kept; different networks or a weight outside 0..1 refused,
 * the model left as it was. */
static void
test_average_models(void)
{
  GError *error = NULL;
  char *graph = aenet_preset_build_graph(aenet_preset_find("unet-x2", &error));
  AenetModel *a = aenet_model_new("upscale", graph, &error);
  AenetModel *b = aenet_model_new("upscale", graph, &error);
  g_assert_no_error(error);
  g_free(graph);
  aenet_network_init_params(a->network, 1);
  aenet_network_init_params(b->network, 2);
  aenet_model_set_meta(a, "name", "first");
  gsize n = aenet_network_get_n_params(a->network);
  float *pa = aenet_network_get_params(a->network), *pb = aenet_network_get_params(b->network);
  float *before = g_memdup2(pa, n * sizeof(float));
  gsize differ = 0;
  for (gsize i = 0; i < n; i++)
    differ += pa[i] != pb[i];
  g_assert_cmpuint(differ, >, n / 2); /* the test means something */

  g_assert_true(aenet_train_average_models(a, b, 0.25, &error));
  g_assert_no_error(error);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon(pa[i], 0.75f * before[i] + 0.25f * pb[i], 1e-6);
  g_assert_cmpstr(aenet_model_get_meta(a, "name"), ==, "first");

  memcpy(pa, before, n * sizeof(float));
  g_assert_false(aenet_train_average_models(a, b, 1.5, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  char *other_graph = aenet_preset_build_graph(aenet_preset_find("unet-x3", &error));
  AenetModel *other = aenet_model_new("upscale", other_graph, &error);
  g_assert_no_error(error);
  g_free(other_graph);
  g_assert_false(aenet_train_average_models(a, other, 0.5, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_MODEL);
  g_clear_error(&error);
  g_assert_cmpmem(pa, n * sizeof(float), before, n * sizeof(float));

  aenet_model_free(other);
  aenet_model_free(a);
  aenet_model_free(b);
  g_free(before);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/train/resume-equals-straight", test_resume_equals_straight);
  g_test_add_data_func("/train/learns", GINT_TO_POINTER(AENET_LOSS_CHARBONNIER), test_learns);
  g_test_add_data_func("/train/learns-psnr-loss", GINT_TO_POINTER(AENET_LOSS_PSNR), test_learns);
  g_test_add_func("/train/refusals", test_refusals);
  g_test_add_func("/train/init-from-other-scale", test_init_from_other_scale);
  g_test_add_func("/train/widen-from", test_widen_from);
  g_test_add_func("/train/deepen-from", test_deepen_from);
  g_test_add_func("/train/blind-from", test_blind_from);
  g_test_add_func("/train/photo-upscale-validation", test_photo_upscale_validation);
  g_test_add_func("/train/unclipped-fraction", test_unclipped_fraction);
  g_test_add_func("/train/overstated-fraction", test_overstated_fraction);
  g_test_add_func("/train/area-sampling", test_area_sampling);
  g_test_add_func("/train/balance-sigma", test_balance_sigma);
  g_test_add_func("/train/average-models", test_average_models);
  return g_test_run();
}
