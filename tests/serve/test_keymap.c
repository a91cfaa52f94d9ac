/* The KeyboardEvent.code -> evdev table (src/serve/keymap.c): sorted for bsearch, no code
 * twice, no evdev code twice, every value a key the display may receive; and the keys a
 * user types most map where linux/input-event-codes.h says. */
#include <linux/input-event-codes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "msg.h"

static void sorted_unique(void **state)
{
	size_t n;
	const struct fp_serve_keymap_entry *t = fp_serve_keymap_table(&n);
	static bool seen[FP_INPUT_KEY_MAX + 1];

	(void)state;
	assert_true(n > 100);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(t[i - 1].code, t[i].code) >= 0)
			fail_msg("'%s' before '%s': not sorted or a duplicate", t[i - 1].code, t[i].code);
		if (t[i].key < 1 || t[i].key > FP_INPUT_KEY_MAX)
			fail_msg("%s: key %u out of range", t[i].code, t[i].key);
		if (seen[t[i].key])
			fail_msg("%s: evdev %u mapped twice", t[i].code, t[i].key);
		seen[t[i].key] = true;
		/* Every entry is found by the lookup (the sort is the one bsearch expects). */
		assert_int_equal(fp_serve_keymap_lookup(t[i].code), t[i].key);
	}
}

static void known_keys(void **state)
{
	static const struct { const char *code; uint32_t key; } want[] = {
		{ "KeyA", KEY_A }, { "KeyZ", KEY_Z }, { "KeyQ", KEY_Q }, { "Digit0", KEY_0 },
		{ "Digit1", KEY_1 }, { "F1", KEY_F1 }, { "F10", KEY_F10 }, { "F12", KEY_F12 },
		{ "Minus", KEY_MINUS }, { "Equal", KEY_EQUAL }, { "BracketLeft", KEY_LEFTBRACE },
		{ "BracketRight", KEY_RIGHTBRACE }, { "Backslash", KEY_BACKSLASH },
		{ "Semicolon", KEY_SEMICOLON }, { "Quote", KEY_APOSTROPHE },
		{ "Backquote", KEY_GRAVE }, { "Comma", KEY_COMMA }, { "Period", KEY_DOT },
		{ "Slash", KEY_SLASH }, { "Space", KEY_SPACE }, { "Enter", KEY_ENTER },
		{ "Tab", KEY_TAB }, { "Backspace", KEY_BACKSPACE }, { "Escape", KEY_ESC },
		{ "ArrowLeft", KEY_LEFT }, { "ArrowRight", KEY_RIGHT }, { "ArrowUp", KEY_UP },
		{ "ArrowDown", KEY_DOWN }, { "Home", KEY_HOME }, { "End", KEY_END },
		{ "PageUp", KEY_PAGEUP }, { "PageDown", KEY_PAGEDOWN }, { "Insert", KEY_INSERT },
		{ "Delete", KEY_DELETE }, { "ShiftLeft", KEY_LEFTSHIFT },
		{ "ShiftRight", KEY_RIGHTSHIFT }, { "ControlLeft", KEY_LEFTCTRL },
		{ "ControlRight", KEY_RIGHTCTRL }, { "AltLeft", KEY_LEFTALT },
		{ "AltRight", KEY_RIGHTALT }, { "MetaLeft", KEY_LEFTMETA },
		{ "MetaRight", KEY_RIGHTMETA }, { "CapsLock", KEY_CAPSLOCK },
		{ "Numpad0", KEY_KP0 }, { "Numpad9", KEY_KP9 }, { "NumpadEnter", KEY_KPENTER },
		{ "NumpadAdd", KEY_KPPLUS }, { "NumpadDecimal", KEY_KPDOT },
	};

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(want); i++)
		if (fp_serve_keymap_lookup(want[i].code) != want[i].key)
			fail_msg("%s -> %u, expected %u", want[i].code,
				 fp_serve_keymap_lookup(want[i].code), want[i].key);
	for (char c = 'A'; c <= 'Z'; c++) {
		char code[] = { 'K', 'e', 'y', c, 0 };

		assert_int_not_equal(fp_serve_keymap_lookup(code), 0);
	}
}

static void unknown_keys(void **state)
{
	static const char *const bad[] = { "", "keya", "KEYA", "Key", "KeyAA", "F13", "F0",
					   "Unidentified", "Fn", "AudioVolumeUp", "Digit" };

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		if (fp_serve_keymap_lookup(bad[i]))
			fail_msg("'%s' mapped", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sorted_unique),
		cmocka_unit_test(known_keys),
		cmocka_unit_test(unknown_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
