/* framepush — IEEE 754 binary16 <-> float, portable (no F16C needed). */
#ifndef FP_COMMON_HALF_H
#define FP_COMMON_HALF_H

#include <stdint.h>
#include <string.h>

static inline float fp_half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
	float f;

	if (exp == 0) {
		f = (float)man / 16777216.0f; /* subnormal: man * 2^-24 */
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (man << 13);
	else
		bits = sign | ((exp + 112u) << 23) | (man << 13);
	memcpy(&f, &bits, sizeof(f));
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
