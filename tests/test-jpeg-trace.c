/* test-jpeg-trace.c — telling a decoded JPEG from a clean image
 * (jpeg-trace.h), with libjpeg's own compression (degrade.h): JPEGs of
 * qualities 20 to 90 found, with libjpeg's step, also after a crop off
 * the 8×8 grid and in gray; clean images, and JPEGs resized since, not
 * found. */
#include <math.h>
#include <string.h>

#include "degrade.h"
#include "imageio.h"
#include "error.h"
#include "jpeg-trace.h"
#include "testutil.h"

/* Low-resolution Set14 images: clean (bicubic downscales of photos). */
static const char *const images[]
    = { "test/set14/x2/img_001_SRF_2_LR.png", "test/set14/x2/img_005_SRF_2_LR.png",
        "test/set14/x2/img_010_SRF_2_LR.png" };

/* The image (3 channels; the gray test takes the first), or NULL when
 * the shared data is not there. */
static float *
load(int index, int *h, int *w)
{
  char *path = test_shared_data_path(images[index]);
  if (path == NULL)
    return NULL;
  int channels;
  GError *error = NULL;
  float *image = aenet_image_load_planar(path, &channels, w, h, &error);
  g_assert_no_error(error);
  g_assert_cmpint(channels, ==, 3);
  g_free(path);
  return image;
}

static double
trace_step(const float *image, int c, int h, int w, int *step)
{
  GError *error = NULL;
  double t = aenet_jpeg_trace(image, c, h, w, step, &error);
  g_assert_no_error(error);
  return t;
}

static double
trace(const float *image, int c, int h, int w)
{
  return trace_step(image, c, h, w, NULL);
}

/* libjpeg's step for the first horizontal frequency at a quality: its
 * base table's 11 scaled as jpeg_quality_scaling does. */
static int
libjpeg_step(int quality)
{
  int scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  return CLAMP((11 * scale + 50) / 100, 1, 255);
}

static void
test_found(gconstpointer data)
{
  int c = GPOINTER_TO_INT(data);
  for (guint n = 0; n < G_N_ELEMENTS(images); n++) {
    int h, w;
    float *clean = load(n, &h, &w);
    if (clean == NULL) {
      g_test_skip("no shared data");
      return;
    }
    float *jpeg = g_new(float, (gsize)c *h *w);
    int step;
    g_assert_cmpfloat(trace_step(clean, c, h, w, &step), <, 0.3);
    g_assert_cmpint(step, ==, 0);
    static const int qualities[] = { 20, 30, 50, 60, 75, 90 };
    for (guint i = 0; i < G_N_ELEMENTS(qualities); i++) {
      memcpy(jpeg, clean, (gsize)c * h * w * sizeof(float));
      GError *error = NULL;
      g_assert_true(aenet_degrade_jpeg(jpeg, c, h, w, qualities[i], &error));
      g_assert_no_error(error);
      int step;
      double t = trace_step(jpeg, c, h, w, &step);
      g_test_message("%s, quality %d, %d channel(s): %.3f, step %d", images[n], qualities[i], c,
                     t, step);
      g_assert_cmpfloat(t, >, 0.7);
      g_assert_cmpint(step, ==, libjpeg_step(qualities[i]));
      /* Cropped 3 columns and 5 rows off the grid. */
      int ch = h - 5, cw = w - 3;
      float *crop = g_new(float, (gsize)c *ch *cw);
      for (int k = 0; k < c; k++)
        for (int y = 0; y < ch; y++)
          memcpy(crop + ((gsize)k * ch + y) * cw, jpeg + ((gsize)k * h + y + 5) * w + 3,
                 cw * sizeof(float));
      g_assert_cmpfloat(trace_step(crop, c, ch, cw, &step), >, 0.7);
      g_assert_cmpint(step, ==, libjpeg_step(qualities[i]));
      g_free(crop);
      /* Halved after saving: the trace is gone (below quality 30 the
       * blocks themselves, halved, still look like JPEG's). */
      if (qualities[i] < 30)
        continue;
      float *half = g_new(float, (gsize)c *(h / 2) * (w / 2));
      float *scratch = g_new(float, aenet_degrade_downscale_scratch_size(c, h, w, 2));
      aenet_degrade_downscale(half, jpeg, scratch, c, h, w, 2);
      aenet_degrade_quantize(half, (gsize)c * (h / 2) * (w / 2), 255);
      g_assert_cmpfloat(trace(half, c, h / 2, w / 2), <, 0.3);
      g_free(half);
      g_free(scratch);
    }
    g_free(clean);
    g_free(jpeg);
  }
}

/* Too small to tell: 0; wrong arguments: an error. */
static void
test_limits(void)
{
  enum { H = 64, W = 64 };
  float *clean = g_new0(float, 3 * H * W);
  g_assert_cmpfloat(trace(clean, 3, 20, 20), ==, 0.0);
  GError *error = NULL;
  g_assert_cmpfloat(aenet_jpeg_trace(clean, 2, H, W, NULL, &error), <, -1);
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpfloat(aenet_jpeg_trace(NULL, 3, H, W, NULL, &error), <, -1);
  g_clear_error(&error);
  /* A saturated image has no unclipped block. */
  for (gsize i = 0; i < (gsize)3 * H * W; i++)
    clean[i] = 1.0f;
  g_assert_cmpfloat(trace(clean, 3, H, W), ==, 0.0);
  g_free(clean);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_data_func("/jpeg-trace/found-gray", GINT_TO_POINTER(1), test_found);
  g_test_add_data_func("/jpeg-trace/found-colour", GINT_TO_POINTER(3), test_found);
  g_test_add_func("/jpeg-trace/limits", test_limits);
  return g_test_run();
}
