/*
 * json.c - a string as JSON text, into a buffer: quoted, with the quote,
 * the backslash and control characters escaped (RFC 8259, section 7).
 * Other bytes pass as they are: what superd names is ASCII.
 */
#include <stdio.h>

#include "buf.h"
#include "json.h"

/* 0, or -1 when the buffer could not grow. */
int
json_str(struct buf *b, const char *s)
{
	int rc = buf_append(b, "\"", 1);

	for (; *s != '\0' && rc == 0; s++) {
		if (*s == '"' || *s == '\\')
			rc = buf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			rc = buf_printf(b, "\\u%04x", (unsigned char)*s);
		else
			rc = buf_append(b, s, 1);
	}
	return rc < 0 ? -1 : buf_append(b, "\"", 1);
}
