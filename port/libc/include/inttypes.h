// The part of <inttypes.h> littlefs (lib/littlefs/lfs2_util.h) includes:
// stdint.h and the printf formats of its (disabled) trace macros.
#ifndef PYUNIK_INTTYPES_H
#define PYUNIK_INTTYPES_H
#include <stdint.h>
#define PRIu32 "u"
#define PRId32 "d"
#define PRIx32 "x"
#endif
