/* plugin.c — the GIMP 3 front end's procedures, one per task row with a
 * GIMP procedure (task.h), as the GIMP 2.10 front end registers them: the
 * same names and arguments, in GIMP 3's calling convention (drawables as
 * an array). Each selected drawable is processed, all in one undo step;
 * the last values are GIMP's GimpProcedureConfig. Pixels are drawable.c's
 * job, the dialog dialog.c's; settings and the job come from
 * plugin/common/.
 *
 * Arguments: run-mode, image, drawables, model, the task's parameters in
 * the row's order (int for integers, double otherwise), and for tasks that
 * change the size "output" (AenetOutput); those return the new image and
 * layer. The working memory is an auxiliary argument: kept with the last
 * values and shown in the dialog, not passed by scripts (as in 2.10). */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "cpu.h"
#include "dialog.h"
#include "drawable.h"
#include "error.h"

#define AENET_TYPE_PLUG_IN (aenet_plug_in_get_type())
G_DECLARE_FINAL_TYPE(AenetPlugIn, aenet_plug_in, AENET, PLUG_IN, GimpPlugIn)

struct _AenetPlugIn {
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE(AenetPlugIn, aenet_plug_in, GIMP_TYPE_PLUG_IN)

static GList *
query_procedures(GimpPlugIn *plug_in)
{
  GList *names = NULL;

  for (guint i = 0; i < aenet_task_count(); i++)
    if (aenet_task_get(i)->gimp_proc)
      names = g_list_append(names, g_strdup(aenet_task_get(i)->gimp_proc));
  return names;
}

/* The texts are translated here (aenet_plugin_init), not by GIMP. */
static gboolean
set_i18n(GimpPlugIn *plug_in, const gchar *name, gchar **domain, gchar **catalog_dir)
{
  return FALSE;
}

/* The settings in the procedure's config. */
static void
values_from_config(const AenetTask *task, GimpProcedureConfig *config, AenetValues *v)
{
  char *model = NULL;

  aenet_values_init(v, task);
  g_object_get(config, "model", &model, "memory", &v->memory_mb, "passes", &v->passes, NULL);
  g_strlcpy(v->model, model ? model : "", sizeof v->model);
  g_free(model);
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    int n;
    double d;
    if (p->integer) {
      g_object_get(config, p->name, &n, NULL);
      aenet_values_set(v, p->kind, n);
    } else {
      g_object_get(config, p->name, &d, NULL);
      aenet_values_set(v, p->kind, d);
    }
  }
  if (aenet_task_changes_size(task))
    g_object_get(config, "output", &v->output, NULL);
}

static GimpValueArray *
run(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image, GimpDrawable **drawables,
    GimpProcedureConfig *config, gpointer run_data)
{
  const AenetTask *task = run_data;
  gboolean sized = aenet_task_changes_size(task);
  gsize n = drawables ? gimp_core_object_array_get_length((GObject **)drawables) : 0;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  GimpImage *new_image = NULL;
  GimpLayer *new_layer = NULL;
  AenetJob *job = NULL;
  GError *error = NULL;
  double estimate = -1;
  AenetValues v;

  aenet_plugin_init();

  if (n == 0) {
    status = GIMP_PDB_CALLING_ERROR;
    aenet_plugin_drawable_error(&error, AENET_DRAWABLE_NONE, NULL);
    goto done;
  }
  /* All drawables are checked before anything changes. */
  for (gsize i = 0; i < n; i++)
    if (!aenet_gimp3_check_drawable(drawables[i], sized, &error)) {
      status = GIMP_PDB_EXECUTION_ERROR;
      goto done;
    }
  if (run_mode == GIMP_RUN_INTERACTIVE
      && !aenet_gimp3_dialog_run(procedure, config, task, drawables[0], &estimate)) {
    status = GIMP_PDB_CANCEL;
    goto done;
  }

  values_from_config(task, config, &v);
  if (!aenet_values_check(&v, task, &error)) {
    status = GIMP_PDB_CALLING_ERROR;
    goto done;
  }
  job = aenet_values_make_job(&v, task, &error);
  if (!job) {
    status
        = run_mode == GIMP_RUN_NONINTERACTIVE ? GIMP_PDB_CALLING_ERROR : GIMP_PDB_EXECUTION_ERROR;
    goto done;
  }

  if (!sized) {
    /* Every drawable is computed into its shadow buffer before any is
     * merged, so that a failed or cancelled run changes none; the merges
     * are one undo step. The dialog's estimate is the first drawable's;
     * the job estimates each of the others. */
    GeglRectangle *rects = g_new(GeglRectangle, n);
    gsize done = 0;
    for (; done < n; done++)
      if (!aenet_gimp3_filter(drawables[done], job, done == 0 ? estimate : -1, &rects[done],
                              &error)) {
        status = GIMP_PDB_EXECUTION_ERROR;
        break;
      }
    if (status == GIMP_PDB_SUCCESS) {
      gimp_image_undo_group_start(image);
      for (gsize i = 0; i < n; i++)
        aenet_gimp3_merge(drawables[i], &rects[i]);
      gimp_image_undo_group_end(image);
    } else
      for (gsize i = 0; i <= done && i < n; i++)
        gimp_drawable_free_shadow(drawables[i]);
    g_free(rects);
  } else {
    /* One undo step for all drawables. */
    gimp_image_undo_group_start(image);
    for (gsize i = 0; i < n && status == GIMP_PDB_SUCCESS; i++) {
      GimpImage *im = NULL;
      GimpLayer *layer = NULL;
      if (!aenet_gimp3_enlarge(image, drawables[i], job, v.output,
                               run_mode != GIMP_RUN_NONINTERACTIVE, &im, &layer, &error))
        status = GIMP_PDB_EXECUTION_ERROR;
      else if (i == 0) {
        /* The return values are the first drawable's results. */
        new_image = im;
        new_layer = layer;
      }
    }
    gimp_image_undo_group_end(image);
  }
  if (status == GIMP_PDB_SUCCESS)
    gimp_progress_update(1.0);
  if (status == GIMP_PDB_SUCCESS && run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush();

done:
  aenet_job_free(job);
  /* GIMP shows the error's message to the user (or the calling script). */
  GimpValueArray *ret = gimp_procedure_new_return_values(procedure, status, error);
  if (sized && status == GIMP_PDB_SUCCESS) {
    GIMP_VALUES_SET_IMAGE(ret, 1, new_image);
    GIMP_VALUES_SET_LAYER(ret, 2, new_layer);
  }
  return ret;
}

static GimpProcedure *
create_procedure(GimpPlugIn *plug_in, const gchar *name)
{
  const AenetTask *task = aenet_plugin_task_for_procedure(name);
  GimpProcedure *procedure;
  char *nick;

  if (!task)
    return NULL;
  aenet_plugin_init();
  procedure = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run,
                                       (gpointer)task, NULL);
  gimp_procedure_set_image_types(procedure, "RGB*, GRAY*");
  gimp_procedure_set_sensitivity_mask(procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE
                                                     | GIMP_PROCEDURE_SENSITIVE_DRAWABLES);
  gimp_procedure_set_menu_label(procedure, _(task->menu_label));
  gimp_procedure_add_menu_path(procedure, "<Image>/Filters/Enhance");
  gimp_procedure_set_documentation(procedure, _(task->blurb), _(task->help), name);
  gimp_procedure_set_attribution(procedure, "aenet authors", "aenet authors", "2025");

  nick = aenet_gimp3_label(N_("_Model:"));
  gimp_procedure_add_string_argument(procedure, "model", nick, task->model_help, "",
                                     G_PARAM_READWRITE);
  g_free(nick);
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    /* GIMP 3 checks the range itself: it includes the automatic value. */
    double min = p->has_automatic ? MIN(p->min, p->automatic) : p->min;
    nick = aenet_gimp3_label(p->label);
    if (p->integer)
      gimp_procedure_add_int_argument(procedure, p->name, nick, p->gimp_help, (int)min,
                                      (int)p->max, (int)p->def, G_PARAM_READWRITE);
    else
      gimp_procedure_add_double_argument(procedure, p->name, nick, p->gimp_help, min, p->max,
                                         p->def, G_PARAM_READWRITE);
    g_free(nick);
  }
  if (aenet_task_changes_size(task)) {
    nick = aenet_gimp3_label(N_("Out_put:"));
    gimp_procedure_add_int_argument(procedure, "output", nick,
                                    AENET_PLUGIN_OUTPUT_HELP,
                                    AENET_OUTPUT_NEW_IMAGE, AENET_OUTPUT_NEW_LAYER,
                                    AENET_OUTPUT_NEW_IMAGE, G_PARAM_READWRITE);
    g_free(nick);
    gimp_procedure_add_image_return_value(procedure, "new-image", "New image",
                                          "The new image (output 0), else none", TRUE,
                                          G_PARAM_READWRITE);
    gimp_procedure_add_layer_return_value(procedure, "new-layer", "New layer",
                                          "The layer holding the result", TRUE, G_PARAM_READWRITE);
  }
  nick = aenet_gimp3_label(N_("Working _memory (MiB):"));
  gimp_procedure_add_int_aux_argument(procedure, "memory", nick,
                                      "Working memory of all threads, MiB",
                                      AENET_PLUGIN_MEMORY_MIN_MB, AENET_PLUGIN_MEMORY_MAX_MB,
                                      (int)(AENET_DEFAULT_MEMORY_BUDGET >> 20), G_PARAM_READWRITE);
  g_free(nick);
  nick = aenet_gimp3_label(N_("_Passes:"));
  gimp_procedure_add_int_aux_argument(procedure, "passes", nick,
                                      "Runs on mirror images of the picture, averaged (1-4)", 1,
                                      AENET_MAX_PASSES, 1, G_PARAM_READWRITE);
  g_free(nick);
  return procedure;
}

static void
aenet_plug_in_class_init(AenetPlugInClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS(klass);

  plug_in_class->query_procedures = query_procedures;
  plug_in_class->create_procedure = create_procedure;
  plug_in_class->set_i18n = set_i18n;
}

static void
aenet_plug_in_init(AenetPlugIn *plug_in)
{
}

/* As GIMP's GIMP_MAIN(), after making sure OpenBLAS uses this processor's
 * kernels. */
int
main(int argc, char **argv)
{
  aenet_cpu_reexec_with_blas_coretype(argv);
  return gimp_main(AENET_TYPE_PLUG_IN, argc, argv);
}
