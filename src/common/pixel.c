#include "framepush/pixel.h"

#include <string.h>

#include "common/util.h"

/* The range of max luminance ST 2086 can carry: 1..10000 cd/m2. */
#define LUM_MIN_OF_MAX (1u * FP_HDR10_LUMA_DEN)
#define LUM_MAX_OF_MAX (10000u * FP_HDR10_LUMA_DEN)
#define LIGHT_LEVEL_MAX 10000u     /* cd/m2 */

const struct fp_hdr10 fp_hdr10_generic = {
	.red_x = 35400, .red_y = 14600,
	.green_x = 8500, .green_y = 39850,
	.blue_x = 6550, .blue_y = 2300,
	.white_x = 15635, .white_y = 16450,
	.max_luminance = 10000000, .min_luminance = 1,
	.max_cll = 1000, .max_fall = 400,
};

const struct fp_hdr10 *fp_hdr10_or_generic(const struct fp_hdr10 *m)
{
	static const struct fp_hdr10 zero;

	return memcmp(m, &zero, sizeof(zero)) ? m : &fp_hdr10_generic;
}

const char *fp_hdr10_problem(const struct fp_hdr10 *m)
{
	const uint16_t xy[] = { m->red_x, m->red_y, m->green_x, m->green_y,
				m->blue_x, m->blue_y, m->white_x, m->white_y };

	for (size_t i = 0; i < FP_ARRAY_LEN(xy); i++)
		if (xy[i] > FP_HDR10_CHROMA_DEN)
			return "a chromaticity is above 50000 (1.0)";
	if (m->max_luminance < LUM_MIN_OF_MAX || m->max_luminance > LUM_MAX_OF_MAX)
		return "max luminance is not 1..10000 cd/m2";
	if (m->min_luminance >= m->max_luminance)
		return "min luminance is not below max";
	if (m->max_cll > LIGHT_LEVEL_MAX)
		return "MaxCLL is above 10000 cd/m2";
	if (m->max_fall > m->max_cll)
		return "MaxFALL is above MaxCLL";
	return NULL;
}
