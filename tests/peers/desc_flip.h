/* framepush tests — what the test peer's hostile=desc-flip writes, for the tests that check
 * the host took only these. No display or source dependencies. */
#ifndef FP_TESTS_PEERS_DESC_FLIP_H
#define FP_TESTS_PEERS_DESC_FLIP_H

#include "framepush/proto.h"

/* The two HDR10 records desc-flip alternates: same mode, every value different, so a host
 * that took a mixture of them holds a record neither of them is. */
void fp_test_desc_flip_records(struct fp_hdr_meta rec[2]);

#endif
