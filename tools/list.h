/* framepush — `framepush list`: the screens and outputs a display offers, with modes. */
#ifndef FP_TOOLS_LIST_H
#define FP_TOOLS_LIST_H

/* argv[0] is "list". Lists each display through framepush-source --list (the host links no
 * display backend). Returns the exit status: 0 every display listed, 1 one could not be
 * reached (the others are still listed), 2 bad usage. */
int fp_cli_list(int argc, char **argv);

#endif
