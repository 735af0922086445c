/* superd.c - main(): options, start-up, signals, the loop's life. */
#include <errno.h>
#include <lua.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "modules/conf.h"
#include "modules/conn.h"
#include "modules/log.h"
#include "modules/loop.h"
#include "modules/service.h"
#include "modules/task.h"

#ifndef SUPERD_CONFIG
#define SUPERD_CONFIG "/etc/superd/superd.conf"
#endif

static struct conf *conf;
static struct loop_io sigio;
static struct loop_timer stop_timer;
static int want_reload, want_stop, stopping, pid_written;
static const char *pidfile;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: superd [-c FILE] [-t] [-d] [-p PIDFILE] [-V] [-h]\n"
		"  -c FILE   configuration file (default %s)\n"
		"  -t        check the configuration and scripts, then exit\n"
		"  -d        detach into the background\n"
		"  -p FILE   write the pid to FILE\n"
		"  -V        print the version\n",
		SUPERD_CONFIG);
}

/* -t: every error, not just the first, each as FILE:LINE: message. */
static int
check_config(const char *path)
{
	char err[CONF_ERRLEN * 2];
	struct service *s;
	int i, rc = 0;

	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (i = 0; i < conf->nsvcs; i++) {
		if (conf->svcs[i].script == NULL)
			continue;
		s = service_new(&conf->svcs[i], conf, 1, err, sizeof(err));
		if (s == NULL) {
			fprintf(stderr, "%s\n", err);
			rc = 1;
		} else {
			service_free(s);
		}
	}
	if (rc == 0)
		printf("%s: configuration ok\n", path);
	conf_free(conf);
	return rc;
}

static int
start_services(void)
{
	char err[CONF_ERRLEN * 2];
	struct svc_conf *v;
	struct service *s;
	int i;

	for (i = 0; i < conf->nsvcs; i++) {
		v = &conf->svcs[i];
		if (v->script == NULL) {
			fprintf(stderr,
				"%s:%d: service \"%s\": exec services "
				"are not supported yet\n",
				conf->path, v->line, v->name);
			return -1;
		}
		if ((s = service_new(v, conf, 0, err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		if (service_listen(s, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%d: service \"%s\": %s\n",
				conf->path, v->line, v->name, err);
			return -1;
		}
	}
	return 0;
}

static void
stop_now(struct loop_timer *t)
{
	(void)t;
	conn_end_all(WHY_SHUTDOWN);
	loop_stop();
}

/* Stop accepting; connections get shutdown_timeout to finish. */
static void
begin_shutdown(void)
{
	struct service *s;

	if (stopping)
		return;
	stopping = 1;
	log_msg(LOG_NOTICE, "shutting down, %ld connections open",
		conn_count());
	LIST_FOREACH(s, &services, link)
	service_unlisten(s);
	loop_timer_set(&stop_timer, loop_now() + conf->shutdown_timeout);
}

static void
reload_scripts(void)
{
	struct service *s;

	LIST_FOREACH(s, &services, link)
	service_reload(s);
}

static void
signal_io(struct loop_io *io, int events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP)
			want_reload = 1;
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			want_stop = 1;
	}
}

static int
open_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
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
	if (stopping && conn_count() == 0 && !task_pending())
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
		fprintf(stderr, "superd: %s: %s\n", pidfile, strerror(errno));
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
	conf_free(conf);
}

int
main(int argc, char **argv)
{
	const char *path = SUPERD_CONFIG, *pidarg = NULL;
	char err[CONF_ERRLEN * 2];
	int ch, check = 0;

	while ((ch = getopt(argc, argv, "c:tdp:Vh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'd':
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
	log_open(conf->log_where, conf->log_level);
	conn_max_total = conf->max_connections;
	pidfile = pidarg ? pidarg : conf->pidfile;
	raise_nofile();
	loop_timer_init(&stop_timer, stop_now);
	if (loop_init() < 0 || open_signals() < 0) {
		fprintf(stderr, "superd: %s\n", strerror(errno));
		return 1;
	}
	if (start_services() < 0 || write_pidfile() < 0) {
		shutdown_all();
		return 1;
	}
	log_msg(LOG_NOTICE, "superd %s started, %d services", SUPERD_VERSION,
		conf->nsvcs);
	loop_set_idle(idle);
	loop_run();
	log_msg(LOG_NOTICE, "superd stopped");
	shutdown_all();
	return 0;
}
