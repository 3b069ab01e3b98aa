/* task.c — the task table (see task.h). */
#include "config.h"

#include "task.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "error.h"

/* The noise level's limit, for the command, GIMP and eval alike: the
 * networks were trained up to 50 and extrapolate usefully a little further. */
#define NOISE_LEVEL_MAX 75.0

static const AenetTaskParam strength_param = {
  .kind = AENET_PARAM_STRENGTH,
  .name = "strength",
  .option = "strength",
  .min = 0.0,
  .max = 1.0,
  .def = 1.0,
  .step = 0.05,
  .label = N_("S_trength:"),
  .option_help = N_("Blend of the original (0) and the result (1); default 1"),
  .arg_name = N_("F"),
  .gimp_help = "Blend of result and original (0-1; 1 = result only)",
  .range_message = N_("The strength %g is out of range: give %g to %g."),
};

static const AenetTask shipped_tasks[] = {
  {
      .name = "denoise",
      .model_task = "denoise",
      .min_scale = 1,
      .max_scale = 1,
      .default_model = "denoise",
      .blind_model = "denoise-photo",
      /* Strongly compressed JPEGs (libjpeg's quality 60 or lower): the
       * photo model, made for camera noise too, removes less of their
       * blocking and ringing (models/README.md). */
      .jpeg_model = "denoise-jpeg",
      .jpeg_step_min = 9,
      .summary = N_("Remove noise from an image"),
      .description = N_("Removes noise from images. With the noise level automatic (the "
                        "default),\nthe photo model is used where it is installed."),
      .progress = N_("Denoising"),
      .gimp_proc = "plug-in-aenet-denoise",
      .menu_label = N_("Autoencoder _Denoise..."),
      .dialog_title = N_("Autoencoder Denoise"),
      .blurb = N_("Remove noise with a trained neural network"),
      .help = N_("Denoises the drawable (within the selection, blended by its feathering) with "
                 "a convolutional autoencoder model. Pixels around the selection are used as "
                 "context. Works tile by tile, so layers of any size fit in a fixed amount of "
                 "memory. 8-, 16- and 32-bit RGB and grayscale images, with or without alpha; "
                 "not indexed."),
      .drawable_help = "Drawable to denoise (within the selection, if any)",
      .model_help = "Model name or path of a .safetensors file; empty for the shipped default",
      .metric = AENET_METRIC_DENOISE_RGB,
      .n_params = 2,
      .params = {
          {
              .kind = AENET_PARAM_NOISE_LEVEL,
              .name = "noise-level",
              .option = "sigma",
              .min = 0.0,
              .max = NOISE_LEVEL_MAX,
              .def = -1.0,
              .step = 0.5,
              .has_automatic = TRUE,
              .automatic = -1.0,
              .label = N_("_Level (0–255 scale):"),
              .option_help = N_("Noise level 0–75 (0–255 scale), or “auto” (default)"),
              .arg_name = N_("S"),
              .gimp_help = "Noise standard deviation on the 0-255 scale (0-75), for models that "
                           "take it; negative to estimate it from the image",
              .range_message = N_("The noise level %g is out of range: give %g to %g, or a "
                                  "negative value to estimate it."),
          },
          strength_param,
      },
  },
  {
      .name = "upscale",
      .model_task = "upscale",
      .min_scale = 2,
      .max_scale = 4,
      .default_model = "upscale-x%d",
      .jpeg_model = "upscale-x%d-photo",
      .summary = N_("Enlarge an image 2, 3 or 4 times"),
      .description = N_("Enlarges images 2, 3 or 4 times."),
      .progress = N_("Upscaling"),
      .gimp_proc = "plug-in-aenet-upscale",
      .menu_label = N_("Autoencoder _Upscale..."),
      .dialog_title = N_("Autoencoder Upscale"),
      .blurb = N_("Enlarge with a trained neural network"),
      .help = N_("Enlarges the layer 2, 3 or 4 times with a convolutional super-resolution "
                 "model, into a new image, in place (the canvas grows as needed) or as a new "
                 "layer. Alpha is resized with bicubic interpolation. Works tile by tile."),
      .drawable_help = "Layer to upscale (the whole layer)",
      .model_help = "Model name or path of a .safetensors file; empty for the shipped default "
                    "of the scale",
      .metric = AENET_METRIC_UPSCALE_Y,
      .n_params = 1,
      .params = {
          {
              .kind = AENET_PARAM_SCALE,
              .name = "scale",
              .option = "scale",
              .integer = TRUE,
              .min = 2,
              .max = 4,
              .def = 2,
              .step = 1,
              .label = N_("_Scale:"),
              .option_help = N_("Enlargement 2, 3 or 4 (default: the model's, or 2)"),
              .arg_name = N_("N"),
              .gimp_help = "Enlargement factor (2, 3 or 4); must match the model's",
              .range_message = N_("The scale %g is not supported: give %g to %g."),
          },
      },
  },
};

static GPtrArray *added_tasks; /* const AenetTask *, from aenet_task_register */
G_LOCK_DEFINE_STATIC(added_tasks);

guint
aenet_task_count(void)
{
  G_LOCK(added_tasks);
  guint n = G_N_ELEMENTS(shipped_tasks) + (added_tasks ? added_tasks->len : 0);
  G_UNLOCK(added_tasks);
  return n;
}

const AenetTask *
aenet_task_get(guint index)
{
  if (index < G_N_ELEMENTS(shipped_tasks))
    return &shipped_tasks[index];
  index -= G_N_ELEMENTS(shipped_tasks);
  G_LOCK(added_tasks);
  const AenetTask *t
      = added_tasks && index < added_tasks->len ? g_ptr_array_index(added_tasks, index) : NULL;
  G_UNLOCK(added_tasks);
  return t;
}

const AenetTask *
aenet_task_find(const char *name)
{
  for (guint i = 0, n = aenet_task_count(); name && i < n; i++)
    if (strcmp(aenet_task_get(i)->name, name) == 0)
      return aenet_task_get(i);
  return NULL;
}

const AenetTask *
aenet_task_find_for_model(const char *model_task)
{
  for (guint i = 0, n = aenet_task_count(); model_task && i < n; i++)
    if (strcmp(aenet_task_get(i)->model_task, model_task) == 0)
      return aenet_task_get(i);
  return NULL;
}

gboolean
aenet_task_register(const AenetTask *task, GError **error)
{
  if (aenet_task_find(task->name) != NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("a task named “%s” exists already"),
                task->name);
    return FALSE;
  }
  G_LOCK(added_tasks);
  if (added_tasks == NULL)
    added_tasks = g_ptr_array_new();
  g_ptr_array_add(added_tasks, (gpointer)task);
  G_UNLOCK(added_tasks);
  return TRUE;
}

const AenetTaskParam *
aenet_task_get_param(const AenetTask *task, AenetParamKind kind)
{
  for (int i = 0; i < task->n_params; i++)
    if (task->params[i].kind == kind)
      return &task->params[i];
  return NULL;
}

gboolean
aenet_task_changes_size(const AenetTask *task)
{
  return task->max_scale > 1;
}

int
aenet_task_default_scale(const AenetTask *task)
{
  const AenetTaskParam *p = aenet_task_get_param(task, AENET_PARAM_SCALE);
  return p ? (int)p->def : task->min_scale;
}

char *
aenet_task_model_name(const char *pattern, int scale)
{
  if (strstr(pattern, "%d") == NULL)
    return g_strdup(pattern);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  return g_strdup_printf(pattern, scale);
#pragma GCC diagnostic pop
}

char *
aenet_task_default_model(const AenetTask *task, int scale)
{
  return aenet_task_model_name(task->default_model, scale);
}

gboolean
aenet_task_param_accepts(const AenetTaskParam *param, double value)
{
  if (isnan(value))
    return FALSE;
  if (param->has_automatic && value == param->automatic)
    return TRUE;
  /* The noise level's automatic value stands for any negative one. */
  if (param->has_automatic && param->automatic < param->min && value < param->min)
    return TRUE;
  if (param->integer && value != floor(value))
    return FALSE;
  return value >= param->min && value <= param->max;
}

gboolean
aenet_task_param_range_error(const AenetTaskParam *param, double value, GError **error)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _(param->range_message), value, param->min,
              param->max);
#pragma GCC diagnostic pop
  return FALSE;
}

char *
aenet_task_param_plain_label(const AenetTaskParam *param)
{
  GString *s = g_string_new(NULL);
  for (const char *p = _(param->label); *p; p++)
    if (*p != '_')
      g_string_append_c(s, *p);
  while (s->len > 0 && (s->str[s->len - 1] == ':' || s->str[s->len - 1] == ' '))
    g_string_truncate(s, s->len - 1);
  return g_string_free(s, FALSE);
}
