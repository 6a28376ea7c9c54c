/*
 * fuzz_conf: the config file reader on arbitrary bytes.
 *
 * conf_load must refuse or accept any DIR/config without crashing, leaking
 * or reading out of bounds. What it accepts must survive conf_save and a
 * second conf_load unchanged (every name, every value), and its numbers and
 * host:port values must read, or be refused, without harm. Anything else
 * aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static char s_dir[64], s_dir2[64];

static void
s_fail(const char *what)
{
	fprintf(stderr, "fuzz_conf: %s\n", what);
	abort();
}

/* Two private folders for the whole run, removed at exit. */
static void
s_cleanup(void)
{
	char path[128];

	snprintf(path, sizeof path, "%s/config", s_dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/config", s_dir2);
	unlink(path);
	rmdir(s_dir);
	rmdir(s_dir2);
}

static void
s_setup(void)
{
	if (s_dir[0] != '\0')
		return;
	/* In memory where there is such a file system: conf_save syncs. */
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(s_dir, sizeof s_dir, "%s/bl-fuzz-conf.XXXXXX", base);
	snprintf(s_dir2, sizeof s_dir2, "%s/bl-fuzz-conf.XXXXXX", base);
	if (mkdtemp(s_dir) == NULL || mkdtemp(s_dir2) == NULL)
		s_fail("mkdtemp failed");
	atexit(s_cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], host[256];
	conf_t a, b;
	err_t err;
	FILE *f;
	long long n;
	int port, i;

	s_setup();
	snprintf(path, sizeof path, "%s/config", s_dir);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(data, 1, size, f) != size || fclose(f) != 0)
		s_fail("cannot write the input");
	if (conf_load(s_dir, &a, &err) != 0)
		return 0;
	if (conf_save(s_dir2, &a, &err) != 0 ||
	    conf_load(s_dir2, &b, &err) != 0)
		s_fail("an accepted config does not survive save and load");
	if (a.n != b.n)
		s_fail("save and load changed the number of settings");
	for (i = 0; i < a.n; i++) {
		const char *v = conf_get(&b, a.items[i].name, NULL);

		if (v == NULL || strcmp(v, a.items[i].value) != 0)
			s_fail("save and load changed a setting");
		(void)conf_get_int(&a, a.items[i].name, 0, -1000, 1000, &n,
		    &err);
		(void)conf_split_hostport(a.items[i].value, host, sizeof host,
		    &port, &err);
	}
	return 0;
}

void
fuzz_seeds(fuzz_add_fn add)
{
	static const char *const seeds[] = {
		"site=S001\nhub=tcp://127.0.0.1:7400\nhub_key=rq:rM>}U?@Lns47E1%"
		"kR.o@n%FcmmsL/@{H8]yf7\nhttp=127.0.0.1:0\n",
		"retain_days=90\nwal_bound_mb=64\ndisk_low_mb=1024\n",
		"# a comment\n\ntoken=abc\nsilent_after_s=3600\n",
	};
	size_t i;

	for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		add(seeds[i], strlen(seeds[i]));
}
