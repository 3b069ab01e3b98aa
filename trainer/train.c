/* train.c — the training loop.
 *
 * Memory plan: the parameters live in the network (flat, node order); the
 * summed gradients, Adam's m and v, and each thread's gradients have the
 * same layout, so the optimizer is one loop over n_params floats.
 *
 * Determinism: batches come from one generator in a worker thread, and each
 * carries the generator's state from before it was drawn; sample i of a
 * batch is computed by thread i % n_threads, and the threads' gradients are
 * added in thread order. So a given seed and thread count always give the
 * same weights, and a checkpoint that stores the state of the next batch
 * resumes the same run. */
#include "config.h"

#include "train.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "degrade.h"
#include "error.h"
#include "metrics.h"
#include "model.h"
#include "ops.h"
#include "presets.h"
#include "resize.h"
#include "rng.h"
#include "safetensors.h"
#include "tiler.h"

#define N_BATCH_BUFFERS 3
#define CHECKPOINT_FORMAT "1"

void
aenet_train_config_init(AenetTrainConfig *cfg, const char *task, int scale)
{
  memset(cfg, 0, sizeof *cfg);
  gboolean denoise = g_strcmp0(task, "denoise") == 0;
  cfg->task = g_strdup(task);
  cfg->scale = denoise ? 1 : MAX(scale, 2);
  cfg->patch = denoise ? 96 : 48;
  cfg->batch = 16;
  cfg->checkpoint_minutes = 5;
  cfg->val_every = 1000;
  cfg->val_images = 16;
  cfg->lr = 5e-4;
  cfg->clip = 1.0;
  cfg->warmup = 500;
  cfg->schedule = AENET_SCHEDULE_COSINE;
  cfg->loss = AENET_LOSS_CHARBONNIER;
  cfg->seed = 1;
  cfg->sigma_min = 0;
  cfg->sigma_max = 50;
  cfg->val_sigma = 25;
  cfg->area_sampling = TRUE;
  cfg->cache_bytes = (gsize)2 << 30;
}

void
aenet_train_config_clear(AenetTrainConfig *cfg)
{
  g_free(cfg->task);
  g_free(cfg->data_dir);
  g_free(cfg->val_dir);
  g_free(cfg->from);
  g_free(cfg->init_from);
  g_free(cfg->arch);
  g_free(cfg->resume);
  g_free(cfg->out);
  g_free(cfg->checkpoint);
  g_free(cfg->name);
  memset(cfg, 0, sizeof *cfg);
}

/* ---- batches ---------------------------------------------------------- */

typedef struct {
  float *input;  /* (batch, 3, p, p): noisy or low-resolution */
  float *target; /* (batch, 3, p*s, p*s): clean */
  float *sigma;  /* (batch): noise level on the [0, 1] scale */
  AenetRng rng_before;
} Batch;

typedef struct Trainer Trainer;

struct Trainer {
  AenetTrainConfig cfg; /* resolved settings (strings owned by the caller's cfg or here) */
  const AenetTrainCallbacks *cb;
  AenetModel *model;
  AenetNetwork *net;
  char *arch_name;
  AenetDataset *train_ds, *val_ds;
  guint *train_index, n_train; /* images of train_ds used for training */
  AenetImagePicker picker;     /* draws from train_index */
  guint *val_index, n_val;
  int n_threads;

  gsize n_params;
  float *grads, *m, *v; /* (n_params) each */
  long step, total_steps;
  double best_val;
  AenetRng data_rng; /* the producer's generator */
  float *degrade_scratch; /* the producer's, for camera degradations */

  Batch batches[N_BATCH_BUFFERS];
  GAsyncQueue *free_q, *ready_q; /* batch index + 1; 0 never used */
  GThread *producer;
  volatile int quit;
  GError *producer_error;
};

static void message(Trainer *t, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
message(Trainer *t, const char *fmt, ...)
{
  if (t->cb == NULL || t->cb->message == NULL)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  t->cb->message(t->cb->user, text);
  g_free(text);
}

/* The photo degradations of a run (c->photo set). */
static const AenetPhotoMix *
photo_mix(const AenetTrainConfig *c)
{
  switch (c->photo) {
  case AENET_PHOTO_STRONG_JPEG:
    return &aenet_photo_mix_strong_jpeg;
  case AENET_PHOTO_CAMERA_GRAIN:
    return &aenet_photo_mix_camera_grain;
  case AENET_PHOTO_MOTTLE:
    return &aenet_photo_mix_mottle;
  default:
    return c->scale == 1 ? &aenet_photo_mix_denoise : &aenet_photo_mix_upscale;
  }
}

gboolean
aenet_train_degrade(const AenetTrainConfig *c, float *input, int size, float *scratch,
                    AenetRng *rng, float *noise_level, GError **error)
{
  gsize n = (gsize)3 * size * size;
  *noise_level = 0;
  if (c->photo)
    return aenet_degrade_photo(input, scratch, size, size, photo_mix(c), rng, error);
  /* Denoising inputs always get noise; low-resolution inputs only when
   * asked (--lr-sigma), for upscalers of real photos. */
  float level = 0;
  if (c->scale == 1)
    level = c->sigma_min + (c->sigma_max - c->sigma_min) * aenet_rng_uniform(rng);
  else if (c->lr_sigma > 0)
    level = c->lr_sigma * aenet_rng_uniform(rng);
  if (c->jpeg_max > 0) {
    int q = c->jpeg_min + aenet_rng_below(rng, c->jpeg_max - c->jpeg_min + 1);
    if (!aenet_degrade_jpeg(input, 3, size, size, q, error))
      return FALSE;
  }
  if (c->poisson_gain > 0)
    aenet_degrade_poisson_gaussian(input, n, c->poisson_gain * aenet_rng_uniform(rng), 0, rng);
  /* Told more than there is, the model must still keep the brightness:
   * trained on clipped inputs alone, it read "less noise than told" as
   * clipping and brightened bright areas of clean photos by 3 levels at
   * σ 10. No draw without --overstated, so older runs resume exactly. */
  float added = level;
  if (c->overstated > 0 && aenet_rng_uniform(rng) < c->overstated)
    added = level * (float)aenet_rng_uniform(rng);
  if (added > 0)
    aenet_degrade_gaussian(input, n, added, rng);
  /* A model for both real files and the paper protocol sees both kinds of
   * input. No draw without --unclipped, so older runs resume exactly. */
  if (c->unclipped <= 0 || aenet_rng_uniform(rng) >= c->unclipped)
    aenet_degrade_quantize(input, n, 255);
  *noise_level = level / 255.0f;
  return TRUE;
}

void
aenet_train_data_rng_init(AenetRng *rng, guint64 seed)
{
  aenet_rng_init(rng, seed ^ 0xda7a); /* not the weights' stream */
}

/* Patch positions of an image: every patch equally likely is every
 * pixel's neighbourhood about equally likely, whatever the image's size. */
static double
patch_positions(const AenetTrainConfig *c, AenetDataset *ds, guint image)
{
  int w, h;
  aenet_dataset_get_size(ds, image, &w, &h);
  return (double)(w / c->scale - c->patch + 1) * (h / c->scale - c->patch + 1);
}

void
aenet_image_picker_init(AenetImagePicker *picker, const AenetTrainConfig *cfg, AenetDataset *ds,
                        const guint *images, guint n_images)
{
  picker->images = images;
  picker->n_images = n_images;
  picker->cumulative = NULL;
  if (!cfg->area_sampling)
    return;
  picker->cumulative = g_new(double, n_images);
  double sum = 0;
  for (guint i = 0; i < n_images; i++)
    picker->cumulative[i] = sum += patch_positions(cfg, ds, images[i]);
}

void
aenet_image_picker_clear(AenetImagePicker *picker)
{
  g_clear_pointer(&picker->cumulative, g_free);
}

guint
aenet_image_picker_draw(const AenetImagePicker *picker, AenetRng *rng)
{
  if (picker->cumulative == NULL)
    return picker->images[aenet_rng_below(rng, picker->n_images)];
  /* The first image whose cumulative count exceeds the draw. */
  double target = aenet_rng_uniform(rng) * picker->cumulative[picker->n_images - 1];
  guint lo = 0, hi = picker->n_images - 1;
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    if (picker->cumulative[mid] > target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return picker->images[lo];
}

gboolean
aenet_train_draw_sample(const AenetTrainConfig *c, AenetDataset *ds,
                        const AenetImagePicker *picker, float *scratch, AenetRng *rng,
                        float *input, float *target, float *noise_level, GError **error)
{
  int s = c->scale, p = c->patch;
  guint image = aenet_image_picker_draw(picker, rng);
  int w, h;
  aenet_dataset_get_size(ds, image, &w, &h);
  int x = aenet_rng_below(rng, w / s - p + 1);
  int y = aenet_rng_below(rng, h / s - p + 1);
  int transform = aenet_rng_below(rng, 8);
  if (!aenet_dataset_get_patch(ds, image, x, y, p, transform, target, s > 1 ? input : NULL, error))
    return FALSE;
  if (s == 1) {
    if (c->photo)
      aenet_degrade_photo_scene(target, scratch, p, p, photo_mix(c), rng);
    memcpy(input, target, (gsize)3 * p * p * sizeof(float));
  }
  return aenet_train_degrade(c, input, p, scratch, rng, noise_level, error);
}

static gboolean
make_sample(Trainer *t, AenetRng *rng, float *input, float *target, float *sigma, GError **error)
{
  return aenet_train_draw_sample(&t->cfg, t->train_ds, &t->picker, t->degrade_scratch, rng,
                                 input, target, sigma, error);
}

static gpointer
producer_main(gpointer data)
{
  Trainer *t = data;
  for (;;) {
    int id = GPOINTER_TO_INT(g_async_queue_pop(t->free_q)) - 1;
    if (id < 0 || t->quit)
      break;
    Batch *b = &t->batches[id];
    b->rng_before = t->data_rng;
    int p = t->cfg.patch, hp = p * t->cfg.scale;
    for (int i = 0; i < t->cfg.batch && t->producer_error == NULL; i++)
      make_sample(t, &t->data_rng, b->input + (gsize)i * 3 * p * p,
                  b->target + (gsize)i * 3 * hp * hp, &b->sigma[i], &t->producer_error);
    g_async_queue_push(t->ready_q, GINT_TO_POINTER(id + 1));
  }
  return NULL;
}

static void
batches_start(Trainer *t)
{
  int p = t->cfg.patch, hp = p * t->cfg.scale, bs = t->cfg.batch;
  t->free_q = g_async_queue_new();
  t->ready_q = g_async_queue_new();
  for (int i = 0; i < N_BATCH_BUFFERS; i++) {
    t->batches[i].input = g_new(float, (gsize)bs * 3 * p * p);
    t->batches[i].target = g_new(float, (gsize)bs * 3 * hp * hp);
    t->batches[i].sigma = g_new(float, bs);
    g_async_queue_push(t->free_q, GINT_TO_POINTER(i + 1));
  }
  t->degrade_scratch = g_new(float, aenet_degrade_camera_scratch_size(p, p));
  t->producer = g_thread_new("aenet-batches", producer_main, t);
}

static Batch *
batch_next(Trainer *t, GError **error)
{
  int id = GPOINTER_TO_INT(g_async_queue_pop(t->ready_q)) - 1;
  if (t->producer_error != NULL) {
    g_propagate_error(error, g_error_copy(t->producer_error));
    return NULL;
  }
  return &t->batches[id];
}

static void
batch_release(Trainer *t, Batch *b)
{
  g_async_queue_push(t->free_q, GINT_TO_POINTER((int)(b - t->batches) + 1));
}

static void
batches_stop(Trainer *t)
{
  if (t->producer == NULL)
    return;
  t->quit = 1;
  g_async_queue_push(t->free_q, GINT_TO_POINTER(-1)); /* id -2: stop */
  g_thread_join(t->producer);
  t->producer = NULL;
  for (int i = 0; i < N_BATCH_BUFFERS; i++) {
    g_free(t->batches[i].input);
    g_free(t->batches[i].target);
    g_free(t->batches[i].sigma);
  }
  g_async_queue_unref(t->free_q);
  g_async_queue_unref(t->ready_q);
  g_clear_pointer(&t->degrade_scratch, g_free);
}

/* ---- one step --------------------------------------------------------- */

typedef struct {
  Trainer *t;
  const Batch *batch;
  int index;
  AenetWorkspace *ws;
  float *grads; /* this thread's (n_params); thread 0 uses t->grads */
  float *dout;  /* (3, p*s, p*s) */
  double loss;
} StepWorker;

static gpointer
step_worker_main(gpointer data)
{
  StepWorker *w = data;
  Trainer *t = w->t;
  int p = t->cfg.patch, hp = p * t->cfg.scale;
  gsize in_n = (gsize)3 * p * p, out_n = (gsize)3 * hp * hp;
  memset(w->grads, 0, t->n_params * sizeof(float));
  w->loss = 0;
  for (int i = w->index; i < t->cfg.batch; i += t->n_threads) {
    aenet_network_forward(t->net, w->ws, w->batch->input + i * in_n, w->batch->sigma[i]);
    const float *out = aenet_workspace_get_output(w->ws);
    const float *target = w->batch->target + i * out_n;
    double loss = 0;
    switch (t->cfg.loss) {
    case AENET_LOSS_L1:
      loss = aenet_loss_l1(w->dout, out, target, out_n);
      break;
    case AENET_LOSS_L2:
      loss = aenet_loss_l2(w->dout, out, target, out_n);
      break;
    case AENET_LOSS_CHARBONNIER:
      loss = aenet_loss_charbonnier(w->dout, out, target, 1e-3f, out_n);
      break;
    case AENET_LOSS_PSNR: {
      const double eps = 1.0 / (255.0 * 255.0);
      double mse = aenet_loss_l2(w->dout, out, target, out_n);
      loss = 10.0 * log10(mse + eps);
      float f = (float)(10.0 / G_LN10 / (mse + eps));
      for (gsize j = 0; j < out_n; j++)
        w->dout[j] *= f;
      break;
    }
    case AENET_N_LOSSES:
      g_assert_not_reached();
    }
    /* The error grows with σ, so an unweighted loss spends the network on
     * heavy noise; this weight makes each noise level count about equally
     * in dB (1 at σ 25). */
    float weight = t->cfg.balance_sigma ? 30.0f / (w->batch->sigma[i] * 255.0f + 5.0f) : 1.0f;
    w->loss += weight * loss;
    float scale = weight / t->cfg.batch; /* the loss is the batch mean */
    for (gsize j = 0; j < out_n; j++)
      w->dout[j] *= scale;
    aenet_network_backward(t->net, w->ws, w->grads, w->dout);
  }
  return NULL;
}

static double
learning_rate(const Trainer *t)
{
  const AenetTrainConfig *c = &t->cfg;
  long s = t->step;
  if (s < c->warmup)
    return c->lr * (s + 1) / (double)c->warmup;
  double progress = (double)(s - c->warmup) / MAX(1, t->total_steps - c->warmup);
  progress = CLAMP(progress, 0.0, 1.0);
  switch (c->schedule) {
  case AENET_SCHEDULE_COSINE:
    return c->lr * (0.01 + 0.99 * 0.5 * (1 + cos(G_PI * progress)));
  case AENET_SCHEDULE_STEP:
    return c->lr * (progress < 0.5 ? 1 : progress < 0.75 ? 0.5 : progress < 0.9 ? 0.25 : 0.1);
  case AENET_SCHEDULE_CONSTANT:
  default:
    return c->lr;
  }
}

/* Forward and backward over the batch in n_threads threads, then Adam. */
static double
train_step(Trainer *t, StepWorker *workers, const Batch *batch)
{
  GThread *threads[64];
  for (int i = 0; i < t->n_threads; i++)
    workers[i].batch = batch;
  for (int i = 1; i < t->n_threads; i++)
    threads[i] = g_thread_new("aenet-step", step_worker_main, &workers[i]);
  step_worker_main(&workers[0]);
  double loss = workers[0].loss;
  for (int i = 1; i < t->n_threads; i++) {
    g_thread_join(threads[i]);
    aenet_accumulate(t->grads, workers[i].grads, t->n_params);
    loss += workers[i].loss;
  }
  if (t->cfg.clip > 0) {
    double norm2 = 0;
    for (gsize i = 0; i < t->n_params; i++)
      norm2 += (double)t->grads[i] * t->grads[i];
    double norm = sqrt(norm2);
    if (norm > t->cfg.clip) {
      float f = t->cfg.clip / norm;
      for (gsize i = 0; i < t->n_params; i++)
        t->grads[i] *= f;
    }
  }
  aenet_adam_update(aenet_network_get_params(t->net), t->m, t->v, t->grads, t->n_params,
                    learning_rate(t), 0.9f, 0.999f, 1e-8f, t->cfg.weight_decay, t->step + 1);
  t->step++;
  return loss / t->cfg.batch;
}

/* ---- validation ------------------------------------------------------- */

/* A validation image through the photo mix: the same degradation for
 * image k at every validation. */
static gboolean
degrade_for_validation(float *image, int h, int w, guint k, const AenetPhotoMix *mix,
                       GError **error)
{
  AenetRng rng;
  aenet_rng_init(&rng, 0x5eed0000 + k);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  gboolean ok = aenet_degrade_photo(image, scratch, h, w, mix, &rng, error);
  g_free(scratch);
  return ok;
}

/* Mean PSNR of the model and of the baseline over the validation images. */
static gboolean
validate(Trainer *t, double *psnr, double *baseline, GError **error)
{
  const AenetTrainConfig *c = &t->cfg;
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.n_threads = t->n_threads;
  opt.noise_level = c->val_sigma / 255.0f;
  double sum = 0, sum_base = 0;
  for (guint k = 0; k < t->n_val; k++) {
    guint index = t->val_index[k];
    float *hr = NULL, *lr = NULL;
    int w, h;
    aenet_dataset_get_size(t->val_ds, index, &w, &h);
    if (!aenet_dataset_get_image(t->val_ds, index, &hr, c->scale > 1 ? &lr : NULL, error))
      return FALSE;
    gsize n = (gsize)3 * w * h;
    float *out = g_new(float, n);
    double p = 0, b = 0;
    gboolean ok;
    if (c->scale == 1) {
      /* The same noise every time: a seed per image. */
      lr = g_memdup2(hr, n * sizeof(float));
      ok = TRUE;
      if (c->photo)
        ok = degrade_for_validation(lr, h, w, k, photo_mix(c), error);
      else {
        AenetRng rng;
        aenet_rng_init(&rng, 0x5eed0000 + k);
        aenet_degrade_gaussian(lr, n, c->val_sigma, &rng);
        aenet_degrade_quantize(lr, n, 255);
      }
      ok = ok && aenet_tiler_run_planar(t->net, lr, 3, h, w, out, &opt, error);
      if (ok) {
        aenet_metrics_denoise(out, hr, 3, h, w, &p, NULL);
        aenet_metrics_denoise(lr, hr, 3, h, w, &b, NULL);
      }
    } else {
      int s = c->scale;
      /* Photo upscalers are chosen on what they learn: low-resolution
       * images through the photo mix (some stay clean), against bicubic
       * of the same inputs. */
      ok = !c->photo || degrade_for_validation(lr, h / s, w / s, k, photo_mix(c), error);
      ok = ok && aenet_tiler_run_planar(t->net, lr, 3, h / s, w / s, out, &opt, error);
      if (ok) {
        aenet_metrics_upscale(out, hr, 3, h, w, s, &p, NULL);
        float *scratch = g_new(float, aenet_resize_scratch_size(3, h / s, w / s, h, w));
        aenet_resize_bicubic(out, lr, scratch, 3, h / s, w / s, h, w);
        aenet_metrics_upscale(out, hr, 3, h, w, s, &b, NULL);
        g_free(scratch);
      }
    }
    g_free(out);
    g_free(hr);
    g_free(lr);
    if (!ok)
      return FALSE;
    /* An image left clean (the photo mix leaves some) has an infinite
     * baseline: count it as 100 dB so the mean stays a number. */
    sum += MIN(p, 100.0);
    sum_base += MIN(b, 100.0);
  }
  *psnr = sum / t->n_val;
  *baseline = sum_base / t->n_val;
  return TRUE;
}

/* ---- checkpoints ------------------------------------------------------ */

/* The settings a checkpoint keeps, so that resuming trains the same way. */
typedef enum { FIELD_INT, FIELD_LONG, FIELD_U64, FIELD_FLOAT, FIELD_DOUBLE } FieldType;

static const struct {
  const char *key;
  FieldType type;
  gsize offset;
  gboolean optional; /* newer than the first checkpoints: absent means 0 */
} setting_fields[] = {
  { "scale", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, scale) },
  { "patch", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, patch) },
  { "batch", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, batch) },
  { "warmup", FIELD_LONG, G_STRUCT_OFFSET(AenetTrainConfig, warmup) },
  { "val_every", FIELD_LONG, G_STRUCT_OFFSET(AenetTrainConfig, val_every) },
  { "val_images", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, val_images) },
  { "seed", FIELD_U64, G_STRUCT_OFFSET(AenetTrainConfig, seed) },
  { "jpeg_min", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, jpeg_min) },
  { "jpeg_max", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, jpeg_max) },
  { "lr", FIELD_DOUBLE, G_STRUCT_OFFSET(AenetTrainConfig, lr) },
  { "weight_decay", FIELD_DOUBLE, G_STRUCT_OFFSET(AenetTrainConfig, weight_decay) },
  { "clip", FIELD_DOUBLE, G_STRUCT_OFFSET(AenetTrainConfig, clip) },
  { "sigma_min", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, sigma_min) },
  { "sigma_max", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, sigma_max) },
  { "val_sigma", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, val_sigma) },
  { "poisson_gain", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, poisson_gain) },
  { "lr_sigma", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, lr_sigma), TRUE },
  { "balance_sigma", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, balance_sigma), TRUE },
  { "photo", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, photo), TRUE },
  { "unclipped", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, unclipped), TRUE },
  { "overstated", FIELD_FLOAT, G_STRUCT_OFFSET(AenetTrainConfig, overstated), TRUE },
  { "area_sampling", FIELD_INT, G_STRUCT_OFFSET(AenetTrainConfig, area_sampling), TRUE },
};

static void
meta_set_number(GHashTable *meta, const char *key, double v, gboolean integer)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_hash_table_insert(meta, g_strdup(key),
                      integer ? g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v)
                              : g_strdup(g_ascii_dtostr(buf, sizeof buf, v)));
}

static void
settings_to_meta(const AenetTrainConfig *c, GHashTable *meta)
{
  for (guint i = 0; i < G_N_ELEMENTS(setting_fields); i++) {
    const guint8 *field = (const guint8 *)c + setting_fields[i].offset;
    const char *key = setting_fields[i].key;
    switch (setting_fields[i].type) {
    case FIELD_INT:
      meta_set_number(meta, key, *(const int *)field, TRUE);
      break;
    case FIELD_LONG:
      meta_set_number(meta, key, *(const long *)field, TRUE);
      break;
    case FIELD_U64:
      g_hash_table_insert(meta, g_strdup(key),
                          g_strdup_printf("%" G_GUINT64_FORMAT, *(const guint64 *)field));
      break;
    case FIELD_FLOAT:
      meta_set_number(meta, key, *(const float *)field, FALSE);
      break;
    case FIELD_DOUBLE:
      meta_set_number(meta, key, *(const double *)field, FALSE);
      break;
    }
  }
}

const char *const aenet_loss_names[AENET_N_LOSSES] = { "l1", "l2", "charbonnier", "psnr" };
const char *const aenet_schedule_names[AENET_N_SCHEDULES] = { "cosine", "step", "constant" };

static gboolean
save_checkpoint(Trainer *t, const AenetRng *next_rng, GError **error)
{
  const AenetTrainConfig *c = &t->cfg;
  GHashTable *meta = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert(meta, g_strdup("aenet.checkpoint"), g_strdup(CHECKPOINT_FORMAT));
  g_hash_table_insert(meta, g_strdup("task"), g_strdup(c->task));
  g_hash_table_insert(meta, g_strdup("graph"), aenet_network_to_json(t->net));
  g_hash_table_insert(meta, g_strdup("arch"), g_strdup(t->arch_name));
  g_hash_table_insert(meta, g_strdup("data_dir"), g_strdup(c->data_dir));
  if (c->val_dir != NULL)
    g_hash_table_insert(meta, g_strdup("val_dir"), g_strdup(c->val_dir));
  if (c->name != NULL) /* --name, which a resumed run keeps */
    g_hash_table_insert(meta, g_strdup("run_name"), g_strdup(c->name));
  g_hash_table_insert(meta, g_strdup("loss"), g_strdup(aenet_loss_names[c->loss]));
  g_hash_table_insert(meta, g_strdup("schedule"), g_strdup(aenet_schedule_names[c->schedule]));
  g_hash_table_insert(meta, g_strdup("data_rng"),
                      g_strdup_printf("%016" G_GINT64_MODIFIER "x %016" G_GINT64_MODIFIER
                                      "x %016" G_GINT64_MODIFIER "x %016" G_GINT64_MODIFIER "x",
                                      next_rng->s[0], next_rng->s[1], next_rng->s[2],
                                      next_rng->s[3]));
  settings_to_meta(c, meta);
  meta_set_number(meta, "step", t->step, TRUE);
  meta_set_number(meta, "total_steps", t->total_steps, TRUE);
  meta_set_number(meta, "best_val", t->best_val, FALSE);
  /* The model's own descriptive metadata travels with the checkpoint. */
  GHashTableIter iter;
  gpointer k, v;
  g_hash_table_iter_init(&iter, t->model->metadata);
  while (g_hash_table_iter_next(&iter, &k, &v))
    if (!g_str_has_prefix(k, "aenet."))
      g_hash_table_insert(meta, g_strconcat("model.", k, NULL), g_strdup(v));

  AenetTensor tensors[3] = {
    { "params", 1, { (gint64)t->n_params }, t->n_params, aenet_network_get_params(t->net) },
    { "adam.m", 1, { (gint64)t->n_params }, t->n_params, t->m },
    { "adam.v", 1, { (gint64)t->n_params }, t->n_params, t->v },
  };
  const AenetTensor *list[3] = { &tensors[0], &tensors[1], &tensors[2] };
  gboolean ok = aenet_safetensors_save(t->cfg.checkpoint, list, 3, meta, error);
  g_hash_table_unref(meta);
  return ok;
}

static gboolean
meta_get_number(GHashTable *meta, const char *key, double *out, GError **error)
{
  const char *s = g_hash_table_lookup(meta, key);
  char *end = NULL;
  *out = s != NULL ? g_ascii_strtod(s, &end) : 0;
  if (s == NULL || end == s || *end != '\0' || !isfinite(*out)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                _("the checkpoint's “%s” is missing or not a number"), key);
    return FALSE;
  }
  return TRUE;
}

static gboolean
settings_from_meta(AenetTrainConfig *c, GHashTable *meta, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS(setting_fields); i++) {
    guint8 *field = (guint8 *)c + setting_fields[i].offset;
    double v;
    if (setting_fields[i].type == FIELD_U64) {
      const char *s = g_hash_table_lookup(meta, setting_fields[i].key);
      if (s == NULL || !g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, (guint64 *)field, NULL)) {
        g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                    _("the checkpoint's “%s” is missing or not a number"), setting_fields[i].key);
        return FALSE;
      }
      continue;
    }
    if (setting_fields[i].optional && !g_hash_table_contains(meta, setting_fields[i].key))
      v = 0;
    else if (!meta_get_number(meta, setting_fields[i].key, &v, error))
      return FALSE;
    switch (setting_fields[i].type) {
    case FIELD_INT:
      *(int *)field = v;
      break;
    case FIELD_LONG:
      *(long *)field = v;
      break;
    case FIELD_FLOAT:
      *(float *)field = v;
      break;
    case FIELD_DOUBLE:
      *(double *)field = v;
      break;
    case FIELD_U64:
      break;
    }
  }
  return TRUE;
}

static int
name_index(const char *const *names, int n, const char *name)
{
  for (int i = 0; i < n; i++)
    if (g_strcmp0(names[i], name) == 0)
      return i;
  return -1;
}

/* Restores settings and state from a checkpoint into t (model created here). */
static gboolean
load_checkpoint(Trainer *t, const char *path, GError **error)
{
  AenetSafetensors *file = aenet_safetensors_load(path, error);
  if (file == NULL)
    return FALSE;
  GHashTable *meta = file->metadata;
  AenetTrainConfig *c = &t->cfg;
  double step = 0, total = 0, best = 0;
  const char *graph = g_hash_table_lookup(meta, "graph");
  const char *task = g_hash_table_lookup(meta, "task");
  const char *rng_text = g_hash_table_lookup(meta, "data_rng");
  int loss = name_index(aenet_loss_names, AENET_N_LOSSES, g_hash_table_lookup(meta, "loss"));
  int schedule = name_index(aenet_schedule_names, AENET_N_SCHEDULES, g_hash_table_lookup(meta, "schedule"));
  gboolean ok = g_strcmp0(g_hash_table_lookup(meta, "aenet.checkpoint"), CHECKPOINT_FORMAT) == 0
                && graph != NULL && task != NULL && rng_text != NULL && loss >= 0 && schedule >= 0;
  if (!ok)
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                _("not an aenet training checkpoint (or from another version)"));
  ok = ok && settings_from_meta(c, meta, error) && meta_get_number(meta, "step", &step, error)
       && meta_get_number(meta, "total_steps", &total, error)
       && meta_get_number(meta, "best_val", &best, error);
  if (ok
      && sscanf(rng_text,
                "%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER
                "x %" G_GINT64_MODIFIER "x",
                &t->data_rng.s[0], &t->data_rng.s[1], &t->data_rng.s[2], &t->data_rng.s[3])
             != 4) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT, _("the checkpoint's data_rng is corrupt"));
    ok = FALSE;
  }
  if (ok) {
    t->model = aenet_model_new(task, graph, error);
    ok = t->model != NULL;
  }
  if (ok) {
    t->net = t->model->network;
    t->n_params = aenet_network_get_n_params(t->net);
    const AenetTensor *tp = aenet_safetensors_find(file, "params");
    const AenetTensor *tm = aenet_safetensors_find(file, "adam.m");
    const AenetTensor *tv = aenet_safetensors_find(file, "adam.v");
    if (tp == NULL || tm == NULL || tv == NULL || tp->n_elements != t->n_params
        || tm->n_elements != t->n_params || tv->n_elements != t->n_params) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                  _("the checkpoint's tensors do not match its network"));
      ok = FALSE;
    } else {
      memcpy(aenet_network_get_params(t->net), tp->data, t->n_params * sizeof(float));
      t->m = g_memdup2(tm->data, t->n_params * sizeof(float));
      t->v = g_memdup2(tv->data, t->n_params * sizeof(float));
    }
  }
  if (ok) {
    g_free(c->task);
    c->task = g_strdup(task);
    c->loss = loss;
    c->schedule = schedule;
    if (c->data_dir == NULL)
      c->data_dir = g_strdup(g_hash_table_lookup(meta, "data_dir"));
    if (c->val_dir == NULL && g_hash_table_lookup(meta, "val_dir") != NULL)
      c->val_dir = g_strdup(g_hash_table_lookup(meta, "val_dir"));
    if (c->name == NULL && g_hash_table_lookup(meta, "run_name") != NULL)
      c->name = g_strdup(g_hash_table_lookup(meta, "run_name"));
    t->arch_name = g_strdup(g_hash_table_lookup(meta, "arch"));
    t->step = step;
    /* More steps may be asked for when resuming; never fewer than done. */
    t->total_steps = c->steps > 0 ? MAX(c->steps, (long)step) : (long)total;
    t->best_val = best;
    GHashTableIter iter;
    gpointer k, v;
    g_hash_table_iter_init(&iter, meta);
    while (g_hash_table_iter_next(&iter, &k, &v))
      if (g_str_has_prefix(k, "model."))
        aenet_model_set_meta(t->model, (char *)k + 6, v);
  }
  aenet_safetensors_free(file);
  if (!ok)
    g_prefix_error(error, "%s: ", path);
  return ok;
}

/* ---- setup ------------------------------------------------------------ */

static char *
strdup_or_null(const char *s)
{
  return s != NULL ? g_strdup(s) : NULL;
}

/* Whether src fits in the top-left corner of dst (same kernel size). */
static gboolean
fits_within(const AenetParamInfo *src, const AenetParamInfo *dst)
{
  if (src->n_dims != dst->n_dims)
    return FALSE;
  for (int d = 0; d < dst->n_dims; d++)
    if (src->shape[d] > dst->shape[d] || (d >= 2 && src->shape[d] != dst->shape[d]))
      return FALSE;
  return TRUE;
}

/* Copies src into the first output and input channels of dst. The extra
 * inputs of the copied outputs are zeroed, so the new channels (random, as
 * initialised) change nothing until training uses them: the wider network
 * starts with exactly the narrower one's output. Channel-major pixel
 * shuffles keep channel c's four sub-pixels at rows 4c..4c+3, so growing
 * them this way also keeps the mapping. */
static void
widen_tensor(float *dst, const AenetParamInfo *di, const float *src, const AenetParamInfo *si)
{
  gint64 dst_cols = di->n_elements / di->shape[0], src_cols = si->n_elements / si->shape[0];
  for (gint64 r = 0; r < si->shape[0]; r++) {
    memcpy(dst + r * dst_cols, src + r * src_cols, src_cols * sizeof(float));
    memset(dst + r * dst_cols + src_cols, 0, (dst_cols - src_cols) * sizeof(float));
  }
}

/* Whether dst is src with fewer input channels (a 4-D convolution weight,
 * same outputs and kernel). */
static gboolean
takes_fewer_inputs(const AenetParamInfo *dst, const AenetParamInfo *src)
{
  return dst->n_dims == 4 && src->n_dims == 4 && dst->shape[0] == src->shape[0]
         && dst->shape[1] < src->shape[1] && dst->shape[2] == src->shape[2]
         && dst->shape[3] == src->shape[3];
}

/* Keeps the weights of the first input channels: a blind denoiser started
 * from a noise-level-conditioned one keeps the image channels (which come
 * first) and drops the noise level's, so it starts as the source at σ 0. */
static void
narrow_inputs(float *dst, const AenetParamInfo *di, const float *src, const AenetParamInfo *si)
{
  gint64 dst_cols = di->n_elements / di->shape[0], src_cols = si->n_elements / si->shape[0];
  for (gint64 r = 0; r < di->shape[0]; r++)
    memcpy(dst + r * dst_cols, src + r * src_cols, dst_cols * sizeof(float));
}

/* Whether two tensors have the same shape. */
static gboolean
same_shape(const AenetParamInfo *a, const AenetParamInfo *b)
{
  return a->n_dims == b->n_dims && memcmp(a->shape, b->shape, a->n_dims * sizeof(gint64)) == 0;
}

/* The network's output for a fixed random input at noise level 20. */
static float *
probe_output(AenetNetwork *net, gsize *n_out, GError **error)
{
  int size = 4 * aenet_network_get_alignment(net), scale = aenet_network_get_scale(net);
  int c = aenet_network_get_in_channels(net);
  AenetWorkspace *ws = aenet_workspace_new(net, size, size, FALSE, error);
  if (ws == NULL)
    return NULL;
  float *input = g_new(float, (gsize)c * size * size);
  AenetRng rng;
  aenet_rng_init(&rng, 1);
  for (gsize i = 0; i < (gsize)c * size * size; i++)
    input[i] = aenet_rng_uniform(&rng);
  aenet_network_forward(net, ws, input, 20 / 255.0f);
  *n_out = (gsize)aenet_network_get_out_channels(net) * size * scale * size * scale;
  float *out = g_memdup2(aenet_workspace_get_output(ws), *n_out * sizeof(float));
  aenet_workspace_free(ws);
  g_free(input);
  return out;
}

/* Whether the grown network computes what its source does (to float
 * rounding): a deeper layout whose new layers take a source layer's place
 * would not. */
static gboolean
starts_as(AenetNetwork *grown, AenetNetwork *source, const char *source_name, GError **error)
{
  gsize n, n_source;
  float *a = probe_output(grown, &n, error);
  float *b = a != NULL ? probe_output(source, &n_source, error) : NULL;
  gboolean same = b != NULL && n == n_source;
  for (gsize i = 0; same && i < n; i++)
    same = fabsf(a[i] - b[i]) <= 1e-4f * (1 + fabsf(b[i]));
  if (b != NULL && !same)
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                _("%s grown into this architecture does not compute what it did; "
                  "its layers do not map onto it"),
                source_name);
  g_free(a), g_free(b);
  return same;
}

/* --init-from: copies every layer with the same name and shape, e.g. a 3x
 * upscaler from a 2x one: all but the last layer carry over. --widen-from:
 * the source is a narrower network of the same layout; every layer must
 * fit. --deepen-from: the source's layers are, in order, layers of the
 * same shape here; the rest are new. */
static gboolean
copy_matching_params(Trainer *t, const char *name_or_path, GError **error)
{
  AenetModel *source = aenet_model_load_named(name_or_path, error);
  if (source == NULL)
    return FALSE;
  AenetNetwork *from = source->network, *to = t->model->network;
  AenetGrowth grow = t->cfg.grow;
  guint copied = 0, n = aenet_network_get_n_param_tensors(to);
  guint n_from = aenet_network_get_n_param_tensors(from);
  gboolean ok = TRUE;
  if (grow == AENET_GROW_WIDER && n != n_from) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                _("%s is not a narrower version of architecture %s (%u layers, not %u)"),
                name_or_path, t->arch_name, n_from, n);
    ok = FALSE;
  }
  for (guint i = 0; i < n && ok; i++) {
    const AenetParamInfo *dst = aenet_network_get_param_info(to, i);
    const AenetParamInfo *src = NULL;
    if (grow == AENET_GROW_DEEPER) {
      /* The next source layer, if this one can be it. */
      if (copied < n_from && same_shape(aenet_network_get_param_info(from, copied), dst))
        src = aenet_network_get_param_info(from, copied);
    } else if (n == n_from) {
      /* Networks with as many layers have the same layout: layer i is
       * layer i, even where the names (node indices) moved, as in a blind
       * denoiser that lacks the noise-level nodes. */
      src = aenet_network_get_param_info(from, i);
    } else {
      for (guint j = 0; j < n_from && src == NULL; j++) {
        const AenetParamInfo *p = aenet_network_get_param_info(from, j);
        if (strcmp(p->name, dst->name) == 0)
          src = p;
      }
    }
    float *d = aenet_network_get_params(to) + dst->offset;
    const float *s = src != NULL ? aenet_network_get_params(from) + src->offset : NULL;
    if (grow == AENET_GROW_WIDER) {
      if (src == NULL || !fits_within(src, dst)) {
        g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                    _("%s is not a narrower version of architecture %s (layer %s)"),
                    name_or_path, t->arch_name, dst->name);
        ok = FALSE;
        break;
      }
      widen_tensor(d, dst, s, src);
      copied++;
    } else if (src != NULL && same_shape(src, dst)) {
      memcpy(d, s, dst->n_elements * sizeof(float));
      copied++;
    } else if (src != NULL && takes_fewer_inputs(dst, src)) {
      narrow_inputs(d, dst, s, src);
      copied++;
    }
  }
  if (ok && grow == AENET_GROW_DEEPER && copied < n_from) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                _("%s is not a shallower version of architecture %s (its layer %s has no place)"),
                name_or_path, t->arch_name, aenet_network_get_param_info(from, copied)->name);
    ok = FALSE;
  }
  if (ok && grow != AENET_GROW_NONE)
    ok = starts_as(to, from, name_or_path, error);
  if (!ok) {
    aenet_model_free(source);
    return FALSE;
  }
  message(t, _("started from %u of %u tensors of %s"), copied, n,
          aenet_model_get_display_name(source));
  aenet_model_free(source);
  if (copied == 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL, _("%s shares no layer with architecture %s"),
                name_or_path, t->arch_name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
create_model(Trainer *t, GError **error)
{
  AenetTrainConfig *c = &t->cfg;
  if (c->from != NULL) {
    /* A file or the name of an installed model. */
    t->model = aenet_model_load_named(c->from, error);
    if (t->model == NULL)
      return FALSE;
    if (g_strcmp0(t->model->task, c->task) != 0 || t->model->scale != c->scale) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                  _("%s is a %s model (scale %d), not %s at scale %d"), c->from, t->model->task,
                  t->model->scale, c->task, c->scale);
      return FALSE;
    }
    const char *arch = aenet_model_get_meta(t->model, "arch");
    t->arch_name = g_strdup(arch != NULL ? arch : "custom");
    const char *desc = aenet_model_get_meta(t->model, "description");
    char *from = g_strdup_printf("; fine-tuned from %s", aenet_model_get_display_name(t->model));
    /* A model fine-tuned from its own earlier phase says so once. */
    if (desc == NULL || !g_str_has_suffix(desc, from)) {
      char *d = g_strconcat(desc ? desc : "aenet model", from, NULL);
      aenet_model_set_meta(t->model, "description", d);
      g_free(d);
    }
    g_free(from);
  } else {
    const AenetPreset *preset = c->arch != NULL
                                    ? aenet_preset_find(c->arch, error)
                                    : aenet_preset_find_default(c->task, c->scale, error);
    if (preset == NULL)
      return FALSE;
    if (g_strcmp0(preset->task, c->task) != 0 || preset->scale != c->scale) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  _("architecture %s is for %s at scale %d, not %s at scale %d"), preset->name,
                  preset->task, preset->scale, c->task, c->scale);
      return FALSE;
    }
    char *graph = aenet_preset_build_graph(preset);
    t->model = aenet_model_new(c->task, graph, error);
    g_free(graph);
    if (t->model == NULL)
      return FALSE;
    aenet_network_init_params(t->model->network, c->seed);
    t->arch_name = g_strdup(preset->name);
    aenet_model_set_meta(t->model, "description", preset->description);
    if (c->init_from != NULL && !copy_matching_params(t, c->init_from, error))
      return FALSE;
  }
  t->net = t->model->network;
  t->n_params = aenet_network_get_n_params(t->net);
  t->m = g_new0(float, t->n_params);
  t->v = g_new0(float, t->n_params);
  aenet_train_data_rng_init(&t->data_rng, c->seed);
  t->best_val = -1;
  return TRUE;
}

static gboolean
open_data(Trainer *t, GError **error)
{
  AenetTrainConfig *c = &t->cfg;
  int align = aenet_network_get_alignment(t->net);
  if (c->patch <= 0 || c->patch % align != 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("the patch size must be a positive multiple of %d for this network, not %d"),
                align, c->patch);
    return FALSE;
  }
  if (c->data_dir == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("no training folder given (--data)"));
    return FALSE;
  }
  /* A checkpoint's number, or a caller's: one the mixes know. */
  if (c->photo < 0 || c->photo >= AENET_N_PHOTO_KINDS) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("unknown photo degradations (%d)"),
                c->photo);
    return FALSE;
  }
  GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
  int min_side = c->patch * c->scale;
  guint min_images = c->val_dir != NULL ? 4 : 8;
  t->train_ds = aenet_dataset_open(c->data_dir, c->scale, min_side, min_images, c->cache_bytes,
                                   warnings, error);
  if (t->train_ds != NULL && c->val_dir != NULL)
    t->val_ds = aenet_dataset_open(c->val_dir, c->scale, MAX(16, 2 * c->scale), 1, c->cache_bytes,
                                   warnings, error);
  for (guint i = 0; i < warnings->len; i++)
    message(t, "%s", (char *)g_ptr_array_index(warnings, i));
  g_ptr_array_unref(warnings);
  if (t->train_ds == NULL || (c->val_dir != NULL && t->val_ds == NULL))
    return FALSE;

  guint n = aenet_dataset_get_n_images(t->train_ds);
  t->train_index = g_new(guint, n);
  if (t->val_ds != NULL) {
    guint nv = MIN((guint)c->val_images, aenet_dataset_get_n_images(t->val_ds));
    t->val_index = g_new(guint, nv);
    for (guint i = 0; i < nv; i++)
      t->val_index[t->n_val++] = i;
    for (guint i = 0; i < n; i++)
      t->train_index[t->n_train++] = i;
  } else {
    /* Hold out every k-th image (at most a quarter of them). */
    guint nv = CLAMP((guint)c->val_images, 1, n / 4);
    guint k = n / nv;
    t->val_ds = t->train_ds;
    t->val_index = g_new(guint, nv);
    for (guint i = 0; i < n; i++)
      if (i % k == k - 1 && t->n_val < nv)
        t->val_index[t->n_val++] = i;
      else
        t->train_index[t->n_train++] = i;
  }
  aenet_image_picker_init(&t->picker, c, t->train_ds, t->train_index, t->n_train);
  message(t, _("%u training images, %u for validation"), t->n_train, t->n_val);
  return TRUE;
}

static gboolean
save_model(Trainer *t, double val, double baseline, GError **error)
{
  const AenetTrainConfig *c = &t->cfg;
  AenetModel *m = t->model;
  char *base = g_path_get_basename(c->out);
  char *dot = strrchr(base, '.');
  if (dot != NULL)
    *dot = '\0';
  aenet_model_set_meta(m, "name", c->name != NULL ? c->name : base);
  g_free(base);
  char *data = g_strdup_printf("%s (%u images)", c->data_dir, t->n_train);
  aenet_model_set_meta(m, "training_data", data);
  g_free(data);
  char *text = g_strdup_printf("%ld", t->step);
  aenet_model_set_meta(m, "steps", text);
  g_free(text);
  aenet_model_set_meta(m, "arch", t->arch_name);
  char *quality;
  if (c->scale > 1)
    quality = g_strdup_printf("validation PSNR (Y) %.2f dB (bicubic %.2f dB)", val, baseline);
  else if (c->photo)
    quality = g_strdup_printf("validation PSNR %.2f dB on photo degradations (input %.2f dB)",
                              val, baseline);
  else
    quality = g_strdup_printf("validation PSNR %.2f dB at sigma %g, clipped to 8 bits (noisy "
                              "input %.2f dB)", val, c->val_sigma, baseline);
  aenet_model_set_meta(m, "validation", quality);
  g_free(quality);
  aenet_model_set_meta(m, "trained_with", "aenet " AENET_VERSION);
  return aenet_model_save(m, c->out, error);
}

/* Validates, keeps the model when it is the best so far, reports. */
static gboolean
validate_and_keep(Trainer *t, AenetTrainStatus *st, GError **error)
{
  double psnr, base;
  if (!validate(t, &psnr, &base, error))
    return FALSE;
  st->validated = TRUE;
  st->step = t->step;
  st->val_psnr = psnr;
  st->val_baseline_psnr = base;
  if (psnr > t->best_val || !g_file_test(t->cfg.out, G_FILE_TEST_EXISTS)) {
    t->best_val = MAX(psnr, t->best_val);
    if (!save_model(t, psnr, base, error))
      return FALSE;
    message(t, _("step %ld: best so far, saved %s"), t->step, t->cfg.out);
  }
  st->best_val_psnr = t->best_val;
  if (t->cb != NULL && t->cb->progress != NULL)
    t->cb->progress(t->cb->user, st);
  st->validated = FALSE;
  return TRUE;
}

static void
trainer_clear(Trainer *t)
{
  batches_stop(t);
  aenet_model_free(t->model);
  if (t->val_ds != t->train_ds)
    aenet_dataset_free(t->val_ds);
  aenet_dataset_free(t->train_ds);
  aenet_image_picker_clear(&t->picker);
  g_free(t->train_index);
  g_free(t->val_index);
  g_free(t->grads);
  g_free(t->m);
  g_free(t->v);
  g_free(t->arch_name);
  g_clear_error(&t->producer_error);
  aenet_train_config_clear(&t->cfg);
}

gboolean
aenet_train_run(const AenetTrainConfig *cfg, const AenetTrainCallbacks *callbacks, GError **error)
{
  Trainer t = { 0 };
  t.cfg = *cfg;
  AenetTrainConfig *c = &t.cfg;
  c->task = strdup_or_null(cfg->task);
  c->data_dir = strdup_or_null(cfg->data_dir);
  c->val_dir = strdup_or_null(cfg->val_dir);
  c->from = strdup_or_null(cfg->from);
  c->arch = strdup_or_null(cfg->arch);
  c->init_from = strdup_or_null(cfg->init_from);
  c->resume = NULL;
  c->out = strdup_or_null(cfg->out);
  c->checkpoint = cfg->checkpoint != NULL ? g_strdup(cfg->checkpoint)
                  : cfg->out != NULL      ? g_strconcat(cfg->out, ".ckpt", NULL)
                                          : NULL;
  c->name = strdup_or_null(cfg->name);
  t.cb = callbacks;
  gboolean ok = FALSE;
  StepWorker *workers = NULL;

  if (c->out == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("no output model given (--out)"));
    goto out;
  }
  if (cfg->resume != NULL ? !load_checkpoint(&t, cfg->resume, error) : !create_model(&t, error))
    goto out;
  if (cfg->resume == NULL)
    t.total_steps = c->steps;
  if (c->batch < 1 || c->batch > 4096) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("the batch size must be 1 to 4096"));
    goto out;
  }
  if (t.total_steps <= 0 && c->minutes <= 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("say how long to train: --steps N or --minutes M"));
    goto out;
  }
  if (!open_data(&t, error))
    goto out;

  t.n_threads
      = CLAMP(c->threads > 0 ? c->threads : (int)g_get_num_processors(), 1, MIN(64, c->batch));
  t.grads = g_new0(float, t.n_params);
  workers = g_new0(StepWorker, t.n_threads);
  int p = c->patch, hp = p * c->scale;
  for (int i = 0; i < t.n_threads; i++) {
    workers[i].t = &t;
    workers[i].index = i;
    workers[i].ws = aenet_workspace_new(t.net, p, p, TRUE, error);
    if (workers[i].ws == NULL)
      goto out;
    /* Forward passes by Winograd: 14-15% more samples per second; the
     * gradients stay within rounding of the exact ones (test-network). */
    aenet_workspace_set_conv_kernel(workers[i].ws, AENET_CONV_WINOGRAD);
    workers[i].grads = i == 0 ? t.grads : g_new(float, t.n_params);
    workers[i].dout = g_new(float, (gsize)3 * hp * hp);
  }
  message(&t, _("%s: %zu parameters, %.0f multiply-adds per pixel, %d threads, step %ld"),
          t.arch_name, t.n_params, aenet_network_get_macs_per_pixel(t.net), t.n_threads, t.step);

  batches_start(&t);
  Batch *batch = batch_next(&t, error);
  if (batch == NULL)
    goto out;

  gint64 start = g_get_monotonic_time(), last_ckpt = start, last_report = start;
  long steps_at_start = t.step, steps_since_report = 0;
  double loss_sum = 0;
  AenetTrainStatus st = { 0 };
  gboolean stopped = FALSE;
  for (;;) {
    gint64 now = g_get_monotonic_time();
    double elapsed = (now - start) / 1e6;
    long done = t.step - steps_at_start;
    /* With only a time budget, fix the schedule's length once the speed is known. */
    if (t.total_steps <= 0 && done == 20)
      t.total_steps = t.step + (long)((c->minutes * 60 - elapsed) / (elapsed / done)) + 20;
    gboolean finished = t.total_steps > 0 && t.step >= t.total_steps;
    gboolean out_of_time = c->minutes > 0 && elapsed >= c->minutes * 60;
    stopped = (t.cb != NULL && t.cb->stop != NULL && *t.cb->stop)
              || (c->stop_at_step > 0 && t.step >= c->stop_at_step);
    if (finished || out_of_time || stopped)
      break;

    loss_sum += train_step(&t, workers, batch);
    steps_since_report++;
    batch_release(&t, batch);
    batch = batch_next(&t, error);
    if (batch == NULL)
      goto out;

    now = g_get_monotonic_time();
    if (now - last_report > 2000000 || t.step == t.total_steps) {
      double secs = (now - start) / 1e6;
      st.step = t.step;
      st.total_steps = t.total_steps;
      st.loss = loss_sum / steps_since_report;
      st.lr = learning_rate(&t);
      st.patches_per_second = (t.step - steps_at_start) * c->batch / secs;
      st.seconds_left
          = t.total_steps > 0 ? (t.total_steps - t.step) * secs / (t.step - steps_at_start) : -1;
      if (c->minutes > 0)
        st.seconds_left
            = MIN(st.seconds_left < 0 ? G_MAXDOUBLE : st.seconds_left, c->minutes * 60 - secs);
      if (t.cb != NULL && t.cb->progress != NULL)
        t.cb->progress(t.cb->user, &st);
      loss_sum = 0;
      steps_since_report = 0;
      last_report = now;
    }
    if (c->val_every > 0 && t.step % c->val_every == 0 && !validate_and_keep(&t, &st, error))
      goto out;
    if (now - last_ckpt > c->checkpoint_minutes * 60e6) {
      if (!save_checkpoint(&t, &batch->rng_before, error))
        goto out;
      last_ckpt = g_get_monotonic_time();
    }
  }
  if (!save_checkpoint(&t, &batch->rng_before, error))
    goto out;
  message(&t, _("step %ld: checkpoint written to %s"), t.step, c->checkpoint);
  double seconds = (g_get_monotonic_time() - start) / 1e6;
  if (t.step > steps_at_start)
    message(&t, _("%ld steps in %.1f s: %.1f patches/s"), t.step - steps_at_start, seconds,
            (t.step - steps_at_start) * c->batch / seconds);
  if (!stopped && (c->val_every <= 0 || t.step % c->val_every != 0)
      && !validate_and_keep(&t, &st, error))
    goto out;
  ok = TRUE;
out:
  batches_stop(&t);
  for (int i = 0; workers != NULL && i < t.n_threads; i++) {
    aenet_workspace_free(workers[i].ws);
    if (i > 0)
      g_free(workers[i].grads);
    g_free(workers[i].dout);
  }
  g_free(workers);
  trainer_clear(&t);
  return ok;
}

gboolean
aenet_train_average_models(AenetModel *into, const AenetModel *other, double weight,
                           GError **error)
{
  char *graph_into = aenet_network_to_json(into->network);
  char *graph_other = aenet_network_to_json(other->network);
  gboolean same = strcmp(into->task, other->task) == 0 && into->scale == other->scale
                  && strcmp(graph_into, graph_other) == 0;
  g_free(graph_into);
  g_free(graph_other);
  if (!same) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                _("%s and %s are different networks; only models of the same architecture, "
                  "task and scale can be averaged"),
                aenet_model_get_display_name(into), aenet_model_get_display_name(other));
    return FALSE;
  }
  if (!(weight >= 0 && weight <= 1)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("the weight of the second model must be between 0 and 1, not %g"), weight);
    return FALSE;
  }
  float *a = aenet_network_get_params(into->network);
  const float *b = aenet_network_get_params(other->network);
  for (gsize i = 0, n = aenet_network_get_n_params(into->network); i < n; i++)
    a[i] = (float)((1 - weight) * a[i] + weight * b[i]);
  return TRUE;
}
