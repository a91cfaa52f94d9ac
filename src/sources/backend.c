#include "sources/backend.h"

#include <string.h>

/* Display backends live in their own files and may be absent from a build (their libraries
 * missing): weak references keep this table free of #ifdefs. */
extern const struct fp_backend_impl fp_backend_x11 __attribute__((weak));
extern const struct fp_backend_impl fp_backend_wlr __attribute__((weak));

const struct fp_backend_impl *fp_backend_find(const char *name)
{
	const struct fp_backend_impl *all[] = { &fp_backend_test, &fp_backend_x11, &fp_backend_wlr };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] && !strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}
