/* prog: the programs' command tables and failures (see prog.h). */
#include "prog.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *s_cmd = "";

int
prog_fail(int code, const err_t *err)
{
	fprintf(stderr, "%s: %s: %s\n", log_progname(), s_cmd, err->msg);
	return code;
}

/* How many words of argv (from argv[1]) name the command name: 1 or 2
 * ("quarantine retry"), 0 when it is not this one. */
static int
s_matches(const char *name, int argc, char **argv)
{
	const char *space = strchr(name, ' ');
	size_t n = space != NULL ? (size_t)(space - name) : strlen(name);

	if (strlen(argv[1]) != n || strncmp(argv[1], name, n) != 0)
		return 0;
	if (space == NULL)
		return 1;
	return argc > 2 && strcmp(argv[2], space + 1) == 0 ? 2 : 0;
}

int
prog_main(const char *name, const prog_cmd_t *cmds, size_t ncmds,
    void (*usage)(void), int argc, char **argv)
{
	args_t a;
	err_t err;
	size_t i;

	log_init(name);
	if (argc < 2) {
		usage();
		return PROG_EXIT_USAGE;
	}
	for (i = 0; i < ncmds; i++) {
		int words = s_matches(cmds[i].name, argc, argv);

		if (words == 0)
			continue;
		s_cmd = cmds[i].name;
		if (args_parse(&a, argc - 1 - words, argv + 1 + words,
			cmds[i].allowed, cmds[i].flags, &err))
			return prog_fail(PROG_EXIT_USAGE, &err);
		if (a.positional != NULL) {
			err_set(&err, ERR_BAD_REQUEST,
			    "unexpected argument '%s'", a.positional);
			return prog_fail(PROG_EXIT_USAGE, &err);
		}
		if (!args_has(&a, "data")) {
			err_set(&err, ERR_BAD_REQUEST,
			    "--data DIR is required");
			return prog_fail(PROG_EXIT_USAGE, &err);
		}
		return cmds[i].fn(&a);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", name, argv[1]);
	usage();
	return PROG_EXIT_USAGE;
}
