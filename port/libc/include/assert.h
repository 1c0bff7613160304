#ifndef PYUNIK_ASSERT_H
#define PYUNIK_ASSERT_H
__attribute__((noreturn)) void __assert_func(const char *file, int line, const char *func, const char *expr);
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __assert_func(__FILE__, __LINE__, __func__, #e))
#endif
#endif
