#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

int fp_spec_parse(const char *spec, const char *what,
		  int (*fn)(void *user, const char *key, const char *val), void *user)
{
	char *copy, *save = NULL;
	int r = 0;

	if (!spec || !*spec)
		return 0;
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (char *kv = strtok_r(copy, ",", &save); kv && !r; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');

		if (!val) {
			fp_error("%s: option '%s' needs a value (key=value)", what, kv);
			r = -EINVAL;
			break;
		}
		*val++ = '\0';
		r = fn(user, kv, val);
		if (r == -EINVAL)
			fp_error("%s: cannot use %s=%s", what, kv, val);
	}
	free(copy);
	return r;
}

int fp_spec_choice(const char *what, const char *key, const char *val, const char *const *names,
		   int first, int *out)
{
	char want[160] = "";
	size_t n = 0;

	for (int i = 0; names[i]; i++) {
		if (!strcmp(val, names[i])) {
			*out = first + i;
			return 0;
		}
		n += (size_t)snprintf(want + n, n < sizeof(want) ? sizeof(want) - n : 0, "%s%s",
				      i ? ", " : "", names[i]);
	}
	fp_error("%s: %s=%s: expected one of %s", what, key, val, want);
	return -EINVAL;
}

int fp_spec_bool(const char *what, const char *key, const char *val, int *out)
{
	static const char *const names[] = { "0", "1", NULL };

	return fp_spec_choice(what, key, val, names, 0, out);
}

int fp_spec_u32(const char *what, const char *key, const char *val, uint32_t min, uint32_t max,
		uint32_t *out)
{
	unsigned long long v;

	if (fp_parse_uint(val, min, max, &v) < 0) {
		fp_error("%s: %s=%s: expected a decimal integer %u..%u", what, key, val, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}
