/* test-imageio.c — PNG, JPEG and TIFF files: round trips, metadata,
 * float conversion and the errors a user sees for bad files.
 *
 * Every file is made by the test itself, in a temporary folder; some odd
 * layouts (palette PNG, tiled planar TIFF with premultiplied alpha) are
 * written with libpng/libtiff directly to check that they load. */
#include "error.h"
#include "imageio.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <jpeglib.h>
#include <string.h>
#include <tiffio.h>

static char *tmpdir;

static char *
tmp_path(const char *name)
{
  return g_build_filename(tmpdir, name, NULL);
}

/* A w × h image of random samples. */
static AenetImage *
random_image(int w, int h, int nc, int depth, guint64 seed)
{
  GError *error = NULL;
  AenetImage *image = aenet_image_new(w, h, nc, depth, &error);
  g_assert_no_error(error);
  AenetRng rng;
  aenet_rng_init(&rng, seed);
  for (gsize i = 0; i < image->stride * h; i++)
    image->data[i] = (guint8)aenet_rng_below(&rng, 256);
  return image;
}

/* A smooth image (JPEG-friendly): gradients plus a gentle wave. */
static AenetImage *
smooth_image(int w, int h, int nc)
{
  GError *error = NULL;
  AenetImage *image = aenet_image_new(w, h, nc, 8, &error);
  g_assert_no_error(error);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < nc; c++)
        image->data[(gsize)y * image->stride + (gsize)x * nc + c]
            = (guint8)(128 + 60 * sin(0.05 * x + c) + 50 * cos(0.07 * y));
  return image;
}

static void
assert_same_pixels(const AenetImage *a, const AenetImage *b)
{
  g_assert_cmpint(a->width, ==, b->width);
  g_assert_cmpint(a->height, ==, b->height);
  g_assert_cmpint(a->n_channels, ==, b->n_channels);
  g_assert_cmpint(a->bit_depth, ==, b->bit_depth);
  g_assert_cmpuint(a->stride, ==, b->stride);
  for (int y = 0; y < a->height; y++)
    if (memcmp(a->data + (gsize)y * a->stride, b->data + (gsize)y * b->stride, a->stride) != 0)
      g_error("pixels differ in row %d", y);
}

static AenetImage *
save_and_load(const AenetImage *image, const char *name)
{
  GError *error = NULL;
  char *path = tmp_path(name);
  g_assert_true(aenet_image_save(image, path, &error));
  g_assert_no_error(error);
  AenetImage *back = aenet_image_load(path, &error);
  g_assert_no_error(error);
  g_assert_nonnull(back);
  g_free(path);
  return back;
}

/* A small well-formed ICC profile: the header and one tag of noise-like
 * data. (libpng 1.6.39 drops an iCCP chunk shorter than 92 bytes, so the
 * profile must not compress too well.) */
#define ICC_SIZE 344
static GBytes *
make_icc(const char *color_space)
{
  guint8 *p = g_malloc0(ICC_SIZE);
  p[2] = ICC_SIZE >> 8, p[3] = ICC_SIZE & 0xff; /* size, big-endian */
  p[8] = 2, p[9] = 0x10;                        /* version 2.1 */
  memcpy(p + 12, "mntr", 4);
  memcpy(p + 16, color_space, 4);
  memcpy(p + 20, "XYZ ", 4);
  memcpy(p + 36, "acsp", 4);
  static const guint8 d50[12] = { 0, 0, 0xf6, 0xd6, 0, 1, 0, 0, 0, 0, 0xd3, 0x2d };
  memcpy(p + 68, d50, 12);
  p[131] = 1; /* one tag: 'cprt' at 144, 200 bytes */
  memcpy(p + 132, "cprt", 4);
  p[139] = 144;
  p[143] = 200;
  memcpy(p + 144, "text", 4);
  AenetRng rng;
  aenet_rng_init(&rng, 4);
  for (int i = 152; i < ICC_SIZE; i++)
    p[i] = (guint8)(32 + aenet_rng_below(&rng, 95));
  return g_bytes_new_take(p, ICC_SIZE);
}

/* An EXIF payload: a big-endian TIFF header, an empty IFD, some bytes. */
static GBytes *
make_exif(void)
{
  guint8 e[40] = { 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0 };
  for (int i = 14; i < 40; i++)
    e[i] = (guint8)(i * 7);
  return g_bytes_new(e, sizeof e);
}

static void
test_png_round_trip(void)
{
  for (int depth = 8; depth <= 16; depth += 8)
    for (int nc = 1; nc <= 4; nc++) {
      AenetImage *image = random_image(37, 23, nc, depth, 100 + nc * depth);
      char *name = g_strdup_printf("rt-%d-%d.png", nc, depth);
      AenetImage *back = save_and_load(image, name);
      assert_same_pixels(image, back);
      g_assert_null(back->icc_profile);
      g_assert_null(back->exif);
      g_free(name);
      aenet_image_free(image);
      aenet_image_free(back);
    }
}

static void
test_tiff_round_trip(void)
{
  for (int depth = 8; depth <= 16; depth += 8)
    for (int nc = 1; nc <= 4; nc++) {
      AenetImage *image = random_image(41, 19, nc, depth, 200 + nc * depth);
      char *name = g_strdup_printf("rt-%d-%d.tif", nc, depth);
      AenetImage *back = save_and_load(image, name);
      assert_same_pixels(image, back);
      g_free(name);
      aenet_image_free(image);
      aenet_image_free(back);
    }
}

static double
mean_abs_diff_8(const AenetImage *a, const AenetImage *b, int channels)
{
  double sum = 0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      for (int c = 0; c < channels; c++)
        sum += fabs((double)a->data[(gsize)y * a->stride + (gsize)x * a->n_channels + c]
                    - b->data[(gsize)y * b->stride + (gsize)x * b->n_channels + c]);
  return sum / ((double)a->width * a->height * channels);
}

static void
test_jpeg_round_trip(void)
{
  /* RGB stays RGB and close. */
  AenetImage *rgb = smooth_image(64, 48, 3);
  AenetImage *back = save_and_load(rgb, "rgb.jpg");
  g_assert_cmpint(back->n_channels, ==, 3);
  g_assert_cmpint(back->bit_depth, ==, 8);
  g_assert_cmpint(back->width, ==, 64);
  g_assert_cmpint(back->height, ==, 48);
  double d = mean_abs_diff_8(rgb, back, 3);
  g_test_message("JPEG RGB mean error %.3f", d);
  g_assert_cmpfloat(d, <, 2.0);
  aenet_image_free(back);

  /* Gray stays gray. */
  AenetImage *gray = smooth_image(50, 30, 1);
  back = save_and_load(gray, "gray.jpeg");
  g_assert_cmpint(back->n_channels, ==, 1);
  d = mean_abs_diff_8(gray, back, 1);
  g_assert_cmpfloat(d, <, 2.0);
  aenet_image_free(back);

  /* RGBA: the alpha is dropped; colour kept. */
  AenetImage *rgba = smooth_image(40, 40, 4);
  back = save_and_load(rgba, "rgba.JPG");
  g_assert_cmpint(back->n_channels, ==, 3);
  g_assert_cmpfloat(mean_abs_diff_8(rgba, back, 3), <, 2.0);
  aenet_image_free(back);

  /* 16-bit is rounded to 8 bits: v16 = v8 * 257 comes back as v8. */
  GError *error = NULL;
  AenetImage *deep = aenet_image_new(64, 48, 3, 16, &error);
  g_assert_no_error(error);
  for (int y = 0; y < 48; y++)
    for (int i = 0; i < 64 * 3; i++) {
      guint16 v = rgb->data[(gsize)y * rgb->stride + i] * 257;
      memcpy(deep->data + (gsize)y * deep->stride + 2 * i, &v, 2);
    }
  back = save_and_load(deep, "deep.jpg");
  g_assert_cmpint(back->bit_depth, ==, 8);
  g_assert_cmpfloat(mean_abs_diff_8(rgb, back, 3), <, 2.0);
  aenet_image_free(back);

  aenet_image_free(deep);
  aenet_image_free(rgba);
  aenet_image_free(gray);
  aenet_image_free(rgb);
}

/* Saving uses the image's JPEG quality (95 when unset); loading a JPEG
 * reads back the quality its tables were made with. */
static void
test_jpeg_quality(void)
{
  AenetImage *rgb = smooth_image(64, 48, 3);
  AenetImage *back = save_and_load(rgb, "q95.jpg");
  g_assert_cmpint(back->jpeg_quality, ==, 95);
  aenet_image_free(back);
  static const int qualities[] = { 10, 30, 50, 75, 90, 100 };
  for (guint i = 0; i < G_N_ELEMENTS(qualities); i++) {
    rgb->jpeg_quality = qualities[i];
    back = save_and_load(rgb, "q.jpg");
    g_assert_cmpint(back->jpeg_quality, ==, qualities[i]);
    aenet_image_free(back);
  }
  rgb->jpeg_quality = 0;
  back = save_and_load(rgb, "q.png");
  g_assert_cmpint(back->jpeg_quality, ==, 0);
  aenet_image_free(back);
  aenet_image_free(rgb);
}

static void
assert_bytes_equal(GBytes *a, GBytes *b)
{
  g_assert_nonnull(a);
  g_assert_nonnull(b);
  gsize na, nb;
  const guint8 *pa = g_bytes_get_data(a, &na);
  const guint8 *pb = g_bytes_get_data(b, &nb);
  g_assert_cmpmem(pa, na, pb, nb);
}

static void
test_metadata(void)
{
  const char *names[] = { "meta.png", "meta.jpg", "meta.tif" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    AenetImage *image = smooth_image(32, 16, 3);
    image->icc_profile = make_icc("RGB ");
    image->exif = make_exif();
    AenetImage *back = save_and_load(image, names[i]);
    assert_bytes_equal(image->icc_profile, back->icc_profile);
    if (i < 2) /* EXIF is kept by PNG and JPEG, not by TIFF */
      assert_bytes_equal(image->exif, back->exif);
    /* ... and survives a second generation. */
    AenetImage *again = save_and_load(back, names[i]);
    assert_bytes_equal(image->icc_profile, again->icc_profile);
    if (i < 2)
      assert_bytes_equal(image->exif, again->exif);
    aenet_image_free(again);
    aenet_image_free(back);
    aenet_image_free(image);
  }
  /* A large ICC profile spans several JPEG APP2 markers. */
  AenetImage *image = smooth_image(16, 16, 3);
  guint8 *big = g_malloc(200000);
  GBytes *small = make_icc("RGB ");
  memcpy(big, g_bytes_get_data(small, NULL), ICC_SIZE);
  for (int i = ICC_SIZE; i < 200000; i++)
    big[i] = (guint8)(i * 13);
  image->icc_profile = g_bytes_new_take(big, 200000);
  AenetImage *back = save_and_load(image, "bigicc.jpg");
  assert_bytes_equal(image->icc_profile, back->icc_profile);
  g_bytes_unref(small);
  aenet_image_free(back);
  aenet_image_free(image);
}

static void
test_rect_conversion(void)
{
  GError *error = NULL;
  /* 8-bit: every value maps to v/255 and back. */
  AenetImage *im8 = aenet_image_new(256, 2, 1, 8, &error);
  g_assert_no_error(error);
  for (int v = 0; v < 256; v++)
    im8->data[v] = (guint8)v;
  float f[256 * 2];
  aenet_image_get_rect(im8, 0, 0, 256, 1, f);
  for (int v = 0; v < 256; v++)
    g_assert_cmpfloat(f[v], ==, v / 255.0f);
  aenet_image_set_rect(im8, 0, 1, 256, 1, f);
  g_assert_cmpmem(im8->data, 256, im8->data + im8->stride, 256);
  /* Rounding to nearest and clamping. */
  float probe[6] = { 10.4f / 255, 10.6f / 255, -0.3f, 1.7f, NAN, 0.5f };
  aenet_image_set_rect(im8, 3, 0, 6, 1, probe);
  g_assert_cmpint(im8->data[3], ==, 10);
  g_assert_cmpint(im8->data[4], ==, 11);
  g_assert_cmpint(im8->data[5], ==, 0);
  g_assert_cmpint(im8->data[6], ==, 255);
  g_assert_cmpint(im8->data[7], ==, 0);
  g_assert_cmpint(im8->data[8], ==, 128);
  g_assert_cmpint(im8->data[2], ==, 2); /* outside the rect: untouched */
  g_assert_cmpint(im8->data[9], ==, 9);
  aenet_image_free(im8);

  /* 16-bit: all 65536 values, in a 3-channel image, through a sub-rect. */
  AenetImage *im16 = aenet_image_new(140, 180, 3, 16, &error);
  g_assert_no_error(error);
  int rx = 7, ry = 5, rw = 128, rh = 65536 / (128 * 3) + 1; /* ≥ 65536 samples */
  float *src = g_new(float, (gsize)rw *rh * 3);
  for (int i = 0; i < rw * rh * 3; i++)
    src[i] = (i % 65536) / 65535.0f;
  aenet_image_set_rect(im16, rx, ry, rw, rh, src);
  for (int i = 0; i < rw * rh * 3; i++) {
    int y = ry + i / (rw * 3), k = rx * 3 + i % (rw * 3);
    guint16 v;
    memcpy(&v, im16->data + (gsize)y * im16->stride + 2 * k, 2);
    if (v != i % 65536)
      g_error("16-bit sample %d: wrote %d, stored %d", i, i % 65536, v);
  }
  float *dst = g_new(float, (gsize)rw *rh * 3);
  aenet_image_get_rect(im16, rx, ry, rw, rh, dst);
  for (int i = 0; i < rw * rh * 3; i++)
    g_assert_cmpfloat(dst[i], ==, src[i]);
  /* Rows above the rect are still zero. */
  for (gsize i = 0; i < im16->stride * ry; i++)
    g_assert_cmpint(im16->data[i], ==, 0);
  g_free(src);
  g_free(dst);
  aenet_image_free(im16);
}

/* Palette PNG with transparency, and a 2-bit gray PNG, written directly. */
static void
write_png_raw(const char *path, int w, int h, int depth, int color, png_colorp palette,
              int n_palette, png_bytep trans, int n_trans, png_bytep *rows)
{
  FILE *fp = g_fopen(path, "wb");
  g_assert_nonnull(fp);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, fp);
  png_set_IHDR(png, info, w, h, depth, color, PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (palette != NULL)
    png_set_PLTE(png, info, palette, n_palette);
  if (trans != NULL)
    png_set_tRNS(png, info, trans, n_trans, NULL);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  fclose(fp);
}

static void
test_png_expanded(void)
{
  GError *error = NULL;
  png_color pal[3] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } };
  png_byte trans[2] = { 0, 128 };
  png_byte r0[4] = { 0, 1, 2, 1 }, r1[4] = { 2, 2, 0, 0 };
  png_bytep rows[2] = { r0, r1 };
  char *path = tmp_path("palette.png");
  write_png_raw(path, 4, 2, 8, PNG_COLOR_TYPE_PALETTE, pal, 3, trans, 2, rows);
  AenetImage *im = aenet_image_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(im->n_channels, ==, 4);
  g_assert_cmpint(im->bit_depth, ==, 8);
  static const guint8 alpha[3] = { 0, 128, 255 };
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 4; x++) {
      int idx = rows[y][x];
      const guint8 *p = im->data + y * im->stride + x * 4;
      g_assert_cmpint(p[0], ==, pal[idx].red);
      g_assert_cmpint(p[1], ==, pal[idx].green);
      g_assert_cmpint(p[2], ==, pal[idx].blue);
      g_assert_cmpint(p[3], ==, alpha[idx]);
    }
  aenet_image_free(im);
  g_free(path);

  /* 2-bit gray: values 0..3 expand to 0, 85, 170, 255. */
  png_byte g0[1] = { 0x1b }, g1[1] = { 0xe4 }; /* 0 1 2 3 / 3 2 1 0 */
  png_bytep grows[2] = { g0, g1 };
  path = tmp_path("gray2.png");
  write_png_raw(path, 4, 2, 2, PNG_COLOR_TYPE_GRAY, NULL, 0, NULL, 0, grows);
  im = aenet_image_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(im->n_channels, ==, 1);
  g_assert_cmpint(im->bit_depth, ==, 8);
  for (int x = 0; x < 4; x++) {
    g_assert_cmpint(im->data[x], ==, 85 * x);
    g_assert_cmpint(im->data[im->stride + x], ==, 85 * (3 - x));
  }
  aenet_image_free(im);
  g_free(path);
}

/* A 16-bit RGBA TIFF in tiles, separate planes, premultiplied alpha, LZW. */
static void
test_tiff_tiled_planar(void)
{
  int w = 40, h = 35, tile = 16;
  char *path = tmp_path("tiled.tiff");
  TIFF *tif = TIFFOpen(path, "w");
  g_assert_nonnull(tif);
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 16);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 4);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_SEPARATE);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
  TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile);
  TIFFSetField(tif, TIFFTAG_TILELENGTH, tile);
  uint16_t extra = EXTRASAMPLE_ASSOCALPHA;
  TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
  /* straight(x, y, c) and alpha(x, y) define the expected image. */
#define STRAIGHT(x, y, c) ((guint32)(((x)*1500 + (y)*700 + (c)*9000) % 65536))
#define ALPHA(x, y) ((guint32)(((x) + (y)) % 3 == 0 ? 65535 : 20000 + (x)*900))
  guint16 *buf = g_new0(guint16, tile * tile);
  for (int p = 0; p < 4; p++)
    for (int ty = 0; ty < h; ty += tile)
      for (int tx = 0; tx < w; tx += tile) {
        for (int y = 0; y < tile; y++)
          for (int x = 0; x < tile; x++) {
            int X = MIN(tx + x, w - 1), Y = MIN(ty + y, h - 1);
            guint32 a = ALPHA(X, Y);
            buf[y * tile + x] = p == 3 ? a : (guint16)((STRAIGHT(X, Y, p) * a + 32767) / 65535);
          }
        g_assert_cmpint(
            TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, tx, ty, 0, p), buf, tile * tile * 2), >,
            0);
      }
  TIFFClose(tif);
  g_free(buf);

  GError *error = NULL;
  AenetImage *im = aenet_image_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(im->n_channels, ==, 4);
  g_assert_cmpint(im->bit_depth, ==, 16);
  g_assert_cmpint(im->width, ==, w);
  g_assert_cmpint(im->height, ==, h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint16 px[4];
      memcpy(px, im->data + y * im->stride + x * 8, 8);
      g_assert_cmpint(px[3], ==, ALPHA(x, y));
      for (int c = 0; c < 3; c++) {
        /* Premultiplying lost up to half a step times 65535/alpha. */
        double tol = 0.5 * 65535.0 / ALPHA(x, y) + 1;
        if (fabs((double)px[c] - STRAIGHT(x, y, c)) > tol)
          g_error("tiled TIFF (%d, %d, %d): %d, expected %u", x, y, c, px[c], STRAIGHT(x, y, c));
      }
    }
#undef STRAIGHT
#undef ALPHA
  aenet_image_free(im);
  g_free(path);
}

static void
write_bytes(const char *path, const void *data, gsize len)
{
  GError *error = NULL;
  g_assert_true(g_file_set_contents(path, data, len, &error));
  g_assert_no_error(error);
}

/* Loading path must fail with code, and the message must name the file and
 * contain `words`. */
static void
assert_load_fails(const char *path, int code, const char *words)
{
  GError *error = NULL;
  AenetImage *im = aenet_image_load(path, &error);
  g_assert_null(im);
  g_assert_error(error, AENET_ERROR, code);
  char *base = g_path_get_basename(path);
  g_test_message("%s", error->message);
  if (strstr(error->message, base) == NULL || strstr(error->message, words) == NULL)
    g_error("unexpected message for %s: %s (wanted “%s”)", base, error->message, words);
  g_free(base);
  g_error_free(error);
}

/* An 8 × 8 CMYK JPEG, written with libjpeg directly. */
static void
write_cmyk_jpeg(const char *path)
{
  FILE *fp = g_fopen(path, "wb");
  g_assert_nonnull(fp);
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, fp);
  c.image_width = 8;
  c.image_height = 8;
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_start_compress(&c, TRUE);
  guint8 row[8 * 4];
  for (int i = 0; i < 32; i++)
    row[i] = (guint8)(i * 8);
  for (int y = 0; y < 8; y++) {
    JSAMPROW r = row;
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  fclose(fp);
}

static void
test_rejections(void)
{
  char *path = tmp_path("empty.png");
  write_bytes(path, "", 0);
  assert_load_fails(path, AENET_ERROR_FORMAT, "empty");
  g_free(path);

  path = tmp_path("missing.png");
  assert_load_fails(path, AENET_ERROR_IO, "No such file");
  g_free(path);

  path = tmp_path("random.png");
  guint8 junk[1000];
  AenetRng rng;
  aenet_rng_init(&rng, 9);
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8)aenet_rng_below(&rng, 256);
  junk[0] = 'x'; /* not by chance a signature */
  write_bytes(path, junk, sizeof junk);
  assert_load_fails(path, AENET_ERROR_FORMAT, "not a PNG, JPEG or TIFF file");
  g_free(path);

  /* Truncated files of each type, cut at several points. */
  const char *names[] = { "cut.png", "cut.jpg", "cut.tif" };
  const char *words[] = { "PNG", "JPEG", "TIFF" };
  for (gsize t = 0; t < G_N_ELEMENTS(names); t++) {
    AenetImage *image = random_image(64, 64, 3, 8, 77);
    path = tmp_path(names[t]);
    GError *error = NULL;
    g_assert_true(aenet_image_save(image, path, &error));
    g_assert_no_error(error);
    gchar *contents;
    gsize len;
    g_assert_true(g_file_get_contents(path, &contents, &len, &error));
    const double cuts[] = { 0.02, 0.3, 0.6, 0.95 };
    for (gsize c = 0; c < G_N_ELEMENTS(cuts); c++) {
      gsize keep = MAX((gsize)(len * cuts[c]), 10);
      char *cut = tmp_path(names[t]);
      write_bytes(cut, contents, keep);
      assert_load_fails(cut, AENET_ERROR_FORMAT, words[t]);
      g_free(cut);
    }
    /* Also a damaged middle (PNG CRC, JPEG entropy data). */
    if (t < 2) {
      for (gsize i = len / 2; i < len / 2 + 64; i++)
        contents[i] ^= 0x5a;
      write_bytes(path, contents, len);
      assert_load_fails(path, AENET_ERROR_FORMAT, words[t]);
    }
    g_free(contents);
    g_free(path);
    aenet_image_free(image);
  }

  /* CMYK JPEG is refused in words. */
  path = tmp_path("cmyk.jpg");
  write_cmyk_jpeg(path);
  assert_load_fails(path, AENET_ERROR_FORMAT, "CMYK JPEG is not supported");
  g_free(path);
}

static void
test_save_errors(void)
{
  GError *error = NULL;
  AenetImage *image = random_image(8, 8, 3, 8, 1);
  char *path = tmp_path("picture.bmp");
  g_assert_false(aenet_image_save(image, path, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "picture.bmp"));
  g_assert_nonnull(strstr(error->message, ".png"));
  g_assert_nonnull(strstr(error->message, ".tif"));
  g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
  g_clear_error(&error);
  g_free(path);

  /* The type comes from the extension, in any case. */
  AenetFileType type;
  g_assert_true(aenet_file_type_from_name("/a/b.JPEG", &type, NULL));
  g_assert_cmpint(type, ==, AENET_FILE_JPEG);
  g_assert_true(aenet_file_type_from_name("x.Tif", &type, NULL));
  g_assert_cmpint(type, ==, AENET_FILE_TIFF);
  g_assert_false(aenet_file_type_from_name("png", &type, NULL));

  /* A failed save leaves the existing file as it was and no temporary
   * files: JPEG cannot hold 65535 pixels per side, libjpeg fails midway. */
  path = tmp_path("keep.jpg");
  write_bytes(path, "precious", 8);
  AenetImage *wide = aenet_image_new(65535, 1, 1, 8, &error);
  g_assert_no_error(error);
  g_assert_false(aenet_image_save(wide, path, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
  g_test_message("%s", error->message);
  g_clear_error(&error);
  gchar *contents;
  gsize len;
  g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
  g_assert_cmpmem(contents, len, "precious", 8);
  g_free(contents);
  GDir *d = g_dir_open(tmpdir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL)
    if (strstr(name, ".tmp-") != NULL)
      g_error("a temporary file was left behind: %s", name);
  g_dir_close(d);
  aenet_image_free(wide);
  g_free(path);

  /* A folder that does not exist. */
  path = g_build_filename(tmpdir, "no-such-folder", "x.png", NULL);
  g_assert_false(aenet_image_save(image, path, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "x.png"));
  g_clear_error(&error);
  g_free(path);

  /* Content, not name, decides how a file is read. */
  path = tmp_path("real-png.png");
  g_assert_true(aenet_image_save(image, path, NULL));
  char *misnamed = tmp_path("misnamed.jpg");
  g_assert_cmpint(g_rename(path, misnamed), ==, 0);
  AenetImage *back = aenet_image_load(misnamed, &error);
  g_assert_no_error(error);
  assert_same_pixels(image, back);
  aenet_image_free(back);
  g_free(misnamed);
  g_free(path);
  aenet_image_free(image);
}

static void
test_too_large(void)
{
  GError *error = NULL;
  g_assert_null(aenet_image_new(65536, 10, 1, 8, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_NOMEM);
  g_clear_error(&error);
  /* 60000 × 60000 × 4 × 2 bytes is far above 2 GB. */
  g_assert_null(aenet_image_new(60000, 60000, 4, 16, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_NOMEM);
  g_assert_nonnull(strstr(error->message, "too large"));
  g_clear_error(&error);
  g_assert_null(aenet_image_new(10, 10, 5, 8, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  aenet_image_free(NULL);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  tmpdir = test_tmpdir_new();
  g_test_add_func("/imageio/png-round-trip", test_png_round_trip);
  g_test_add_func("/imageio/png-expanded", test_png_expanded);
  g_test_add_func("/imageio/tiff-round-trip", test_tiff_round_trip);
  g_test_add_func("/imageio/tiff-tiled-planar", test_tiff_tiled_planar);
  g_test_add_func("/imageio/jpeg-round-trip", test_jpeg_round_trip);
  g_test_add_func("/imageio/jpeg-quality", test_jpeg_quality);
  g_test_add_func("/imageio/metadata", test_metadata);
  g_test_add_func("/imageio/rect-conversion", test_rect_conversion);
  g_test_add_func("/imageio/rejections", test_rejections);
  g_test_add_func("/imageio/save-errors", test_save_errors);
  g_test_add_func("/imageio/too-large", test_too_large);
  int status = g_test_run();
  test_tmpdir_remove(tmpdir);
  g_free(tmpdir);
  return status;
}
