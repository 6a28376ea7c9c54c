/*
 * prog: what bl-hub and bl-node share as programs: a table of commands,
 * each with the options it takes; the "--data DIR" every one of them needs;
 * and the one-line failure, "PROG: COMMAND: what: why", with exit status 1
 * (runtime) or 2 (bad usage).
 */
#ifndef BL_PROG_H
#define BL_PROG_H

#include "args.h"
#include "err.h"

#define PROG_EXIT_USAGE 2

typedef struct {
	const char *name;
	int (*fn)(const args_t *args);
	const char *allowed[8];	  /* options with a value, NULL-ended */
	const char *const *flags; /* options without one, or NULL */
} prog_cmd_t;

/* Runs the command argv[1] names (or argv[1] and argv[2], for a name of
 * two words: "quarantine retry"), with the rest parsed against its
 * options; prints usage() and returns 2 when there is none or it is
 * unknown. Every command requires --data. name is the program's
 * ("bl-hub"), a literal. */
int prog_main(const char *name, const prog_cmd_t *cmds, size_t ncmds,
    void (*usage)(void), int argc, char **argv);

/* Prints "PROG: COMMAND: err" on stderr; returns code. */
int prog_fail(int code, const err_t *err);

#endif
