#ifndef PYUNIK_ALLOCA_H
#define PYUNIK_ALLOCA_H
#define alloca(n) __builtin_alloca(n)
#endif
