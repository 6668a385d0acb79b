/* SPDX-License-Identifier: MIT */
/* What the package translates (build.zig, addTranslateC): the installed
 * header, found in -Dinclude_dir or the C compiler's search path. */
#include <nano_wal.h>
