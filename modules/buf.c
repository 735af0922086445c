/* buf.c - a byte queue with a resumable line search. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN 4096

/* Wraps memory the caller owns; consume never frees it. */
void
buf_view(struct buf *b, char *data, size_t len, size_t cap)
{
	b->data = data;
	b->off = b->scan = 0;
	b->len = (uint32_t)len;
	b->cap = (uint32_t)cap;
	b->borrowed = 1;
}

/*
 * Buffers of BUF_MIN come and go with every write and every partial line:
 * a few are kept for reuse rather than handed back to malloc each time.
 */
#define BUF_SPARE 64

static char *spare[BUF_SPARE];
static int nspare;

static char *
buf_take(size_t cap)
{
	if (cap == BUF_MIN && nspare > 0)
		return spare[--nspare];
	return malloc(cap);
}

static void
buf_give(char *p, size_t cap)
{
	if (cap == BUF_MIN && nspare < BUF_SPARE)
		spare[nspare++] = p;
	else
		free(p);
}

static int
buf_grow(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : BUF_MIN;
	char *p;

	if (need >= BUF_MAX - buf_used(b))
		return -1;
	if (b->data == NULL) {
		while (cap < need)
			cap *= 2;
		if (cap > BUF_MAX)
			cap = BUF_MAX;
		if ((b->data = buf_take(cap)) == NULL)
			return -1;
		b->cap = cap;
		return 0;
	}
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->scan -= b->off;
		b->off = 0;
	}
	if (b->len + need <= b->cap)
		return 0;
	while (cap < b->len + need)
		cap *= 2;
	if (cap > BUF_MAX)
		cap = BUF_MAX;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Room for at least want bytes at the tail; *room says how much there is. */
char *
buf_reserve(struct buf *b, size_t want, size_t *room)
{
	if (b->cap - b->len < want && buf_grow(b, want) < 0)
		return NULL;
	*room = b->cap - b->len;
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	size_t room;
	char *dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(b, n, &room)) == NULL)
		return -1;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

/*
 * Formatted text at the tail, without its NUL: a report or a reply.  A
 * NULL b is a report nobody asked for: nothing, and 0.
 */
int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	char *dst;
	int n;

	if (b == NULL)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (dst = buf_reserve(b, (size_t)n + 1, &room)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

void
buf_free(struct buf *b)
{
	if (!b->borrowed && b->data != NULL)
		buf_give(b->data, b->cap);

	memset(b, 0, sizeof(*b));
}

/* An empty buffer gives its memory back: idle connections hold none. */
void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->scan < b->off)
		b->scan = b->off;
	if (b->off < b->len)
		return;
	if (b->borrowed)
		b->off = b->len = b->scan = 0;
	else
		buf_free(b);
}

/*
 * Length of the next line with its '\n', BUF_LINE_NONE when none is
 * complete yet, or BUF_LINE_TOOLONG when max bytes hold no '\n'.  The
 * search resumes where the last one stopped, so a line arriving in many
 * pieces is scanned once.
 */
size_t
buf_line(struct buf *b, size_t max)
{
	size_t end = b->len;
	char *nl;

	if (end - b->off > max)
		end = b->off + max;
	if (b->scan < b->off)
		b->scan = b->off;
	if (b->scan < end) {
		nl = memchr(b->data + b->scan, '\n', end - b->scan);
		if (nl != NULL) {
			b->scan = b->off;
			return nl - (b->data + b->off) + 1;
		}
		b->scan = end;
	}
	return end - b->off >= max ? BUF_LINE_TOOLONG : BUF_LINE_NONE;
}

/* Drops bytes through the next '\n'; 1 when it was found. */
int
buf_skip_line(struct buf *b)
{
	char *nl = buf_used(b) ? memchr(buf_head(b), '\n', buf_used(b)) : NULL;

	if (nl == NULL) {

		buf_consume(b, buf_used(b));
		return 0;
	}
	buf_consume(b, nl - buf_head(b) + 1);
	return 1;
}

/* At exit, so leak checkers see every buffer returned. */
void
buf_release_spares(void)
{
	while (nspare > 0)
		free(spare[--nspare]);
}
