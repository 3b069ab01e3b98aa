/* cmd-info.c — "aenet info": what a model is and costs; "aenet install":
 * copies a checked model into the user's model folder. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "model.h"
#include "presets.h"

#define MODEL_SUFFIX ".safetensors"

static void
print_error(const char *message)
{
  g_printerr("aenet: %s\n", message);
}

/* Parses options; prints the problem and returns FALSE on a usage error. */
static gboolean
parse_options(GOptionContext *context, int *argc, char ***argv)
{
  GError *error = NULL;
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  if (g_option_context_parse(context, argc, argv, &error))
    return TRUE;
  g_printerr(_("aenet: %s (see “%s --help”)\n"), error->message, g_get_prgname());
  g_error_free(error);
  return FALSE;
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prints a metadata value; lines after the first are indented under it. */
static void
print_value(const char *value, int indent)
{
  char **lines = g_strsplit(value, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    g_print("%*s%s\n", i == 0 ? 0 : indent, "", lines[i]);
  g_strfreev(lines);
}

static void
print_info(const AenetModel *model, gboolean show_graph)
{
  const AenetNetwork *net = model->network;
  int scale = aenet_network_get_scale(net);
  gsize n_params = aenet_network_get_n_params(net);
  /* The network counts per input pixel; people compare per output pixel. */
  double macs_out = aenet_network_get_macs_per_pixel(net) / ((double)scale * scale);
  int reach = aenet_network_get_reach(net);
  char *size = g_format_size((guint64)n_params * sizeof(float));

  g_print("%-18s %s\n", _("Model:"), aenet_model_get_display_name(model));
  if (model->path != NULL)
    g_print("%-18s %s\n", _("File:"), model->path);
  g_print("%-18s %s\n", _("Task:"), model->task);
  g_print("%-18s %d\n", _("Scale:"), scale);
  g_print("%-18s %d -> %d\n", _("Channels:"), aenet_network_get_in_channels(net),
          aenet_network_get_out_channels(net));
  g_print("%-18s ", _("Parameters:"));
  char *count = g_strdup_printf("%" G_GSIZE_FORMAT, n_params);
  g_print(_("%s (%s as 32-bit floats)\n"), count, size);
  g_free(count);
  g_print("%-18s ", _("Multiply-adds:"));
  g_print(_("%.0f per output pixel (%.1f GFLOP per megapixel)\n"), macs_out,
          2.0 * macs_out * 1e6 / 1e9);
  g_print("%-18s ", _("Receptive field:"));
  g_print(_("%d input pixels around each pixel (a %dx%d window)\n"), reach, 2 * reach + 1,
          2 * reach + 1);
  int alignment = aenet_network_get_alignment(net);
  g_print("%-18s ", _("Alignment:"));
  if (alignment > 1)
    g_print(_("tiles are multiples of %d input pixels\n"), alignment);
  else
    g_print(_("none (tiles of any size)\n"));
  g_print("%-18s %s\n", _("Noise level input:"),
          aenet_network_takes_noise_level(net) ? _("yes (set with --sigma, or estimated)")
                                               : _("no"));
  g_free(size);

  /* Metadata in a stable order; the graph is long and has its own option. */
  GPtrArray *keys = g_ptr_array_new();
  if (model->metadata != NULL) {
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, model->metadata);
    while (g_hash_table_iter_next(&iter, &key, NULL))
      if (strcmp(key, "aenet.graph") != 0)
        g_ptr_array_add(keys, key);
  }
  g_ptr_array_sort(keys, compare_strings);
  if (keys->len > 0) {
    int width = 0;
    for (guint i = 0; i < keys->len; i++)
      width = MAX(width, (int)strlen(g_ptr_array_index(keys, i)) + 1);
    g_print("\n%s\n", _("Metadata:"));
    for (guint i = 0; i < keys->len; i++) {
      const char *key = g_ptr_array_index(keys, i);
      g_print("  %s:%*s ", key, width - (int)strlen(key) - 1, "");
      print_value(g_hash_table_lookup(model->metadata, key), width + 3);
    }
  }
  g_ptr_array_unref(keys);

  if (show_graph) {
    const char *graph = aenet_model_get_meta(model, "aenet.graph");
    char *canonical = graph == NULL ? aenet_network_to_json(net) : NULL;
    g_print("\n%s\n%s\n", _("Graph:"), graph != NULL ? graph : canonical);
    g_free(canonical);
  }
}

/* A new model of a preset (--arch), its parameters not initialised: what
 * "aenet train --arch" starts from, for tools that build it elsewhere. */
static AenetModel *
preset_model(const char *arch, GError **error)
{
  const AenetPreset *preset = aenet_preset_find(arch, error);
  if (preset == NULL)
    return NULL;
  char *graph = aenet_preset_build_graph(preset);
  AenetModel *model = aenet_model_new(preset->task, graph, error);
  if (model != NULL) {
    aenet_model_set_meta(model, "name", preset->name);
    aenet_model_set_meta(model, "description", preset->description);
  }
  g_free(graph);
  return model;
}

int
aenet_cmd_info(int argc, char **argv)
{
  gboolean show_graph = FALSE;
  char *arch = NULL;
  GOptionEntry entries[]
      = { { "graph", 0, 0, G_OPTION_ARG_NONE, &show_graph,
            N_("Also print the network description (JSON)"), NULL },
          { "arch", 0, 0, G_OPTION_ARG_STRING, &arch,
            N_("Describe a new model of this architecture instead of a file"), N_("NAME") },
          { NULL } };
  GOptionContext *context = g_option_context_new(_("MODEL"));
  g_option_context_set_summary(context, _("Describes a model: its task, size, cost per pixel and "
                                          "metadata.\nMODEL is a file or the name of an installed "
                                          "model."));
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  gboolean ok = parse_options(context, &argc, &argv);
  g_option_context_free(context);
  if (!ok)
    return 2;
  if (argc != (arch != NULL ? 1 : 2)) {
    print_error(arch != NULL ? _("info takes either a MODEL or --arch, not both")
                : argc < 2   ? _("info needs a MODEL (see “aenet info --help”)")
                             : _("info takes one MODEL only (see “aenet info --help”)"));
    g_free(arch);
    return 2;
  }

  GError *error = NULL;
  AenetModel *model = NULL;
  if (arch != NULL)
    model = preset_model(arch, &error);
  else
    model = aenet_model_load_named(argv[1], &error);
  g_free(arch);
  if (model == NULL) {
    print_error(error->message);
    g_error_free(error);
    return 1;
  }
  print_info(model, show_graph);
  aenet_model_free(model);
  return 0;
}

/* ---- install ---- */

static gboolean
write_all(int fd, const char *data, gsize length, const char *path, GError **error)
{
  while (length > 0) {
    ssize_t n = write(fd, data, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int saved = errno;
      g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), _("could not write %s: %s"),
                  path, g_strerror(saved));
      return FALSE;
    }
    data += n;
    length -= (gsize)n;
  }
  return TRUE;
}

/* Writes data to a new temporary file in dir; returns its path. */
static char *
write_temporary(const char *dir, const char *base, const char *data, gsize length, GError **error)
{
  char *path = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
  int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                _("could not create a file in %s: %s"), dir, g_strerror(saved));
    g_free(path);
    return NULL;
  }
  gboolean ok = write_all(fd, data, length, path, error);
  if (ok && fsync(fd) != 0) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), _("could not write %s: %s"),
                path, g_strerror(saved));
    ok = FALSE;
  }
  if (close(fd) != 0 && ok) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), _("could not write %s: %s"),
                path, g_strerror(saved));
    ok = FALSE;
  }
  if (!ok) {
    g_unlink(path);
    g_clear_pointer(&path, g_free);
  }
  return path;
}

/* Moves tmp to dest; without force, never replaces an existing dest, even
 * one that appears meanwhile (a hard link fails if dest exists). */
static gboolean
move_into_place(const char *tmp, const char *dest, gboolean force, GError **error)
{
  if (!force) {
    if (link(tmp, dest) == 0) {
      g_unlink(tmp);
      return TRUE;
    }
    if (errno == EEXIST) {
      g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                  _("%s already exists; use --force to replace it"), dest);
      return FALSE;
    }
    /* A file system without hard links: check, then rename. */
    if (g_file_test(dest, G_FILE_TEST_EXISTS)) {
      g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                  _("%s already exists; use --force to replace it"), dest);
      return FALSE;
    }
  }
  if (g_rename(tmp, dest) != 0) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
                _("could not move the model to %s: %s"), dest, g_strerror(saved));
    return FALSE;
  }
  return TRUE;
}

int
aenet_cmd_install(int argc, char **argv)
{
  gboolean force = FALSE;
  GOptionEntry entries[] = { { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
                               N_("Replace an installed model of the same name"), NULL },
                             { NULL } };
  GOptionContext *context = g_option_context_new(_("MODEL"));
  g_option_context_set_summary(context, _("Checks the model file MODEL and copies it into your "
                                          "model folder,\nwhere “aenet -m NAME” and the GIMP "
                                          "plug-in find it by name."));
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  gboolean ok = parse_options(context, &argc, &argv);
  g_option_context_free(context);
  if (!ok)
    return 2;
  if (argc != 2) {
    print_error(argc < 2 ? _("install needs a MODEL file (see “aenet install --help”)")
                         : _("install takes one MODEL file only (see “aenet install --help”)"));
    return 2;
  }
  const char *source = argv[1];

  GError *error = NULL;
  char *data = NULL;
  gsize length = 0;
  char *dir = aenet_model_get_user_dir();
  char *base = g_path_get_basename(source);
  char *name = g_str_has_suffix(base, MODEL_SUFFIX) ? g_strdup(base)
                                                    : g_strconcat(base, MODEL_SUFFIX, NULL);
  char *dest = g_build_filename(dir, name, NULL);
  char *tmp = NULL;
  AenetModel *model = NULL;
  int status = 1;

  if (!g_file_test(source, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                _("%s is not a model file (no such file)"), source);
    goto out;
  }
  if (!force && g_file_test(dest, G_FILE_TEST_EXISTS)) {
    g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                _("%s already exists; use --force to replace it"), dest);
    goto out;
  }
  model = aenet_model_load(source, &error);
  if (model == NULL)
    goto out;
  if (!g_file_get_contents(source, &data, &length, &error))
    goto out;
  if (g_mkdir_with_parents(dir, 0755) != 0) {
    int saved = errno;
    g_set_error(&error, G_FILE_ERROR, g_file_error_from_errno(saved),
                _("could not create the model folder %s: %s"), dir, g_strerror(saved));
    goto out;
  }
  /* A temporary file beside the target, so the model appears whole or not at all. */
  tmp = write_temporary(dir, name, data, length, &error);
  if (tmp == NULL)
    goto out;
  if (!move_into_place(tmp, dest, force, &error))
    goto out;
  g_clear_pointer(&tmp, g_free);

  char *shown = g_strndup(name, strlen(name) - strlen(MODEL_SUFFIX));
  g_print(_("Installed %s (%s, scale %d) as %s\n"), source, model->task, model->scale, dest);
  g_print(_("Use it with: aenet %s -m %s IN OUT\n"), model->task, shown);
  g_free(shown);
  status = 0;

out:
  if (error != NULL) {
    print_error(error->message);
    g_error_free(error);
  }
  if (tmp != NULL) {
    g_unlink(tmp);
    g_free(tmp);
  }
  aenet_model_free(model);
  g_free(data);
  g_free(dest);
  g_free(name);
  g_free(base);
  g_free(dir);
  return status;
}
