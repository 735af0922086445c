/* test_listener.c - bind, accept through the owner's callback, reuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "loop.h"

/* Linked with -Wl,--wrap=accept4: descriptors run out on demand. */
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
static int accept_fails, accept_calls;
static double accept_when[8];

int
__wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	loop_update_time();
	if (accept_calls < 8)
		accept_when[accept_calls] = loop_now();
	accept_calls++;
	if (accept_fails > 0) {
		accept_fails--;
		errno = EMFILE;
		return -1;
	}
	return __real_accept4(fd, sa, len, flags);
}

/* What the owner's callbacks saw. */
static struct {
	void *owner;
	int fd, port, readable, closing;
	union net_addr peer;
} seen;

static void
on_accept(void *owner, int fd, const union net_addr *peer)
{
	seen.owner = owner;
	seen.fd = fd;
	seen.port = net_port(peer);
	seen.peer = *peer;
	loop_stop();
}

static void
on_readable(struct loop_io *io, int events)
{
	char b[64];

	(void)events;
	while (recv(io->fd, b, sizeof(b), 0) > 0)
		seen.readable++;
	loop_stop();
}

static void
on_closing(int fd)
{
	(void)fd;
	seen.closing++;
}

static const struct listener_ops ops = {on_accept, on_readable, on_closing};

static char *loopback[] = {"127.0.0.1"};
static struct svc_conf conf = {
    .name = "t", .addrs = loopback, .naddrs = 1, .protos = CONF_TCP};
static int owner;

static void
watchdog_fired(struct loop_timer *t)
{
	(void)t;
	loop_stop();
}

static struct loop_timer watchdog = {0, -1, watchdog_fired, NULL};

/* The loop until a callback stops it, or two seconds. */
static void
run(void)
{
	loop_update_time();
	loop_timer_set(&watchdog, loop_now() + 2);
	loop_run();
	loop_timer_cancel(&watchdog);
}

static int
setup(void **state)
{
	(void)state;
	memset(&seen, 0, sizeof(seen));
	seen.fd = -1;
	accept_fails = accept_calls = 0;
	conf.port = 0;
	conf.protos = CONF_TCP;
	return 0;
}

static struct listener *
attached(void)
{
	struct listener *list;
	char err[256];

	assert_int_equal(listeners_prepare(&conf, &list, err, sizeof(err)), 0);
	assert_non_null(list);
	listeners_attach(list, &owner, "t", &ops);
	return list;
}

/* A client of the listener; its local port in *port. */
static int
connect_to(const struct listener *l, int type, int *port)
{
	union net_addr a = l->local, me;
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &a.sa, sizeof(a.in4)), 0);
	assert_int_equal(getsockname(fd, &me.sa, &len), 0);
	*port = net_port(&me);
	return fd;
}

static void
test_accepted_connection_goes_to_the_owner_callback(void **state)
{
	struct listener *list = attached();
	int port, fd = connect_to(list, SOCK_STREAM, &port);

	(void)state;
	assert_true(net_port(&list->local) > 0);
	run();
	assert_ptr_equal(seen.owner, &owner);
	assert_true(seen.fd >= 0);
	assert_int_equal(seen.port, port);
	close(seen.fd);
	close(fd);
	listeners_close(&list);
	assert_null(list);
}

static void
test_udp_readable_goes_to_the_owner_callback(void **state)
{
	struct listener *list;
	int port, fd;

	(void)state;
	conf.protos = CONF_UDP;
	list = attached();
	fd = connect_to(list, SOCK_DGRAM, &port);
	assert_int_equal(send(fd, "x", 1, 0), 1);
	run();
	assert_int_equal(seen.readable, 1);
	assert_true(listeners_is_own_udp(&list->local));
	listeners_close(&list);
	assert_int_equal(seen.closing, 1);
	close(fd);
}

/*
 * The pending connection stays queued while descriptors are out: the
 * listener is not polled until the pause ends, then it is accepted.
 */
static void
test_emfile_pauses_accepting_then_resumes(void **state)
{
	struct listener *list = attached();
	int port, fd = connect_to(list, SOCK_STREAM, &port);

	(void)state;
	accept_fails = 1;
	run();
	assert_int_equal(seen.port, port);
	assert_true(accept_calls >= 2 && accept_calls <= 3);
	assert_true(accept_when[1] - accept_when[0] >= 0.2);
	close(seen.fd);
	close(fd);
	listeners_close(&list);
}

/* A reload takes the socket over; an aborted one gives it back. */
static void
test_reload_reuses_the_open_socket(void **state)
{
	struct listener *old = attached(), *next;
	int fd = old->io.fd, port, client;
	char err[256];

	(void)state;
	assert_int_equal(listeners_prepare(&conf, &next, err, sizeof(err)), 0);
	assert_true(old->claimed);
	listeners_abort(next);
	assert_false(old->claimed);
	assert_true(fcntl(fd, F_GETFD) >= 0);
	assert_int_equal(listeners_prepare(&conf, &next, err, sizeof(err)), 0);
	assert_ptr_equal(next->from, old);
	assert_int_equal(next->io.fd, fd);
	listeners_close(&old);
	assert_true(fcntl(fd, F_GETFD) >= 0);
	listeners_attach(next, &owner, "t", &ops);
	client = connect_to(next, SOCK_STREAM, &port);
	run();
	assert_int_equal(seen.port, port);
	close(seen.fd);
	close(client);
	listeners_close(&next);
	assert_true(fcntl(fd, F_GETFD) < 0);
}

static void
test_address_in_use_is_an_error_naming_it(void **state)
{
	union net_addr a;
	socklen_t len = sizeof(a);
	struct listener *list;
	char err[256], want[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	memset(&a, 0, sizeof(a));
	a.in4.sin_family = AF_INET;
	a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, &a.sa, sizeof(a.in4)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, &a.sa, &len), 0);
	conf.port = net_port(&a);
	assert_int_equal(listeners_prepare(&conf, &list, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1 port %d/tcp",
	    conf.port);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, strerror(EADDRINUSE)));
	listeners_abort(list);
	close(fd);
}

/*
 * A unix socket: made with its mode, accepting with the client's
 * credentials, handed on by a reload, its file removed with it.
 */
static void
test_unix_listener_keeps_credentials_and_its_file_goes_with_it(void **state)
{
	char dir[] = "/tmp/superd-listener.XXXXXX", path[64], err[256];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct listener *old, *next;
	struct stat st;
	int client;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	strcpy(sun.sun_path, path);
	conf.path = path;
	conf.sock = (struct unixsock_attr){0600, (uid_t)-1, (gid_t)-1};
	old = attached();
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	client = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(
	    connect(client, (struct sockaddr *)&sun, sizeof(sun)), 0);
	run();
	assert_int_equal(seen.peer.sa.sa_family, AF_UNIX);
	assert_int_equal(seen.peer.un.pid, getpid());
	assert_int_equal(seen.peer.un.uid, geteuid());
	assert_int_equal(seen.peer.un.gid, getegid());
	assert_int_equal(seen.port, 0);
	close(seen.fd);
	close(client);

	assert_int_equal(listeners_prepare(&conf, &next, err, sizeof(err)), 0);
	assert_ptr_equal(next->from, old);
	listeners_close(&old);
	assert_int_equal(lstat(path, &st), 0); /* handed on, not removed */
	listeners_attach(next, &owner, "t", &ops);
	listeners_close(&next);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	conf.path = NULL;
	rmdir(dir);
}

#define T(name) cmocka_unit_test_setup(name, setup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_accepted_connection_goes_to_the_owner_callback),
	    T(test_udp_readable_goes_to_the_owner_callback),
	    T(test_emfile_pauses_accepting_then_resumes),
	    T(test_reload_reuses_the_open_socket),
	    T(test_address_in_use_is_an_error_naming_it),
	    T(test_unix_listener_keeps_credentials_and_its_file_goes_with_it),
	};

	log_open(LOG_TO_STDERR, LOG_ERR);
	if (loop_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("listener", tests, NULL, NULL);
}
