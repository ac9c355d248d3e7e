/* half.h - 16-bit storage types, bit for bit: fp32 to bfloat16 and IEEE
 * half rounded to nearest even (NaN kept NaN, quiet; overflow to inf), and
 * back (exact).  One definition for both rows: the CPU kernels (cpu/)
 * and the CUDA kernels (cuda/kernels.cu, where it is device code too), so
 * that a value rounds to the same bits on either. */
#ifndef ZE_HALF_H
#define ZE_HALF_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define ZE_HALF_FN static inline __host__ __device__
#else
#define ZE_HALF_FN static inline
#endif

ZE_HALF_FN uint32_t ze_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

ZE_HALF_FN float ze_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

ZE_HALF_FN uint16_t ze_f32_to_bf16(float f)
{
    uint32_t u = ze_f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) /* NaN: keep sign and payload top, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    /* round to nearest even on the 16 dropped bits; carries reach inf */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

ZE_HALF_FN float ze_bf16_to_f32(uint16_t h)
{
    return ze_bits_f32((uint32_t)h << 16);
}

ZE_HALF_FN uint16_t ze_f32_to_f16(float f)
{
    uint32_t u = ze_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN */
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) /* >= 65520, halfway from 65504 to 2^16: inf */
        return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x38800000u) /* >= 2^-14: normal; rebias 127 -> 15, round 13 bits */
        return (uint16_t)(sign | ((a - 0x38000000u + 0xFFFu + ((a >> 13) & 1u)) >> 13));
    if (a <= 0x33000000u) /* <= 2^-25, at most half the smallest subnormal: 0 */
        return sign;
    /* subnormal: value = m 2^(e-150) = (m >> (126-e)) 2^-24 */
    uint32_t e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;
    uint32_t s = 126u - e; /* 14 .. 24 */
    uint32_t q = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

ZE_HALF_FN float ze_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F)
        return ze_bits_f32(sign | 0x7F800000u | (m << 13));
    if (e == 0) { /* zero or subnormal: m 2^-24, exact in float */
        float f = (float)m * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return ze_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

#endif
