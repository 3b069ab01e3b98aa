/* cmd-process.c — every task row's subcommand ("aenet denoise", "aenet
 * upscale", …): one image file in and one out (IN OUT), or many files and
 * folders into a folder (-o OUTDIR IN…), through one job (job.h): the model
 * is loaded once for all files.
 *
 * The task's options come from its row. Everything that can be checked
 * cheaply is checked before the long work (options, the output's type, IN
 * and OUT being different files, the model fitting the command), so a
 * mistake costs no waiting. The output keeps the input's bit depth,
 * channels, ICC profile and EXIF. In a batch a file that fails is reported
 * by name and skipped; the exit status says whether any failed. SIGINT and
 * SIGTERM stop the run through the job's cancel flag and the file being
 * made is not written. */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "error.h"
#include "imageio.h"
#include "job.h"
#include "messages.h"
#include "model.h"
#include "progress.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_CANCELLED 130

#define TILE_MIN 16
#define TILE_MAX 16384
#define THREADS_MAX 1024
#define MEMORY_MAX_MB (1 << 20) /* 1 TiB: anything above is a typo */

typedef struct {
  const AenetTask *task;
  char *model;
  char *param_text[AENET_TASK_MAX_PARAMS]; /* the task's options as given, or NULL */
  int tile;
  int threads;
  int memory_mb;
  int passes;
  char *output_dir; /* -o: the batch form */
  char *format;     /* --format for the batch form, or NULL = the input's */
  int quality;      /* --quality; 0 = the input's, or 95 */
} ProcessOptions;

/* Set from the signal handler; the tiler polls it. */
static volatile int cancel_requested;

static void
on_signal(int signum)
{
  (void)signum;
  cancel_requested = 1;
}

/* "gray", "RGBA", … for the summary line. */
static const char *
channels_name(int n_channels)
{
  switch (n_channels) {
  case 1:
    return _("gray");
  case 2:
    return _("gray+alpha");
  case 3:
    return "RGB";
  default:
    return "RGBA";
  }
}

/* ---- checks before any work ---- */

/* The absolute path with symbolic links resolved in its folder, for a file
 * that may not exist yet. */
static char *
canonical_path(const char *path)
{
  char *dir = g_path_get_dirname(path);
  char *base = g_path_get_basename(path);
  char *real_dir = realpath(dir, NULL);
  char *result = real_dir != NULL ? g_build_filename(real_dir, base, NULL)
                                  : g_canonicalize_filename(path, NULL);
  free(real_dir);
  g_free(base);
  g_free(dir);
  return result;
}

static gboolean
is_same_file(const char *a, const char *b)
{
  GStatBuf sa, sb;
  if (g_stat(a, &sa) == 0 && g_stat(b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  char *ca = canonical_path(a);
  char *cb = canonical_path(b);
  gboolean same = strcmp(ca, cb) == 0;
  g_free(ca);
  g_free(cb);
  return same;
}

/* Parses a task parameter's option: a number in its range, or "auto"
 * where the parameter has an automatic value. */
static gboolean
parse_param(const AenetTaskParam *p, const char *text, double *value)
{
  if (p->has_automatic && g_ascii_strcasecmp(text, "auto") == 0) {
    *value = p->automatic;
    return TRUE;
  }
  char *end = NULL;
  errno = 0;
  double v = g_ascii_strtod(text, &end);
  /* Negative numbers are not a way to say "auto" on the command line. */
  if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v < p->min || v > p->max
      || !aenet_task_param_accepts(p, v))
    return FALSE;
  *value = v;
  return TRUE;
}

/* The job's settings from the options; FALSE after a usage message. */
static gboolean
options_to_settings(const ProcessOptions *opt, AenetJobSettings *s)
{
  const AenetTask *task = opt->task;
  aenet_job_settings_init(s, task);
  s->model = opt->model;
  s->tile = opt->tile;
  s->n_threads = opt->threads;
  s->memory_budget = (gsize)opt->memory_mb << 20;
  s->passes = opt->passes;
  /* A named model decides the scale unless --scale is given. */
  if (opt->model != NULL && aenet_task_get_param(task, AENET_PARAM_SCALE) != NULL)
    s->scale = 0;
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    double v;
    if (opt->param_text[i] == NULL)
      continue;
    if (!parse_param(p, opt->param_text[i], &v)) {
      if (p->has_automatic)
        aenet_print_error(_("--%s must be a number from %g to %g or “auto”, not “%s”"), p->option,
                          p->min, p->max, opt->param_text[i]);
      else
        aenet_print_error(_("--%s must be a number from %g to %g, not “%s”"), p->option, p->min,
                          p->max, opt->param_text[i]);
      return FALSE;
    }
    aenet_job_settings_set(s, p->kind, v);
  }

  if (opt->tile != 0 && (opt->tile < TILE_MIN || opt->tile > TILE_MAX)) {
    aenet_print_error(_("--tile must be from %d to %d pixels, or 0 to choose it "
                        "automatically, not %d"),
                      TILE_MIN, TILE_MAX, opt->tile);
    return FALSE;
  }
  if (opt->threads < 0 || opt->threads > THREADS_MAX) {
    aenet_print_error(_("--threads must be from 1 to %d, or 0 for one per core, not %d"),
                      THREADS_MAX, opt->threads);
    return FALSE;
  }
  if (opt->memory_mb < 0 || opt->memory_mb > MEMORY_MAX_MB) {
    aenet_print_error(_("--memory must be a number of megabytes from 1 to %d, not %d"),
                      MEMORY_MAX_MB, opt->memory_mb);
    return FALSE;
  }
  if (opt->passes < 1 || opt->passes > AENET_MAX_PASSES) {
    aenet_print_error(_("--passes must be from 1 to %d, not %d"), AENET_MAX_PASSES, opt->passes);
    return FALSE;
  }
  if (opt->quality != 0 && (opt->quality < 1 || opt->quality > 100)) {
    aenet_print_error(_("--quality must be from 1 to 100, not %d"), opt->quality);
    return FALSE;
  }
  return TRUE;
}

/* The job for the command: the model found, loaded and checked. On failure
 * prints the problem and sets *status: EXIT_USAGE when the model does not
 * fit the command. */
static AenetJob *
make_job(const ProcessOptions *opt, const AenetJobSettings *settings, int *status)
{
  GError *error = NULL;
  AenetJob *job = aenet_job_new(opt->task, settings, &error);
  if (job != NULL)
    return job;
  *status = g_error_matches(error, AENET_ERROR, AENET_ERROR_MODEL) ? EXIT_USAGE : EXIT_RUNTIME;
  if (opt->model == NULL && g_error_matches(error, AENET_ERROR, AENET_ERROR_IO))
    aenet_print_error(_("%s; name a model with -m"), error->message);
  else
    aenet_print_error("%s", error->message);
  g_error_free(error);
  return NULL;
}
/* ---- the image adapter for the tiler ---- */

typedef struct {
  const AenetImage *in;
  AenetImage *out;
} ImageAdapter;

/* The tiler only asks for rectangles inside the image; anything else is
 * a bug to report, not to follow. */
static gboolean
rect_inside(const char *access, const AenetImage *image, int x, int y, int w, int h,
            GError **error)
{
  if (x < 0 || y < 0 || w < 0 || h < 0 || x + w > image->width || y + h > image->height) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "internal error: %s of %dx%d at (%d, %d) outside the %dx%d image", access, w, h,
                x, y, image->width, image->height);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_rect(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const ImageAdapter *a = user;
  if (!rect_inside("read", a->in, x, y, w, h, error))
    return FALSE;
  aenet_image_get_rect(a->in, x, y, w, h, dst);
  return TRUE;
}

static gboolean
write_rect(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  ImageAdapter *a = user;
  if (!rect_inside("write", a->out, x, y, w, h, error))
    return FALSE;
  aenet_image_set_rect(a->out, x, y, w, h, src);
  return TRUE;
}

/* ---- one file ---- */

/* What a run over several files shares. */
typedef struct {
  const ProcessOptions *opt;
  AenetJob *job;
  gboolean noise_given; /* the noise level option was given */
  int index, total;     /* this file's number (from 1) and how many */
} Batch;

/* Processes IN into OUT (of the given type). Returns 0, EXIT_RUNTIME (the
 * message printed, naming the file) or EXIT_CANCELLED. */
static int
process_file(Batch *b, const char *in_path, const char *out_path, AenetFileType type)
{
  gint64 start = g_get_monotonic_time();
  GError *error = NULL;
  int status = EXIT_RUNTIME;
  AenetImage *in = NULL, *out = NULL;
  AenetProgress *progress = NULL;
  AenetJob *job = b->job;
  int scale = aenet_job_get_scale(job);

  in = aenet_image_load(in_path, &error);
  if (in == NULL)
    goto out;
  if ((gint64)in->width * scale > G_MAXINT || (gint64)in->height * scale > G_MAXINT) {
    g_set_error(&error, AENET_ERROR, AENET_ERROR_NOMEM, _("%s is too large to enlarge %d×"),
                in_path, scale);
    goto out;
  }

  if (type == AENET_FILE_JPEG && in->bit_depth == 16)
    aenet_print_error(_("note: JPEG holds 8 bits per sample; %s will be 8-bit"), out_path);
  if (type == AENET_FILE_JPEG && (in->n_channels == 2 || in->n_channels == 4))
    aenet_print_error(_("note: JPEG holds no transparency; %s will have no alpha"), out_path);

  ImageAdapter adapter = { in, NULL };
  AenetImageIO io = {
    .width = in->width,
    .height = in->height,
    .n_channels = in->n_channels,
    .read = read_rect,
    .write = write_rect,
    .user = &adapter,
  };
  if (!aenet_job_choose_model(job, &io, NULL, &error))
    goto out;
  if (aenet_job_jpeg_input(job))
    g_print(_("JPEG compression found: using the model “%s”\n"),
            aenet_model_get_display_name(aenet_job_get_model(job)));
  gboolean takes_noise = aenet_network_takes_noise_level(aenet_job_get_model(job)->network);
  if (aenet_task_get_param(b->opt->task, AENET_PARAM_NOISE_LEVEL) != NULL) {
    if (aenet_job_choose_noise_level(job, &io, NULL, &error) < 0 && error != NULL) {
      g_prefix_error(&error, _("could not estimate the noise level (give it with --%s): "),
                     aenet_task_get_param(b->opt->task, AENET_PARAM_NOISE_LEVEL)->option);
      goto out;
    }
    if (aenet_job_noise_level_estimated(job))
      g_print(_("Estimated noise level: sigma %.1f (0–255 scale)\n"),
              aenet_job_get_noise_level(job));
  }
  if (cancel_requested)
    goto out;

  out = aenet_image_new(in->width * scale, in->height * scale, in->n_channels, in->bit_depth,
                        &error);
  if (out == NULL)
    goto out;
  adapter.out = out;
  if (in->icc_profile != NULL)
    out->icc_profile = g_bytes_ref(in->icc_profile);
  if (in->exif != NULL)
    out->exif = g_bytes_ref(in->exif);
  out->jpeg_quality = b->opt->quality > 0 ? b->opt->quality : in->jpeg_quality;

  char *label = b->total > 1
                    ? g_strdup_printf("%s %d/%d", _(b->opt->task->progress), b->index, b->total)
                    : g_strdup(_(b->opt->task->progress));
  progress = aenet_progress_new(label);
  g_free(label);
  AenetJobRegion region;
  aenet_job_region_init(&region);
  region.progress = aenet_progress_tiler_callback;
  region.progress_user = progress;
  region.cancel = &cancel_requested;
  gboolean ran = aenet_job_run(job, &io, &region, &error);
  if (ran)
    aenet_progress_finish(progress);
  else
    aenet_progress_clear(progress);
  if (!ran || cancel_requested)
    goto out;
  /* A blind model found the noise itself: say how much it removed. */
  if (!takes_noise && aenet_task_get_param(b->opt->task, AENET_PARAM_NOISE_LEVEL) != NULL)
    g_print(_("Noise removed: sigma %.1f (0–255 scale)\n"), aenet_job_get_removed_level(job));

  if (!aenet_image_save(out, out_path, &error))
    goto out;

  double seconds = (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
  char *took = aenet_progress_format_duration(seconds);
  /* What the file holds: JPEG is 8-bit without alpha. */
  gboolean jpeg = type == AENET_FILE_JPEG;
  int bits = jpeg ? 8 : out->bit_depth;
  int channels = jpeg && (out->n_channels == 2 || out->n_channels == 4) ? out->n_channels - 1
                                                                        : out->n_channels;
  g_print(_("Wrote %s (%dx%d, %d-bit %s) in %s\n"), out_path, out->width, out->height, bits,
          channels_name(channels), took);
  g_free(took);
  status = 0;

out:
  if (status != 0) {
    if (cancel_requested || g_error_matches(error, AENET_ERROR, AENET_ERROR_CANCELLED)) {
      aenet_print_error(_("cancelled; %s was not written"), out_path);
      status = EXIT_CANCELLED;
    } else if (error != NULL)
      aenet_print_error("%s", error->message);
  }
  g_clear_error(&error);
  aenet_progress_free(progress);
  aenet_image_free(out);
  aenet_image_free(in);
  return status;
}

/* ---- the command ---- */

static gboolean
has_image_name(const char *name)
{
  AenetFileType type;
  return aenet_file_type_from_name(name, &type, NULL);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files a batch processes: each IN that is a file, and the image files
 * (by name) in each IN that is a folder, sorted. A folder that cannot be
 * read is reported and counted in *failed. */
static GPtrArray *
batch_inputs(char **inputs, int n, int *failed)
{
  GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
  for (int i = 0; i < n; i++) {
    if (!g_file_test(inputs[i], G_FILE_TEST_IS_DIR)) {
      g_ptr_array_add(files, g_strdup(inputs[i]));
      continue;
    }
    GError *error = NULL;
    GDir *dir = g_dir_open(inputs[i], 0, &error);
    if (dir == NULL) {
      aenet_print_error("%s", error->message);
      g_error_free(error);
      (*failed)++;
      continue;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL)
      if (has_image_name(name))
        g_ptr_array_add(names, g_build_filename(inputs[i], name, NULL));
    g_dir_close(dir);
    g_ptr_array_sort(names, compare_strings);
    for (guint k = 0; k < names->len; k++)
      g_ptr_array_add(files, g_strdup(g_ptr_array_index(names, k)));
    g_ptr_array_unref(names);
  }
  return files;
}

/* OUTDIR/NAME, NAME the input's with the extension of --format if given. */
static char *
batch_output(const ProcessOptions *opt, const char *in_path)
{
  char *base = g_path_get_basename(in_path);
  if (opt->format != NULL) {
    char *dot = strrchr(base, '.');
    if (dot != NULL)
      *dot = '\0';
    char *renamed = g_strdup_printf("%s.%s", base, opt->format);
    g_free(base);
    base = renamed;
  }
  char *out = g_build_filename(opt->output_dir, base, NULL);
  g_free(base);
  return out;
}

static gboolean
check_output(const char *in_path, const char *out_path, AenetFileType *type, GError **error)
{
  if (!aenet_file_type_from_name(out_path, type, error))
    return FALSE;
  if (is_same_file(in_path, out_path)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("the output %s is the input file; choose another name so the original is "
                  "kept"),
                out_path);
    return FALSE;
  }
  return TRUE;
}

static int
process(ProcessOptions *opt, char **files, int n_files)
{
  AenetJobSettings settings;
  GError *error = NULL;
  int status = EXIT_RUNTIME;
  gboolean batch = opt->output_dir != NULL;

  if (!options_to_settings(opt, &settings))
    return EXIT_USAGE;
  if (opt->format != NULL) {
    char *probe = g_strconcat("x.", opt->format, NULL);
    AenetFileType t;
    gboolean known = aenet_file_type_from_name(probe, &t, NULL);
    g_free(probe);
    if (!known) {
      aenet_print_error(_("--format must be png, jpg or tif, not “%s”"), opt->format);
      return EXIT_USAGE;
    }
  }
  /* The single form: IN OUT checked before the model is loaded. */
  AenetFileType single_type = AENET_FILE_PNG;
  if (!batch && !check_output(files[0], files[1], &single_type, &error)) {
    aenet_print_error("%s", error->message);
    g_error_free(error);
    return EXIT_USAGE;
  }
  if (batch && g_mkdir_with_parents(opt->output_dir, 0777) != 0) {
    aenet_print_error(_("cannot make the output folder %s: %s"), opt->output_dir,
                      g_strerror(errno));
    return EXIT_RUNTIME;
  }

  Batch b = { opt, NULL, FALSE, 0, 0 };
  b.job = make_job(opt, &settings, &status);
  if (b.job == NULL)
    return status;
  const AenetTaskParam *noise = aenet_task_get_param(opt->task, AENET_PARAM_NOISE_LEVEL);
  for (int i = 0; noise != NULL && i < opt->task->n_params; i++)
    if (&opt->task->params[i] == noise && opt->param_text[i] != NULL && settings.noise_level >= 0
        && !aenet_network_takes_noise_level(aenet_job_get_model(b.job)->network))
      aenet_print_error(_("note: %s has no noise-level input; --%s is ignored"),
                        aenet_model_get_display_name(aenet_job_get_model(b.job)), noise->option);

  /* From here Ctrl-C means "stop and write nothing"; a second one kills. */
  struct sigaction sa, old_int, old_term;
  cancel_requested = 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  if (!batch)
    status = process_file(&b, files[0], files[1], single_type);
  else {
    int failed = 0, done = 0;
    GPtrArray *inputs = batch_inputs(files, n_files, &failed);
    b.total = (int)inputs->len;
    for (guint i = 0; i < inputs->len && !cancel_requested; i++) {
      const char *in_path = g_ptr_array_index(inputs, i);
      char *out_path = batch_output(opt, in_path);
      AenetFileType type;
      b.index = (int)i + 1;
      int s = EXIT_RUNTIME;
      if (!check_output(in_path, out_path, &type, &error)) {
        aenet_print_error("%s: %s", in_path, error->message);
        g_clear_error(&error);
      } else
        s = process_file(&b, in_path, out_path, type);
      g_free(out_path);
      if (s == EXIT_CANCELLED)
        break;
      if (s == 0)
        done++;
      else
        failed++;
    }
    if (cancel_requested)
      status = EXIT_CANCELLED;
    else {
      g_print(ngettext("%d of %d file done", "%d of %d files done", b.total), done, b.total);
      g_print("\n");
      if (failed > 0)
        aenet_print_error(ngettext("%d file failed", "%d files failed", failed), failed);
      status = failed > 0 || b.total == 0 ? EXIT_RUNTIME : 0;
    }
    g_ptr_array_unref(inputs);
  }

  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  aenet_job_free(b.job);
  return status;
}

int
aenet_cmd_process(const AenetTask *task, int argc, char **argv)
{
  ProcessOptions opt = { .task = task, .passes = 1 };
  GOptionEntry common[]
      = { { "model", 'm', 0, G_OPTION_ARG_FILENAME, &opt.model,
            N_("Model file, or name of an installed model"), N_("MODEL") },
          { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &opt.output_dir,
            N_("Write the results into this folder, under the inputs' names"), N_("OUTDIR") },
          { "format", 0, 0, G_OPTION_ARG_STRING, &opt.format,
            N_("With -o: the type of the results, png, jpg or tif (default: the input's)"),
            N_("TYPE") },
          { "quality", 0, 0, G_OPTION_ARG_INT, &opt.quality,
            N_("JPEG quality 1–100 (default: the input's, or 95)"), N_("Q") },
          { "tile", 0, 0, G_OPTION_ARG_INT, &opt.tile,
            N_("Tile edge in pixels (default: largest that fits)"), N_("PX") },
          { "threads", 0, 0, G_OPTION_ARG_INT, &opt.threads,
            N_("Worker threads (default: one per core)"), N_("N") },
          { "memory", 0, 0, G_OPTION_ARG_INT, &opt.memory_mb,
            N_("Working memory for all threads, MiB (default: 256)"), N_("MB") },
          { "passes", 0, 0, G_OPTION_ARG_INT, &opt.passes,
            N_("Also run on mirror images and average: 1 (default) to 4 passes, each as slow "
               "as the first"),
            N_("N") },
          { NULL } };
  /* The task's own options, from its row. */
  GOptionEntry params[AENET_TASK_MAX_PARAMS + 1];
  memset(params, 0, sizeof params);
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    params[i]
        = (GOptionEntry){ p->option,      0,          0, G_OPTION_ARG_STRING, &opt.param_text[i],
                          p->option_help, p->arg_name };
  }

  GOptionContext *context = g_option_context_new(_("IN OUT, or -o OUTDIR IN…"));
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  char *summary = g_strdup_printf(
      "%s\n%s", _(task->description),
      _("IN OUT: one file; its type (PNG, JPEG, TIFF) comes from the name of OUT.\n"
        "-o OUTDIR IN…: files and folders of images, each written to OUTDIR under its name.\n"
        "Results keep the bit depth, alpha, colour profile and EXIF of their input."));
  g_option_context_set_summary(context, summary);
  g_free(summary);
  g_option_context_add_main_entries(context, params, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(context, common, GETTEXT_PACKAGE);

  GError *error = NULL;
  int status;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    aenet_print_error(_("%s (see “%s --help”)"), error->message, g_get_prgname());
    g_error_free(error);
    status = EXIT_USAGE;
  } else if (opt.output_dir != NULL && argc < 2) {
    aenet_print_error(_("%s -o needs input files or folders, e.g. “aenet %s -o results "
                        "photos/”"),
                      task->name, task->name);
    status = EXIT_USAGE;
  } else if (opt.output_dir == NULL && argc != 3) {
    aenet_print_error(argc < 3 ? _("%s needs an input and an output file, e.g. “aenet %s "
                                   "photo.png result.png”")
                               : _("%s takes one input and one output file, e.g. “aenet %s "
                                   "photo.png result.png”; for more files use -o OUTDIR"),
                      task->name, task->name);
    status = EXIT_USAGE;
  } else if (opt.output_dir == NULL && opt.format != NULL) {
    aenet_print_error(_("--format is for -o OUTDIR; with IN OUT the type comes from OUT's name"));
    status = EXIT_USAGE;
  } else
    status = process(&opt, argv + 1, argc - 1);

  g_option_context_free(context);
  g_free(opt.model);
  g_free(opt.output_dir);
  g_free(opt.format);
  for (int i = 0; i < task->n_params; i++)
    g_free(opt.param_text[i]);
  return status;
}
