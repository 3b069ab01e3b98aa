/* cmd-train.c — `aenet train`: options, progress and Ctrl-C around train.c. */
#include "config.h"

#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "data-options.h"
#include "presets.h"
#include "progress.h"
#include "train.h"

static volatile int stop_requested;

static void
on_signal(int sig)
{
  stop_requested = 1;
}

typedef struct {
  gboolean tty;
  gint64 last_line;
} Reporter;

static void
report_progress(void *user, const AenetTrainStatus *st)
{
  Reporter *r = user;
  gint64 now = g_get_monotonic_time();
  if (st->validated) {
    fprintf(stderr, "%s", r->tty ? "\r\033[K" : "");
    fprintf(stderr, _("step %ld: validation PSNR %.2f dB (baseline %.2f dB, best %.2f dB)\n"),
            st->step, st->val_psnr, st->val_baseline_psnr, st->best_val_psnr);
    return;
  }
  /* On a terminal the line is redrawn; in a log, one line a minute. */
  if (!r->tty && now - r->last_line < 60 * G_USEC_PER_SEC)
    return;
  r->last_line = now;
  char *eta
      = st->seconds_left >= 0 ? aenet_progress_format_duration(st->seconds_left) : g_strdup("?");
  fprintf(stderr, "%s", r->tty ? "\r\033[K" : "");
  fprintf(stderr, _("step %ld/%ld  loss %.5f  lr %.2e  %.1f patches/s  ETA %s"), st->step,
          st->total_steps, st->loss, st->lr, st->patches_per_second, eta);
  fprintf(stderr, "%s", r->tty ? "" : "\n");
  g_free(eta);
}

static void
report_message(void *user, const char *text)
{
  Reporter *r = user;
  fprintf(stderr, "%s%s\n", r->tty ? "\r\033[K" : "", text);
}

static gboolean
parse_choice(const char *value, const char *const *names, int n, int *out)
{
  for (int i = 0; i < n; i++)
    if (g_strcmp0(value, names[i]) == 0) {
      *out = i;
      return TRUE;
    }
  return FALSE;
}

int
aenet_cmd_train(int argc, char **argv)
{
  char *val = NULL, *from = NULL, *arch = NULL, *resume = NULL;
  char *out = NULL, *checkpoint = NULL, *name = NULL, *loss = NULL, *schedule = NULL;
  char *init_from = NULL, *widen_from = NULL, *deepen_from = NULL;
  gboolean balance_sigma = FALSE;
  int batch = 0, threads = 0, val_images = 0;
  gint64 steps = 0, stop_at = 0, val_every = -1, warmup = -1;
  double minutes = 0, lr = 0, weight_decay = -1, clip = -1, checkpoint_minutes = 0;
  double val_sigma = -1;
  AenetDataOptions data;
  GOptionEntry entries[] = {
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &val,
      N_("Folder of validation images (default: hold out part of --data)"), N_("DIR") },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &from, N_("Fine-tune this model"), N_("MODEL") },
    { "init-from", 0, 0, G_OPTION_ARG_FILENAME, &init_from,
      N_("Start the new --arch network from this model's matching layers"), N_("MODEL") },
    { "widen-from", 0, 0, G_OPTION_ARG_FILENAME, &widen_from,
      N_("Start the new --arch network from a narrower model of the same layout, with the "
         "same output"),
      N_("MODEL") },
    { "deepen-from", 0, 0, G_OPTION_ARG_FILENAME, &deepen_from,
      N_("Start the new --arch network from a shallower model (the same layers in order, "
         "residual blocks added), with the same output"),
      N_("MODEL") },
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch, N_("Architecture for a new model"), N_("NAME") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Patches per step (default 16)"), "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT64, &steps, N_("Total training steps"), "N" },
    { "minutes", 0, 0, G_OPTION_ARG_DOUBLE, &minutes, N_("Time budget for this run"), "M" },
    { "stop-at", 0, 0, G_OPTION_ARG_INT64, &stop_at,
      N_("Stop at this step with a checkpoint, to resume later"), "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, N_("Peak learning rate (default 5e-4)"), "X" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, N_("AdamW weight decay"), "X" },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, N_("Gradient norm clip, 0 = off (default 1)"),
      "X" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &warmup, N_("Warm-up steps (default 500)"), "N" },
    { "schedule", 0, 0, G_OPTION_ARG_STRING, &schedule,
      N_("Learning-rate decay: cosine, step or constant"), N_("NAME") },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &loss, N_("l1, l2, charbonnier (default) or psnr (the mean of each patch's dB)"), N_("NAME") },
    { "balance-sigma", 0, 0, G_OPTION_ARG_NONE, &balance_sigma,
      N_("Denoising: weigh the loss so that light noise counts as much as heavy noise"), NULL },
    { "val-sigma", 0, 0, G_OPTION_ARG_DOUBLE, &val_sigma,
      N_("Noise level for validation (default 25)"), "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, N_("Threads (default: all cores)"), "N" },
    { "val-every", 0, 0, G_OPTION_ARG_INT64, &val_every,
      N_("Validate every N steps (default 1000)"), "N" },
    { "val-images", 0, 0, G_OPTION_ARG_INT, &val_images, N_("Validation images (default 16)"),
      "N" },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &resume, N_("Resume from a checkpoint"),
      N_("CHECKPOINT") },
    { "checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &checkpoint,
      N_("Checkpoint file (default: OUT.ckpt)"), N_("FILE") },
    { "checkpoint-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &checkpoint_minutes,
      N_("Minutes between checkpoints (default 5)"), "M" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("Model name in its metadata"), N_("NAME") },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, N_("Model file to write"), N_("MODEL") },
    { NULL },
  };
  GOptionContext *ctx = g_option_context_new(NULL);
  g_option_context_set_summary(
      ctx, _("Trains a denoising or upscaling model on a folder of photos, or fine-tunes one.\n"
             "Ctrl-C writes a checkpoint and stops; --resume continues exactly."));
  aenet_data_options_add(&data, ctx);
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  GString *archs = g_string_new(_("Architectures (--arch):"));
  for (const AenetPreset *p = aenet_presets_get(); p->name != NULL; p++)
    g_string_append_printf(archs, "\n  %-20s %s", p->name, p->description);
  g_option_context_set_description(ctx, archs->str);
  g_string_free(archs, TRUE);
  GError *error = NULL;
  int status = 2;
  AenetTrainConfig cfg = { 0 };
  if (!g_option_context_parse(ctx, &argc, &argv, &error))
    goto usage;
  if (argc > 1) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _("unexpected argument “%s”"),
                argv[1]);
    goto usage;
  }
  if (resume == NULL && data.task == NULL) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("--task denoise or --task upscale is required"));
    goto usage;
  }
  if (out == NULL) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _("--out MODEL is required"));
    goto usage;
  }
  if (from != NULL && arch != NULL) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("give either --from or --arch, not both"));
    goto usage;
  }

  if ((init_from != NULL) + (widen_from != NULL) + (deepen_from != NULL) > 1) {
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                _("give one of --init-from, --widen-from and --deepen-from"));
    goto usage;
  }
  if (!aenet_data_options_apply(&data, balance_sigma, &cfg, &error))
    goto usage;
  cfg.val_dir = g_strdup(val);
  cfg.from = g_strdup(from);
  cfg.arch = g_strdup(arch);
  cfg.init_from = g_strdup(widen_from != NULL    ? widen_from
                           : deepen_from != NULL ? deepen_from
                                                 : init_from);
  cfg.grow = widen_from != NULL    ? AENET_GROW_WIDER
             : deepen_from != NULL ? AENET_GROW_DEEPER
                                   : AENET_GROW_NONE;
  cfg.balance_sigma = balance_sigma;
  cfg.resume = g_strdup(resume);
  cfg.out = g_strdup(out);
  cfg.checkpoint = g_strdup(checkpoint);
  cfg.name = g_strdup(name);
  cfg.steps = steps;
  cfg.minutes = minutes;
  cfg.stop_at_step = stop_at;
  cfg.threads = threads;
  if (batch)
    cfg.batch = batch;
  if (lr > 0)
    cfg.lr = lr;
  if (weight_decay >= 0)
    cfg.weight_decay = weight_decay;
  if (clip >= 0)
    cfg.clip = clip;
  if (warmup >= 0)
    cfg.warmup = warmup;
  if (val_every >= 0)
    cfg.val_every = val_every;
  if (val_images > 0)
    cfg.val_images = val_images;
  if (val_sigma >= 0)
    cfg.val_sigma = val_sigma;
  if (checkpoint_minutes > 0)
    cfg.checkpoint_minutes = checkpoint_minutes;
  int choice;
  if (loss != NULL) {
    if (!parse_choice(loss, aenet_loss_names, AENET_N_LOSSES, &choice)) {
      g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                  _("unknown loss “%s” (l1, l2, charbonnier or psnr)"), loss);
      goto usage;
    }
    cfg.loss = choice;
  }
  if (schedule != NULL) {
    if (!parse_choice(schedule, aenet_schedule_names, AENET_N_SCHEDULES, &choice)) {
      g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                  _("unknown schedule “%s” (cosine, step or constant)"), schedule);
      goto usage;
    }
    cfg.schedule = choice;
  }

  Reporter reporter = { isatty(STDERR_FILENO), 0 };
  AenetTrainCallbacks callbacks = { report_progress, report_message, &reporter, &stop_requested };
  struct sigaction sa = { 0 };
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  gboolean ok = aenet_train_run(&cfg, &callbacks, &error);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  if (!ok) {
    fprintf(stderr, "%saenet: %s\n", reporter.tty ? "\r\033[K" : "", error->message);
    status = 1;
    goto done;
  }
  if (stop_requested) {
    char *ckpt = checkpoint != NULL ? g_strdup(checkpoint) : g_strconcat(out, ".ckpt", NULL);
    fprintf(stderr, _("Stopped. Resume with: aenet train --resume %s --out %s\n"), ckpt, out);
    g_free(ckpt);
  }
  status = stop_requested ? 130 : 0;
  goto done;

usage:
  fprintf(stderr, "aenet train: %s\n%s\n", error->message,
          _("Run “aenet train --help” for the options."));
done:
  g_clear_error(&error);
  aenet_train_config_clear(&cfg);
  g_option_context_free(ctx);
  aenet_data_options_clear(&data);
  g_free(val), g_free(from), g_free(arch), g_free(resume);
  g_free(out), g_free(checkpoint), g_free(name), g_free(loss), g_free(schedule);
  g_free(init_from), g_free(widen_from), g_free(deepen_from);
  return status;
}
