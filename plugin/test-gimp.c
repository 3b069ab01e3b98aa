/* test-gimp.c — the plug-in inside a real GIMP in batch mode: GIMP 2.10,
 * or GIMP 3 when built with AENET_GIMP3 (the same checks through each
 * one's Script-Fu, and GIMP 3's results compared with GIMP 2.10's).
 *
 * Writes two test models whose output is known (a 3×3 box filter for
 * denoising, nearest-neighbour ×2 for upscaling), test images, and one
 * Script-Fu script that runs every check in a single GIMP start (GIMP reads
 * its settings and plug-ins from a temporary folder; the plug-in comes from
 * the build tree). The script saves results and prints "REPORT key=value"
 * lines; the tests compare the results with the clean image, the original
 * and the aenet command's output for the same model. A photo goes through
 * the plug-in and the command with the shipped models and every setting
 * automatic: both must choose the same noise level and give the same
 * pixels (the front ends share one job, job.h). A second GIMP start
 * (GIMP 2.10) denoises 12 and 48 MP layers while the test watches the plug-in's
 * process in /proc: its peak memory must stay near the engine's budget.
 *
 * Usage: test-gimp PLUGIN-EXECUTABLE AENET-EXECUTABLE SOURCE-ROOT */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "imageio.h"
#include "process.h"
#include "model.h"
#include "network.h"
#include "tiler.h"

enum { W = 64, H = 48 };

static const char *plugin_exe, *aenet_exe, *source_root;
static gboolean have_polyu; /* the real photo pair is in the shared data */
#define POLYU_PHOTO "Canon5D2_5_160_6400_bicycle_8"
static char *tmp;          /* the test's folder */
static char *gimp_stderr;  /* what GIMP printed */
static GHashTable *report; /* key -> value from the script */

static char *
tpath(const char *name)
{
  return g_build_filename(tmp, name, NULL);
}

static void
save_model(const char *task, const char *graph, const char *name, const float *weights, gsize n)
{
  GError *error = NULL;
  AenetModel *model = aenet_model_new(task, graph, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(aenet_network_get_n_params(model->network), ==, n);
  if (n)
    memcpy(aenet_network_get_params(model->network), weights, n * sizeof(float));
  aenet_model_set_meta(model, "name", name);
  char *file = g_strdup_printf("%s/models/%s.safetensors", tmp, name);
  g_assert_true(aenet_model_save(model, file, &error));
  g_assert_no_error(error);
  g_free(file);
  aenet_model_free(model);
}

/* A smooth pattern; channel c of pixel (x, y) in [0.1, 0.9]. */
static float
clean_value(int x, int y, int c)
{
  return 0.5f + 0.4f * sinf(0.13f * x * (c + 1) + 0.21f * y - c);
}

static void
save_image(const char *name, int w, int h, int n_channels, gboolean noisy, gboolean alpha_blocks)
{
  GError *error = NULL;
  AenetImage *im = aenet_image_new(w, h, n_channels, 8, &error);
  g_assert_no_error(error);
  float *px = g_new(float, (gsize)w *h *n_channels);
  GRand *rand = g_rand_new_with_seed(1234);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < n_channels; c++) {
        float v = clean_value(x, y, c);
        if (noisy) {
          /* Gaussian noise, sigma 20/255 (Box–Muller). */
          double u1 = g_rand_double_range(rand, 1e-9, 1.0), u2 = g_rand_double(rand);
          v += (float)(20.0 / 255.0 * sqrt(-2.0 * log(u1)) * cos(2 * G_PI * u2));
        }
        if (alpha_blocks && c == n_channels - 1)
          v = x < w / 2 ? 1.0f : 128.0f / 255.0f;
        px[((gsize)y * w + x) * n_channels + c] = CLAMP(v, 0.0f, 1.0f);
      }
  aenet_image_set_rect(im, 0, 0, w, h, px);
  char *file = tpath(name);
  g_assert_true(aenet_image_save(im, file, &error));
  g_assert_no_error(error);
  g_free(file);
  g_free(px);
  g_rand_free(rand);
  aenet_image_free(im);
}

static AenetImage *
load(const char *name)
{
  GError *error = NULL;
  char *file = tpath(name);
  AenetImage *im = aenet_image_load(file, &error);
  if (!im)
    g_printerr("%s: %s\n", file, error->message);
  g_assert_no_error(error);
  g_free(file);
  return im;
}

static float *
pixels(const AenetImage *im)
{
  float *px = g_new(float, (gsize)im->width * im->height * im->n_channels);
  aenet_image_get_rect(im, 0, 0, im->width, im->height, px);
  return px;
}

static double
rmse(const AenetImage *a, const AenetImage *b)
{
  g_assert_cmpint(a->width, ==, b->width);
  g_assert_cmpint(a->height, ==, b->height);
  g_assert_cmpint(a->n_channels, ==, b->n_channels);
  float *pa = pixels(a), *pb = pixels(b);
  gsize n = (gsize)a->width * a->height * a->n_channels;
  double s = 0;
  for (gsize i = 0; i < n; i++)
    s += (pa[i] - pb[i]) * (double)(pa[i] - pb[i]);
  g_free(pa);
  g_free(pb);
  return sqrt(s / n);
}

/* Largest difference over the pixels inside (inside = TRUE) or outside the
 * rectangle (rx, ry, rw, rh). */
static double
max_diff_rect(const AenetImage *a, const AenetImage *b, int rx, int ry, int rw, int rh,
              gboolean inside)
{
  g_assert_cmpint(a->width, ==, b->width);
  g_assert_cmpint(a->height, ==, b->height);
  g_assert_cmpint(a->n_channels, ==, b->n_channels);
  float *pa = pixels(a), *pb = pixels(b);
  double m = 0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++) {
      gboolean in = x >= rx && x < rx + rw && y >= ry && y < ry + rh;
      if (in != inside)
        continue;
      for (int c = 0; c < a->n_channels; c++) {
        gsize i = ((gsize)y * a->width + x) * a->n_channels + c;
        m = MAX(m, fabs(pa[i] - pb[i]));
      }
    }
  g_free(pa);
  g_free(pb);
  return m;
}

static double
max_diff(const AenetImage *a, const AenetImage *b)
{
  return max_diff_rect(a, b, 0, 0, a->width, a->height, TRUE);
}

/* The test's models, then the shipped ones. */
static char *
model_path(void)
{
  char *models = tpath("models"), *shipped = g_build_filename(source_root, "models", NULL);
  char *path = g_strjoin(":", models, shipped, NULL);
  g_free(models);
  g_free(shipped);
  return path;
}

static void
run_cli(const char *command, const char *model, const char *in, const char *out)
{
  char *fin = tpath(in), *fout = tpath(out), *err = NULL;
  /* The test models take no noise level: --sigma 0 is only for the option path. */
  gboolean up = strcmp(command, "upscale") == 0;
  const char *argv[]
      = { aenet_exe, command, "-m", model, up ? fin : "--sigma", up ? fout : "0", fin, fout, NULL };
  int status;
  GError *error = NULL;

  if (up)
    argv[6] = NULL;
  char *models = model_path();
  char **env = g_environ_setenv(g_get_environ(), "AENET_MODEL_PATH", models, TRUE);
  g_assert_true(g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                             &err, &status, &error));
  g_strfreev(env);
  g_free(models);
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("aenet %s %s failed: %s", command, in, err);
  g_free(err);
  g_free(fin);
  g_free(fout);
}

/* What differs between GIMP 2.10 and GIMP 3 for the script: the program,
 * the settings folder's variable, and Script-Fu helpers over the two
 * PDBs (GIMP 3 passes drawables as a vector and saves whole images). */
#ifdef AENET_GIMP3
#define GIMP_PROGRAM "gimp-console-3.0"
#define GIMP_DIR_VARIABLE "GIMP3_DIRECTORY"
static const char prelude[]
    = "(gimp-message \"REPORT start=1\")\n"
      "(define (open name) (let ((f (string-append \"@T@/\" name))) "
      "  (car (gimp-file-load RUN-NONINTERACTIVE f))))\n"
      "(define (layer img) (vector-ref (car (gimp-image-get-selected-layers img)) 0))\n"
      "(define (save img d name) (gimp-file-save RUN-NONINTERACTIVE img "
      "  (string-append \"@T@/\" name)))\n"
      "(define (denoise img d m s t) (plug-in-aenet-denoise RUN-NONINTERACTIVE img (vector d) m s "
      "t))\n"
      "(define (upscale img d m s o) (plug-in-aenet-upscale RUN-NONINTERACTIVE img (vector d) m s "
      "o))\n"
      "(define (width d) (car (gimp-drawable-get-width d)))\n"
      "(define (height d) (car (gimp-drawable-get-height d)))\n"
      "(define (offsets d) (gimp-drawable-get-offsets d))\n"
      "(define (image-width img) (car (gimp-image-get-width img)))\n"
      "(define (image-height img) (car (gimp-image-get-height img)))\n"
      "(define (n-layers img) (vector-length (car (gimp-image-get-layers img))))\n"
      "(define (n-images) (vector-length (car (gimp-get-images))))\n"
      "(define u16 PRECISION-U16-NON-LINEAR)\n"
      /* GIMP 3 keeps the last values itself (GimpProcedureConfig, saved
       * after a dialog's OK); a script cannot set them. */
      "(define (repeat-last img d) #t)\n"
      "(define (assign-profile img f) (gimp-image-set-color-profile-from-file img f))\n";
/* A last call that fails, whose message must reach the caller. */
#define LAST_CALL "(plug-in-aenet-denoise RUN-NONINTERACTIVE 1 (vector 2) \"no-such-model\" 0 1.0)"
#define LAST_MESSAGE "no model named “no-such-model” was found"
#else
#define GIMP_PROGRAM "gimp"
#define GIMP_DIR_VARIABLE "GIMP2_DIRECTORY"
static const char prelude[]
    = "(define (open name) (let ((f (string-append \"@T@/\" name))) "
      "  (car (gimp-file-load RUN-NONINTERACTIVE f f))))\n"
      "(define (layer img) (car (gimp-image-get-active-layer img)))\n"
      "(define (save img d name) (let ((f (string-append \"@T@/\" name))) "
      "  (gimp-file-save RUN-NONINTERACTIVE img d f f)))\n"
      "(define (denoise img d m s t) (plug-in-aenet-denoise RUN-NONINTERACTIVE img d m s t))\n"
      "(define (upscale img d m s o) (plug-in-aenet-upscale RUN-NONINTERACTIVE img d m s o))\n"
      "(define (width d) (car (gimp-drawable-width d)))\n"
      "(define (height d) (car (gimp-drawable-height d)))\n"
      "(define (offsets d) (gimp-drawable-offsets d))\n"
      "(define (image-width img) (car (gimp-image-width img)))\n"
      "(define (image-height img) (car (gimp-image-height img)))\n"
      "(define (n-layers img) (car (gimp-image-get-layers img)))\n"
      "(define (n-images) (car (gimp-image-list)))\n"
      "(define u16 PRECISION-U16-GAMMA)\n"
      "(define (assign-profile img f) "
      "  (gimp-image-set-color-profile-from-file img (string-append \"file://\" f)))\n"
      /* The last values as the dialog saves them (AenetValues: model[1024],
       * noise_level and strength as doubles, scale, output, memory_mb, passes
       * as ints; little-endian): test-box, automatic level, strength 1,
       * 512 MiB, 2 passes. */
      "(define (repeat-last img d) (let ((v (make-vector @SIZE@ 0)))\n"
      "  (let loop ((i 0) (cs (string->list \"test-box\")))\n"
      "    (if (pair? cs) (begin (vector-set! v i (char->integer (car cs))) (loop (+ i 1) (cdr cs)))))\n"
      "  (vector-set! v 1030 240) (vector-set! v 1031 191)\n" /* noise level -1.0 */
      "  (vector-set! v 1038 240) (vector-set! v 1039 63)\n"  /* strength 1.0 */
      "  (vector-set! v 1040 1) (vector-set! v 1049 2)\n"     /* scale 1, memory 512 MiB */
      "  (vector-set! v 1052 2)\n"                            /* passes 2 */
      "  (gimp-procedural-db-set-data \"plug-in-aenet-denoise\" @SIZE@ v)\n"
      "  (plug-in-aenet-denoise RUN-WITH-LAST-VALS img d \"\" 0 1.0)))\n";
#define LAST_CALL "(plug-in-aenet-denoise RUN-NONINTERACTIVE 1 2 \"test-box\" 80 1.0)"
#define LAST_MESSAGE "The noise level 80 is out of range"
/* The byte offsets above. */
G_STATIC_ASSERT(offsetof(AenetValues, memory_mb) == 1048 && offsetof(AenetValues, passes) == 1052);
#endif

/* The Script-Fu program, after the prelude; @T@ is replaced by the test
 * folder. Saved layers are at offset 0, 0 and fill the canvas, so that
 * saving the image (GIMP 3) gives the layer (as GIMP 2.10 saves it). */
static const char script[]
    = "(define (report k v) (gimp-message (string-append \"REPORT \" k \"=\" "
      "  (if (number? v) (number->string v) v))))\n"
      "(define (fails? thunk) (catch #t (thunk) #f))\n"
      /* Whole image, full strength and half strength. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (denoise img d \"test-box\" 0 1.0)\n"
      "  (save img d \"gimp-denoise.png\")\n"
      "  (report \"denoise-precision\" (car (gimp-image-get-precision img))))\n"
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (denoise img d \"test-box\" -1 0.5)\n"
      "  (save img d \"gimp-half.png\"))\n"
      /* A selection on a layer with offsets (4, 6): layer rect (16, 16, 24, 16). */
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (gimp-layer-set-offsets d 4 6)\n"
      "  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 20 22 24 16)\n"
      "  (denoise img d \"test-box\" 0 1.0)\n"
      "  (gimp-selection-none img)\n"
      "  (gimp-layer-set-offsets d 0 0)\n"
      "  (save img d \"gimp-selection.png\")\n"
      /* The same selection no longer touching the layer. */
      "  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 20 22 24 16)\n"
      "  (gimp-layer-set-offsets d 100 100)\n"
      "  (report \"empty-intersect-fails\" "
            "    (if (fails? (lambda () (denoise img d \"test-box\" 0 1.0))) 1 0)))\n"
      /* A photo, every setting automatic, the shipped models. */
      "(let* ((img (open \"photo.png\")) (d (layer img)))\n"
      "  (denoise img d \"\" -1 1.0)\n"
      "  (save img d \"gimp-photo.png\"))\n"
      /* A real camera JPEG, every setting automatic. */
      "(let* ((img (open \"polyu-real.jpg\")) (d (layer img)))\n"
      "  (denoise img d \"\" -1 1.0)\n"
      "  (save img d \"gimp-polyu.png\"))\n"
      /* The shipped models (after the photo, whose run is the first with a
       * shipped model): the results the GIMP 2.10 and GIMP 3 plug-ins must
       * agree on. The noise-level model by name, level estimated: the
       * synthetic stripes with white noise are no photo, and the blind
       * photo model leaves most of that noise as it takes it for texture. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (denoise img d \"denoise\" -1 1.0)\n"
      "  (save img d \"gimp-shipped-denoise.png\"))\n"
      "(let* ((img (open \"alpha.png\")) (d (layer img)) (r (upscale img d \"\" 2 0)))\n"
      "  (save (car r) (cadr r) \"gimp-shipped-up2.png\"))\n"
      /* A JPEG enlarged, every setting automatic: the JPEG upscaler. */
      "(let* ((img (open \"coffee75.jpg\")) (d (layer img)))\n"
      "  (save img d \"gimp-jpeg-in.png\")\n"
      "  (let* ((r (upscale img d \"\" 2 0))) (save (car r) (cadr r) \"gimp-jpeg-up2.png\")))\n"
      /* A strongly compressed JPEG, every setting automatic: the JPEG
       * denoiser. */
      "(let* ((img (open \"coffee30.jpg\")) (d (layer img)))\n"
      "  (save img d \"gimp-jpeg30-in.png\")\n"
      "  (denoise img d \"\" -1 1.0)\n"
      "  (save img d \"gimp-jpeg30-denoise.png\"))\n"
      /* Repeat-last keeps the working memory and passes (settings saved
       * before, see repeat-last), and its job reports them. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (repeat-last img d)\n"
      "  (report \"last-vals-done\" 1))\n"
      /* Gray. */
      "(let* ((img (open \"gray.png\")) (d (layer img)))\n"
      "  (denoise img d \"test-box\" 0 1.0)\n"
      "  (save img d \"gimp-gray.png\"))\n"
      /* 16-bit: denoise, then upscale the result into a new image. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (gimp-image-convert-precision img u16)\n"
      "  (denoise img d \"test-box\" 0 1.0)\n"
      "  (save img d \"gimp-d16.png\")\n"
      "  (let* ((r (upscale img d \"test-up2\" 2 0)) (new (car r)) (nl (cadr r)))\n"
      "    (report \"u16-precision\" (car (gimp-image-get-precision new)))\n"
      "    (save new nl \"gimp-u16.png\")))\n"
      /* Upscale into a new image. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)) "
      "       (r (upscale img d \"test-up2\" 2 0)) (new (car r)) (nl (cadr r)))\n"
      "  (report \"new-width\" (image-width new))\n"
      "  (report \"new-height\" (image-height new))\n"
      "  (report \"old-width\" (image-width img))\n"
      "  (save new nl \"gimp-up-new.png\"))\n"
      /* In place on an RGBA layer with offsets: the layer and the canvas grow. */
      "(let* ((img (open \"alpha.png\")) (d (layer img)))\n"
      "  (gimp-layer-set-offsets d 3 5)\n"
      "  (let* ((r (upscale img d \"test-up2\" 2 1)) (nl (cadr r)))\n"
      "    (report \"inplace-layers\" (n-layers img))\n"
      "    (report \"inplace-layer-width\" (width nl))\n"
      "    (report \"inplace-layer-height\" (height nl))\n"
      "    (report \"inplace-offx\" (car (offsets nl)))\n"
      "    (report \"inplace-offy\" (cadr (offsets nl)))\n"
      "    (report \"inplace-image-width\" (image-width img))\n"
      "    (report \"inplace-image-height\" (image-height img))\n"
      "    (gimp-layer-set-offsets nl 0 0)\n"
      "    (gimp-image-resize-to-layers img)\n"
      "    (save img nl \"gimp-up-inplace.png\")))\n"
      /* As a new layer. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)) "
      "       (r (upscale img d \"test-up2\" 2 2)) (nl (cadr r)))\n"
      "  (report \"newlayer-image\" (car r))\n"
      "  (report \"newlayer-layers\" (n-layers img))\n"
      "  (report \"newlayer-width\" (width nl))\n"
      "  (report \"newlayer-canvas\" (image-width img)))\n"
      /* Bad calls fail and leave the image untouched. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)) (n 0))\n"
      "  (gimp-image-clean-all img)\n"
      "  (define (bad thunk) (if (fails? thunk) (set! n (+ n 1))))\n"
      "  (bad (lambda () (denoise img d \"test-box\" 80 1.0)))\n"
      "  (bad (lambda () (denoise img d \"test-box\" 0 1.5)))\n"
      "  (bad (lambda () (denoise img d \"no-such-model\" 0 1)))\n"
      "  (bad (lambda () (denoise img d \"test-up2\" 0 1)))\n"
      "  (bad (lambda () (upscale img d \"test-up2\" 5 0)))\n"
      "  (bad (lambda () (upscale img d \"test-up2\" 3 0)))\n"
      "  (bad (lambda () (upscale img d \"test-up2\" 2 7)))\n"
      "  (bad (lambda () (upscale img d \"test-box\" 2 0)))\n"
      "  (report \"bad-calls-failed\" n)\n"
      "  (report \"bad-dirty\" (car (gimp-image-is-dirty img)))\n"
      "  (report \"bad-images\" (n-images))\n"
      "  (save img d \"gimp-untouched.png\"))\n"
      /* Indexed: refused, nothing changed. */
      "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE "
      "FALSE \"\")\n"
      "  (gimp-image-clean-all img)\n"
      "  (report \"indexed-fails\" (if (fails? (lambda () (denoise img d \"test-box\" 0 1))) 1 0))\n"
      "  (report \"indexed-dirty\" (car (gimp-image-is-dirty img))))\n"
#ifdef AENET_GIMP3
      /* Two layers selected: each is denoised (the copy, on top, hides the original
       * until it is removed; flattened copies are saved, without alpha). */
      "(define (save-flat img name) (let ((dup (car (gimp-image-duplicate img)))) "
      "  (gimp-image-flatten dup) (save dup 0 name)))\n"
      "(let* ((img (open \"noisy.png\")) (d (layer img)) (d2 (car (gimp-layer-copy d))))\n"
      "  (gimp-image-insert-layer img d2 0 0)\n"
      "  (plug-in-aenet-denoise RUN-NONINTERACTIVE img (vector d d2) \"test-box\" 0 1.0)\n"
      "  (save-flat img \"gimp-multi-2.png\")\n"
      "  (gimp-image-remove-layer img d2)\n"
      "  (save-flat img \"gimp-multi-1.png\"))\n"
#endif
      "@PROFILE@"
      "(report \"done\" 1)\n";

/* A wide-gamut profile (Adobe RGB (1998), from Ghostscript's package) that the
 * profile check assigns to the image; without it the check is skipped. */
#define WIDE_PROFILE "/usr/share/color/icc/ghostscript/a98.icc"

/* The profile check: the profile assigned (the pixels' values kept), then
 * denoised; the plug-in must process the values as they are, as the
 * command does with the file's. */
static const char profile_script[]
    = "(let* ((img (open \"noisy.png\")) (d (layer img)))\n"
      "  (assign-profile img \"" WIDE_PROFILE "\")\n"
      "  (denoise img d \"test-box\" 0 1.0)\n"
      "  (save img d \"gimp-profile.png\"))\n";

/* Makes GIMP's settings folder, whose plug-in path starts with the build
 * tree's plug-in. */
static void
setup_gimp(void)
{
  char *gimpdir = tpath("gimp"), *plugdir = tpath("plug-ins/aenet");
  char *link = g_build_filename(plugdir, "aenet", NULL);
  char *gimprc = g_build_filename(gimpdir, "gimprc", NULL);
  char *abs_plugin = g_canonicalize_filename(plugin_exe, NULL);
  GError *error = NULL;

  g_assert_cmpint(g_mkdir_with_parents(gimpdir, 0700), ==, 0);
  g_assert_cmpint(g_mkdir_with_parents(plugdir, 0700), ==, 0);
  /* GIMP looks for plug-ins/<name>/<name>. */
  g_assert_cmpint(symlink(abs_plugin, link), ==, 0);
  char *rc = g_strdup_printf("(plug-in-path \"%s/plug-ins:${gimp_plug_in_dir}/plug-ins\")\n", tmp);
  g_assert_true(g_file_set_contents(gimprc, rc, -1, &error));
  g_assert_no_error(error);
  g_free(rc);
  g_free(abs_plugin);
  g_free(gimprc);
  g_free(link);
  g_free(plugdir);
  g_free(gimpdir);
}

/* The environment GIMP runs in: the test's settings and models (then the
 * shipped ones), no display. */
static char **
gimp_environ(void)
{
  char *gimpdir = tpath("gimp"), *models = model_path();
  char **env = g_get_environ();
  env = g_environ_setenv(env, "HOME", tmp, TRUE);
  env = g_environ_setenv(env, GIMP_DIR_VARIABLE, gimpdir, TRUE);
  env = g_environ_setenv(env, "AENET_MODEL_PATH", models, TRUE);
  env = g_environ_setenv(env, "AENET_DEBUG_JOB", "1", TRUE);
  env = g_environ_setenv(env, "LANGUAGE", "C", TRUE);
  env = g_environ_setenv(env, "LC_ALL", "C.UTF-8", TRUE);
  env = g_environ_unsetenv(env, "DISPLAY");
  env = g_environ_unsetenv(env, "GEGL_CACHE_SIZE");
  g_free(gimpdir);
  g_free(models);
  return env;
}

/* Reads the "REPORT key=value" lines GIMP printed into report. */
static void
parse_report(const char *text)
{
  char **lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    char *r = strstr(*l, "REPORT "), *eq;
    if (r && (eq = strchr(r, '=')))
      g_hash_table_insert(report, g_strndup(r + 7, eq - r - 7), g_strdup(eq + 1));
  }
  g_strfreev(lines);
}

#define GIMP_ARGV_MAX 16

/* Fills ARGV with the command line that runs GIMP headless on SCRIPT, then on
 * LAST_CALL if given: a separate -b, so its error cannot abort SCRIPT. */
static void
gimp_batch_argv(const char *argv[GIMP_ARGV_MAX], const char *script, const char *last_call)
{
  int n = 0;
#ifdef AENET_GIMP3
  /* As GIMP 3's batch mode is documented to run: on a virtual display. */
  argv[n++] = "xvfb-run";
  argv[n++] = "-a";
  argv[n++] = GIMP_PROGRAM;
  argv[n++] = "-i";
  argv[n++] = "--quit";
#else
  argv[n++] = GIMP_PROGRAM;
  argv[n++] = "-i";
  argv[n++] = "-d";
  argv[n++] = "-f";
#endif
  argv[n++] = "--batch-interpreter";
  argv[n++] = "plug-in-script-fu-eval";
  argv[n++] = "-b";
  argv[n++] = script;
  if (last_call) {
    argv[n++] = "-b";
    argv[n++] = last_call;
  }
  argv[n++] = "-b";
  argv[n++] = "(gimp-quit 0)";
  argv[n] = NULL;
}

/* Runs GIMP once with the script, then a last call whose error message
 * must reach the caller. */
static void
run_gimp(void)
{
  GError *error = NULL;
  char **profiled = g_strsplit(script, "@PROFILE@", -1);
  char *with_profile
      = g_strjoinv(g_file_test(WIDE_PROFILE, G_FILE_TEST_EXISTS) ? profile_script : "", profiled);
  char *text = g_strconcat(prelude, with_profile, NULL);
  g_strfreev(profiled);
  g_free(with_profile);
  char **parts = g_strsplit(text, "@T@", -1);
  char *joined = g_strjoinv(tmp, parts);
  char *size = g_strdup_printf("%zu", sizeof(AenetValues));
  char **sized = g_strsplit(joined, "@SIZE@", -1);
  char *body = g_strjoinv(size, sized);
  g_strfreev(sized);
  g_free(size);
  g_free(joined);
  char **env = gimp_environ();
  const char *argv[GIMP_ARGV_MAX];
  gimp_batch_argv(argv, body, LAST_CALL);
  int status;
  char *out = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                             &gimp_stderr, &status, &error));
  g_assert_no_error(error);
  if (g_test_verbose())
    g_printerr("%s%s", out, gimp_stderr);

  /* GIMP 3 prints messages on stdout or stderr; both are read. */
  parse_report(out);
  parse_report(gimp_stderr);
  if (!g_hash_table_lookup(report, "done"))
    g_error("The GIMP script did not finish; GIMP printed:\n%s%s", out, gimp_stderr);

  g_free(text);
  g_strfreev(env);
  g_strfreev(parts);
  g_free(out);
  g_free(body);
}

/* ---- large layers: the plug-in's memory ---- */

/* Layer sizes of the large-layer run; its time and peak memory are checked
 * for each. */
static const int large_sizes[][2] = { { 4000, 3000 }, { 8000, 6000 } };
#define N_LARGE G_N_ELEMENTS(large_sizes)

/* One run of the plug-in (one process), as seen in /proc. */
typedef struct {
  int pid;
  gint64 first_seen, last_seen; /* g_get_monotonic_time(), µs */
  gsize peak;                   /* VmHWM, bytes */
} PluginRun;

static PluginRun large_runs[8];
static int n_large_runs;

/* Looks for running plug-in processes of this GIMP (-run, not GIMP's -query
 * at start) and records their peak resident memory (VmHWM: the kernel's high-water
 * mark, so polling misses nothing but the last moments). */
static void
poll_plugin(const char *exe, GPid gimp)
{
  GDir *dir = g_dir_open("/proc", 0, NULL);
  const char *name;

  if (!dir)
    return;
  while ((name = g_dir_read_name(dir))) {
    if (!g_ascii_isdigit(*name))
      continue;
    char *p = g_strdup_printf("/proc/%s/exe", name);
    char *target = g_file_read_link(p, NULL);
    g_free(p);
    if (!target || strcmp(target, exe) != 0) {
      g_free(target);
      continue;
    }
    g_free(target);
    char *cmdline = NULL, *status = NULL;
    gsize len = 0;
    p = g_strdup_printf("/proc/%s/cmdline", name);
    gboolean ok = g_file_get_contents(p, &cmdline, &len, NULL);
    g_free(p);
    gboolean run = FALSE;
    for (gsize i = 0; ok && i < len; i += strlen(cmdline + i) + 1)
      run |= strcmp(cmdline + i, "-run") == 0;
    g_free(cmdline);
    /* The parent: the fourth field of stat, after the name in parentheses. */
    p = g_strdup_printf("/proc/%s/stat", name);
    if (run && g_file_get_contents(p, &status, NULL, NULL)) {
      const char *paren = strrchr(status, ')');
      int ppid = 0;
      run = paren && sscanf(paren + 1, " %*c %d", &ppid) == 1 && ppid == gimp;
      g_clear_pointer(&status, g_free);
    }
    g_free(p);
    p = g_strdup_printf("/proc/%s/status", name);
    if (run && g_file_get_contents(p, &status, NULL, NULL)) {
      const char *hwm = strstr(status, "VmHWM:");
      int pid = atoi(name), i;
      for (i = 0; i < n_large_runs && large_runs[i].pid != pid; i++)
        ;
      if (hwm && i < (int)G_N_ELEMENTS(large_runs)) {
        if (i == n_large_runs) {
          large_runs[n_large_runs++] = (PluginRun){ pid, g_get_monotonic_time(), 0, 0 };
        }
        large_runs[i].last_seen = g_get_monotonic_time();
        large_runs[i].peak
            = MAX(large_runs[i].peak, (gsize)g_ascii_strtoull(hwm + 6, NULL, 10) << 10);
      }
    }
    g_free(status);
    g_free(p);
  }
  g_dir_close(dir);
}

/* Denoises layers of large_sizes (white with a black square, whose corner
 * the box filter must change), one after the other, while watching the plug-in's processes. */
static void
run_gimp_large(void)
{
  GString *body = g_string_new("(define (report k v) (gimp-message (string-append \"REPORT \" k "
                               "\"=\" (number->string v))))\n");
  for (guint i = 0; i < N_LARGE; i++) {
    int w = large_sizes[i][0], h = large_sizes[i][1];
    g_string_append_printf(
        body,
        "(let* ((img (car (gimp-image-new %d %d RGB))) "
        "       (l (car (gimp-layer-new img %d %d RGB-IMAGE \"bg\" 100 LAYER-MODE-NORMAL))) "
        "       (x %d) (y %d))\n"
        "  (gimp-image-insert-layer img l 0 0)\n"
        "  (gimp-drawable-fill l FILL-WHITE)\n"
        "  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE x y 1000 1000)\n"
        "  (gimp-drawable-edit-fill l FILL-FOREGROUND)\n"
        "  (gimp-selection-none img)\n"
        "  (let ((before (vector->list (cadr (gimp-drawable-get-pixel l x y)))))\n"
        "    (plug-in-aenet-denoise RUN-NONINTERACTIVE img l \"test-box\" 0 1.0)\n"
        "    (report \"large-changed-%u\" (if (equal? before "
        "      (vector->list (cadr (gimp-drawable-get-pixel l x y)))) 0 1)))\n"
        "  (gimp-image-delete img))\n",
        w, h, w, h, w / 2 + 37, h / 2 + 21, i);
  }
  g_string_append(body, "(gimp-message \"REPORT large-done=1\")\n");

  char *log = tpath("gimp-large.log");
  char *exe = g_canonicalize_filename(plugin_exe, NULL);
  char **env = gimp_environ();
  const char *argv[GIMP_ARGV_MAX];
  gimp_batch_argv(argv, body->str, NULL);
  GError *error = NULL;
  GPid pid;
  int fd = g_open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600), status;

  g_assert_cmpint(fd, >=, 0);
  g_assert_true(g_spawn_async_with_fds(NULL, (char **)argv, env,
                                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &pid, -1, fd, fd, &error));
  g_assert_no_error(error);
  close(fd);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    poll_plugin(exe, pid);
    g_usleep(20000);
  }
  g_spawn_close_pid(pid);

  char *text = NULL;
  g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
  if (g_test_verbose())
    g_printerr("%s", text);
  parse_report(text);
  if (!g_hash_table_lookup(report, "large-done"))
    g_error("The large-layer GIMP script did not finish; GIMP printed:\n%s", text);
  g_free(text);
  g_strfreev(env);
  g_free(exe);
  g_free(log);
  g_string_free(body, TRUE);
}

static int
rep(const char *key)
{
  const char *v = g_hash_table_lookup(report, key);
  if (!v)
    g_error("The GIMP script reported no %s", key);
  return atoi(v);
}

static void
test_denoise_closer(void)
{
  AenetImage *clean = load("clean.png"), *noisy = load("noisy.png"),
             *out = load("gimp-denoise.png");
  double before = rmse(noisy, clean), after = rmse(out, clean);
  g_test_message("RMSE to clean: %.4f before, %.4f after", before, after);
  g_assert_cmpfloat(after, <, 0.6 * before);
  aenet_image_free(clean);
  aenet_image_free(noisy);
  aenet_image_free(out);
}

static void
test_denoise_cli(void)
{
  run_cli("denoise", "test-box", "noisy.png", "cli-denoise.png");
  AenetImage *cli = load("cli-denoise.png"), *out = load("gimp-denoise.png");
  g_assert_cmpfloat(max_diff(cli, out), <=, 1.0 / 255 + 1e-6);
  aenet_image_free(cli);
  aenet_image_free(out);
}

/* A real photo (PolyU: a Canon EOS 5D Mark II JPEG at ISO 6400) through
 * GIMP with every setting automatic comes out closer to the mean of many
 * shots of the same scene. */
static void
test_real_photo(void)
{
  if (!have_polyu) {
    g_test_skip("the PolyU photos are not in the shared data");
    return;
  }
  AenetImage *ref = load("polyu-mean.jpg"), *in = load("polyu-real.jpg"),
             *out = load("gimp-polyu.png");
  double before = -20 * log10(rmse(in, ref)), after = -20 * log10(rmse(out, ref));
  g_test_message("PolyU %s: %.2f dB as the camera wrote it, %.2f dB through GIMP", POLYU_PHOTO,
                 before, after);
  g_assert_cmpfloat(after, >=, before + 0.5);
  aenet_image_free(ref);
  aenet_image_free(in);
  aenet_image_free(out);
}

/* An image with a wide-gamut profile: its values are denoised as they
 * are (not converted to sRGB and back), as the command does. */
static void
test_denoise_profile(void)
{
  if (!g_file_test(WIDE_PROFILE, G_FILE_TEST_EXISTS)) {
    g_test_skip(WIDE_PROFILE " is not installed");
    return;
  }
  AenetImage *same = load("gimp-denoise.png"), *out = load("gimp-profile.png");
  double d = max_diff(same, out);
  g_test_message("wide-gamut profile: largest difference to the sRGB run %.2f/255", d * 255);
  g_assert_cmpfloat(d, <=, 1.0 / 255 + 1e-6);
  aenet_image_free(same);
  aenet_image_free(out);
}

/* The noise level the plug-in's job used for the photo (the first run with
 * a shipped model, not the test's), from its AENET_DEBUG_JOB line. */
static double
gimp_photo_level(char **model_name)
{
  char **lines = g_strsplit(gimp_stderr, "\n", -1);
  double level = -1;
  for (char **l = lines; *l && level < 0; l++) { /* the first: photo.png's run */
    const char *m = strstr(*l, "aenet job: model="), *n;
    if (!m || g_str_has_prefix(m + 17, "test-") || !(n = strstr(m, "noise-level=")))
      continue;
    level = g_ascii_strtod(n + 12, NULL);
    /* A blind photo model takes no level: what it removed is shown. */
    if (level < 0 && (n = strstr(m, "removed=")) != NULL)
      level = g_ascii_strtod(n + 8, NULL);
    *model_name = g_strndup(m + 17, strcspn(m + 17, " "));
  }
  g_strfreev(lines);
  return level;
}

/* The command and GIMP on the same photo with everything automatic: the
 * same noise level (within 0.1) and the same pixels (within 1/255). */
static void
test_photo_same_as_cli(void)
{
  char *fin = tpath("photo.png"), *fout = tpath("cli-photo.png"), *out = NULL, *err = NULL;
  const char *argv[] = { aenet_exe, "denoise", fin, fout, NULL };
  char *models = model_path();
  char **env = g_environ_setenv(g_get_environ(), "AENET_MODEL_PATH", models, TRUE);
  GError *error = NULL;
  int status;
  g_assert_true(
      g_spawn_sync(NULL, (char **)argv, env, 0, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error(error);
  if (!g_spawn_check_wait_status(status, NULL))
    g_error("aenet denoise photo.png failed: %s", err);
  const char *s = strstr(out, "sigma ");
  g_assert_nonnull(s);
  double cli_level = g_ascii_strtod(s + 6, NULL);
  char *model = NULL;
  double gimp_level = gimp_photo_level(&model);
  g_test_message("automatic noise level: command %.1f, GIMP %.3f (%s)", cli_level, gimp_level,
                 model);
  g_assert_cmpfloat(gimp_level, >, 0);
  g_assert_cmpfloat(fabs(cli_level - gimp_level), <=, 0.1);

  AenetImage *cli = load("cli-photo.png"), *gimp = load("gimp-photo.png"), *in = load("photo.png");
  double d = max_diff(cli, gimp);
  g_test_message("largest difference command - GIMP: %.2f/255", d * 255);
  g_assert_cmpfloat(d, <=, 1.0 / 255 + 1e-6);
  g_assert_cmpfloat(max_diff(in, gimp), >, 2.0 / 255); /* it did denoise */
  aenet_image_free(cli);
  aenet_image_free(gimp);
  aenet_image_free(in);
  g_free(model);
  g_strfreev(env);
  g_free(models);
  g_free(out);
  g_free(err);
  g_free(fin);
  g_free(fout);
}

/* The working memory and passes saved with the plug-in's values reach the
 * job on Filters > Repeat (RUN-WITH-LAST-VALS). */
static void
test_last_values_memory(void)
{
  g_assert_cmpint(rep("last-vals-done"), ==, 1);
  g_assert_nonnull(strstr(gimp_stderr, "aenet job: model=test-box"));
  g_assert_nonnull(strstr(gimp_stderr, "memory=512 passes=2\n"));
}

static void
test_denoise_strength(void)
{
  AenetImage *noisy = load("noisy.png"), *full = load("gimp-denoise.png"),
             *half = load("gimp-half.png");
  float *pn = pixels(noisy), *pf = pixels(full), *ph = pixels(half);
  double m = 0;
  for (gsize i = 0; i < (gsize)W * H * 3; i++)
    m = MAX(m, fabs(ph[i] - 0.5 * (pn[i] + pf[i])));
  g_assert_cmpfloat(m, <=, 1.0 / 255 + 1e-6);
  g_assert_cmpfloat(max_diff(half, noisy), >, 2.0 / 255);
  g_free(pn);
  g_free(pf);
  g_free(ph);
  aenet_image_free(noisy);
  aenet_image_free(full);
  aenet_image_free(half);
}

static void
test_denoise_selection(void)
{
  AenetImage *noisy = load("noisy.png"), *full = load("gimp-denoise.png"),
             *sel = load("gimp-selection.png");
  /* Outside: untouched; inside: as the whole-image run (context is used). */
  g_assert_cmpfloat(max_diff_rect(sel, noisy, 16, 16, 24, 16, FALSE), ==, 0.0);
  g_assert_cmpfloat(max_diff_rect(sel, full, 16, 16, 24, 16, TRUE), <=, 1.0 / 255 + 1e-6);
  g_assert_cmpfloat(max_diff_rect(sel, noisy, 16, 16, 24, 16, TRUE), >, 2.0 / 255);
  g_assert_cmpint(rep("empty-intersect-fails"), ==, 1);
  aenet_image_free(noisy);
  aenet_image_free(full);
  aenet_image_free(sel);
}

static void
test_denoise_gray(void)
{
  run_cli("denoise", "test-box", "gray.png", "cli-gray.png");
  AenetImage *cli = load("cli-gray.png"), *out = load("gimp-gray.png"), *in = load("gray.png");
  g_assert_cmpint(out->n_channels, ==, 1);
  g_assert_cmpfloat(max_diff(cli, out), <=, 1.0 / 255 + 1e-6);
  g_assert_cmpfloat(max_diff(in, out), >, 2.0 / 255);
  aenet_image_free(cli);
  aenet_image_free(out);
  aenet_image_free(in);
}

/* Whether some 16-bit sample is not an 8-bit value widened (v = 257 k). */
static gboolean
has_more_than_8_bits(const AenetImage *im)
{
  g_assert_cmpint(im->bit_depth, ==, 16);
  for (int y = 0; y < im->height; y++) {
    const guint16 *row = (const guint16 *)(im->data + y * im->stride);
    for (int i = 0; i < im->width * im->n_channels; i++)
      if (row[i] % 257 != 0)
        return TRUE;
  }
  return FALSE;
}

static void
test_sixteen_bit(void)
{
  AenetImage *d16 = load("gimp-d16.png"), *d8 = load("gimp-denoise.png"),
             *u16 = load("gimp-u16.png");
  g_assert_cmpint(d16->bit_depth, ==, 16);
  g_assert_true(has_more_than_8_bits(d16));
  g_assert_cmpfloat(max_diff(d16, d8), <=, 1.0 / 255 + 1e-6);
  g_assert_cmpint(rep("u16-precision"), ==, 250);     /* GIMP_PRECISION_U16_GAMMA */
  g_assert_cmpint(rep("denoise-precision"), ==, 150); /* stays U8 gamma */
  /* Nearest-neighbour ×2 keeps every 16-bit sample exactly. */
  g_assert_cmpint(u16->bit_depth, ==, 16);
  g_assert_cmpint(u16->width, ==, 2 * W);
  float *a = pixels(d16), *b = pixels(u16);
  for (int y = 0; y < 2 * H; y++)
    for (int x = 0; x < 2 * W; x++)
      for (int c = 0; c < 3; c++)
        g_assert_cmpfloat(
            fabs(b[((gsize)y * 2 * W + x) * 3 + c] - a[((gsize)(y / 2) * W + x / 2) * 3 + c]), <=,
            1.0 / 65535);
  g_free(a);
  g_free(b);
  aenet_image_free(d16);
  aenet_image_free(d8);
  aenet_image_free(u16);
}

static void
test_upscale_new_image(void)
{
  g_assert_cmpint(rep("new-width"), ==, 2 * W);
  g_assert_cmpint(rep("new-height"), ==, 2 * H);
  g_assert_cmpint(rep("old-width"), ==, W);
  run_cli("upscale", "test-up2", "noisy.png", "cli-up.png");
  AenetImage *cli = load("cli-up.png"), *out = load("gimp-up-new.png");
  g_assert_cmpint(out->width, ==, 2 * W);
  g_assert_cmpfloat(max_diff(cli, out), <=, 1.0 / 255 + 1e-6);
  aenet_image_free(cli);
  aenet_image_free(out);
}

static void
test_upscale_in_place(void)
{
  const int w = 40, h = 30;
  g_assert_cmpint(rep("inplace-layers"), ==, 1);
  g_assert_cmpint(rep("inplace-layer-width"), ==, 2 * w);
  g_assert_cmpint(rep("inplace-layer-height"), ==, 2 * h);
  g_assert_cmpint(rep("inplace-offx"), ==, 3);
  g_assert_cmpint(rep("inplace-offy"), ==, 5);
  g_assert_cmpint(rep("inplace-image-width"), ==, 2 * w + 3);
  g_assert_cmpint(rep("inplace-image-height"), ==, 2 * h + 5);
  run_cli("upscale", "test-up2", "alpha.png", "cli-alpha.png");
  AenetImage *cli = load("cli-alpha.png"), *out = load("gimp-up-inplace.png");
  g_assert_cmpint(out->n_channels, ==, 4);
  g_assert_cmpfloat(max_diff(cli, out), <=, 1.0 / 255 + 1e-6);
  /* Alpha away from its edge is the original's. */
  float *p = pixels(out);
  for (int y = 0; y < 2 * h; y++) {
    g_assert_cmpfloat(fabs(p[((gsize)y * 2 * w + 4) * 4 + 3] - 1.0f), <=, 1e-6);
    g_assert_cmpfloat(fabs(p[((gsize)y * 2 * w + 2 * w - 4) * 4 + 3] - 128.0f / 255), <=, 1e-6);
  }
  g_free(p);
  aenet_image_free(cli);
  aenet_image_free(out);
}

static void
test_upscale_new_layer(void)
{
  g_assert_cmpint(rep("newlayer-image"), ==, -1);
  g_assert_cmpint(rep("newlayer-layers"), ==, 2);
  g_assert_cmpint(rep("newlayer-width"), ==, 2 * W);
  g_assert_cmpint(rep("newlayer-canvas"), ==, W);
}

static void
test_bad_calls(void)
{
  g_assert_cmpint(rep("bad-calls-failed"), ==, 8);
  g_assert_cmpint(rep("bad-dirty"), ==, 0);
  g_assert_cmpint(rep("indexed-fails"), ==, 1);
  g_assert_cmpint(rep("indexed-dirty"), ==, 0);
  AenetImage *noisy = load("noisy.png"), *out = load("gimp-untouched.png");
  g_assert_cmpfloat(max_diff(noisy, out), ==, 0.0);
  aenet_image_free(noisy);
  aenet_image_free(out);
  /* The message reaches the caller, in words. */
  g_assert_nonnull(strstr(gimp_stderr, LAST_MESSAGE));
}

/* The layer is processed tile by tile: the plug-in's memory stays near the
 * engine's budget and does not grow with the layer. */
static void
test_large_layer_memory(void)
{
  const gsize budget = AENET_DEFAULT_MEMORY_BUDGET, slack = 48u << 20;
  /* Libraries, OpenBLAS's buffers and GEGL's tile cache on top of it. */
  const gsize bound = budget + (192u << 20);

  g_assert_cmpint(n_large_runs, ==, N_LARGE);
  for (guint i = 0; i < N_LARGE; i++) {
    char *key = g_strdup_printf("large-changed-%u", i);
    g_assert_cmpint(rep(key), ==, 1);
    g_free(key);
    g_test_message("%d x %d (%.0f MP): plug-in ran %.1f s, peak RSS %zu MiB", large_sizes[i][0],
                   large_sizes[i][1], large_sizes[i][0] * (double)large_sizes[i][1] / 1e6,
                   (large_runs[i].last_seen - large_runs[i].first_seen) / 1e6,
                   large_runs[i].peak >> 20);
    g_assert_cmpuint(large_runs[i].peak, <=, bound);
  }
  /* Four times the pixels, (nearly) the same memory. */
  g_assert_cmpuint(large_runs[N_LARGE - 1].peak, <=, large_runs[0].peak + slack);
}

static double
psnr(const AenetImage *a, const AenetImage *b)
{
  return 20 * log10(1.0 / rmse(a, b));
}

/* The shipped models through the plug-in: the noise-level denoiser
 * (level estimated) brings the noisy image closer to the clean one, and the ×2 upscaler
 * gives what the aenet command gives. */
static void
test_shipped_models(void)
{
  AenetImage *clean = load("clean.png"), *noisy = load("noisy.png"),
             *out = load("gimp-shipped-denoise.png");
  double before = psnr(noisy, clean), after = psnr(out, clean);
  g_test_message("shipped denoiser: PSNR %.2f dB before, %.2f dB after", before, after);
  g_assert_cmpfloat(after, >, before + 3.0);
  aenet_image_free(clean);
  aenet_image_free(noisy);
  aenet_image_free(out);

  run_cli("upscale", "upscale-x2", "alpha.png", "cli-shipped-up2.png");
  AenetImage *cli = load("cli-shipped-up2.png"), *up = load("gimp-shipped-up2.png");
  g_assert_cmpint(up->width, ==, 80);
  g_assert_cmpfloat(max_diff(cli, up), <=, 1.0 / 255 + 1e-6);
  aenet_image_free(cli);
  aenet_image_free(up);
}

/* A JPEG enlarged with the default: the plug-in, like the
 * command, finds the JPEG and uses the JPEG upscaler, whose result
 * differs from the clean upscaler's. The command gets the pixels GIMP
 * decoded (saved as a PNG, which keeps the JPEG's trace): decoders round
 * differently. */
static void
test_jpeg_upscale(void)
{
  run_cli("upscale", "upscale-x2-photo", "gimp-jpeg-in.png", "cli-jpeg-up2.png");
  run_cli("upscale", "upscale-x2", "gimp-jpeg-in.png", "cli-clean-up2.png");
  AenetImage *gimp = load("gimp-jpeg-up2.png"), *jpeg = load("cli-jpeg-up2.png"),
             *clean = load("cli-clean-up2.png");
  g_assert_cmpint(gimp->width, ==, 2 * 600);
  double d_jpeg = max_diff(gimp, jpeg), d_clean = max_diff(gimp, clean);
  g_test_message("JPEG upscaled in GIMP: largest difference %.2f/255 to the command's JPEG "
                 "upscaler, %.2f/255 to its clean one",
                 d_jpeg * 255, d_clean * 255);
  g_assert_cmpfloat(d_jpeg, <=, 1.0 / 255 + 1e-6);
  g_assert_cmpfloat(d_clean, >, 4.0 / 255);
  aenet_image_free(gimp);
  aenet_image_free(jpeg);
  aenet_image_free(clean);
}

/* A strongly compressed JPEG denoised with everything automatic: the
 * plug-in, like the command, uses the denoiser of such JPEGs, whose result
 * differs from the photo model's, and is closer to the photo. */
static void
test_jpeg_denoise(void)
{
  run_cli("denoise", "denoise-jpeg", "gimp-jpeg30-in.png", "cli-jpeg30-jpeg.png");
  run_cli("denoise", "denoise-photo", "gimp-jpeg30-in.png", "cli-jpeg30-photo.png");
  AenetImage *gimp = load("gimp-jpeg30-denoise.png"), *jpeg = load("cli-jpeg30-jpeg.png"),
             *photo = load("cli-jpeg30-photo.png"), *in = load("gimp-jpeg30-in.png");
  char *clean_path = g_build_filename(source_root, "docs", "samples", "coffee.png", NULL);
  GError *error = NULL;
  AenetImage *clean = aenet_image_load(clean_path, &error);
  g_assert_no_error(error);
  double d_jpeg = max_diff(gimp, jpeg), d_photo = max_diff(gimp, photo);
  double before = psnr(clean, in), after = psnr(clean, gimp);
  g_test_message("JPEG q30 denoised in GIMP: largest difference %.2f/255 to the command's JPEG "
                 "denoiser, %.2f/255 to its photo model; PSNR %.2f dB before, %.2f after",
                 d_jpeg * 255, d_photo * 255, before, after);
  g_assert_cmpfloat(d_jpeg, <=, 1.0 / 255 + 1e-6);
  g_assert_cmpfloat(d_photo, >, 4.0 / 255);
  g_assert_cmpfloat(after, >, before + 0.5);
  aenet_image_free(gimp), aenet_image_free(jpeg), aenet_image_free(photo);
  aenet_image_free(in), aenet_image_free(clean);
  g_free(clean_path);
}

/* The results GIMP 2.10 and GIMP 3 must agree on: GIMP 2.10's test copies
 * its results to AENET_GIMP2_RESULTS, GIMP 3's compares with them. */
static const char *const compared[]
    = { "gimp-denoise.png",   "gimp-half.png",  "gimp-shipped-denoise.png",
        "gimp-shipped-up2.png", "gimp-selection.png", "gimp-gray.png",
        "gimp-d16.png",       "gimp-u16.png",   "gimp-up-new.png",
        "gimp-up-inplace.png", "gimp-photo.png", "gimp-jpeg-up2.png",
        "gimp-jpeg30-denoise.png" };

static void
keep_results(const char *dir)
{
  g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS(compared); i++) {
    char *from = tpath(compared[i]), *to = g_build_filename(dir, compared[i], NULL), *data = NULL;
    gsize len;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(from, &data, &len, &error));
    g_assert_true(g_file_set_contents(to, data, len, &error));
    g_assert_no_error(error);
    g_free(data);
    g_free(from);
    g_free(to);
  }
}

static void
test_matches_gimp2(void)
{
  const char *dir = g_getenv("AENET_GIMP2_RESULTS");
  GError *error = NULL;

  if (!dir) {
    g_test_skip("AENET_GIMP2_RESULTS is not set (.ci/run sets it)");
    return;
  }
  for (guint i = 0; i < G_N_ELEMENTS(compared); i++) {
    char *file = g_build_filename(dir, compared[i], NULL);
    AenetImage *ref = aenet_image_load(file, &error), *out = load(compared[i]);
    if (!ref)
      g_error("GIMP 2.10's result %s: %s", file, error->message);
    g_assert_cmpint(ref->bit_depth, ==, out->bit_depth);
    double d = max_diff(ref, out);
    g_test_message("%s: largest difference to GIMP 2.10 %.2f/255", compared[i], d * 255);
    g_assert_cmpfloat(d, <=, 1.0 / 255 + 1e-6);
    aenet_image_free(ref);
    aenet_image_free(out);
    g_free(file);
  }
}

/* GIMP 3: each selected layer is denoised, as one alone would be. */
static void
test_multiple_layers(void)
{
  AenetImage *one = load("gimp-denoise.png");
  for (int i = 1; i <= 2; i++) {
    char *name = g_strdup_printf("gimp-multi-%d.png", i);
    AenetImage *out = load(name);
    g_assert_cmpfloat(max_diff(one, out), <=, 1.0 / 255 + 1e-6);
    aenet_image_free(out);
    g_free(name);
  }
  aenet_image_free(one);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  if (argc < 4)
    g_error("usage: test-gimp PLUGIN AENET SOURCE-ROOT");
  plugin_exe = argv[1];
  aenet_exe = argv[2];
  source_root = argv[3];
#ifdef AENET_GIMP3
  const gboolean gimp3 = TRUE;
#else
  const gboolean gimp3 = FALSE;
#endif
  if (!g_find_program_in_path(GIMP_PROGRAM)) {
    g_print("1..0 # SKIP GIMP is not installed\n");
    return 0;
  }

  GError *error = NULL;
  tmp = g_dir_make_tmp("aenet-gimp-XXXXXX", &error);
  g_assert_no_error(error);
  char *models = tpath("models");
  g_assert_cmpint(g_mkdir_with_parents(models, 0700), ==, 0);
  g_free(models);

  /* out[o] = mean of the 3×3 neighbourhood of channel o. */
  float box[3 * 3 * 9] = { 0 };
  for (int o = 0; o < 3; o++)
    for (int k = 0; k < 9; k++)
      box[(o * 3 + o) * 9 + k] = 1.0f / 9;
  save_model("denoise",
             "[{\"op\":\"input\",\"channels\":3},"
             "{\"op\":\"conv\",\"out\":3,\"k\":3,\"bias\":false}]",
             "test-box", box, G_N_ELEMENTS(box));
  /* Channel c to the 4 sub-pixels of c: nearest-neighbour ×2. */
  float up[12 * 3] = { 0 };
  for (int o = 0; o < 12; o++)
    up[o * 3 + o / 4] = 1.0f;
  save_model("upscale",
             "[{\"op\":\"input\",\"channels\":3},"
             "{\"op\":\"conv\",\"out\":12,\"k\":1,\"bias\":false},"
             "{\"op\":\"shuffle\",\"factor\":2}]",
             "test-up2", up, G_N_ELEMENTS(up));

  save_image("clean.png", W, H, 3, FALSE, FALSE);
  save_image("noisy.png", W, H, 3, TRUE, FALSE);
  save_image("gray.png", W, H, 1, TRUE, FALSE);
  save_image("alpha.png", 40, 30, 4, TRUE, TRUE);
  {
    char *photo = g_build_filename(source_root, "docs", "samples", "coffee-noisy.png", NULL);
    char *copy = tpath("photo.png"), *data = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(photo, &data, &len, NULL));
    g_assert_true(g_file_set_contents(copy, data, len, NULL));
    g_free(data);
    g_free(copy);
    g_free(photo);
  }
  /* A clean photo saved as JPEGs of quality 75, for the JPEG upscaler,
   * and 30, for the denoiser of strongly compressed JPEGs. */
  {
    char *photo = g_build_filename(source_root, "docs", "samples", "coffee.png", NULL);
    GError *error = NULL;
    AenetImage *image = aenet_image_load(photo, &error);
    g_assert_no_error(error);
    static const int qualities[] = { 30, 75 };
    for (guint i = 0; i < G_N_ELEMENTS(qualities); i++) {
      char *name = g_strdup_printf("coffee%d.jpg", qualities[i]), *copy = tpath(name);
      image->jpeg_quality = qualities[i];
      g_assert_true(aenet_image_save(image, copy, &error));
      g_assert_no_error(error);
      g_free(copy), g_free(name);
    }
    aenet_image_free(image);
    g_free(photo);
  }
  {
    /* The real photo and its reference; without the shared data, the
     * sample stands in so the script runs the same, and the test skips. */
    const char *data = g_getenv("AENET_SHARED_DATA");
    char *shared = data ? g_strdup(data) : g_build_filename(source_root, "..", "shared", "data", NULL);
    char *real = g_build_filename(shared, "real", "polyu-val", POLYU_PHOTO "_real.JPG", NULL);
    char *mean = g_build_filename(shared, "real", "polyu-val", POLYU_PHOTO "_mean.JPG", NULL);
    char *sample = g_build_filename(source_root, "docs", "samples", "coffee-noisy.png", NULL);
    have_polyu = g_file_test(real, G_FILE_TEST_EXISTS) && g_file_test(mean, G_FILE_TEST_EXISTS);
    const char *from[2] = { have_polyu ? real : sample, have_polyu ? mean : sample };
    const char *to[2] = { "polyu-real.jpg", "polyu-mean.jpg" };
    for (int i = 0; i < 2; i++) {
      char *copy = tpath(to[i]), *bytes = NULL;
      gsize len;
      g_assert_true(g_file_get_contents(from[i], &bytes, &len, NULL));
      g_assert_true(g_file_set_contents(copy, bytes, len, NULL));
      g_free(bytes);
      g_free(copy);
    }
    g_free(shared), g_free(real), g_free(mean), g_free(sample);
  }
  report = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  setup_gimp();
  run_gimp();
  /* GIMP 2.10 only: the memory check needs minutes, and the plug-ins
   * share the pixel path. */
  if (!gimp3)
    run_gimp_large();

  g_test_add_func("/gimp/denoise/closer-to-clean", test_denoise_closer);
  g_test_add_func("/gimp/denoise/matches-cli", test_denoise_cli);
  g_test_add_func("/gimp/denoise/photo-same-as-cli", test_photo_same_as_cli);
  g_test_add_func("/gimp/denoise/real-photo", test_real_photo);
  g_test_add_func("/gimp/denoise/profile", test_denoise_profile);
  if (!gimp3)
    g_test_add_func("/gimp/denoise/last-values-memory", test_last_values_memory);
  g_test_add_func("/gimp/denoise/strength", test_denoise_strength);
  g_test_add_func("/gimp/denoise/selection", test_denoise_selection);
  g_test_add_func("/gimp/denoise/gray", test_denoise_gray);
  g_test_add_func("/gimp/sixteen-bit", test_sixteen_bit);
  g_test_add_func("/gimp/upscale/new-image", test_upscale_new_image);
  g_test_add_func("/gimp/upscale/in-place", test_upscale_in_place);
  g_test_add_func("/gimp/upscale/new-layer", test_upscale_new_layer);
  g_test_add_func("/gimp/bad-calls", test_bad_calls);
  g_test_add_func("/gimp/shipped-models", test_shipped_models);
  g_test_add_func("/gimp/upscale/jpeg-uses-jpeg-upscaler", test_jpeg_upscale);
  g_test_add_func("/gimp/denoise/strong-jpeg-uses-jpeg-denoiser", test_jpeg_denoise);
  if (gimp3) {
    g_test_add_func("/gimp/denoise/multiple-layers", test_multiple_layers);
    g_test_add_func("/gimp/matches-gimp2", test_matches_gimp2);
  } else
    g_test_add_func("/gimp/large-layer/memory", test_large_layer_memory);
  int status = g_test_run();
  if (status == 0 && !gimp3 && g_getenv("AENET_GIMP2_RESULTS"))
    keep_results(g_getenv("AENET_GIMP2_RESULTS"));

  if (status == 0 && !g_getenv("AENET_KEEP_TMP")) {
    char *argv_rm[] = { "rm", "-rf", tmp, NULL };
    g_spawn_sync(NULL, argv_rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  } else
    g_printerr("test files kept in %s\n", tmp);
  g_hash_table_unref(report);
  g_free(gimp_stderr);
  g_free(tmp);
  return status;
}
