/* test_fairness.c - no coroutine holds the loop, a reader that keeps up is
 * never dropped as slow, and one that stalls is, after slow_timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* The children a test forked: teardown stops them by pid. */
static pid_t kids[4];
static int nkids;

/* Seconds on the monotonic clock, with fractions: for latencies. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The shipped scripts, each "{ ... }" of services, on 127.0.0.1. */
static void
start_shipped(struct superd *d, int port, const char *services)
{
	sd_conf(d, "shutdown_timeout = 1;", "%s", services);
	sd_started(d, port);
}

#define SHIPPED                                                          \
	"{ name = \"%s\"; port = %d; address = \"127.0.0.1\"; script = " \
	"\"%s.lua\"; %s }"

/*
 * Runs fn(arg, out) in a child that writes what it saw to out; returns
 * the other end.  The child dies with the test and within a minute.  It
 * runs as SCHED_IDLE: on two CPUs the load it makes would otherwise
 * preempt superd now and then, and the latencies measured would be the
 * kernel's scheduler's rather than superd's.
 */
static int
fork_client(void (*fn)(const void *, int), const void *arg)
{
	struct sched_param idle = {0};
	int p[2];
	pid_t pid;

	assert_true(nkids < 4);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(60);
		if (sched_setscheduler(0, SCHED_IDLE, &idle) < 0)
			_exit(1);
		fn(arg, p[1]);
		_exit(0);
	}
	close(p[1]);
	kids[nkids++] = pid;
	return p[0];
}

static void
tell(int out, const void *what, size_t len)
{
	if (write(out, what, len) != (ssize_t)len)
		_exit(1);
}

/* A child's report: len bytes within ms; 0, or -1. */
static int
report(int fd, void *buf, size_t len, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	long end = now_ms() + ms, left;
	size_t got = 0;
	ssize_t n;

	while (got < len && (left = end - now_ms()) > 0) {
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if ((n = read(fd, (char *)buf + got, len - got)) <= 0)
			break;
		got += n;
	}
	close(fd);
	return got == len ? 0 : -1;
}

/*
 * Reads fd as fast as it can for secs seconds, the bytes of each second
 * in bytes[]: the second in which the stream ended, or -1 (it did not).
 */
static int
read_stream(int fd, long *bytes, int secs)
{
	static char buf[1 << 18];
	struct pollfd p = {fd, POLLIN, 0};
	long t0 = now_ms();
	ssize_t n;
	int s;

	memset(bytes, 0, secs * sizeof(bytes[0]));
	for (s = 0; s < secs; s++) {
		while (now_ms() < t0 + (s + 1) * 1000L) {
			if (poll(&p, 1, 100) == 0)
				continue;
			if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0)
				return s;
			bytes[s] += n;
		}
	}
	return -1;
}

/* The smallest of n figures. */
static long
least(const long *v, int n)
{
	long m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* 1. A fast chargen reader and a chat flood beside an echo client. */

#define CHARGEN_SECS 30
#define ECHO_MS 3000
#define ECHO_P99_US 10000
#define WINDOWS 3 /* echo windows at most, see echo_p99 */
#define FLOOD_MS (300 + WINDOWS * ECHO_MS + 300) /* and the warm-up */
#define MAX_PINGS 10000

struct stream_report {
	long bytes[CHARGEN_SECS];
	int ended; /* the second the stream ended in, or -1 */
};

/* RFC 864: chargen sends until the client closes. */
static void
read_chargen(const void *arg, int out)
{
	struct stream_report r;
	int fd = tcp_connect(*(const int *)arg);

	r.ended = fd < 0 ? 0 : read_stream(fd, r.bytes, CHARGEN_SECS);
	tell(out, &r, sizeof(r));
}

struct flood_report {
	long sent, got, bad;
};

/* Line i as the talker types it: 100 bytes with its '\n'. */
static void
flood_line(char *buf, long i)
{
	snprintf(buf, 100, "%06ld ", i % 1000000);
	memset(buf + 7, 'a' + i % 26, 92);
	buf[99] = '\n';
	buf[100] = '\0';
}

/* What the member has been given so far: -1 once it is dropped. */
static int
member_takes(struct lines *m, struct flood_report *r)
{
	char line[256], want[128];
	ssize_t n;

	while ((n = lines_next(m, line, sizeof(line), 0)) > 0) {
		if (strcmp(line, "talker is in da room!\n") == 0)
			continue;
		flood_line(want, r->got++);
		r->bad += strncmp(line, "talker: ", 8) != 0 ||
			  strcmp(line + 8, want) != 0;
	}
	return n < 0 ? -1 : 0;
}

#define FLOOD_BATCH 64

/*
 * A talker sends lines as fast as the chat takes them for FLOOD_MS, and a
 * member reads them: the counts, once the member has them all (5 s).
 */
static void
flood_chat(const void *arg, int out)
{
	static struct lines m;
	static char batch[FLOOD_BATCH * 100 + 1];
	struct flood_report r = {0, 0, 0};
	struct pollfd p[2];
	int port = *(const int *)arg, talker, k;
	long end = now_ms() + FLOOD_MS;
	size_t off = sizeof(batch) - 1;
	ssize_t n;

	m.fd = chat_join(port, "member");
	talker = chat_join(port, "talker");
	if (m.fd < 0 || talker < 0 || fcntl(talker, F_SETFL, O_NONBLOCK) < 0)
		_exit(1);
	p[0] = (struct pollfd){m.fd, POLLIN, 0};
	p[1] = (struct pollfd){talker, POLLOUT, 0};
	while (now_ms() < end || off < sizeof(batch) - 1) {
		if (off == sizeof(batch) - 1) {
			for (k = 0; k < FLOOD_BATCH; k++)
				flood_line(batch + k * 100, r.sent + k);
			r.sent += FLOOD_BATCH;
			off = 0;
		}
		poll(p, 2, 100);
		n = send(
		    talker, batch + off, sizeof(batch) - 1 - off, MSG_NOSIGNAL);
		if (n > 0)
			off += n;
		if (member_takes(&m, &r) < 0)
			break;
	}
	end = now_ms() + 5000;
	while (r.got < r.sent && now_ms() < end) {
		poll(p, 1, 100);
		if (member_takes(&m, &r) < 0)
			break;
	}
	tell(out, &r, sizeof(r));
}

/*
 * Round-trips of 64 bytes on a fresh connection for ms, one a
 * millisecond: their times in us[], the count (-1: no connection).
 */
static int
ping_echo(int port, int ms, double *us, int max)
{
	char msg[64], back[64];
	int fd = tcp_connect(port), n = 0;
	long end = now_ms() + ms;
	double t;

	if (fd < 0)
		return -1;
	memset(msg, 'e', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\n';
	while (n < max && now_ms() < end) {
		t = now_s();
		if (send_all(fd, msg, sizeof(msg)) < 0)
			break;
		if (recv_n(fd, back, sizeof(back), 10000) != sizeof(back))
			break;
		us[n++] = (now_s() - t) * 1e6;
		usleep(1000);
	}
	close(fd);
	return n;
}

/* One echo window: the p99 in µs, and whether the host disturbed it. */
struct window {
	double p99;
	int disturbed;
};

/*
 * The share of the window superd or this process spent waiting for a
 * CPU, beyond which the window says more of the host than of superd (as
 * bench/run.sh's DISTURBED).
 */
#define DISTURBED 0.10

static struct window
echo_window(int port, pid_t pid, int w)
{
	static double us[MAX_PINGS];
	double t0 = now_s(), ws = proc_waited(pid), wt = proc_waited(getpid());
	struct window r;
	int n = ping_echo(port, ECHO_MS, us, MAX_PINGS);

	t0 = now_s() - t0;
	ws = (proc_waited(pid) - ws) / t0;
	wt = (proc_waited(getpid()) - wt) / t0;
	if (n <= 0)
		fail_msg("no echo round-trip in %d ms", ECHO_MS);
	qsort(us, n, sizeof(us[0]), by_value);
	r.p99 = us[n * 99 / 100];
	r.disturbed = ws > DISTURBED || wt > DISTURBED;
	print_message("    echo beside them, window %d: %d round-trips, p50 "
		      "%.0f us, p99 %.0f us, max %.0f us; waited for a CPU: "
		      "superd %.0f%%, test %.0f%%\n",
	    w, n, us[n / 2], r.p99, us[n - 1], ws * 100, wt * 100);
	if (n < ECHO_MS / 100)
		fail_msg("%d echo round-trips in %d ms", n, ECHO_MS);
	return r;
}

/*
 * The best of up to WINDOWS echo windows: the host is shared, and other
 * work that keeps this process or superd off a CPU for a few ms moves a
 * p99 of some 700 round-trips, so a window over the target is measured
 * again.  A superd that lets a coroutine hold the loop misses in every
 * window.  disturbed: every window was.
 */
static struct window
echo_p99(int port, pid_t pid)
{
	struct window best = {-1, 1}, r;
	int w;

	for (w = 1; w <= WINDOWS && (best.p99 < 0 || best.p99 > ECHO_P99_US);
	     w++) {
		r = echo_window(port, pid, w);
		if (best.p99 < 0 || r.p99 < best.p99)
			best.p99 = r.p99;
		best.disturbed &= r.disturbed;
	}
	return best;
}

static void
test_fast_chargen_reader_does_not_freeze_other_services(void **state)
{
	struct superd *d = *state;
	int cg = free_port(), chat = free_port(), echo = free_port();
	int cg_out, chat_out, s;
	struct stream_report sr;
	struct flood_report fr;
	char svcs[1024];
	struct window echo_w;
	double total = 0;

	snprintf(svcs, sizeof(svcs), SHIPPED ",\n" SHIPPED ",\n" SHIPPED,
	    "chargen", cg, "chargen", "", "chat", chat, "chat", "", "echo",
	    echo, "echo", "");
	start_shipped(d, echo, svcs);
	cg_out = fork_client(read_chargen, &cg);
	chat_out = fork_client(flood_chat, &chat);
	usleep(300000);
	echo_w = echo_p99(echo, d->pid);
	assert_int_equal(report(chat_out, &fr, sizeof(fr), 15000), 0);
	assert_int_equal(report(cg_out, &sr, sizeof(sr), 40000), 0);
	print_message("    chat: %ld lines sent, %ld read, %ld wrong\n",
	    fr.sent, fr.got, fr.bad);
	for (s = 0; s < CHARGEN_SECS && (sr.ended < 0 || s <= sr.ended); s++)
		total += sr.bytes[s];
	print_message("    chargen: %.0f MB in %d s, %s; slowest second "
		      "%ld bytes\n",
	    total / 1e6, CHARGEN_SECS,
	    sr.ended < 0 ? "still streaming" : "ended",
	    least(sr.bytes, CHARGEN_SECS));
	if (echo_w.p99 > ECHO_P99_US && echo_w.disturbed)
		print_message("    the host kept superd or the test off a CPU "
			      "in every window: echo's p99 is not judged\n");
	else if (sd_sanitized()) /* slower build: a freeze is still seconds */
		assert_true(echo_w.p99 <= 5 * ECHO_P99_US);
	else
		assert_true(echo_w.p99 <= ECHO_P99_US);
	assert_int_equal(sr.ended, -1);
	assert_true(least(sr.bytes, CHARGEN_SECS) > 0);
	assert_true(fr.sent > 0);
	assert_int_equal(fr.got, fr.sent);
	assert_int_equal(fr.bad, 0);
	assert_int_equal(sd_log_count(d, "cpu limit"), 0);
	assert_int_equal(sd_stop(d), 0);
}

/* 2. The log's duration is the connection's. */

static void
test_log_shows_true_duration_of_a_long_connection(void **state)
{
	struct superd *d = *state;
	int cg = free_port(), fd, port;
	char svc[256], needle[64], line[512], *p;
	double secs = 0;
	long bytes[2];

	/* a cpu_limit no 2 s of chargen reaches: the duration is the point */
	snprintf(svc, sizeof(svc), SHIPPED, "chargen", cg, "chargen",
	    "cpu_limit = 2000000000;");
	start_shipped(d, cg, svc);
	fd = tcp_connect(cg);
	assert_true(fd >= 0);
	port = local_port(fd);
	assert_int_equal(read_stream(fd, bytes, 2), -1);
	close(fd);
	snprintf(needle, sizeof(needle), "chargen: tcp 127.0.0.1:%d: ", port);
	assert_int_equal(sd_log_wait(d, needle, 1, 3000), 1);
	assert_int_equal(sd_log_line(d, needle, line, sizeof(line)), 0);
	p = strstr(line, needle) + strlen(needle);
	assert_int_equal(sscanf(p, "%lfs,", &secs), 1);
	print_message("    %.0f MB in 2 s, logged as: %s\n",
	    (bytes[0] + bytes[1]) / 1e6, p);
	assert_true(secs >= 1.9);
	assert_true(secs < 4);
	assert_int_equal(sd_stop(d), 0);
}

/* 3. cpu_limit: I/O calls are waits, a busy loop is a runaway. */

#define IO_LOOP_LUA                                            \
	"function main(s)\n"                                   \
	"  if s:read() == 'spin' then while true do end end\n" \
	"  local chunk = string.rep('x', 4096)\n"              \
	"  while s:write(chunk) do end\n"                      \
	"end\n"

static void
test_io_loop_is_not_a_runaway_but_busy_loop_is(void **state)
{
	struct superd *d = *state;
	int port = sd_served(d, "t", "cpu_limit = 100000;", IO_LOOP_LUA);
	int w = tcp_connect(port), spin = tcp_connect(port), wport, sport,
	    ended;
	char needle[64], line[1024];
	long bytes[3];

	assert_true(w >= 0 && spin >= 0);
	wport = local_port(w);
	sport = local_port(spin);
	assert_int_equal(send_str(w, "write\n"), 0);
	assert_int_equal(send_str(spin, "spin\n"), 0);
	ended = read_stream(w, bytes, 3);
	print_message("    the writer's client read %ld, %ld, %ld bytes in "
		      "its three seconds%s\n",
	    bytes[0], bytes[1], bytes[2], ended < 0 ? "" : ", then EOF");
	assert_int_equal(ended, -1);
	assert_true(least(bytes, 3) > 0);
	assert_true(wait_closed(spin, 3000));
	close(spin);
	assert_int_equal(sd_log_count(d, "cpu limit exceeded"), 1);
	assert_int_equal(
	    sd_log_line(d, "cpu limit exceeded", line, sizeof(line)), 0);
	snprintf(needle, sizeof(needle), "peer 127.0.0.1:%d:", sport);
	if (strstr(line, needle) == NULL)
		fail_msg("not the spinning connection's: %s", line);
	snprintf(needle, sizeof(needle), "t: tcp 127.0.0.1:%d: ", wport);
	assert_int_equal(sd_log_count(d, needle), 0);
	close(w);
	assert_int_equal(sd_log_wait(d, needle, 1, 3000), 1);
	assert_int_equal(sd_stop(d), 0);
}

/* 4. Full-speed members get every line; the one that never reads goes. */

#define MEMBERS 3
#define LINES 5000
#define LINE_LEN 1000
#define TALK_BATCH 50

/* Line i as the talker types it: LINE_LEN bytes with its '\n'. */
static void
talk_line(char *buf, long i)
{
	snprintf(buf, LINE_LEN, "%06ld ", i % 1000000);
	memset(buf + 7, 'a' + i % 26, LINE_LEN - 8);
	buf[LINE_LEN - 1] = '\n';
	buf[LINE_LEN] = '\0';
}

/* Sends the LINES lines on the talker's socket; reports how many went. */
static void
talk(const void *arg, int out)
{
	static char batch[TALK_BATCH * LINE_LEN + 1];
	int fd = *(const int *)arg, k;
	long i = 0;

	while (i < LINES) {
		for (k = 0; k < TALK_BATCH; k++)
			talk_line(batch + k * LINE_LEN, i + k);
		if (send_all(fd, batch, TALK_BATCH * LINE_LEN) < 0)
			break;
		i += TALK_BATCH;
	}
	tell(out, &i, sizeof(i));
}

struct member {
	struct lines in;
	long seen; /* the talker's lines, in order */
	int left;  /* "slow has left the building!" */
};

/* What member m has been given so far: -1 on a wrong line or its end. */
static int
member_reads(struct member *m)
{
	char line[2 * LINE_LEN], want[LINE_LEN + 16];
	ssize_t n;

	while ((n = lines_next(&m->in, line, sizeof(line), 0)) > 0) {
		if (strcmp(line, "slow has left the building!\n") == 0) {
			m->left++;
			continue;
		}
		if (strstr(line, " is in da room!\n") != NULL)
			continue;
		memcpy(want, "talker: ", 8);
		talk_line(want + 8, m->seen);
		if (strcmp(line, want) != 0) {
			print_error("line %ld: \"%.24s...\"\n", m->seen, line);
			return -1;
		}
		m->seen++;
	}
	return n < 0 ? -1 : 0;
}

/* Every member's lines until each has LINES (30 s); VmRSS's peak. */
static long
members_read_all(struct member *m, pid_t pid)
{
	struct pollfd p[MEMBERS];
	long end = now_ms() + 30000, peak = 0, rss;
	int i, done = 0;

	for (i = 0; i < MEMBERS; i++)
		p[i] = (struct pollfd){m[i].in.fd, POLLIN, 0};
	while (done < MEMBERS && now_ms() < end) {
		poll(p, MEMBERS, 100);
		for (i = 0, done = 0; i < MEMBERS; i++) {
			if (member_reads(&m[i]) < 0)
				fail_msg("member %d: closed or a wrong line "
					 "after %ld lines",
				    i, m[i].seen);
			done += m[i].seen == LINES;
		}
		if ((rss = proc_rss_kb(pid)) > peak)
			peak = rss;
	}
	return peak;
}

/* The talker's next line reaches member m (after the leave line). */
static void
member_gets(struct member *m, const char *want)
{
	char line[2 * LINE_LEN];

	do
		assert_true(lines_next(&m->in, line, sizeof(line), 3000) > 0);
	while (strcmp(line, "slow has left the building!\n") == 0 && ++m->left);
	assert_string_equal(line, want);
}

static void
test_members_reading_at_full_speed_get_every_line(void **state)
{
	static struct member m[MEMBERS];
	struct superd *d = *state;
	int port = free_port(), slow, talker, out, i;
	char svc[256], name[16], needle[64], line[512];
	long base, peak, sent = 0;
	double t0;

	snprintf(svc, sizeof(svc), SHIPPED, "chat", port, "chat",
	    "slow_timeout = 1;");
	start_shipped(d, port, svc);
	for (i = 0; i < MEMBERS; i++) {
		snprintf(name, sizeof(name), "fast%d", i);
		m[i].in.fd = chat_join(port, name);
		assert_true(m[i].in.fd >= 0);
	}
	slow = chat_login(tcp_connect_from(NULL, port, 4096), "slow");
	assert_true(slow >= 0);
	talker = chat_join(port, "talker");
	assert_true(talker >= 0);
	base = proc_rss_kb(d->pid);
	t0 = now_s();
	out = fork_client(talk, &talker);
	peak = members_read_all(m, d->pid);
	assert_int_equal(report(out, &sent, sizeof(sent), 5000), 0);
	print_message("    %d lines of %d bytes to %d members in %.2f s; "
		      "VmRSS %ld kB, peak %ld kB\n",
	    LINES, LINE_LEN, MEMBERS, now_s() - t0, base, peak);
	for (i = 0; i < MEMBERS; i++)
		assert_int_equal(m[i].seen, LINES);
	assert_int_equal(sent, LINES);
	snprintf(needle, sizeof(needle),
	    "chat: tcp 127.0.0.1:%d: ", local_port(slow));
	assert_int_equal(sd_log_wait(d, needle, 1, 5000), 1);
	assert_int_equal(sd_log_line(d, needle, line, sizeof(line)), 0);
	print_message("    %s\n", strstr(line, needle));
	assert_non_null(strstr(line, "slow consumer"));
	assert_true(wait_closed(slow, 5000));
	close(slow);
	/* the talker is still in the room */
	assert_int_equal(send_str(talker, "after\n"), 0);
	for (i = 0; i < MEMBERS; i++) {
		member_gets(&m[i], "talker: after\n");
		assert_int_equal(m[i].left, 1);
	}
	/* ASan keeps freed memory in quarantine: RSS says nothing there */
	if (sd_sanitized())
		print_message("    RSS not judged under ASan\n");
	else
		assert_true(peak - base < 64 * 1024);
	close(talker);
	for (i = 0; i < MEMBERS; i++)
		close(m[i].in.fd);
	assert_int_equal(sd_stop(d), 0);
}

/* 5. A writer that fills a stalled socket waits; the socket goes. */

#define PRESS_LUA                                                            \
	"function main(s)\n"                                                 \
	"  if s:read() == 'sink' then\n"                                     \
	"    sink = s\n"                                                     \
	"    s:write('sink\\n')\n"                                           \
	"    return s:read()\n"                                              \
	"  end\n"                                                            \
	"  local chunk, t0 = string.rep('w', 16384), superd.now()\n"         \
	"  for i = 1, 1000 do\n"                                             \
	"    local ok = sink:write(chunk)\n"                                 \
	"    s:write(string.format('%d %.3f %s\\n', i, superd.now() - t0,\n" \
	"      ok and 'ok' or 'closed'))\n"                                  \
	"    if not ok then return end\n"                                    \
	"  end\n"                                                            \
	"end\n"

#define SLOW_TIMEOUT 1.5

static void
test_writer_waits_while_target_drains_then_target_dropped_after_slow_timeout(
    void **state)
{
	struct superd *d = *state;
	int port = sd_served(d, "t", "slow_timeout = 1.5;", PRESS_LUA);
	int sink = tcp_connect_from(NULL, port, 4096), w, i = 0, n = 0;
	char line[128], what[16] = "", needle[64];
	double t, last = 0, gap = 0, longest = 0;

	assert_true(sink >= 0);
	assert_int_equal(send_str(sink, "sink\n"), 0);
	assert_int_equal(expect_line(sink, "sink\n"), 0);
	w = tcp_connect(port);
	assert_true(w >= 0);
	assert_int_equal(send_str(w, "write\n"), 0);
	/* the sink never reads again: each report line is one write */
	while (strcmp(what, "closed") != 0 &&
	       recv_line(w, line, sizeof(line), 10000) > 0) {
		assert_int_equal(sscanf(line, "%d %lf %15s", &i, &t, what), 3);
		gap = t - last;
		if (gap > longest)
			longest = gap;
		last = t;
		n++;
	}
	print_message("    %d writes to the sink, then \"%s\" after %.3f s, "
		      "%.3f s after the one before\n",
	    n, what, t, gap);
	assert_string_equal(what, "closed");
	assert_true(n < 1000);
	assert_true(gap >= SLOW_TIMEOUT * 0.8);
	assert_true(gap <= SLOW_TIMEOUT + 2);
	assert_true(longest == gap);
	snprintf(
	    needle, sizeof(needle), "t: tcp 127.0.0.1:%d: ", local_port(sink));
	assert_int_equal(sd_log_wait(d, needle, 1, 3000), 1);
	assert_int_equal(sd_log_line(d, needle, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "slow consumer"));
	assert_true(wait_closed(w, 3000));
	close(w);
	close(sink);
	assert_int_equal(sd_stop(d), 0);
}

/* 6. A spawned fan-out to a reader that keeps up. */

#define FAN_OUT_LUA                                                          \
	"function main(s)\n"                                                 \
	"  local mode = s:read()\n"                                          \
	"  if mode == 'target' then\n"                                       \
	"    target = s\n"                                                   \
	"    s:write('target\\n')\n"                                         \
	"    return s:read()\n"                                              \
	"  end\n"                                                            \
	"  if mode == 'spawn' then\n"                                        \
	"    superd.spawn(function()\n"                                      \
	"      local chunk, n, t = string.rep('f', 4096), 0, superd.now()\n" \
	"      while superd.now() < t + 2 and target:write(chunk) do\n"      \
	"        n = n + #chunk\n"                                           \
	"      end\n"                                                        \
	"      print('fan-out wrote ' .. n)\n"                               \
	"    end)\n"                                                         \
	"    s:write('spawned\\n')\n"                                        \
	"    return s:read()\n"                                              \
	"  end\n"                                                            \
	"  while mode do\n"                                                  \
	"    s:write(mode, '\\n')\n"                                         \
	"    mode = s:read()\n"                                              \
	"  end\n"                                                            \
	"end\n"

struct fan_out_report {
	long bytes[3];
	int ended;
};

static void
read_target(const void *arg, int out)
{
	struct fan_out_report r;
	int fd = tcp_connect(*(const int *)arg);

	if (fd < 0 || send_str(fd, "target\n") < 0 ||
	    expect_line(fd, "target\n") < 0)
		_exit(1);
	r.ended = read_stream(fd, r.bytes, 3);
	tell(out, &r, sizeof(r));
}

/*
 * A coroutine whose only superd calls are writes to other sockets (a
 * superd.spawn fan-out that neither reads nor sleeps) still gives the loop
 * its turns and is slowed at its target's mark, so a target that reads as
 * fast as it can gets every byte and is never dropped.
 */
static void
test_spawned_fan_out_to_a_fast_reader_neither_holds_the_loop_nor_drops_it(
    void **state)
{
	struct superd *d = *state;
	long long sent = -1;
	int port, out, w;
	struct fan_out_report r;
	struct window echo_w;
	char line[512];
	double got;

	port = sd_served(d, "t", "", FAN_OUT_LUA);
	out = fork_client(read_target, &port);
	usleep(300000); /* the target is in */
	w = tcp_connect(port);
	assert_true(w >= 0);
	assert_int_equal(send_str(w, "spawn\n"), 0);
	assert_int_equal(expect_line(w, "spawned\n"), 0);
	echo_w = echo_window(port, d->pid, 1);
	assert_int_equal(report(out, &r, sizeof(r), 10000), 0);
	got = r.bytes[0] + r.bytes[1] + r.bytes[2];
	if (sd_log_line(d, "fan-out wrote ", line, sizeof(line)) == 0)
		sent = strtoll(strstr(line, "fan-out wrote ") + 14, NULL, 10);
	print_message("    fan-out wrote %lld bytes, the target read %.0f "
		      "(%s); slow consumers %d, cpu limits %d\n",
	    sent, got, r.ended < 0 ? "still open" : "closed",
	    sd_log_count(d, "slow consumer"), sd_log_count(d, "cpu limit"));
	assert_int_equal(sd_log_count(d, "slow consumer"), 0);
	assert_int_equal(sd_log_count(d, "cpu limit"), 0);
	assert_int_equal(r.ended, -1);
	assert_true(sent > 0);
	assert_true(got == sent);
	assert_true(echo_w.p99 <= ECHO_P99_US || echo_w.disturbed);
	close(w);
	assert_int_equal(sd_stop(d), 0);
}

/* The children first, by pid, whatever the test left running. */
static int
teardown(void **state)
{
	int status;

	while (nkids > 0) {
		kill(kids[--nkids], SIGKILL);
		waitpid(kids[nkids], &status, 0);
	}
	return sd_teardown(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, teardown)
#define BARE(f) cmocka_unit_test_setup_teardown(f, sd_setup_bare, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_fast_chargen_reader_does_not_freeze_other_services),
	    TEST(test_log_shows_true_duration_of_a_long_connection),
	    BARE(test_io_loop_is_not_a_runaway_but_busy_loop_is),
	    TEST(test_members_reading_at_full_speed_get_every_line),
	    BARE(
		test_writer_waits_while_target_drains_then_target_dropped_after_slow_timeout),
	    BARE(
		test_spawned_fan_out_to_a_fast_reader_neither_holds_the_loop_nor_drops_it),
	};
	return cmocka_run_group_tests_name("fairness", tests, NULL, NULL);
}
