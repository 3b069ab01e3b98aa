/* cli.c — the aenet program: finds the subcommand and hands over to it.
 *
 * The task table's rows (task.h) are subcommands ("aenet denoise"), all run
 * by cmd-process.c; the other commands are listed here. Each subcommand
 * parses its own options with a GOptionContext, so "aenet CMD --help" works
 * for all of them; "aenet help CMD" is the same.
 * Exit status: 0 success, 1 runtime error, 2 usage error, 130 cancelled. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cpu.h"
#include "messages.h"
#include "model.h"
#include "task.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary; /* marked with N_(), translated when shown */
} Command;

/* The commands that are not tasks. */
static const Command commands[] = {
  { "info", aenet_cmd_info, N_("Describe a model file") },
  { "install", aenet_cmd_install, N_("Copy a model into your model folder") },
  { "bench", aenet_cmd_bench, N_("Measure the speed of a model on this computer") },
  { "train", aenet_cmd_train, N_("Train a model") },
  { "eval", aenet_cmd_eval, N_("Measure a model's quality on a set of images") },
  { "compare", aenet_cmd_compare, N_("PSNR and SSIM of image files against references") },
  { "degrade", aenet_cmd_degrade, N_("Write training pairs for other trainers (PyTorch)") },
  { "average", aenet_cmd_average, N_("Average the weights of two models of the same network") },
};

static const Command *
find_command(const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

/* A subcommand: a task, or one of the commands above. */
typedef struct {
  const char *name;
  const AenetTask *task;
  const Command *command;
} Subcommand;

static gboolean
find_subcommand(const char *name, Subcommand *sub)
{
  sub->task = aenet_task_find(name);
  sub->command = sub->task ? NULL : find_command(name);
  sub->name = sub->task ? sub->task->name : sub->command ? sub->command->name : NULL;
  return sub->name != NULL;
}

static void
print_usage(gboolean to_stderr)
{
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "%s\n  aenet %s\n\n", _("Usage:"), _("COMMAND [OPTION…] [ARGUMENT…]"));
  g_string_append_printf(s, "%s\n\n%s\n", _("Neural image denoising and upscaling."),
                         _("Commands:"));
  for (guint i = 0; i < aenet_task_count(); i++)
    g_string_append_printf(s, "  %-10s %s\n", aenet_task_get(i)->name,
                           _(aenet_task_get(i)->summary));
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    g_string_append_printf(s, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  g_string_append_printf(s, "\n%s\n", _("Options:"));
  g_string_append_printf(s, "  %-12s %s\n", "-h, --help", _("Show this help"));
  g_string_append_printf(s, "  %-12s %s\n", "--version", _("Show the version"));
  g_string_append_printf(s, "\n%s\n",
                         _("Run “aenet COMMAND --help” or “aenet help COMMAND” for the "
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
run_subcommand(const Subcommand *sub, int argc, char **argv)
{
  /* "aenet denoise" in each command's --help and messages. */
  char *prgname = g_strdup_printf("aenet %s", sub->name);
  g_set_prgname(prgname);
  g_free(prgname);
  return sub->task ? aenet_cmd_process(sub->task, argc, argv) : sub->command->run(argc, argv);
}

int
aenet_cli_main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
  /* Numbers in model files, JSON and option values always use a dot. */
  setlocale(LC_NUMERIC, "C");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
  aenet_messages_init();
  /* Training and bench call BLAS too; the task commands get this from the job. */
  aenet_cpu_use_own_threads();

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
  Subcommand sub;
  if (strcmp(name, "help") == 0) {
    if (!find_subcommand(argv[2], &sub)) {
      aenet_print_error(_("unknown command “%s”; run “aenet --help” for the list"), argv[2]);
      return 2;
    }
    char *help_argv[] = { (char *)sub.name, (char *)"--help", NULL };
    return run_subcommand(&sub, 2, help_argv);
  }
  if (name[0] == '-') {
    aenet_print_error(_("unknown option “%s”; the command comes first, e.g. “aenet denoise "
                        "--help”"),
                      name);
    return 2;
  }

  if (!find_subcommand(name, &sub)) {
    aenet_print_error(_("unknown command “%s”; run “aenet --help” for the list"), name);
    return 2;
  }
  return run_subcommand(&sub, argc - 1, argv + 1);
}
