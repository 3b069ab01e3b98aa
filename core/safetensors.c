/* safetensors.c — reading and writing safetensors files.
 *
 * Reading: the whole file is in memory; the header is parsed with the strict
 * JSON reader and every entry is checked before any tensor data is touched.
 * Choices beyond the format's own rules (see docs/model-format.md):
 *   - a tensor entry may only have "dtype", "shape" and "data_offsets";
 *     any other key is rejected, so a typo cannot go unnoticed;
 *   - gaps between tensors in the data section are tolerated (the Python
 *     reader refuses them; our writer never makes them), overlaps are not;
 *   - F32, F16, BF16 and F64 are converted to F32; F64 values must fit;
 *   - NaN and infinite values are rejected.
 * Writing: F32 only, __metadata__ first with sorted keys, data contiguous in
 * the given order, header padded with spaces so the data starts at a
 * multiple of 8 bytes, the file replaced atomically. */
#include "config.h"

#include "safetensors.h"

#include <float.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"

/* A header larger than this is refused before it is read as JSON. */
#define HEADER_MAX_BYTES (100u * 1000u * 1000u)
/* Doubles hold integers exactly up to 2^53. */
#define MAX_JSON_INTEGER 9007199254740992.0

typedef enum {
  DTYPE_F32,
  DTYPE_F16,
  DTYPE_BF16,
  DTYPE_F64,
} Dtype;

static const struct {
  const char *name;
  Dtype dtype;
  gsize size;
} dtypes[] = {
  { "F32", DTYPE_F32, 4 },
  { "F16", DTYPE_F16, 2 },
  { "BF16", DTYPE_BF16, 2 },
  { "F64", DTYPE_F64, 8 },
};

/* One checked tensor entry, before its data is converted. */
typedef struct {
  const char *name; /* owned by the parsed header */
  guint dtype_index;
  int n_dims;
  gint64 shape[AENET_SAFETENSORS_MAX_DIMS];
  gsize n_elements;
  guint64 begin, end; /* relative to the data section */
} Entry;

static void
tensor_free(gpointer data)
{
  AenetTensor *t = data;
  g_free(t->name);
  g_free(t->data);
  g_free(t);
}

void
aenet_safetensors_free(AenetSafetensors *file)
{
  if (file == NULL)
    return;
  g_free(file->path);
  if (file->metadata != NULL)
    g_hash_table_unref(file->metadata);
  if (file->tensors != NULL)
    g_ptr_array_unref(file->tensors);
  g_free(file);
}

const AenetTensor *
aenet_safetensors_find(const AenetSafetensors *file, const char *name)
{
  g_return_val_if_fail(file != NULL && name != NULL, NULL);
  for (guint i = 0; i < file->tensors->len; i++) {
    const AenetTensor *t = g_ptr_array_index(file->tensors, i);
    if (strcmp(t->name, name) == 0)
      return t;
  }
  return NULL;
}

static gboolean G_GNUC_PRINTF(3, 4) fail(GError **error, const char *file, const char *format, ...)
{
  va_list args;
  char *message;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT, "%s: %s", file, message);
  g_free(message);
  return FALSE;
}

/* A JSON number that is a whole number in [0, max]. */
static gboolean
json_get_index(const AenetJson *v, double max, guint64 *out)
{
  double x;

  if (v == NULL || aenet_json_get_type(v) != AENET_JSON_NUMBER)
    return FALSE;
  x = aenet_json_get_number(v);
  if (!(x >= 0.0 && x <= max && x == floor(x)))
    return FALSE;
  *out = (guint64)x;
  return TRUE;
}

static gboolean
read_metadata(const AenetJson *meta, GHashTable *table, const char *file, GError **error)
{
  if (aenet_json_get_type(meta) != AENET_JSON_OBJECT)
    return fail(error, file, _("“__metadata__” is not an object of strings"));
  for (guint i = 0; i < aenet_json_get_length(meta); i++) {
    const char *key;
    const AenetJson *v = aenet_json_object_get_member(meta, i, &key);
    if (aenet_json_get_type(v) != AENET_JSON_STRING)
      return fail(error, file, _("metadata value of “%s” is not a string"), key);
    g_hash_table_insert(table, g_strdup(key), g_strdup(aenet_json_get_string(v)));
  }
  return TRUE;
}

/* Checks one tensor entry of the header against the data section size. */
static gboolean
read_entry(const char *tname, const AenetJson *info, guint64 data_size, Entry *e, const char *file,
           GError **error)
{
  const AenetJson *dtype, *shape, *offsets;
  const char *dname;
  guint64 n = 1, nbytes, begin, end;

  memset(e, 0, sizeof *e);
  e->name = tname;
  if (tname[0] == '\0')
    return fail(error, file, _("a tensor has an empty name"));
  if (aenet_json_get_type(info) != AENET_JSON_OBJECT)
    return fail(error, file, _("tensor “%s”: the entry is not an object"), tname);
  for (guint i = 0; i < aenet_json_get_length(info); i++) {
    const char *key;
    aenet_json_object_get_member(info, i, &key);
    if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 && strcmp(key, "data_offsets") != 0)
      return fail(error, file, _("tensor “%s”: unknown key “%s” in the entry"), tname, key);
  }

  dtype = aenet_json_object_get(info, "dtype");
  if (dtype == NULL || aenet_json_get_type(dtype) != AENET_JSON_STRING)
    return fail(error, file, _("tensor “%s”: missing or non-string “dtype”"), tname);
  dname = aenet_json_get_string(dtype);
  e->dtype_index = G_N_ELEMENTS(dtypes);
  for (guint i = 0; i < G_N_ELEMENTS(dtypes); i++)
    if (strcmp(dname, dtypes[i].name) == 0)
      e->dtype_index = i;
  if (e->dtype_index == G_N_ELEMENTS(dtypes))
    return fail(error, file,
                _("tensor “%s”: unsupported dtype “%s” (only F32, F16, BF16 and F64 are read)"),
                tname, dname);

  shape = aenet_json_object_get(info, "shape");
  if (shape == NULL || aenet_json_get_type(shape) != AENET_JSON_ARRAY)
    return fail(error, file, _("tensor “%s”: missing “shape” array"), tname);
  if (aenet_json_get_length(shape) > AENET_SAFETENSORS_MAX_DIMS)
    return fail(error, file, _("tensor “%s”: shape has %u dimensions, at most %d are supported"),
                tname, aenet_json_get_length(shape), AENET_SAFETENSORS_MAX_DIMS);
  e->n_dims = (int)aenet_json_get_length(shape);
  for (int d = 0; d < e->n_dims; d++) {
    guint64 dim;
    if (!json_get_index(aenet_json_array_get(shape, d), MAX_JSON_INTEGER, &dim))
      return fail(error, file, _("tensor “%s”: shape dimension %d is not a non-negative integer"),
                  tname, d);
    e->shape[d] = (gint64)dim;
    if (!g_uint64_checked_mul(&n, n, dim))
      return fail(error, file, _("tensor “%s”: shape is too large (its size overflows)"), tname);
  }
  if (!g_uint64_checked_mul(&nbytes, n, dtypes[e->dtype_index].size) || n > G_MAXSIZE / 4)
    return fail(error, file, _("tensor “%s”: shape is too large (its size overflows)"), tname);
  e->n_elements = (gsize)n;

  offsets = aenet_json_object_get(info, "data_offsets");
  if (offsets == NULL || aenet_json_get_type(offsets) != AENET_JSON_ARRAY
      || aenet_json_get_length(offsets) != 2)
    return fail(error, file, _("tensor “%s”: “data_offsets” is missing or not a pair [begin, end]"),
                tname);
  if (!json_get_index(aenet_json_array_get(offsets, 0), MAX_JSON_INTEGER, &begin)
      || !json_get_index(aenet_json_array_get(offsets, 1), MAX_JSON_INTEGER, &end))
    return fail(error, file, _("tensor “%s”: data_offsets are not whole numbers from 0 to 2^53"),
                tname);
  if (end < begin)
    return fail(
        error, file,
        /* TRANSLATORS: data_offsets, dtype and shape are keys of the file's header; keep them. */
        _("tensor “%s”: data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin"), tname,
        begin, end);
  if (end > data_size)
    return fail(error, file,
                _("tensor “%s”: data_offsets [%" PRIu64 ", %" PRIu64
                  "] run past the end of the data (%" PRIu64 " bytes)"),
                tname, begin, end, data_size);
  if (end - begin != nbytes)
    return fail(error, file,
                _("tensor “%s”: data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64
                  " bytes but the shape and dtype %s need %" PRIu64 " (size mismatch)"),
                tname, begin, end, end - begin, dtypes[e->dtype_index].name, nbytes);
  e->begin = begin;
  e->end = end;
  return TRUE;
}

static int
compare_entries(const void *a, const void *b)
{
  const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static float
half_to_float(guint16 h)
{
  guint32 sign = (guint32)(h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  union {
    guint32 u;
    float f;
  } v;

  if (exponent == 0) {
    /* Zero or subnormal: mantissa × 2^-24, exact in float. */
    float x = ldexpf((float)mantissa, -24);
    return sign ? -x : x;
  }
  /* exponent 31 (Inf/NaN) is rejected by the caller before this. */
  v.u = sign | ((exponent + 112) << 23) | (mantissa << 13);
  return v.f;
}

/* Converts the entry's bytes to floats, refusing NaN and Inf. */
static gboolean
convert_entry(const Entry *e, const guint8 *src, float *dst, const char *file, GError **error)
{
  for (gsize i = 0; i < e->n_elements; i++) {
    double x;

    switch (dtypes[e->dtype_index].dtype) {
    case DTYPE_F32: {
      union {
        guint32 u;
        float f;
      } v;
      memcpy(&v.u, src + 4 * i, 4);
      v.u = GUINT32_FROM_LE(v.u);
      x = v.f;
      break;
    }
    case DTYPE_F16: {
      guint16 h;
      memcpy(&h, src + 2 * i, 2);
      h = GUINT16_FROM_LE(h);
      x = ((h >> 10) & 0x1f) == 0x1f ? ((h & 0x3ff) ? NAN : INFINITY) : half_to_float(h);
      break;
    }
    case DTYPE_BF16: {
      union {
        guint32 u;
        float f;
      } v;
      guint16 h;
      memcpy(&h, src + 2 * i, 2);
      v.u = (guint32)GUINT16_FROM_LE(h) << 16;
      x = v.f;
      break;
    }
    case DTYPE_F64:
    default: {
      union {
        guint64 u;
        double d;
      } v;
      memcpy(&v.u, src + 8 * i, 8);
      v.u = GUINT64_FROM_LE(v.u);
      x = v.d;
      if (isfinite(x) && fabs(x) > FLT_MAX)
        return fail(error, file, _("tensor “%s”: element %zu (%g) is too large for a float"),
                    e->name, i, x);
      break;
    }
    }
    if (isnan(x))
      return fail(error, file, _("tensor “%s”: element %zu is NaN"), e->name, i);
    if (isinf(x))
      return fail(error, file, _("tensor “%s”: element %zu is infinite (Inf)"), e->name, i);
    dst[i] = (float)x;
  }
  return TRUE;
}

AenetSafetensors *
aenet_safetensors_load_from_data(const guint8 *data, gsize length, const char *name, GError **error)
{
  AenetSafetensors *file = NULL;
  AenetJson *header = NULL;
  Entry *entries = NULL;
  Entry **sorted = NULL;
  GError *json_error = NULL;
  guint64 header_len, data_size;
  const guint8 *data_start;
  guint n_entries = 0;

  g_return_val_if_fail(data != NULL || length == 0, NULL);
  if (name == NULL)
    name = "(memory)";

  if (length < 8) {
    fail(error, name,
         _("the file is too short (%zu bytes): truncated or not a "
           "safetensors file"),
         length);
    return NULL;
  }
  memcpy(&header_len, data, 8);
  header_len = GUINT64_FROM_LE(header_len);
  if (header_len > length - 8) {
    fail(error, name,
         _("the header length (%" PRIu64 " bytes) is larger than the rest of the file "
           "(%zu bytes): truncated or not a safetensors file"),
         header_len, length - 8);
    return NULL;
  }
  if (header_len > HEADER_MAX_BYTES) {
    fail(error, name,
         _("the header length (%" PRIu64 " bytes) is larger than the "
           "limit of %u bytes"),
         header_len, HEADER_MAX_BYTES);
    return NULL;
  }
  data_start = data + 8 + header_len;
  data_size = length - 8 - header_len;

  /* The format lets writers pad the header with trailing spaces, which JSON
   * allows as whitespace anyway. */
  header = aenet_json_parse((const char *)data + 8, (gsize)header_len, &json_error);
  if (header == NULL) {
    fail(error, name, _("the header is not valid JSON: %s"), json_error->message);
    g_error_free(json_error);
    return NULL;
  }
  if (aenet_json_get_type(header) != AENET_JSON_OBJECT) {
    fail(error, name, _("the header is not a JSON object"));
    goto error;
  }

  file = g_new0(AenetSafetensors, 1);
  file->path = g_strdup(name);
  file->metadata = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  file->tensors = g_ptr_array_new_with_free_func(tensor_free);

  /* Check every entry first; duplicate names were already refused by the
   * JSON reader (duplicate keys). */
  entries = g_new0(Entry, aenet_json_get_length(header) + 1);
  for (guint i = 0; i < aenet_json_get_length(header); i++) {
    const char *key;
    const AenetJson *v = aenet_json_object_get_member(header, i, &key);

    if (strcmp(key, "__metadata__") == 0) {
      if (!read_metadata(v, file->metadata, name, error))
        goto error;
    } else {
      if (!read_entry(key, v, data_size, &entries[n_entries], name, error))
        goto error;
      n_entries++;
    }
  }

  /* Overlaps: sort the non-empty spans by where they begin; each must start
   * at or after the end of the one before. */
  sorted = g_new(Entry *, n_entries + 1);
  {
    guint n_sorted = 0;
    for (guint i = 0; i < n_entries; i++)
      if (entries[i].end > entries[i].begin)
        sorted[n_sorted++] = &entries[i];
    qsort(sorted, n_sorted, sizeof *sorted, compare_entries);
    for (guint i = 1; i < n_sorted; i++) {
      const Entry *a = sorted[i - 1], *b = sorted[i];
      if (b->begin < a->end) {
        fail(error, name,
             _("tensors “%s” [%" PRIu64 ", %" PRIu64 "] and “%s” [%" PRIu64 ", %" PRIu64
               "] overlap in the data"),
             a->name, a->begin, a->end, b->name, b->begin, b->end);
        goto error;
      }
    }
  }

  for (guint i = 0; i < n_entries; i++) {
    const Entry *e = &entries[i];
    AenetTensor *t = g_new0(AenetTensor, 1);

    t->name = g_strdup(e->name);
    t->n_dims = e->n_dims;
    memcpy(t->shape, e->shape, sizeof t->shape);
    t->n_elements = e->n_elements;
    t->data = g_new(float, e->n_elements);
    g_ptr_array_add(file->tensors, t);
    if (!convert_entry(e, data_start + e->begin, t->data, name, error))
      goto error;
  }

  g_free(sorted);
  g_free(entries);
  aenet_json_free(header);
  return file;

error:
  g_free(sorted);
  g_free(entries);
  aenet_json_free(header);
  aenet_safetensors_free(file);
  return NULL;
}

AenetSafetensors *
aenet_safetensors_load(const char *path, GError **error)
{
  GError *read_error = NULL;
  char *contents = NULL;
  gsize length = 0;
  AenetSafetensors *file;

  g_return_val_if_fail(path != NULL, NULL);
  /* GLib's message names the file and the system's reason. */
  if (!g_file_get_contents(path, &contents, &length, &read_error)) {
    g_set_error_literal(error, AENET_ERROR, AENET_ERROR_IO, read_error->message);
    g_error_free(read_error);
    return NULL;
  }
  file = aenet_safetensors_load_from_data((const guint8 *)contents, length, path, error);
  g_free(contents);
  return file;
}

static int
compare_strings(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gboolean G_GNUC_PRINTF(3, 4)
    invalid(GError **error, const char *path, const char *format, ...)
{
  va_list args;
  char *message;

  va_start(args, format);
  message = g_strdup_vprintf(format, args);
  va_end(args);
  /* TRANSLATORS: the first %s is a file name, the second says what is wrong. */
  g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("Cannot write %s: %s"), path, message);
  g_free(message);
  return FALSE;
}

/* Checks what the loader would refuse, so a saved file always loads. */
static gboolean
check_tensors(const char *path, const AenetTensor *const *tensors, guint n_tensors, GError **error)
{
  GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
  gboolean ok = FALSE;

  for (guint i = 0; i < n_tensors; i++) {
    const AenetTensor *t = tensors[i];
    guint64 n = 1;

    if (t == NULL || t->name == NULL || t->name[0] == '\0'
        || strcmp(t->name, "__metadata__") == 0) {
      /* TRANSLATORS: %u is the position of the tensor in the list to save, from 0. */
      invalid(error, path, _("tensor %u has no name or a reserved one"), i);
      goto out;
    }
    if (!g_hash_table_add(names, t->name)) {
      invalid(error, path, _("two tensors are named “%s”"), t->name);
      goto out;
    }
    if (t->n_dims < 0 || t->n_dims > AENET_SAFETENSORS_MAX_DIMS) {
      invalid(error, path, _("tensor “%s” has %d dimensions"), t->name, t->n_dims);
      goto out;
    }
    for (int d = 0; d < t->n_dims; d++)
      if (t->shape[d] < 0 || !g_uint64_checked_mul(&n, n, (guint64)t->shape[d]))
        n = G_MAXUINT64;
    if (n != t->n_elements) {
      invalid(error, path, _("tensor “%s”: its shape does not match its %zu elements"), t->name,
              t->n_elements);
      goto out;
    }
    if (n > 0 && t->data == NULL) {
      invalid(error, path, _("tensor “%s” has no data"), t->name);
      goto out;
    }
    for (gsize k = 0; k < t->n_elements; k++)
      if (!isfinite(t->data[k])) {
        invalid(error, path, _("tensor “%s”: element %zu is NaN or infinite"), t->name, k);
        goto out;
      }
  }
  ok = TRUE;
out:
  g_hash_table_unref(names);
  return ok;
}

gboolean
aenet_safetensors_save(const char *path, const AenetTensor *const *tensors, guint n_tensors,
                       GHashTable *metadata, GError **error)
{
  GString *header, *out;
  GError *write_error = NULL;
  guint64 offset = 0, header_len;
  gboolean first = TRUE, ok;

  g_return_val_if_fail(path != NULL, FALSE);
  g_return_val_if_fail(tensors != NULL || n_tensors == 0, FALSE);
  if (!check_tensors(path, tensors, n_tensors, error))
    return FALSE;

  header = g_string_new("{");
  if (metadata != NULL && g_hash_table_size(metadata) > 0) {
    guint n_keys;
    gpointer *keys = g_hash_table_get_keys_as_array(metadata, &n_keys);

    qsort(keys, n_keys, sizeof *keys, compare_strings);
    g_string_append(header, "\"__metadata__\":{");
    for (guint i = 0; i < n_keys; i++) {
      const char *value = g_hash_table_lookup(metadata, keys[i]);
      if (i > 0)
        g_string_append_c(header, ',');
      aenet_json_append_string(header, keys[i]);
      g_string_append_c(header, ':');
      aenet_json_append_string(header, value != NULL ? value : "");
    }
    g_string_append_c(header, '}');
    g_free(keys);
    first = FALSE;
  }
  for (guint i = 0; i < n_tensors; i++) {
    const AenetTensor *t = tensors[i];
    guint64 nbytes = (guint64)t->n_elements * 4;

    if (!first)
      g_string_append_c(header, ',');
    first = FALSE;
    aenet_json_append_string(header, t->name);
    g_string_append(header, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < t->n_dims; d++)
      g_string_append_printf(header, "%s%" G_GINT64_FORMAT, d ? "," : "", t->shape[d]);
    g_string_append_printf(header,
                           "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                           offset, offset + nbytes);
    offset += nbytes;
  }
  g_string_append_c(header, '}');
  /* Pad so the data, which follows the 8-byte length, starts 8-aligned. */
  while (header->len % 8 != 0)
    g_string_append_c(header, ' ');

  out = g_string_sized_new(8 + header->len + offset);
  header_len = GUINT64_TO_LE((guint64)header->len);
  g_string_append_len(out, (const char *)&header_len, 8);
  g_string_append_len(out, header->str, header->len);
  for (guint i = 0; i < n_tensors; i++) {
    const AenetTensor *t = tensors[i];
    for (gsize k = 0; k < t->n_elements; k++) {
      union {
        float f;
        guint32 u;
      } v;
      v.f = t->data[k];
      v.u = GUINT32_TO_LE(v.u);
      g_string_append_len(out, (const char *)&v.u, 4);
    }
  }
  g_string_free(header, TRUE);

  /* A temporary file beside the target, flushed to disk, then renamed. */
  ok = g_file_set_contents_full(path, out->str, (gssize)out->len,
                                G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0666,
                                &write_error);
  g_string_free(out, TRUE);
  if (!ok) {
    g_set_error_literal(error, AENET_ERROR, AENET_ERROR_IO, write_error->message);
    g_error_free(write_error);
  }
  return ok;
}
