#include "sources/spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

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
