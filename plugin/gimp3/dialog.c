/* dialog.c — the GIMP 3 front end's dialog (see dialog.h).
 *
 * The settings are the procedure's config, shown by GimpProcedureDialog
 * with rows from the task's row (scale, noise level with Automatic,
 * strength, where they exist; the output for tasks that change the size;
 * the model and the working memory for every task). The model list (the
 * models installed for the task and scale, plugin/common/) is a string
 * combo on the config's "model". The automatic noise level is a check box:
 * the config keeps -1 for it, as a script passes it.
 *
 * The preview is GIMP's drawable preview: the visible area, with context
 * around it, runs through the job in memory (aenet_plugin_run_region)
 * each time the preview or a setting changes, with strength 1, blended
 * with the original by the strength when drawn. */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <libgimp/gimpui.h>

#include "dialog.h"
#include "drawable.h"

enum { COL_ID, COL_LABEL, COL_DESCRIPTION, N_COLS };

typedef struct {
  const AenetTask *task;
  GimpProcedureConfig *config;
  GeglBuffer *buffer; /* the drawable */
  const Babl *format;
  int n_channels, dw, dh;
  double estimate; /* noise level estimated on opening, or -1 */

  GtkWidget *preview, *model_desc, *auto_check, *noise_label, *status;
  GtkListStore *models; /* COL_ID: path, "" for the default */

  AenetJob *job;   /* what the preview uses */
  char *job_key;   /* its model, scale and memory, to know when to remake it */
} Dialog;

char *
aenet_gimp3_label(const char *label)
{
  const char *t = _(label);
  gsize n = strlen(t);

  return g_strndup(t, n > 0 && t[n - 1] == ':' ? n - 1 : n);
}

static int
current_scale(Dialog *d)
{
  const AenetTaskParam *p = aenet_task_get_param(d->task, AENET_PARAM_SCALE);
  int scale = d->task->min_scale;

  if (p)
    g_object_get(d->config, p->name, &scale, NULL);
  return scale;
}

static char *
current_model(Dialog *d)
{
  char *model = NULL;

  g_object_get(d->config, "model", &model, NULL);
  return model ? model : g_strdup("");
}

/* Fills the model list for the task and scale, and points the config at
 * the row its model names. A model that is not installed is kept as a row
 * of its own if keep_unknown, else the default is chosen. */
static void
fill_models(Dialog *d, gboolean keep_unknown)
{
  char *wanted = current_model(d);
  int active;
  GPtrArray *entries = aenet_plugin_list_models(d->task, current_scale(d), wanted, &active);

  gtk_list_store_clear(d->models);
  for (guint i = 0; i < entries->len; i++) {
    AenetModelEntry *e = g_ptr_array_index(entries, i);
    gtk_list_store_insert_with_values(d->models, NULL, -1, COL_ID, e->path ? e->path : "",
                                      COL_LABEL, e->label, COL_DESCRIPTION, e->description, -1);
  }
  AenetModelEntry *e = g_ptr_array_index(entries, active);
  if (active > 0 || !*wanted || !keep_unknown)
    g_object_set(d->config, "model", e->path ? e->path : "", NULL);
  else /* a name or path that is not installed: shown as it is */
    gtk_list_store_insert_with_values(d->models, NULL, -1, COL_ID, wanted, COL_LABEL, wanted,
                                      COL_DESCRIPTION, NULL, -1);
  g_ptr_array_unref(entries);
  g_free(wanted);
}

static void
show_description(Dialog *d)
{
  char *wanted = current_model(d), *id = NULL, *desc = NULL;
  GtkTreeIter it;
  gboolean more = gtk_tree_model_get_iter_first(GTK_TREE_MODEL(d->models), &it);

  for (; more; more = gtk_tree_model_iter_next(GTK_TREE_MODEL(d->models), &it)) {
    gtk_tree_model_get(GTK_TREE_MODEL(d->models), &it, COL_ID, &id, COL_DESCRIPTION, &desc, -1);
    gboolean match = strcmp(id, wanted) == 0;
    g_free(id);
    if (match)
      break;
    g_clear_pointer(&desc, g_free);
  }
  gtk_label_set_text(GTK_LABEL(d->model_desc), desc ? desc : "");
  g_free(desc);
  g_free(wanted);
}

/* Makes the job for the chosen settings (when the model, scale or memory
 * changed); FALSE with the reason shown. Strength 1: the strength is
 * blended when drawn. */
static gboolean
ensure_job(Dialog *d, AenetValues *v)
{
  GError *error = NULL;
  char *key = g_strdup_printf("%s|%d|%d|%d|%d", v->model, v->scale, v->noise_level < 0,
                              v->memory_mb, v->passes);

  if (d->job && g_strcmp0(key, d->job_key) == 0) {
    g_free(key);
    return TRUE;
  }
  g_clear_pointer(&d->job, aenet_job_free);
  g_free(d->job_key);
  d->job_key = key;
  AenetValues job_values = *v;
  job_values.strength = 1.0;
  d->job = aenet_values_make_job(&job_values, d->task, &error);
  if (!d->job) {
    gtk_label_set_text(GTK_LABEL(d->status), error->message);
    g_error_free(error);
    return FALSE;
  }
  return TRUE;
}

/* The settings shown now, as values (the noise level automatic when the
 * check box says so). */
static void
shown_values(Dialog *d, AenetValues *v)
{
  char *model = current_model(d);

  aenet_values_init(v, d->task);
  g_strlcpy(v->model, model, sizeof v->model);
  g_free(model);
  g_object_get(d->config, "memory", &v->memory_mb, "passes", &v->passes, NULL);
  for (int i = 0; i < d->task->n_params; i++) {
    const AenetTaskParam *p = &d->task->params[i];
    int n;
    double x;
    if (p->integer) {
      g_object_get(d->config, p->name, &n, NULL);
      aenet_values_set(v, p->kind, n);
    } else {
      g_object_get(d->config, p->name, &x, NULL);
      aenet_values_set(v, p->kind, x);
    }
  }
  if (d->auto_check && gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->auto_check)))
    v->noise_level = -1;
}

/* Runs the job on the preview's area (with context) and draws it. */
static void
update_preview(GimpPreview *preview, Dialog *d)
{
  int px, py, pw, ph, n = d->n_channels;
  GError *error = NULL;
  AenetValues v;

  shown_values(d, &v);
  if (!ensure_job(d, &v))
    return;
  gimp_preview_get_position(preview, &px, &py);
  gimp_preview_get_size(preview, &pw, &ph);

  /* The input shown: the preview's area, or for enlarging its centre part
   * that fills the area once enlarged. */
  int s = aenet_job_get_scale(d->job);
  int vw = MIN(d->dw, (pw + s - 1) / s), vh = MIN(d->dh, (ph + s - 1) / s);
  int vx = CLAMP(px + pw / 2 - vw / 2, 0, d->dw - vw),
      vy = CLAMP(py + ph / 2 - vh / 2, 0, d->dh - vh);
  int margin = aenet_plugin_preview_margin(d->job);
  int rx = MAX(0, vx - margin), ry = MAX(0, vy - margin);
  int rw = MIN(d->dw, vx + vw + margin) - rx, rh = MIN(d->dh, vy + vh + margin) - ry;
  float *region = g_new(float, (gsize)rw *rh *n);        /* (rh, rw, n) */
  float *result = g_new0(float, (gsize)rw *rh *s *s *n); /* (rh s, rw s, n) */
  float *shown = g_new(float, (gsize)pw *ph *n);         /* (ph, pw, n) */
  guchar *pixels = g_new(guchar, (gsize)pw * ph * n);    /* (ph, pw, n) */
  double sigma = v.noise_level < 0 ? MAX(d->estimate, 0.0) : v.noise_level;

  gegl_buffer_get(d->buffer, GEGL_RECTANGLE(rx, ry, rw, rh), 1.0, d->format, region,
                  GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  if (!aenet_plugin_run_region(d->job, region, rw, rh, n, vx - rx, vy - ry, vw, vh, sigma, result,
                               NULL, &error)) {
    gtk_label_set_text(GTK_LABEL(d->status), error->message);
    g_error_free(error);
    goto out;
  }

  /* The part of the result that fills the area, blended with the
   * original by the strength (an output pixel lies over its input). */
  float strength = aenet_task_get_param(d->task, AENET_PARAM_STRENGTH) ? (float)v.strength : 1.0f;
  int ox = (vx - rx) * s + MAX(0, (vw * s - pw) / 2),
      oy = (vy - ry) * s + MAX(0, (vh * s - ph) / 2);
  for (int y = 0; y < ph; y++)
    for (int x = 0; x < pw; x++)
      for (int c = 0; c < n; c++) {
        int yy = MIN(oy + y, rh * s - 1), xx = MIN(ox + x, rw * s - 1);
        float out = result[((gsize)yy * rw * s + xx) * n + c];
        float in = region[((gsize)(yy / s) * rw + xx / s) * n + c];
        shown[((gsize)y * pw + x) * n + c] = in + strength * (out - in);
      }
  static const char *const u8_names[] = { "Y' u8", "Y'A u8", "R'G'B' u8", "R'G'B'A u8" };
  babl_process(babl_fish(d->format, babl_format_with_space(u8_names[n - 1], d->format)), shown,
               pixels, (long)pw * ph);
  gimp_preview_draw_buffer(preview, pixels, pw * n);
  gtk_label_set_text(GTK_LABEL(d->status), "");
  if (d->noise_label != NULL) {
    char *t = aenet_plugin_noise_label(d->job, d->estimate);
    gtk_label_set_text(GTK_LABEL(d->noise_label), t);
    g_free(t);
  }

out:
  g_free(region);
  g_free(result);
  g_free(shown);
  g_free(pixels);
}

static void
on_scale_changed(GObject *config, GParamSpec *pspec, Dialog *d)
{
  fill_models(d, FALSE);
}

static void
on_config_changed(GObject *config, GParamSpec *pspec, Dialog *d)
{
  const AenetTaskParam *noise = aenet_task_get_param(d->task, AENET_PARAM_NOISE_LEVEL);

  /* The automatic level (negative) comes back with Reset or loaded
   * settings: tick the box and show the estimate instead. */
  if (noise && d->auto_check && strcmp(pspec->name, noise->name) == 0) {
    double sigma;
    g_object_get(config, noise->name, &sigma, NULL);
    if (sigma < 0) {
      gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(d->auto_check), TRUE);
      g_object_set(config, noise->name, MAX(d->estimate, 0.0), NULL);
      return;
    }
  }
  show_description(d);
  gimp_preview_invalidate(GIMP_PREVIEW(d->preview));
}

static void
on_auto_toggled(GtkToggleButton *button, Dialog *d)
{
  gimp_preview_invalidate(GIMP_PREVIEW(d->preview));
}

/* A row with a label and a widget, as GIMP's own rows. */
static GtkWidget *
labelled(const char *label, GtkWidget *widget)
{
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  char *text = aenet_gimp3_label(label);
  GtkWidget *l = gtk_label_new_with_mnemonic(text);

  g_free(text);
  gtk_label_set_mnemonic_widget(GTK_LABEL(l), widget);
  gtk_box_pack_start(GTK_BOX(box), l, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), widget, TRUE, TRUE, 0);
  gtk_widget_show_all(box);
  return box;
}

static GtkWidget *
dim_label(const char *text)
{
  GtkWidget *l = gtk_label_new(text);

  gtk_label_set_line_wrap(GTK_LABEL(l), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(l), 36);
  gtk_label_set_xalign(GTK_LABEL(l), 0);
  gtk_style_context_add_class(gtk_widget_get_style_context(l), "dim-label");
  gtk_widget_show(l);
  return l;
}

/* Adds widget to the settings box at *pos. */
static void
insert(GtkWidget *settings, GtkWidget *widget, int *pos)
{
  gtk_box_pack_start(GTK_BOX(settings), widget, FALSE, FALSE, 0);
  gtk_box_reorder_child(GTK_BOX(settings), widget, (*pos)++);
}

gboolean
aenet_gimp3_dialog_run(GimpProcedure *procedure, GimpProcedureConfig *config,
                       const AenetTask *task, GimpDrawable *drawable, double *estimate)
{
  Dialog dd = { 0 }, *d = &dd;
  GimpProcedureDialog *pd;
  GList *rows = NULL;
  GtkWidget *noise_widget = NULL;
  int x, y, w, h;
  double sigma = 0;
  const AenetTaskParam *noise = aenet_task_get_param(task, AENET_PARAM_NOISE_LEVEL);
  gboolean ok;

  gimp_ui_init("aenet");
  d->task = task;
  d->config = config;
  d->buffer = gimp_drawable_get_buffer(drawable);
  d->format = aenet_gimp3_float_format(drawable, &d->n_channels);
  d->dw = gimp_drawable_get_width(drawable);
  d->dh = gimp_drawable_get_height(drawable);
  d->estimate = -1;
  d->models = gtk_list_store_new(N_COLS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  if (!gimp_drawable_mask_intersect(drawable, &x, &y, &w, &h))
    x = y = 0, w = d->dw, h = d->dh;
  /* Once, as the run would: the run after OK reuses it (*estimate). */
  if (noise) {
    d->estimate = aenet_plugin_estimate_noise(d->buffer, d->format, d->n_channels, d->dw, d->dh,
                                              x, y, w, h);
    g_object_get(config, noise->name, &sigma, NULL);
  }

  GtkWidget *dialog = gimp_procedure_dialog_new(procedure, config, _(task->dialog_title));
  pd = GIMP_PROCEDURE_DIALOG(dialog);
  d->preview = gimp_procedure_dialog_get_drawable_preview(pd, "preview", drawable);

  /* The task's rows, in the row's order (the scale first: it chooses the
   * models offered), then the output and the working memory. */
  for (int i = 0; i < task->n_params; i++) {
    const AenetTaskParam *p = &task->params[i];
    if (p->kind == AENET_PARAM_SCALE) {
      GimpIntStore *scales = GIMP_INT_STORE(gimp_int_store_new(NULL, 0, NULL));
      gtk_list_store_clear(GTK_LIST_STORE(scales));
      for (int s = (int)p->min; s <= (int)p->max; s++) {
        char *t = g_strdup_printf(_("%d×"), s);
        gtk_list_store_insert_with_values(GTK_LIST_STORE(scales), NULL, -1, GIMP_INT_STORE_VALUE,
                                          s, GIMP_INT_STORE_LABEL, t, -1);
        g_free(t);
      }
      gimp_procedure_dialog_get_int_combo(pd, p->name, scales);
      g_object_unref(scales);
      rows = g_list_prepend(rows, (gpointer)p->name);
    } else {
      GtkWidget *spin = gimp_procedure_dialog_get_spin_scale(pd, p->name, 1.0);
      if (p->has_automatic && GIMP_IS_SPIN_SCALE(spin))
        gimp_spin_scale_set_scale_limits(GIMP_SPIN_SCALE(spin), p->min, p->max);
      if (p->kind == AENET_PARAM_NOISE_LEVEL)
        noise_widget = spin;
      rows = g_list_append(rows, (gpointer)p->name);
    }
  }
  if (aenet_task_changes_size(task)) {
    GimpIntStore *outputs = GIMP_INT_STORE(
        gimp_int_store_new(_("New image"), AENET_OUTPUT_NEW_IMAGE, _("Enlarge the layer in place"),
                           AENET_OUTPUT_IN_PLACE, _("New layer"), AENET_OUTPUT_NEW_LAYER, NULL));
    gimp_procedure_dialog_get_int_combo(pd, "output", outputs);
    g_object_unref(outputs);
    rows = g_list_append(rows, "output");
  }
  GtkWidget *memory = gimp_procedure_dialog_get_widget(pd, "memory", GTK_TYPE_SPIN_BUTTON);
  /* Less memory: smaller tiles, a little slower; the result is the same. */
  gtk_widget_set_tooltip_text(memory, _("Working memory of all threads. Less memory means smaller "
                                        "tiles and a little more time; the result is the same."));
  rows = g_list_append(rows, "memory");
  GtkWidget *passes = gimp_procedure_dialog_get_widget(pd, "passes", GTK_TYPE_SPIN_BUTTON);
  gtk_widget_set_tooltip_text(passes, _("Also run the model on mirror images of the picture and "
                                        "average: a little cleaner, each pass as slow as the "
                                        "first."));
  rows = g_list_append(rows, "passes");
  GtkWidget *settings = gimp_procedure_dialog_fill_box_list(pd, "settings", rows);
  g_list_free(rows);

  /* The model after the scale, whose models it lists. */
  int pos = aenet_task_get_param(task, AENET_PARAM_SCALE) ? 1 : 0;
  fill_models(d, TRUE);
  GtkWidget *combo = gimp_prop_string_combo_box_new(G_OBJECT(config), "model",
                                                    GTK_TREE_MODEL(d->models), COL_ID, COL_LABEL);
  insert(settings, labelled(N_("_Model:"), combo), &pos);
  d->model_desc = dim_label("");
  insert(settings, d->model_desc, &pos);
  if (noise) {
    char *t = aenet_plugin_noise_label(d->job, d->estimate);
    d->auto_check = gtk_check_button_new_with_mnemonic(_("_Automatic"));
    gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(d->auto_check), sigma < 0);
    gtk_widget_show(d->auto_check);
    insert(settings, d->auto_check, &pos);
    d->noise_label = dim_label(t);
    insert(settings, d->noise_label, &pos);
    g_free(t);
    if (sigma < 0)
      g_object_set(config, noise->name, MAX(d->estimate, 0.0), NULL);
    /* The spin scale itself: get_widget would make a second widget. */
    g_object_bind_property(d->auto_check, "active", noise_widget, "sensitive",
                           G_BINDING_SYNC_CREATE | G_BINDING_INVERT_BOOLEAN);
    g_signal_connect(d->auto_check, "toggled", G_CALLBACK(on_auto_toggled), d);
  }
  d->status = dim_label("");
  gtk_box_pack_start(GTK_BOX(settings), d->status, FALSE, FALSE, 0);
  gtk_box_set_spacing(GTK_BOX(settings), 6);
  gtk_widget_set_size_request(settings, 280, -1);

  GtkWidget *main_box = gimp_procedure_dialog_fill_box(pd, "main", "preview", "settings", NULL);
  gtk_orientable_set_orientation(GTK_ORIENTABLE(main_box), GTK_ORIENTATION_HORIZONTAL);
  gtk_box_set_spacing(GTK_BOX(main_box), 12);
  gimp_procedure_dialog_fill(pd, "main", NULL);

  show_description(d);
  const AenetTaskParam *scale = aenet_task_get_param(task, AENET_PARAM_SCALE);
  if (scale) {
    char *signal = g_strdup_printf("notify::%s", scale->name);
    g_signal_connect(config, signal, G_CALLBACK(on_scale_changed), d);
    g_free(signal);
  }
  g_signal_connect(config, "notify", G_CALLBACK(on_config_changed), d);
  g_signal_connect(d->preview, "invalidated", G_CALLBACK(update_preview), d);

  ok = gimp_procedure_dialog_run(pd);
  /* First: on_config_changed would turn the automatic -1 set below back
   * into the estimate, and the run would use the noise-level model. */
  g_signal_handlers_disconnect_by_data(config, d);
  *estimate = -1;
  if (ok && noise && gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->auto_check))) {
    g_object_set(config, noise->name, -1.0, NULL);
    *estimate = d->estimate;
  }

  gtk_widget_destroy(dialog);
  aenet_job_free(d->job);
  g_free(d->job_key);
  g_object_unref(d->models);
  g_object_unref(d->buffer);
  return ok;
}
