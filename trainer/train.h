/* train.h — training and fine-tuning a model on a folder of photos.
 *
 * One run: data from a folder (patches, the eight flips and rotations,
 * degradations made on the fly by a worker thread a batch ahead), Adam with
 * warm-up and cosine or step decay, gradient clipping, L1 / L2 /
 * Charbonnier loss, validation every few steps against the baseline
 * (noisy input or bicubic), the best model written to the output.
 *
 * Checkpoints hold the weights, the optimizer's moments, the data
 * generator's state, the step and the settings, written atomically every
 * few minutes and on stop. Resuming replays exactly what an uninterrupted
 * run would have done: same seed and thread count, same weights. */
#ifndef AENET_TRAIN_H
#define AENET_TRAIN_H

#include <glib.h>

#include "dataset.h"
#include "model.h"
#include "rng.h"

G_BEGIN_DECLS

typedef enum {
  AENET_LOSS_L1,
  AENET_LOSS_L2,
  AENET_LOSS_CHARBONNIER,
  /* The mean over patches of 10 log10(MSE + one 8-bit level²): every patch
   * counts in dB, so clean and lightly degraded patches (most of a real
   * photo) count as much as heavily degraded ones, which dominate L2. */
  AENET_LOSS_PSNR,
  AENET_N_LOSSES
} AenetLoss;

typedef enum {
  AENET_SCHEDULE_COSINE,
  AENET_SCHEDULE_STEP,
  AENET_SCHEDULE_CONSTANT,
  AENET_N_SCHEDULES
} AenetSchedule;

/* Photographs' degradations on a training input (aenet_degrade_photo):
 * none, the task's mix (aenet_photo_mix_denoise or _upscale), the mix of
 * strongly compressed JPEGs (aenet_photo_mix_strong_jpeg), of cameras'
 * grain (aenet_photo_mix_camera_grain) or with mottle
 * (aenet_photo_mix_mottle). Stored in checkpoints as a number: append
 * only. */
typedef enum {
  AENET_PHOTO_NONE,
  AENET_PHOTO_TASK_MIX,
  AENET_PHOTO_STRONG_JPEG,
  AENET_PHOTO_CAMERA_GRAIN,
  AENET_PHOTO_MOTTLE,
  AENET_N_PHOTO_KINDS
} AenetPhotoKind;

/* Their names, in enum order: the command's --loss and --schedule, and
 * checkpoints' settings. */
extern const char *const aenet_loss_names[AENET_N_LOSSES];
extern const char *const aenet_schedule_names[AENET_N_SCHEDULES];

/* How --arch's network takes init_from's layers: those of the same name
 * and shape; all of them, into the first channels of a wider network of
 * the same layout; or all of them, in order, in a deeper network whose
 * other layers are residual blocks that start as identities. Grown
 * networks start with the source's output. */
typedef enum {
  AENET_GROW_NONE,
  AENET_GROW_WIDER,
  AENET_GROW_DEEPER,
} AenetGrowth;

typedef struct {
  char *task;       /* "denoise" or "upscale" */
  int scale;        /* upscale only */
  char *data_dir;   /* training images */
  char *val_dir;    /* NULL: hold out part of data_dir */
  char *from;       /* start from this model file, or NULL */
  char *arch;       /* preset name when not from a model; NULL = default */
  char *init_from;  /* with arch: start from this model's layers */
  AenetGrowth grow; /* how init_from's layers map onto the new network */
  char *resume;     /* checkpoint to resume, or NULL */
  char *out;        /* model file to write */
  char *checkpoint; /* checkpoint path; NULL = out + ".ckpt" */
  char *name;       /* model name in its metadata; NULL = from out */
  int patch;        /* network input size in pixels (low resolution for upscale) */
  int batch;
  int threads;       /* 0 = all cores */
  long steps;        /* total steps; 0 = from minutes */
  double minutes;    /* time budget for this invocation; 0 = none */
  long stop_at_step; /* stop as if interrupted when this step is reached; 0 = none */
  double checkpoint_minutes;
  long val_every; /* steps between validations */
  int val_images; /* images held out or used from val_dir */
  double lr, weight_decay, clip;
  long warmup;
  AenetSchedule schedule;
  AenetLoss loss;
  guint64 seed;
  float sigma_min, sigma_max; /* training noise range, 0–255 scale */
  float val_sigma;            /* validation noise level */
  float poisson_gain;         /* > 0: add signal-dependent noise too */
  float lr_sigma;             /* upscale: noise up to this level on the input */
  int balance_sigma;          /* denoise: weigh each patch's loss by 30 / (σ + 5) */
  int photo;                  /* AenetPhotoKind: photographs' degradations on the input */
  /* denoise, Gaussian noise: the fraction of inputs left as floats,
   * neither clipped nor rounded (the paper protocol's inputs) */
  float unclipped;
  /* denoise, Gaussian noise: the fraction of inputs whose noise is below
   * the level the network is told (a uniform fraction of it, 0 to 1), as
   * when a user sets the level above a photo's noise */
  float overstated;
  int jpeg_min, jpeg_max;     /* > 0: JPEG-compress inputs at a random quality */
  /* Draw images in proportion to their patch positions (area), so that a
   * large photo gives as many patches per pixel as a small one; 0 draws
   * every image equally often (runs from before this field) */
  int area_sampling;
  gsize cache_bytes;
} AenetTrainConfig;

typedef struct {
  long step, total_steps;
  double loss; /* mean over the steps since the last report */
  double lr;
  double patches_per_second;
  double seconds_left; /* estimate, < 0 when unknown */
  gboolean validated;  /* the fields below are new */
  double val_psnr, val_baseline_psnr, best_val_psnr;
} AenetTrainStatus;

typedef struct {
  /* Called after every few steps and after each validation. */
  void (*progress)(void *user, const AenetTrainStatus *status);
  /* Warnings and events worth a line ("saved best model …"). */
  void (*message)(void *user, const char *text);
  void *user;
  /* Set non-zero to stop: a checkpoint is written, then the run returns. */
  const volatile int *stop;
} AenetTrainCallbacks;

/* Defaults for a task (patch size, batch, learning rate, …). */
void aenet_train_config_init(AenetTrainConfig *cfg, const char *task, int scale);
void aenet_train_config_clear(AenetTrainConfig *cfg);

/* Degrades one training input in place as the settings say, exactly as a
 * run does: input is (3, size, size), a copy of the clean patch for
 * denoising or the low-resolution patch for upscaling; it ends clipped and
 * rounded to 8 bits, as a saved file. scratch holds
 * aenet_degrade_camera_scratch_size(size, size) floats. *noise_level gets
 * the level fed to the network (σ/255; 0 when there is none). FALSE with
 * error on a JPEG failure. */
gboolean aenet_train_degrade(const AenetTrainConfig *cfg, float *input, int size, float *scratch,
                             AenetRng *rng, float *noise_level, GError **error);

/* The generator a run with this seed draws its pairs from. */
void aenet_train_data_rng_init(AenetRng *rng, guint64 seed);

/* Which of a list of images a training patch comes from (see
 * cfg->area_sampling). */
typedef struct {
  const guint *images;
  guint n_images;
  double *cumulative; /* patch positions in images[0..i]; NULL: each image alike */
} AenetImagePicker;

void aenet_image_picker_init(AenetImagePicker *picker, const AenetTrainConfig *cfg,
                             AenetDataset *ds, const guint *images, guint n_images);
void aenet_image_picker_clear(AenetImagePicker *picker);
guint aenet_image_picker_draw(const AenetImagePicker *picker, AenetRng *rng);

/* Draws one training pair as a run does: an image by the picker, a random
 * patch of it (cfg->patch input pixels) in one of the eight flips and
 * rotations, its input degraded by aenet_train_degrade. input is
 * (3, p, p), target (3, p*s, p*s); scratch as for aenet_train_degrade. */
gboolean aenet_train_draw_sample(const AenetTrainConfig *cfg, AenetDataset *ds,
                                 const AenetImagePicker *picker, float *scratch, AenetRng *rng,
                                 float *input, float *target, float *noise_level, GError **error);

/* Weight averaging (a "model soup", Wortsman et al., 2022): into's
 * parameters become (1 − weight) · into + weight · other. Both must be
 * the same network (task, scale and graph), e.g. two fine-tunes of one
 * model, which then often combine what each does best. */
gboolean aenet_train_average_models(AenetModel *into, const AenetModel *other, double weight,
                                    GError **error);

/* Trains until cfg->steps or the time budget or the stop flag. Returns
 * FALSE with error on failure; a stop is not a failure. */
gboolean aenet_train_run(const AenetTrainConfig *cfg, const AenetTrainCallbacks *callbacks,
                         GError **error);

G_END_DECLS

#endif
