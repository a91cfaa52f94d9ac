/* framepush serve — KeyboardEvent.code to evdev. A browser names a physical key by its
 * position on a US layout ("KeyA" is the key right of Caps Lock whatever it prints), and so
 * does an evdev code: the mapping is a fixed table, the layout is the display's business. */
#include <linux/input-event-codes.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "msg.h"

/* Sorted by strcmp (bsearch); tests/serve/test_keymap.c checks the order and duplicates. */
static const struct fp_serve_keymap_entry keymap[] = {
	{ "AltLeft", KEY_LEFTALT },
	{ "AltRight", KEY_RIGHTALT },
	{ "ArrowDown", KEY_DOWN },
	{ "ArrowLeft", KEY_LEFT },
	{ "ArrowRight", KEY_RIGHT },
	{ "ArrowUp", KEY_UP },
	{ "Backquote", KEY_GRAVE },
	{ "Backslash", KEY_BACKSLASH },
	{ "Backspace", KEY_BACKSPACE },
	{ "BracketLeft", KEY_LEFTBRACE },
	{ "BracketRight", KEY_RIGHTBRACE },
	{ "CapsLock", KEY_CAPSLOCK },
	{ "Comma", KEY_COMMA },
	{ "ContextMenu", KEY_COMPOSE },
	{ "ControlLeft", KEY_LEFTCTRL },
	{ "ControlRight", KEY_RIGHTCTRL },
	{ "Delete", KEY_DELETE },
	{ "Digit0", KEY_0 },
	{ "Digit1", KEY_1 },
	{ "Digit2", KEY_2 },
	{ "Digit3", KEY_3 },
	{ "Digit4", KEY_4 },
	{ "Digit5", KEY_5 },
	{ "Digit6", KEY_6 },
	{ "Digit7", KEY_7 },
	{ "Digit8", KEY_8 },
	{ "Digit9", KEY_9 },
	{ "End", KEY_END },
	{ "Enter", KEY_ENTER },
	{ "Equal", KEY_EQUAL },
	{ "Escape", KEY_ESC },
	{ "F1", KEY_F1 },
	{ "F10", KEY_F10 },
	{ "F11", KEY_F11 },
	{ "F12", KEY_F12 },
	{ "F2", KEY_F2 },
	{ "F3", KEY_F3 },
	{ "F4", KEY_F4 },
	{ "F5", KEY_F5 },
	{ "F6", KEY_F6 },
	{ "F7", KEY_F7 },
	{ "F8", KEY_F8 },
	{ "F9", KEY_F9 },
	{ "Home", KEY_HOME },
	{ "Insert", KEY_INSERT },
	{ "IntlBackslash", KEY_102ND },
	{ "KeyA", KEY_A },
	{ "KeyB", KEY_B },
	{ "KeyC", KEY_C },
	{ "KeyD", KEY_D },
	{ "KeyE", KEY_E },
	{ "KeyF", KEY_F },
	{ "KeyG", KEY_G },
	{ "KeyH", KEY_H },
	{ "KeyI", KEY_I },
	{ "KeyJ", KEY_J },
	{ "KeyK", KEY_K },
	{ "KeyL", KEY_L },
	{ "KeyM", KEY_M },
	{ "KeyN", KEY_N },
	{ "KeyO", KEY_O },
	{ "KeyP", KEY_P },
	{ "KeyQ", KEY_Q },
	{ "KeyR", KEY_R },
	{ "KeyS", KEY_S },
	{ "KeyT", KEY_T },
	{ "KeyU", KEY_U },
	{ "KeyV", KEY_V },
	{ "KeyW", KEY_W },
	{ "KeyX", KEY_X },
	{ "KeyY", KEY_Y },
	{ "KeyZ", KEY_Z },
	{ "MetaLeft", KEY_LEFTMETA },
	{ "MetaRight", KEY_RIGHTMETA },
	{ "Minus", KEY_MINUS },
	{ "NumLock", KEY_NUMLOCK },
	{ "Numpad0", KEY_KP0 },
	{ "Numpad1", KEY_KP1 },
	{ "Numpad2", KEY_KP2 },
	{ "Numpad3", KEY_KP3 },
	{ "Numpad4", KEY_KP4 },
	{ "Numpad5", KEY_KP5 },
	{ "Numpad6", KEY_KP6 },
	{ "Numpad7", KEY_KP7 },
	{ "Numpad8", KEY_KP8 },
	{ "Numpad9", KEY_KP9 },
	{ "NumpadAdd", KEY_KPPLUS },
	{ "NumpadComma", KEY_KPCOMMA },
	{ "NumpadDecimal", KEY_KPDOT },
	{ "NumpadDivide", KEY_KPSLASH },
	{ "NumpadEnter", KEY_KPENTER },
	{ "NumpadEqual", KEY_KPEQUAL },
	{ "NumpadMultiply", KEY_KPASTERISK },
	{ "NumpadSubtract", KEY_KPMINUS },
	{ "PageDown", KEY_PAGEDOWN },
	{ "PageUp", KEY_PAGEUP },
	{ "Pause", KEY_PAUSE },
	{ "Period", KEY_DOT },
	{ "PrintScreen", KEY_SYSRQ },
	{ "Quote", KEY_APOSTROPHE },
	{ "ScrollLock", KEY_SCROLLLOCK },
	{ "Semicolon", KEY_SEMICOLON },
	{ "ShiftLeft", KEY_LEFTSHIFT },
	{ "ShiftRight", KEY_RIGHTSHIFT },
	{ "Slash", KEY_SLASH },
	{ "Space", KEY_SPACE },
	{ "Tab", KEY_TAB },
};

static int entry_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fp_serve_keymap_entry *)elem)->code);
}

uint32_t fp_serve_keymap_lookup(const char *code)
{
	const struct fp_serve_keymap_entry *e =
		bsearch(code, keymap, FP_ARRAY_LEN(keymap), sizeof(keymap[0]), entry_cmp);

	return e ? e->key : 0;
}

const struct fp_serve_keymap_entry *fp_serve_keymap_table(size_t *n)
{
	*n = FP_ARRAY_LEN(keymap);
	return keymap;
}
