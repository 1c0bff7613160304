/*
 * exp(x), rounded correctly (to nearest) but for inputs too rare to meet.
 *
 * Why not lib/libm_dbl's exp: that is fdlibm's e_exp.c, accurate to within
 * one ulp but not correctly rounded (about 1 result in 15 is one ulp off).
 * exp(1.0) comes out one ulp above e, so `math.exp(1) == math.e` is False
 * on pyunik while it is True under CPython and MicroPython's unix port;
 * MicroPython's own float/math_constants.py checks exactly that. This file
 * replaces lib/libm_dbl/exp.c in the link, and with it the exp that
 * libm_dbl's cosh, sinh and tanh call.
 *
 * Method: x = (32k + j)*ln2/32 + r with 0 <= j < 32 and |r| <= ln2/64, so
 * exp(x) = 2^k * 2^(j/32) * exp(r). r is kept as a double-double (hi + lo,
 * about 106 bits; ln2/32 is split in three parts to make that possible),
 * 2^(j/32) comes from a table of double-doubles, and exp(r) is its Taylor
 * series: the terms up to r^6/6! in double-double arithmetic, the smaller
 * ones (below 2^-45) in plain double. The double-double product is rounded
 * to a double once, at the precision of the result (subnormal ones
 * included), and scaled by 2^k exactly. Its error before that rounding is
 * below 2^-100 relative, so the rounding is correct unless exp(x) lies
 * within 2^-100 of a half-way point between two doubles.
 *
 * Cost: about 4x fdlibm's exp. The tables and coefficients were computed
 * with Python's decimal module (100 digits) and rounded to double-doubles.
 *
 * No FMA is assumed (x86_64's baseline has none): products are split with
 * Dekker's algorithm, or use fma() where the compiler says it is fast.
 */
#include <math.h>
#include <stdint.h>

typedef struct {
    double hi;
    double lo;
} dd_t;

// s + e == a + b exactly.
static inline dd_t two_sum(double a, double b) {
    double s = a + b;
    double bb = s - a;
    dd_t r = { s, (a - (s - bb)) + (b - bb) };
    return r;
}

// As two_sum, when |a| >= |b| (or a == 0).
static inline dd_t fast_two_sum(double a, double b) {
    double s = a + b;
    dd_t r = { s, b - (s - a) };
    return r;
}

// p + e == a * b exactly.
static inline dd_t two_prod(double a, double b) {
    double p = a * b;
    #ifdef __FP_FAST_FMA
    dd_t r = { p, __builtin_fma(a, b, -p) };
    #else
    const double split = 134217729.0; // 2^27 + 1
    double t = split * a;
    double ah = t - (t - a);
    double al = a - ah;
    t = split * b;
    double bh = t - (t - b);
    double bl = b - bh;
    dd_t r = { p, ((ah * bh - p) + ah * bl + al * bh) + al * bl };
    #endif
    return r;
}

static inline dd_t dd_mul(dd_t a, dd_t b) {
    dd_t p = two_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return fast_two_sum(p.hi, p.lo);
}

static inline dd_t dd_add(dd_t a, dd_t b) {
    dd_t s = two_sum(a.hi, b.hi);
    s.lo += a.lo + b.lo;
    return fast_two_sum(s.hi, s.lo);
}

// ln2/32 = LN2_32_HI + LN2_32_MID + LN2_32_LO. LN2_32_HI has 32 significant
// bits, so n * LN2_32_HI is exact for every n that reaches here
// (|n| <= 34400 < 2^16).
#define LN2_32_HI (0x1.62e42fee00000p-6)
#define LN2_32_MID (0x1.a39ef35793c76p-38)
#define LN2_32_LO (0x1.cc01f97b57a08p-92)
#define INV_LN2_32 (0x1.71547652b82fep+5)

// 2^(j/32) for j = 0..31, as double-doubles (hi, lo).
static const dd_t exp2_32[32] = {
    { 0x1.0000000000000p+0, 0x0.0p+0 },
    { 0x1.059b0d3158574p+0, 0x1.d73e2a475b465p-55 },
    { 0x1.0b5586cf9890fp+0, 0x1.8a62e4adc610bp-54 },
    { 0x1.11301d0125b51p+0, -0x1.6c51039449b3ap-54 },
    { 0x1.172b83c7d517bp+0, -0x1.19041b9d78a76p-55 },
    { 0x1.1d4873168b9aap+0, 0x1.e016e00a2643cp-54 },
    { 0x1.2387a6e756238p+0, 0x1.9b07eb6c70573p-54 },
    { 0x1.29e9df51fdee1p+0, 0x1.612e8afad1255p-55 },
    { 0x1.306fe0a31b715p+0, 0x1.6f46ad23182e4p-55 },
    { 0x1.371a7373aa9cbp+0, -0x1.63aeabf42eae2p-54 },
    { 0x1.3dea64c123422p+0, 0x1.ada0911f09ebcp-55 },
    { 0x1.44e086061892dp+0, 0x1.89b7a04ef80d0p-59 },
    { 0x1.4bfdad5362a27p+0, 0x1.d4397afec42e2p-56 },
    { 0x1.5342b569d4f82p+0, -0x1.07abe1db13cadp-55 },
    { 0x1.5ab07dd485429p+0, 0x1.6324c054647adp-54 },
    { 0x1.6247eb03a5585p+0, -0x1.383c17e40b497p-54 },
    { 0x1.6a09e667f3bcdp+0, -0x1.bdd3413b26456p-54 },
    { 0x1.71f75e8ec5f74p+0, -0x1.16e4786887a99p-55 },
    { 0x1.7a11473eb0187p+0, -0x1.41577ee04992fp-55 },
    { 0x1.82589994cce13p+0, -0x1.d4c1dd41532d8p-54 },
    { 0x1.8ace5422aa0dbp+0, 0x1.6e9f156864b27p-54 },
    { 0x1.93737b0cdc5e5p+0, -0x1.75fc781b57ebcp-57 },
    { 0x1.9c49182a3f090p+0, 0x1.c7c46b071f2bep-56 },
    { 0x1.a5503b23e255dp+0, -0x1.d2f6edb8d41e1p-54 },
    { 0x1.ae89f995ad3adp+0, 0x1.7a1cd345dcc81p-54 },
    { 0x1.b7f76f2fb5e47p+0, -0x1.5584f7e54ac3bp-56 },
    { 0x1.c199bdd85529cp+0, 0x1.11065895048ddp-55 },
    { 0x1.cb720dcef9069p+0, 0x1.503cbd1e949dbp-56 },
    { 0x1.d5818dcfba487p+0, 0x1.2ed02d75b3707p-55 },
    { 0x1.dfc97337b9b5fp+0, -0x1.1a5cd4f184b5cp-54 },
    { 0x1.ea4afa2a490dap+0, -0x1.e9c23179c2893p-54 },
    { 0x1.f50765b6e4540p+0, 0x1.9d3e12dd8a18bp-54 },
};

// 1/n! for n = 0..6, as double-doubles.
static const dd_t inv_fact[7] = {
    { 0x1.0000000000000p+0, 0x0.0p+0 },
    { 0x1.0000000000000p+0, 0x0.0p+0 },
    { 0x1.0000000000000p-1, 0x0.0p+0 },
    { 0x1.5555555555555p-3, 0x1.5555555555555p-57 },
    { 0x1.5555555555555p-5, 0x1.5555555555555p-59 },
    { 0x1.1111111111111p-7, 0x1.1111111111111p-63 },
    { 0x1.6c16c16c16c17p-10, -0x1.f49f49f49f49fp-65 },
};

// 1/n! for n = 7..12: terms that small need no more than a double.
static const double inv_fact_tail[6] = {
    0x1.a01a01a01a01ap-13, 0x1.a01a01a01a01ap-16, 0x1.71de3a556c734p-19,
    0x1.27e4fb7789f5cp-22, 0x1.ae64567f544e4p-26, 0x1.1eed8eff8d898p-29,
};

// 2^n for -1022 <= n <= 1023.
static inline double pow2(int n) {
    union {
        uint64_t u;
        double d;
    } v = { (uint64_t)(n + 1023) << 52 };
    return v.d;
}

double exp(double x) {
    if (isnan(x)) {
        return x + x;
    }
    if (x > 0x1.62e42fefa39efp+9) { // exp(x) rounds above DBL_MAX (and +inf)
        return INFINITY;
    }
    if (x <= -0x1.74910d52d3052p+9) { // exp(x) <= half the least subnormal (and -inf)
        return 0.0;
    }
    if (__builtin_fabs(x) < 0x1p-54) {
        return 1.0 + x;
    }

    // Reduction: x = n*ln2/32 + r, r as a double-double; n = 32k + j.
    double nd = __builtin_floor(x * INV_LN2_32 + 0.5);
    int n = (int)nd;
    int j = n & 31;
    int k = (n - j) / 32;
    double a = x - nd * LN2_32_HI; // exact (Sterbenz), as n*LN2_32_HI is
    dd_t b = two_prod(nd, LN2_32_MID);
    dd_t s = two_sum(a, -b.hi);
    s.lo += -b.lo - nd * LN2_32_LO;
    dd_t r = fast_two_sum(s.hi, s.lo);

    // exp(r) by Horner's rule: the small terms in double, the rest in
    // double-double; then times 2^(j/32).
    double tail = inv_fact_tail[5];
    for (int i = 4; i >= 0; i--) {
        tail = tail * r.hi + inv_fact_tail[i];
    }
    dd_t p = { tail, 0.0 };
    for (int i = 6; i >= 0; i--) {
        p = dd_add(dd_mul(p, r), inv_fact[i]);
    }
    p = dd_mul(p, exp2_32[j]); // in [0.98, 2.03)

    if (k < -1021) {
        // The result may be subnormal: round once, at its precision. Scaled
        // by 2^(k+1022) (exactly) it is below 2.03; below 1, adding 1.0
        // rounds it to a multiple of 2^-52, which the scaling by 2^-1022
        // then keeps exact.
        double scale = pow2(k + 1022);
        dd_t z = { p.hi * scale, p.lo * scale };
        if (z.hi < 1.0) {
            double hi = 1.0 + z.hi;
            double lo = ((1.0 - hi) + z.hi) + z.lo;
            return ((hi + lo) - 1.0) * 0x1p-1022;
        }
        return z.hi * 0x1p-1022;
    }
    // The one rounding: p is normalised, so p.hi is p.hi + p.lo rounded.
    double y = p.hi;
    if (k > 1023) {
        y *= 2.0;
        k -= 1;
    }
    return y * pow2(k); // exact: the result is normal
}
