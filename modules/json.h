/* json.h - JSON text for superctl --json: a string, quoted and escaped. */
#ifndef SUPERD_JSON_H
#define SUPERD_JSON_H

struct buf;

int json_str(struct buf *b, const char *s);

#endif
