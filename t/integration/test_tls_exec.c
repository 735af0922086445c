/*
 * test_tls_exec.c - exec services behind TLS: superd does the handshake
 * and relays plaintext to the program through a socket pair, with
 * PROTO=SSL and mod_ssl's SSL_* in its environment; back-pressure both
 * ways, half-close passed on, bad handshakes that never start the
 * program, and the settings refused with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "tlsfix.h"

#define BIG 8192

/*
 * python3 xc.py PORT|PATH [tls12] [sni=NAME] [cert=NAME] [send=TEXT]
 * [sendn=N] [eof] [delay=S] [count]: sends, then (eof) a close_notify,
 * waits delay seconds, reads to the end: "got TEXT | END VERSION" or
 * "got N END" (count), END close_notify or eof; or "error ...".
 */
static const char client_py[] =
    "import socket, ssl, sys, time\n"
    "at = sys.argv[1]\n"
    "opt = dict(a.split('=', 1) if '=' in a else (a, '') for a in "
    "sys.argv[2:])\n"
    "ctx = ssl.create_default_context(cafile='ca.pem')\n"
    "if 'tls12' in opt: ctx.maximum_version = ssl.TLSVersion.TLSv1_2\n"
    "if 'cert' in opt: ctx.load_cert_chain(opt['cert'] + '.pem', opt['cert'] + "
    "'.key')\n"
    "if at.startswith('/'):\n"
    "    raw = socket.socket(socket.AF_UNIX); raw.settimeout(20)\n"
    "    raw.connect(at)\n"
    "else: raw = socket.create_connection(('127.0.0.1', int(at)), timeout=20)\n"
    "inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()\n"
    "o = ctx.wrap_bio(inc, out, server_hostname=opt.get('sni', 'localhost'))\n"
    "def flush():\n"
    "    d = out.read()\n"
    "    if d: raw.sendall(d)\n"
    "def feed():\n"
    "    d = raw.recv(65536)\n"
    "    if d: inc.write(d)\n"
    "    else: inc.write_eof()\n"
    "    return d\n"
    "def step(fn, *a):\n"
    "    while True:\n"
    "        try:\n"
    "            r = fn(*a); flush(); return r\n"
    "        except ssl.SSLWantReadError:\n"
    "            flush()\n"
    "            if not feed(): raise EOFError('eof')\n"
    "try:\n"
    "    step(o.do_handshake)\n"
    "    data = opt.get('send', '').encode() or b'x' * int(opt.get('sendn', "
    "'0'))\n"
    "    for i in range(0, len(data), 16384):\n"
    "        o.write(data[i:i + 16384]); flush()\n"
    "    if 'eof' in opt:\n"
    "        try: o.unwrap()\n"
    "        except ssl.SSLWantReadError: pass\n"
    "        flush()\n"
    "    time.sleep(float(opt.get('delay', '0')))\n"
    "    got, end = [], 'eof'\n"
    "    while True:\n"
    "        try:\n"
    "            d = o.read(65536)\n"
    "            if not d: end = 'close_notify'; break\n"
    "            got.append(d)\n"
    "        except ssl.SSLZeroReturnError:\n"
    "            end = 'close_notify'; break\n"
    "        except ssl.SSLWantReadError:\n"
    "            if not feed(): break\n"
    "    got = b''.join(got)\n"
    "    if 'count' in opt: print('got', len(got), end)\n"
    "    else: print('got', got.decode().strip(), '|', end, o.version())\n"
    "except Exception as e:\n"
    "    print('error', type(e).__name__, e)\n";

static int
setup(void **state)
{
	struct superd *d;
	char cmd[512];

	if (sd_setup(state) != 0)
		return -1;
	d = *state;
	sd_write(d, "xc.py", "%s", client_py);
	/* the programs run as nobody: a directory they may write */
	snprintf(cmd, sizeof(cmd), "mkdir -m 777 '%s/w'", d->dir);
	if (system(cmd) != 0)
		return -1;
	return tlsfix_pki(d);
}

/*
 * Exec service "x" running exec over TLS with the extra tls settings, and
 * the extra settings of the service; superctl's socket at DIR/ctl.
 */
static int
start(struct superd *d, const char *exec, const char *tls, const char *extra)
{
	int port = free_port();

	sd_write(d, "superd.conf",
	    "log_level = \"info\"; shutdown_timeout = 1;\n"
	    "control = \"%s/ctl\";\n"
	    "services = ({ name = \"x\"; port = %d; address = \"127.0.0.1\";\n"
	    " exec = %s;\n"
	    " tls = { certificate = \"localhost.pem\"; key = \"localhost.key\";"
	    " %s };\n %s });\n",
	    d->dir, port, exec, tls ? tls : "", extra ? extra : "");
	sd_started(d, port);
	return port;
}

static void
client(struct superd *d, int port, const char *opts, char *out, size_t len)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && timeout 30 python3 xc.py %d %s 2>&1", d->dir, port,
	    opts);
	run_text(cmd, out, len);
}

static void
test_cat_echoes_through_tls13_and_tls12(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	int port = start(d, "[\"/bin/cat\"]", NULL, NULL);

	client(d, port, "send=hello eof", out, sizeof(out));
	assert_has(out, "got hello | close_notify TLSv1.3");
	client(d, port, "send=again eof tls12", out, sizeof(out));
	assert_has(out, "got again | close_notify TLSv1.2");
	assert_int_equal(
	    sd_log_wait(d, " tls TLSv1.2 sni localhost: ", 1, 3000), 1);
	assert_int_equal(
	    sd_log_wait(d, " tls TLSv1.3 sni localhost: ", 1, 3000), 1);
	assert_int_equal(sd_log_wait(d, "5 bytes in, 5 bytes out", 2, 3000), 2);
	assert_int_equal(sd_stop(d), 0);
}

#define ENV_SH                                                      \
	"[\"/bin/sh\", \"-c\", \"echo P=$PROTO V=$SSL_PROTOCOL"     \
	" C=${SSL_CIPHER:+set} N=$SSL_TLS_SNI Y=$SSL_CLIENT_VERIFY" \
	" S=$SSL_CLIENT_S_DN I=$SSL_CLIENT_I_DN R=$TCPREMOTEIP"     \
	" L=${TCPLOCALPORT:+set}\"]"

static void
test_program_gets_proto_ssl_and_mod_ssl_variables(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	int port = start(d, ENV_SH,
	    "client_ca = \"ca.pem\"; verify_client = \"optional\";"
	    " sni = ( { name = \"b.example\"; certificate = \"b.example.pem\";"
	    " key = \"b.example.key\"; } );",
	    NULL);

	client(d, port, "cert=client sni=b.example", out, sizeof(out));
	assert_has(out, "got P=SSL V=TLSv1.3 C=set N=b.example Y=SUCCESS"
			" S=CN=client I=CN=superd test CA R=127.0.0.1 L=set"
			" | close_notify");
	client(d, port, "tls12", out, sizeof(out));
	assert_has(out, "got P=SSL V=TLSv1.2 C=set N=localhost Y=NONE S= I="
			" R=127.0.0.1 L=set | close_notify");
	assert_int_equal(sd_stop(d), 0);
}

/* optional_no_ca lets a certificate the CA did not sign in: FAILED. */
static void
test_program_hears_a_failed_client_certificate(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	int port = start(d, ENV_SH,
	    "client_ca = \"ca.pem\"; verify_client = \"optional_no_ca\";",
	    NULL);

	client(d, port, "cert=stranger", out, sizeof(out));
	assert_has(out, "Y=FAILED S=CN=stranger I=CN=stranger R=127.0.0.1");
	client(d, port, "cert=client", out, sizeof(out));
	assert_has(out, "Y=SUCCESS S=CN=client I=CN=superd test CA");
	assert_int_equal(sd_stop(d), 0);
}

/* superd's RSS while a client is stalled, kB above what it was at first. */
static void
rss_growth(struct superd *d, int port, const char *opts, long *got_out,
    char *out, size_t len)
{
	char cmd[1024];
	long base = proc_rss_kb(d->pid), peak = 0, r;
	FILE *p;
	int i;
	size_t n;

	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && timeout 60 python3 xc.py %d %s 2>&1", d->dir, port,
	    opts);
	assert_non_null(p = popen(cmd, "r"));
	for (i = 0; i < 15; i++) {
		usleep(100000);
		if ((r = proc_rss_kb(d->pid)) > peak)
			peak = r;
	}
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	pclose(p);
	*got_out = peak - base;
}

/*
 * A program that writes 16 MB to a client that reads only after 2 s, and
 * a client that sends 16 MB to a program that reads only after 2 s: every
 * byte arrives, and superd holds a buffer's worth, not the lot.
 */
static void
test_back_pressure_both_ways(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	long grew;
	int big = free_port(), slow = free_port();

	sd_write(d, "superd.conf",
	    "log_level = \"info\"; shutdown_timeout = 1;\n"
	    "services = ({ name = \"big\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/usr/bin/head\", \"-c\", \"16000000\", \"/dev/zero\"];"
	    " tls = { certificate = \"localhost.pem\"; key = \"localhost.key\";"
	    " }; },\n"
	    " { name = \"slow\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/sh\", \"-c\", \"sleep 2; exec wc -c\"];"
	    " tls = { certificate = \"localhost.pem\"; key = \"localhost.key\";"
	    " }; });\n",
	    big, slow);
	sd_started(d, slow);
	rss_growth(d, big, "count delay=2", &grew, out, sizeof(out));
	assert_has(out, "got 16000000 close_notify");
	if (!sd_sanitized())
		assert_true(grew < 4096);
	rss_growth(d, slow, "sendn=16000000 eof", &grew, out, sizeof(out));
	assert_has(out, "got 16000000 | close_notify");
	if (!sd_sanitized())
		assert_true(grew < 4096);
	assert_int_equal(sd_stop(d), 0);
}

/* The client's close_notify is the program's EOF; its answer still comes. */
static void
test_half_close_reaches_the_program(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	int port =
	    start(d, "[\"/bin/sh\", \"-c\", \"exec wc -c\"]", NULL, NULL);

	client(d, port, "sendn=100000 eof", out, sizeof(out));
	assert_has(out, "got 100000 | close_notify");
	assert_int_equal(sd_stop(d), 0);
}

/* The program ends while the client keeps its side open: close_notify. */
static void
test_program_exit_closes_the_client_promptly(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	long t0;
	int port = start(d, "[\"/bin/sh\", \"-c\", \"echo bye\"]", NULL, NULL);

	t0 = now_ms();
	client(d, port, "", out, sizeof(out));
	assert_has(out, "got bye | close_notify TLSv1.3");
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(sd_log_wait(d, "program ended", 1, 3000), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* Plain text on the TLS port: no program; the next client is served. */
static void
test_failed_handshake_never_starts_the_program(void **state)
{
	struct superd *d = *state;
	char out[BIG], exec[512], path[300];
	struct stat sb;
	int port, fd;

	snprintf(exec, sizeof(exec),
	    "[\"/bin/sh\", \"-c\", \"touch %s/w/started; echo served\"]",
	    d->dir);
	port = start(d, exec, NULL, NULL);
	snprintf(path, sizeof(path), "%s/w/started", d->dir);
	fd = tcp_connect(port);
	assert_int_equal(send_str(fd, "GET / HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(wait_closed(fd, 3000), 1);
	close(fd);
	assert_int_equal(
	    sd_log_wait(d, "TLS handshake failed: http request", 1, 3000), 1);
	usleep(200000);
	assert_int_not_equal(stat(path, &sb), 0);
	client(d, port, "", out, sizeof(out));
	assert_has(out, "got served | close_notify");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sd_stop(d), 0);
}

/* A client that handshakes and holds on for delay s, in the background. */
static FILE *
client_holding(struct superd *d, int port, int delay)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && timeout 30 python3 xc.py %d delay=%d 2>&1", d->dir,
	    port, delay);
	assert_non_null(p = popen(cmd, "r"));
	return p;
}

static void
client_output(FILE *p, char *out, size_t len)
{
	size_t n = fread(out, 1, len - 1, p);

	out[n] = '\0';
	pclose(p);
}

/* superctl connections, until it lists a relay: its line. */
static void
listed(struct superd *d, char *out, size_t len)
{
	char ctl[300];
	const char *args[] = {"-s", ctl, "connections", NULL};
	long end = now_ms() + 5000;

	snprintf(ctl, sizeof(ctl), "%s/ctl", d->dir);
	do {
		assert_int_equal(sd_superctl(d, out, len, args), 0);
		if (strstr(out, " x tcp 127.0.0.1:") != NULL)
			return;
		usleep(50000);
	} while (now_ms() < end);
	fail_msg("no relay listed: %s", out);
}

/* superctl lists a relay as a connection, and kick ends it. */
static void
test_superctl_lists_and_kicks_a_relay(void **state)
{
	struct superd *d = *state;
	char out[BIG], line[BIG], ctl[300], id[16];
	const char *args[] = {"-s", ctl, "kick", id, NULL};
	int port = start(d, "[\"/bin/cat\"]", NULL, NULL);
	FILE *p = client_holding(d, port, 2);

	listed(d, line, sizeof(line));
	assert_has(line, " tls=true");
	snprintf(id, sizeof(id), "%u", (unsigned)strtoul(line, NULL, 10));
	snprintf(ctl, sizeof(ctl), "%s/ctl", d->dir);
	assert_int_equal(sd_superctl(d, out, sizeof(out), args), 0);
	assert_has(out, "kicked ");
	assert_has(out, ": x tcp 127.0.0.1:");
	client_output(p, out, sizeof(out));
	assert_has(out, "got  | close_notify TLSv1.3");
	assert_int_equal(sd_log_wait(d, "bytes out, kicked", 1, 3000), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* A relay open at a stop is counted, then ended after shutdown_timeout. */
static void
test_shutdown_counts_and_ends_a_relay(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	int port = start(d, "[\"/bin/cat\"]", NULL, NULL);
	FILE *p = client_holding(d, port, 3);

	listed(d, out, sizeof(out));
	assert_int_equal(sd_stop(d), 0);
	assert_int_equal(
	    sd_log_count(d, "shutting down, 1 connections open"), 1);
	assert_int_equal(sd_log_count(d, "bytes out, shutdown"), 1);
	client_output(p, out, sizeof(out));
	assert_has(out, "got  | close_notify TLSv1.3");
}

/* idle_timeout closes a relay that nothing crossed, with close_notify. */
static void
test_idle_relay_times_out(void **state)
{
	struct superd *d = *state;
	char out[BIG];
	long t0 = now_ms();
	int port = start(d, "[\"/bin/cat\"]", NULL, "idle_timeout = 1;");

	client(d, port, "", out, sizeof(out));
	assert_has(out, "got  | close_notify TLSv1.3");
	assert_true(now_ms() - t0 >= 1000);
	assert_true(now_ms() - t0 < 6000);
	assert_int_equal(sd_log_wait(d, "0 bytes out, timeout", 1, 3000), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* TLS on a unix stream socket, as on TCP. */
static void
test_tls_on_a_unix_socket(void **state)
{
	struct superd *d = *state;
	char out[BIG], cmd[512], line[BIG];
	int port = free_port();

	sd_write(d, "superd.conf",
	    "log_level = \"info\";\n"
	    "services = ({ name = \"u\"; path = \"%s/tls.sock\";\n"
	    " exec = [\"/bin/sh\", \"-c\", \"echo P=$PROTO; exec cat\"];\n"
	    " tls = { certificate = \"localhost.pem\"; key = \"localhost.key\";"
	    " }; },\n"
	    "{ name = \"t\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/bin/cat\"]; });\n",
	    d->dir, port);
	sd_started(d, port);
	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && timeout 30 python3 xc.py %s/tls.sock send=over eof "
	    "2>&1",
	    d->dir, d->dir);
	run_text(cmd, out, sizeof(out));
	assert_has(out, "got P=SSL\nover | close_notify TLSv1.3");
	assert_int_equal(
	    sd_log_wait_line(d, "bytes out, closed", line, sizeof(line), 3000),
	    0);
	assert_has(line, "u: unix uid ");
	assert_has(line, " tls TLSv1.3 sni localhost: ");
	assert_int_equal(sd_stop(d), 0);
}

static void
expect_refused(struct superd *d, const char *settings, const char *words)
{
	char out[BIG], path[256];

	sd_write(d, "bad.conf",
	    "services = ({ name = \"x\"; port = %d; address = \"127.0.0.1\";\n"
	    " exec = [\"/bin/cat\"];\n%s\n});\n",
	    free_port(), settings);
	snprintf(path, sizeof(path), "%s/bad.conf", d->dir);
	assert_int_not_equal(
	    sd_run(d, out, sizeof(out), "-t", "-c", path, NULL), 0);
	assert_has(out, words);
}

static void
test_wait_and_starttls_with_tls_are_refused(void **state)
{
	struct superd *d = *state;

	expect_refused(d,
	    " wait = true;\n tls = { certificate = \"localhost.pem\";"
	    " key = \"localhost.key\"; };",
	    "bad.conf:4: \"tls\" does not apply to a wait service");
	expect_refused(d,
	    " tls = { certificate = \"localhost.pem\";"
	    " key = \"localhost.key\"; };\n starttls = true;",
	    "bad.conf:4: \"starttls\" is for Lua services");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_cat_echoes_through_tls13_and_tls12),
	    T(test_program_gets_proto_ssl_and_mod_ssl_variables),
	    T(test_program_hears_a_failed_client_certificate),
	    T(test_back_pressure_both_ways),
	    T(test_half_close_reaches_the_program),
	    T(test_program_exit_closes_the_client_promptly),
	    T(test_failed_handshake_never_starts_the_program),
	    T(test_superctl_lists_and_kicks_a_relay),
	    T(test_shutdown_counts_and_ends_a_relay),
	    T(test_idle_relay_times_out),
	    T(test_tls_on_a_unix_socket),
	    T(test_wait_and_starttls_with_tls_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
