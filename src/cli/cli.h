/* SPDX-License-Identifier: MIT */
/*
 * Subcommands of the `meshhook` binary. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status: 0 success, 1 failure,
 * 2 usage error. main.c only dispatches.
 */
#ifndef MH_CLI_H
#define MH_CLI_H

int mh_cli_jp(int argc, char **argv);
int mh_cli_user(int argc, char **argv);
int mh_cli_audit(int argc, char **argv);
int mh_cli_kek(int argc, char **argv);
int mh_cli_replay(int argc, char **argv);
int mh_cli_sign(int argc, char **argv);
int mh_cli_retention(int argc, char **argv);

#endif
