#include "desc_flip.h"

void fp_test_desc_flip_records(struct fp_hdr_meta rec[2])
{
	for (int i = 0; i < 2; i++)
		rec[i] = (struct fp_hdr_meta){
			.present = FP_HDR_META_PRESENT,
			.rec = {
			.red_x = (uint16_t)(34000 + i), .red_y = (uint16_t)(16000 + i),
			.green_x = (uint16_t)(13250 + i), .green_y = (uint16_t)(34500 + i),
			.blue_x = (uint16_t)(7500 + i), .blue_y = (uint16_t)(3000 + i),
			.white_x = (uint16_t)(15635 + i), .white_y = (uint16_t)(16450 + i),
			.max_luminance = 10000000u + (uint32_t)i * 1000u,
			.min_luminance = 1u + (uint32_t)i,
			.max_cll = (uint16_t)(1000 + i * 100), .max_fall = (uint16_t)(400 + i * 100),
			},
		};
}
