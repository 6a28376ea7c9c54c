/*
 * log: one-line diagnostics to stderr for the daemons and commands.
 *
 * Lines read "2026-11-25T20:01:14Z bl-hub: message". log_debug lines appear
 * only when BL_DEBUG is set in the environment. fatal() is for a daemon that
 * cannot go on: it logs and exits with status 1.
 */
#ifndef BL_LOG_H
#define BL_LOG_H

/* Sets the program name shown on every line; the string is borrowed and must
 * outlive all logging (a literal in main). */
void log_init(const char *progname);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Quiet (1) drops info and warning lines; fatal still prints. One-shot
 * commands are quiet and report the one reason they failed themselves;
 * daemons narrate (0, the default). */
void log_set_quiet(int quiet);

/* Returns the program name set by log_init ("bl" before). */
const char *log_progname(void);

#endif
