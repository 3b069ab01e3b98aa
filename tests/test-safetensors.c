/* test-safetensors.c — the safetensors reader and writer.
 *
 * Files are built byte by byte here (header JSON + little-endian data) so
 * the reader is checked against the format, not against our own writer. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "error.h"
#include "rng.h"
#include "safetensors.h"
#include "testutil.h"

static char *tmpdir;

/* Builds u64 length + header + data. */
static GByteArray *
build_file(const char *header, const void *data, gsize data_len)
{
  GByteArray *b = g_byte_array_new();
  guint64 n = GUINT64_TO_LE((guint64)strlen(header));

  g_byte_array_append(b, (const guint8 *)&n, 8);
  g_byte_array_append(b, (const guint8 *)header, (guint)strlen(header));
  if (data_len > 0)
    g_byte_array_append(b, data, (guint)data_len);
  return b;
}

static char *
write_file(const char *name, const guint8 *bytes, gsize len)
{
  GError *error = NULL;
  char *path = g_build_filename(tmpdir, name, NULL);

  g_file_set_contents(path, (const char *)bytes, (gssize)len, &error);
  g_assert_no_error(error);
  return path;
}

static void
put_f32(guint8 *dst, float x)
{
  guint32 u;
  memcpy(&u, &x, 4);
  u = GUINT32_TO_LE(u);
  memcpy(dst, &u, 4);
}

/* Loads bytes written to <name> and expects a failure with code whose
 * message holds the file name and word. */
static void
expect_failure(const char *name, const guint8 *bytes, gsize len, int code, const char *word)
{
  GError *error = NULL;
  char *path = write_file(name, bytes, len);
  AenetSafetensors *f = aenet_safetensors_load(path, &error);

  if (f != NULL || error == NULL || strstr(error->message, name) == NULL
      || strstr(error->message, word) == NULL)
    g_error("%s: expected an error naming the file and “%s”, got %s", name, word,
            error ? error->message : "success");
  g_assert_error(error, AENET_ERROR, code);
  g_test_message("%s", error->message);
  g_error_free(error);
  g_free(path);
}

/* The same, for a header and data section. */
static void
expect_header_failure(const char *name, const char *header, const void *data, gsize data_len,
                      const char *word)
{
  GByteArray *b = build_file(header, data, data_len);
  expect_failure(name, b->data, b->len, AENET_ERROR_FORMAT, word);
  g_byte_array_unref(b);
}

static AenetSafetensors *
load_ok(const char *name, const char *header, const void *data, gsize data_len)
{
  GError *error = NULL;
  GByteArray *b = build_file(header, data, data_len);
  char *path = write_file(name, b->data, b->len);
  AenetSafetensors *f = aenet_safetensors_load(path, &error);

  g_assert_no_error(error);
  g_assert_nonnull(f);
  g_assert_cmpstr(f->path, ==, path);
  g_byte_array_unref(b);
  g_free(path);
  return f;
}

static void
test_round_trip(void)
{
  AenetRng rng;
  AenetTensor a = { "nodes.0.weight", 4, { 4, 3, 3, 3 }, 108, NULL };
  AenetTensor b = { "nodes.0.bias", 1, { 4 }, 4, NULL };
  AenetTensor c = { "scalar", 0, { 0 }, 1, NULL };
  AenetTensor d = { "empty", 2, { 0, 3 }, 0, NULL };
  AenetTensor e = { "name with “quotes” and \"escapes\"\n", 1, { 5 }, 5, NULL };
  const AenetTensor *tensors[] = { &a, &b, &c, &d, &e };
  float special[5] = { -0.0f, FLT_MIN / 8, FLT_MAX, -FLT_MAX, 1e-45f };
  GHashTable *meta = g_hash_table_new(g_str_hash, g_str_equal);
  GError *error = NULL;
  char *path = g_build_filename(tmpdir, "round.safetensors", NULL);
  char *contents;
  gsize len;
  guint64 header_len;
  AenetSafetensors *f;

  aenet_rng_init(&rng, 1234);
  a.data = g_new(float, 108);
  test_fill_uniform(a.data, 108, &rng, -2.0f, 2.0f);
  b.data = g_new(float, 4);
  test_fill_uniform(b.data, 4, &rng, -1.0f, 1.0f);
  c.data = g_new(float, 1);
  c.data[0] = 3.5f;
  e.data = special;
  g_hash_table_insert(meta, "zeta", "last");
  g_hash_table_insert(meta, "aenet.format", "1");
  g_hash_table_insert(meta, "description", "line 1\nline 2 \"quoted\" caf\xc3\xa9 \\ tab\t");
  g_hash_table_insert(meta, "empty", "");

  /* Twice: the second save replaces the first. */
  for (int round = 0; round < 2; round++) {
    g_assert_true(aenet_safetensors_save(path, tensors, G_N_ELEMENTS(tensors), meta, &error));
    g_assert_no_error(error);
  }

  /* Layout: metadata first, keys sorted, data 8-aligned and contiguous. */
  g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
  memcpy(&header_len, contents, 8);
  header_len = GUINT64_FROM_LE(header_len);
  g_assert_cmpuint(header_len % 8, ==, 0);
  g_assert_cmpuint(8 + header_len + 4 * (108 + 4 + 1 + 0 + 5), ==, len);
  g_assert_true(g_str_has_prefix(contents + 8, "{\"__metadata__\":{\"aenet.format\":\"1\","
                                               "\"description\":"));
  {
    char *header = g_strndup(contents + 8, header_len);
    const char *z = strstr(header, "\"zeta\""), *em = strstr(header, "\"empty\":\"\"");
    g_assert_nonnull(z);
    g_assert_nonnull(em);
    g_assert_true(em < z);
    g_assert_nonnull(strstr(header, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],"
                                    "\"data_offsets\":[448,452]}"));
    g_free(header);
  }
  g_free(contents);

  f = aenet_safetensors_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(f->tensors->len, ==, G_N_ELEMENTS(tensors));
  for (guint i = 0; i < G_N_ELEMENTS(tensors); i++) {
    const AenetTensor *want = tensors[i];
    const AenetTensor *got = g_ptr_array_index(f->tensors, i);

    g_assert_cmpstr(got->name, ==, want->name);
    g_assert_true(aenet_safetensors_find(f, want->name) == got);
    g_assert_cmpint(got->n_dims, ==, want->n_dims);
    for (int k = 0; k < want->n_dims; k++)
      g_assert_cmpint(got->shape[k], ==, want->shape[k]);
    g_assert_cmpuint(got->n_elements, ==, want->n_elements);
    if (want->n_elements > 0)
      g_assert_cmpmem(got->data, got->n_elements * 4, want->data, want->n_elements * 4);
  }
  g_assert_null(aenet_safetensors_find(f, "missing"));
  g_assert_cmpuint(g_hash_table_size(f->metadata), ==, 4);
  {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init(&iter, meta);
    while (g_hash_table_iter_next(&iter, &key, &value))
      g_assert_cmpstr(g_hash_table_lookup(f->metadata, key), ==, value);
  }
  aenet_safetensors_free(f);

  /* Only the file itself is left in the folder: no temporary. */
  {
    GDir *dir = g_dir_open(tmpdir, 0, NULL);
    const char *entry;
    while ((entry = g_dir_read_name(dir)) != NULL)
      g_assert_false(g_str_has_prefix(entry, "round.safetensors")
                     && strcmp(entry, "round.safetensors") != 0);
    g_dir_close(dir);
  }

  /* Without metadata: no __metadata__ entry at all. */
  g_assert_true(aenet_safetensors_save(path, tensors, 2, NULL, &error));
  g_assert_no_error(error);
  g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
  g_assert_true(g_str_has_prefix(contents + 8, "{\"nodes.0.weight\":"));
  g_free(contents);
  f = aenet_safetensors_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_hash_table_size(f->metadata), ==, 0);
  g_assert_cmpuint(f->tensors->len, ==, 2);
  aenet_safetensors_free(f);

  g_unlink(path);
  g_free(path);
  g_hash_table_unref(meta);
  g_free(a.data);
  g_free(b.data);
  g_free(c.data);
}

static void
test_save_rejects(void)
{
  float x[2] = { 1.0f, NAN };
  AenetTensor a = { "a", 1, { 2 }, 2, x };
  AenetTensor b = { "a", 1, { 1 }, 1, x };
  AenetTensor c = { "c", 2, { 3, 1 }, 2, x };
  AenetTensor m = { "__metadata__", 1, { 1 }, 1, x };
  const AenetTensor *nan_list[] = { &a };
  const AenetTensor *dup_list[] = { &b, &b };
  const AenetTensor *shape_list[] = { &c };
  const AenetTensor *meta_list[] = { &m };
  char *path = g_build_filename(tmpdir, "rejected.safetensors", NULL);
  GError *error = NULL;

  g_assert_false(aenet_safetensors_save(path, nan_list, 1, NULL, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "NaN"));
  g_clear_error(&error);
  g_assert_false(aenet_safetensors_save(path, dup_list, 2, NULL, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "two tensors"));
  g_clear_error(&error);
  g_assert_false(aenet_safetensors_save(path, shape_list, 1, NULL, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_false(aenet_safetensors_save(path, meta_list, 1, NULL, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

  /* A folder that does not exist: an I/O error naming the file. */
  {
    char *bad = g_build_filename(tmpdir, "no-such-folder", "x.safetensors", NULL);
    const AenetTensor *ok_list[] = { &b };
    g_assert_false(aenet_safetensors_save(bad, ok_list, 1, NULL, &error));
    g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
    g_assert_nonnull(strstr(error->message, "x.safetensors"));
    g_clear_error(&error);
    g_free(bad);
  }
  g_free(path);
}

/* F16, BF16 and F64 files written by hand decode to the right floats. */
static void
test_other_dtypes(void)
{
  static const guint16 f16[] = {
    0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555, 0x0400, 0x03ff, 0x3800,
  };
  static const float f16_want[] = {
    1.0f,  -2.0f,           65504.0f,        5.9604644775390625e-8f,
    -0.0f, 0.333251953125f, 6.103515625e-5f, 6.097555160522461e-5f,
    0.5f,
  };
  static const guint16 bf16[] = { 0x3f80, 0xc0a0, 0x3e20, 0x7f7f, 0x0001 };
  static const float bf16_want[]
      = { 1.0f, -5.0f, 0.15625f, 3.3895313892515355e38f, 9.183549615799121e-41f };
  static const double f64[] = { 0.1, -1e30, 3.0 };
  guint8 data[18 + 10 + 24];
  AenetSafetensors *f;
  const AenetTensor *t;

  for (guint i = 0; i < 9; i++) {
    guint16 h = GUINT16_TO_LE(f16[i]);
    memcpy(data + 2 * i, &h, 2);
  }
  for (guint i = 0; i < 5; i++) {
    guint16 h = GUINT16_TO_LE(bf16[i]);
    memcpy(data + 18 + 2 * i, &h, 2);
  }
  for (guint i = 0; i < 3; i++) {
    guint64 u;
    memcpy(&u, &f64[i], 8);
    u = GUINT64_TO_LE(u);
    memcpy(data + 28 + 8 * i, &u, 8);
  }
  f = load_ok("dtypes.safetensors",
              "{\"h\":{\"dtype\":\"F16\",\"shape\":[3,3],\"data_offsets\":[0,18]},"
              "\"b\":{\"shape\":[5],\"dtype\":\"BF16\",\"data_offsets\":[18,28]},"
              "\"d\":{\"data_offsets\":[28,52],\"dtype\":\"F64\",\"shape\":[1,3]}}   ",
              data, sizeof data);
  t = aenet_safetensors_find(f, "h");
  g_assert_cmpint(t->n_dims, ==, 2);
  g_assert_cmpuint(t->n_elements, ==, 9);
  g_assert_cmpmem(t->data, 9 * 4, f16_want, 9 * 4);
  t = aenet_safetensors_find(f, "b");
  g_assert_cmpmem(t->data, 5 * 4, bf16_want, 5 * 4);
  t = aenet_safetensors_find(f, "d");
  for (int i = 0; i < 3; i++)
    g_assert_cmpfloat(t->data[i], ==, (float)f64[i]);
  aenet_safetensors_free(f);

  /* Every finite F16 value against a reference computed another way. */
  {
    guint16 *all = g_new(guint16, 65536);
    GString *h = g_string_new(NULL);
    guint n = 0;

    for (guint v = 0; v < 65536; v++)
      if (((v >> 10) & 0x1f) != 0x1f)
        all[n++] = GUINT16_TO_LE((guint16)v);
    g_string_printf(h, "{\"all\":{\"dtype\":\"F16\",\"shape\":[%u],\"data_offsets\":[0,%u]}}", n,
                    2 * n);
    f = load_ok("f16-all.safetensors", h->str, all, 2 * n);
    t = aenet_safetensors_find(f, "all");
    for (guint i = 0; i < n; i++) {
      guint v = GUINT16_FROM_LE(all[i]);
      int e = (v >> 10) & 0x1f, m = v & 0x3ff;
      double want = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
      if (v & 0x8000)
        want = -want;
      if (t->data[i] != (float)want || !signbit(t->data[i]) != !signbit(want))
        g_error("F16 0x%04x decoded to %g, expected %g", v, t->data[i], want);
    }
    aenet_safetensors_free(f);
    g_string_free(h, TRUE);
    g_free(all);
  }
}

/* What the format allows and we accept: trailing spaces, gaps, tensors in
 * any order in the data, an empty header object. */
static void
test_accepted(void)
{
  guint8 data[16];
  AenetSafetensors *f;

  put_f32(data, 1.0f);
  put_f32(data + 4, 2.0f);
  put_f32(data + 8, 3.0f);
  put_f32(data + 12, 4.0f);
  f = load_ok("accepted.safetensors",
              "{\"__metadata__\":{},"
              "\"late\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
              "\"early\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]},"
              "\"zero\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}        ",
              data, sizeof data);
  g_assert_cmpuint(f->tensors->len, ==, 3);
  g_assert_cmpfloat(aenet_safetensors_find(f, "late")->data[0], ==, 4.0f);
  g_assert_cmpfloat(aenet_safetensors_find(f, "early")->data[0], ==, 1.0f);
  g_assert_cmpuint(aenet_safetensors_find(f, "zero")->n_elements, ==, 0);
  aenet_safetensors_free(f);

  f = load_ok("empty.safetensors", "{}", NULL, 0);
  g_assert_cmpuint(f->tensors->len, ==, 0);
  aenet_safetensors_free(f);
}

static void
test_reject_truncated(void)
{
  static const guint8 short_file[5] = { 8, 0, 0, 0, 0 };
  GByteArray *b;

  expect_failure("short.safetensors", short_file, sizeof short_file, AENET_ERROR_FORMAT, "short");
  expect_failure("zero.safetensors", short_file, 0, AENET_ERROR_FORMAT, "short");

  /* A valid file cut in the data: offsets then run past the end. */
  {
    guint8 data[8] = { 0 };
    b = build_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8);
    expect_failure("cut.safetensors", b->data, b->len - 3, AENET_ERROR_FORMAT, "past the end");
    g_byte_array_unref(b);
  }
}

static void
test_reject_header_length(void)
{
  GByteArray *b = build_file("{}", NULL, 0);
  guint64 n = GUINT64_TO_LE(1000);

  memcpy(b->data, &n, 8);
  expect_failure("long-header.safetensors", b->data, b->len, AENET_ERROR_FORMAT, "header length");
  n = GUINT64_TO_LE(G_MAXUINT64);
  memcpy(b->data, &n, 8);
  expect_failure("huge-header.safetensors", b->data, b->len, AENET_ERROR_FORMAT, "header length");
  g_byte_array_unref(b);

  /* A header just over the 100 MB limit, in a file big enough to hold it:
   * refused before it is parsed (calloc'd pages are never touched). */
  {
    gsize len = 8 + 100000001 + 8;
    guint8 *big = g_malloc0(len);
    GError *error = NULL;

    n = GUINT64_TO_LE(100000001);
    memcpy(big, &n, 8);
    g_assert_null(aenet_safetensors_load_from_data(big, len, "big.safetensors", &error));
    g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
    g_assert_nonnull(strstr(error->message, "big.safetensors"));
    g_assert_nonnull(strstr(error->message, "limit"));
    g_error_free(error);
    g_free(big);
  }
}

static void
test_reject_not_json(void)
{
  expect_header_failure("notjson.safetensors", "{\"a\": nope}", NULL, 0, "not valid JSON");
  expect_header_failure("trailing.safetensors", "{} x", NULL, 0, "not valid JSON");
  {
    /* Header padded with NULs instead of spaces. */
    guint8 bytes[8 + 4] = { 4, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0 };
    expect_failure("nul-pad.safetensors", bytes, sizeof bytes, AENET_ERROR_FORMAT,
                   "not valid JSON");
  }
}

static void
test_reject_not_object(void)
{
  expect_header_failure("array.safetensors", "[1, 2]", NULL, 0, "not a JSON object");
  expect_header_failure("string.safetensors", "\"x\"", NULL, 0, "not a JSON object");
  expect_header_failure("entry.safetensors", "{\"a\": [1]}", NULL, 0, "not an object");
}

static void
test_reject_metadata(void)
{
  expect_header_failure("meta-number.safetensors", "{\"__metadata__\":{\"steps\":100}}", NULL, 0,
                        "not a string");
  expect_header_failure("meta-null.safetensors", "{\"__metadata__\":{\"a\":\"b\",\"c\":null}}",
                        NULL, 0, "not a string");
  expect_header_failure("meta-array.safetensors", "{\"__metadata__\":[\"a\"]}", NULL, 0,
                        "__metadata__");
}

static void
test_reject_dtype(void)
{
  guint8 data[8] = { 0 };

  expect_header_failure("i64.safetensors",
                        "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data, 8,
                        "dtype “I64”");
  expect_header_failure("f32-lower.safetensors",
                        "{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8,
                        "dtype “f32”");
  expect_header_failure("no-dtype.safetensors", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}",
                        data, 8, "dtype");
  expect_header_failure("dtype-number.safetensors",
                        "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8,
                        "dtype");
}

static void
test_reject_shape(void)
{
  guint8 data[8] = { 0 };

  expect_header_failure("neg.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data,
                        8, "shape");
  expect_header_failure("frac.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", data,
                        8, "shape");
  expect_header_failure("str.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
                        data, 8, "shape");
  expect_header_failure("nine.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],"
                        "\"data_offsets\":[0,8]}}",
                        data, 8, "dimensions");
  expect_header_failure("overflow.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                        "\"data_offsets\":[0,8]}}",
                        data, 8, "too large");
  expect_header_failure("noshape.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", data, 8,
                        "shape");
  expect_header_failure("extra-key.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],"
                        "\"offset\":0}}",
                        data, 8, "unknown key “offset”");
}

static void
test_reject_size_mismatch(void)
{
  guint8 data[12] = { 0 };

  expect_header_failure("mismatch.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data,
                        12, "mismatch");
  expect_header_failure("mismatch16.safetensors",
                        "{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,12]}}", data,
                        12, "mismatch");
}

static void
test_reject_offsets(void)
{
  guint8 data[64] = { 0 };

  expect_header_failure(
      "range.safetensors",
      "{\"nodes.3.weight\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]}}", data, 64,
      "data_offsets [0, 100] run past the end of the data (64 bytes)");
  expect_header_failure("reversed.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", data,
                        64, "data_offsets");
  expect_header_failure("three.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", data,
                        64, "data_offsets");
  expect_header_failure("negative.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", data,
                        64, "data_offsets");
  expect_header_failure("huge.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                        "\"data_offsets\":[18446744073709551612,18446744073709551616]}}",
                        data, 64, "data_offsets");
}

static void
test_reject_overlap(void)
{
  guint8 data[16] = { 0 };

  expect_header_failure("overlap.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        data, 16, "overlap");
  /* The same span twice, listed out of order. */
  expect_header_failure("same.safetensors",
                        "{\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
                        data, 16, "overlap");
}

static void
test_reject_nan_inf(void)
{
  guint8 data[8];
  guint16 h;

  put_f32(data, 1.0f);
  put_f32(data + 4, NAN);
  expect_header_failure("nan.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8,
                        "element 1 is NaN");
  put_f32(data + 4, -INFINITY);
  expect_header_failure("inf.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8,
                        "infinite");
  h = GUINT16_TO_LE(0x7c00);
  memcpy(data, &h, 2);
  expect_header_failure("inf16.safetensors",
                        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", data, 2,
                        "infinite");
  h = GUINT16_TO_LE(0x7fc1);
  memcpy(data, &h, 2);
  expect_header_failure("nanbf16.safetensors",
                        "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", data,
                        2, "NaN");
  {
    double big = 1e300;
    guint64 u;
    memcpy(&u, &big, 8);
    u = GUINT64_TO_LE(u);
    memcpy(data, &u, 8);
    expect_header_failure("big64.safetensors",
                          "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data,
                          8, "too large for a float");
  }
}

static void
test_reject_names(void)
{
  guint8 data[8] = { 0 };

  expect_header_failure("dup.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                        data, 8, "duplicate key “a”");
  expect_header_failure("noname.safetensors",
                        "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 8,
                        "empty name");
}

static void
test_reject_missing_file(void)
{
  GError *error = NULL;
  char *path = g_build_filename(tmpdir, "absent.safetensors", NULL);

  g_assert_null(aenet_safetensors_load(path, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "absent.safetensors"));
  g_error_free(error);
  g_free(path);
}

int
main(int argc, char **argv)
{
  int result;

  g_test_init(&argc, &argv, NULL);
  tmpdir = test_tmpdir_new();
  g_test_add_func("/safetensors/round-trip", test_round_trip);
  g_test_add_func("/safetensors/save-rejects", test_save_rejects);
  g_test_add_func("/safetensors/other-dtypes", test_other_dtypes);
  g_test_add_func("/safetensors/accepted", test_accepted);
  g_test_add_func("/safetensors/reject/truncated", test_reject_truncated);
  g_test_add_func("/safetensors/reject/header-length", test_reject_header_length);
  g_test_add_func("/safetensors/reject/not-json", test_reject_not_json);
  g_test_add_func("/safetensors/reject/not-object", test_reject_not_object);
  g_test_add_func("/safetensors/reject/metadata", test_reject_metadata);
  g_test_add_func("/safetensors/reject/dtype", test_reject_dtype);
  g_test_add_func("/safetensors/reject/shape", test_reject_shape);
  g_test_add_func("/safetensors/reject/size-mismatch", test_reject_size_mismatch);
  g_test_add_func("/safetensors/reject/offsets", test_reject_offsets);
  g_test_add_func("/safetensors/reject/overlap", test_reject_overlap);
  g_test_add_func("/safetensors/reject/nan-inf", test_reject_nan_inf);
  g_test_add_func("/safetensors/reject/names", test_reject_names);
  g_test_add_func("/safetensors/reject/missing-file", test_reject_missing_file);
  result = g_test_run();
  test_tmpdir_remove(tmpdir);
  g_free(tmpdir);
  return result;
}
