/* main.c — the aenet program: finds the subcommand and hands over to it.
 *
 * Each subcommand (commands.h) parses its own options with a GOptionContext,
 * so "aenet CMD --help" works for all of them; "aenet help CMD" is the same.
 * Exit status: 0 success, 1 runtime error, 2 usage error, 130 cancelled. */
#include "config.h"

#include <cblas.h>
#include <glib.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cpu.h"
#include "model.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary; /* marked with N_(), translated when shown */
} Command;

static const Command commands[] = {
  { "denoise", aenet_cmd_denoise, N_("Remove noise from an image") },
  { "upscale", aenet_cmd_upscale, N_("Enlarge an image 2, 3 or 4 times") },
  { "info", aenet_cmd_info, N_("Describe a model file") },
  { "install", aenet_cmd_install, N_("Copy a model into your model folder") },
  { "bench", aenet_cmd_bench, N_("Measure the speed of a model on this computer") },
  { "train", aenet_cmd_train, N_("Train a model") },
  { "eval", aenet_cmd_eval, N_("Measure a model's quality on a set of images") },
  { "degrade", aenet_cmd_degrade, N_("Write training pairs for other trainers (PyTorch)") },
};

static const Command *
find_command(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void
print_usage(gboolean to_stderr)
{
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "%s\n  aenet %s\n\n", _("Usage:"),
                         _("COMMAND [OPTION...] [ARGUMENT...]"));
  g_string_append_printf(s, "%s\n\n%s\n", _("Neural image denoising and upscaling."),
                         _("Commands:"));
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    g_string_append_printf(s, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  g_string_append_printf(s, "\n%s\n", _("Options:"));
  g_string_append_printf(s, "  %-12s %s\n", "-h, --help", _("Show this help"));
  g_string_append_printf(s, "  %-12s %s\n", "--version", _("Show the version"));
  g_string_append_printf(s, "\n%s\n",
                         _("Run 'aenet COMMAND --help' or 'aenet help COMMAND' for the "
                           "options of a command."));
  if (to_stderr)
    g_printerr("%s", s->str);
  else
    g_print("%s", s->str);
  g_string_free(s, TRUE);
}

/* TRUE when this executable lives in the build tree, so the models in the
 * source tree should be found without installing them. */
static gboolean
running_from_build_tree(void)
{
  char *exe = g_file_read_link("/proc/self/exe", NULL);
  if (exe == NULL)
    return FALSE;
  char *root = g_canonicalize_filename(AENET_BUILD_ROOT, "/");
  char *real_root = realpath(root, NULL);
  char *dir = g_path_get_dirname(exe);
  const char *base = real_root != NULL ? real_root : root;
  gsize n = strlen(base);
  gboolean inside = strncmp(dir, base, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
  g_free(dir);
  free(real_root);
  g_free(root);
  g_free(exe);
  return inside;
}

static int
run_command(const Command *cmd, int argc, char **argv)
{
  /* "aenet denoise" in each command's --help and messages. */
  char *prgname = g_strdup_printf("aenet %s", cmd->name);
  g_set_prgname(prgname);
  g_free(prgname);
  return cmd->run(argc, argv);
}

int
main(int argc, char **argv)
{
  aenet_cpu_reexec_with_blas_coretype(argv);
  setlocale(LC_ALL, "");
  /* Numbers in model files, JSON and option values always use a dot. */
  setlocale(LC_NUMERIC, "C");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  /* The engine runs its own threads, each calling BLAS on small blocks. */
  openblas_set_num_threads(1);

  if (running_from_build_tree())
    aenet_model_add_search_dir(AENET_SOURCE_MODELDIR);

  if (argc < 2) {
    print_usage(TRUE);
    return 2;
  }

  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0
      || (strcmp(name, "help") == 0 && argc == 2)) {
    g_set_prgname("aenet");
    print_usage(FALSE);
    return 0;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
    g_print("aenet %s\n", AENET_VERSION);
    return 0;
  }
  if (strcmp(name, "help") == 0) {
    const Command *cmd = find_command(argv[2]);
    if (cmd == NULL) {
      g_printerr(_("aenet: unknown command '%s'; run 'aenet --help' for the list\n"), argv[2]);
      return 2;
    }
    char *help_argv[] = { (char *)cmd->name, (char *)"--help", NULL };
    return run_command(cmd, 2, help_argv);
  }
  if (name[0] == '-') {
    g_printerr(_("aenet: unknown option '%s'; the command comes first, e.g. 'aenet "
                 "denoise --help'\n"),
               name);
    return 2;
  }

  const Command *cmd = find_command(name);
  if (cmd == NULL) {
    g_printerr(_("aenet: unknown command '%s'; run 'aenet --help' for the list\n"), name);
    return 2;
  }
  return run_command(cmd, argc - 1, argv + 1);
}
