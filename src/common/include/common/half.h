/* framepush — IEEE 754 binary16 <-> float, portable (no F16C needed). */
#ifndef FP_COMMON_HALF_H
#define FP_COMMON_HALF_H

#include <stdint.h>
#include <string.h>

/* Exact (denormals, +-Inf and NaN preserved): the converters' scalar path decodes every HDR
 * pixel with it, so it is a multiply, not a branch per class. */
static inline float fp_half_to_float(uint16_t h)
{
	uint32_t em = h & 0x7fffu, bits = em << 13;
	float f;

	memcpy(&f, &bits, 4);
	f *= 0x1p112f; /* rebias the exponent; also scales half denormals correctly */
	memcpy(&bits, &f, 4);
	if (em >= 0x7c00u)
		bits |= 0x7f800000u;
	bits |= (uint32_t)(h & 0x8000u) << 16;
	memcpy(&f, &bits, 4);
	return f;
}

/* Round-to-nearest-even; overflow gives Inf, NaN stays NaN. */
static inline uint16_t fp_half_from_float(float f)
{
	uint32_t x, sign, man;
	int32_t exp;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000u;
	exp = (int32_t)((x >> 23) & 0xffu) - 127 + 15;
	man = x & 0x7fffffu;
	if (((x >> 23) & 0xffu) == 0xffu)
		return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0u));
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00u);
	if (exp <= 0) {
		uint32_t m, shift, r;

		if (exp < -10)
			return (uint16_t)sign;
		m = man | 0x800000u;
		shift = (uint32_t)(14 - exp);
		r = m >> shift;
		if ((m >> (shift - 1)) & 1u && ((m & ((1u << (shift - 1)) - 1u)) || (r & 1u)))
			r++;
		return (uint16_t)(sign | r);
	}
	{
		uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);

		if ((man & 0x1000u) && ((man & 0x2fffu) != 0))
			h++; /* carries into the exponent correctly, up to Inf */
		return (uint16_t)h;
	}
}

#endif
