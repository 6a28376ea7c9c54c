/*
 * text: one-line UTF-8 texts, the kind that travel in error messages, log
 * lines, JSON and the protocol. What RFC 3629 calls UTF-8 (shortest forms,
 * no surrogates, nothing above U+10FFFF); cutting only between characters;
 * cleaning what came from elsewhere (a peer, a path, a client) before it
 * goes into JSON or a log line.
 *
 * A control character is one of C0 (U+0000-U+001F), DEL (U+007F) or C1
 * (U+0080-U+009F): none belongs in a one-line text, and a terminal may act
 * on any of them (C1 holds CSI, U+009B, an escape sequence's start).
 */
#ifndef BL_TEXT_H
#define BL_TEXT_H

#include <stddef.h>

/* Length of the UTF-8 sequence at p, with n bytes available: 1 to 4, or 0
 * when it is not a valid one. */
size_t text_utf8_len(const unsigned char *p, size_t n);

/* Replaces every byte of s that is not part of valid UTF-8, and every byte
 * of a control character, with '?'. */
void text_clean(char *s);

/* Whether s is UTF-8 without control characters. */
int text_ok(const char *s);

/* The length of the longest prefix of s that is UTF-8 without control
 * characters: strlen(s) when text_ok(s), else the offset of the byte where
 * s stops being text (a decoder names it in its error). */
size_t text_ok_len(const char *s);

/* The length of the longest prefix of text (NUL-terminated) of at most max
 * bytes that does not end inside a UTF-8 sequence: where to cut a text for
 * the wire, or after a snprintf that may have cut one. */
size_t text_fit(const char *text, size_t max);

/* Formats into buf (size bytes), cut between characters when it does not
 * fit: our messages are bounded by design, and a longer one is cut, not
 * refused. */
void text_printf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
