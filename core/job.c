/* job.c — a task run with one model (see job.h). */
#include "config.h"

#include "job.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "jpeg-trace.h"
#include "noise-estimate.h"

/* Rows of a crop read at a time, so the read buffer stays small. */
#define CROP_BAND_ROWS 64

struct AenetJob {
  const AenetTask *task;
  AenetJobSettings settings; /* .model points to model_name */
  char *model_name;
  AenetModel *model;
  /* The task's model for images saved as JPEG, when installed and no model
   * is named; active is the one of the next (or last) run. */
  AenetModel *jpeg_model;
  const AenetModel *active;
  gboolean model_chosen; /* for the next run */
  gboolean fallback;
  double noise_level;    /* sigma on 0–255 of the last choice, or -1 */
  gboolean noise_chosen; /* for the next run */
  gboolean noise_estimated;
  double removed_level; /* sigma on 0–255 the last run removed, or -1 */
};

double
aenet_job_settings_get(const AenetJobSettings *s, AenetParamKind kind)
{
  switch (kind) {
  case AENET_PARAM_NOISE_LEVEL:
    return s->noise_level;
  case AENET_PARAM_STRENGTH:
    return s->strength;
  case AENET_PARAM_SCALE:
    return s->scale;
  }
  return NAN;
}

void
aenet_job_settings_set(AenetJobSettings *s, AenetParamKind kind, double value)
{
  switch (kind) {
  case AENET_PARAM_NOISE_LEVEL:
    s->noise_level = value;
    break;
  case AENET_PARAM_STRENGTH:
    s->strength = value;
    break;
  case AENET_PARAM_SCALE:
    s->scale = (int)value;
    break;
  }
}

void
aenet_job_settings_init(AenetJobSettings *settings, const AenetTask *task)
{
  memset(settings, 0, sizeof *settings);
  settings->noise_level = -1.0;
  settings->strength = 1.0;
  settings->passes = 1;
  for (int i = 0; task != NULL && i < task->n_params; i++)
    aenet_job_settings_set(settings, task->params[i].kind, task->params[i].def);
}

gboolean
aenet_job_settings_check(const AenetJobSettings *settings, const AenetTask *task, GError **error)
{
  for (int i = 0; task != NULL && i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    double v = aenet_job_settings_get(settings, p->kind);
    /* Scale 0: the named model's (checked when it is loaded). */
    if (p->kind == AENET_PARAM_SCALE && v == 0)
      continue;
    if (!aenet_task_param_accepts(p, v))
      return aenet_task_param_range_error(p, v, error);
  }
  if (settings->tile < 0 || settings->n_threads < 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The tile size and the number of threads cannot be negative."));
    return FALSE;
  }
  if (settings->passes < 1 || settings->passes > AENET_MAX_PASSES) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The number of passes %d is out of range: give 1 to %d."), settings->passes,
                AENET_MAX_PASSES);
    return FALSE;
  }
  return TRUE;
}

/* The file for a job: the named model; else, with the noise level
 * automatic, the task's blind model if installed; else the task's default
 * for the scale (the blind model's fallback). */
static char *
find_model(AenetJob *job, int scale, GError **error)
{
  const AenetTask *task = job->task;
  if (job->model_name != NULL && *job->model_name != '\0')
    return aenet_model_find(job->model_name, error);
  if (task->blind_model != NULL && job->settings.noise_level < 0) {
    char *path = aenet_model_find(task->blind_model, NULL);
    if (path != NULL)
      return path;
    job->fallback = TRUE;
  }
  char *name = aenet_task_default_model(task, scale);
  char *path = aenet_model_find(name, error);
  g_free(name);
  return path;
}

/* Checks that a loaded model does the job's task at the asked scale. */
static gboolean
check_model(const AenetJob *job, const AenetModel *m, GError **error)
{
  const char *name = aenet_model_get_display_name(m);
  if (strcmp(m->task, job->task->model_task) != 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                /* TRANSLATORS: the tasks are keywords: “denoise”, “upscale”. */
                _("The model “%s” is for the task “%s”, not for “%s”."), name, m->task,
                job->task->name);
    return FALSE;
  }
  if (job->settings.scale > 0 && job->settings.scale != m->scale) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL, _("The model “%s” enlarges %d×, not %d×."),
                name, m->scale, job->settings.scale);
    return FALSE;
  }
  return TRUE;
}

AenetJob *
aenet_job_new(const AenetTask *task, const AenetJobSettings *settings, GError **error)
{
  gboolean named = settings->model != NULL && *settings->model != '\0';
  if (task == NULL && !named) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "internal error: a job needs a task or a model");
    return NULL;
  }
  if (!aenet_job_settings_check(settings, task, error))
    return NULL;

  AenetJob *job = g_new0(AenetJob, 1);
  job->task = task;
  job->settings = *settings;
  job->model_name = g_strdup(settings->model);
  job->settings.model = job->model_name;
  job->noise_level = -1;
  job->removed_level = -1;

  int scale = settings->scale > 0 ? settings->scale : task ? aenet_task_default_scale(task) : 1;
  char *path = find_model(job, scale, error); /* a named model needs no task */
  if (path != NULL)
    job->model = aenet_model_load(path, error);
  g_free(path);
  if (job->model == NULL)
    goto fail;
  if (job->task == NULL)
    job->task = aenet_task_find_for_model(job->model->task); /* the loader checked it exists */
  if (!check_model(job, job->model, error))
    goto fail;
  job->active = job->model;
  /* A level given by hand is for the model that takes it: the JPEG
   * models are blind, so they are not even read. */
  if (!named && job->task->jpeg_model != NULL && job->settings.noise_level < 0) {
    char *name = aenet_task_model_name(job->task->jpeg_model, aenet_job_get_scale(job));
    path = aenet_model_find(name, NULL); /* optional: without it, the default serves all */
    g_free(name);
    if (path != NULL) {
      job->jpeg_model = aenet_model_load(path, error);
      g_free(path);
      if (job->jpeg_model == NULL || !check_model(job, job->jpeg_model, error))
        goto fail;
      /* The same inputs as the model it stands for (not so when the blind
       * model is missing and the noise-level model estimates the level). */
      if (aenet_network_takes_noise_level(job->jpeg_model->network)
          != aenet_network_takes_noise_level(job->model->network))
        g_clear_pointer(&job->jpeg_model, aenet_model_free);
    }
  }

  aenet_cpu_use_own_threads();
  return job;

fail:
  aenet_job_free(job);
  return NULL;
}

void
aenet_job_free(AenetJob *job)
{
  if (job == NULL)
    return;
  aenet_model_free(job->model);
  aenet_model_free(job->jpeg_model);
  g_free(job->model_name);
  g_free(job);
}

const AenetTask *
aenet_job_get_task(const AenetJob *job)
{
  return job->task;
}

const AenetModel *
aenet_job_get_model(const AenetJob *job)
{
  return job->active;
}

int
aenet_job_get_scale(const AenetJob *job)
{
  return aenet_network_get_scale(job->model->network);
}

gsize
aenet_job_get_memory_budget(const AenetJob *job)
{
  return job->settings.memory_budget;
}

int
aenet_job_get_passes(const AenetJob *job)
{
  return job->settings.passes;
}

gboolean
aenet_job_is_fallback(const AenetJob *job)
{
  return job->fallback;
}

void
aenet_job_region_init(AenetJobRegion *region)
{
  memset(region, 0, sizeof *region);
}

/* The region as x, y, w, h inside the image. */
static void
region_rect(const AenetImageIO *io, const AenetJobRegion *region, int r[4])
{
  if (region == NULL || region->roi_width <= 0 || region->roi_height <= 0) {
    r[0] = r[1] = 0, r[2] = io->width, r[3] = io->height;
    return;
  }
  r[0] = CLAMP(region->roi_x, 0, io->width);
  r[1] = CLAMP(region->roi_y, 0, io->height);
  r[2] = MIN(region->roi_width, io->width - r[0]);
  r[3] = MIN(region->roi_height, io->height - r[1]);
}

/* What the image-dependent choices read: a central crop of the region of
 * at most max_pixels with the region's shape, its colour channels (no
 * alpha), planar (colour, ch, cw), clipped to [0, 1] as a saved file is.
 * NULL with error. */
static float *
read_central_crop(const AenetImageIO *io, const AenetJobRegion *region, double max_pixels,
                  int *colour, int *cw, int *ch, GError **error)
{
  int r[4];
  region_rect(io, region, r);
  int w = r[2], h = r[3];
  double pixels = (double)w * h;
  if (pixels > max_pixels) {
    double f = sqrt(max_pixels / pixels);
    w = MAX(1, (int)(w * f));
    h = MAX(1, (int)(h * f));
  }
  int x0 = r[0] + (r[2] - w) / 2, y0 = r[1] + (r[3] - h) / 2;
  int nc = io->n_channels, c = nc >= 3 ? 3 : 1;
  gsize plane = (gsize)w * h;
  int band = MIN(h, CROP_BAND_ROWS);
  float *rows = g_try_new(float, (gsize)w * band * nc); /* (band, w, nc) */
  float *planar = g_try_new(float, plane * c);
  if (rows == NULL || planar == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("Not enough memory to read a part of the image."));
    goto fail;
  }
  for (int y = 0; y < h; y += band) {
    int n = MIN(band, h - y);
    if (!io->read(io->user, x0, y0 + y, w, n, rows, error))
      goto fail;
    aenet_pixels_deinterleave(planar + (gsize)y * w, plane, rows, (gsize)w * n, nc, c);
  }
  for (gsize i = 0; i < plane * c; i++)
    planar[i] = CLAMP(planar[i], 0.0f, 1.0f);
  g_free(rows);
  *colour = c, *cw = w, *ch = h;
  return planar;

fail:
  g_free(rows);
  g_free(planar);
  return NULL;
}

/* The noise estimate's policy, for every caller: a central crop of the
 * region of at most AENET_JOB_ESTIMATE_PIXELS. */
double
aenet_job_estimate_noise(const AenetImageIO *io, const AenetJobRegion *region, GError **error)
{
  int colour, cw, ch;
  float *planar = read_central_crop(io, region, AENET_JOB_ESTIMATE_PIXELS, &colour, &cw, &ch, error);
  if (planar == NULL)
    return -1;
  double sigma = aenet_noise_estimate(planar, colour, ch, cw, error);
  g_free(planar);
  return sigma;
}

gboolean
aenet_job_choose_model(AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region,
                       GError **error)
{
  job->active = job->model;
  if (job->jpeg_model != NULL) {
    int colour, cw, ch;
    float *planar = read_central_crop(io, region, AENET_JPEG_TRACE_PIXELS, &colour, &cw, &ch, error);
    if (planar == NULL)
      return FALSE;
    int step;
    double trace = aenet_jpeg_trace(planar, colour, ch, cw, &step, error);
    g_free(planar);
    if (trace < -1)
      return FALSE;
    if (trace > AENET_JPEG_TRACE_THRESHOLD && step >= job->task->jpeg_step_min)
      job->active = job->jpeg_model;
  }
  job->model_chosen = TRUE;
  return TRUE;
}

gboolean
aenet_job_jpeg_input(const AenetJob *job)
{
  return job->jpeg_model != NULL && job->active == job->jpeg_model;
}

double
aenet_job_choose_noise_level(AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region,
                             GError **error)
{
  const AenetTaskParam *p = aenet_task_get_param(job->task, AENET_PARAM_NOISE_LEVEL);
  job->noise_estimated = FALSE;
  if (!job->model_chosen && !aenet_job_choose_model(job, io, region, error))
    return -1;
  if (p == NULL)
    job->noise_level = 0;
  else if (job->settings.noise_level >= 0)
    job->noise_level = job->settings.noise_level;
  else if (!aenet_network_takes_noise_level(job->active->network)) {
    /* A blind model finds the noise itself. A white-noise estimate would
     * only mislead (it reads σ 2 where real camera noise is removed as
     * σ 5–10); what it removed is shown after the run instead. */
    job->noise_level = -1;
  } else {
    double sigma = aenet_job_estimate_noise(io, region, error);
    if (sigma < 0)
      return -1;
    job->noise_level = CLAMP(sigma, p->min, p->max);
    job->noise_estimated = TRUE;
  }
  job->noise_chosen = TRUE;
  return job->noise_level;
}

void
aenet_job_set_noise_level(AenetJob *job, double sigma)
{
  job->noise_level = MAX(sigma, 0.0);
  job->noise_chosen = TRUE;
  job->noise_estimated = FALSE;
}

double
aenet_job_get_noise_level(const AenetJob *job)
{
  return job->noise_level;
}

gboolean
aenet_job_noise_level_estimated(const AenetJob *job)
{
  return job->noise_estimated;
}

/* The tiler's options for a run; the one place the noise level goes from
 * the user's 0–255 scale to the network's 0–1. */
static void
tiler_options(const AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region,
              AenetTilerOptions *opt)
{
  aenet_tiler_options_init(opt);
  if (region != NULL && io != NULL) {
    int r[4];
    region_rect(io, region, r);
    opt->roi_x = r[0], opt->roi_y = r[1], opt->roi_width = r[2], opt->roi_height = r[3];
    opt->progress = region->progress;
    opt->progress_user = region->progress_user;
    opt->cancel = region->cancel;
  }
  opt->tile = job->settings.tile;
  opt->memory_budget = job->settings.memory_budget;
  opt->n_threads = job->settings.n_threads;
  opt->passes = job->settings.passes;
  opt->noise_level = (float)(MAX(job->noise_level, 0.0) / 255.0);
}

gboolean
aenet_job_plan(const AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region,
               AenetTilePlan *plan, GError **error)
{
  AenetTilerOptions opt;
  tiler_options(job, io, region, &opt);
  return aenet_tiler_plan(job->active->network, io, &opt, plan, error);
}

/* Size-keeping tasks write through this: it measures what the network
 * changed (the result at full strength against the input) and, for a
 * strength below 1, blends each rectangle with the input's same rectangle
 * (output and input coordinates are the same). The tiler calls write one
 * at a time. */
typedef struct {
  const AenetImageIO *inner;
  float strength;
  float *scratch;
  gsize scratch_size; /* floats */
  double sum_squares;  /* of (result - input) over colour samples */
  gsize n_samples;
} ResultIO;

static gboolean
result_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const ResultIO *r = user;
  return r->inner->read(r->inner->user, x, y, w, h, dst, error);
}

static gboolean
result_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  ResultIO *r = user;
  int nc = r->inner->n_channels, colours = nc >= 3 ? 3 : 1;
  gsize n = (gsize)w * h * nc;
  if (n > r->scratch_size) {
    g_free(r->scratch);
    r->scratch = g_try_new(float, n);
    r->scratch_size = r->scratch != NULL ? n : 0;
    if (r->scratch == NULL) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                  _("Not enough memory to blend the result with the original."));
      return FALSE;
    }
  }
  if (!r->inner->read(r->inner->user, x, y, w, h, r->scratch, error))
    return FALSE;
  for (gsize i = 0; i < n; i += nc)
    for (int c = 0; c < colours; c++) {
      double d = src[i + c] - r->scratch[i + c];
      r->sum_squares += d * d;
    }
  r->n_samples += (gsize)w * h * colours;
  if (r->strength >= 1.0f)
    return r->inner->write(r->inner->user, x, y, w, h, src, error);
  for (gsize i = 0; i < n; i++)
    r->scratch[i] += r->strength * (src[i] - r->scratch[i]);
  return r->inner->write(r->inner->user, x, y, w, h, r->scratch, error);
}

gboolean
aenet_job_run(AenetJob *job, const AenetImageIO *io, const AenetJobRegion *region, GError **error)
{
  AenetJobRegion whole;
  if (region == NULL) {
    aenet_job_region_init(&whole);
    region = &whole;
  }
  if (!job->model_chosen && !aenet_job_choose_model(job, io, region, error))
    return FALSE;
  if (!job->noise_chosen) {
    GError *failure = NULL; /* -1 alone is a blind model's "no level" */
    if (aenet_job_choose_noise_level(job, io, region, &failure) < 0 && failure != NULL) {
      g_propagate_error(error, failure);
      return FALSE;
    }
  }
  job->noise_chosen = job->model_chosen = FALSE; /* the next image chooses again */

  AenetTilerOptions opt;
  tiler_options(job, io, region, &opt);
  gboolean keeps_size = aenet_job_get_scale(job) == 1;
  ResultIO r = { io, (float)CLAMP(job->settings.strength, 0.0, 1.0), NULL, 0, 0, 0 };
  AenetImageIO through = *io;
  if (keeps_size) {
    through.read = result_read;
    through.write = result_write;
    through.user = &r;
  }
  job->removed_level = -1;
  gboolean ok = aenet_tiler_run(job->active->network, keeps_size ? &through : io, &opt, error);
  g_free(r.scratch);
  if (ok && r.n_samples > 0)
    job->removed_level = 255.0 * sqrt(r.sum_squares / r.n_samples);
  return ok;
}

double
aenet_job_get_removed_level(const AenetJob *job)
{
  return job->removed_level;
}

gboolean
aenet_job_run_planar(AenetJob *job, const float *in, int c, int h, int w, float *out,
                     GError **error)
{
  if (!job->noise_chosen && job->settings.noise_level < 0
      && aenet_task_get_param(job->task, AENET_PARAM_NOISE_LEVEL) != NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "internal error: a planar run needs its noise level given");
    return FALSE;
  }
  if (!job->noise_chosen)
    aenet_job_set_noise_level(job, MAX(job->settings.noise_level, 0.0));
  job->noise_chosen = FALSE;
  job->active = job->model; /* planar images come from evaluations, not files */

  AenetTilerOptions opt;
  tiler_options(job, NULL, NULL, &opt);
  if (!aenet_tiler_run_planar(job->active->network, in, c, h, w, out, &opt, error))
    return FALSE;
  if (job->settings.strength < 1.0 && aenet_job_get_scale(job) == 1) {
    float s = (float)CLAMP(job->settings.strength, 0.0, 1.0);
    for (gsize i = 0; i < (gsize)c * h * w; i++)
      out[i] = in[i] + s * (out[i] - in[i]);
  }
  return TRUE;
}
