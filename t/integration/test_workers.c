/* test_workers.c - workers = 2: both serve, a killed one comes back,
 * signals reach all, counters add up across them, SIGTERM drains all. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

/* The master's children: its workers. */
static int
children(pid_t parent, pid_t *out, int max)
{
	char path[300], buf[512], *p;
	struct dirent *e;
	int n = 0, ppid;
	DIR *dir = opendir("/proc");
	FILE *f;

	while (dir && (e = readdir(dir)) != NULL && n < max) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			out[n++] = atoi(e->d_name);
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return n;
}

static int
which_worker(int port)
{
	char line[32];
	int fd = tcp_connect(port);

	if (fd < 0)
		return -1;
	recv_line(fd, line, sizeof(line), 3000);
	close(fd);
	return atoi(line);
}

/* Up to 200 connections, until both workers have answered. */
static int
both_answer(int port)
{
	int seen[3] = {0}, i, w;

	for (i = 0; i < 200 && !(seen[1] && seen[2]); i++)
		if ((w = which_worker(port)) >= 1 && w <= 2)
			seen[w] = 1;
	return seen[1] && seen[2];
}

/* Two workers serving w.lua on port and the shipped status on status. */
static void
start_workers(struct superd *d, int port, int status)
{
	sd_write(d, "w.lua",
	    "if loads == nil then loads = 0 end\n"
	    "loads = loads + 1\n"
	    "function main(s) s:write(superd.worker, ' ', loads, '\\n') end\n");
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = (\n"
	    " { name = \"w\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; },\n"
	    " { name = \"status\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"%s/services/status.lua\"; });\n",
	    port, status, sd_repo());
	sd_started(d, port);
	assert_int_equal(sd_log_wait(d, "started, 2 services", 2, 5000), 2);
}

static void
test_two_workers_both_serve(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port();
	pid_t kids[8];

	start_workers(d, port, status);
	assert_int_equal(children(d->pid, kids, 8), 2);
	assert_true(both_answer(port));
	assert_int_equal(sd_stop(d), 0);
	/* SIGTERM reached the workers: none is left */
	assert_int_equal(kill(kids[0], 0) == 0 && kill(kids[1], 0) == 0, 0);
}

static void
test_killed_worker_is_restarted(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), i, n = 0;
	pid_t kids[8], now[8];

	start_workers(d, port, status);
	assert_int_equal(children(d->pid, kids, 8), 2);
	kill(kids[0], SIGKILL);
	assert_int_equal(sd_log_wait(d, "restarting in", 1, 3000), 1);
	for (i = 0; i < 100 && n < 2; i++) {
		usleep(50000);
		n = children(d->pid, now, 8);
	}
	assert_int_equal(n, 2);
	assert_true(now[0] != kids[0] && now[1] != kids[0]);
	assert_int_equal(sd_log_wait(d, "started, 2 services", 3, 5000), 3);
	assert_true(both_answer(port));
	assert_int_equal(sd_stop(d), 0);
}

static void
test_sigusr1_reaches_every_worker(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), i, fd, ok[3] = {0};
	char line[32];

	start_workers(d, port, status);
	sd_signal(d, SIGUSR1);
	assert_int_equal(sd_log_wait(d, "w: reloaded", 2, 5000), 2);
	/* each worker ran the script twice: loads == 2 in both */
	for (i = 0; i < 200 && !(ok[1] && ok[2]); i++) {
		if ((fd = tcp_connect(port)) < 0)
			continue;
		recv_line(fd, line, sizeof(line), 3000);
		close(fd);
		if (strcmp(line + 1, " 2\n") == 0 &&
		    (line[0] == '1' || line[0] == '2'))
			ok[line[0] - '0'] = 1;
	}
	assert_true(ok[1] && ok[2]);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_metrics_label_each_worker(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), fd, i;
	char out[16384];
	ssize_t n;

	start_workers(d, port, status);
	for (i = 0; i < 40; i++)
		which_worker(port);
	fd = tcp_connect(status);
	send_str(fd, "GET /metrics HTTP/1.0\r\n\r\n");
	n = recv_n(fd, out, sizeof(out) - 1, 3000);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr(out, "superd_connections_total{service=\"w\","
				    "worker=\"1\"}"));
	assert_non_null(strstr(out, "superd_connections_total{service=\"w\","
				    "worker=\"2\"}"));
	/* the answering worker's own values say whose they are */
	assert_non_null(strstr(out, "superd_reloads_total{worker=\""));
	assert_non_null(strstr(out, "superd_uptime_seconds{worker=\""));
	assert_int_equal(sd_stop(d), 0);
}

/* superd.stats() in any worker adds up every worker's counters. */
/* workers = 2 serving a and b (scripts a.lua and b.lua), started. */
static void
two_workers_serving(
    struct superd *d, const char *a, int pa, const char *b, int pb)
{
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = (\n"
	    " { name = \"%s\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"%s.lua\"; },\n"
	    " { name = \"%s\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"%s.lua\"; });\n",
	    a, pa, a, b, pb, b);
	assert_int_equal(sd_start(d, pa), 0);
	assert_int_equal(sd_log_wait(d, "started, 2 services", 2, 5000), 2);
}

static void
test_stats_add_up_across_workers(void **state)
{
	struct superd *d = *state;
	int port = free_port(), sum = free_port(), i, fd, seen[3] = {0}, w;
	char line[128];
	long total = 0, one = 0, two = 0;

	sd_write(
	    d, "w.lua", "function main(s) s:write(superd.worker, '\\n') end\n");
	sd_write(d, "sum.lua",
	    "function main(s)\n"
	    "  local w = superd.stats().services.w\n"
	    "  s:write(w.accepted, ' ', w.workers[1].accepted, ' ',\n"
	    "    w.workers[2].accepted, '\\n')\n"
	    "end\n");
	two_workers_serving(d, "w", port, "sum", sum);
	/* the start-up probe made one connection to w already */
	for (i = 0; i < 59 || !(seen[1] && seen[2]); i++) {
		assert_true(i < 300);
		if ((w = which_worker(port)) >= 1 && w <= 2)
			seen[w] = 1;
	}
	fd = tcp_connect(sum);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	close(fd);
	assert_int_equal(sscanf(line, "%ld %ld %ld", &total, &one, &two), 3);
	assert_int_equal(total, i + 1);
	assert_int_equal(one + two, total);
	assert_true(one > 0 && two > 0);
	assert_int_equal(sd_stop(d), 0);
}

/* superd.stats() for the service "hold": its active total and rows. */
static void
hold_active(int port, long *total, long *one, long *two)
{
	char line[128];
	int fd = tcp_connect(port);

	assert_true(fd >= 0);
	assert_true(recv_line(fd, line, sizeof(line), 3000) > 0);
	close(fd);
	assert_int_equal(sscanf(line, "%ld %ld %ld", total, one, two), 3);
}

/*
 * A killed worker's open connections leave the active count with it,
 * even while no worker replaces it (its script no longer compiles).
 */
static void
test_killed_workers_connections_leave_the_active_count(void **state)
{
	struct superd *d = *state;
	int port = free_port(), sum = free_port(), fd[20], n = 0, left = 0;
	int seen[3] = {0}, i, w;
	long total, one, two;
	pid_t kids[8];
	char line[32];

	sd_write(d, "hold.lua",
	    "function main(s) s:write(superd.worker, '\\n') s:read() end\n");
	sd_write(d, "sum.lua",
	    "function main(s)\n"
	    "  local h = superd.stats().services.hold\n"
	    "  s:write(h.active, ' ', h.workers[1].active, ' ',\n"
	    "    h.workers[2].active, '\\n')\n"
	    "end\n");
	two_workers_serving(d, "hold", port, "sum", sum);
	/*
	 * The workers share one listening socket, and the kernel may hand
	 * every connection to the same one: each is stopped in turn while
	 * the other takes ten.
	 */
	assert_int_equal(children(d->pid, kids, 8), 2);
	for (w = 0; w < 2; w++) {
		assert_int_equal(kill(kids[w], SIGSTOP), 0);
		for (i = 0; i < 10; i++, n++) {
			assert_true((fd[n] = tcp_connect(port)) >= 0);
			assert_true(
			    recv_line(fd[n], line, sizeof(line), 3000) > 0);
			seen[atoi(line) == 2 ? 2 : 1] = 1;
		}
		assert_int_equal(kill(kids[w], SIGCONT), 0);
	}
	assert_true(seen[1] && seen[2]);
	hold_active(sum, &total, &one, &two);
	assert_int_equal(total, n);
	assert_true(one > 0 && two > 0);

	sd_write(d, "hold.lua", "function main(s\n");
	kill(kids[0], SIGKILL);
	assert_int_equal(sd_log_wait(d, "restarting in", 2, 5000), 2);
	for (i = 0; i < n; i++)
		left += !wait_closed(fd[i], 100);
	assert_true(left > 0 && left < n);
	hold_active(sum, &total, &one, &two);
	assert_int_equal(total, left);
	assert_true(one == 0 || two == 0);
	for (i = 0; i < n; i++)
		close(fd[i]);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * SIGHUP gives the master the new shutdown_timeout too, when the workers
 * take the file: a drain longer than the start-up one (plus the master's
 * 5 s of slack) is not cut off.
 */
static void
test_master_drains_with_the_reloaded_shutdown_timeout(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;
	long t0;
	char line[32];

	sd_write(d, "hold.lua",
	    "function main(s)\n"
	    "  s:write('hi\\n')\n"
	    "  local l = s:read()\n"
	    "  if l then s:write(l, '\\n') end\n"
	    "end\n");
	sd_write(d, "superd.conf",
	    "workers = 2; shutdown_timeout = 0.2;\n"
	    "services = ({ name = \"hold\"; port = %d; "
	    "address = \"127.0.0.1\"; script = \"hold.lua\"; });\n",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	assert_int_equal(sd_log_wait(d, "started, 1 services", 2, 5000), 2);
	sd_write(d, "superd.conf",
	    "workers = 2; shutdown_timeout = 9;\n"
	    "services = ({ name = \"hold\"; port = %d; "
	    "address = \"127.0.0.1\"; script = \"hold.lua\"; });\n",
	    port);
	sd_signal(d, SIGHUP);
	assert_int_equal(sd_log_wait(d, "configuration", 2, 5000), 2);
	/* a file the workers refuse changes nothing in the master either */
	sd_write(d, "superd.conf",
	    "workers = 2; shutdown_timeout = 0.2;\n"
	    "services = ({ name = \"hold\"; port = %d; "
	    "address = \"127.0.0.1\"; script = \"hold.lua\"; },\n"
	    " { name = \"x\"; port = %d; address = \"127.0.0.1\";"
	    " exec = [\"/no/such/program\"]; });\n",
	    port, free_port());
	sd_signal(d, SIGHUP);
	assert_int_equal(
	    sd_log_wait(d, "keeping the running configuration", 2, 5000), 2);
	fd = tcp_connect(port);
	assert_int_equal(expect_line(fd, "hi\n"), 0);
	sd_signal(d, SIGTERM);
	t0 = now_ms();
	/* 0.2 s would have the master kill at 5.2 s */
	assert_true(quiet_for(fd, 6500));
	assert_true(now_ms() - t0 >= 6400);
	assert_int_equal(send_str(fd, "still here\n"), 0);
	assert_true(recv_line(fd, line, sizeof(line), 2000) > 0);
	assert_string_equal(line, "still here\n");
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * workers = 2 under socket activation: both workers serve the socket
 * systemd passed (which the test keeps open, as systemd does, so no one
 * could bind the port again), and so does a worker started to replace
 * one that was killed.
 */
static void
test_socket_activation_with_two_workers(void **state)
{
	struct superd *d = *state;
	int port = free_port(), a, i, n = 0;
	pid_t pid, kids[8], now[8];

	sd_write(
	    d, "w.lua", "function main(s) s:write(superd.worker, '\\n') end\n");
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = ({ name = \"w\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; });\n",
	    port);
	assert_true((a = listen_local(port, SOCK_STREAM)) >= 0);
	pid = sd_start_activated(d, a, -1);
	d->pid = pid; /* the teardown stops it if an assertion fails */
	assert_int_equal(sd_log_wait(d, "started, 1 services", 2, 5000), 2);
	assert_true(both_answer(port));
	assert_int_equal(sd_log_count(d, "matches no service"), 0);

	assert_int_equal(children(pid, kids, 8), 2);
	kill(kids[0], SIGKILL);
	assert_int_equal(sd_log_wait(d, "started, 1 services", 3, 5000), 3);
	for (i = 0; i < 100 && n < 2; i++) {
		usleep(50000);
		n = children(pid, now, 8);
	}
	assert_int_equal(n, 2);
	assert_true(both_answer(port));

	assert_int_equal(sd_stop(d), 0);
	close(a);
}

/*
 * A worker that cannot start says why through the log (syslog under -d,
 * where its stderr is /dev/null), not as bare text on its stderr.
 */
static void
test_worker_start_error_goes_through_the_log(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port();
	char logged[320], bare[300];
	pid_t kids[8];

	start_workers(d, port, status);
	sd_write(d, "w.lua", "function main(s\n");
	assert_int_equal(children(d->pid, kids, 8), 2);
	kill(kids[0], SIGKILL);
	assert_int_equal(sd_log_wait(d, "restarting in", 2, 5000), 2);
	snprintf(
	    bare, sizeof(bare), "%s/w.lua:2: ')' expected near <eof>", d->dir);
	snprintf(logged, sizeof(logged), "[error]: %s", bare);
	assert_true(sd_log_count(d, logged) >= 1);
	assert_int_equal(sd_log_count(d, logged), sd_log_count(d, bare));
	assert_int_equal(sd_stop(d), 0);
}

static void
test_port_in_use_is_an_error_before_forking(void **state)
{
	struct superd *d = *state;
	int port = free_port(), fd;
	char out[4096];

	fd = listen_local(port, SOCK_STREAM);
	assert_true(fd >= 0);
	sd_write(d, "w.lua", "function main(s) end\n");
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = ({ name = \"w\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; });\n",
	    port);
	assert_int_equal(sd_run(d, out, sizeof(out), "-c", d->conf, NULL), 1);
	assert_non_null(strstr(out, "superd.conf:2: service \"w\": cannot "
				    "listen"));
	close(fd);
}

/* With workers SO_REUSEPORT lets both bind: the master refuses first. */
static void
test_overlapping_addresses_are_an_error_before_forking(void **state)
{
	struct superd *d = *state;
	int port = free_port();
	char want[300];

	sd_write(d, "w.lua", "function main(s) s:write('ok\\n') end\n");
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = (\n"
	    " { name = \"any\"; port = %d; address = \"::\";"
	    " script = \"w.lua\"; },\n"
	    " { name = \"lo\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"w.lua\"; });\n",
	    port, port);
	assert_int_equal(sd_start(d, port), -1);
	snprintf(want, sizeof(want),
	    "%s:4: service \"lo\": port %d/tcp on 127.0.0.1 is already used "
	    "by service \"any\" on ::\n",
	    d->conf, port);
	assert_int_equal(sd_log_count(d, want), 1);
	assert_int_equal(sd_log_count(d, "workers started"), 0);
}

/*
 * The master runs each script before forking, as a worker will: what a
 * script spawns there ends with the master's copy, unrun, and each
 * worker runs its own once.
 */
static void
test_what_a_script_spawns_at_load_runs_once_per_worker(void **state)
{
	struct superd *d = *state;
	int port = free_port();

	sd_write(d, "w.lua",
	    "superd.spawn(function() print('SPAWNED', superd.worker) end)\n"
	    "function main(s) s:write(superd.worker, '\\n') end\n");
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = ({ name = \"w\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"w.lua\"; });\n",
	    port);
	assert_int_equal(sd_start(d, port), 0);
	assert_int_equal(sd_log_wait(d, "SPAWNED", 2, 5000), 2);
	assert_true(both_answer(port));
	assert_int_equal(sd_log_count(d, "SPAWNED\t1\n"), 1);
	assert_int_equal(sd_log_count(d, "SPAWNED\t2\n"), 1);
	assert_int_equal(sd_log_count(d, "killed by signal"), 0);
	assert_int_equal(sd_stop(d), 0);
}

/* The master re-reads the configuration on SIGHUP too: a worker it
 * restarts afterwards serves what the file says now. */
static void
test_restarted_worker_gets_the_reloaded_config(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), added = free_port(), i;
	int n = 0, seen[3] = {0}, w;
	pid_t kids[8], now[8];
	char repo[512];

	start_workers(d, port, status);
	assert_non_null(getcwd(repo, sizeof(repo)));
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = (\n"
	    " { name = \"w\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; },\n"
	    " { name = \"added\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; });\n",
	    port, added);
	sd_signal(d, SIGHUP);
	assert_int_equal(sd_log_wait(d, "configuration", 2, 5000), 2);
	assert_int_equal(children(d->pid, kids, 8), 2);
	kill(kids[0], SIGKILL);
	for (i = 0; i < 100 && n < 2; i++) {
		usleep(50000);
		n = children(d->pid, now, 8);
	}
	assert_int_equal(sd_log_wait(d, "started, 2 services", 3, 5000), 3);
	for (i = 0; i < 200 && !(seen[1] && seen[2]); i++)
		if ((w = which_worker(added)) >= 1 && w <= 2)
			seen[w] = 1;
	assert_true(seen[1] && seen[2]);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * A SIGHUP file the workers refuse (a port another program holds) is not
 * the master's either: a worker restarted after it starts on the file
 * the workers run, instead of failing on the refused one for good.
 */
static void
test_restarted_worker_keeps_the_file_the_workers_run(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), taken = free_port();
	int held, i, n = 0;
	pid_t kids[8], now[8];

	start_workers(d, port, status);
	held = listen_local(taken, SOCK_STREAM);
	assert_true(held >= 0);
	sd_write(d, "superd.conf",
	    "workers = 2;\n"
	    "services = (\n"
	    " { name = \"w\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; },\n"
	    " { name = \"taken\"; port = %d; address = \"127.0.0.1\"; "
	    "script = \"w.lua\"; });\n",
	    port, taken);
	sd_signal(d, SIGHUP);
	assert_int_equal(
	    sd_log_wait(d, "keeping the running configuration", 2, 5000), 2);
	assert_int_equal(children(d->pid, kids, 8), 2);
	kill(kids[0], SIGKILL);
	for (i = 0; i < 100 && n < 2; i++) {
		usleep(50000);
		n = children(d->pid, now, 8);
	}
	assert_int_equal(n, 2);
	/* the old file: two services again, not a failed start */
	assert_int_equal(sd_log_wait(d, "started, 2 services", 3, 5000), 3);
	assert_int_equal(sd_log_count(d, "cannot listen"), 2);
	assert_true(both_answer(port));
	close(held);
	assert_int_equal(sd_stop(d), 0);
}

/*
 * The shared counters' slots (128) are freed with their services: after
 * 150 services renamed away by SIGHUP, a new one still counts what it
 * serves.
 */
static void
test_renamed_services_free_their_counters(void **state)
{
	struct superd *d = *state;
	int port = free_port(), status = free_port(), last = free_port();
	int round, i, fd, n;
	char conf[16384], *p, out[128];

	start_workers(d, port, status);
	sd_write(d, "st.lua",
	    "function main(s)\n"
	    "  local x = superd.stats().services.last\n"
	    "  s:write(x and x.accepted or -1, '\\n')\n"
	    "end\n");
	for (round = 0; round <= 3; round++) {
		p = conf;
		p += sprintf(p,
		    "workers = 2;\nservices = (\n"
		    " { name = \"w\"; port = %d; address = \"127.0.0.1\"; "
		    "script = \"w.lua\"; },\n"
		    " { name = \"st\"; port = %d; address = \"127.0.0.1\"; "
		    "script = \"st.lua\"; }",
		    port, status);
		for (i = 0; i < 50 && round < 3; i++)
			p += sprintf(p,
			    ",\n { name = \"r%d_%d\"; port = %d; "
			    "address = \"127.0.0.1\"; script = \"w.lua\"; }",
			    round, i, free_port());
		if (round == 3)
			p += sprintf(p,
			    ",\n { name = \"last\"; port = %d; "
			    "address = \"127.0.0.1\"; script = \"w.lua\"; }",
			    last);
		sprintf(p, ");\n");
		sd_write(d, "superd.conf", "%s", conf);
		sd_signal(d, SIGHUP);
		assert_int_equal(
		    sd_log_wait(d, "loaded,", 2 * (round + 1), 10000),
		    2 * (round + 1));
	}
	for (i = 0; i < 10; i++) {
		fd = tcp_connect(last);
		assert_true(fd >= 0);
		assert_true(recv_line(fd, out, sizeof(out), 3000) > 0);
		close(fd);
	}
	usleep(200 * 1000);
	n = (int)ask(status, "", out, sizeof(out), 3000);
	assert_true(n > 0);
	assert_int_equal(atoi(out), 10);
	assert_int_equal(sd_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_two_workers_both_serve, sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_killed_worker_is_restarted, sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_sigusr1_reaches_every_worker, sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_metrics_label_each_worker, sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_restarted_worker_gets_the_reloaded_config, sd_setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_restarted_worker_keeps_the_file_the_workers_run, sd_setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_renamed_services_free_their_counters, sd_setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_stats_add_up_across_workers, sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_killed_workers_connections_leave_the_active_count,
		sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_master_drains_with_the_reloaded_shutdown_timeout, sd_setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_socket_activation_with_two_workers, sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_worker_start_error_goes_through_the_log, sd_setup,
		sd_teardown),

	    cmocka_unit_test_setup_teardown(
		test_port_in_use_is_an_error_before_forking, sd_setup,
		sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_overlapping_addresses_are_an_error_before_forking,
		sd_setup, sd_teardown),
	    cmocka_unit_test_setup_teardown(
		test_what_a_script_spawns_at_load_runs_once_per_worker,
		sd_setup, sd_teardown),
	};
	return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
