/* args: command-line options (see args.h). */
#include "args.h"

#include <string.h>

static int
s_listed(const char *const *list, const char *name)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

int
args_parse(args_t *args, int argc, char **argv, const char *const *allowed,
    const char *const *flags, err_t *err)
{
	int i;

	memset(args, 0, sizeof *args);
	for (i = 0; i < argc; i++) {
		const char *name = argv[i];

		if (strncmp(name, "--", 2) != 0) {
			if (args->positional != NULL)
				return err_set(err, ERR_BAD_REQUEST,
				    "unexpected argument '%s'", name);
			args->positional = name;
			continue;
		}
		name += 2;
		if (args->n == ARGS_MAX)
			return err_set(err, ERR_BAD_REQUEST,
			    "too many options");
		if (s_listed(flags, name)) {
			args->names[args->n] = name;
			args->values[args->n++] = "";
		} else if (s_listed(allowed, name)) {
			if (i + 1 >= argc)
				return err_set(err, ERR_BAD_REQUEST,
				    "option --%s needs a value", name);
			args->names[args->n] = name;
			args->values[args->n++] = argv[++i];
		} else {
			return err_set(err, ERR_BAD_REQUEST,
			    "unknown option --%s", name);
		}
	}
	return 0;
}

const char *
args_get(const args_t *args, const char *name, const char *dflt)
{
	int i;

	for (i = args->n - 1; i >= 0; i--)
		if (strcmp(args->names[i], name) == 0)
			return args->values[i];
	return dflt;
}

const char *
args_nth(const args_t *args, const char *name, int n)
{
	int i;

	for (i = 0; i < args->n; i++)
		if (strcmp(args->names[i], name) == 0 && n-- == 0)
			return args->values[i];
	return NULL;
}

int
args_has(const args_t *args, const char *name)
{
	return args_get(args, name, NULL) != NULL;
}
