/* commands.h — the subcommands of the aenet program. Each takes the
 * arguments after its own name (argv[0] is the subcommand), talks to the
 * user, and returns the process exit status. */
#ifndef AENET_COMMANDS_H
#define AENET_COMMANDS_H

#include <glib.h>

int aenet_cmd_info(int argc, char **argv);    /* cmd-info.c */
int aenet_cmd_denoise(int argc, char **argv); /* cmd-process.c */
int aenet_cmd_upscale(int argc, char **argv); /* cmd-process.c */
int aenet_cmd_bench(int argc, char **argv);   /* cmd-bench.c */
int aenet_cmd_install(int argc, char **argv); /* cmd-info.c */
int aenet_cmd_train(int argc, char **argv);   /* cmd-train.c */
int aenet_cmd_eval(int argc, char **argv);    /* cmd-eval.c */
int aenet_cmd_degrade(int argc, char **argv); /* cmd-degrade.c */

/* "lo-hi" (also "lo,hi", "lo:hi") or one number for both; FALSE if malformed
 * or lo > hi. cmd-train.c */
gboolean aenet_cmd_parse_range(const char *text, double *lo, double *hi);

#endif
