/* cmd-average.c — "aenet average": the weighted mean of two models of the
 * same network (aenet_train_average_models), e.g. two fine-tunes of one
 * model that each do better on part of what users bring. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n.h>

#include "commands.h"
#include "model.h"
#include "train.h"

int
aenet_cmd_average(int argc, char **argv)
{
  double weight = 0.5;
  char *out = NULL;
  GOptionEntry entries[] = {
    { "weight", 0, 0, G_OPTION_ARG_DOUBLE, &weight,
      N_("Weight of the second model, 0 to 1 (default 0.5)"), "W" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, N_("Model file to write"), N_("FILE") },
    { NULL },
  };
  GOptionContext *context = g_option_context_new(_("MODEL MODEL"));
  g_option_context_set_summary(
      context, _("Writes (1 − W) × the first model + W × the second, parameter by parameter.\n"
                 "Both must be the same network, e.g. two fine-tunes of one model; the result\n"
                 "keeps the first one's name and description."));
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  GError *error = NULL;
  AenetModel *first = NULL, *second = NULL;
  int status = 2;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    g_printerr(_("aenet: %s (see “%s --help”)\n"), error->message, g_get_prgname());
    goto out;
  }
  if (argc != 3 || out == NULL) {
    g_printerr(_("aenet: average takes two models and --out FILE "
                 "(see “aenet average --help”)\n"));
    goto out;
  }
  status = 1;
  first = aenet_model_load_named(argv[1], &error);
  second = first != NULL ? aenet_model_load_named(argv[2], &error) : NULL;
  if (second == NULL || !aenet_train_average_models(first, second, weight, &error))
    goto out;
  char *note = g_strdup_printf("%g × %s + %g × %s", 1 - weight, argv[1], weight, argv[2]);
  aenet_model_set_meta(first, "averaged_from", note);
  g_free(note);
  if (!aenet_model_save(first, out, &error))
    goto out;
  g_print(_("Wrote %s\n"), out);
  status = 0;
out:
  if (error != NULL && status == 1)
    g_printerr("aenet: %s\n", error->message);
  g_clear_error(&error);
  aenet_model_free(first);
  aenet_model_free(second);
  g_free(out);
  g_option_context_free(context);
  return status;
}
