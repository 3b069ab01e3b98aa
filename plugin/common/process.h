/* process.h — what the GIMP front ends share: everything that is not the
 * libgimp API. The GIMP 2.10 front end (plugin/gimp2/) and any other call
 * these for settings (from the task table), their checks and messages, set-
 * up, GEGL buffers as the job's image, and running a job with progress;
 * they keep only registration, run modes, drawables and the dialog.
 *
 * Pixels cross as float formats chosen from the drawable (R'G'B'A, R'G'B',
 * Y'A, Y' float), so 8-, 16- and 32-bit images keep their precision. Only
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
} AenetValues;

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

/* Sets up gettext, GEGL (with a small tile cache, see process.c) and the
 * C numeric locale; every run of a front end starts with this. */
void aenet_plugin_init(void);

/* With AENET_DEBUG_JOB set in the environment, prints the job's model,
 * noise level and, after a run, the level it removed on stderr (tests
 * compare them with the command's). */
void aenet_plugin_debug_job(const AenetJob *job);

/* The babl float format for a drawable that is gray or not, with alpha or
 * not (tiler.h's channel order). */
const Babl *aenet_plugin_float_format(gboolean gray, gboolean alpha, int *n_channels);

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

G_END_DECLS

#endif
