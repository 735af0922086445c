/* fuzz_buf.c - libFuzzer over the line/buffer reader: the input is split
 * into appends of varying sizes, and lines are taken as the reader does. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = {0};
	size_t max, n, i = 0, chunk;
	int skipping = 0;

	if (size < 2)
		return 0;
	max = 1 + data[0] * 4;
	while (i < size) {
		chunk = 1 + data[i] % 64;
		if (chunk > size - i)
			chunk = size - i;
		buf_append(&b, data + i, chunk);
		i += chunk;
		for (;;) {
			if (skipping && !(skipping = !buf_skip_line(&b)))
				continue;
			if (skipping)
				break;
			n = buf_line(&b, max);
			if (n == BUF_LINE_NONE)
				break;
			if (n == BUF_LINE_TOOLONG) {
				assert(buf_used(&b) >= max);
				buf_consume(&b, buf_used(&b));
				skipping = 1;
				break;
			}
			assert(n <= buf_used(&b) && n <= max);
			assert(buf_head(&b)[n - 1] == '\n');
			assert(memchr(buf_head(&b), '\n', n - 1) == NULL);
			buf_consume(&b, n);
		}
	}
	buf_free(&b);
	return 0;
}
