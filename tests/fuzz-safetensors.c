/* fuzz-safetensors.c — the loader's fuzz target.
 *
 * Any byte string goes through the safetensors loader (and, since the
 * header reader is the riskiest part, through the JSON reader on its own).
 * A result must be either a file whose every getter works and whose values
 * are all finite, or NULL with a FORMAT error; anything else aborts. Built
 * with fuzz-driver.c as a bounded mutation test, or alone for libFuzzer. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "json.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visits every value so each getter runs; returns the number of values. */
static gsize
walk_json(const AenetJson *v, int depth)
{
  gsize n = 1;

  g_assert(depth <= 64);
  switch (aenet_json_get_type(v)) {
  case AENET_JSON_NULL:
    break;
  case AENET_JSON_BOOL:
    (void)aenet_json_get_bool(v);
    break;
  case AENET_JSON_NUMBER:
    g_assert(isfinite(aenet_json_get_number(v)));
    break;
  case AENET_JSON_STRING:
    g_assert(g_utf8_validate(aenet_json_get_string(v), -1, NULL));
    break;
  case AENET_JSON_ARRAY:
    for (guint i = 0; i < aenet_json_get_length(v); i++)
      n += walk_json(aenet_json_array_get(v, i), depth + 1);
    g_assert(aenet_json_array_get(v, aenet_json_get_length(v)) == NULL);
    break;
  case AENET_JSON_OBJECT:
    for (guint i = 0; i < aenet_json_get_length(v); i++) {
      const char *key;
      const AenetJson *m = aenet_json_object_get_member(v, i, &key);
      g_assert(g_utf8_validate(key, -1, NULL));
      g_assert(aenet_json_object_get(v, key) == m);
      n += walk_json(m, depth + 1);
    }
    break;
  default:
    g_assert_not_reached();
  }
  return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GError *error = NULL;
  AenetSafetensors *file;
  AenetJson *json;

  json = aenet_json_parse((const char *)data, size, &error);
  if (json != NULL) {
    g_assert(error == NULL);
    walk_json(json, 0);
    aenet_json_free(json);
  } else {
    g_assert(error != NULL && error->domain == AENET_ERROR);
    g_assert(strstr(error->message, "at byte") != NULL);
    g_clear_error(&error);
  }

  file = aenet_safetensors_load_from_data(data, size, "fuzz.safetensors", &error);
  if (file == NULL) {
    g_assert(error != NULL && error->domain == AENET_ERROR);
    g_assert(error->code == AENET_ERROR_FORMAT);
    g_assert(g_str_has_prefix(error->message, "fuzz.safetensors: "));
    g_error_free(error);
    return 0;
  }
  g_assert(error == NULL);

  {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init(&iter, file->metadata);
    while (g_hash_table_iter_next(&iter, &key, &value))
      g_assert(key != NULL && value != NULL);
  }
  for (guint i = 0; i < file->tensors->len; i++) {
    const AenetTensor *t = g_ptr_array_index(file->tensors, i);
    gsize n = 1;

    g_assert(t->name[0] != '\0');
    g_assert(aenet_safetensors_find(file, t->name) == t);
    g_assert(t->n_dims >= 0 && t->n_dims <= AENET_SAFETENSORS_MAX_DIMS);
    for (int d = 0; d < t->n_dims; d++)
      n *= (gsize)t->shape[d];
    g_assert(n == t->n_elements);
    /* Every tensor's bytes come from the input, so none can be larger. */
    g_assert(t->n_elements <= size);
    for (gsize k = 0; k < t->n_elements; k++)
      g_assert(isfinite(t->data[k]));
  }
  g_assert(aenet_safetensors_find(file, "") == NULL);
  aenet_safetensors_free(file);
  return 0;
}
