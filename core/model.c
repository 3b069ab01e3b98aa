/* model.c — model files: a safetensors file whose metadata describes the
 * network and whose tensors are exactly its parameters. */
#include "config.h"

#include "model.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "error.h"
#include "safetensors.h"
#include "task.h"

#define MODEL_SUFFIX ".safetensors"

static int
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static GPtrArray *extra_dirs; /* char *, added by the program */
G_LOCK_DEFINE_STATIC(extra_dirs);

static gboolean
parse_scale(const char *text, int *scale)
{
  char *end = NULL;
  gint64 v = text != NULL ? g_ascii_strtoll(text, &end, 10) : 0;
  if (text == NULL || end == text || *end != '\0' || v < 1 || v > 4)
    return FALSE;
  *scale = (int)v;
  return TRUE;
}

/* Checks that task, scale and graph agree with each other and with the
 * task table's row for the task. */
static gboolean
check_task(const char *name, const char *task, int scale, const AenetNetwork *net, GError **error)
{
  const AenetTask *row = aenet_task_find_for_model(task);
  if (row == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                /* TRANSLATORS: the first %s is the model file's name or “new model”; the
                   second the task named in the file. */
                _("%s: the task “%s” is not one aenet knows"), name, task ? task : _("(missing)"));
    return FALSE;
  }
  int net_scale = aenet_network_get_scale(net);
  if (net_scale != scale || scale < row->min_scale || scale > row->max_scale) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                /* TRANSLATORS: the first %s is the model file's name, the second its task, the
                   keyword “denoise” or “upscale”. */
                _("%s: a %s model with scale %d does not fit its network, which scales by %d"),
                name, task, scale, net_scale);
    return FALSE;
  }
  return TRUE;
}

AenetModel *
aenet_model_new(const char *task, const char *graph_json, GError **error)
{
  AenetNetwork *net = aenet_network_new(graph_json, strlen(graph_json), error);
  if (net == NULL)
    return NULL;
  int scale = aenet_network_get_scale(net);
  /* TRANSLATORS: stands for the file name in messages about a model being created. */
  if (!check_task(_("new model"), task, scale, net, error)) {
    aenet_network_free(net);
    return NULL;
  }
  AenetModel *model = g_new0(AenetModel, 1);
  model->task = g_strdup(task);
  model->scale = scale;
  model->network = net;
  model->metadata = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  return model;
}

AenetModel *
aenet_model_load(const char *path, GError **error)
{
  AenetSafetensors *file = aenet_safetensors_load(path, error);
  if (file == NULL)
    return NULL;
  char *base = g_path_get_basename(path);
  AenetModel *model = NULL;
  AenetNetwork *net = NULL;
  const char *format = g_hash_table_lookup(file->metadata, "aenet.format");
  const char *task = g_hash_table_lookup(file->metadata, "aenet.task");
  const char *scale_text = g_hash_table_lookup(file->metadata, "aenet.scale");
  const char *graph = g_hash_table_lookup(file->metadata, "aenet.graph");
  int scale = 0;

  if (format == NULL || graph == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                /* TRANSLATORS: %s is the model file's name; aenet.format, aenet.graph and
                   aenet.scale (below) are metadata keys, keep them. */
                _("%s: not an aenet model (its metadata has no aenet.format or aenet.graph)"),
                base);
    goto out;
  }
  if (strcmp(format, "1") != 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                _("%s: model format version “%s” is not supported (this aenet reads 1)"), base,
                format);
    goto out;
  }
  if (!parse_scale(scale_text, &scale)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                _("%s: aenet.scale must be 1, 2, 3 or 4, not “%s”"), base,
                /* TRANSLATORS: shown in place of a metadata value that the model file lacks. */
                scale_text ? scale_text : _("(missing)"));
    goto out;
  }
  net = aenet_network_new(graph, strlen(graph), error);
  if (net == NULL) {
    g_prefix_error(error, "%s: ", base);
    goto out;
  }
  if (!check_task(base, task, scale, net, error))
    goto out;

  /* Every parameter present with its shape, and nothing else. */
  guint n_tensors = aenet_network_get_n_param_tensors(net);
  float *params = aenet_network_get_params(net);
  for (guint i = 0; i < n_tensors; i++) {
    const AenetParamInfo *info = aenet_network_get_param_info(net, i);
    const AenetTensor *t = aenet_safetensors_find(file, info->name);
    if (t == NULL) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                  /* TRANSLATORS: the first %s is the model file's name, the second a tensor name
                     such as “nodes.3.weight”. */
                  _("%s: tensor “%s” is missing"), base, info->name);
      goto out;
    }
    gboolean same = t->n_dims == info->n_dims;
    for (int d = 0; same && d < info->n_dims; d++)
      same = t->shape[d] == info->shape[d];
    if (!same) {
      GString *want = g_string_new(NULL);
      for (int d = 0; d < info->n_dims; d++)
        g_string_append_printf(want, "%s%" G_GINT64_FORMAT, d ? ", " : "", info->shape[d]);
      g_set_error(
          error, AENET_ERROR, AENET_ERROR_MODEL,
          /* TRANSLATORS: the last %s lists the sizes the network expects, such as “64, 3, 3, 3”. */
          _("%s: tensor “%s” has the wrong shape (the network needs [%s])"), base, info->name,
          want->str);
      g_string_free(want, TRUE);
      goto out;
    }
    memcpy(params + info->offset, t->data, info->n_elements * sizeof(float));
  }
  if (file->tensors->len != n_tensors) {
    for (guint i = 0; i < file->tensors->len; i++) {
      const AenetTensor *t = g_ptr_array_index(file->tensors, i);
      gboolean known = FALSE;
      for (guint j = 0; !known && j < n_tensors; j++)
        known = strcmp(aenet_network_get_param_info(net, j)->name, t->name) == 0;
      if (!known) {
        g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                    _("%s: tensor “%s” is not a parameter of the network"), base, t->name);
        goto out;
      }
    }
  }

  model = g_new0(AenetModel, 1);
  model->path = g_strdup(path);
  model->task = g_strdup(task);
  model->scale = scale;
  model->network = g_steal_pointer(&net);
  model->metadata = g_steal_pointer(&file->metadata);
out:
  aenet_network_free(net);
  aenet_safetensors_free(file);
  g_free(base);
  return model;
}

void
aenet_model_free(AenetModel *model)
{
  if (model == NULL)
    return;
  g_free(model->path);
  g_free(model->task);
  aenet_network_free(model->network);
  if (model->metadata != NULL)
    g_hash_table_unref(model->metadata);
  g_free(model);
}

gboolean
aenet_model_save(const AenetModel *model, const char *path, GError **error)
{
  AenetNetwork *net = model->network;
  guint n = aenet_network_get_n_param_tensors(net);
  AenetTensor *tensors = g_new0(AenetTensor, n);
  const AenetTensor **list = g_new(const AenetTensor *, n);
  float *params = aenet_network_get_params(net);
  for (guint i = 0; i < n; i++) {
    const AenetParamInfo *info = aenet_network_get_param_info(net, i);
    tensors[i].name = (char *)info->name;
    tensors[i].n_dims = info->n_dims;
    memcpy(tensors[i].shape, info->shape, sizeof info->shape);
    tensors[i].n_elements = info->n_elements;
    tensors[i].data = params + info->offset;
    list[i] = &tensors[i];
  }
  GHashTable *meta = g_hash_table_new(g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer k, v;
  g_hash_table_iter_init(&iter, model->metadata);
  while (g_hash_table_iter_next(&iter, &k, &v))
    g_hash_table_insert(meta, k, v);
  char *graph = aenet_network_to_json(net);
  char scale[16];
  g_snprintf(scale, sizeof scale, "%d", model->scale);
  g_hash_table_insert(meta, "aenet.format", "1");
  g_hash_table_insert(meta, "aenet.task", model->task);
  g_hash_table_insert(meta, "aenet.scale", scale);
  g_hash_table_insert(meta, "aenet.graph", graph);
  gboolean ok = aenet_safetensors_save(path, list, n, meta, error);
  g_hash_table_unref(meta);
  g_free(graph);
  g_free(list);
  g_free(tensors);
  return ok;
}

const char *
aenet_model_get_meta(const AenetModel *model, const char *key)
{
  return g_hash_table_lookup(model->metadata, key);
}

void
aenet_model_set_meta(AenetModel *model, const char *key, const char *value)
{
  g_hash_table_replace(model->metadata, g_strdup(key), g_strdup(value));
}

const char *
aenet_model_get_display_name(const AenetModel *model)
{
  const char *name = aenet_model_get_meta(model, "name");
  if (name != NULL && *name != '\0')
    return name;
  if (model->path == NULL)
    return "unnamed";
  const char *base = strrchr(model->path, G_DIR_SEPARATOR);
  return base != NULL ? base + 1 : model->path;
}

/* ---- finding models --------------------------------------------------- */

void
aenet_model_add_search_dir(const char *dir)
{
  G_LOCK(extra_dirs);
  if (extra_dirs == NULL)
    extra_dirs = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(extra_dirs, g_strdup(dir));
  G_UNLOCK(extra_dirs);
}

char *
aenet_model_get_user_dir(void)
{
  return g_build_filename(g_get_user_data_dir(), "aenet", "models", NULL);
}

char **
aenet_model_get_search_dirs(void)
{
  GPtrArray *dirs = g_ptr_array_new();
  const char *env = g_getenv("AENET_MODEL_PATH");
  if (env != NULL) {
    char **parts = g_strsplit(env, G_SEARCHPATH_SEPARATOR_S, -1);
    for (char **p = parts; *p != NULL; p++)
      if (**p != '\0')
        g_ptr_array_add(dirs, g_strdup(*p));
    g_strfreev(parts);
  }
  g_ptr_array_add(dirs, aenet_model_get_user_dir());
  g_ptr_array_add(dirs, g_strdup(AENET_MODELDIR));
  G_LOCK(extra_dirs);
  for (guint i = 0; extra_dirs != NULL && i < extra_dirs->len; i++)
    g_ptr_array_add(dirs, g_strdup(g_ptr_array_index(extra_dirs, i)));
  G_UNLOCK(extra_dirs);
  g_ptr_array_add(dirs, NULL);
  return (char **)g_ptr_array_free(dirs, FALSE);
}

char *
aenet_model_find(const char *name_or_path, GError **error)
{
  if (strchr(name_or_path, G_DIR_SEPARATOR) != NULL
      || g_file_test(name_or_path, G_FILE_TEST_IS_REGULAR)) {
    if (g_file_test(name_or_path, G_FILE_TEST_IS_REGULAR))
      return g_strdup(name_or_path);
    g_set_error(error, AENET_ERROR, AENET_ERROR_IO, _("model file %s does not exist"),
                name_or_path);
    return NULL;
  }
  char *file = g_str_has_suffix(name_or_path, MODEL_SUFFIX)
                   ? g_strdup(name_or_path)
                   : g_strconcat(name_or_path, MODEL_SUFFIX, NULL);
  char **dirs = aenet_model_get_search_dirs();
  char *found = NULL;
  for (char **d = dirs; found == NULL && *d != NULL; d++) {
    char *path = g_build_filename(*d, file, NULL);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
      found = path;
    else
      g_free(path);
  }
  if (found == NULL) {
    char *list = g_strjoinv(", ", dirs);
    g_set_error(error, AENET_ERROR, AENET_ERROR_IO,
                /* TRANSLATORS: the second %s is a comma-separated list of folders. */
                _("no model named “%s” was found (looked in %s)"), name_or_path, list);
    g_free(list);
  }
  g_strfreev(dirs);
  g_free(file);
  return found;
}

AenetModel *
aenet_model_load_named(const char *name_or_path, GError **error)
{
  char *path = aenet_model_find(name_or_path, error);
  AenetModel *model = path != NULL ? aenet_model_load(path, error) : NULL;
  g_free(path);
  return model;
}

GPtrArray *
aenet_model_list_installed(void)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
  GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  char **dirs = aenet_model_get_search_dirs();
  for (char **d = dirs; *d != NULL; d++) {
    GDir *dir = g_dir_open(*d, 0, NULL);
    if (dir == NULL)
      continue;
    GPtrArray *names = g_ptr_array_new();
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL)
      if (g_str_has_suffix(name, MODEL_SUFFIX) && !g_hash_table_contains(seen, name))
        g_ptr_array_add(names, g_strdup(name));
    g_dir_close(dir);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
      char *n = g_ptr_array_index(names, i);
      g_ptr_array_add(paths, g_build_filename(*d, n, NULL));
      g_hash_table_add(seen, n);
    }
    g_ptr_array_free(names, FALSE);
  }
  g_strfreev(dirs);
  g_hash_table_unref(seen);
  return paths;
}
