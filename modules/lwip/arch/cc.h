/*
 * lwIP's compiler and platform definitions for x86_64. MicroPython's
 * extmod/lwip-include/arch/cc.h is for 32-bit targets (mem_ptr_t is
 * 32 bits there): pointers here are 64 bits.
 */
#ifndef PYUNIK_LWIP_ARCH_CC_H
#define PYUNIK_LWIP_ARCH_CC_H

#include <stdint.h>

#define LWIP_NO_STDDEF_H (0)
#define LWIP_NO_STDINT_H (0)
#define LWIP_NO_INTTYPES_H (1)
#define LWIP_NO_LIMITS_H (0)
#define LWIP_NO_CTYPE_H (1)

typedef uintptr_t mem_ptr_t;

#define U16_F "hu"
#define S16_F "hd"
#define X16_F "hx"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define X8_F "02x"
#define SZT_F "lu"

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_ERR_T int

void pyunik_lwip_assert(const char *msg, const char *file, int line);
#define LWIP_PLATFORM_DIAG(x)
#define LWIP_PLATFORM_ASSERT(x) pyunik_lwip_assert((x), __FILE__, __LINE__)

#define PACK_STRUCT_FIELD(x) x
#define PACK_STRUCT_STRUCT __attribute__((packed))
#define PACK_STRUCT_BEGIN
#define PACK_STRUCT_END

#endif // PYUNIK_LWIP_ARCH_CC_H
