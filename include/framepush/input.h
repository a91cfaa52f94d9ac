/* framepush — input for the display: what a viewer's pointer and keyboard do, as every layer
 * passes it (serve parses it from a viewer, the host forwards it through the channel, the
 * source injects it into the display).
 *
 * Positions are fractions of the display, not pixels: the host does not know the mode a
 * source will have when the event arrives (a game may change it at any time), so the source
 * maps them to its own current size. Keys are Linux evdev codes (linux/input-event-codes.h),
 * the one numbering X (keycode = evdev + 8 under the evdev rules) and Wayland share. */
#ifndef FRAMEPUSH_INPUT_H
#define FRAMEPUSH_INPUT_H

#include <stdbool.h>
#include <stdint.h>

enum fp_input_type {
	FP_INPUT_MOTION = 1,  /* x, y: absolute position */
	FP_INPUT_BUTTON = 2,  /* code: FP_BTN_*, value: 1 pressed, 0 released */
	FP_INPUT_WHEEL = 3,   /* code: FP_WHEEL_*, value: detents, signed (positive: down/right) */
	FP_INPUT_KEY = 4,     /* code: evdev key code, value: 1 pressed, 0 released */
};

/* Pointer buttons, as evdev numbers them (BTN_LEFT, BTN_RIGHT, BTN_MIDDLE). */
#define FP_BTN_LEFT 0x110u
#define FP_BTN_RIGHT 0x111u
#define FP_BTN_MIDDLE 0x112u

#define FP_WHEEL_VERTICAL 0u
#define FP_WHEEL_HORIZONTAL 1u

/* Positions are in 1/FP_INPUT_POS_ONE of the display's width and height: 0 is the left (top)
 * edge of the first pixel, FP_INPUT_POS_ONE - 1 inside the last one. */
#define FP_INPUT_POS_ONE 65536u
/* Largest evdev key code forwarded (KEY_MAX is 0x2ff; the keyboard keys a browser can name
 * all lie below 0x200, and X keycodes stop at 255 - 8). */
#define FP_INPUT_KEY_MAX 0x1ffu
/* Detents per wheel event: a browser's one event never scrolls more. */
#define FP_INPUT_WHEEL_MAX 16

struct fp_input_event {
	uint32_t type;   /* enum fp_input_type */
	uint32_t code;   /* BUTTON, KEY, WHEEL: see the type */
	int32_t value;   /* BUTTON, KEY, WHEEL: see the type */
	uint32_t x, y;   /* MOTION: 0 .. FP_INPUT_POS_ONE - 1 */
};

/* Whether ev is one the display may receive: a known type, a known button or axis, a key in
 * 1 .. FP_INPUT_KEY_MAX, a pressed/released value of 0 or 1, a wheel of 1..FP_INPUT_WHEEL_MAX
 * detents either way, a position inside the display. Both ends of the channel check it. */
static inline bool fp_input_event_valid(const struct fp_input_event *ev)
{
	switch (ev->type) {
	case FP_INPUT_MOTION:
		return ev->x < FP_INPUT_POS_ONE && ev->y < FP_INPUT_POS_ONE;
	case FP_INPUT_BUTTON:
		return ev->code >= FP_BTN_LEFT && ev->code <= FP_BTN_MIDDLE &&
		       (ev->value == 0 || ev->value == 1);
	case FP_INPUT_WHEEL:
		return ev->code <= FP_WHEEL_HORIZONTAL && ev->value != 0 &&
		       ev->value >= -FP_INPUT_WHEEL_MAX && ev->value <= FP_INPUT_WHEEL_MAX;
	case FP_INPUT_KEY:
		return ev->code >= 1 && ev->code <= FP_INPUT_KEY_MAX &&
		       (ev->value == 0 || ev->value == 1);
	default:
		return false;
	}
}

/* Maps a position in 1/FP_INPUT_POS_ONE to a pixel of a size-pixel axis (size > 0). */
static inline uint32_t fp_input_pixel(uint32_t pos, uint32_t size)
{
	return (uint32_t)(((uint64_t)pos * size) >> 16);
}

#endif
