#include "listing.h"

#include <inttypes.h>

static bool plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '-';
}

void fp_list_word(FILE *f, const char *name, size_t len)
{
	bool bare = len > 0;

	for (size_t i = 0; i < len && bare; i++)
		bare = plain((unsigned char)name[i]);
	if (bare) {
		fwrite(name, 1, len, f);
		return;
	}
	/* Names come from the display server: a quote, a newline or a control byte in one
	 * must not forge a record or a field. */
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void fp_list_field(FILE *f, const char *key, const char *value)
{
	size_t len = 0;

	if (!value)
		return;
	while (value[len])
		len++;
	if (!len)
		return;
	fprintf(f, " %s=", key);
	fp_list_word(f, value, len);
}

void fp_list_size_rate(FILE *f, uint32_t w, uint32_t h, uint32_t refresh_mhz)
{
	fprintf(f, "%" PRIu32 "x%" PRIu32, w, h);
	/* Rounded to centihertz in integers: 59940 mHz is 59.94, never 59.939999. */
	if (refresh_mhz) {
		uint32_t chz = (uint32_t)(((uint64_t)refresh_mhz + 5) / 10);

		fprintf(f, "@%" PRIu32 ".%02" PRIu32, chz / 100, chz % 100);
	}
}

void fp_list_mode_line(FILE *f, const struct fp_list_mode *m)
{
	fputs("    mode ", f);
	fp_list_size_rate(f, m->width, m->height, m->refresh_mhz);
	fputs(m->current ? " current" : "", f);
	fputs(m->preferred ? " preferred" : "", f);
	fputc('\n', f);
}

void fp_list_omitted(FILE *f, const char *indent, const char *what, uint64_t n)
{
	if (n)
		fprintf(f, "%s%s-omitted %" PRIu64 "\n", indent, what, n);
}
