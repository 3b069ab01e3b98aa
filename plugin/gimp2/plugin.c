/* plugin.c — the GIMP 2.10 front end's procedures, one per task row with a
 * GIMP procedure (task.h): registration and arguments generated from the
 * row, run modes, and engine errors turned into messages. Pixels are
 * drawable.c's job, the dialog dialog.c's; settings and the job come from
 * plugin/common/.
 *
 * Arguments: run-mode, image, drawable, model, the task's parameters in
 * the row's order (INT32 for integers, FLOAT otherwise), and for tasks
 * that change the size "output" (AenetOutput); those return the new image
 * and layer. */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "cpu.h"
#include "dialog.h"
#include "drawable.h"
#include "error.h"

/* Arguments before the task's own: run-mode, image, drawable, model. */
#define N_FIXED_ARGS 4
#define MAX_ARGS (N_FIXED_ARGS + AENET_TASK_MAX_PARAMS + 1)

static void query(void);
static void run(const gchar *name, gint n_params, const GimpParam *param, gint *n_return_vals,
                GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = { NULL, NULL, query, run };

/* As GIMP's MAIN(), after making sure OpenBLAS uses this processor's kernels. */
int
main(int argc, char **argv)
{
  aenet_cpu_reexec_with_blas_coretype(argv);
  return gimp_main(&PLUG_IN_INFO, argc, argv);
}

/* The procedure's arguments; returns how many. */
static int
task_args(const AenetTask *task, GimpParamDef *args)
{
  int n = 0;
  args[n++] = (GimpParamDef){ GIMP_PDB_INT32, "run-mode",
                              "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), "
                              "RUN-WITH-LAST-VALS (2) }" };
  args[n++] = (GimpParamDef){ GIMP_PDB_IMAGE, "image", "Input image" };
  args[n++] = (GimpParamDef){ GIMP_PDB_DRAWABLE, "drawable", (char *)task->drawable_help };
  args[n++] = (GimpParamDef){ GIMP_PDB_STRING, "model", (char *)task->model_help };
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    args[n++] = (GimpParamDef){ p->integer ? GIMP_PDB_INT32 : GIMP_PDB_FLOAT, (char *)p->name,
                                (char *)p->gimp_help };
  }
  if (aenet_task_changes_size(task))
    args[n++] = (GimpParamDef){ GIMP_PDB_INT32, "output",
                                AENET_PLUGIN_OUTPUT_HELP };
  return n;
}

static void
query(void)
{
  static const GimpParamDef size_returns[] = {
    { GIMP_PDB_IMAGE, "new-image", "The new image (output 0), else -1" },
    { GIMP_PDB_LAYER, "new-layer", "The layer holding the result" },
  };

  gimp_plugin_domain_register(GETTEXT_PACKAGE, LOCALEDIR);
  for (guint i = 0; i < aenet_task_count(); i++) {
    const AenetTask *task = aenet_task_get(i);
    GimpParamDef args[MAX_ARGS];
    if (task->gimp_proc == NULL)
      continue;
    int n_args = task_args(task, args);
    gboolean sized = aenet_task_changes_size(task);
    gimp_install_procedure(task->gimp_proc, task->blurb, task->help, "aenet authors",
                           "aenet authors", "2025", task->menu_label, "RGB*, GRAY*", GIMP_PLUGIN,
                           n_args, sized ? G_N_ELEMENTS(size_returns) : 0, args,
                           sized ? size_returns : NULL);
    gimp_plugin_menu_register(task->gimp_proc, "<Image>/Filters/Enhance");
  }
}

/* The values a script passed; FALSE with a message when one is wrong. */
static gboolean
values_from_args(const AenetTask *task, const GimpParam *param, AenetValues *v, GError **error)
{
  const char *model = param[3].data.d_string ? param[3].data.d_string : "";
  if (strlen(model) >= sizeof v->model) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("The model name is too long."));
    return FALSE;
  }
  g_strlcpy(v->model, model, sizeof v->model);
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    const GimpParam *arg = &param[N_FIXED_ARGS + i];
    aenet_values_set(v, p->kind, p->integer ? arg->data.d_int32 : arg->data.d_float);
  }
  if (aenet_task_changes_size(task))
    v->output = param[N_FIXED_ARGS + task->n_params].data.d_int32;
  return aenet_values_check(v, task, error);
}

static void
run(const gchar *name, gint n_params, const GimpParam *param, gint *n_return_vals,
    GimpParam **return_vals)
{
  static GimpParam values[3];
  static char *message = NULL;
  const AenetTask *task = aenet_plugin_task_for_procedure(name);
  GimpRunMode run_mode = n_params > 0 ? param[0].data.d_int32 : GIMP_RUN_NONINTERACTIVE;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  AenetValues v;
  AenetJob *job = NULL;
  GError *error = NULL;
  gint32 image, drawable, new_image = -1, new_layer = -1;
  double estimate = -1;
  gboolean sized = task && aenet_task_changes_size(task);
  GimpParamDef defs[MAX_ARGS];
  int n_args = task ? task_args(task, defs) : 0;

  aenet_plugin_init();
  gimp_plugin_enable_precision();

  g_clear_pointer(&message, g_free);
  *return_vals = values;
  *n_return_vals = 1;
  values[0].type = GIMP_PDB_STATUS;

  /* Menus pass only run-mode, image and drawable; scripts pass all. */
  if (task == NULL || n_params < 3 || (run_mode == GIMP_RUN_NONINTERACTIVE && n_params != n_args)) {
    status = GIMP_PDB_CALLING_ERROR;
    error = g_error_new(AENET_ERROR, AENET_ERROR_INVALID, _("%s takes %d arguments, not %d."), name,
                        n_args, n_params);
    goto done;
  }
  image = param[1].data.d_image;
  drawable = param[2].data.d_drawable;
  aenet_values_init(&v, task);
  gimp_get_data(name, &v);
  v.model[sizeof v.model - 1] = '\0';

  switch (run_mode) {
  case GIMP_RUN_INTERACTIVE:
    if (!aenet_gimp2_check_drawable(drawable, sized, &error)) {
      status = GIMP_PDB_EXECUTION_ERROR;
      goto done;
    }
    if (!aenet_dialog_run(task, image, drawable, &v, &estimate)) {
      status = GIMP_PDB_CANCEL;
      goto done;
    }
    break;
  case GIMP_RUN_NONINTERACTIVE:
    if (!values_from_args(task, param, &v, &error)) {
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

  job = aenet_values_make_job(&v, task, &error);
  if (!job) {
    status
        = run_mode == GIMP_RUN_NONINTERACTIVE ? GIMP_PDB_CALLING_ERROR : GIMP_PDB_EXECUTION_ERROR;
    goto done;
  }

  if (!sized) {
    if (!aenet_gimp2_filter(drawable, job, estimate, &error))
      status = GIMP_PDB_EXECUTION_ERROR;
  } else if (!aenet_gimp2_enlarge(image, drawable, job, v.output,
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
  aenet_job_free(job);
  values[0].data.d_status = status;
  if (error) {
    /* GIMP shows this string to the user (or the calling script). */
    message = g_strdup(error->message);
    values[1].type = GIMP_PDB_STRING;
    values[1].data.d_string = message;
    *n_return_vals = 2;
    g_error_free(error);
  } else if (sized) {
    /* GIMP expects all declared return values, even after a cancel. */
    gboolean ok = status == GIMP_PDB_SUCCESS;
    values[1].type = GIMP_PDB_IMAGE;
    values[1].data.d_image = ok ? new_image : -1;
    values[2].type = GIMP_PDB_LAYER;
    values[2].data.d_layer = ok ? new_layer : -1;
    *n_return_vals = 3;
  }
}
