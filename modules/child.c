/*
 * child.c - what an exec'd program gets: descriptors, environment, limits,
 * user.  Everything between fork and exec; the parent side is exec.c.
 */
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "conf.h"
#include "priv.h"
#include "unixsock.h"

static int
env_has(const struct child_env *e, const char *name, size_t len)
{
	int i;

	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, len) == 0 && e->v[i][len] == '=')
			return 1;
	return 0;
}

/* The first len bytes of name are the variable's name. */
static int
env_put(struct child_env *e, const char *name, size_t len, const char *value)
{
	char **v;

	if (env_has(e, name, len))
		return 0;
	if (e->n + 1 >= e->cap) {
		if ((v = realloc(e->v, (e->cap * 2 + 16) * sizeof(*v))) == NULL)
			return -1;
		e->v = v;
		e->cap = e->cap * 2 + 16;
	}
	if (asprintf(&e->v[e->n], "%.*s=%s", (int)len, name, value) < 0) {
		e->v[e->n] = NULL;
		return -1;
	}
	e->v[++e->n] = NULL;
	return 0;
}

int
child_env_set(struct child_env *e, const char *name, const char *value)
{
	return env_put(e, name, strlen(name), value);
}

static int
env_addr(struct child_env *e, const char *ip_name, const char *port_name,
    const union net_addr *a)
{
	char addr[NET_ADDRSTRLEN], port[16];
	int p;

	net_ntop(a, addr, &p);
	snprintf(port, sizeof(port), "%d", p);
	if (child_env_set(e, ip_name, addr) < 0 ||
	    child_env_set(e, port_name, port) < 0)
		return -1;
	return 0;
}

/*
 * systemd's Accept=no: the listening socket is descriptor 3 too, named
 * for the service, so a socket-activated daemon runs unchanged.
 */
static int
env_listen(struct child_env *e, const char *name)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (child_env_set(e, "LISTEN_FDS", "1") < 0 ||
	    child_env_set(e, "LISTEN_PID", pid) < 0 ||
	    child_env_set(e, "LISTEN_FDNAMES", name) < 0)
		return -1;
	return 0;
}

/* ucspi-unix's: who the client is (SO_PEERCRED), where it came in. */
static int
env_unix(struct child_env *e, int fd, const union net_addr *peer,
    const struct child_tls *tls)
{
	char pid[16], uid[16], gid[16], path[128];

	snprintf(pid, sizeof(pid), "%d", (int)peer->un.pid);
	snprintf(uid, sizeof(uid), "%u", (unsigned)peer->un.uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)peer->un.gid);
	if (child_env_set(e, "PROTO", "UNIX") < 0 ||
	    child_env_set(e, "UNIXREMOTEPID", pid) < 0 ||
	    child_env_set(e, "UNIXREMOTEEUID", uid) < 0 ||
	    child_env_set(e, "UNIXREMOTEEGID", gid) < 0)
		return -1;
	if (tls != NULL)
		snprintf(path, sizeof(path), "%s", tls->local_path);
	else if (unixsock_path(fd, path, sizeof(path)) < 0)
		path[0] = '\0';
	if (path[0] != '\0' && child_env_set(e, "UNIXLOCALPATH", path) < 0)
		return -1;
	return 0;
}

/* A variable of mod_ssl's, when the handshake gave it a value. */
static int
env_some(struct child_env *e, const char *name, const char *value)
{
	return value[0] == '\0' ? 0 : child_env_set(e, name, value);
}

/* mod_ssl's: what the handshake agreed, and the client's certificate. */
static int
env_tls(struct child_env *e, const struct child_tls *t)
{
	if (child_env_set(e, "PROTO", "SSL") < 0 ||
	    env_some(e, "SSL_PROTOCOL", t->protocol) < 0 ||
	    env_some(e, "SSL_CIPHER", t->cipher) < 0 ||
	    env_some(e, "SSL_TLS_SNI", t->sni) < 0 ||
	    env_some(e, "SSL_CLIENT_VERIFY", t->verify) < 0 ||
	    env_some(e, "SSL_CLIENT_S_DN", t->subject) < 0 ||
	    env_some(e, "SSL_CLIENT_I_DN", t->issuer) < 0)
		return -1;
	return 0;
}

/*
 * First: what the connection is (ucspi-tcp's variables: who the client is,
 * where it came in; ucspi-unix's on a unix socket; PROTO=SSL and mod_ssl's
 * behind TLS), which no setting can pretend otherwise.
 */
static int
env_connection(struct child_env *e, int fd, const union net_addr *peer,
    const struct child_tls *tls)
{
	union net_addr local;

	if (tls != NULL && env_tls(e, tls) < 0)
		return -1;
	if (peer->sa.sa_family == AF_UNIX)
		return env_unix(e, fd, peer, tls);
	if (child_env_set(e, "PROTO", "TCP") < 0 ||
	    env_addr(e, "TCPREMOTEIP", "TCPREMOTEPORT", peer) < 0)
		return -1;
	if (tls != NULL)
		local = tls->local;
	else if (net_local(fd, &local) < 0)
		local.sa.sa_family = AF_UNSPEC;
	if (local.sa.sa_family != AF_UNSPEC &&
	    env_addr(e, "TCPLOCALIP", "TCPLOCALPORT", &local) < 0)
		return -1;
	return 0;
}

/* env's "NAME=value" entries (conf.c checked each has its '='). */
static int
env_entries(struct child_env *e, char *const *entries)
{
	const char *eq;

	for (; entries && *entries; entries++) {
		eq = strchr(*entries, '=');
		if (env_put(e, *entries, eq - *entries, eq + 1) < 0)
			return -1;
	}
	return 0;
}

/* passenv's names, those set in superd's own environment. */
static int
env_passed(struct child_env *e, char *const *names)
{
	const char *value;

	for (; names && *names; names++)
		if ((value = getenv(*names)) != NULL &&
		    child_env_set(e, *names, value) < 0)
			return -1;
	return 0;
}

int
child_env_build(struct child_env *e, const struct svc_conf *v, int fd,
    const union net_addr *peer, const struct child_tls *tls)
{
	memset(e, 0, sizeof(*e));
	if ((peer != NULL ? env_connection(e, fd, peer, tls)
			  : env_listen(e, v->name)) < 0 ||
	    env_entries(e, v->env) < 0 || env_passed(e, v->passenv) < 0 ||
	    child_env_set(e, "PATH", CHILD_PATH) < 0) {
		child_env_free(e);
		return -1;
	}
	return 0;
}

void
child_env_free(struct child_env *e)
{
	int i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* Whom the program runs as, as login(1) tells a shell. */
static int
env_user(struct child_env *e, const struct passwd *pw)
{
	if (pw == NULL)
		return 0;
	if (child_env_set(e, "HOME", pw->pw_dir) < 0 ||
	    child_env_set(e, "USER", pw->pw_name) < 0 ||
	    child_env_set(e, "LOGNAME", pw->pw_name) < 0 ||
	    child_env_set(
		e, "SHELL", *pw->pw_shell ? pw->pw_shell : "/bin/sh") < 0)
		return -1;
	return 0;
}

/*
 * The connection as 0-2 and nothing else (a wait program's listening
 * socket: 0-3), blocking, signals as new; a process group of its own,
 * which max_runtime signals whole (exec.c).
 */
static int
descriptors(int fd, int wait)
{
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return -1;
	/* Only 0-2: no other connection's or listener's descriptor. */
	close_range(3, ~0U, 0);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) & ~O_NONBLOCK);
	return wait && dup2(0, 3) < 0 ? -1 : 0;
}

static const int resources[CONF_RLIMITS] = {
    [CONF_RLIMIT_AS] = RLIMIT_AS,
    [CONF_RLIMIT_CPU] = RLIMIT_CPU,
    [CONF_RLIMIT_NOFILE] = RLIMIT_NOFILE,
    [CONF_RLIMIT_NPROC] = RLIMIT_NPROC,
    [CONF_RLIMIT_FSIZE] = RLIMIT_FSIZE,
    [CONF_RLIMIT_CORE] = RLIMIT_CORE,
};

static rlim_t
rlim_of(long value)
{
	return value == CONF_UNLIMITED ? RLIM_INFINITY : (rlim_t)value;
}

/*
 * Before the user switch, while superd may still be root: the hard limits
 * that go above superd's own (only root may raise one), nproc (the switch
 * counts the user's processes against it, so that the exec fails when
 * the program would be one too many), and the niceness (only root may
 * lower it).  The rest waits for the switch, which, with the user lookup,
 * must not run short of descriptors or memory.
 */
static int
early_limits(const struct svc_conf *v)
{
	struct rlimit rl;
	rlim_t want;
	int i;

	for (i = 0; i < CONF_RLIMITS; i++) {
		if (v->rlimits[i] == CONF_UNSET)
			continue;
		if (getrlimit(resources[i], &rl) < 0)
			return -1;
		want = rlim_of(v->rlimits[i]);
		if (i == CONF_RLIMIT_NPROC)
			rl.rlim_cur = rl.rlim_max = want;
		else if (want > rl.rlim_max)
			rl.rlim_max = want;
		else
			continue;
		if (setrlimit(resources[i], &rl) < 0)
			return -1;
	}
	if (v->nice != CONF_NICE_KEEP &&
	    setpriority(PRIO_PROCESS, 0, v->nice) < 0)
		return -1;
	return 0;
}

/* Soft and hard, so that the program cannot raise them; then the umask. */
static int
set_limits(const struct svc_conf *v)
{
	struct rlimit rl;
	int i;

	for (i = 0; i < CONF_RLIMITS; i++) {
		if (v->rlimits[i] == CONF_UNSET)
			continue;
		rl.rlim_cur = rl.rlim_max = rlim_of(v->rlimits[i]);
		if (setrlimit(resources[i], &rl) < 0)
			return -1;
	}
	if (v->umask != CONF_UNSET)
		umask(v->umask);
	return 0;
}

/* exec's list, argv0 in place of the path when it is set. */
static char **
program_argv(const struct svc_conf *v)
{
	char **argv;
	size_t n = 0;

	if (v->argv0 == NULL)
		return v->exec;
	while (v->exec[n] != NULL)
		n++;
	if ((argv = malloc((n + 1) * sizeof(*argv))) == NULL)
		return NULL;
	memcpy(argv, v->exec, (n + 1) * sizeof(*argv));
	argv[0] = v->argv0;
	return argv;
}

/*
 * Nothing here can say why it fails: stderr is the client's socket.  The
 * environment is built here, in the child (the spawner's, or superd's
 * when it is not root); the user is looked up first (the environment
 * names it), the limits set around the switch.  A program without memory
 * for its environment does not run.
 */
void
child_exec(const struct svc_conf *v, const char *user, const char *group,
    int fd, const union net_addr *peer, const struct child_tls *tls)
{
	char err[128], **argv;
	struct child_env e;
	struct priv p;
	int rc;

	if (descriptors(fd, peer == NULL) < 0 ||
	    (argv = program_argv(v)) == NULL ||
	    child_env_build(&e, v, 0, peer, tls) < 0)
		_exit(126);
	rc = priv_lookup(user, group, &p, err, sizeof(err));
	if (rc < 0 || env_user(&e, rc == 0 && p.user ? getpwnam(p.user)
						     : getpwuid(getuid())) < 0)
		_exit(126);
	if (early_limits(v) < 0 ||
	    (rc == 0 && priv_switch(&p, PRIV_INITGROUPS) < 0) ||
	    set_limits(v) < 0)
		_exit(126);
	execve(v->exec[0], argv, e.v);
	_exit(127);
}
