/* test-model.c — model files: round trip, every rejection the loader makes
 * of a wrong model, and finding models by name. */
#include <glib/gstdio.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "presets.h"
#include "safetensors.h"
#include "testutil.h"

static const char *const tiny_graph
    = "[{\"op\": \"input\", \"channels\": 3}, {\"op\": \"noise_level\"},"
      " {\"op\": \"concat\", \"in\": [0, 1]}, {\"op\": \"conv\", \"out\": 4, \"k\": 3},"
      " {\"op\": \"prelu\"}, {\"op\": \"conv\", \"out\": 3, \"k\": 1, \"bias\": false},"
      " {\"op\": \"add\", \"in\": [5, 0]}]";

static AenetModel *
tiny_model(void)
{
  GError *error = NULL;
  AenetModel *m = aenet_model_new("denoise", tiny_graph, &error);
  g_assert_no_error(error);
  aenet_network_init_params(m->network, 3);
  aenet_model_set_meta(m, "name", "Tiny");
  aenet_model_set_meta(m, "description", "a test model");
  return m;
}

static void
test_round_trip(void)
{
  char *dir = test_tmpdir_new();
  char *path = g_build_filename(dir, "tiny.safetensors", NULL);
  AenetModel *m = tiny_model();
  GError *error = NULL;
  g_assert_true(aenet_model_save(m, path, &error));
  g_assert_no_error(error);
  AenetModel *back = aenet_model_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(back->task, ==, "denoise");
  g_assert_cmpint(back->scale, ==, 1);
  g_assert_cmpstr(aenet_model_get_display_name(back), ==, "Tiny");
  g_assert_cmpstr(aenet_model_get_meta(back, "description"), ==, "a test model");
  gsize n = aenet_network_get_n_params(m->network);
  g_assert_cmpuint(n, ==, aenet_network_get_n_params(back->network));
  g_assert_cmpmem(aenet_network_get_params(m->network), n * sizeof(float),
                  aenet_network_get_params(back->network), n * sizeof(float));
  g_assert_true(aenet_network_takes_noise_level(back->network));
  aenet_model_free(back);
  aenet_model_free(m);
  g_free(path);
  test_tmpdir_remove(dir);
  g_free(dir);
}

/* Writes a model file with the tiny model's tensors, changed by `edit`. */
typedef void (*EditFunc)(GPtrArray *tensors, GHashTable *meta);

static char *
write_edited(const char *dir, EditFunc edit)
{
  AenetModel *m = tiny_model();
  GPtrArray *tensors = g_ptr_array_new();
  AenetTensor *storage = g_new0(AenetTensor, 16);
  for (guint i = 0; i < aenet_network_get_n_param_tensors(m->network); i++) {
    const AenetParamInfo *p = aenet_network_get_param_info(m->network, i);
    AenetTensor *t = &storage[i];
    t->name = (char *)p->name;
    t->n_dims = p->n_dims;
    memcpy(t->shape, p->shape, sizeof p->shape);
    t->n_elements = p->n_elements;
    t->data = aenet_network_get_params(m->network) + p->offset;
    g_ptr_array_add(tensors, t);
  }
  GHashTable *meta = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(meta, "aenet.format", "1");
  g_hash_table_insert(meta, "aenet.task", "denoise");
  g_hash_table_insert(meta, "aenet.scale", "1");
  g_hash_table_insert(meta, "aenet.graph", (char *)tiny_graph);
  edit(tensors, meta);
  char *path = g_build_filename(dir, "edited.safetensors", NULL);
  GError *error = NULL;
  g_assert_true(aenet_safetensors_save(path, (const AenetTensor *const *)tensors->pdata,
                                       tensors->len, meta, &error));
  g_assert_no_error(error);
  g_hash_table_unref(meta);
  g_ptr_array_unref(tensors);
  g_free(storage);
  aenet_model_free(m);
  return path;
}

static void
drop_bias(GPtrArray *t, GHashTable *meta)
{
  g_ptr_array_remove_index(t, 1); /* nodes.3.bias */
}

static float extra_data[2] = { 1, 2 };
static AenetTensor extra = { "nodes.9.weight", 1, { 2 }, 2, extra_data };

static void
add_extra(GPtrArray *t, GHashTable *meta)
{
  g_ptr_array_add(t, &extra);
}

static void
reshape_weight(GPtrArray *t, GHashTable *meta)
{
  AenetTensor *w = g_ptr_array_index(t, 0);
  w->shape[1] = 2; /* 4 × 2 × 3 × 3 × 2 would be wrong; keep the count */
  w->shape[0] = 8;
}

static void
bad_task(GPtrArray *t, GHashTable *meta)
{
  g_hash_table_insert(meta, "aenet.task", "colourise");
}

static void
bad_scale(GPtrArray *t, GHashTable *meta)
{
  g_hash_table_insert(meta, "aenet.scale", "2");
}

static void
bad_format(GPtrArray *t, GHashTable *meta)
{
  g_hash_table_insert(meta, "aenet.format", "7");
}

static void
no_graph(GPtrArray *t, GHashTable *meta)
{
  g_hash_table_remove(meta, "aenet.graph");
}

static void
bad_graph(GPtrArray *t, GHashTable *meta)
{
  g_hash_table_insert(meta, "aenet.graph", "[{\"op\": \"input\"}, {\"op\": \"warp\"}]");
}

static void
test_rejections(void)
{
  struct {
    EditFunc edit;
    const char *fragment;
  } cases[] = {
    { drop_bias, "“nodes.3.bias” is missing" },
    { add_extra, "not a parameter" },
    { reshape_weight, "wrong shape" },
    { bad_task, "task" },
    { bad_scale, "does not fit" },
    { bad_format, "format version" },
    { no_graph, "not an aenet model" },
    { bad_graph, "unknown operation" },
  };
  char *dir = test_tmpdir_new();
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *path = write_edited(dir, cases[i].edit);
    GError *error = NULL;
    AenetModel *m = aenet_model_load(path, &error);
    g_assert_null(m);
    g_assert_nonnull(error);
    if (strstr(error->message, cases[i].fragment) == NULL
        || strstr(error->message, "edited.safetensors") == NULL)
      g_error("case %u: message “%s” lacks “%s” or the file name", i, error->message,
              cases[i].fragment);
    g_error_free(error);
    g_free(path);
  }
  /* A file that is not a model at all, and one that is missing. */
  char *junk = g_build_filename(dir, "junk.safetensors", NULL);
  g_assert_true(g_file_set_contents(junk, "hello", 5, NULL));
  GError *error = NULL;
  g_assert_null(aenet_model_load(junk, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
  g_clear_error(&error);
  g_assert_null(aenet_model_load("/nonexistent/model.safetensors", &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
  g_clear_error(&error);
  g_free(junk);
  test_tmpdir_remove(dir);
  g_free(dir);
}

static void
test_find(void)
{
  char *dir = test_tmpdir_new();
  char *a = g_build_filename(dir, "a", NULL), *b = g_build_filename(dir, "b", NULL);
  g_mkdir(a, 0755);
  g_mkdir(b, 0755);
  AenetModel *m = tiny_model();
  char *pa = g_build_filename(a, "denoise.safetensors", NULL);
  char *pb = g_build_filename(b, "denoise.safetensors", NULL);
  char *pb2 = g_build_filename(b, "mine.safetensors", NULL);
  GError *error = NULL;
  g_assert_true(aenet_model_save(m, pa, &error) && aenet_model_save(m, pb, &error)
                && aenet_model_save(m, pb2, &error));
  char *env = g_strjoin(":", a, b, NULL);
  g_setenv("AENET_MODEL_PATH", env, TRUE);
  g_setenv("XDG_DATA_HOME", dir, TRUE);

  /* The first folder wins; names work with or without the suffix. */
  char *found = aenet_model_find("denoise", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(found, ==, pa);
  g_free(found);
  found = aenet_model_find("mine", &error);
  g_assert_cmpstr(found, ==, pb2);
  g_free(found);
  found = aenet_model_find("mine.safetensors", &error);
  g_assert_cmpstr(found, ==, pb2);
  g_free(found);
  g_assert_null(aenet_model_find("nobody", &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
  g_assert_nonnull(strstr(error->message, "nobody"));
  g_clear_error(&error);
  /* Not in our folders: an error naming it, or a model installed on this
   * machine (the installed data folder is always searched). */
  found = aenet_model_find("upscale-x3", &error);
  if (found == NULL) {
    g_assert_nonnull(strstr(error->message, "upscale-x3"));
    g_clear_error(&error);
  } else
    g_assert_false(g_str_has_prefix(found, dir));
  g_free(found);

  /* The list has each file name once, the first occurrence: of our files,
   * a's denoise and b's mine, in that order, before anything installed. */
  GPtrArray *list = aenet_model_list_installed();
  g_assert_cmpuint(list->len, >=, 2);
  g_assert_cmpstr(g_ptr_array_index(list, 0), ==, pa);
  g_assert_cmpstr(g_ptr_array_index(list, 1), ==, pb2);
  for (guint i = 2; i < list->len; i++) {
    g_assert_false(g_str_has_prefix(g_ptr_array_index(list, i), dir));
    g_assert_false(g_str_has_suffix(g_ptr_array_index(list, i), "/denoise.safetensors"));
  }
  g_ptr_array_unref(list);

  char *user = aenet_model_get_user_dir();
  g_assert_true(g_str_has_prefix(user, dir));
  g_free(user);
  g_unsetenv("AENET_MODEL_PATH");
  g_free(env), g_free(pa), g_free(pb), g_free(pb2), g_free(a), g_free(b);
  aenet_model_free(m);
  test_tmpdir_remove(dir);
  g_free(dir);
}

static void
test_new_checks_task(void)
{
  GError *error = NULL;
  const AenetPreset *p = aenet_preset_find("unet-x2", &error);
  char *graph = aenet_preset_build_graph(p);
  g_assert_null(aenet_model_new("denoise", graph, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_MODEL);
  g_clear_error(&error);
  AenetModel *m = aenet_model_new("upscale", graph, &error);
  g_assert_no_error(error);
  g_assert_cmpint(m->scale, ==, 2);
  aenet_model_free(m);
  g_free(graph);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/model/round-trip", test_round_trip);
  g_test_add_func("/model/rejections", test_rejections);
  g_test_add_func("/model/find", test_find);
  g_test_add_func("/model/new-checks-task", test_new_checks_task);
  return g_test_run();
}
