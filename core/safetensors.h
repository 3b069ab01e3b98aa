/* safetensors.h — reading and writing safetensors files.
 *
 * File layout (all little-endian):
 *   u64 N                      length of the header in bytes
 *   N bytes of JSON            { "__metadata__": { "key": "string", ... },
 *                                "name": { "dtype": "F32", "shape": [..],
 *                                          "data_offsets": [begin, end] }, ... }
 *   data                       offsets are relative to the end of the header
 *
 * The reader checks everything: header length against the file size, valid
 * JSON, known dtype, shape × element size = data_offsets span, offsets inside
 * the data and not overlapping, metadata values being strings, and (for
 * float tensors) no NaN or Inf. Tensors are converted to F32 on load (F32,
 * F16 and BF16 are accepted). Every error names the file and the problem.
 * Writing is atomic: a temporary file beside the target, then a rename. */
#ifndef AENET_SAFETENSORS_H
#define AENET_SAFETENSORS_H

#include <glib.h>

G_BEGIN_DECLS

#define AENET_SAFETENSORS_MAX_DIMS 8

typedef struct {
  char *name;
  int n_dims;
  gint64 shape[AENET_SAFETENSORS_MAX_DIMS];
  gsize n_elements;
  float *data; /* n_elements floats, owned by the file object */
} AenetTensor;

typedef struct {
  char *path;           /* as given to load, for messages */
  GHashTable *metadata; /* char * -> char *, owned */
  GPtrArray *tensors;   /* AenetTensor *, in file order, owned */
} AenetSafetensors;

AenetSafetensors *aenet_safetensors_load(const char *path, GError **error);
/* Parses a file already in memory; name is used in messages. */
AenetSafetensors *aenet_safetensors_load_from_data(const guint8 *data, gsize length,
                                                   const char *name, GError **error);
void aenet_safetensors_free(AenetSafetensors *file); /* NULL is fine */

/* Tensor by name or NULL. */
const AenetTensor *aenet_safetensors_find(const AenetSafetensors *file, const char *name);

/* Writes tensors (F32) and metadata (may be NULL) to path atomically.
 * Names must be unique. */
gboolean aenet_safetensors_save(const char *path, const AenetTensor *const *tensors,
                                guint n_tensors, GHashTable *metadata, GError **error);

G_END_DECLS

#endif
