/* superd.c - main(): options, start-up, signals, the loop's life. */
#include <errno.h>
#include <fcntl.h>
#include <lua.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "modules/buf.h"
#include "modules/conf.h"
#include "modules/confcmp.h"
#include "modules/conn.h"
#include "modules/exec.h"
#include "modules/lconnect.h"
#include "modules/log.h"
#include "modules/loop.h"
#include "modules/master.h"
#include "modules/net.h"
#include "modules/priv.h"
#include "modules/stats.h"
#include "modules/reconf.h"
#include "modules/service.h"
#include "modules/task.h"
#include "modules/udp.h"

#ifndef SUPERD_CONFIG
#define SUPERD_CONFIG "/etc/superd/superd.conf"
#endif

static struct conf *conf;
static struct loop_io sigio;
static struct loop_timer stop_timer;
static int want_reload, want_hup, want_reap, want_stop, stopping, hard_stop;
static int pid_written;
static int detached;  /* -d */
static int in_worker; /* a worker forked by the master */
static const char *pidfile, *pidarg;
static char *conf_path;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: superd [-c FILE] [-t] [-d] [-p PIDFILE] [-V] [-h]\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  -t        check the configuration, run each script once, "
	    "exit\n"
	    "  -d        detach into the background\n"
	    "  -p FILE   write the pid to FILE\n"
	    "  -V        print the version\n",
	    SUPERD_CONFIG);
}

static void
apply_globals(struct conf *c)
{
	if (detached && !c->log_set)
		c->log_where = LOG_TO_SYSLOG; /* stderr is /dev/null */
	log_open(c->log_where, c->log_level);
	service_max_total = c->max_connections;
}

/*
 * An error that stops superd starting: on stderr, where whoever started it
 * reads it; a worker logs it, since under -d its stderr is /dev/null.
 */
static void start_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
start_error(const char *fmt, ...)
{
	char line[CONF_ERRLEN * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (in_worker)
		log_msg(LOG_ERR, "%s", line);
	else
		fprintf(stderr, "%s\n", line);
}

/* The program of exec service v is there; -1 with err set if not. */
static int
exec_present(const struct svc_conf *v, const char *path, char *err, size_t len)
{
	if (v->exec == NULL || access(v->exec[0], X_OK) == 0)
		return 0;
	snprintf(err, len, "%s:%d: service \"%s\": %s: %s", path, v->line,
	    v->name, v->exec[0], strerror(errno));
	return -1;
}

/*
 * What start and SIGHUP check before binding or running anything: no two
 * listeners overlap, every exec program is there; the first error in err.
 */
static int
check_sound(struct conf *c, char *err, size_t len)
{
	int i;

	for (i = 0; i < c->nsvcs; i++)
		if (conf_overlap(c, i, err, len) < 0 ||
		    exec_present(&c->svcs[i], c->path, err, len) < 0)
			return -1;
	return 0;
}

/*
 * Service i's program is there, or its script runs as at start: its top
 * level in its sandbox under its limits, defining main.  Tasks it spawns
 * end with it, before they ever run.
 */
static int
check_program(struct conf *c, int i, char *err, size_t len)
{
	struct service *s;

	if (c->svcs[i].script == NULL)
		return exec_present(&c->svcs[i], c->path, err, len);
	if ((s = service_new(&c->svcs[i], c, err, len)) == NULL)
		return -1;
	service_free(s);
	return 0;
}

static int
check_failed(const char *err, int report)
{
	if (report)
		start_error("%s", err);
	return -1;
}

/*
 * -t, and a master before it forks workers: every service as start would
 * find it, binding nothing (a running superd may hold the ports); each
 * error, as FILE:LINE, goes to start_error when report is set.
 */
static int
check_services(struct conf *c, int report)
{
	char err[CONF_ERRLEN * 2];
	int i, rc = 0;

	for (i = 0; i < c->nsvcs; i++) {
		if (conf_overlap(c, i, err, sizeof(err)) < 0)
			rc = check_failed(err, report);
		if (check_program(c, i, err, sizeof(err)) < 0)
			rc = check_failed(err, report);
	}
	return rc;
}

/* -t: every error, not just the first, each as FILE:LINE: message. */
static int
check_config(const char *path)
{
	char err[CONF_ERRLEN * 2];
	int rc;

	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = check_services(conf, 1) < 0;
	if (rc == 0)
		printf("%s: configuration ok\n", path);
	conf_free(conf);
	return rc;
}

static int
start_services(void)
{
	char err[CONF_ERRLEN * 2];

	if (check_sound(conf, err, sizeof(err)) < 0) {
		start_error("%s", err);
		return -1;
	}
	if (service_adopt_inherited() < 0) {
		start_error("superd: inherited sockets: out of memory");
		return -1;
	}
	if (reconf_apply(conf, 0, err, sizeof(err)) < 0) {
		start_error("%s", err);
		return -1;
	}
	service_drop_inherited(0);
	return 0;
}

/* SIGHUP: a configuration that fails to load changes nothing. */
static void
reread_config(void)
{
	char err[CONF_ERRLEN * 2];
	struct conf *c;

	if ((c = conf_load(conf_path, err, sizeof(err))) == NULL) {
		log_msg(LOG_ERR,
		    "SIGHUP: %s; keeping the running configuration", err);
		return;
	}
	c->refs = 1;
	if (check_sound(c, err, sizeof(err)) < 0 ||
	    reconf_apply(c, 1, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR,
		    "SIGHUP: %s; keeping the running configuration", err);
		conf_release(c);
		return;
	}
	conf_release(conf);
	conf = c;
	apply_globals(conf);
	service_reloads++;
	log_msg(LOG_NOTICE, "SIGHUP: configuration %s loaded, %d services",
	    conf_path, conf->nsvcs);
}

static void
stop_now(struct loop_timer *t)
{
	(void)t;
	if (hard_stop) {
		loop_stop();
		return;
	}
	/* fini still runs: the loop stops once the queue is empty. */
	hard_stop = 1;
	conn_end_all(WHY_SHUTDOWN);
	exec_kill_all(SIGTERM);
	loop_timer_set(&stop_timer, loop_now() + 1);
}

/* Stop accepting; connections get shutdown_timeout to finish. */
static void
begin_shutdown(void)
{
	struct service *s;

	if (stopping)
		return;
	stopping = 1;
	log_msg(
	    LOG_NOTICE, "shutting down, %ld connections open", conn_count());
	LIST_FOREACH(s, &services, link)
	service_unlisten(s);
	loop_timer_set(&stop_timer, loop_now() + conf->shutdown_timeout);
}

static void
reload_scripts(void)
{
	struct service *s;

	service_reloads++;

	LIST_FOREACH(s, &services, link)
	service_reload(s);
}

static void
signal_io(struct loop_io *io, int events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			want_reload = 1;
		else if (si.ssi_signo == SIGHUP)
			want_hup = 1;
		else if (si.ssi_signo == SIGCHLD)
			want_reap = 1;
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			want_stop = 1;
		else if ((int)si.ssi_signo == LOOKUP_SIGNAL)
			lconnect_resolved((void *)(uintptr_t)si.ssi_ptr);
	}
}

static int
open_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, LOOKUP_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	return loop_add(&sigio, fd, LOOP_READ, signal_io);
}

/* Between two epoll rounds: signals, then coroutines, then output. */
static int
idle(void)
{
	if (want_reap) {
		want_reap = 0;
		exec_reap();
	}
	if (want_hup && !stopping) {
		want_hup = want_reload = 0;
		reread_config();
	}
	if (want_reload) {
		want_reload = 0;
		reload_scripts();
	}
	if (want_stop) {
		want_stop = 0;
		begin_shutdown();
	}
	task_run_queue();
	conn_flush_queue();
	udp_flush();
	service_reap();
	if (stopping && !task_pending() &&
	    (service_total == conn_outbound() ||
		(hard_stop && exec_count() + conn_outbound() == service_total)))
		loop_stop();
	return task_pending();
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
write_pidfile(void)
{
	FILE *f;

	if (pidfile == NULL)
		return 0;
	if ((f = fopen(pidfile, "w")) == NULL) {
		start_error("superd: %s: %s", pidfile, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	pid_written = 1;
	return 0;
}

static void
shutdown_all(void)
{
	struct service *s;

	conn_end_all(WHY_SHUTDOWN);
	task_kill_all();
	while ((s = LIST_FIRST(&services)) != NULL)
		service_free(s);
	if (pid_written)
		unlink(pidfile);
	conf_release(conf);
	buf_release_spares();
	task_release_spares();
}

/* After every port is bound: the configured user, no other groups. */
static int
drop_privileges(void)
{
	char err[CONF_ERRLEN];
	struct priv p;

	switch (priv_lookup(conf->user, conf->group, &p, err, sizeof(err))) {
	case PRIV_NOTHING:
		return 0;
	case PRIV_NOT_ROOT:
		log_msg(LOG_NOTICE, "not root: user and group are ignored");
		return 0;
	case -1:
		start_error("%s: %s", conf->path, err);
		return -1;
	}
	if (priv_switch(&p, 0) < 0) {
		start_error("superd: dropping privileges: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * -d: the classic double fork.  The first parent waits on a pipe until
 * the daemon says it serves (detach_done) and exits 0, or sees the pipe
 * close first and exits 1: an error after the fork (the pid file, the
 * privilege drop) still reaches the caller, on the stderr kept till then.
 */
static int ready_fd = -1;

static int
detach(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		start_error("superd: -d: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	if ((pid = fork()) > 0)
		_exit(0);
	if (pid < 0 || chdir("/") < 0) {
		start_error("superd: -d: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
detach_done(void)
{
	int fd;

	if (ready_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, "", 1) < 0)
		log_msg(LOG_WARNING, "-d: the starting process is gone");
	close(ready_fd);
	ready_fd = -1;
}

static char *
absolute(const char *path)
{
	char *abs = realpath(path, NULL), cwd[4096], *out;

	if (abs != NULL)
		return abs;
	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return strdup(path);
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

static int
start(int daemon)
{
	loop_update_time();
	service_started = loop_now();

	apply_globals(conf);
	raise_nofile();
	loop_timer_init(&stop_timer, stop_now);
	if (loop_init() < 0) {
		start_error("superd: %s", strerror(errno));
		return -1;
	}
	if (start_services() < 0 || (daemon && detach() < 0))
		return -1;
	/*
	 * After the fork: an epoll watch on a signalfd wakes for the
	 * signals of the process that added it, not of its children.
	 */
	if (open_signals() < 0) {
		start_error("superd: signals: %s", strerror(errno));
		return -1;
	}
	if (write_pidfile() < 0 || drop_privileges() < 0)
		return -1;
	detach_done();
	return 0;
}

/* One process serving everything: the loop until a stop. */
static int
run(int daemon)
{
	if (start(daemon) < 0)
		return 1;
	log_msg(LOG_NOTICE, "superd %s started, %d services", SUPERD_VERSION,
	    conf->nsvcs);
	loop_set_idle(idle);
	loop_run();
	log_msg(LOG_NOTICE, "superd stopped");
	return 0;
}

/* workers = N: worker index, forked by the master. */
static int
run_worker(int index)
{
	int rc;

	service_worker = index;
	in_worker = 1;
	pidfile = NULL;
	log_tag(index);
	rc = run(0);
	shutdown_all();
	return rc;
}

/*
 * Each port bound once and let go, so a clash is an error before forking;
 * a port systemd passed is the workers' to share, not to bind.
 */
static int
trial_bind(struct conf *c)
{
	char err[CONF_ERRLEN];
	struct svc_conf *v;
	int i, j, p, fd;

	for (i = 0; i < c->nsvcs; i++) {
		v = &c->svcs[i];
		for (j = 0; j < v->naddrs; j++)
			for (p = CONF_TCP; p <= CONF_UDP; p <<= 1) {
				if (!(v->protos & p) ||
				    service_claim_inherited(
					v->addrs[j], v->port, p))
					continue;
				fd = net_listen(v->addrs[j], v->port,
				    p == CONF_TCP ? SOCK_STREAM : SOCK_DGRAM,
				    err, sizeof(err));
				if (fd < 0) {
					fprintf(stderr,
					    "%s:%d: service \"%s\": %s\n",
					    c->path, v->line, v->name, err);
					return -1;
				}
				close(fd);
			}
	}
	return 0;
}

/*
 * The master's copy of the configuration, for the workers it restarts,
 * taken only when the workers would take it too; each worker logs what
 * is wrong with a file they refuse.
 */
static double
master_reread(void)
{
	char err[CONF_ERRLEN * 2];
	struct conf *c = conf_load(conf_path, err, sizeof(err));

	if (c != NULL && check_services(c, 0) == 0) {
		c->refs = 1;
		conf_release(conf);
		conf = c;
	} else if (c != NULL) {
		conf_free(c);
	}
	return conf->shutdown_timeout;
}

static int
run_master(int daemon)
{
	int i, rc;

	net_reuseport = 1;
	if (service_adopt_inherited() < 0) {
		start_error("superd: inherited sockets: out of memory");
		return 1;
	}
	if (check_services(conf, 1) < 0 || trial_bind(conf) < 0)
		return 1;
	service_drop_inherited(1);
	if (stats_share(conf->workers) < 0) {
		fprintf(
		    stderr, "superd: shared counters: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < conf->nsvcs; i++)
		stats_slot_for(conf->svcs[i].name, 1);
	apply_globals(conf);
	raise_nofile();
	if ((daemon && detach() < 0) || write_pidfile() < 0)
		return 1;
	detach_done();
	rc = master_run(
	    conf->workers, conf->shutdown_timeout, run_worker, master_reread);
	if (pid_written)
		unlink(pidfile);
	pid_written = 0;
	return rc;
}

int
main(int argc, char **argv)
{
	const char *path = SUPERD_CONFIG;
	char err[CONF_ERRLEN * 2], *pidabs = NULL;
	int ch, check = 0, daemon = 0, rc = 0;

	signal(SIGPIPE, SIG_IGN); /* a write to a closed peer is an error */
	while ((ch = getopt(argc, argv, "c:tdp:Vh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'd':
			daemon = detached = 1;
			break;
		case 'p':
			pidarg = optarg;
			break;
		case 'V':
			printf("superd %s (%s)\n", SUPERD_VERSION, LUA_RELEASE);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (check)
		return check_config(path);
	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	conf->refs = 1;
	conf_path = absolute(path);
	if (pidarg)
		pidfile = pidabs = absolute(pidarg);
	else
		pidfile = pidabs = conf->pidfile ? strdup(conf->pidfile) : NULL;
	if (conf_path == NULL ||
	    (pidfile == NULL && (pidarg || conf->pidfile))) {
		fprintf(stderr, "superd: out of memory\n");
		rc = 1;
	} else if (conf->workers > 1)
		rc = run_master(daemon);
	else
		rc = run(daemon);
	shutdown_all();
	free(conf_path);
	free(pidabs);
	return rc;
}
