/* main.c — the aenet program (cli.c does the work). */
#include "commands.h"

int
main(int argc, char **argv)
{
  return aenet_cli_main(argc, argv);
}
