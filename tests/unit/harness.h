/*
 * harness: the plain unit-test harness every tests/unit/test_*.c links with.
 *
 * A test file defines its tests with TEST(name) { ... }; harness.c owns
 * main(), which runs them in source order (or only those named on the
 * command line) and prints one line per test:
 *
 *   ok NAME
 *   FAIL NAME: file:line: detail
 *
 * then "RESULT <passed> <failed>", the line tests/run.sh parses. The exit
 * status is 1 when any test failed. Later failures of the same test and
 * other diagnostics go on lines starting with "#".
 *
 * CHECK* record a failure and let the test go on; REQUIRE* record it and
 * return from the test function (use them where going on would crash).
 *
 * TEST_KNOWN_BUG(name, why) marks a test that shows a bug in the code under
 * test which is reported but not fixed yet. While it fails it prints
 * "xfail NAME: why" (its failures as "#" lines) and counts as passed, so the
 * suite stays usable; once it passes it prints "FAIL NAME: ... known bug
 * fixed" and counts as failed, so the marker is turned back into TEST.
 * BL_XFAIL_STRICT=1 in the environment counts known bugs as failures.
 *
 * Randomness: harness_rand() is a deterministic generator reseeded before
 * every test from the run's seed, 12345 unless BL_SEED is set in the
 * environment; the run prints its seed first, and a failing test prints
 * the seed that reproduces it.
 *
 * Temporary directories made with harness_tmpdir() are removed when the
 * test passes and kept (and named) when it fails.
 */
#ifndef BL_TEST_HARNESS_H
#define BL_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

typedef void (*harness_fn_t)(void);

/* Registers a test; called by the constructor TEST() generates. name,
 * file and known_bug (NULL for an ordinary test) are string literals
 * (borrowed). */
void harness_register(const char *name, harness_fn_t fn, const char *file,
    int line, const char *known_bug);

/* Records a failure of the running test at file:line with a printf-style
 * detail. Returns 0 so it can sit inside an expression. */
int harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks for the macros below; each returns 1 when the check held. */
int harness_check_int(const char *file, int line, const char *a_expr,
    const char *b_expr, long long a, long long b);
int harness_check_uint(const char *file, int line, const char *a_expr,
    const char *b_expr, unsigned long long a, unsigned long long b);
int harness_check_str(const char *file, int line, const char *a_expr,
    const char *b_expr, const char *a, const char *b);
int harness_check_mem(const char *file, int line, const char *a_expr,
    const char *b_expr, const void *a, size_t an, const void *b, size_t bn);

/* The run's seed (BL_SEED or 12345). */
uint64_t harness_seed(void);

/* Next pseudo-random 64-bit value (splitmix64), deterministic per test. */
uint64_t harness_rand(void);

/* A uniformly distributed value in [0, n); n > 0. */
uint64_t harness_rand_below(uint64_t n);

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its path,
 * owned by the harness and valid until the end of the running test. Aborts
 * if the directory cannot be made: no test can go on without it. */
const char *harness_tmpdir(void);

/* Defines and registers a test function. */
#define TEST(name) HARNESS_DEFINE(name, NULL)

/* Same, for a test that shows a known, reported bug (see above). */
#define TEST_KNOWN_BUG(name, why) HARNESS_DEFINE(name, why)

#define HARNESS_DEFINE(name, why)                                        \
	static void name(void);                                          \
	__attribute__((constructor)) static void s_register_##name(void) \
	{                                                                \
		harness_register(#name, name, __FILE__, __LINE__, why);  \
	}                                                                \
	static void name(void)

#define CHECK(cond) \
	((cond) ? 1 : harness_fail(__FILE__, __LINE__, "CHECK(%s)", #cond))

#define CHECK_MSG(cond, ...) \
	((cond) ? 1 : harness_fail(__FILE__, __LINE__, __VA_ARGS__))

#define CHECK_EQ_INT(a, b)                                            \
	harness_check_int(__FILE__, __LINE__, #a, #b, (long long)(a), \
	    (long long)(b))

#define CHECK_EQ_UINT(a, b)                            \
	harness_check_uint(__FILE__, __LINE__, #a, #b, \
	    (unsigned long long)(a), (unsigned long long)(b))

/* Exact string comparison; NULL equals only NULL. */
#define CHECK_STR(a, b) harness_check_str(__FILE__, __LINE__, #a, #b, (a), (b))

/* Byte-for-byte comparison of two buffers, dumping both in hex. */
#define CHECK_MEM(a, an, b, bn) \
	harness_check_mem(__FILE__, __LINE__, #a, #b, (a), (an), (b), (bn))

#define REQUIRE(cond)             \
	do {                      \
		if (!CHECK(cond)) \
			return;   \
	} while (0)

#define REQUIRE_MSG(cond, ...)                     \
	do {                                       \
		if (!CHECK_MSG(cond, __VA_ARGS__)) \
			return;                    \
	} while (0)

#define REQUIRE_EQ_INT(a, b)             \
	do {                             \
		if (!CHECK_EQ_INT(a, b)) \
			return;          \
	} while (0)

#endif
