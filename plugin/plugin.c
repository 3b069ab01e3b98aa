/* plugin.c — the GIMP 2.10 plug-in's procedures: registration, parameter
 * checks, run modes and turning engine errors into messages. The pixels
 * are process.c's job, the dialog dialog.c's. */
#include "config.h"

#include <locale.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cpu.h"
#include "dialog.h"
#include "error.h"
#include "model.h"
#include "process.h"

static void query(void);
static void run(const gchar *name, gint n_params, const GimpParam *param, gint *n_return_vals,
                GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = { NULL, NULL, query, run };

/* GEGL's tile cache in the plug-in, in bytes. GEGL sizes it from the
 * machine's memory by default, and a plug-in's buffers are proxies of
 * GIMP's, so a large cache only keeps tiles already read or written and
 * makes the plug-in grow with the layer (about the layer's size again, at
 * 48 MP and up). The tiler reads and writes one tile at a time; this is
 * ample for that and keeps memory near the engine's budget. GEGL_CACHE_SIZE
 * (MiB) in the environment still wins. */
#define AENET_PLUGIN_TILE_CACHE ((guint64)32 << 20)

/* As GIMP's MAIN(), after making sure OpenBLAS uses this processor's kernels. */
int
main(int argc, char **argv)
{
  aenet_cpu_reexec_with_blas_coretype(argv);
  return gimp_main(&PLUG_IN_INFO, argc, argv);
}

void
aenet_values_init_denoise(AenetValues *values)
{
  memset(values, 0, sizeof *values);
  values->noise_level = -1.0;
  values->strength = 1.0;
  values->scale = 2;
  values->output = AENET_OUTPUT_NEW_IMAGE;
}

void
aenet_values_init_upscale(AenetValues *values)
{
  aenet_values_init_denoise(values);
}

static void
query(void)
{
  static const GimpParamDef denoise_args[] = {
    { GIMP_PDB_INT32, "run-mode",
      "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), "
      "RUN-WITH-LAST-VALS (2) }" },
    { GIMP_PDB_IMAGE, "image", "Input image" },
    { GIMP_PDB_DRAWABLE, "drawable", "Drawable to denoise (within the selection, if any)" },
    { GIMP_PDB_STRING, "model",
      "Model name or path of a .safetensors file; empty for the shipped default" },
    { GIMP_PDB_FLOAT, "noise-level",
      "Noise standard deviation on the 0-255 scale (0-50), for models that take it; "
      "negative to estimate it from the image" },
    { GIMP_PDB_FLOAT, "strength", "Blend of result and original (0-1; 1 = result only)" },
  };
  static const GimpParamDef upscale_args[] = {
    { GIMP_PDB_INT32, "run-mode",
      "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), "
      "RUN-WITH-LAST-VALS (2) }" },
    { GIMP_PDB_IMAGE, "image", "Input image" },
    { GIMP_PDB_DRAWABLE, "drawable", "Layer to upscale (the whole layer)" },
    { GIMP_PDB_STRING, "model",
      "Model name or path of a .safetensors file; empty for the shipped default of the scale" },
    { GIMP_PDB_INT32, "scale", "Enlargement factor (2, 3 or 4); must match the model's" },
    { GIMP_PDB_INT32, "output",
      "Where the result goes { NEW-IMAGE (0), IN-PLACE (1): enlarge the layer, growing the "
      "canvas as needed, NEW-LAYER (2): a new layer above it }" },
  };
  static const GimpParamDef upscale_returns[] = {
    { GIMP_PDB_IMAGE, "new-image", "The new image (output 0), else -1" },
    { GIMP_PDB_LAYER, "new-layer", "The layer holding the result" },
  };

  gimp_plugin_domain_register(GETTEXT_PACKAGE, LOCALEDIR);

  gimp_install_procedure(AENET_DENOISE_PROC, N_("Remove noise with a trained neural network"),
                         N_("Denoises the drawable (within the selection, blended by its "
                            "feathering) with a convolutional autoencoder model. Pixels around "
                            "the selection are used as context. Works tile by tile, so layers "
                            "of any size fit in a fixed amount of memory. 8-, 16- and 32-bit "
                            "RGB and grayscale images, with or without alpha; not indexed."),
                         "aenet authors", "aenet authors", "2025", N_("Autoencoder _Denoise..."),
                         "RGB*, GRAY*", GIMP_PLUGIN, G_N_ELEMENTS(denoise_args), 0, denoise_args,
                         NULL);
  gimp_plugin_menu_register(AENET_DENOISE_PROC, "<Image>/Filters/Enhance");

  gimp_install_procedure(AENET_UPSCALE_PROC, N_("Enlarge with a trained neural network"),
                         N_("Enlarges the layer 2, 3 or 4 times with a convolutional "
                            "super-resolution model, into a new image, in place (the canvas "
                            "grows as needed) or as a new layer. Alpha is resized with bicubic "
                            "interpolation. Works tile by tile."),
                         "aenet authors", "aenet authors", "2025", N_("Autoencoder _Upscale..."),
                         "RGB*, GRAY*", GIMP_PLUGIN, G_N_ELEMENTS(upscale_args),
                         G_N_ELEMENTS(upscale_returns), upscale_args, upscale_returns);
  gimp_plugin_menu_register(AENET_UPSCALE_PROC, "<Image>/Filters/Enhance");
}

/* Finds and loads the model for a job and checks that it fits it. */
static AenetModel *
load_model(const char *name, const char *task, int scale, GError **error)
{
  char *path = name && *name ? aenet_model_find(name, error)
                             : aenet_model_find_default(task, scale, error);
  AenetModel *model;

  if (!path)
    return NULL;
  model = aenet_model_load(path, error);
  if (model && strcmp(model->task, task) != 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL,
                strcmp(task, "denoise") == 0
                    ? _("The model “%s” is for upscaling, not for denoising.")
                    : _("The model “%s” is for denoising, not for upscaling."),
                aenet_model_get_display_name(model));
    g_clear_pointer(&model, aenet_model_free);
  } else if (model && model->scale != scale) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_MODEL, _("The model “%s” enlarges %d×, not %d×."),
                aenet_model_get_display_name(model), model->scale, scale);
    g_clear_pointer(&model, aenet_model_free);
  }
  g_free(path);
  return model;
}

static gboolean
check_values(const char *name, const AenetValues *v, GError **error)
{
  if (strcmp(name, AENET_DENOISE_PROC) == 0) {
    if (!(v->noise_level <= 50.0)) /* also catches NaN */
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  _("The noise level %g is out of range: give 0 to 50, or a negative "
                    "value to estimate it."),
                  v->noise_level);
    else if (!(v->strength >= 0.0 && v->strength <= 1.0))
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  _("The strength %g is out of range: give 0 to 1."), v->strength);
  } else {
    if (v->scale < 2 || v->scale > 4)
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  _("The scale %d is not supported: give 2, 3 or 4."), v->scale);
    else if (v->output < AENET_OUTPUT_NEW_IMAGE || v->output > AENET_OUTPUT_NEW_LAYER)
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  _("The output %d is not known: give 0 (new image), 1 (in place) or 2 "
                    "(new layer)."),
                  v->output);
  }
  return error == NULL || *error == NULL;
}

static void
run(const gchar *name, gint n_params, const GimpParam *param, gint *n_return_vals,
    GimpParam **return_vals)
{
  static GimpParam values[3];
  static char *message = NULL;
  gboolean denoise = strcmp(name, AENET_DENOISE_PROC) == 0;
  GimpRunMode run_mode = n_params > 0 ? param[0].data.d_int32 : GIMP_RUN_NONINTERACTIVE;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  AenetValues v;
  AenetModel *model = NULL;
  GError *error = NULL;
  gint32 image, drawable, new_image = -1, new_layer = -1;

  setlocale(LC_ALL, "");
  setlocale(LC_NUMERIC, "C");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
  gegl_init(NULL, NULL);
  if (!g_getenv("GEGL_CACHE_SIZE"))
    g_object_set(gegl_config(), "tile-cache-size", AENET_PLUGIN_TILE_CACHE, NULL);
  gimp_plugin_enable_precision();

  g_clear_pointer(&message, g_free);
  *return_vals = values;
  *n_return_vals = 1;
  values[0].type = GIMP_PDB_STATUS;

  /* Menus pass only run-mode, image and drawable; scripts pass all six. */
  if (n_params < 3 || (run_mode == GIMP_RUN_NONINTERACTIVE && n_params != 6)) {
    status = GIMP_PDB_CALLING_ERROR;
    error = g_error_new(AENET_ERROR, AENET_ERROR_INVALID, _("%s takes 6 arguments, not %d."), name,
                        n_params);
    goto done;
  }
  image = param[1].data.d_image;
  drawable = param[2].data.d_drawable;
  if (denoise)
    aenet_values_init_denoise(&v);
  else
    aenet_values_init_upscale(&v);
  gimp_get_data(name, &v);
  v.model[sizeof v.model - 1] = '\0';

  switch (run_mode) {
  case GIMP_RUN_INTERACTIVE:
    if (!aenet_plugin_check_drawable(drawable, !denoise, &error)) {
      status = GIMP_PDB_EXECUTION_ERROR;
      goto done;
    }
    if (!aenet_dialog_run(name, image, drawable, &v)) {
      status = GIMP_PDB_CANCEL;
      goto done;
    }
    break;
  case GIMP_RUN_NONINTERACTIVE:
    g_strlcpy(v.model, param[3].data.d_string ? param[3].data.d_string : "", sizeof v.model);
    if (param[3].data.d_string && strlen(param[3].data.d_string) >= sizeof v.model)
      error = g_error_new(AENET_ERROR, AENET_ERROR_INVALID, _("The model name is too long."));
    if (denoise) {
      v.noise_level = param[4].data.d_float;
      v.strength = param[5].data.d_float;
    } else {
      v.scale = param[4].data.d_int32;
      v.output = param[5].data.d_int32;
    }
    if (error || !check_values(name, &v, &error)) {
      status = GIMP_PDB_CALLING_ERROR;
      goto done;
    }
    break;
  case GIMP_RUN_WITH_LAST_VALS:
    break;
  default:
    status = GIMP_PDB_CALLING_ERROR;
    error = g_error_new(AENET_ERROR, AENET_ERROR_INVALID, _("Unknown run mode %d."), run_mode);
    goto done;
  }

  model = load_model(v.model, denoise ? "denoise" : "upscale", denoise ? 1 : v.scale, &error);
  if (!model) {
    status
        = run_mode == GIMP_RUN_NONINTERACTIVE ? GIMP_PDB_CALLING_ERROR : GIMP_PDB_EXECUTION_ERROR;
    goto done;
  }

  if (denoise) {
    if (!aenet_plugin_denoise(drawable, model, v.noise_level, v.strength, &error))
      status = GIMP_PDB_EXECUTION_ERROR;
  } else if (!aenet_plugin_upscale(image, drawable, model, v.output,
                                   run_mode != GIMP_RUN_NONINTERACTIVE, &new_image, &new_layer,
                                   &error)) {
    status = GIMP_PDB_EXECUTION_ERROR;
  }

  if (status == GIMP_PDB_SUCCESS) {
    if (run_mode != GIMP_RUN_NONINTERACTIVE)
      gimp_displays_flush();
    if (run_mode == GIMP_RUN_INTERACTIVE)
      gimp_set_data(name, &v, sizeof v);
  }

done:
  aenet_model_free(model);
  values[0].data.d_status = status;
  if (error) {
    /* GIMP shows this string to the user (or the calling script). */
    message = g_strdup(error->message);
    values[1].type = GIMP_PDB_STRING;
    values[1].data.d_string = message;
    *n_return_vals = 2;
    g_error_free(error);
  } else if (!denoise && status == GIMP_PDB_SUCCESS) {
    values[1].type = GIMP_PDB_IMAGE;
    values[1].data.d_image = new_image;
    values[2].type = GIMP_PDB_LAYER;
    values[2].data.d_layer = new_layer;
    *n_return_vals = 3;
  } else if (!denoise) {
    /* GIMP expects all declared return values, even after a cancel. */
    values[1].type = GIMP_PDB_IMAGE;
    values[1].data.d_image = -1;
    values[2].type = GIMP_PDB_LAYER;
    values[2].data.d_layer = -1;
    *n_return_vals = 3;
  }
}
