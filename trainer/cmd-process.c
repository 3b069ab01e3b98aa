/* cmd-process.c — "aenet denoise" and "aenet upscale": one image file in,
 * one image file out, through the tiler.
 *
 * Everything that can be checked cheaply is checked before the long work
 * (options, the output's type, IN and OUT being different files, the model
 * fitting the command), so a mistake costs no waiting. The output keeps the
 * input's bit depth, channels, ICC profile and EXIF. SIGINT and SIGTERM stop
 * the tiler through its cancel flag and nothing is written. */
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
#include "model.h"
#include "noise-estimate.h"
#include "progress.h"
#include "tiler.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_CANCELLED 130

#define SIGMA_MAX 75.0
#define TILE_MIN 16
#define TILE_MAX 16384
#define THREADS_MAX 1024
#define MEMORY_MAX_MB (1 << 20) /* 1 TiB: anything above is a typo */
/* Noise is estimated on a central crop of at most this many pixels: the
 * estimate is as good and the planar copy stays small. */
#define ESTIMATE_MAX_PIXELS 4000000.0

typedef struct {
  const char *task;  /* "denoise" or "upscale" */
  const char *label; /* for the progress line, translated */
  char *model;
  char *sigma;
  int scale; /* 0 = the model's */
  int tile;
  int threads;
  int memory_mb;
} ProcessOptions;

/* Set from the signal handler; the tiler polls it. */
static volatile int cancel_requested;

static void
on_signal(int signum)
{
  (void)signum;
  cancel_requested = 1;
}

static void
print_error(const char *message)
{
  g_printerr("aenet: %s\n", message);
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

/* Parses --sigma: "auto" gives -1, a number 0–75 gives itself. */
static gboolean
parse_sigma(const char *text, double *sigma)
{
  if (g_ascii_strcasecmp(text, "auto") == 0) {
    *sigma = -1;
    return TRUE;
  }
  char *end = NULL;
  errno = 0;
  double value = g_ascii_strtod(text, &end);
  if (end == text || *end != '\0' || errno != 0 || !isfinite(value) || value < 0
      || value > SIGMA_MAX)
    return FALSE;
  *sigma = value;
  return TRUE;
}

static gboolean
check_numbers(const ProcessOptions *opt)
{
  if (opt->tile != 0 && (opt->tile < TILE_MIN || opt->tile > TILE_MAX)) {
    g_printerr(_("aenet: --tile must be from %d to %d pixels, or 0 to choose it "
                 "automatically, not %d\n"),
               TILE_MIN, TILE_MAX, opt->tile);
    return FALSE;
  }
  if (opt->threads < 0 || opt->threads > THREADS_MAX) {
    g_printerr(_("aenet: --threads must be from 1 to %d, or 0 for one per core, not %d\n"),
               THREADS_MAX, opt->threads);
    return FALSE;
  }
  if (opt->memory_mb < 0 || opt->memory_mb > MEMORY_MAX_MB) {
    g_printerr(_("aenet: --memory must be a number of megabytes from 1 to %d, not %d\n"),
               MEMORY_MAX_MB, opt->memory_mb);
    return FALSE;
  }
  if (opt->scale != 0 && (opt->scale < 2 || opt->scale > 4)) {
    g_printerr(_("aenet: --scale must be 2, 3 or 4, not %d\n"), opt->scale);
    return FALSE;
  }
  return TRUE;
}

/* Finds and loads the model for the command. On failure prints the problem
 * and sets *status: EXIT_USAGE when the model does not fit the command. */
static AenetModel *
load_model(const ProcessOptions *opt, int *status)
{
  GError *error = NULL;
  char *path;
  if (opt->model != NULL)
    path = aenet_model_find(opt->model, &error);
  else
    path = aenet_model_find_default(opt->task,
                                    opt->scale > 0                      ? opt->scale
                                    : strcmp(opt->task, "upscale") == 0 ? 2
                                                                        : 1,
                                    &error);
  if (path == NULL) {
    if (opt->model == NULL)
      g_printerr(_("aenet: %s; name a model with -m\n"), error->message);
    else
      print_error(error->message);
    g_error_free(error);
    *status = EXIT_RUNTIME;
    return NULL;
  }

  AenetModel *model = aenet_model_load(path, &error);
  if (model == NULL) {
    print_error(error->message);
    g_error_free(error);
    g_free(path);
    *status = EXIT_RUNTIME;
    return NULL;
  }

  if (strcmp(model->task, opt->task) != 0) {
    g_printerr(_("aenet: %s is a %s model, but 'aenet %s' needs a %s model\n"), path, model->task,
               opt->task, opt->task);
    goto misfit;
  }
  if (opt->scale > 0 && opt->scale != model->scale) {
    g_printerr(_("aenet: --scale %d does not match %s, which enlarges %d times\n"), opt->scale,
               path, model->scale);
    goto misfit;
  }
  g_free(path);
  return model;

misfit:
  aenet_model_free(model);
  g_free(path);
  *status = EXIT_USAGE;
  return NULL;
}

/* ---- noise estimate ---- */

/* Estimates sigma (0–255 scale) on the colour channels of a central crop. */
static double
estimate_sigma(const AenetImage *image, GError **error)
{
  int colour = image->n_channels >= 3 ? 3 : 1;
  int nc = image->n_channels;
  int cw = image->width, ch = image->height;
  double pixels = (double)cw * ch;
  if (pixels > ESTIMATE_MAX_PIXELS) {
    double f = sqrt(ESTIMATE_MAX_PIXELS / pixels);
    cw = MAX(1, (int)(cw * f));
    ch = MAX(1, (int)(ch * f));
  }
  int x0 = (image->width - cw) / 2;
  int y0 = (image->height - ch) / 2;

  float *row = g_try_new(float, (gsize)cw *nc);            /* (cw, nc) */
  float *planar = g_try_new(float, (gsize)colour *cw *ch); /* (colour, ch, cw) */
  if (row == NULL || planar == NULL) {
    g_free(row);
    g_free(planar);
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("not enough memory to estimate the noise level"));
    return -1;
  }
  for (int y = 0; y < ch; y++) {
    aenet_image_get_rect(image, x0, y0 + y, cw, 1, row);
    for (int c = 0; c < colour; c++) {
      float *dst = planar + ((gsize)c * ch + y) * cw;
      for (int x = 0; x < cw; x++)
        dst[x] = row[(gsize)x * nc + c];
    }
  }
  GError *local = NULL;
  double sigma = aenet_noise_estimate(planar, colour, ch, cw, &local);
  g_free(row);
  g_free(planar);
  if (local != NULL) {
    g_propagate_error(error, local);
    return -1;
  }
  return sigma;
}

/* ---- the image adapter for the tiler ---- */

typedef struct {
  const AenetImage *in;
  AenetImage *out;
} ImageAdapter;

static gboolean
read_rect(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const ImageAdapter *a = user;
  if (x < 0 || y < 0 || w < 0 || h < 0 || x + w > a->in->width || y + h > a->in->height) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "internal error: read of %dx%d at (%d, %d) outside the %dx%d image", w, h, x, y,
                a->in->width, a->in->height);
    return FALSE;
  }
  aenet_image_get_rect(a->in, x, y, w, h, dst);
  return TRUE;
}

static gboolean
write_rect(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  ImageAdapter *a = user;
  if (x < 0 || y < 0 || w < 0 || h < 0 || x + w > a->out->width || y + h > a->out->height) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "internal error: write of %dx%d at (%d, %d) outside the %dx%d image", w, h, x, y,
                a->out->width, a->out->height);
    return FALSE;
  }
  aenet_image_set_rect(a->out, x, y, w, h, src);
  return TRUE;
}

/* ---- the command ---- */

static int
process(ProcessOptions *opt, const char *in_path, const char *out_path)
{
  gint64 start = g_get_monotonic_time();
  GError *error = NULL;
  int status = EXIT_RUNTIME;
  AenetModel *model = NULL;
  AenetImage *in = NULL, *out = NULL;
  AenetProgress *progress = NULL;
  struct sigaction old_int, old_term;
  gboolean handlers = FALSE;

  double sigma = -1; /* -1 = estimate */
  gboolean sigma_given = opt->sigma != NULL;
  if (sigma_given && !parse_sigma(opt->sigma, &sigma)) {
    g_printerr(_("aenet: --sigma must be a number from 0 to %.0f (noise on the 0-255 "
                 "scale) or 'auto', not '%s'\n"),
               SIGMA_MAX, opt->sigma);
    return EXIT_USAGE;
  }
  if (!check_numbers(opt))
    return EXIT_USAGE;

  AenetFileType type;
  if (!aenet_file_type_from_name(out_path, &type, &error)) {
    print_error(error->message);
    g_error_free(error);
    return EXIT_USAGE;
  }
  if (is_same_file(in_path, out_path)) {
    g_printerr(_("aenet: the output %s is the input file; choose another name so the "
                 "original is kept\n"),
               out_path);
    return EXIT_USAGE;
  }

  model = load_model(opt, &status);
  if (model == NULL)
    return status;
  const AenetNetwork *net = model->network;
  int scale = aenet_network_get_scale(net);
  gboolean takes_noise = aenet_network_takes_noise_level(net);

  /* From here Ctrl-C means "stop and write nothing"; a second one kills. */
  cancel_requested = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  handlers = TRUE;

  in = aenet_image_load(in_path, &error);
  if (in == NULL)
    goto out;
  if ((gint64)in->width * scale > G_MAXINT || (gint64)in->height * scale > G_MAXINT) {
    g_set_error(&error, AENET_ERROR, AENET_ERROR_NOMEM, _("%s is too large to enlarge %d times"),
                in_path, scale);
    goto out;
  }

  if (type == AENET_FILE_JPEG && in->bit_depth == 16)
    g_printerr(_("aenet: note: JPEG holds 8 bits per sample; %s will be 8-bit\n"), out_path);
  if (type == AENET_FILE_JPEG && (in->n_channels == 2 || in->n_channels == 4))
    g_printerr(_("aenet: note: JPEG holds no transparency; %s will have no alpha\n"), out_path);
  if (!takes_noise && sigma_given)
    g_printerr(_("aenet: note: %s has no noise-level input; --sigma is ignored\n"),
               aenet_model_get_display_name(model));
  if (takes_noise && sigma < 0) {
    double estimate = estimate_sigma(in, &error);
    if (estimate < 0 || error != NULL) {
      if (error != NULL)
        g_prefix_error(&error, _("could not estimate the noise level (give it with "
                                 "--sigma): "));
      else
        g_set_error(&error, AENET_ERROR, AENET_ERROR_INVALID,
                    _("could not estimate the noise level; give it with --sigma"));
      goto out;
    }
    sigma = CLAMP(estimate, 0.0, SIGMA_MAX);
    g_print(_("Estimated noise level: sigma %.1f (0-255 scale)\n"), sigma);
  }
  if (cancel_requested)
    goto out;

  out = aenet_image_new(in->width * scale, in->height * scale, in->n_channels, in->bit_depth,
                        &error);
  if (out == NULL)
    goto out;
  if (in->icc_profile != NULL)
    out->icc_profile = g_bytes_ref(in->icc_profile);
  if (in->exif != NULL)
    out->exif = g_bytes_ref(in->exif);

  ImageAdapter adapter = { in, out };
  AenetImageIO io = {
    .width = in->width,
    .height = in->height,
    .n_channels = in->n_channels,
    .read = read_rect,
    .write = write_rect,
    .user = &adapter,
  };
  AenetTilerOptions topt;
  aenet_tiler_options_init(&topt);
  topt.tile = opt->tile;
  topt.n_threads = opt->threads;
  topt.memory_budget = (gsize)opt->memory_mb << 20;
  topt.noise_level = takes_noise ? (float)(sigma / 255.0) : 0.0f;
  progress = aenet_progress_new(opt->label);
  topt.progress = aenet_progress_tiler_callback;
  topt.progress_user = progress;
  topt.cancel = &cancel_requested;

  gboolean ran = aenet_tiler_run(net, &io, &topt, &error);
  if (ran)
    aenet_progress_finish(progress);
  else
    aenet_progress_clear(progress);
  if (!ran || cancel_requested)
    goto out;

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
      g_printerr(_("aenet: cancelled; %s was not written\n"), out_path);
      status = EXIT_CANCELLED;
    } else if (error != NULL)
      print_error(error->message);
  }
  g_clear_error(&error);
  if (handlers) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
  }
  aenet_progress_free(progress);
  aenet_image_free(out);
  aenet_image_free(in);
  aenet_model_free(model);
  return status;
}

static int
run(const char *task, int argc, char **argv)
{
  gboolean upscale = strcmp(task, "upscale") == 0;
  ProcessOptions opt = { .task = task, .label = upscale ? _("Upscaling") : _("Denoising") };
  GOptionEntry common[] = { { "model", 'm', 0, G_OPTION_ARG_FILENAME, &opt.model,
                              N_("Model file, or name of an installed model"), N_("MODEL") },
                            { "sigma", 0, 0, G_OPTION_ARG_STRING, &opt.sigma,
                              N_("Noise level 0-75 (0-255 scale) or 'auto' (default)"), N_("S") },
                            { "tile", 0, 0, G_OPTION_ARG_INT, &opt.tile,
                              N_("Tile edge in pixels (default: largest that fits)"), N_("PX") },
                            { "threads", 0, 0, G_OPTION_ARG_INT, &opt.threads,
                              N_("Worker threads (default: one per core)"), N_("N") },
                            { "memory", 0, 0, G_OPTION_ARG_INT, &opt.memory_mb,
                              N_("Working memory for all threads, MiB (default: 256)"), N_("MB") },
                            { NULL } };
  GOptionEntry scale_entry[]
      = { { "scale", 0, 0, G_OPTION_ARG_INT, &opt.scale,
            N_("Enlargement 2, 3 or 4 (default: the model's, or 2)"), N_("N") },
          { NULL } };

  GOptionContext *context = g_option_context_new(_("IN OUT"));
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      context, upscale ? _("Enlarges the image IN and writes the result to OUT.\n"
                           "OUT keeps the bit depth, alpha, colour profile and EXIF of IN; "
                           "its type\n(PNG, JPEG, TIFF) comes from its extension.")
                       : _("Removes noise from the image IN and writes the result to OUT.\n"
                           "OUT keeps the bit depth, alpha, colour profile and EXIF of IN; "
                           "its type\n(PNG, JPEG, TIFF) comes from its extension."));
  g_option_context_add_main_entries(context, common, GETTEXT_PACKAGE);
  if (upscale)
    g_option_context_add_main_entries(context, scale_entry, GETTEXT_PACKAGE);

  GError *error = NULL;
  int status;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr(_("aenet: %s (see '%s --help')\n"), error->message, g_get_prgname());
    g_error_free(error);
    status = EXIT_USAGE;
  } else if (argc != 3) {
    g_printerr(argc < 3 ? _("aenet: %s needs an input and an output file, e.g. 'aenet %s "
                            "photo.png result.png'\n")
                        : _("aenet: %s takes one input and one output file, e.g. 'aenet %s "
                            "photo.png result.png'\n"),
               task, task);
    status = EXIT_USAGE;
  } else
    status = process(&opt, argv[1], argv[2]);

  g_option_context_free(context);
  g_free(opt.model);
  g_free(opt.sigma);
  return status;
}

int
aenet_cmd_denoise(int argc, char **argv)
{
  return run("denoise", argc, argv);
}

int
aenet_cmd_upscale(int argc, char **argv)
{
  return run("upscale", argc, argv);
}
