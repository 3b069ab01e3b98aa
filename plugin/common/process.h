/* process.h — what the GIMP front ends share: everything that is not the
 * libgimp API. The GIMP 2.10 (plugin/gimp2/) and GIMP 3 (plugin/gimp3/)
 * front ends call these for settings (from the task table), their checks
 * and messages, set-up, GEGL buffers as the job's image, running a job
 * with progress, and the dialog's model list, noise estimate and preview
 * runs; they keep only registration, run modes, drawables and widgets.
 *
 * Pixels cross as float formats chosen from the drawable (R'G'B'A, R'G'B',
 * Y'A, Y' float in its colour space), so 8-, 16- and 32-bit images keep
 * their precision and the network sees the drawable's own values. Only
 * the rectangles the job asks for are read or written, never a whole
 * layer. */
#ifndef AENET_PLUGIN_PROCESS_H
#define AENET_PLUGIN_PROCESS_H

#include <gegl.h>
#include "job.h"
#include "task.h"

G_BEGIN_DECLS

/* Where an enlarged result goes (the "output" argument of tasks that
 * change the size). */
typedef enum {
  AENET_OUTPUT_NEW_IMAGE = 0,
  AENET_OUTPUT_IN_PLACE = 1,
  AENET_OUTPUT_NEW_LAYER = 2,
} AenetOutput;

/* The plug-in's settings for one task, kept between runs (gimp_set_data
 * in GIMP 2.10): plain data, no pointers. New fields go at the end, so the
 * values an older version saved still load (the rest keeps its default). */
typedef struct {
  char model[1024];   /* name or path; "" = the shipped default */
  double noise_level; /* sigma on 0–255; negative = automatic */
  double strength;    /* 0–1 */
  int scale;          /* 2, 3 or 4 */
  int output;         /* an AenetOutput */
  int memory_mb;      /* working memory of all threads, MiB; 0 = the default */
  int passes;         /* 1 to AENET_MAX_PASSES (tiler.h); 0 (saved by older versions) = 1 */
} AenetValues;

/* GIMP's description of the "output" argument (untranslated, as GIMP's PDB). */
#define AENET_PLUGIN_OUTPUT_HELP                                                                  \
  "Where the result goes { NEW-IMAGE (0), IN-PLACE (1): enlarge the layer, growing the canvas "   \
  "as needed, NEW-LAYER (2): a new layer above it }"

#define AENET_PLUGIN_MEMORY_MIN_MB 32
#define AENET_PLUGIN_MEMORY_MAX_MB 16384

/* The task's defaults. */
void aenet_values_init(AenetValues *values, const AenetTask *task);
/* Sets a parameter's value by its kind. */
void aenet_values_set(AenetValues *values, AenetParamKind kind, double value);
/* Checks every value against the task row; FALSE with a message. */
gboolean aenet_values_check(const AenetValues *values, const AenetTask *task, GError **error);
/* The job for the values: the model found, loaded and checked. */
AenetJob *aenet_values_make_job(const AenetValues *values, const AenetTask *task, GError **error);

/* The task whose GIMP procedure this is, or NULL. */
const AenetTask *aenet_plugin_task_for_procedure(const char *name);

/* A job region for the rectangle (x, y, w, h), without progress or cancel. */
void aenet_plugin_region_init(AenetJobRegion *region, int x, int y, int w, int h);

/* Sets up gettext, GEGL (with a small tile cache, see process.c) and the
 * C numeric locale; every run of a front end starts with this. */
void aenet_plugin_init(void);

/* The dialogs' line under Automatic (free with g_free): the estimate the
 * noise-level model gets, or, when job uses the blind photo model (which
 * needs no level), what it removed in the last preview run, as the command
 * says after a run. job may be NULL; estimate is -1 when it failed. */
char *aenet_plugin_noise_label(const AenetJob *job, double estimate);

/* With AENET_DEBUG_JOB set in the environment, prints the job's model,
 * noise level and, after a run, the level it removed on stderr (tests
 * compare them with the command's). */
void aenet_plugin_debug_job(const AenetJob *job);

/* The babl float format for a drawable that is gray or not, with alpha or
 * not (tiler.h's channel order), in the colour space of the drawable's own
 * format (space_format; NULL = sRGB). */
const Babl *aenet_plugin_float_format(gboolean gray, gboolean alpha, const Babl *space_format,
                                      int *n_channels);

/* GEGL buffers as the job's image: reads src, writes dst (the same buffer
 * size for size-keeping tasks, scaled for the others). */
typedef struct {
  GeglBuffer *src;
  GeglBuffer *dst;
  const Babl *format;
  AenetImageIO io;
} AenetBufferIO;

void aenet_buffer_io_init(AenetBufferIO *b, GeglBuffer *src, GeglBuffer *dst, int width, int height,
                          const Babl *format, int n_channels);

/* Why a drawable cannot be processed; each front end finds out its own
 * way, and the message is the same. */
typedef enum {
  AENET_DRAWABLE_NONE,      /* no drawable is selected */
  AENET_DRAWABLE_INVALID,   /* not a layer, mask or channel of an open image */
  AENET_DRAWABLE_INDEXED,   /* an indexed image */
  AENET_DRAWABLE_GROUP,     /* a layer group */
  AENET_DRAWABLE_NOT_LAYER, /* a mask or channel, for a task that changes the size */
  AENET_DRAWABLE_LOCKED,    /* its pixels are locked */
  AENET_DRAWABLE_OUTSIDE,   /* the selection does not touch it */
} AenetDrawableProblem;

/* Sets error to the message for the problem; name is the drawable's.
 * Returns FALSE. */
gboolean aenet_plugin_drawable_error(GError **error, AenetDrawableProblem problem,
                                     const char *name);
/* The message for a result larger than GIMP allows. Returns FALSE. */
gboolean aenet_plugin_too_large_error(GError **error, int width, int height, int scale,
                                      int max_size);

/* What a front end shows while a job runs: texts (translated) and the
 * fraction done. */
typedef struct {
  void (*start)(void *user, const char *text); /* a new progress with this text */
  void (*text)(void *user, const char *text);  /* the text changes */
  void (*fraction)(void *user, double fraction);
  void *user;
} AenetPluginProgress;

/* Runs a job over buffers (b) within region (its roi; progress and cancel
 * are set here): for a task with a noise level, the level is the dialog's
 * estimate when that is given (0–255, else negative) or chosen by the job,
 * and shown. */
gboolean aenet_plugin_run_job(AenetJob *job, AenetBufferIO *b, const AenetJobRegion *region,
                              double estimate, const AenetPluginProgress *progress, GError **error);

/* A model a dialog offers for a task and scale. */
typedef struct {
  char *path;        /* model file; NULL = the shipped default */
  char *label;       /* name shown */
  char *description; /* may be NULL */
} AenetModelEntry;

/* The models installed now for the task and scale (so that `aenet
 * install` shows up on the next opening), as AenetModelEntry, the shipped
 * default first. *active is the index of the one wanted names (a path,
 * file name or model name; "" = the default), else 0. */
GPtrArray *aenet_plugin_list_models(const AenetTask *task, int scale, const char *wanted,
                                    int *active);

/* The noise level the job's policy estimates for the rectangle (x, y, w,
 * h) of a drawable's buffer (width × height), 0–255, or -1. Dialogs show
 * it and hand it to the run after OK, so the image is estimated once. */
double aenet_plugin_estimate_noise(GeglBuffer *buffer, const Babl *format, int n_channels,
                                   int width, int height, int x, int y, int w, int h);

/* Previews run on a region read into memory: the visible part and this
 * many pixels of context on each side (where the image has them). */
int aenet_plugin_preview_margin(const AenetJob *job);

/* Runs the job on the visible rectangle (vx, vy, vw, vh) of a region in
 * memory: in is (rh, rw, n_channels) floats, out (rh * s, rw * s,
 * n_channels) for the job's scale s, of which the visible part times s is
 * written. noise_level on 0–255 (ignored by tasks without one). A worker
 * thread may call this: it touches no GEGL buffer. cancel may be NULL. */
gboolean aenet_plugin_run_region(AenetJob *job, const float *in, int rw, int rh, int n_channels,
                                 int vx, int vy, int vw, int vh, double noise_level, float *out,
                                 const volatile int *cancel, GError **error);

G_END_DECLS

#endif
