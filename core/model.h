/* model.h — a trained model: a network, its weights and what it is for.
 *
 * A model file is a safetensors file (see safetensors.h and
 * docs/model-format.md) whose __metadata__ holds:
 *   aenet.format   "1"
 *   aenet.task     a task's model_task (task.h): "denoise" or "upscale"
 *   aenet.scale    within the task's scales: "1" for denoise, "2" to "4" for upscale
 *   aenet.graph    the network description (see network.h)
 *   name, description, training_data, steps, quality, … free text
 * and whose tensors are the network's parameters, each present with the
 * right shape and nothing else.
 *
 * Models are found by name in, in order: each folder of $AENET_MODEL_PATH
 * (colon-separated), the user's folder (~/.local/share/aenet/models), the
 * installed data folder, and extra folders the program adds (the source
 * tree's models/ when run from a build directory). */
#ifndef AENET_MODEL_H
#define AENET_MODEL_H

#include <glib.h>
#include "network.h"

G_BEGIN_DECLS

typedef struct {
  char *path; /* file it was loaded from, or NULL */
  char *task; /* "denoise" or "upscale" */
  int scale;  /* 1 for denoise */
  AenetNetwork *network;
  GHashTable *metadata; /* every metadata string, char * -> char * */
} AenetModel;

AenetModel *aenet_model_load(const char *path, GError **error);
/* A new model with zero parameters; scale must match the graph. */
AenetModel *aenet_model_new(const char *task, const char *graph_json, GError **error);
void aenet_model_free(AenetModel *model); /* NULL is fine */
/* Writes parameters and metadata atomically. */
gboolean aenet_model_save(const AenetModel *model, const char *path, GError **error);

const char *aenet_model_get_meta(const AenetModel *model, const char *key);
void aenet_model_set_meta(AenetModel *model, const char *key, const char *value);
/* A name to show the user: metadata "name", else the file's base name. */
const char *aenet_model_get_display_name(const AenetModel *model);

/* Adds a folder searched after the standard ones (process-wide). */
void aenet_model_add_search_dir(const char *dir);
/* The folders searched, in order (free with g_strfreev). */
char **aenet_model_get_search_dirs(void);
/* The user's model folder (~/.local/share/aenet/models); free with g_free. */
char *aenet_model_get_user_dir(void);
/* Resolves a path, or a model name (with or without .safetensors) in the
 * search folders, to a path (free with g_free). */
char *aenet_model_find(const char *name_or_path, GError **error);
/* aenet_model_find, then aenet_model_load. */
AenetModel *aenet_model_load_named(const char *name_or_path, GError **error);
/* Paths of every model file in the search folders, first occurrence of each
 * file name only (free with g_ptr_array_unref). */
GPtrArray *aenet_model_list_installed(void);

G_END_DECLS

#endif
