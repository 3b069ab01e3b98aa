/* cmd-bench.c — "aenet bench": how fast a model runs on this computer.
 *
 * Runs the model through the tiler on a random image, with one thread and
 * with N, several times each, and reports median times, throughput, the
 * effective GFLOPS (2 × multiply-adds per input pixel × pixels / time), the
 * speed-up and the peak memory, with the tiles, the work they make
 * (multiply-adds done / the image's: the layers compute a margin around
 * each tile, which neighbouring tiles compute again) and the convolution
 * method. Also
 * measures the raw rate of the main kernel, a 3×3 convolution 64 → 64 on a
 * 256×256 input by the same method, with one thread and with N threads
 * each owning its buffers, which is the ceiling the whole network can
 * reach. */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "commands.h"
#include "imageio.h"
#include "json.h"
#include "job.h"
#include "model.h"
#include "network.h"
#include "ops.h"
#include "presets.h"
#include "progress.h"
#include "rng.h"
#include "tiler.h"
#include "winograd.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define SIZE_MIN 16
#define SIZE_MAX 32768
#define REPEAT_MAX 1000
#define THREADS_MAX 1024
#define BENCH_SEED 20240601
#define BENCH_SIGMA 25.0 /* noise level for models that take one, 0–255 */

/* The kernel measured: conv 3×3, stride 1, KC → KC channels on KS × KS. */
#define KC 64
#define KS 256
#define KK 3

typedef struct {
  int threads;
  double median; /* seconds */
} RunResult;

static void
print_error(const char *message)
{
  g_printerr("aenet: %s\n", message);
}

static int
compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median(double *values, int n)
{
  qsort(values, n, sizeof *values, compare_doubles);
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static double
now_seconds(void)
{
  return g_get_monotonic_time() / (double)G_USEC_PER_SEC;
}

static gboolean
parse_size(const char *text, int *width, int *height)
{
  char *end = NULL;
  errno = 0;
  gint64 w = g_ascii_strtoll(text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X') || errno != 0)
    return FALSE;
  const char *rest = end + 1;
  gint64 h = g_ascii_strtoll(rest, &end, 10);
  if (end == rest || *end != '\0' || errno != 0)
    return FALSE;
  if (w < SIZE_MIN || w > SIZE_MAX || h < SIZE_MIN || h > SIZE_MAX)
    return FALSE;
  *width = (int)w;
  *height = (int)h;
  return TRUE;
}

/* ---- the whole network through the tiler ---- */

typedef struct {
  const AenetImage *in;
  AenetImage *out;
} BenchImages;

static gboolean
bench_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const BenchImages *b = user;
  aenet_image_get_rect(b->in, x, y, w, h, dst);
  return TRUE;
}

static gboolean
bench_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  BenchImages *b = user;
  aenet_image_set_rect(b->out, x, y, w, h, src);
  return TRUE;
}

/* The model to measure: -m, else the installed default denoiser (found
 * and loaded by a job, as the commands do), else the default preset with
 * random weights (speed does not depend on the weights). */
static const AenetNetwork *
get_network(const char *model_arg, int n_threads, AenetJob **job_out, AenetNetwork **own,
            char **name, GError **error)
{
  AenetJobSettings settings;
  const AenetTask *denoise = aenet_task_find("denoise");
  aenet_job_settings_init(&settings, denoise);
  settings.model = model_arg;
  settings.noise_level = BENCH_SIGMA;
  settings.scale = 0;
  settings.n_threads = n_threads;
  GError *local = NULL;
  *job_out = aenet_job_new(model_arg != NULL ? NULL : denoise, &settings, &local);
  if (*job_out != NULL) {
    const AenetModel *model = aenet_job_get_model(*job_out);
    *name = g_strdup(aenet_model_get_display_name(model));
    return model->network;
  }
  if (model_arg != NULL) {
    g_propagate_error(error, local);
    return NULL;
  }
  g_clear_error(&local);

  const AenetPreset *preset = aenet_preset_find_default("denoise", 1, error);
  if (preset == NULL)
    return NULL;
  char *graph = aenet_preset_build_graph(preset);
  AenetNetwork *net = aenet_network_new(graph, strlen(graph), error);
  g_free(graph);
  if (net == NULL)
    return NULL;
  aenet_network_init_params(net, BENCH_SEED);
  *name = g_strdup_printf(_("%s (preset, random weights)"), preset->name);
  *own = net;
  return net;
}

/* ---- the raw kernel ---- */

typedef struct {
  float *inp, *weight, *bias, *out, *scratch; /* (KC,KS,KS) (KC,KC,KK,KK) (KC) (KC,KS,KS) */
  float *u;                                   /* Winograd weights, or NULL for im2col */
  int repeat;
  double *times; /* repeat entries, seconds per call */
} KernelJob;

static gboolean
kernel_job_init(KernelJob *job, AenetConvKernel kernel, int repeat, guint64 seed)
{
  gsize plane = (gsize)KC * KS * KS;
  gsize scratch = kernel == AENET_CONV_WINOGRAD ? aenet_winograd_scratch_size(KC, KS, KS, KC)
                                                : aenet_conv2d_scratch_size(KC, KS, KS, KK, 1);
  job->inp = g_try_new(float, plane);
  job->weight = g_try_new(float, (gsize)KC *KC *KK *KK);
  job->bias = g_try_new(float, KC);
  job->out = g_try_new(float, plane);
  job->scratch = g_try_new(float, MAX(scratch, 1));
  job->times = g_new0(double, repeat);
  job->repeat = repeat;
  if (job->inp == NULL || job->weight == NULL || job->bias == NULL || job->out == NULL
      || job->scratch == NULL)
    return FALSE;
  AenetRng rng;
  aenet_rng_init(&rng, seed);
  for (gsize i = 0; i < plane; i++)
    job->inp[i] = (float)aenet_rng_uniform(&rng);
  for (gsize i = 0; i < (gsize)KC * KC * KK * KK; i++)
    job->weight[i] = (float)(aenet_rng_uniform(&rng) - 0.5) * 0.1f;
  for (int i = 0; i < KC; i++)
    job->bias[i] = 0.01f * i;
  if (kernel == AENET_CONV_WINOGRAD) {
    job->u = g_try_new(float, aenet_winograd_weights_size(KC, KC));
    if (job->u == NULL)
      return FALSE;
    aenet_winograd_weights(job->u, job->weight, KC, KC);
  }
  return TRUE;
}

static void
kernel_job_clear(KernelJob *job)
{
  g_free(job->inp);
  g_free(job->weight);
  g_free(job->bias);
  g_free(job->out);
  g_free(job->scratch);
  g_free(job->u);
  g_free(job->times);
}

static void
kernel_job_call(KernelJob *job)
{
  if (job->u != NULL)
    aenet_winograd_forward(job->out, job->inp, job->u, job->bias, job->scratch, KC, KS, KS, KC, 0);
  else
    aenet_conv2d_forward(job->out, job->inp, job->weight, job->bias, job->scratch, KC, KS, KS, KC,
                         KK, 1);
}

static gpointer
kernel_job_run(gpointer data)
{
  KernelJob *job = data;
  for (int r = 0; r < job->repeat; r++) {
    double t0 = now_seconds();
    kernel_job_call(job);
    job->times[r] = now_seconds() - t0;
  }
  return NULL;
}

/* GFLOPS of n_threads threads running the kernel at once, or -1 when
 * memory ran out. */
static double
kernel_gflops(AenetConvKernel kernel, int n_threads, int repeat)
{
  double flops = 2.0 * KC * KC * KK * KK * (double)KS * KS;
  KernelJob *jobs = g_new0(KernelJob, n_threads);
  GThread **threads = g_new0(GThread *, n_threads);
  gboolean ok = TRUE;
  for (int i = 0; i < n_threads; i++)
    ok = kernel_job_init(&jobs[i], kernel, repeat, BENCH_SEED + i) && ok;

  double rate = -1;
  if (ok) {
    /* Warm-up: page in the buffers and let BLAS set up. */
    for (int i = 0; i < n_threads; i++)
      kernel_job_call(&jobs[i]);
    double t0 = now_seconds();
    for (int i = 1; i < n_threads; i++)
      threads[i] = g_thread_new("aenet-bench", kernel_job_run, &jobs[i]);
    kernel_job_run(&jobs[0]);
    for (int i = 1; i < n_threads; i++)
      g_thread_join(threads[i]);
    double wall = now_seconds() - t0;
    if (n_threads == 1)
      rate = flops / median(jobs[0].times, repeat) / 1e9;
    else
      rate = n_threads * repeat * flops / wall / 1e9;
  }
  for (int i = 0; i < n_threads; i++)
    kernel_job_clear(&jobs[i]);
  g_free(threads);
  g_free(jobs);
  return rate;
}

static gsize
peak_rss_bytes(void)
{
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0)
    return 0;
  return (gsize)usage.ru_maxrss * 1024; /* kilobytes on Linux */
}

static void
append_number(GString *s, const char *key, double value, gboolean comma)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  aenet_json_append_string(s, key);
  g_string_append_printf(s, ": %s%s", g_ascii_formatd(buf, sizeof buf, "%.6g", value),
                         comma ? ", " : "");
}

static void
append_int(GString *s, const char *key, gint64 value, gboolean comma)
{
  aenet_json_append_string(s, key);
  g_string_append_printf(s, ": %" G_GINT64_FORMAT "%s", value, comma ? ", " : "");
}

static void
append_text(GString *s, const char *key, const char *value, gboolean comma)
{
  aenet_json_append_string(s, key);
  g_string_append(s, ": ");
  aenet_json_append_string(s, value);
  g_string_append(s, comma ? ", " : "");
}

int
aenet_cmd_bench(int argc, char **argv)
{
  char *model_arg = NULL;
  char *size_arg = NULL;
  int n_threads = 0;
  int repeat = 5;
  gboolean json = FALSE;
  gboolean im2col = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_arg,
      N_("Model file or name (default: the default denoiser)"), N_("MODEL") },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size_arg, N_("Image size (default: 1920x1080)"),
      N_("WxH") },
    { "threads", 0, 0, G_OPTION_ARG_INT, &n_threads,
      N_("Threads for the parallel runs (default: one per core)"), N_("N") },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat, N_("Runs of each kind (default: 5)"), N_("N") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the results as JSON"), NULL },
    { "im2col", 0, 0, G_OPTION_ARG_NONE, &im2col,
      N_("Run 3×3 convolutions by im2col and sgemm, the reference, instead of Winograd"), NULL },
    { NULL }
  };
  GOptionContext *context = g_option_context_new(NULL);
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  g_option_context_set_summary(context,
                               _("Measures how fast a model runs here: on a random image, "
                                 "with one thread\nand with all of them, and the raw speed "
                                 "of the convolution kernel."));
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);

  GError *error = NULL;
  int status = EXIT_USAGE;
  int width = 1920, height = 1080;
  AenetJob *job = NULL;
  AenetNetwork *own_net = NULL;
  const AenetNetwork *net = NULL;
  char *name = NULL;
  AenetImage *in = NULL, *out = NULL;
  AenetProgress *progress = NULL;
  RunResult results[2];
  int n_results = 0;
  double *times = NULL;

  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr(_("aenet: %s (see “%s --help”)\n"), error->message, g_get_prgname());
    g_clear_error(&error);
    goto out;
  }
  if (argc != 1) {
    g_printerr(_("aenet: bench takes no file arguments; give a model with -m\n"));
    goto out;
  }
  if (size_arg != NULL && !parse_size(size_arg, &width, &height)) {
    g_printerr(_("aenet: --size must be WIDTHxHEIGHT with each from %d to %d, e.g. "
                 "1920x1080, not “%s”\n"),
               SIZE_MIN, SIZE_MAX, size_arg);
    goto out;
  }
  if (n_threads < 0 || n_threads > THREADS_MAX) {
    g_printerr(_("aenet: --threads must be from 1 to %d, or 0 for one per core, not %d\n"),
               THREADS_MAX, n_threads);
    goto out;
  }
  if (repeat < 1 || repeat > REPEAT_MAX) {
    g_printerr(_("aenet: --repeat must be from 1 to %d, not %d\n"), REPEAT_MAX, repeat);
    goto out;
  }
  if (n_threads == 0)
    n_threads = (int)g_get_num_processors();

  status = EXIT_RUNTIME;
  net = get_network(model_arg, n_threads, &job, &own_net, &name, &error);
  if (net == NULL)
    goto out;
  int scale = aenet_network_get_scale(net);
  int channels = aenet_network_get_in_channels(net) >= 3 ? 3 : 1;

  in = aenet_image_new(width, height, channels, 8, &error);
  if (in == NULL)
    goto out;
  out = aenet_image_new(width * scale, height * scale, channels, 8, &error);
  if (out == NULL)
    goto out;
  AenetRng rng;
  aenet_rng_init(&rng, BENCH_SEED);
  for (int y = 0; y < height; y++)
    for (gsize i = 0; i < (gsize)width * channels; i++)
      in->data[y * in->stride + i] = (guint8)aenet_rng_below(&rng, 256);

  BenchImages images = { in, out };
  AenetImageIO io = { .width = width,
                      .height = height,
                      .n_channels = channels,
                      .read = bench_read,
                      .write = bench_write,
                      .user = &images };
  AenetTilerOptions topt;
  aenet_tiler_options_init(&topt);
  topt.noise_level = (float)(BENCH_SIGMA / 255.0);
  topt.n_threads = n_threads; /* the tiles shown are the ones the parallel runs use */
  topt.conv_kernel = im2col ? AENET_CONV_IM2COL : AENET_CONV_WINOGRAD;
  AenetTilePlan plan;
  if (!aenet_tiler_plan(net, &io, &topt, &plan, &error))
    goto out;
  /* Both runs split the image the same way, so they do the same work. */
  topt.tile = plan.tile_width;
  topt.tile_height = plan.tile_height;
  const char *method = aenet_conv_kernel_name(topt.conv_kernel);

  int configs[2] = { 1, n_threads };
  int n_configs = n_threads > 1 ? 2 : 1;
  times = g_new(double, repeat);
  progress = aenet_progress_new(_("Benchmarking"));
  for (int c = 0; c < n_configs; c++) {
    topt.n_threads = configs[c];
    for (int r = 0; r < repeat; r++) {
      aenet_progress_update(progress, (double)(c * repeat + r) / (n_configs * repeat), NULL);
      double t0 = now_seconds();
      if (!aenet_tiler_run(net, &io, &topt, &error)) {
        aenet_progress_clear(progress);
        goto out;
      }
      times[r] = now_seconds() - t0;
    }
    results[n_results].threads = configs[c];
    results[n_results].median = median(times, repeat);
    n_results++;
  }
  aenet_progress_update(progress, 1.0, _("kernel"));
  double kernel1 = kernel_gflops(topt.conv_kernel, 1, repeat);
  double kernelN = n_threads > 1 ? kernel_gflops(topt.conv_kernel, n_threads, repeat) : -1;
  aenet_progress_clear(progress);
  if (kernel1 < 0) {
    print_error(_("not enough memory for the kernel benchmark"));
    goto out;
  }

  double pixels = (double)width * height;
  double macs = aenet_network_get_macs_per_pixel(net);
  double speedup = n_results == 2 ? results[0].median / results[1].median : 1.0;
  gsize rss = peak_rss_bytes();

  if (json) {
    GString *s = g_string_new("{");
    append_text(s, "model", name, TRUE);
    append_int(s, "width", width, TRUE);
    append_int(s, "height", height, TRUE);
    append_int(s, "scale", scale, TRUE);
    append_int(s, "channels", channels, TRUE);
    append_int(s, "tile_width", plan.tile_width, TRUE);
    append_int(s, "tile_height", plan.tile_height, TRUE);
    append_int(s, "tiles", plan.tiles_x * plan.tiles_y, TRUE);
    append_int(s, "margin", plan.margin, TRUE);
    append_number(s, "work_factor", plan.work, TRUE);
    append_text(s, "conv_kernel", method, TRUE);
    append_int(s, "repeat", repeat, TRUE);
    append_number(s, "macs_per_input_pixel", macs, TRUE);
    g_string_append(s, "\"runs\": [");
    for (int i = 0; i < n_results; i++) {
      g_string_append(s, i > 0 ? ", {" : "{");
      append_int(s, "threads", results[i].threads, TRUE);
      append_number(s, "median_seconds", results[i].median, TRUE);
      append_number(s, "megapixels_per_second", pixels / 1e6 / results[i].median, TRUE);
      append_number(s, "gflops", 2.0 * macs * pixels / results[i].median / 1e9, FALSE);
      g_string_append(s, "}");
    }
    g_string_append(s, "], ");
    append_number(s, "speedup", speedup, TRUE);
    g_string_append(s, "\"kernel\": {");
    append_text(s, "op", "conv3x3 64->64 256x256", TRUE);
    append_text(s, "method", method, TRUE);
    append_number(s, "gflops_1_thread", kernel1, TRUE);
    append_int(s, "threads", n_threads, TRUE);
    if (kernelN > 0)
      append_number(s, "gflops_n_threads", kernelN, FALSE);
    else
      g_string_append(s, "\"gflops_n_threads\": null");
    g_string_append(s, "}, ");
    append_int(s, "peak_rss_bytes", (gint64)rss, FALSE);
    g_string_append(s, "}\n");
    g_print("%s", s->str);
    g_string_free(s, TRUE);
  } else {
    char *rss_text = g_format_size(rss);
    g_print("%-22s %s\n", _("Model:"), name);
    g_print("%-22s %dx%d, %d %s, %s %d\n", _("Image:"), width, height, channels,
            channels == 1 ? _("channel") : _("channels"), _("scale"), scale);
    g_print("%-22s %.0f\n", _("Multiply-adds/pixel:"), macs);
    char *tiles = g_strdup_printf(_("%d×%d px, %d × %d tiles, %d px margin"), plan.tile_width,
                                  plan.tile_height, plan.tiles_x, plan.tiles_y, plan.margin);
    g_print("%-22s %s\n", _("Tile:"), tiles);
    g_free(tiles);
    g_print("%-22s %.3f\n", _("Work / nominal:"), plan.work);
    g_print("%-22s %s\n", _("3x3 convolutions:"), method);
    g_print("%-22s %d\n\n", _("Runs of each kind:"), repeat);
    g_print("%8s  %10s  %10s  %10s\n", _("Threads"), _("Median s"), _("MP/s"), _("GFLOPS"));
    for (int i = 0; i < n_results; i++)
      g_print("%8d  %10.3f  %10.2f  %10.1f\n", results[i].threads, results[i].median,
              pixels / 1e6 / results[i].median, 2.0 * macs * pixels / results[i].median / 1e9);
    if (n_results == 2) {
      char *label = g_strdup_printf(_("Speed-up, %d threads:"), n_threads);
      g_print("\n%-22s %.2fx\n", label, speedup);
      g_free(label);
    }
    g_print("\n%s (%s)\n", _("Kernel: conv 3x3 64->64 on 256x256"), method);
    g_print("  %-20s %.1f GFLOPS\n", _("1 thread:"), kernel1);
    if (kernelN > 0) {
      char *label = g_strdup_printf(_("%d threads:"), n_threads);
      g_print("  %-20s %.1f GFLOPS %s\n", label, kernelN, _("(own buffers each)"));
      g_free(label);
    }
    g_print("\n%-22s %s\n", _("Peak memory (RSS):"), rss_text);
    g_free(rss_text);
  }
  status = 0;

out:
  if (error != NULL) {
    print_error(error->message);
    g_error_free(error);
  }
  aenet_progress_free(progress);
  g_free(times);
  aenet_image_free(out);
  aenet_image_free(in);
  aenet_job_free(job);
  aenet_network_free(own_net);
  g_free(name);
  g_free(model_arg);
  g_free(size_arg);
  g_option_context_free(context);
  return status;
}
