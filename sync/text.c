/* text: one-line UTF-8 texts (see text.h). */
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t
text_utf8_len(const unsigned char *p, size_t n)
{
	size_t len, k;
	uint32_t c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[k] & 0x3F);
	}
	/* Shortest forms only, no surrogates, nothing above U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return 0;
	return len;
}

/* Whether the UTF-8 sequence at p, k bytes long, is a control character
 * (text.h): C0, DEL, or C1, which UTF-8 writes as C2 80 to C2 9F. */
static int
s_control(const unsigned char *p, size_t k)
{
	return (k == 1 && (p[0] < 0x20 || p[0] == 0x7F)) ||
	    (k == 2 && p[0] == 0xC2 && p[1] <= 0x9F);
}

void
text_clean(char *s)
{
	size_t n = strlen(s), i = 0, k;
	unsigned char *u = (unsigned char *)s;

	while (i < n) {
		k = text_utf8_len(u + i, n - i);
		if (k == 0) {
			s[i++] = '?';
			continue;
		}
		if (s_control(u + i, k))
			memset(s + i, '?', k);
		i += k;
	}
}

size_t
text_ok_len(const char *s)
{
	size_t n = strlen(s), i = 0, k;
	const unsigned char *u = (const unsigned char *)s;

	while (i < n) {
		if (u[i] >= 0x20 && u[i] < 0x7F) { /* printable ASCII */
			i++;
			continue;
		}
		if ((k = text_utf8_len(u + i, n - i)) == 0 ||
		    s_control(u + i, k))
			break;
		i += k;
	}
	return i;
}

int
text_ok(const char *s)
{
	return s[text_ok_len(s)] == '\0';
}

size_t
text_fit(const char *text, size_t max)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t n = strlen(text), lead, need;

	if (n > max)
		n = max;
	lead = n;
	while (lead > 0 && (t[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead > 0 && t[lead - 1] >= 0xC0) {
		need = t[lead - 1] >= 0xF0 ? 4 : t[lead - 1] >= 0xE0 ? 3 : 2;
		if (n - (lead - 1) < need)
			n = lead - 1;
	}
	return n;
}

void
text_printf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	buf[text_fit(buf, size - 1)] = '\0';
}
