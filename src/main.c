/* SPDX-License-Identifier: MIT */
/* Wiring only: parses the subcommand and hands over to it. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: meshhook <command> [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "meshhook: unknown command '%s'\n", argv[1]);
    return 2;
}
