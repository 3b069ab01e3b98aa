/* dialog.c — the plug-in's dialog, plain GTK 3 on top of libgimp
 * (libgimpui 2.10 is GTK 2 and cannot share a process with GTK 3).
 *
 * The rows come from the task's row (task.h): a noise level (with
 * Automatic), a strength, a scale, where they exist; tasks that change the
 * size add the output; every task has the model and the working memory.
 *
 * The preview runs the job on a small region in a worker thread. GEGL
 * buffers of a plug-in talk to GIMP over a pipe and are not for threads, so
 * the main thread reads the region (with context around it) into memory
 * first; the worker only sees that copy. A settings change cancels the
 * running preview, joins the worker and starts a new one.
 *
 * With AENET_DEBUG_PREVIEW set in the environment, each preview shown
 * prints on stderr how long after the last settings change it came, and
 * where the time went (docs/plugin.md has the measurements). */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <gtk/gtk.h>

#include "dialog.h"
#include "drawable.h"
#include "error.h"
#include "model.h"
#include "network.h"

enum { PREVIEW_W = 320, PREVIEW_H = 240, RESPONSE_RESET = 1 };

typedef struct {
  const AenetTask *task;
  gboolean sized; /* the task changes the size: an output row */
  gint32 drawable;
  AenetValues *values;
  GeglBuffer *buffer; /* the drawable, main thread only */
  const Babl *format;
  int n_channels, dw, dh;

  GtkWidget *dialog, *model_combo, *model_desc, *auto_check, *noise_spin, *noise_label,
      *strength_spin, *scale_combo, *output_combo, *memory_spin, *passes_spin, *zoom_combo,
      *before_check, *area, *status;
  GPtrArray *models; /* AenetModelEntry *, for the combo's rows */

  double estimate;    /* noise level estimated on open, or -1 */
  int cx, cy;         /* preview centre, drawable coordinates */
  int drag_x, drag_y; /* pointer at the last motion */

  AenetJob *job;   /* what the preview uses */
  char *model_key; /* its model, scale and automatic level, to know when to remake it */
  GThread *worker;
  volatile int cancel;
  guint timeout_id;

  /* The region handed to the worker: (rh, rw, n) floats with context. */
  float *region, *result;
  int rx, ry, rw, rh; /* region in drawable coordinates */
  int vx, vy, vw, vh; /* visible part, inside the region */
  int scale;
  double noise_level; /* for the worker, 0–255 */
  gboolean result_ok;
  char *result_error;
  cairo_surface_t *before, *after; /* last rendered views */

  /* AENET_DEBUG_PREVIEW timings, g_get_monotonic_time() µs; 0 = unset. */
  gboolean debug;
  gint64 t_changed; /* the last settings change (or the dialog's opening) */
  gint64 t_started; /* the preview's region read, worker started */
  gint64 t_worked;  /* the worker's network run started */
  gint64 t_done;    /* the worker finished */
} Dialog;

static int
current_scale(Dialog *d)
{
  const AenetTaskParam *p = aenet_task_get_param(d->task, AENET_PARAM_SCALE);
  return p ? (int)p->min + gtk_combo_box_get_active(GTK_COMBO_BOX(d->scale_combo))
           : d->task->min_scale;
}

/* Fills the model choice with the models installed for this task and
 * scale, the one the values name chosen. */
static void
fill_models(Dialog *d)
{
  int active;
  GPtrArray *models = aenet_plugin_list_models(d->task, current_scale(d), d->values->model, &active);
  /* Emptied first: the combo's "changed" handlers still read the old list. */
  gtk_combo_box_text_remove_all(GTK_COMBO_BOX_TEXT(d->model_combo));
  if (d->models)
    g_ptr_array_unref(d->models);
  d->models = models;
  for (guint i = 0; i < d->models->len; i++)
    gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->model_combo),
                                   ((AenetModelEntry *)g_ptr_array_index(d->models, i))->label);
  gtk_combo_box_set_active(GTK_COMBO_BOX(d->model_combo), active);
}

static AenetModelEntry *
current_model_entry(Dialog *d)
{
  int i = gtk_combo_box_get_active(GTK_COMBO_BOX(d->model_combo));
  return i >= 0 && (guint)i < d->models->len ? g_ptr_array_index(d->models, i) : NULL;
}

/* ---- the preview worker ---- */

static gboolean preview_done(gpointer data);
static void update_noise_label(Dialog *d);

static gpointer
preview_worker(gpointer data)
{
  Dialog *d = data;
  GError *error = NULL;

  d->t_worked = g_get_monotonic_time();
  d->result_ok = aenet_plugin_run_region(d->job, d->region, d->rw, d->rh, d->n_channels, d->vx,
                                         d->vy, d->vw, d->vh, d->noise_level, d->result,
                                         &d->cancel, &error);
  d->t_done = g_get_monotonic_time();
  if (error) {
    if (!g_error_matches(error, AENET_ERROR, AENET_ERROR_CANCELLED))
      d->result_error = g_strdup(error->message);
    g_error_free(error);
  }
  g_idle_add(preview_done, d);
  return NULL;
}

static void
stop_worker(Dialog *d)
{
  if (!d->worker)
    return;
  d->cancel = 1;
  g_thread_join(d->worker);
  d->worker = NULL;
  /* Drop the worker's pending notification: its data is stale. */
  while (g_idle_remove_by_data(d))
    ;
}

/* Floats (h, w, n) at 1:1 into a cairo surface of the preview's size,
 * each pixel drawn zoom × zoom, on a checkerboard where transparent. */
static cairo_surface_t *
render(const float *px, int w, int h, int n, int zoom)
{
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PREVIEW_W, PREVIEW_H);
  guint8 *data = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  gboolean alpha = n == 2 || n == 4;

  cairo_surface_flush(s);
  for (int y = 0; y < PREVIEW_H; y++)
    for (int x = 0; x < PREVIEW_W; x++) {
      guint32 *dst = (guint32 *)(data + y * stride) + x;
      int sx = x / zoom, sy = y / zoom;
      float check = ((x / 8 + y / 8) & 1) ? 0.6f : 0.4f;
      if (sx >= w || sy >= h) {
        *dst = 0x303030;
        continue;
      }
      const float *p = px + ((gsize)sy * w + sx) * n;
      float a = alpha ? CLAMP(p[n - 1], 0.0f, 1.0f) : 1.0f;
      float rgb[3] = { p[0], n >= 3 ? p[1] : p[0], n >= 3 ? p[2] : p[0] };
      guint32 v = 0;
      for (int c = 0; c < 3; c++) {
        float f = CLAMP(rgb[c], 0.0f, 1.0f) * a + check * (1 - a);
        v = (v << 8) | (guint32)lrintf(f * 255);
      }
      *dst = v;
    }
  cairo_surface_mark_dirty(s);
  return s;
}

/* Draws the worker's result, blended with the original by the strength
 * shown now. */
static void
show_result(Dialog *d)
{
  int s = d->scale, n = d->n_channels, ow = d->rw * s;
  int zoom = 1 + gtk_combo_box_get_active(GTK_COMBO_BOX(d->zoom_combo));

  /* The visible part of the result (output pixels) and of the input,
   * shown at the same size: the input pixel-repeated by the scale. */
  int w = d->vw * s, h = d->vh * s;
  float *after = g_new(float, (gsize)w *h *n), *before = g_new(float, (gsize)w *h *n);
  float strength = d->strength_spin
                       ? (float)gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->strength_spin))
                       : 1.0f;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < n; c++) {
        gsize o = ((gsize)y * w + x) * n + c;
        float in = d->region[((gsize)(d->vy + y / s) * d->rw + d->vx + x / s) * n + c];
        float out = d->result[((gsize)(d->vy * s + y) * ow + d->vx * s + x) * n + c];
        before[o] = in;
        after[o] = in + strength * (out - in);
      }
  g_clear_pointer(&d->before, cairo_surface_destroy);
  g_clear_pointer(&d->after, cairo_surface_destroy);
  d->before = render(before, w, h, n, zoom);
  d->after = render(after, w, h, n, zoom);
  g_free(before);
  g_free(after);
  gtk_label_set_text(GTK_LABEL(d->status), "");
  gtk_widget_queue_draw(d->area);
}

static gboolean
preview_done(gpointer data)
{
  Dialog *d = data;

  g_thread_join(d->worker);
  d->worker = NULL;
  if (!d->result_ok) {
    gtk_label_set_text(GTK_LABEL(d->status),
                       d->result_error ? d->result_error : _("Preview stopped."));
    g_clear_pointer(&d->result_error, g_free);
    return G_SOURCE_REMOVE;
  }
  show_result(d);
  update_noise_label(d);
  if (d->debug && d->t_changed) {
    gint64 now = g_get_monotonic_time();
    g_printerr(
        "aenet preview: %d×%d shown %.0f ms after the change (waiting %.0f ms, model and region "
        "%.0f ms, network %.0f ms, drawing %.0f ms)\n",
        d->vw * d->scale, d->vh * d->scale, (now - d->t_changed) / 1e3,
        (d->t_started - d->t_changed) / 1e3, (d->t_worked - d->t_started) / 1e3,
        (d->t_done - d->t_worked) / 1e3, (now - d->t_done) / 1e3);
    d->t_changed = 0;
  }
  return G_SOURCE_REMOVE;
}

static void get_widgets(Dialog *d, AenetValues *v);

/* The line under Automatic (aenet_plugin_noise_label). */
static void
update_noise_label(Dialog *d)
{
  if (d->noise_label == NULL)
    return;
  char *text = aenet_plugin_noise_label(d->job, d->estimate);
  gtk_label_set_text(GTK_LABEL(d->noise_label), text);
  g_free(text);
}

/* Makes the job for the chosen settings (when the model, scale or the
 * automatic level changed); FALSE with the reason shown. The preview's job
 * has strength 1: the strength is blended when shown (show_result). */
static gboolean
ensure_job(Dialog *d)
{
  AenetValues v;
  GError *error = NULL;

  aenet_values_init(&v, d->task);
  get_widgets(d, &v);
  v.strength = 1.0;
  char *key = g_strdup_printf("%s|%d|%d|%d", v.model, v.scale, v.noise_level < 0, v.passes);
  if (d->job && g_strcmp0(key, d->model_key) == 0) {
    g_free(key);
    return TRUE;
  }
  g_clear_pointer(&d->job, aenet_job_free);
  g_free(d->model_key);
  d->model_key = key;
  d->job = aenet_values_make_job(&v, d->task, &error);
  update_noise_label(d);
  if (!d->job) {
    gtk_label_set_text(GTK_LABEL(d->status), error->message);
    g_error_free(error);
    return FALSE;
  }
  return TRUE;
}

static gboolean
start_preview(gpointer data)
{
  Dialog *d = data;
  int zoom = 1 + gtk_combo_box_get_active(GTK_COMBO_BOX(d->zoom_combo));

  d->timeout_id = 0;
  stop_worker(d);
  d->result_ok = FALSE; /* nothing to blend again until this one is done */
  d->t_started = g_get_monotonic_time();
  if (!ensure_job(d))
    return G_SOURCE_REMOVE;
  d->scale = aenet_job_get_scale(d->job);

  /* Visible input area, then the region read around it as context. */
  int margin = aenet_plugin_preview_margin(d->job);
  int vw = MIN(d->dw, PREVIEW_W / (zoom * d->scale)),
      vh = MIN(d->dh, PREVIEW_H / (zoom * d->scale));
  int vx = CLAMP(d->cx - vw / 2, 0, d->dw - vw), vy = CLAMP(d->cy - vh / 2, 0, d->dh - vh);
  d->rx = MAX(0, vx - margin);
  d->ry = MAX(0, vy - margin);
  d->rw = MIN(d->dw, vx + vw + margin) - d->rx;
  d->rh = MIN(d->dh, vy + vh + margin) - d->ry;
  d->vx = vx - d->rx;
  d->vy = vy - d->ry;
  d->vw = vw;
  d->vh = vh;
  g_free(d->region);
  g_free(d->result);
  d->region = g_new(float, (gsize)d->rw * d->rh * d->n_channels);
  d->result = g_new0(float, (gsize)d->rw * d->rh * d->scale * d->scale * d->n_channels);
  gegl_buffer_get(d->buffer, GEGL_RECTANGLE(d->rx, d->ry, d->rw, d->rh), 1.0, d->format, d->region,
                  GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);

  d->noise_level = 0;
  if (d->auto_check)
    d->noise_level = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->auto_check))
                         ? MAX(d->estimate, 0.0)
                         : gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->noise_spin));
  d->cancel = 0;
  gtk_label_set_text(GTK_LABEL(d->status), _("Computing the preview…"));
  d->worker = g_thread_new("aenet-preview", preview_worker, d);
  return G_SOURCE_REMOVE;
}

/* Settings changed: restart the preview shortly (changes come in bursts). */
static void
schedule_preview(Dialog *d)
{
  d->cancel = 1;
  d->t_changed = g_get_monotonic_time();
  if (d->timeout_id)
    g_source_remove(d->timeout_id);
  d->timeout_id = g_timeout_add(120, start_preview, d);
}

static void
on_changed(GtkWidget *w, Dialog *d)
{
  if (d->auto_check)
    gtk_widget_set_sensitive(d->noise_spin,
                             !gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->auto_check)));
  AenetModelEntry *e = current_model_entry(d);
  gtk_label_set_text(GTK_LABEL(d->model_desc), e && e->description ? e->description : "");
  schedule_preview(d);
}

/* The strength only blends the network's result with the original: blend
 * the result shown again, without running the network. A preview still to
 * come reads the strength when it is done. */
static void
on_strength_changed(GtkWidget *w, Dialog *d)
{
  gint64 t = g_get_monotonic_time();

  if (d->worker || d->timeout_id || !d->result_ok || !d->after)
    return;
  show_result(d);
  if (d->debug)
    g_printerr("aenet preview: strength blended again in %.0f ms\n",
               (g_get_monotonic_time() - t) / 1e3);
}

static void
on_scale_changed(GtkWidget *w, Dialog *d)
{
  fill_models(d);
  schedule_preview(d);
}

static gboolean
on_draw(GtkWidget *w, cairo_t *cr, Dialog *d)
{
  cairo_surface_t *s
      = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->before_check)) ? d->before : d->after;
  if (s) {
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_paint(cr);
  }
  return TRUE;
}

static void
move_preview(Dialog *d, int dx, int dy)
{
  d->cx = CLAMP(d->cx + dx, 0, d->dw - 1);
  d->cy = CLAMP(d->cy + dy, 0, d->dh - 1);
  schedule_preview(d);
}

static gboolean
on_button_press(GtkWidget *w, GdkEventButton *ev, Dialog *d)
{
  gtk_widget_grab_focus(w);
  d->drag_x = (int)ev->x;
  d->drag_y = (int)ev->y;
  return TRUE;
}

static gboolean
on_motion(GtkWidget *w, GdkEventMotion *ev, Dialog *d)
{
  int zoom = (1 + gtk_combo_box_get_active(GTK_COMBO_BOX(d->zoom_combo))) * MAX(d->scale, 1);
  int dx = (d->drag_x - (int)ev->x) / zoom, dy = (d->drag_y - (int)ev->y) / zoom;
  if (dx || dy) {
    d->drag_x -= dx * zoom;
    d->drag_y -= dy * zoom;
    move_preview(d, dx, dy);
  }
  return TRUE;
}

static gboolean
on_key(GtkWidget *w, GdkEventKey *ev, Dialog *d)
{
  int step = 16;
  switch (ev->keyval) {
  case GDK_KEY_Left:
    move_preview(d, -step, 0);
    return TRUE;
  case GDK_KEY_Right:
    move_preview(d, step, 0);
    return TRUE;
  case GDK_KEY_Up:
    move_preview(d, 0, -step);
    return TRUE;
  case GDK_KEY_Down:
    move_preview(d, 0, step);
    return TRUE;
  default:
    return FALSE;
  }
}

static GtkWidget *
add_row(GtkGrid *grid, int row, const char *mnemonic, GtkWidget *widget)
{
  GtkWidget *label = gtk_label_new_with_mnemonic(mnemonic);
  gtk_label_set_mnemonic_widget(GTK_LABEL(label), widget);
  gtk_widget_set_halign(label, GTK_ALIGN_END);
  gtk_grid_attach(grid, label, 0, row, 1, 1);
  gtk_widget_set_hexpand(widget, TRUE);
  gtk_grid_attach(grid, widget, 1, row, 1, 1);
  return label;
}

static void
set_widgets(Dialog *d, const AenetValues *v)
{
  const AenetTaskParam *scale = aenet_task_get_param(d->task, AENET_PARAM_SCALE);
  if (d->auto_check) {
    gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(d->auto_check), v->noise_level < 0);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(d->noise_spin),
                              v->noise_level < 0 ? MAX(d->estimate, 0.0) : v->noise_level);
  }
  if (d->strength_spin)
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(d->strength_spin), v->strength);
  if (scale)
    gtk_combo_box_set_active(GTK_COMBO_BOX(d->scale_combo),
                             CLAMP(v->scale, (int)scale->min, (int)scale->max) - (int)scale->min);
  if (d->output_combo)
    gtk_combo_box_set_active(GTK_COMBO_BOX(d->output_combo), CLAMP(v->output, 0, 2));
  gtk_spin_button_set_value(GTK_SPIN_BUTTON(d->memory_spin),
                            v->memory_mb > 0 ? v->memory_mb
                                             : (int)(AENET_DEFAULT_MEMORY_BUDGET >> 20));
  gtk_spin_button_set_value(GTK_SPIN_BUTTON(d->passes_spin), MAX(v->passes, 1));
}

static void
get_widgets(Dialog *d, AenetValues *v)
{
  AenetModelEntry *e = current_model_entry(d);
  g_strlcpy(v->model, e && e->path ? e->path : "", sizeof v->model);
  if (d->auto_check)
    v->noise_level = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->auto_check))
                         ? -1.0
                         : gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->noise_spin));
  if (d->strength_spin)
    v->strength = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->strength_spin));
  if (d->scale_combo)
    v->scale = current_scale(d);
  if (d->output_combo)
    v->output = gtk_combo_box_get_active(GTK_COMBO_BOX(d->output_combo));
  v->memory_mb = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->memory_spin));
  v->passes = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->passes_spin));
}

/* A spin button with the parameter's range and step. */
static GtkWidget *
param_spin(const AenetTaskParam *p)
{
  GtkWidget *spin = gtk_spin_button_new_with_range(p->min, p->max, p->step);
  int digits = 0;
  for (double step = p->step; digits < 3 && step < 1.0 - 1e-9; step *= 10)
    digits++;
  gtk_spin_button_set_digits(GTK_SPIN_BUTTON(spin), digits);
  return spin;
}

/* The task's parameters as rows of the grid, from its row in the table. */
static void
add_param_rows(Dialog *d, GtkGrid *grid, int *row)
{
  for (int i = 0; i < d->task->n_params; i++) {
    const AenetTaskParam *p = &d->task->params[i];
    switch (p->kind) {
    case AENET_PARAM_SCALE:
      break; /* above the model: it chooses the models offered */
    case AENET_PARAM_NOISE_LEVEL:
      d->auto_check = gtk_check_button_new_with_mnemonic(_("_Automatic"));
      add_row(grid, (*row)++, _("Noise level:"), d->auto_check);
      d->noise_label = gtk_label_new(NULL);
      update_noise_label(d);
      gtk_label_set_xalign(GTK_LABEL(d->noise_label), 0);
      gtk_style_context_add_class(gtk_widget_get_style_context(d->noise_label), "dim-label");
      gtk_grid_attach(grid, d->noise_label, 1, (*row)++, 1, 1);
      d->noise_spin = param_spin(p);
      add_row(grid, (*row)++, _(p->label), d->noise_spin);
      break;
    case AENET_PARAM_STRENGTH:
      d->strength_spin = param_spin(p);
      add_row(grid, (*row)++, _(p->label), d->strength_spin);
      break;
    }
  }
}

gboolean
aenet_dialog_run(const AenetTask *task, gint32 image, gint32 drawable, AenetValues *values,
                 double *estimate)
{
  Dialog dd = { 0 }, *d = &dd;
  int x, y, w, h, row = 0;
  gboolean ok;
  const AenetTaskParam *scale_param = aenet_task_get_param(task, AENET_PARAM_SCALE);

  gtk_init(NULL, NULL);
  d->task = task;
  d->sized = aenet_task_changes_size(task);
  d->drawable = drawable;
  d->values = values;
  d->buffer = gimp_drawable_get_buffer(drawable);
  d->format = aenet_gimp2_float_format(drawable, &d->n_channels);
  d->dw = gimp_drawable_width(drawable);
  d->dh = gimp_drawable_height(drawable);
  d->estimate = -1;
  d->debug = g_getenv("AENET_DEBUG_PREVIEW") != NULL;
  if (!gimp_drawable_mask_intersect(drawable, &x, &y, &w, &h))
    x = y = 0, w = d->dw, h = d->dh;
  d->cx = x + w / 2;
  d->cy = y + h / 2;
  /* Once, as the run would: the run after OK reuses it (*estimate). */
  if (aenet_task_get_param(task, AENET_PARAM_NOISE_LEVEL))
    d->estimate
        = aenet_plugin_estimate_noise(d->buffer, d->format, d->n_channels, d->dw, d->dh, x, y, w, h);

  d->dialog = gtk_dialog_new_with_buttons(_(task->dialog_title), NULL, 0, _("_Reset"),
                                          RESPONSE_RESET, _("_Cancel"), GTK_RESPONSE_CANCEL,
                                          _("_OK"), GTK_RESPONSE_OK, NULL);
  gtk_dialog_set_default_response(GTK_DIALOG(d->dialog), GTK_RESPONSE_OK);
  gtk_window_set_position(GTK_WINDOW(d->dialog), GTK_WIN_POS_CENTER);
  gtk_window_set_keep_above(GTK_WINDOW(d->dialog), TRUE);

  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_container_set_border_width(GTK_CONTAINER(box), 12);
  gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(d->dialog))), box, TRUE, TRUE,
                     0);

  /* Left: the preview and its controls. */
  GtkWidget *left = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
  gtk_box_pack_start(GTK_BOX(box), left, FALSE, FALSE, 0);
  GtkWidget *frame = gtk_frame_new(NULL);
  d->area = gtk_drawing_area_new();
  gtk_widget_set_size_request(d->area, PREVIEW_W, PREVIEW_H);
  gtk_widget_set_can_focus(d->area, TRUE);
  gtk_widget_set_tooltip_text(d->area, _("Drag, or use the arrow keys, to move the preview."));
  gtk_widget_add_events(d->area,
                        GDK_BUTTON_PRESS_MASK | GDK_BUTTON1_MOTION_MASK | GDK_KEY_PRESS_MASK);
  gtk_container_add(GTK_CONTAINER(frame), d->area);
  gtk_box_pack_start(GTK_BOX(left), frame, FALSE, FALSE, 0);
  GtkWidget *pbar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start(GTK_BOX(left), pbar, FALSE, FALSE, 0);
  d->before_check = gtk_check_button_new_with_mnemonic(_("Show origi_nal"));
  gtk_box_pack_start(GTK_BOX(pbar), d->before_check, FALSE, FALSE, 0);
  d->zoom_combo = gtk_combo_box_text_new();
  gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->zoom_combo), _("1:1"));
  gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->zoom_combo), _("2:1"));
  gtk_combo_box_set_active(GTK_COMBO_BOX(d->zoom_combo), 0);
  GtkWidget *zl = gtk_label_new_with_mnemonic(_("_Zoom:"));
  gtk_label_set_mnemonic_widget(GTK_LABEL(zl), d->zoom_combo);
  gtk_box_pack_end(GTK_BOX(pbar), d->zoom_combo, FALSE, FALSE, 0);
  gtk_box_pack_end(GTK_BOX(pbar), zl, FALSE, FALSE, 0);
  d->status = gtk_label_new("");
  gtk_label_set_line_wrap(GTK_LABEL(d->status), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(d->status), 40);
  gtk_widget_set_halign(d->status, GTK_ALIGN_START);
  gtk_box_pack_start(GTK_BOX(left), d->status, FALSE, FALSE, 0);

  /* Right: the settings. */
  GtkGrid *grid = GTK_GRID(gtk_grid_new());
  gtk_grid_set_row_spacing(grid, 6);
  gtk_grid_set_column_spacing(grid, 12);
  gtk_box_pack_start(GTK_BOX(box), GTK_WIDGET(grid), TRUE, TRUE, 0);

  if (scale_param) {
    d->scale_combo = gtk_combo_box_text_new();
    for (int s = (int)scale_param->min; s <= (int)scale_param->max; s++) {
      char *t = g_strdup_printf(_("%d×"), s);
      gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->scale_combo), t);
      g_free(t);
    }
    gtk_combo_box_set_active(GTK_COMBO_BOX(d->scale_combo),
                             CLAMP(values->scale, (int)scale_param->min, (int)scale_param->max)
                                 - (int)scale_param->min);
    add_row(grid, row++, _(scale_param->label), d->scale_combo);
  }
  d->model_combo = gtk_combo_box_text_new();
  add_row(grid, row++, _("_Model:"), d->model_combo);
  d->model_desc = gtk_label_new("");
  gtk_label_set_line_wrap(GTK_LABEL(d->model_desc), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(d->model_desc), 36);
  gtk_label_set_xalign(GTK_LABEL(d->model_desc), 0);
  gtk_style_context_add_class(gtk_widget_get_style_context(d->model_desc), "dim-label");
  gtk_grid_attach(grid, d->model_desc, 1, row++, 1, 1);

  add_param_rows(d, grid, &row);
  if (d->sized) {
    d->output_combo = gtk_combo_box_text_new();
    gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->output_combo), _("New image"));
    gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->output_combo),
                                   _("Enlarge the layer in place"));
    gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(d->output_combo), _("New layer"));
    add_row(grid, row++, _("Out_put:"), d->output_combo);
  }
  /* Less memory: smaller tiles, a little slower; the result is the same. */
  d->memory_spin
      = gtk_spin_button_new_with_range(AENET_PLUGIN_MEMORY_MIN_MB, AENET_PLUGIN_MEMORY_MAX_MB, 32);
  gtk_widget_set_tooltip_text(d->memory_spin,
                              _("Working memory of all threads. Less memory means smaller tiles "
                                "and a little more time; the result is the same."));
  add_row(grid, row++, _("Working _memory (MiB):"), d->memory_spin);
  d->passes_spin = gtk_spin_button_new_with_range(1, AENET_MAX_PASSES, 1);
  gtk_widget_set_tooltip_text(d->passes_spin,
                              _("Also run the model on mirror images of the picture and average: "
                                "a little cleaner, each pass as slow as the first."));
  add_row(grid, row++, _("_Passes:"), d->passes_spin);

  fill_models(d);
  set_widgets(d, values);
  on_changed(NULL, d);

  g_signal_connect(d->model_combo, "changed", G_CALLBACK(on_changed), d);
  g_signal_connect(d->zoom_combo, "changed", G_CALLBACK(on_changed), d);
  g_signal_connect(d->passes_spin, "value-changed", G_CALLBACK(on_changed), d);
  g_signal_connect_swapped(d->before_check, "toggled", G_CALLBACK(gtk_widget_queue_draw), d->area);
  if (d->auto_check) {
    g_signal_connect(d->auto_check, "toggled", G_CALLBACK(on_changed), d);
    g_signal_connect(d->noise_spin, "value-changed", G_CALLBACK(on_changed), d);
  }
  if (d->strength_spin)
    g_signal_connect(d->strength_spin, "value-changed", G_CALLBACK(on_strength_changed), d);
  if (d->scale_combo)
    g_signal_connect(d->scale_combo, "changed", G_CALLBACK(on_scale_changed), d);
  g_signal_connect(d->area, "draw", G_CALLBACK(on_draw), d);
  g_signal_connect(d->area, "button-press-event", G_CALLBACK(on_button_press), d);
  g_signal_connect(d->area, "motion-notify-event", G_CALLBACK(on_motion), d);
  g_signal_connect(d->area, "key-press-event", G_CALLBACK(on_key), d);

  gtk_widget_show_all(d->dialog);
  for (;;) {
    int response = gtk_dialog_run(GTK_DIALOG(d->dialog));
    if (response == RESPONSE_RESET) {
      AenetValues def;
      aenet_values_init(&def, d->task);
      if (d->scale_combo)
        g_signal_handlers_block_by_func(d->scale_combo, on_scale_changed, d);
      set_widgets(d, &def);
      if (d->scale_combo) {
        g_signal_handlers_unblock_by_func(d->scale_combo, on_scale_changed, d);
        *values->model = '\0';
        fill_models(d);
      }
      gtk_combo_box_set_active(GTK_COMBO_BOX(d->model_combo), 0);
      continue;
    }
    ok = response == GTK_RESPONSE_OK;
    break;
  }
  if (ok)
    get_widgets(d, values);
  *estimate = ok && values->noise_level < 0 ? d->estimate : -1;

  if (d->timeout_id)
    g_source_remove(d->timeout_id);
  stop_worker(d);
  gtk_widget_destroy(d->dialog);
  while (gtk_events_pending())
    gtk_main_iteration();
  g_clear_pointer(&d->before, cairo_surface_destroy);
  g_clear_pointer(&d->after, cairo_surface_destroy);
  aenet_job_free(d->job);
  g_free(d->model_key);
  g_free(d->region);
  g_free(d->result);
  g_ptr_array_unref(d->models);
  g_object_unref(d->buffer);
  return ok;
}
