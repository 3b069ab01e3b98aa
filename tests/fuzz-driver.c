/* fuzz-driver.c — runs the fuzz target without libFuzzer.
 *
 * Builds a few valid safetensors files in memory, then feeds the target a
 * fixed-seed sequence of mutants of them: bit flips, byte overwrites,
 * truncation, insertion, header-length edits, JSON fragments spliced into
 * the header and headers spliced onto other files' data. Mutants that still
 * load join the pool, so later mutations start from deeper states. The run
 * is bounded by a number of inputs and by time; it exits 0 unless the
 * target aborts (or a sanitizer does).
 *
 * Usage: fuzz-safetensors [ITERATIONS [SEED]]   random mutation run
 *        fuzz-safetensors FILE…                  replay inputs (e.g. crashes)
 *        fuzz-safetensors --seeds DIR            write the seeds (a libFuzzer corpus)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEFAULT_ITERATIONS 300000
#define TIME_LIMIT_US (8 * G_USEC_PER_SEC)
#define POOL_MAX 64

/* Bytes and tokens that matter to the parser. */
static const char interesting_bytes[] = "{}[],:\"\\ -+.eE0123456789tfnu\x00\x1f\x7f\x80\xc3\xff";

static const char *const fragments[] = {
  "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},",
  "\"__metadata__\":{\"a\":\"b\"},",
  "\"__metadata__\":{\"a\":1},",
  "{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}",
  "\"dtype\":\"BF16\"",
  "\"dtype\":\"F64\"",
  "\"dtype\":\"I64\"",
  "\"shape\":[]",
  "\"shape\":[0]",
  "\"shape\":[4294967296,4294967296]",
  "\"shape\":[1,1,1,1,1,1,1,1,1]",
  "\"data_offsets\":[0,0]",
  "\"data_offsets\":[4,0]",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  "\"\"",
  "\"\\ud800\"",
  "\"\\ud83d\\ude00\"",
  "\"\\u0000\"",
  "\"\\u00e9\"",
  "\xc3\xa9",
  "\xed\xa0\x80",
  "1e999",
  "-0",
  "0.5",
  "1e2",
  "9007199254740993",
  "18446744073709551616",
  "-1",
  "null",
  "true",
  "      ",
};

typedef struct {
  guint8 *data;
  gsize len;
} Input;

static void
input_set(GByteArray *out, const Input *in)
{
  g_byte_array_set_size(out, 0);
  g_byte_array_append(out, in->data, (guint)in->len);
}

static Input
input_from(GByteArray *b)
{
  Input in = { g_memdup2(b->data, b->len), b->len };
  return in;
}

/* u64 header length, then the header, then the data. */
static GByteArray *
assemble(const char *header, gsize header_len, const guint8 *data, gsize data_len)
{
  GByteArray *b = g_byte_array_new();
  guint64 n = GUINT64_TO_LE((guint64)header_len);

  g_byte_array_append(b, (const guint8 *)&n, 8);
  g_byte_array_append(b, (const guint8 *)header, (guint)header_len);
  g_byte_array_append(b, data, (guint)data_len);
  return b;
}

static void
add_seed(GPtrArray *pool, const char *header, const guint8 *data, gsize data_len)
{
  GByteArray *b = assemble(header, strlen(header), data, data_len);
  Input *in = g_new(Input, 1);

  *in = input_from(b);
  g_ptr_array_add(pool, in);
  g_byte_array_unref(b);
}

static void
make_seeds(GPtrArray *pool)
{
  guint8 data[64];

  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8)(i * 37 % 61); /* small finite values in every dtype */
  add_seed(pool, "{}      ", NULL, 0);
  add_seed(pool,
           "{\"__metadata__\":{\"aenet.format\":\"1\",\"aenet.task\":\"denoise\","
           "\"name\":\"caf\\u00e9 \\\"x\\\"\"},"
           "\"nodes.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1,2,2],\"data_offsets\":[0,32]},"
           "\"nodes.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
           "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[40,44]}}   ",
           data, 44);
  add_seed(pool,
           "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]},"
           "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24]},"
           "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[24,24]}}",
           data, 24);
  add_seed(pool,
           "{\"a\\u00e9\\ud83d\\ude00\":{\"data_offsets\":[4,8],\"shape\":[1],\"dtype\":\"F32\"},"
           "\"b\":{\"shape\":[1,1],\"data_offsets\":[0,4],\"dtype\":\"F32\"}}",
           data, 8);
}

static guint64
below(AenetRng *rng, guint64 n)
{
  return n == 0 ? 0 : aenet_rng_below(rng, n);
}

/* Header bounds in b when its length field is sane, else the whole file. */
static void
header_span(GByteArray *b, gsize *start, gsize *end)
{
  guint64 n = 0;

  if (b->len >= 8) {
    memcpy(&n, b->data, 8);
    n = GUINT64_FROM_LE(n);
  }
  if (b->len >= 8 && n <= b->len - 8) {
    *start = 8;
    *end = 8 + (gsize)n;
  } else {
    *start = 0;
    *end = b->len;
  }
}

static void
set_header_len(GByteArray *b, guint64 n)
{
  if (b->len < 8)
    return;
  n = GUINT64_TO_LE(n);
  memcpy(b->data, &n, 8);
}

/* Inserts bytes at pos; when the position is in the header, the length
 * field follows (most of the time) so the mutant reaches the JSON reader. */
static void
insert_bytes(GByteArray *b, AenetRng *rng, gsize pos, const guint8 *bytes, gsize n)
{
  gsize hs, he;

  header_span(b, &hs, &he);
  gsize old_len = b->len;
  g_byte_array_set_size(b, (guint)(old_len + n));
  memmove(b->data + pos + n, b->data + pos, old_len - pos);
  memcpy(b->data + pos, bytes, n);
  if (hs == 8 && pos >= 8 && pos <= he && below(rng, 10) < 8)
    set_header_len(b, he - 8 + n);
}

static void
mutate_once(GByteArray *b, AenetRng *rng, GPtrArray *pool)
{
  gsize hs, he;

  header_span(b, &hs, &he);
  /* Aim at the header most of the time: that is where the parsing is. */
  gsize lo = hs, hi = he;
  if (below(rng, 4) == 0 || hi <= lo) {
    lo = 0;
    hi = b->len;
  }

  switch (below(rng, 9)) {
  case 0: /* bit flip */
    if (hi > lo) {
      gsize pos = lo + below(rng, hi - lo);
      b->data[pos] ^= (guint8)(1u << below(rng, 8));
    }
    break;
  case 1: /* byte overwrite */
    if (hi > lo) {
      gsize pos = lo + below(rng, hi - lo);
      b->data[pos] = below(rng, 2)
                         ? (guint8)interesting_bytes[below(rng, sizeof interesting_bytes - 1)]
                         : (guint8)below(rng, 256);
    }
    break;
  case 2: /* truncation */
    if (b->len > 0)
      g_byte_array_set_size(b, (guint)below(rng, b->len));
    break;
  case 3: { /* insertion of random or interesting bytes */
    guint8 bytes[8];
    gsize n = 1 + below(rng, sizeof bytes);
    for (gsize i = 0; i < n; i++)
      bytes[i] = (guint8)(below(rng, 2)
                              ? (guint8)interesting_bytes[below(rng, sizeof interesting_bytes - 1)]
                              : below(rng, 256));
    insert_bytes(b, rng, lo + below(rng, hi - lo + 1), bytes, n);
    break;
  }
  case 4: { /* header length edits */
    guint64 n = he >= 8 ? he - 8 : 0;
    static const guint64 odd[] = { 0, 1, 7, 8, G_MAXUINT32, G_MAXINT64, G_MAXUINT64, 100000001 };
    switch (below(rng, 3)) {
    case 0:
      n += below(rng, 17) - 8;
      break;
    case 1:
      n = odd[below(rng, G_N_ELEMENTS(odd))];
      break;
    default:
      n = below(rng, b->len + 1);
      break;
    }
    set_header_len(b, n);
    break;
  }
  case 5: { /* a JSON fragment spliced into the header */
    const char *f = fragments[below(rng, G_N_ELEMENTS(fragments))];
    insert_bytes(b, rng, lo + below(rng, hi - lo + 1), (const guint8 *)f, strlen(f));
    break;
  }
  case 6: /* a span of the header deleted */
    if (hi > lo) {
      gsize pos = lo + below(rng, hi - lo), n = 1 + below(rng, MIN(16, hi - pos));
      g_byte_array_remove_range(b, (guint)pos, (guint)n);
      if (hs == 8 && pos >= 8 && below(rng, 10) < 8)
        set_header_len(b, he - 8 - n);
    }
    break;
  case 7: { /* a digit changed where numbers are: shapes and offsets */
    for (int tries = 0; tries < 8 && hi > lo; tries++) {
      gsize pos = lo + below(rng, hi - lo);
      if (b->data[pos] >= '0' && b->data[pos] <= '9') {
        b->data[pos] = (guint8)('0' + below(rng, 10));
        break;
      }
    }
    break;
  }
  default: { /* splice: this file's header onto another's data, or the reverse */
    const Input *other = g_ptr_array_index(pool, below(rng, pool->len));
    GByteArray *o = g_byte_array_new();
    gsize os, oe;

    g_byte_array_append(o, other->data, (guint)other->len);
    header_span(o, &os, &oe);
    if (hs == 8 && os == 8) {
      g_byte_array_set_size(b, (guint)he);
      g_byte_array_append(b, o->data + oe, (guint)(o->len - oe));
    }
    g_byte_array_unref(o);
    break;
  }
  }
}

static int
replay(int n_files, char **files)
{
  for (int i = 0; i < n_files; i++) {
    char *contents;
    gsize len;
    GError *error = NULL;

    if (!g_file_get_contents(files[i], &contents, &len, &error)) {
      fprintf(stderr, "%s\n", error->message);
      g_error_free(error);
      return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)contents, len);
    g_free(contents);
  }
  printf("replayed %d inputs\n", n_files);
  return 0;
}

static int
write_seeds(const char *dir)
{
  GPtrArray *pool = g_ptr_array_new();

  make_seeds(pool);
  for (guint i = 0; i < pool->len; i++) {
    Input *in = g_ptr_array_index(pool, i);
    char *name = g_strdup_printf("seed-%u.safetensors", i);
    char *path = g_build_filename(dir, name, NULL);
    GError *error = NULL;

    if (!g_file_set_contents(path, (const char *)in->data, (gssize)in->len, &error)) {
      fprintf(stderr, "%s\n", error->message);
      return 1;
    }
    g_free(path);
    g_free(name);
    g_free(in->data);
    g_free(in);
  }
  printf("wrote %u seeds to %s\n", pool->len, dir);
  g_ptr_array_unref(pool);
  return 0;
}

int
main(int argc, char **argv)
{
  guint64 iterations = DEFAULT_ITERATIONS, seed = 20240601, done = 0, loaded = 0;
  gint64 start = g_get_monotonic_time();
  GPtrArray *pool = g_ptr_array_new();
  GByteArray *b = g_byte_array_new();
  AenetRng rng;

  if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
    return write_seeds(argv[2]);
  if (argc > 1 && g_file_test(argv[1], G_FILE_TEST_EXISTS))
    return replay(argc - 1, argv + 1);
  if (argc > 1)
    iterations = g_ascii_strtoull(argv[1], NULL, 10);
  if (argc > 2)
    seed = g_ascii_strtoull(argv[2], NULL, 10);
  aenet_rng_init(&rng, seed);
  make_seeds(pool);

  /* The seeds must load: otherwise the run would test nothing deep. */
  for (guint i = 0; i < pool->len; i++) {
    const Input *in = g_ptr_array_index(pool, i);
    LLVMFuzzerTestOneInput(in->data, in->len);
  }

  for (; done < iterations; done++) {
    const Input *parent = g_ptr_array_index(pool, below(&rng, pool->len));
    int n_mutations = 1 + (int)below(&rng, 4);
    GError *error = NULL;
    AenetSafetensors *file;

    if (done % 1024 == 0 && g_get_monotonic_time() - start > TIME_LIMIT_US)
      break;
    input_set(b, parent);
    for (int m = 0; m < n_mutations; m++)
      mutate_once(b, &rng, pool);
    LLVMFuzzerTestOneInput(b->data, b->len);

    /* Keep some mutants that still load, to mutate further. */
    file = aenet_safetensors_load_from_data(b->data, b->len, "pool", &error);
    if (file != NULL) {
      loaded++;
      if (pool->len < POOL_MAX) {
        Input *in = g_new(Input, 1);
        *in = input_from(b);
        g_ptr_array_add(pool, in);
      }
      aenet_safetensors_free(file);
    } else {
      g_error_free(error);
    }
  }

  printf("fuzz-safetensors: %" G_GUINT64_FORMAT " inputs (seed %" G_GUINT64_FORMAT
         "), %" G_GUINT64_FORMAT " loaded, pool of %u, %.1f s\n",
         done, seed, loaded, pool->len, (g_get_monotonic_time() - start) / 1e6);
  for (guint i = 0; i < pool->len; i++) {
    Input *in = g_ptr_array_index(pool, i);
    g_free(in->data);
    g_free(in);
  }
  g_ptr_array_unref(pool);
  g_byte_array_unref(b);
  return 0;
}
