#include "sources/backend.h"

#include <string.h>

static const struct fp_backend_impl *const backends[] = {
	&fp_backend_test,
};

const struct fp_backend_impl *fp_backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}
