/*
 * control.h - the control socket superctl speaks to: a unix stream
 * socket, one request line per connection, a reply, the close.
 */
#ifndef SUPERD_CONTROL_H
#define SUPERD_CONTROL_H

#include <stddef.h>

struct buf;

/*
 * The protocol.  A request is one line of printable ASCII words, the
 * first "--json" when machine output is wanted, then a command and its
 * arguments; CONTROL_MAX bytes at most with its '\n'.  The reply is a
 * status line, "ok" or "error", then its text until superd closes.
 */
#define CONTROL_MAX 65536
#define CONTROL_OK "ok"
#define CONTROL_ERROR "error"
/* Seconds a request has to arrive, and its reply to be read. */
#define CONTROL_TIMEOUT 5.0
/* Connections served at once; more are refused until one ends. */
#define CONTROL_CLIENTS 16

/*
 * Runs a request: its reply's text into out; 0, or -1 for "error", or
 * CONTROL_LATER when control_answer will give the reply (an upgrade).
 */
typedef int control_fn(const char *request, struct buf *out);
#define CONTROL_LATER 1
/* Seconds a request answered later may wait for its answer. */
#define CONTROL_LATER_TIMEOUT 55.0

int control_open(const char *path, control_fn *fn, char *err, size_t len);
const char *control_path(void);
int control_fd(void);
void control_disown(void);
void control_run(void);
void control_answer(int rc, const struct buf *body);
void control_close(void);

#endif
