/*
 * math.h for lib/libm_dbl (MicroPython's copy of musl's double-precision
 * libm). Shaped after musl's header so that libm_dbl's internal libm.h
 * (double_t, __sin/__cos signatures) fits it.
 */
#ifndef PYUNIK_MATH_H
#define PYUNIK_MATH_H

/* FLT_EVAL_METHOD is 0 on x86_64 (SSE): the evaluation types are the types. */
typedef float float_t;
typedef double double_t;

#define NAN (__builtin_nanf(""))
#define INFINITY (__builtin_inff())
#define HUGE_VAL (__builtin_huge_val())
#define HUGE_VALF (__builtin_huge_valf())

#define FP_NAN 0
#define FP_INFINITE 1
#define FP_ZERO 2
#define FP_SUBNORMAL 3
#define FP_NORMAL 4

int __fpclassify(double x);
int __signbit(double x);
#define fpclassify(x) (__builtin_fpclassify(FP_NAN, FP_INFINITE, FP_NORMAL, FP_SUBNORMAL, FP_ZERO, x))
#define isnan(x) (__builtin_isnan(x))
#define isinf(x) (__builtin_isinf(x))
#define isfinite(x) (__builtin_isfinite(x))
#define isnormal(x) (__builtin_isnormal(x))
#define signbit(x) (__builtin_signbit(x))

#define M_E 2.7182818284590452354
#define M_LOG2E 1.4426950408889634074
#define M_LOG10E 0.43429448190325182765
#define M_LN2 0.69314718055994530942
#define M_LN10 2.30258509299404568402
#define M_PI 3.14159265358979323846
#define M_PI_2 1.57079632679489661923
#define M_PI_4 0.78539816339744830962
#define M_SQRT2 1.41421356237309504880

double acos(double);
double acosh(double);
double asin(double);
double asinh(double);
double atan(double);
double atan2(double, double);
double atanh(double);
double ceil(double);
double copysign(double, double);
double cos(double);
double cosh(double);
double erf(double);
double erfc(double);
double exp(double);
double expm1(double);
double fabs(double);
double floor(double);
double fmod(double, double);
double frexp(double, int *);
double ldexp(double, int);
double lgamma(double);
double log(double);
double log10(double);
double log1p(double);
double log2(double);
double modf(double, double *);
double nan(const char *);
double nearbyint(double);
double pow(double, double);
double rint(double);
double round(double);
double scalbn(double, int);
double sin(double);
void sincos(double, double *, double *);
double sinh(double);
double sqrt(double);
double tan(double);
double tanh(double);
double tgamma(double);
double trunc(double);

float fabsf(float);
float floorf(float);
float sqrtf(float);
#endif
