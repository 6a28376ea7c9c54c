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

#endif
