/*
 * The few math functions lib/libm_dbl does not provide, or that x86_64 does
 * in one instruction. Built with -fno-builtin: gcc must not turn sincos()
 * back into a call to itself.
 */
#include <math.h>

double sqrt(double x) {
    double r;
    __asm__ ("sqrtsd %1, %0" : "=x" (r) : "x" (x));
    return r;
}

double fabs(double x) {
    return __builtin_fabs(x);
}

float fabsf(float x) {
    return __builtin_fabsf(x);
}

void sincos(double x, double *s, double *c) {
    *s = sin(x);
    *c = cos(x);
}

double nan(const char *tag) {
    (void)tag;
    return __builtin_nan("");
}

// libm_dbl's copysign.c is compiled only without NDEBUG.
double copysign(double x, double y) {
    return __builtin_copysign(x, y);
}
