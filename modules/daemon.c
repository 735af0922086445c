/*
 * daemon.c - the daemon's life: start-up, -d and the pid file, signals,
 * what the loop does between two epoll rounds, SIGHUP, and shutdown, for
 * one process serving everything or for the master of workers = N.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "confcmp.h"
#include "conn.h"
#include "control.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "detach.h"
#include "exec.h"
#include "lconnect.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "priv.h"
#include "reexec.h"
#include "reconf.h"
#include "relay.h"
#include "serve.h"
#include "service.h"
#include "spawner.h"
#include "stream.h"
#include "task.h"
#include "tlsclient.h"
#include "udp.h"
#include "upgrade.h"
#include "vm.h"

static struct conf *conf; /* the running configuration */
static const char *conf_path, *pidfile;
static int detached;  /* -d */
static int in_worker; /* a worker forked by the master */
static struct loop_io sigio;
static struct loop_timer stop_timer;
static int want_reload, want_hup, want_reap, want_stop, want_upgrade;
static int stopping, hard_stop;

static void
apply_globals(struct conf *c)
{
	if (detached && !c->log_set)
		c->log_where = LOG_TO_SYSLOG; /* stderr is /dev/null */
	log_open(c->log_where, c->log_level);
	admit_set_max_total(c->max_connections);
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
	reexec_failed(line);
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
		    exec_check(&c->svcs[i], c->svcs[i].file, err, len) < 0)
			return -1;
	return 0;
}

static int
start_services(void)
{
	char err[CONF_ERRLEN * 2];

	if (check_sound(conf, err, sizeof(err)) < 0) {
		start_error("%s", err);
		return -1;
	}
	if (reconf_apply(conf, NULL, err, sizeof(err)) < 0) {
		start_error("%s", err);
		return -1;
	}
	listeners_drop_inherited(0);
	return 0;
}

/* systemd's status line after a reload that changed nothing. */
static void
reload_refused(const char *who, const char *err)
{
	char status[CONF_ERRLEN * 2 + 64];

	snprintf(status, sizeof(status),
	    "%s: %s; keeping the running configuration", who, err);
	notify_ready(status);
}

static void
reload_failed(const struct reconf_why *why, const char *err)
{
	log_msg(LOG_ERR, "%s: %s; keeping the running configuration", why->name,
	    err);
	buf_printf(why->report, "%s\n", err);
	reload_refused(why->name, err);
}

/* What systemd's status line says while superd serves. */
static void
ready(void)
{
	char status[64];

	snprintf(status, sizeof(status), "serving %d services", conf->nsvcs);
	notify_ready(status);
}

/* The control socket stays the one start opened, whatever the file says. */
static void
control_moved(const struct conf *c)
{
	const char *at = control_path();

	if (at == NULL ? c->control != NULL
		       : c->control == NULL || strcmp(at, c->control) != 0)
		log_msg(LOG_WARNING,
		    "a changed \"control\" takes effect at the next start");
}

/*
 * SIGHUP, or superctl reload (why says which): a configuration that fails
 * to load changes nothing.  0, or -1.
 */
static int
reread_config(const struct reconf_why *why)
{
	char err[CONF_ERRLEN * 2];
	struct conf *c;

	notify_reloading();
	if ((c = conf_load(conf_path, err, sizeof(err))) == NULL) {
		reload_failed(why, err);
		return -1;
	}
	c->refs = 1;
	if (check_sound(c, err, sizeof(err)) < 0 ||
	    reconf_apply(c, why, err, sizeof(err)) < 0) {
		reload_failed(why, err);
		conf_release(c);
		return -1;
	}
	conf_release(conf);
	conf = c;
	apply_globals(conf);
	spawner_reload();
	service_reloads++;
	control_moved(conf);
	reconf_note(why, "configuration %s loaded, %d services", conf_path,
	    conf->nsvcs);
	ready();
	return 0;
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
	relay_end_all();
	exec_kill_all(SIGTERM);
	loop_timer_set(&stop_timer, loop_now() + 1);
}

/* Stop accepting; connections get shutdown_timeout to finish. */
static void
stop_accepting(void)
{
	struct service *s;

	stopping = service_stopping = 1;
	LIST_FOREACH(s, &services, link)
	service_unlisten(s);
	loop_timer_set(&stop_timer, loop_now() + conf->shutdown_timeout);
}

static void
begin_shutdown(void)
{
	if (stopping)
		return;
	notify("STOPPING=1");
	log_msg(LOG_NOTICE, "shutting down, %ld connections open",
	    admit_clients_total());
	stop_accepting();
}

/*
 * The successor serves on the sockets (their files its own now): this
 * process drains as at a stop, and systemd hears who the main pid is.
 */
static void
upgraded(pid_t pid, const char *err)
{
	struct buf text = {0};

	if (err != NULL) {
		log_msg(LOG_ERR, "upgrade failed: %s", err);
		buf_printf(&text, "upgrade failed: %s\n", err);
		control_answer(-1, &text);
		buf_free(&text);
		return;
	}
	log_msg(LOG_NOTICE, "upgrade: pid %d serves; draining %ld connections",
	    (int)pid, admit_clients_total());
	buf_printf(&text, "upgraded: pid %d serves, pid %d drains\n", (int)pid,
	    (int)getpid());
	control_answer(0, &text);
	buf_free(&text);
	upgrade_hand_over(pid);
	if (!stopping)
		stop_accepting();
}

/* SIGUSR2, or superctl upgrade: 0 once the successor is starting. */
static int
begin_upgrade(struct buf *report)
{
	char err[256];

	if (in_worker) {
		return -1; /* the master's to do */
	} else if (stopping) {
		snprintf(err, sizeof(err), "superd is shutting down");
	} else if (upgrade_under_way() ||
		   upgrade_start(upgraded, err, sizeof(err)) == 0) {
		log_msg(LOG_NOTICE, "upgrade: starting the binary anew");
		return 0;
	}
	log_msg(LOG_ERR, "upgrade failed: %s", err);
	if (report != NULL)
		buf_printf(report, "upgrade failed: %s\n", err);
	return -1;
}

/* SIGUSR1, or superctl reload-scripts: 0, or -1 when one failed. */
static int
reload_scripts(struct buf *report)
{
	struct service *s;
	int rc = 0;

	service_reloads++;
	LIST_FOREACH(s, &services, link)
	if (vm_reload(s, report) < 0)
		rc = -1;
	return rc;
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
		else if (si.ssi_signo == SIGUSR2)
			want_upgrade = 1;
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
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, LOOKUP_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	return loop_add(&sigio, fd, LOOP_READ, signal_io);
}

/*
 * A service gone from the configuration is freed from the loop, once its
 * last connection has closed and no coroutine is queued to run.
 */
static void
reap_services(void)
{
	struct service *s, *next;

	if (task_pending())
		return;
	for (s = LIST_FIRST(&services); s != NULL; s = next) {
		next = LIST_NEXT(s, link);
		if (!s->retired || s->admit.open > s->admit.outbound)
			continue;
		/* its coroutines end, and with them its outbound sockets */
		task_kill_service(s);
		if (s->admit.open == 0)
			serve_free(s);
	}
}

static const struct reconf_why sighup = {"SIGHUP", NULL};

/* Between two epoll rounds: signals, superctl, coroutines, then output. */
static int
idle(void)
{
	if (want_reap) {
		want_reap = 0;
		exec_reap();
	}
	if (want_hup && !stopping) {
		want_hup = want_reload = 0;
		reread_config(&sighup);
	}
	if (want_reload) {
		want_reload = 0;
		reload_scripts(NULL);
	}
	if (want_upgrade) {
		want_upgrade = 0;
		begin_upgrade(NULL);
	}
	control_run();
	if (want_stop) {
		want_stop = 0;
		begin_shutdown();
	}
	task_run_queue();
	stream_flush_queue();
	udp_flush();
	relay_collect();
	reap_services();
	if (stopping && !task_pending() &&
	    (admit_open_total() == admit_outbound_total() ||
		(hard_stop && exec_count() + admit_outbound_total() ==
				  admit_open_total())))
		loop_stop();
	return task_pending();
}

/* superctl reload: as SIGHUP, its lines in the report too. */
static int
ctl_reload(struct buf *report)
{
	struct reconf_why why = {"superctl reload", report};

	if (stopping) {
		buf_printf(report, "superd is shutting down\n");
		return -1;
	}
	return reread_config(&why);
}

/* superctl upgrade: answered once the successor serves, or will not. */
static int
ctl_upgrade(struct buf *report)
{
	return begin_upgrade(report) < 0 ? -1 : CONTROL_LATER;
}

static const struct ctlcmd_reloads reloads = {
    ctl_reload, reload_scripts, ctl_upgrade};

static int
open_control(void)
{
	char err[CONF_ERRLEN * 2];

	if (conf->control == NULL)
		return 0;
	ctlcmd_init(&reloads);
	if (control_open(conf->control, ctlcmd_run, err, sizeof(err)) < 0) {
		start_error("%s: control: %s", conf->path, err);
		return -1;
	}
	return 0;
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
	if (pidfile != NULL && pidfile_write(pidfile) < 0) {
		start_error("superd: %s: %s", pidfile, strerror(errno));
		return -1;
	}
	return 0;
}

/* After every port is bound: the configured user, no other groups. */
static int
drop_privileges(void)
{
	const char *user = exec_default_user(conf);
	char err[CONF_ERRLEN];
	struct priv p;

	if (user != conf->user)
		log_msg(LOG_NOTICE, "no user set: serving as %s", user);
	switch (priv_lookup(user, conf->group, &p, err, sizeof(err))) {
	case PRIV_NOTHING:
		return 0;
	case PRIV_NOT_ROOT:
		log_msg(LOG_NOTICE, "not root: user and group are ignored");
		return 0;
	case -1:
		start_error("%s: %s", conf->path, err);
		return -1;
	}
	if (p.uid != getuid() && pidfile_keep_remover() < 0) {
		start_error("superd: %s: %s", pidfile, strerror(errno));
		return -1;
	}
	if (priv_switch(&p, 0) < 0) {
		start_error("superd: dropping privileges: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* detach(), its error said as start's are. */
static int
detach_or_say(void)
{
	if (detach() == 0)
		return 0;
	start_error("superd: -d: %s", strerror(errno));
	return -1;
}

static int
start(int background)
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
	if (exec_separate(conf) < 0) {
		start_error("superd: exec spawner: %s", strerror(errno));
		return -1;
	}
	if (listeners_adopt_inherited(reexec_successor()) < 0) {
		start_error("superd: inherited sockets: out of memory");
		return -1;
	}
	/* before the services: it serves once their ports accept */
	if (open_control() < 0 || start_services() < 0 ||
	    (background && !reexec_successor() && detach_or_say() < 0))
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
run(int background)
{
	if (start(background) < 0)
		return 1;
	log_msg(LOG_NOTICE, "superd %s started, %d services", SUPERD_VERSION,
	    conf->nsvcs);
	if (in_worker) {
		master_worker_serving();
	} else if (reexec_successor()) {
		if (reexec_serving() < 0) {
			log_msg(LOG_ERR, "upgrade: the old process gave up "
					 "on this one; stopping");
			return 1;
		}
	} else {
		ready();
	}
	loop_set_idle(idle);
	loop_run();
	log_msg(LOG_NOTICE, "superd stopped");
	return 0;
}

/*
 * Everything the daemon holds, freed; its pid file removed.  After
 * daemon_run, in a worker, and after a master's start that failed.
 */
void
daemon_end(void)
{
	struct service *s;

	conn_end_all(WHY_SHUTDOWN);
	relay_end_all();
	relay_collect();
	task_kill_all();
	while ((s = LIST_FIRST(&services)) != NULL)
		serve_free(s);
	pidfile_remove();
	control_close(); /* its file: the spawner may have to remove it */
	spawner_stop();
	conf_release(conf);
	buf_release_spares();
	task_release_spares();
	tlsclient_forget();
}

/* workers = N: worker index, forked by the master. */
static int
run_worker(int index)
{
	int rc;

	service_worker = index;
	in_worker = 1;
	notify_forget();
	pidfile = NULL;
	log_tag(index);
	rc = run(0);
	daemon_end();
	return rc;
}

static daemon_check_fn *master_check;

/*
 * The master's copy of the configuration, for the workers it restarts,
 * taken only when the workers would take it too; each worker logs what
 * is wrong with a file they refuse.
 */
static double
master_reread(void)
{
	char err[CONF_ERRLEN * 2];
	struct conf *c;

	notify_reloading();
	if ((c = conf_load(conf_path, err, sizeof(err))) == NULL) {
		reload_refused("SIGHUP", err);
	} else if (master_check(c) == 0) {
		c->refs = 1;
		conf_release(conf);
		conf = c;
		ready();
	} else {
		reload_refused(
		    "SIGHUP", "the workers refuse it; see their log");
		conf_free(c);
	}
	return conf->shutdown_timeout;
}

/*
 * c, loaded with one reference, becomes the running configuration;
 * path (absolute) is the file SIGHUP reads again, pid the pid file or
 * NULL, background -d.  The strings stay the caller's.
 */
void
daemon_init(struct conf *c, const char *path, const char *pid, int background)
{
	conf = c;
	conf_path = path;
	pidfile = pid;
	detached = background;
	if (notify_init() < 0)
		log_msg(LOG_WARNING, "NOTIFY_SOCKET: %m; systemd is not told");
}

/* One process serving everything; its exit status. */
int
daemon_run(void)
{
	return run(detached);
}

/*
 * workers = N, once the master has checked every service and bound
 * every port once: it detaches, writes the pid file and supervises the
 * workers; their exit status.
 */
int
daemon_master(daemon_check_fn *check)
{
	int rc;

	master_check = check;
	apply_globals(conf);
	raise_nofile();
	if ((detached && detach_or_say() < 0) || write_pidfile() < 0)
		return 1;
	detach_done();
	rc = master_run(
	    conf->workers, conf->shutdown_timeout, run_worker, master_reread);
	listeners_close_kept();
	pidfile_remove();
	return rc;
}
