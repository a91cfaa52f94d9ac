/* framepush — backend option strings: "key=value,key=value". */
#ifndef FP_SOURCES_SPEC_H
#define FP_SOURCES_SPEC_H

/* Calls fn for each key=value pair of spec (NULL or "" has none). fn returns 0, or -EINVAL
 * for a value it rejects (then the pair is named in one error line) or for an unknown key
 * (fn logs which keys exist). A pair without '=' is an error. Returns 0 or the first error. */
int fp_spec_parse(const char *spec, const char *what,
		  int (*fn)(void *user, const char *key, const char *val), void *user);

#endif
