/* buf.h - a byte queue with a resumable line search. */
#ifndef SUPERD_BUF_H
#define SUPERD_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Bytes data[off..len) are queued; scan is where the line search resumes.
 * 32-bit offsets keep the buffers of an idle connection small: a buffer
 * never holds BUF_MAX bytes or more, and growing past that fails as an
 * allocation that fails.
 */
struct buf {
	char *data;
	uint32_t off, len, cap, scan;
	int borrowed; /* data is the caller's: never realloc'd or freed */
};

#define BUF_MAX ((size_t)UINT32_MAX)

#define BUF_LINE_NONE 0
#define BUF_LINE_TOOLONG ((size_t)-1)

static inline size_t
buf_used(const struct buf *b)
{
	return b->len - b->off;
}

static inline const char *
buf_head(const struct buf *b)
{
	return b->data + b->off;
}

void buf_view(struct buf *b, char *data, size_t len, size_t cap);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *buf_reserve(struct buf *b, size_t want, size_t *room);
void buf_commit(struct buf *b, size_t n);
void buf_consume(struct buf *b, size_t n);
size_t buf_line(struct buf *b, size_t max);
int buf_skip_line(struct buf *b);
void buf_free(struct buf *b);
void buf_release_spares(void);

#endif
