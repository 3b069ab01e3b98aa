/* process.c — settings, set-up and pixels shared by the GIMP front ends
 * (see process.h).
 *
 * Rectangles cross the job's callbacks as interleaved floats, h rows of
 * w * n_channels, in drawable-local coordinates (output coordinates for
 * enlarging, i.e. times the scale). */
#include "config.h"

#include "process.h"

#include <locale.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "error.h"
#include "model.h"
#include "network.h"

/* GEGL's tile cache in the plug-in, in bytes. GEGL sizes it from the
 * machine's memory by default, and a plug-in's buffers are proxies of
 * GIMP's, so a large cache only keeps tiles already read or written and
 * makes the plug-in grow with the layer (about the layer's size again, at
 * 48 MP and up). The job reads and writes one tile at a time; this is
 * ample for that and keeps memory near the engine's budget. GEGL_CACHE_SIZE
 * (MiB) in the environment still wins. */
#define AENET_PLUGIN_TILE_CACHE ((guint64)32 << 20)

void
aenet_values_init(AenetValues *values, const AenetTask *task)
{
  AenetJobSettings s;
  aenet_job_settings_init(&s, task);
  memset(values, 0, sizeof *values);
  values->noise_level = s.noise_level;
  values->strength = s.strength;
  values->scale = s.scale > 0 ? s.scale : aenet_task_default_scale(task);
  values->output = AENET_OUTPUT_NEW_IMAGE;
  values->memory_mb = (int)(AENET_DEFAULT_MEMORY_BUDGET >> 20);
  values->passes = s.passes;
}

/* The values as a job's settings: the one place the two meet. Only the
 * task's own parameters are taken (saved values hold every field). */
static void
values_to_settings(const AenetValues *values, const AenetTask *task, AenetJobSettings *s)
{
  AenetJobSettings saved = { 0 };
  saved.noise_level = values->noise_level;
  saved.strength = values->strength;
  saved.scale = values->scale;
  aenet_job_settings_init(s, task);
  for (int i = 0; i < task->n_params; i++)
    aenet_job_settings_set(s, task->params[i].kind,
                           aenet_job_settings_get(&saved, task->params[i].kind));
  s->model = values->model;
  if (values->memory_mb > 0)
    s->memory_budget = (gsize)values->memory_mb << 20;
  if (values->passes != 0)
    s->passes = values->passes;
}

void
aenet_values_set(AenetValues *values, AenetParamKind kind, double value)
{
  AenetJobSettings s = { 0 };
  s.noise_level = values->noise_level;
  s.strength = values->strength;
  s.scale = values->scale;
  aenet_job_settings_set(&s, kind, value);
  values->noise_level = s.noise_level;
  values->strength = s.strength;
  values->scale = s.scale;
}

gboolean
aenet_values_check(const AenetValues *values, const AenetTask *task, GError **error)
{
  AenetJobSettings s;
  values_to_settings(values, task, &s);
  if (!aenet_job_settings_check(&s, task, error))
    return FALSE;
  if (aenet_task_changes_size(task)
      && (values->output < AENET_OUTPUT_NEW_IMAGE || values->output > AENET_OUTPUT_NEW_LAYER)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The output %d is not known: give 0 (new image), 1 (in place) or 2 "
                  "(new layer)."),
                values->output);
    return FALSE;
  }
  if (values->memory_mb != 0
      && (values->memory_mb < AENET_PLUGIN_MEMORY_MIN_MB
          || values->memory_mb > AENET_PLUGIN_MEMORY_MAX_MB)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The working memory %d MiB is out of range: give %d to %d MiB."),
                values->memory_mb, AENET_PLUGIN_MEMORY_MIN_MB, AENET_PLUGIN_MEMORY_MAX_MB);
    return FALSE;
  }
  return TRUE;
}

AenetJob *
aenet_values_make_job(const AenetValues *values, const AenetTask *task, GError **error)
{
  AenetJobSettings s;
  values_to_settings(values, task, &s);
  return aenet_job_new(task, &s, error);
}

const AenetTask *
aenet_plugin_task_for_procedure(const char *name)
{
  for (guint i = 0; i < aenet_task_count(); i++)
    if (g_strcmp0(aenet_task_get(i)->gimp_proc, name) == 0)
      return aenet_task_get(i);
  return NULL;
}

void
aenet_plugin_region_init(AenetJobRegion *region, int x, int y, int w, int h)
{
  aenet_job_region_init(region);
  region->roi_x = x;
  region->roi_y = y;
  region->roi_width = w;
  region->roi_height = h;
}

void
aenet_plugin_init(void)
{
  setlocale(LC_ALL, "");
  setlocale(LC_NUMERIC, "C");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
  gegl_init(NULL, NULL);
  if (!g_getenv("GEGL_CACHE_SIZE"))
    g_object_set(gegl_config(), "tile-cache-size", AENET_PLUGIN_TILE_CACHE, NULL);
}

char *
aenet_plugin_noise_label(const AenetJob *job, double estimate)
{
  gboolean blind = job != NULL && !aenet_network_takes_noise_level(aenet_job_get_model(job)->network);
  double removed = blind ? aenet_job_get_removed_level(job) : -1;
  if (blind && removed >= 0)
    return g_strdup_printf(_("The photo model removed noise of level %.1f in the preview."),
                           removed);
  if (blind)
    return g_strdup(_("The photo model finds the noise itself."));
  if (estimate >= 0)
    return g_strdup_printf(_("Estimated from the image: %.1f"), estimate);
  return g_strdup(_("The noise level could not be estimated."));
}

void
aenet_plugin_debug_job(const AenetJob *job)
{
  if (g_getenv("AENET_DEBUG_JOB") == NULL)
    return;
  g_printerr("aenet job: model=%s noise-level=%.3f estimated=%d removed=%.3f memory=%" G_GSIZE_FORMAT
             " passes=%d\n",
             aenet_model_get_display_name(aenet_job_get_model(job)), aenet_job_get_noise_level(job),
             aenet_job_noise_level_estimated(job), aenet_job_get_removed_level(job),
             aenet_job_get_memory_budget(job) >> 20, aenet_job_get_passes(job));
}

const Babl *
aenet_plugin_float_format(gboolean gray, gboolean alpha, const Babl *space_format, int *n_channels)
{
  const char *name;
  if (gray) {
    *n_channels = alpha ? 2 : 1;
    name = alpha ? "Y'A float" : "Y' float";
  } else {
    *n_channels = alpha ? 4 : 3;
    name = alpha ? "R'G'B'A float" : "R'G'B' float";
  }
  return space_format ? babl_format_with_space(name, space_format) : babl_format(name);
}

static gboolean
buffer_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  AenetBufferIO *b = user;
  gegl_buffer_get(b->src, GEGL_RECTANGLE(x, y, w, h), 1.0, b->format, dst, GEGL_AUTO_ROWSTRIDE,
                  GEGL_ABYSS_NONE);
  return TRUE;
}

static gboolean
buffer_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  AenetBufferIO *b = user;
  gegl_buffer_set(b->dst, GEGL_RECTANGLE(x, y, w, h), 0, b->format, src, GEGL_AUTO_ROWSTRIDE);
  return TRUE;
}

void
aenet_buffer_io_init(AenetBufferIO *b, GeglBuffer *src, GeglBuffer *dst, int width, int height,
                     const Babl *format, int n_channels)
{
  b->src = src;
  b->dst = dst;
  b->format = format;
  b->io = (AenetImageIO){ width, height, n_channels, buffer_read, buffer_write, b };
}

gboolean
aenet_plugin_drawable_error(GError **error, AenetDrawableProblem problem, const char *name)
{
  switch (problem) {
  case AENET_DRAWABLE_NONE:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("No layer is selected."));
    break;
  case AENET_DRAWABLE_INVALID:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The drawable given is not a layer, mask or channel of an open image."));
    break;
  case AENET_DRAWABLE_INDEXED:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("Indexed images are not supported. Convert the image to RGB or "
                  "grayscale first (Image ▸ Mode)."));
    break;
  case AENET_DRAWABLE_GROUP:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("“%s” is a layer group; choose one of its layers."), name);
    break;
  case AENET_DRAWABLE_NOT_LAYER:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("Upscaling works on layers only; “%s” is a mask or channel."), name);
    break;
  case AENET_DRAWABLE_LOCKED:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("The pixels of “%s” are locked."), name);
    break;
  case AENET_DRAWABLE_OUTSIDE:
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("The selection does not touch “%s”; there is nothing to change."), name);
    break;
  }
  return FALSE;
}

gboolean
aenet_plugin_too_large_error(GError **error, int width, int height, int scale, int max_size)
{
  g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
              _("%d × %d pixels enlarged %d× is larger than GIMP allows (%d pixels "
                "per side)."),
              width, height, scale, max_size);
  return FALSE;
}

gboolean
aenet_plugin_run_job(AenetJob *job, AenetBufferIO *b, const AenetJobRegion *region, double estimate,
                     const AenetPluginProgress *progress, GError **error)
{
  const AenetTask *task = aenet_job_get_task(job);
  AenetJobRegion r = *region;
  r.progress = progress->fraction;
  r.progress_user = progress->user;
  if (!aenet_job_choose_model(job, &b->io, &r, error))
    return FALSE;

  char *text = g_strdup_printf(_("%s with “%s”"), _(task->progress),
                               aenet_model_get_display_name(aenet_job_get_model(job)));
  progress->start(progress->user, text);
  g_free(text);
  /* A blind photo model needs no level: no estimate, none shown. */
  if (aenet_task_get_param(task, AENET_PARAM_NOISE_LEVEL) != NULL
      && aenet_network_takes_noise_level(aenet_job_get_model(job)->network)) {
    if (estimate >= 0)
      aenet_job_set_noise_level(job, estimate);
    else {
      progress->text(progress->user, _("Estimating the noise level"));
      GError *local = NULL;
      if (aenet_job_choose_noise_level(job, &b->io, &r, &local) < 0 && local != NULL) {
        g_propagate_error(error, local);
        return FALSE;
      }
    }
    if (aenet_job_get_noise_level(job) >= 0) {
      text = g_strdup_printf(_("%s (estimated noise level %.1f)"), _(task->progress),
                             aenet_job_get_noise_level(job));
      progress->text(progress->user, text);
      g_free(text);
    }
  }
  gboolean ok = aenet_job_run(job, &b->io, &r, error);
  aenet_plugin_debug_job(job);
  return ok;
}

static void
model_entry_free(gpointer p)
{
  AenetModelEntry *e = p;
  g_free(e->path);
  g_free(e->label);
  g_free(e->description);
  g_free(e);
}

GPtrArray *
aenet_plugin_list_models(const AenetTask *task, int scale, const char *wanted, int *active)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func(model_entry_free);
  GPtrArray *paths = aenet_model_list_installed();
  AenetModelEntry *def = g_new0(AenetModelEntry, 1);

  *active = 0;
  def->label = g_strdup(_("Default (shipped model)"));
  def->description = g_strdup(_("The model that comes with aenet for this task."));
  g_ptr_array_add(entries, def);
  for (guint i = 0; paths && i < paths->len; i++) {
    const char *path = g_ptr_array_index(paths, i);
    AenetModel *m = aenet_model_load(path, NULL);
    if (m && strcmp(m->task, task->model_task) == 0 && m->scale == scale) {
      AenetModelEntry *e = g_new0(AenetModelEntry, 1);
      e->path = g_strdup(path);
      e->label = g_strdup(aenet_model_get_display_name(m));
      e->description = g_strdup(aenet_model_get_meta(m, "description"));
      g_ptr_array_add(entries, e);
      char *base = g_path_get_basename(path);
      char *stem = g_strndup(base, strcspn(base, "."));
      if (wanted && *wanted
          && (strcmp(wanted, path) == 0 || strcmp(wanted, base) == 0 || strcmp(wanted, stem) == 0))
        *active = (int)entries->len - 1;
      g_free(base);
      g_free(stem);
    }
    aenet_model_free(m);
  }
  if (paths)
    g_ptr_array_unref(paths);
  return entries;
}

double
aenet_plugin_estimate_noise(GeglBuffer *buffer, const Babl *format, int n_channels, int width,
                            int height, int x, int y, int w, int h)
{
  AenetBufferIO b;
  AenetJobRegion region;
  aenet_buffer_io_init(&b, buffer, NULL, width, height, format, n_channels);
  aenet_plugin_region_init(&region, x, y, w, h);
  return aenet_job_estimate_noise(&b.io, &region, NULL);
}

int
aenet_plugin_preview_margin(const AenetJob *job)
{
  const AenetNetwork *net = aenet_job_get_model(job)->network;
  /* More context than the network sees changes nothing but the time. */
  return MIN(aenet_network_get_reach(net) + aenet_network_get_alignment(net), 96);
}

/* A region in memory as the job's image. */
typedef struct {
  const float *in; /* (rh, rw, n) */
  float *out;      /* (rh s, rw s, n) */
  int rw, n, s;
} MemoryIO;

static gboolean
memory_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const MemoryIO *m = user;
  for (int r = 0; r < h; r++)
    memcpy(dst + (gsize)r * w * m->n, m->in + ((gsize)(y + r) * m->rw + x) * m->n,
           (gsize)w * m->n * sizeof(float));
  return TRUE;
}

static gboolean
memory_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  const MemoryIO *m = user;
  int ow = m->rw * m->s;
  for (int r = 0; r < h; r++)
    memcpy(m->out + ((gsize)(y + r) * ow + x) * m->n, src + (gsize)r * w * m->n,
           (gsize)w * m->n * sizeof(float));
  return TRUE;
}

gboolean
aenet_plugin_run_region(AenetJob *job, const float *in, int rw, int rh, int n_channels, int vx,
                        int vy, int vw, int vh, double noise_level, float *out,
                        const volatile int *cancel, GError **error)
{
  MemoryIO m = { in, out, rw, n_channels, aenet_job_get_scale(job) };
  AenetImageIO io = { rw, rh, n_channels, memory_read, memory_write, &m };
  AenetJobRegion region;

  aenet_plugin_region_init(&region, vx, vy, vw, vh);
  region.cancel = cancel;
  aenet_job_set_noise_level(job, noise_level);
  return aenet_job_run(job, &io, &region, error);
}
