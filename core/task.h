/* task.h — what aenet can do to an image, one row per task.
 *
 * A row says everything a front end needs to offer a task: its name (the
 * command's subcommand), what a model's metadata must say to do it, its
 * parameters with ranges, units and defaults, the default model, the menu
 * label and help texts, and the metric that evaluates it. The command's
 * subcommands and options, the GIMP procedures and their arguments and the
 * dialog's rows are generated from the table; the job (job.h) reads the
 * parameters' values by kind. Adding a task whose model exists is one row.
 *
 * Units are the user's at every boundary: the noise level is a standard
 * deviation on the 0–255 scale wherever it is shown or given; the job
 * converts it to the network's 0–1 scale, once.
 *
 * Texts are marked with N_() and translated where they are shown. */
#ifndef AENET_TASK_H
#define AENET_TASK_H

#include <glib.h>

G_BEGIN_DECLS

/* What a parameter does; the job applies each kind (job.h). */
typedef enum {
  AENET_PARAM_NOISE_LEVEL, /* sigma on 0–255; `automatic` means "estimate" */
  AENET_PARAM_STRENGTH,    /* 0–1: blend of the original (0) and the result (1) */
  AENET_PARAM_SCALE,       /* enlargement; picks the model of that scale */
} AenetParamKind;

typedef struct {
  AenetParamKind kind;
  const char *name;   /* GIMP's argument name, e.g. "noise-level" */
  const char *option; /* the command's long option, e.g. "sigma" */
  gboolean integer;   /* an integer (GIMP INT32), else a float */
  double min, max;    /* the range accepted everywhere */
  double def;         /* the default */
  double step;        /* the dialog's step; digits follow from it */
  /* A value outside the range that means "automatic" (e.g. -1), with the
   * command's word for it ("auto"); has_automatic FALSE when there is none. */
  gboolean has_automatic;
  double automatic;
  const char *label;       /* the dialog's row, with a mnemonic: N_("S_trength:") */
  const char *option_help; /* the command's --help line */
  const char *arg_name;    /* the command's placeholder: N_("S") */
  const char *gimp_help;   /* GIMP's argument description (untranslated, as GIMP's PDB) */
  /* The message for a value out of range, with %g for the value, the
   * minimum and the maximum: N_("The strength %g is out of range: give %g to %g.") */
  const char *range_message;
} AenetTaskParam;

/* How `aenet eval` measures a model of the task. */
typedef enum {
  /* Gaussian noise added to clean images (fixed seed, not clipped); PSNR
   * and SSIM over all channels of the 8-bit output against the clean one. */
  AENET_METRIC_DENOISE_RGB,
  /* Bicubic (or the set's own) low-resolution images; PSNR and SSIM on Y
   * with `scale` border pixels cropped; the baseline is bicubic. */
  AENET_METRIC_UPSCALE_Y,
  /* Output against the input itself: for tasks without a test protocol. */
  AENET_METRIC_NONE,
} AenetMetric;

#define AENET_TASK_MAX_PARAMS 4

typedef struct {
  const char *name; /* "denoise": the subcommand and the row's key */
  /* What a model's metadata must say: aenet.task, and aenet.scale within
   * [min_scale, max_scale] (1 for tasks that keep the size). */
  const char *model_task;
  int min_scale, max_scale;
  /* The shipped model: a name, with %d for the scale when the scale varies. */
  const char *default_model;
  /* The model used when the noise level is automatic, if installed: a
   * network that needs no level. NULL when the task has none. */
  const char *blind_model;
  /* The model for images saved as JPEG (job.h), if installed, with %d for
   * the scale as default_model; NULL when the task has none. Only with
   * the noise level automatic, and in place of a model that takes a level
   * only if it takes one too. */
  const char *jpeg_model;
  /* ... for those of them whose JPEG step (jpeg-trace.h) is at least
   * this; 0: for every image that shows JPEG's trace. */
  int jpeg_step_min;
  const char *summary;       /* the command's list: N_("Remove noise from an image") */
  const char *description;   /* the command's --help summary (N_()) */
  const char *progress;      /* N_("Denoising") */
  const char *gimp_proc;     /* "plug-in-aenet-denoise"; NULL = not in GIMP */
  const char *menu_label;    /* N_("Autoencoder _Denoise...") */
  const char *dialog_title;  /* N_("Autoencoder Denoise") */
  const char *blurb;         /* GIMP's one line (N_()) */
  const char *help;          /* GIMP's help text (N_()) */
  const char *drawable_help; /* GIMP's "drawable" argument description */
  const char *model_help;    /* GIMP's "model" argument description */
  AenetMetric metric;
  int n_params;
  AenetTaskParam params[AENET_TASK_MAX_PARAMS];
} AenetTask;

/* The number of tasks and the i-th (the shipped ones first, then those
 * added with aenet_task_register). */
guint aenet_task_count(void);
const AenetTask *aenet_task_get(guint index);
/* The task with this name, or NULL. */
const AenetTask *aenet_task_find(const char *name);
/* The first task whose models say this aenet.task, or NULL. */
const AenetTask *aenet_task_find_for_model(const char *model_task);
/* Adds a row (a test's, or a program's own task); the row must live as
 * long as the process. FALSE with error when its name is taken. */
gboolean aenet_task_register(const AenetTask *task, GError **error);

/* The parameter of a kind, or NULL when the task has none. */
const AenetTaskParam *aenet_task_get_param(const AenetTask *task, AenetParamKind kind);
/* Whether the task changes the image's size (its scale is above 1). */
gboolean aenet_task_changes_size(const AenetTask *task);
/* The default scale: the scale parameter's default, else min_scale. */
int aenet_task_default_scale(const AenetTask *task);
/* A model name of the table (default_model, jpeg_model) for a scale
 * (free with g_free). */
char *aenet_task_model_name(const char *pattern, int scale);
/* The shipped model's name for a scale (free with g_free). */
char *aenet_task_default_model(const AenetTask *task, int scale);
/* Whether value is accepted for the parameter (in range, integral for an
 * integer, or the automatic value). NaN is never accepted. */
gboolean aenet_task_param_accepts(const AenetTaskParam *param, double value);
/* Sets error to the parameter's range message, translated. Returns FALSE. */
gboolean aenet_task_param_range_error(const AenetTaskParam *param, double value, GError **error);
/* The dialog label without its mnemonic underscore and colon, translated
 * (free with g_free): "Strength". */
char *aenet_task_param_plain_label(const AenetTaskParam *param);

G_END_DECLS

#endif
