/* test_admit.c - access lists, limits, counts and refusal reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "log.h"
#include "loop.h"

/* Linked with -Wl,--wrap=calloc: the per-source table fails to grow. */
void *__real_calloc(size_t n, size_t size);
static int calloc_fails;

void *
__wrap_calloc(size_t n, size_t size)
{
	return calloc_fails ? NULL : __real_calloc(n, size);
}

struct fixture {
	struct svc_conf conf;
	struct service_stats stats;
	struct admission admit;
	struct cidr allow, deny, proxy;
};

static union net_addr
v4(const char *ip, int port)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.in4.sin_family = AF_INET;
	a.in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.in4.sin_addr);
	return a;
}

/* A unix peer as the accept keeps it: its credentials. */
static union net_addr
unix_peer(pid_t pid, uid_t uid)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.un.family = AF_UNIX;
	a.un.pid = pid;
	a.un.uid = uid;
	a.un.gid = 100;
	return a;
}

static void
set_acl(struct acl *acl, struct cidr *one, const char *text)
{
	assert_int_equal(acl_parse_one(text, one), 0);
	acl->v = one;
	acl->n = 1;
}

/* A service with no limits but max_connections, proxies from loopback. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->conf.name = "svc";
	f->conf.max_connections = 1000;
	set_acl(&f->conf.proxy_from, &f->proxy, "127.0.0.0/8");
	admit_init(&f->admit, "svc", &f->conf, &f->stats);
	admit_set_max_total(10000);
	loop_update_time();
	*state = f;
	return 0;
}

/* Each test gives back what it holds: the totals are the process's. */
static int
teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->admit.open, 0);
	assert_int_equal(admit_open_total(), 0);
	assert_int_equal(admit_outbound_total(), 0);
	admit_free(&f->admit);
	free(f);
	return 0;
}

static void
only_from(struct fixture *f, const char *block)
{
	static char *texts[] = {"(set)"};

	set_acl(&f->conf.allow, &f->allow, block);
	f->conf.only_from = texts;
	f->conf.nonly_from = 1;
}

static void
test_no_access_refuses_a_denied_peer_even_when_only_from_allows(void **state)
{
	struct fixture *f = *state;
	union net_addr bad = v4("10.1.2.3", 4000), good = v4("10.9.9.9", 4000);

	only_from(f, "10.0.0.0/8");
	set_acl(&f->conf.deny, &f->deny, "10.1.0.0/16");
	assert_string_equal(admit_check(&f->admit, &bad), "no_access");
	assert_null(admit_check(&f->admit, &good));
}

static void
test_only_from_refuses_a_peer_outside_it(void **state)
{
	struct fixture *f = *state;
	union net_addr out = v4("192.0.2.1", 4000), in = v4("127.0.0.2", 4000);

	only_from(f, "127.0.0.0/8");
	assert_string_equal(admit_check(&f->admit, &out), "only_from");
	assert_null(admit_check(&f->admit, &in));
}

/* The one check: a full service refuses every kind of socket. */
static void
test_max_connections_refuses_clients_proxied_and_outbound_alike(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000), b = v4("127.0.0.2", 4001);

	f->conf.max_connections = 2;
	admit_hold(&f->admit, &a, ADMIT_CLIENT);
	admit_hold(&f->admit, &b, ADMIT_OUTBOUND);
	assert_string_equal(admit_check(&f->admit, &b), "max_connections");
	assert_string_equal(
	    admit_check_proxy(&f->admit, &b), "max_connections");
	assert_string_equal(admit_room(&f->admit), "max_connections");
	admit_release(&f->admit, &a, ADMIT_CLIENT);
	admit_release(&f->admit, &b, ADMIT_OUTBOUND);
}

static void
test_global_max_connections_counts_every_service(void **state)
{
	struct fixture *f = *state;
	struct service_stats other_stats = {0};
	struct admission other;
	union net_addr a = v4("127.0.0.1", 4000);

	admit_init(&other, "other", &f->conf, &other_stats);
	admit_set_max_total(2);
	admit_hold(&other, &a, ADMIT_DATAGRAM);
	admit_hold(&other, &a, ADMIT_CLIENT);
	assert_int_equal(admit_open_total(), 2);
	assert_string_equal(
	    admit_check(&f->admit, &a), "global max_connections");
	assert_string_equal(
	    admit_check_proxy(&f->admit, &a), "global max_connections");
	assert_string_equal(admit_room(&f->admit), "global max_connections");
	admit_release(&other, &a, ADMIT_DATAGRAM);
	assert_null(admit_room(&f->admit));
	admit_release(&other, &a, ADMIT_CLIENT);
	admit_free(&other);
}

/* Datagrams and outbound sockets count as open, not against a source. */
static void
test_per_source_counts_clients_only(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000), a2 = v4("127.0.0.1", 4001);
	union net_addr b = v4("127.0.0.2", 4000);

	f->conf.per_source = 2;
	admit_hold(&f->admit, &a, ADMIT_DATAGRAM);
	admit_hold(&f->admit, &a, ADMIT_OUTBOUND);
	assert_null(admit_check(&f->admit, &a));
	admit_hold(&f->admit, &a, ADMIT_CLIENT);
	admit_hold(&f->admit, &a2, ADMIT_CLIENT);
	assert_string_equal(admit_check(&f->admit, &a), "per_source");
	assert_null(admit_check(&f->admit, &b));
	assert_int_equal(f->admit.open, 4);
	admit_release(&f->admit, &a2, ADMIT_CLIENT);
	assert_null(admit_check(&f->admit, &a));
	admit_release(&f->admit, &a, ADMIT_CLIENT);
	admit_release(&f->admit, &a, ADMIT_OUTBOUND);
	admit_release(&f->admit, &a, ADMIT_DATAGRAM);
}

/* On a unix socket a source is a user: its processes count together. */
static void
test_per_source_counts_a_unix_peer_by_uid(void **state)
{
	struct fixture *f = *state;
	union net_addr a = unix_peer(10, 1000), a2 = unix_peer(11, 1000);
	union net_addr b = unix_peer(10, 1001), ip = v4("127.0.0.1", 4000);

	ip.in4.sin_addr.s_addr = 1000; /* the uid's bytes */
	f->conf.per_source = 1;
	assert_null(admit_check(&f->admit, &a));
	admit_hold(&f->admit, &a, ADMIT_CLIENT);
	assert_string_equal(admit_check(&f->admit, &a2), "per_source");
	assert_null(admit_check(&f->admit, &b));
	/* nor is a uid an address that happens to have its bytes */
	assert_null(admit_check(&f->admit, &ip));
	admit_release(&f->admit, &a2, ADMIT_CLIENT);
	assert_null(admit_check(&f->admit, &a));
}

static void
test_release_makes_room_again(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000);

	f->conf.max_connections = 1;
	assert_null(admit_check(&f->admit, &a));
	admit_hold(&f->admit, &a, ADMIT_CLIENT);
	assert_int_equal(f->stats.active, 1);
	assert_non_null(admit_check(&f->admit, &a));
	admit_release(&f->admit, &a, ADMIT_CLIENT);
	assert_int_equal(f->stats.active, 0);
	assert_null(admit_check(&f->admit, &a));
}

static void
test_rate_refuses_past_the_bucket(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000);

	f->conf.rate = 2;
	assert_null(admit_check(&f->admit, &a));
	assert_null(admit_check(&f->admit, &a));
	assert_string_equal(admit_check(&f->admit, &a), "rate");
}

/* Before the header the peer is the proxy: no access lists, no rate. */
static void
test_proxy_phase_checks_proxy_from_not_access_lists(void **state)
{
	struct fixture *f = *state;
	union net_addr proxy = v4("127.0.0.1", 4000);
	union net_addr stranger = v4("192.0.2.1", 4000);

	set_acl(&f->conf.deny, &f->deny, "127.0.0.0/8");
	f->conf.rate = 1;
	assert_string_equal(
	    admit_check_proxy(&f->admit, &stranger), "proxy_from");
	assert_null(admit_check_proxy(&f->admit, &proxy));
	assert_null(admit_check_proxy(&f->admit, &proxy));
	assert_string_equal(admit_check(&f->admit, &proxy), "no_access");
}

/* admit_hold cannot fail: the room to count a new address is made first. */
static void
test_no_room_for_a_new_source_refuses_out_of_memory(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000);

	calloc_fails = 1;
	assert_string_equal(admit_check(&f->admit, &a), "out of memory");
	assert_string_equal(admit_check_proxy(&f->admit, &a), "out of memory");
	calloc_fails = 0;
	assert_null(admit_check(&f->admit, &a));
}

/* Only a superd.connect socket lets a shutdown end before it does. */
static void
test_outbound_total_counts_outbound_sockets_only(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000);

	admit_hold(&f->admit, &a, ADMIT_CLIENT);
	admit_hold(&f->admit, &a, ADMIT_OUTBOUND);
	admit_hold(&f->admit, &a, ADMIT_DATAGRAM);
	assert_int_equal(admit_open_total(), 3);
	assert_int_equal(admit_outbound_total(), 1);
	assert_int_equal(f->admit.outbound, 1);
	admit_release(&f->admit, &a, ADMIT_OUTBOUND);
	assert_int_equal(admit_outbound_total(), 0);
	admit_release(&f->admit, &a, ADMIT_CLIENT);
	admit_release(&f->admit, &a, ADMIT_DATAGRAM);
}

static void
test_refusals_are_counted_by_reason(void **state)
{
	struct fixture *f = *state;
	union net_addr a = v4("127.0.0.1", 4000);
	int i;

	admit_refuse(&f->admit, "tcp", &a, "rate");
	admit_count_refusal(&f->admit, "max_connections");
	admit_count_refusal(&f->admit, "rate");
	assert_int_equal(f->stats.refused, 3);
	for (i = 0; i < 2; i++)
		assert_non_null(f->stats.refused_by[i].why);
	assert_string_equal(f->stats.refused_by[0].why, "rate");
	assert_int_equal(f->stats.refused_by[0].n, 2);
	assert_string_equal(f->stats.refused_by[1].why, "max_connections");
	assert_int_equal(f->stats.refused_by[1].n, 1);
	assert_null(f->stats.refused_by[2].why);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_no_access_refuses_a_denied_peer_even_when_only_from_allows),
	    T(test_only_from_refuses_a_peer_outside_it),
	    T(test_max_connections_refuses_clients_proxied_and_outbound_alike),
	    T(test_global_max_connections_counts_every_service),
	    T(test_per_source_counts_clients_only),
	    T(test_per_source_counts_a_unix_peer_by_uid),
	    T(test_release_makes_room_again),
	    T(test_rate_refuses_past_the_bucket),
	    T(test_proxy_phase_checks_proxy_from_not_access_lists),
	    T(test_no_room_for_a_new_source_refuses_out_of_memory),
	    T(test_outbound_total_counts_outbound_sockets_only),
	    T(test_refusals_are_counted_by_reason),
	};

	log_open(LOG_TO_STDERR, LOG_ERR);
	return cmocka_run_group_tests_name("admit", tests, NULL, NULL);
}
