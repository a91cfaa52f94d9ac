/* framepush — backend option strings: "key=value,key=value". */
#ifndef FP_SOURCES_SPEC_H
#define FP_SOURCES_SPEC_H

#include <stdint.h>

/* Calls fn for each key=value pair of spec (NULL or "" has none). fn returns 0, or -EINVAL
 * for a value it rejects (then the pair is named in one error line) or for an unknown key
 * (fn logs which keys exist). A pair without '=' is an error. Returns 0 or the first error. */
int fp_spec_parse(const char *spec, const char *what,
		  int (*fn)(void *user, const char *key, const char *val), void *user);

/* Strict value parsers: a typo in a spec must fail the source, not silently do something
 * else. Each logs "<what>: key=val: expected ..." and returns -EINVAL on a bad value.
 *
 * val must be one of names (NULL-terminated); *out becomes first + its index, so the names
 * list an enum in declaration order from its value `first`. */
int fp_spec_choice(const char *what, const char *key, const char *val, const char *const *names,
		   int first, int *out);
/* "0" or "1". */
int fp_spec_bool(const char *what, const char *key, const char *val, int *out);
/* A strict decimal in [min, max] (fp_parse_uint). */
int fp_spec_u32(const char *what, const char *key, const char *val, uint32_t min, uint32_t max,
		uint32_t *out);

#endif
