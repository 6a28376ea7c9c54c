/*
 * fuzz: what a fuzz target in tests/fuzz/ provides and may use.
 *
 * A target defines LLVMFuzzerTestOneInput, the libFuzzer entry point: it is
 * called with one input, must not leak or crash on any input, and calls
 * abort() when an invariant of the code under test does not hold. The same
 * file links either with driver.c (deterministic mutation runs in the
 * sanitized test build) or with libFuzzer (tests/fuzz/libfuzzer.sh).
 *
 * A target may also define fuzz_seeds, which hands the driver its built-in
 * seed inputs (the driver copies them), so it has something valid to mutate
 * even without a corpus directory.
 */
#ifndef BL_TEST_FUZZ_H
#define BL_TEST_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef void (*fuzz_add_fn)(const void *data, size_t size);
void fuzz_seeds(fuzz_add_fn add);

/* Known, reported bug: the codec's reader accepts a map whose key is not
 * valid UTF-8 and silently drops that pair (sync/codec.c s_read_json does
 * not check json_object_set_new). A target that finds its decode/encode
 * round trip broken asks this before aborting, so the fuzz run reports the
 * bug without stopping on it; BL_XFAIL_STRICT=1 makes it abort anyway.
 *
 * fuzz_known_bug_key scans the well-formed CBOR item at p[*pos..n) and
 * returns 1 if it is or contains a map key that is not valid UTF-8, 0 if
 * not, -1 if it cannot be parsed; *pos moves past the item. */
static inline int
fuzz_known_bug_key(const uint8_t *p, size_t n, size_t *pos, int depth)
{
	uint8_t ib;
	unsigned major, ai;
	uint64_t arg = 0, i;
	size_t k, start;
	int r;

	if (*pos >= n || depth > 32)
		return -1;
	ib = p[(*pos)++];
	major = ib >> 5;
	ai = ib & 31;
	if (ai < 24) {
		arg = ai;
	} else if (ai <= 27) {
		k = (size_t)1 << (ai - 24);
		if (n - *pos < k)
			return -1;
		for (i = 0; i < k; i++)
			arg = arg << 8 | p[(*pos)++];
	} else {
		return -1;
	}
	switch (major) {
	case 0: case 1: case 7:
		return 0;
	case 2: case 3:
		if (arg > n - *pos)
			return -1;
		*pos += (size_t)arg;
		return 0;
	case 4:
		for (i = 0; i < arg; i++)
			if ((r = fuzz_known_bug_key(p, n, pos, depth + 1)) != 0)
				return r;
		return 0;
	case 5:
		for (i = 0; i < arg; i++) {
			start = *pos;
			if ((r = fuzz_known_bug_key(p, n, pos, depth + 1)) != 0)
				return r;
			if (start < n && (p[start] >> 5) == 3) {
				/* The payload is the last bytes of the key. */
				uint64_t len = 0;
				unsigned kai = p[start] & 31;
				json_t *s;

				if (kai < 24) {
					len = kai;
				} else {
					for (k = 0; k < ((size_t)1 << (kai - 24)); k++)
						len = len << 8 | p[start + 1 + k];
				}
				s = json_stringn((const char *)p + *pos - len,
				    (size_t)len);
				if (s == NULL)
					return 1;
				json_decref(s);
			}
			if ((r = fuzz_known_bug_key(p, n, pos, depth + 1)) != 0)
				return r;
		}
		return 0;
	case 6:
		return fuzz_known_bug_key(p, n, pos, depth + 1);
	}
	return -1;
}

#endif
