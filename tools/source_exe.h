/* framepush — where the host programs find framepush-source. */
#ifndef FP_TOOLS_SOURCE_EXE_H
#define FP_TOOLS_SOURCE_EXE_H

#include <stddef.h>

/* $FRAMEPUSH_SOURCE when set, else framepush-source in the directory of this executable
 * (an installed or a build tree alike). 0, or -errno / -ENAMETOOLONG when out is short. */
int fp_find_source_exe(char *out, size_t cap);

#endif
