/* main.c — the aenet program (cli.c does the work). */
#include "commands.h"
#include "cpu.h"

int
main(int argc, char **argv)
{
  aenet_cpu_reexec_with_blas_coretype(argv);
  return aenet_cli_main(argc, argv);
}
