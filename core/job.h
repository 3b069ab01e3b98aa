/* job.h — one task run with one model on images: what every front end does.
 *
 * The command, the GIMP plug-ins, eval and bench do the same steps through
 * a job, so the same image and settings give the same result and the same
 * speed in each:
 *   1. aenet_job_new: the model is found (the settings' name or path, else
 *      the task's default for the scale, or its blind model when the noise
 *      level is automatic and that model is installed), loaded and checked
 *      against the task row; BLAS is set to one thread, because the tiler
 *      runs its own threads over tiles (BLAS threads on top of them would
 *      oversubscribe the cores, measured 3× slower in GIMP).
 *   2. aenet_job_choose_noise_level (optional; aenet_job_run calls it when
 *      it was not called for this image): the level given, or estimated
 *      on a central crop of the region (one crop rule for every caller).
 *   3. aenet_job_run: the tiler over the region, blending with the original
 *      by the strength, with progress and cancel. Errors come as GError.
 * A job can run on any number of images (a batch loads its model once).
 *
 * Pixels cross as AenetImageIO (tiler.h): interleaved floats, 1–4 channels. */
#ifndef AENET_JOB_H
#define AENET_JOB_H

#include <glib.h>
#include "model.h"
#include "task.h"
#include "tiler.h"

G_BEGIN_DECLS

typedef struct {
  const char *model;   /* name or path; NULL or "" = the task's default */
  double noise_level;  /* sigma on 0–255; negative = automatic (estimate) */
  double strength;     /* 0–1: the original (0) to the result (1) */
  int scale;           /* 0 = the named model's, else the task's default */
  int tile;            /* largest tile edge; 0 = the largest within the budget */
  gsize memory_budget; /* bytes for all threads; 0 = AENET_DEFAULT_MEMORY_BUDGET */
  int n_threads;       /* 0 = one per core */
  int passes;          /* 1 to AENET_MAX_PASSES: mirrored runs averaged (tiler.h) */
} AenetJobSettings;

/* The task's defaults (every parameter's default; automatic noise level). */
void aenet_job_settings_init(AenetJobSettings *settings, const AenetTask *task);
/* A parameter's value in the settings by its kind, and setting it. */
double aenet_job_settings_get(const AenetJobSettings *settings, AenetParamKind kind);
void aenet_job_settings_set(AenetJobSettings *settings, AenetParamKind kind, double value);
/* Checks the values against the task's ranges; FALSE with a message
 * naming the value otherwise. task may be NULL (then only the limits that
 * hold for every task are checked). */
gboolean aenet_job_settings_check(const AenetJobSettings *settings, const AenetTask *task,
                                  GError **error);

typedef struct AenetJob AenetJob;

/* Finds, loads and checks the model. task may be NULL when settings->model
 * names one: the task is then the model's. The error is AENET_ERROR_MODEL
 * when the model does not fit the task or scale, AENET_ERROR_IO when none
 * is found. */
AenetJob *aenet_job_new(const AenetTask *task, const AenetJobSettings *settings, GError **error);
void aenet_job_free(AenetJob *job); /* NULL is fine */

const AenetTask *aenet_job_get_task(const AenetJob *job);
/* The model of the next run (after aenet_job_choose_model) or the last
 * one; before any choice, the job's model. */
const AenetModel *aenet_job_get_model(const AenetJob *job);
int aenet_job_get_scale(const AenetJob *job);
/* The working memory the settings ask for, bytes (0 = the default). */
gsize aenet_job_get_memory_budget(const AenetJob *job);
/* The passes the settings ask for (1 to AENET_MAX_PASSES). */
int aenet_job_get_passes(const AenetJob *job);
/* TRUE when automatic denoising had to use the noise-level model because
 * the task's blind model is not installed. */
gboolean aenet_job_is_fallback(const AenetJob *job);

/* The area of an image a run covers and how it reports. */
typedef struct {
  /* Input rectangle; width 0 = the whole image. Pixels around it are read
   * as context where the image has them. */
  int roi_x, roi_y, roi_width, roi_height;
  void (*progress)(void *user, double fraction); /* from the calling thread */
  void *progress_user;
  const volatile int *cancel; /* non-zero stops the run; may be NULL */
} AenetJobRegion;

void aenet_job_region_init(AenetJobRegion *region);

/* Decides the model for the next run on this image: a task's JPEG model
 * (task.h; installed, no model named, the level automatic) when the image
 * shows JPEG's quantization (jpeg-trace.h, on a central crop of the
 * region) with a step at least the task's jpeg_step_min, else the job's
 * model. aenet_job_run and aenet_job_choose_noise_level call it when it
 * was not called for this image. FALSE with error when the image cannot
 * be read. */
gboolean aenet_job_choose_model(AenetJob *job, const AenetImageIO *io,
                                const AenetJobRegion *region, GError **error);
/* Whether the last choice found a JPEG (and used the JPEG model). */
gboolean aenet_job_jpeg_input(const AenetJob *job);

/* Decides the noise level for the next run on this image: the settings'
 * level when given, else an estimate on a central crop of the region of at
 * most AENET_JOB_ESTIMATE_PIXELS. Returns sigma on 0–255, 0 when the task
 * has no noise level, -1 with error set on failure. A model without a
 * noise-level input (blind) needs no estimate: the level stays -1 and it
 * is no error; what such a model removed is shown after the run
 * (aenet_job_get_removed_level). */
double aenet_job_choose_noise_level(AenetJob *job, const AenetImageIO *io,
                                    const AenetJobRegion *region, GError **error);
/* The estimate alone, with the same policy (e.g. for a dialog to show
 * before it has a job): sigma on 0–255, or -1 with error set. */
double aenet_job_estimate_noise(const AenetImageIO *io, const AenetJobRegion *region,
                                GError **error);
/* Sets the level for the next run (0–255), e.g. one a dialog estimated. */
void aenet_job_set_noise_level(AenetJob *job, double sigma);
/* The level of the last choice: what the front ends show; -1 if none. */
double aenet_job_get_noise_level(const AenetJob *job);
/* Whether the last choice was estimated (automatic). */
gboolean aenet_job_noise_level_estimated(const AenetJob *job);

#define AENET_JOB_ESTIMATE_PIXELS 4000000

/* Plans the tiles for an image (io's size and channels) and region with
 * the job's settings: the tiler's plan (tiler.h), the one a run uses. */
gboolean aenet_job_plan(const AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region,
                        AenetTilePlan *plan, GError **error);

/* Runs the task over the region: output pixels are written through io
 * (for a size-keeping task, blended with io's input by the strength).
 * Consumes the chosen noise level (the next image chooses again).
 * AENET_ERROR_CANCELLED when stopped by the cancel flag. */
gboolean aenet_job_run(AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region,
                       GError **error);

/* What the last aenet_job_run of a size-keeping task removed: the standard
 * deviation of (result - input) at full strength over the colour samples
 * of the region, on the 0–255 scale; -1 before a run or for upscaling.
 * For a blind photo model this is the noise level shown to the user: the
 * level of Gaussian noise with the same power as what the model found. */
double aenet_job_get_removed_level(const AenetJob *job);

/* Planar (c, h, w) images in memory, c = 1 or 3, out (c, h*s, w*s): eval's
 * and tests' case. Noise level as aenet_job_run (chosen or estimated). */
gboolean aenet_job_run_planar(AenetJob *job, const float *in, int c, int h, int w, float *out,
                              GError **error);

G_END_DECLS

#endif
