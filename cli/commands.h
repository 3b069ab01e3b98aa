/* commands.h — the subcommands of the aenet program. Each takes the
 * arguments after its own name (argv[0] is the subcommand), talks to the
 * user, and returns the process exit status. */

#ifndef AENET_COMMANDS_H
#define AENET_COMMANDS_H

#include "task.h"

/* The whole program (cli.c): main() is only this, so a test can add a task
 * row (task.h) and run the command in-process. */
int aenet_cli_main(int argc, char **argv);

/* Every task row: "aenet denoise", "aenet upscale", … (cmd-process.c). */
int aenet_cmd_process(const AenetTask *task, int argc, char **argv);
int aenet_cmd_info(int argc, char **argv);    /* cmd-info.c */
int aenet_cmd_bench(int argc, char **argv);   /* cmd-bench.c */
int aenet_cmd_install(int argc, char **argv); /* cmd-info.c */
int aenet_cmd_train(int argc, char **argv);   /* cmd-train.c */
int aenet_cmd_eval(int argc, char **argv);    /* cmd-eval.c */
int aenet_cmd_compare(int argc, char **argv); /* cmd-compare.c */
int aenet_cmd_degrade(int argc, char **argv); /* cmd-degrade.c */
int aenet_cmd_average(int argc, char **argv); /* cmd-average.c */

#endif
