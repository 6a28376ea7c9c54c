/*
 * driver: a deterministic stand-in for libFuzzer, so every fuzz target runs
 * in the sanitized test build without clang.
 *
 *   fuzz_NAME                      corpus, then BL_FUZZ_RUNS mutations
 *   fuzz_NAME FILE|DIR...          only these inputs (reproduce a crash)
 *   fuzz_NAME --write-seeds DIR    write the built-in seeds as files
 *
 * A plain run feeds the target every file of the corpus directory (the
 * first of $BL_FUZZ_CORPUS, <top>/tests/fuzz/corpus/NAME/ found from the
 * binary's path, ./tests/fuzz/corpus/NAME/ that exists), then its built-in
 * seeds (fuzz_seeds), then BL_FUZZ_RUNS (default 20000) inputs made by
 * stacking random mutations on those: bit flips, interesting CBOR bytes,
 * inserts, deletes, truncations, splices, random chunks. The generator is
 * seeded with BL_SEED (default 12345), so a run is reproducible. It ends
 * with the number of runs and "RESULT 1 0" (the target is one test) and
 * status 0; a crash, abort() or sanitizer report
 * is the failure. The input that was running then is saved next to the
 * binary as crash-NAME and its path printed.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_RUNS 20000
#define DEFAULT_SEED 12345u
#define MIN_MAX_LEN 4096 /* mutated inputs grow up to this, or more */

/* Optional in a target. */
extern void fuzz_seeds(fuzz_add_fn add) __attribute__((weak));
/* Present when linked with a sanitizer runtime. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));

typedef struct {
	uint8_t *data;
	size_t len;
} input_t;

static input_t *s_pool;
static size_t s_npool, s_cappool;
static uint64_t s_rng;

/* What is running, for the crash handlers. */
static const uint8_t *volatile s_cur;
static volatile size_t s_cur_len;
static volatile unsigned long s_run;
static char s_crash_path[PATH_MAX];

static uint64_t
s_rand(void)
{
	uint64_t z = (s_rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t
s_below(size_t n)
{
	return n ? (size_t)(s_rand() % n) : 0;
}

static void
s_pool_add(const void *data, size_t len)
{
	uint8_t *copy;

	if (s_npool == s_cappool) {
		s_cappool = s_cappool ? 2 * s_cappool : 64;
		s_pool = realloc(s_pool, s_cappool * sizeof *s_pool);
		if (s_pool == NULL)
			abort();
	}
	copy = malloc(len ? len : 1);
	if (copy == NULL)
		abort();
	if (len)
		memcpy(copy, data, len);
	s_pool[s_npool].data = copy;
	s_pool[s_npool].len = len;
	s_npool++;
}

/* ---- crash reporting (async-signal-safe) ---- */

static void
s_put(const char *s)
{
	ssize_t r = write(2, s, strlen(s));

	(void)r;
}

static void
s_save_current(void)
{
	char num[24];
	int fd, i = (int)sizeof num - 1;
	unsigned long run = s_run;
	ssize_t r;

	if (s_cur == NULL || s_crash_path[0] == '\0')
		return;
	fd = open(s_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	r = write(fd, (const void *)s_cur, s_cur_len);
	(void)r;
	close(fd);
	num[i] = '\0';
	do {
		num[--i] = (char)('0' + run % 10);
		run /= 10;
	} while (run > 0 && i > 0);
	s_put("fuzz: input of run ");
	s_put(num + i);
	s_put(" saved to ");
	s_put(s_crash_path);
	s_put("\n");
	s_cur = NULL;
}

static void
s_on_abort(int sig)
{
	s_save_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- running ---- */

static void
s_run_one(const uint8_t *data, size_t len)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	uint8_t *copy = malloc(len ? len : 1);

	if (copy == NULL)
		abort();
	if (len)
		memcpy(copy, data, len);
	s_cur = copy;
	s_cur_len = len;
	LLVMFuzzerTestOneInput(copy, len);
	s_cur = NULL;
	free(copy);
	s_run++;
}

static int
s_read_file(const char *path, input_t *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	out->data = buf;
	out->len = len;
	return 0;
}

static int
s_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs path (a file, or every regular file in a directory, in name order)
 * and adds each input to the pool. Returns the number run, -1 if path
 * cannot be read. */
static long
s_run_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL, full[PATH_MAX];
	size_t n = 0, cap = 0, i;
	long count = 0;
	input_t in;

	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		if (s_read_file(path, &in) != 0)
			return -1;
		s_run_one(in.data, in.len);
		s_pool_add(in.data, in.len);
		free(in.data);
		return 1;
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			names = realloc(names, cap * sizeof *names);
			if (names == NULL)
				abort();
		}
		names[n] = strdup(e->d_name);
		if (names[n] == NULL)
			abort();
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, s_name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof full, "%s/%s", path, names[i]);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    s_read_file(full, &in) == 0) {
			s_run_one(in.data, in.len);
			s_pool_add(in.data, in.len);
			free(in.data);
			count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

/* ---- mutation ---- */

static const uint8_t s_interesting[] = {
	0x00,
	0x01,
	0x17,
	0x18,
	0x19,
	0x1a,
	0x1b,
	0x1c,
	0x1f,
	0x20,
	0x37,
	0x38,
	0x3b,
	0x40,
	0x5f,
	0x60,
	0x61,
	0x78,
	0x7b,
	0x7f,
	0x80,
	0x81,
	0x87,
	0x98,
	0x9a,
	0x9b,
	0x9f,
	0xa0,
	0xa1,
	0xb8,
	0xbf,
	0xc0,
	0xc1,
	0xe0,
	0xf4,
	0xf5,
	0xf6,
	0xf7,
	0xf8,
	0xf9,
	0xfa,
	0xfb,
	0xff,
	0x7e,
	0xc3,
	0xa9,
	0xed,
	0xf0,
};

/* Applies one random mutation to buf[0..*len) (capacity max). */
static void
s_mutate(uint8_t *buf, size_t *len, size_t max)
{
	size_t n = *len, at, k, i;
	const input_t *other;

	switch (s_below(10)) {
	case 0: /* flip a bit */
		if (n)
			buf[s_below(n)] ^= (uint8_t)(1u << s_below(8));
		break;
	case 1: /* a random byte */
		if (n)
			buf[s_below(n)] = (uint8_t)s_rand();
		break;
	case 2: /* an interesting CBOR byte */
		if (n)
			buf[s_below(n)] =
			    s_interesting[s_below(sizeof s_interesting)];
		break;
	case 3: /* insert a few bytes */
		k = 1 + s_below(4);
		if (n + k > max)
			break;
		at = s_below(n + 1);
		memmove(buf + at + k, buf + at, n - at);
		for (i = 0; i < k; i++)
			buf[at + i] = s_below(2)
			    ? (uint8_t)s_rand()
			    : s_interesting[s_below(sizeof s_interesting)];
		*len = n + k;
		break;
	case 4: /* delete a range */
		if (n == 0)
			break;
		at = s_below(n);
		k = 1 + s_below(n - at < 8 ? n - at : 8);
		memmove(buf + at, buf + at + k, n - at - k);
		*len = n - k;
		break;
	case 5: /* truncate */ *len = s_below(n + 1); break;
	case 6: /* splice: our head, another input's tail */
		other = &s_pool[s_below(s_npool)];
		at = s_below(n + 1);
		k = s_below(other->len + 1);
		if (at + (other->len - k) > max)
			break;
		memcpy(buf + at, other->data + k, other->len - k);
		*len = at + (other->len - k);
		break;
	case 7: /* overwrite a chunk with random bytes */
		if (n == 0)
			break;
		at = s_below(n);
		k = 1 + s_below(n - at < 16 ? n - at : 16);
		for (i = 0; i < k; i++)
			buf[at + i] = (uint8_t)s_rand();
		break;
	case 8: /* duplicate a chunk elsewhere */
		if (n == 0)
			break;
		at = s_below(n);
		k = 1 + s_below(n - at < 32 ? n - at : 32);
		if (n + k > max)
			break;
		i = s_below(n + 1);
		memmove(buf + i + k, buf + i, n - i);
		/* The chunk may have moved if it sat after i. */
		memmove(buf + i, buf + (at >= i ? at + k : at), k);
		*len = n + k;
		break;
	default: /* insert a chunk of another input */
		other = &s_pool[s_below(s_npool)];
		if (other->len == 0)
			break;
		at = s_below(other->len);
		k = 1 + s_below(other->len - at);
		if (n + k > max)
			break;
		i = s_below(n + 1);
		memmove(buf + i + k, buf + i, n - i);
		memcpy(buf + i, other->data + at, k);
		*len = n + k;
		break;
	}
}

/* ---- main ---- */

static unsigned long long
s_env_num(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (v == NULL || v[0] == '\0')
		return dflt;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "fuzz: %s '%s' is not a number\n", name, v);
		exit(2);
	}
	return n;
}

static int
s_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Writes the built-in seeds to dir as seed-NNN files. */
static int
s_write_seeds(const char *dir)
{
	char path[PATH_MAX];
	size_t i;
	FILE *f;

	if (!s_is_dir(dir) && mkdir(dir, 0755) != 0) {
		perror(dir);
		return 1;
	}
	for (i = 0; i < s_npool; i++) {
		snprintf(path, sizeof path, "%s/seed-%03zu", dir, i);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(s_pool[i].data, 1, s_pool[i].len, f) !=
			s_pool[i].len ||
		    fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	printf("wrote %zu seeds to %s\n", s_npool, dir);
	return 0;
}

int
main(int argc, char **argv)
{
	char self[PATH_MAX], corpus[PATH_MAX], *slash;
	const char *name, *env_corpus = getenv("BL_FUZZ_CORPUS");
	unsigned long long runs = s_env_num("BL_FUZZ_RUNS", DEFAULT_RUNS);
	unsigned long long seed = s_env_num("BL_SEED", DEFAULT_SEED);
	size_t max = MIN_MAX_LEN, i, len, nbuiltin;
	uint8_t *buf;
	long ncorpus = 0, r;
	unsigned long long m;
	int steps, j;

	name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (realpath(argv[0], self) == NULL)
		snprintf(self, sizeof self, "%s", argv[0]);
	slash = strrchr(self, '/');
	if (slash != NULL)
		snprintf(s_crash_path, sizeof s_crash_path, "%.*s/crash-%s",
		    (int)(slash - self), self, name);
	else
		snprintf(s_crash_path, sizeof s_crash_path, "crash-%s", name);
	signal(SIGABRT, s_on_abort);
	if (__sanitizer_set_death_callback != NULL)
		__sanitizer_set_death_callback(s_save_current);
	s_rng = seed;

	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
		if (fuzz_seeds != NULL)
			fuzz_seeds(s_pool_add);
		return s_write_seeds(argv[2]);
	}
	if (argc > 1) {
		/* Reproduce: just the inputs named. */
		for (j = 1; j < argc; j++) {
			r = s_run_path(argv[j]);
			if (r < 0) {
				fprintf(stderr, "fuzz: cannot read %s\n",
				    argv[j]);
				return 2;
			}
		}
		printf("%lu runs\nRESULT 1 0\n", (unsigned long)s_run);
		return 0;
	}

	/* The corpus directory: explicit, next to the sources, or here. */
	corpus[0] = '\0';
	if (env_corpus != NULL && env_corpus[0] != '\0') {
		snprintf(corpus, sizeof corpus, "%s", env_corpus);
	} else {
		/* self is <top>/build/san/tests/fuzz/NAME. */
		char top[PATH_MAX];
		int up;

		snprintf(top, sizeof top, "%s", self);
		for (up = 0; up < 5 && (slash = strrchr(top, '/')) != NULL;
		     up++)
			*slash = '\0';
		/* A path too long for PATH_MAX is no corpus of ours. */
		if (snprintf(corpus, sizeof corpus, "%s/tests/fuzz/corpus/%s",
			top, name) >= (int)sizeof corpus ||
		    up < 5 || !s_is_dir(corpus))
			snprintf(corpus, sizeof corpus, "tests/fuzz/corpus/%s",
			    name);
	}
	if (s_is_dir(corpus))
		ncorpus = s_run_path(corpus);
	if (ncorpus < 0)
		ncorpus = 0;
	nbuiltin = s_npool;
	if (fuzz_seeds != NULL)
		fuzz_seeds(s_pool_add);
	nbuiltin = s_npool - nbuiltin;
	for (i = (size_t)ncorpus; i < s_npool; i++)
		s_run_one(s_pool[i].data, s_pool[i].len);
	s_run_one((const uint8_t *)"", 0);
	if (s_npool == 0)
		s_pool_add("", 0);
	for (i = 0; i < s_npool; i++)
		if (s_pool[i].len + 64 > max)
			max = s_pool[i].len + 64;
	fprintf(stderr,
	    "fuzz %s: %ld corpus files (%s), %zu built-in seeds, "
	    "%llu mutations, BL_SEED=%llu\n",
	    name, ncorpus, s_is_dir(corpus) ? corpus : "none", nbuiltin, runs,
	    seed);

	buf = malloc(max);
	if (buf == NULL)
		abort();
	for (m = 0; m < runs; m++) {
		const input_t *base = &s_pool[s_below(s_npool)];

		memcpy(buf, base->data, base->len);
		len = base->len;
		steps = 1 + (int)s_below(s_below(4) ? 3 : 8);
		for (j = 0; j < steps; j++)
			s_mutate(buf, &len, max);
		s_run_one(buf, len);
	}
	free(buf);
	for (i = 0; i < s_npool; i++)
		free(s_pool[i].data);
	free(s_pool);
	printf("%lu runs\nRESULT 1 0\n", (unsigned long)s_run);
	return 0;
}
