/*
 * superd.c - main(): options, -t, and the choice between one process
 * serving everything and a master of workers; modules/daemon.c runs
 * either's life.
 */
#include <errno.h>
#include <lua.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modules/conf.h"
#include "modules/confcmp.h"
#include "modules/daemon.h"
#include "modules/exec.h"
#include "modules/import.h"
#include "modules/listener.h"
#include "modules/net.h"
#include "modules/reexec.h"
#include "modules/serve.h"
#include "modules/service.h"
#include "modules/stats.h"
#include "modules/tlsctx.h"

#ifndef SUPERD_CONFIG
#define SUPERD_CONFIG "/etc/superd/superd.conf"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: superd [-c FILE] [-t] [-d] [-p PIDFILE] [-V] [-h]\n"
	    "       superd -I FILE|DIR\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  -t        check the configuration, run each script once, "
	    "exit\n"
	    "  -d        detach into the background\n"
	    "  -p FILE   write the pid to FILE\n"
	    "  -I FILE   print the superd configuration equivalent to an\n"
	    "            inetd.conf, an xinetd file or an xinetd.d "
	    "directory\n"
	    "  -V        print the version\n",
	    SUPERD_CONFIG);
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
		return exec_check(&c->svcs[i], c->svcs[i].file, err, len);
	if ((s = serve_new(&c->svcs[i], c, err, len)) == NULL)
		return -1;
	serve_free(s);
	return 0;
}

/* Its certificates and keys load and go together. */
static int
check_tls(const struct svc_conf *v, char *err, size_t len)
{
	struct tls_ctx *x;

	if (v->tls == NULL)
		return 0;
	if ((x = tlsctx_new(v->tls, err, len)) == NULL)
		return -1;
	tlsctx_release(x);
	return 0;
}

/* -t and the master run before any worker: whoever started us reads it. */
static int
check_failed(const char *err, int report)
{
	if (report) {
		fprintf(stderr, "%s\n", err);
		reexec_failed(err);
	}
	return -1;
}

/*
 * -t, and a master before it forks workers: every service as start would
 * find it, binding nothing (a running superd may hold the ports); each
 * error, as FILE:LINE, on stderr when report is set.
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
		if (check_tls(&c->svcs[i], err, sizeof(err)) < 0)
			rc = check_failed(err, report);
	}
	return rc;
}

#define TRIAL_CHECK 0
#define TRIAL_START 1
#define TRIAL_RELOAD 2

static int trial_bind(struct conf *c, int mode);

static void
report_bind(const struct svc_conf *v, const char *err)
{
	char line[CONF_ERRLEN * 2];

	snprintf(line, sizeof(line), "%s:%d: service \"%s\": %s", v->file,
	    v->line, v->name, err);
	fprintf(stderr, "%s\n", line);
	reexec_failed(line);
}

/*
 * The master's SIGHUP: would the workers take c?  Its scripts run, and
 * its ports bind beside the workers' (SO_REUSEPORT), so that a port
 * another program holds is refused here as there.  It says nothing: the
 * workers log why.
 */
static int
check_quietly(struct conf *c)
{
	return check_services(c, 0) == 0 && trial_bind(c, TRIAL_RELOAD) == 0
		   ? 0
		   : -1;
}

/* -t: every error, not just the first, each as FILE:LINE: message. */
static int
check_config(const char *path)
{
	char err[CONF_ERRLEN * 2];
	struct conf *c;
	int rc;

	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = check_services(c, 1) < 0;
	if (rc == 0)
		printf("%s: configuration ok\n", path);
	conf_free(c);
	return rc;
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

/*
 * Every port bound as a worker will bind it, all at once, so that a
 * clash is an error before forking (each on stderr) or a SIGHUP file
 * refused.  At the start (TRIAL_START) the master keeps every socket for
 * its workers to share, systemd's and its own, so that an upgrade hands
 * the very sockets on and no queued connection is lost; it closes those
 * systemd passed that no service takes.  A SIGHUP's file, once taken
 * (TRIAL_RELOAD), closes the kept sockets no service listens on any more;
 * the sockets of services it adds are the workers' own.
 */
static int
trial_bind(struct conf *c, int mode)
{
	struct listener **held = calloc(c->nsvcs + 1, sizeof(*held));
	char err[CONF_ERRLEN];
	struct svc_conf *v;
	int i, rc = 0;

	if (held == NULL) {
		fprintf(stderr, "superd: out of memory\n");
		return -1;
	}
	for (i = 0; i < c->nsvcs && rc == 0; i++) {
		v = &c->svcs[i];
		rc = listeners_prepare(v, &held[i], err, sizeof(err));
		if (rc < 0 && mode == TRIAL_START)
			report_bind(v, err);
	}
	if (rc == 0 && mode != TRIAL_CHECK)
		listeners_drop_inherited(1);
	while (i-- > 0) {
		if (rc == 0 && mode == TRIAL_START)
			listeners_keep(held[i]);
		else
			listeners_abort(held[i]);
	}
	free(held);
	return rc;
}

/* The uid the workers serve as once they give root up, or -1. */
static int
serving_uid(const struct conf *c)
{
	const char *user = exec_default_user(c);
	struct passwd *pw;

	if (getuid() != 0 || user == NULL || (pw = getpwnam(user)) == NULL)
		return -1;
	return (int)pw->pw_uid;
}

static int
run_master(struct conf *c)
{
	int i;

	net_reuseport = 1;
	net_owner = serving_uid(c);
	if (listeners_adopt_inherited(reexec_successor()) < 0) {
		fprintf(stderr, "superd: inherited sockets: out of memory\n");
		return 1;
	}
	if (check_services(c, 1) < 0 || trial_bind(c, TRIAL_START) < 0)
		return 1;
	if (stats_share(c->workers) < 0) {
		fprintf(
		    stderr, "superd: shared counters: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < c->nsvcs; i++)
		stats_slot_for(c->svcs[i].name, 0);
	return daemon_master(check_quietly);
}

int
main(int argc, char **argv)
{
	const char *path = SUPERD_CONFIG, *pidarg = NULL, *import = NULL;
	char err[CONF_ERRLEN * 2], *conf_path, *pidfile;
	int ch, check = 0, daemon = 0, rc = 0;
	struct conf *c;

	signal(SIGPIPE, SIG_IGN); /* a write to a closed peer is an error */
	while ((ch = getopt(argc, argv, "c:tdp:I:Vh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'd':
			daemon = 1;
			break;
		case 'p':
			pidarg = optarg;
			break;
		case 'I':
			import = optarg;
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
	if (import)
		return import_main(import, stdout);
	if (check)
		return check_config(path);
	reexec_init(); /* an upgrade's successor tells its predecessor */
	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		reexec_failed(err);
		return 1;
	}
	c->refs = 1;
	conf_path = absolute(path);
	if (pidarg)
		pidfile = absolute(pidarg);
	else
		pidfile = c->pidfile ? strdup(c->pidfile) : NULL;
	if (conf_path != NULL &&
	    reexec_save(conf_path, pidarg ? pidfile : NULL, daemon) < 0)
		fprintf(stderr,
		    "superd: /proc/self/exe: %s; no binary "
		    "upgrade\n",
		    strerror(errno));
	daemon_init(c, conf_path, pidfile, daemon);
	if (conf_path == NULL || (pidfile == NULL && (pidarg || c->pidfile))) {
		fprintf(stderr, "superd: out of memory\n");
		rc = 1;
	} else if (c->workers > 1)
		rc = run_master(c);
	else
		rc = daemon_run();
	daemon_end();
	free(conf_path);
	free(pidfile);
	return rc;
}
