/*
 * harness: registration, running and reporting of unit tests (see harness.h).
 *
 * Owns the list of registered tests, the per-test failure state, the seeded
 * generator and the temporary directories of the running test. Output goes
 * to stdout, one line per test, so it interleaves sanely with the library's
 * stderr diagnostics.
 */
#include "harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 256
#define MAX_TMPDIRS 16
#define DEFAULT_SEED 12345u

typedef struct {
	const char *name;
	harness_fn_t fn;
	const char *file;
	int line;
	const char *known_bug; /* why it fails, or NULL */
} test_t;

static test_t s_tests[MAX_TESTS];
static int s_ntests;

/* State of the running test. */
static const char *s_current;
static const char *s_current_bug;
static int s_failures;
static uint64_t s_seed;
static uint64_t s_rng;
static char *s_tmpdirs[MAX_TMPDIRS];
static int s_ntmpdirs;

void
harness_register(const char *name, harness_fn_t fn, const char *file, int line,
    const char *known_bug)
{
	if (s_ntests == MAX_TESTS) {
		fprintf(stderr, "harness: more than %d tests\n", MAX_TESTS);
		abort();
	}
	s_tests[s_ntests].name = name;
	s_tests[s_ntests].fn = fn;
	s_tests[s_ntests].file = file;
	s_tests[s_ntests].line = line;
	s_tests[s_ntests].known_bug = known_bug;
	s_ntests++;
}

int
harness_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	/* The first failure is the test's result line; later ones are
	 * diagnostics, so the test still reports exactly one line. A known
	 * bug's failures are all diagnostics. */
	if (s_current_bug != NULL)
		printf("#   %s %s:%d: ",
		    s_failures == 0 ? "known bug shows at" : "also", file,
		    line);
	else if (s_failures == 0)
		printf("FAIL %s: %s:%d: ", s_current ? s_current : "?", file,
		    line);
	else
		printf("#   also %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	s_failures++;
	return 0;
}

int
harness_check_int(const char *file, int line, const char *a_expr,
    const char *b_expr, long long a, long long b)
{
	if (a == b)
		return 1;
	return harness_fail(file, line, "%s == %s: %lld != %lld", a_expr,
	    b_expr, a, b);
}

int
harness_check_uint(const char *file, int line, const char *a_expr,
    const char *b_expr, unsigned long long a, unsigned long long b)
{
	if (a == b)
		return 1;
	return harness_fail(file, line,
	    "%s == %s: %llu (0x%llx) != %llu (0x%llx)", a_expr, b_expr, a, a, b,
	    b);
}

int
harness_check_str(const char *file, int line, const char *a_expr,
    const char *b_expr, const char *a, const char *b)
{
	if (a == NULL && b == NULL)
		return 1;
	if (a != NULL && b != NULL && strcmp(a, b) == 0)
		return 1;
	return harness_fail(file, line,
	    "%s == %s:\n#   got:  %s%s%s\n#   want: %s%s%s", a_expr, b_expr,
	    a ? "\"" : "", a ? a : "NULL", a ? "\"" : "", b ? "\"" : "",
	    b ? b : "NULL", b ? "\"" : "");
}

static void
s_hex(const char *label, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	printf("#   %s (%zu bytes):", label, n);
	for (i = 0; i < n; i++)
		printf("%s%02x", i % 32 == 0 ? "\n#     " : " ", b[i]);
	putchar('\n');
}

int
harness_check_mem(const char *file, int line, const char *a_expr,
    const char *b_expr, const void *a, size_t an, const void *b, size_t bn)
{
	size_t i;

	if (an == bn && (an == 0 || memcmp(a, b, an) == 0))
		return 1;
	for (i = 0; i < an && i < bn; i++)
		if (((const unsigned char *)a)[i] !=
		    ((const unsigned char *)b)[i])
			break;
	harness_fail(file, line,
	    "%s == %s: %zu vs %zu bytes, first difference at byte %zu", a_expr,
	    b_expr, an, bn, i);
	s_hex("got", a, an);
	s_hex("want", b, bn);
	return 0;
}

uint64_t
harness_seed(void)
{
	return s_seed;
}

uint64_t
harness_rand(void)
{
	uint64_t z = (s_rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t
harness_rand_below(uint64_t n)
{
	return harness_rand() % n;
}

const char *
harness_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char path[4096];

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (s_ntmpdirs == MAX_TMPDIRS) {
		fprintf(stderr, "harness: more than %d temp dirs in one test\n",
		    MAX_TMPDIRS);
		abort();
	}
	snprintf(path, sizeof path, "%s/bl-test-XXXXXX", base);
	if (mkdtemp(path) == NULL) {
		perror("harness: mkdtemp");
		abort();
	}
	s_tmpdirs[s_ntmpdirs] = strdup(path);
	if (s_tmpdirs[s_ntmpdirs] == NULL)
		abort();
	return s_tmpdirs[s_ntmpdirs++];
}

static int
s_remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		perror(path);
	return 0;
}

/* Removes the running test's directories if it passed, else names them. */
static void
s_tmpdirs_done(int passed)
{
	int i;

	for (i = 0; i < s_ntmpdirs; i++) {
		if (passed)
			nftw(s_tmpdirs[i], s_remove_entry, 16,
			    FTW_DEPTH | FTW_PHYS);
		else
			printf("#   kept %s\n", s_tmpdirs[i]);
		free(s_tmpdirs[i]);
	}
	s_ntmpdirs = 0;
}

static uint64_t
s_env_seed(void)
{
	const char *v = getenv("BL_SEED");
	char *end;
	unsigned long long n;

	if (v == NULL || v[0] == '\0')
		return DEFAULT_SEED;
	n = strtoull(v, &end, 0);
	if (*end != '\0') {
		fprintf(stderr, "harness: BL_SEED '%s' is not a number\n", v);
		exit(2);
	}
	return n;
}

static int
s_selected(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

static int
s_test_cmp(const void *pa, const void *pb)
{
	const test_t *a = pa, *b = pb;
	int c = strcmp(a->file, b->file);

	if (c != 0)
		return c;
	return (a->line > b->line) - (a->line < b->line);
}

static int
s_env_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

int
main(int argc, char **argv)
{
	int i, passed = 0, failed = 0, strict = s_env_flag("BL_XFAIL_STRICT");
	int ok;

	/* Constructors run in an order the toolchain picks; source order is
	 * what a reader expects. */
	qsort(s_tests, (size_t)s_ntests, sizeof s_tests[0], s_test_cmp);
	s_seed = s_env_seed();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# seed %llu (BL_SEED=N runs another)\n",
	    (unsigned long long)s_seed);
	for (i = 0; i < s_ntests; i++) {
		if (!s_selected(s_tests[i].name, argc, argv))
			continue;
		s_current = s_tests[i].name;
		s_current_bug = s_tests[i].known_bug;
		s_failures = 0;
		s_rng = s_seed;
		s_tests[i].fn();
		if (s_current_bug == NULL) {
			ok = s_failures == 0;
			if (ok)
				printf("ok %s\n", s_current);
		} else if (s_failures > 0) {
			ok = !strict;
			printf("%s %s: known bug: %s\n",
			    strict ? "FAIL" : "xfail", s_current,
			    s_current_bug);
		} else {
			ok = 0;
			printf("FAIL %s: %s:%d: passes now: known bug fixed? "
			       "turn TEST_KNOWN_BUG back into TEST\n",
			    s_current, s_tests[i].file, s_tests[i].line);
		}
		if (!ok && s_failures > 0)
			printf("#   seed: BL_SEED=%llu reproduces this run\n",
			    (unsigned long long)s_seed);
		if (ok)
			passed++;
		else
			failed++;
		s_tmpdirs_done(ok);
		s_current = NULL;
		s_current_bug = NULL;
	}
	printf("RESULT %d %d\n", passed, failed);
	return failed > 0 ? 1 : 0;
}
