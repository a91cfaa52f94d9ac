/* framepush-bench — the picture the pipeline bench's clients draw, and how it is read back.
 *
 * The frame counter is what makes "fresh frames" countable in any recording: the top half
 * of the window is a grid of COLS x ROWS big cells, rows 0-1 the counter's 16 bits (white =
 * 1), rows 2-3 their complements. A cell is 1/8 of the width and 1/8 of the height, so a
 * recording scaled down to 128x72 still shows each as a 16x9 block, and sway's title bar
 * and borders (a few percent of the window) move no cell centre out of its cell. A torn or
 * blended frame fails the complement check and is counted as unreadable, never as a fresh
 * counter value. The bottom half is vertical stripes whose colours shift every frame, so
 * the whole window changes (full damage, like a game), not only a few cells. */
#ifndef FPB_COUNTER_H
#define FPB_COUNTER_H

#include <stdint.h>

#define FPB_COLS 8
#define FPB_ROWS 4
#define FPB_BITS 16
#define FPB_STRIPES 16
#define FPB_WHITE 0xffffffu
#define FPB_BLACK 0x000000u

/* 1 when cell (col, row) of the grid is white for counter value n. */
static inline int fpb_cell_on(uint32_t n, unsigned col, unsigned row)
{
	unsigned bit = (row % 2) * FPB_COLS + col;
	int v = (int)(n >> bit & 1u);

	return row >= 2 ? !v : v;
}

/* Cell edges along an axis of length len split into parts: part i spans
 * [fpb_edge(len, parts, i), fpb_edge(len, parts, i + 1)). */
static inline uint32_t fpb_edge(uint32_t len, uint32_t parts, uint32_t i)
{
	return (uint32_t)((uint64_t)len * i / parts);
}

/* The colour of stripe i in frame n: a fixed palette walked one step per frame. */
static inline uint32_t fpb_stripe_rgb(uint32_t n, unsigned i)
{
	uint32_t k = (n + i) % FPB_STRIPES;

	return (k * 37u & 0xffu) << 16 | (k * 91u & 0xffu) << 8 | (k * 173u & 0xffu);
}

#endif
