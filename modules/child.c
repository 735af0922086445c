/*
 * child.c - what an exec'd program gets: descriptors, environment, limits,
 * user.  Everything between fork and exec; the parent side is exec.c.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "child.h"
#include "conf.h"
#include "priv.h"

static int
set_env_addr(
    const char *ip_name, const char *port_name, const union net_addr *a)
{
	char addr[NET_ADDRSTRLEN], port[16];
	int p;

	net_ntop(a, addr, &p);
	snprintf(port, sizeof(port), "%d", p);
	if (setenv(ip_name, addr, 1) < 0 || setenv(port_name, port, 1) < 0)
		return -1;
	return 0;
}

/*
 * The program's user and group, when superd is root.  It cannot say why
 * it fails: its stderr is the client's socket.
 */
static int
become(const struct svc_conf *v)
{
	char err[128];
	struct priv p;
	int rc = priv_lookup(v->user, v->group, &p, err, sizeof(err));

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return priv_switch(&p, PRIV_INITGROUPS);
}

void
child_exec(const struct svc_conf *v, int fd, const union net_addr *peer)
{
	union net_addr local;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	/* Only 0-2: no other connection's or listener's descriptor. */
	close_range(3, ~0U, 0);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) & ~O_NONBLOCK);
	/* without memory for its environment the program does not run */
	if (setenv("PROTO", "TCP", 1) < 0 ||
	    set_env_addr("TCPREMOTEIP", "TCPREMOTEPORT", peer) < 0 ||
	    (net_local(0, &local) == 0 &&
		set_env_addr("TCPLOCALIP", "TCPLOCALPORT", &local) < 0))
		_exit(126);
	if (become(v) < 0)
		_exit(126);
	execv(v->exec[0], v->exec);
	_exit(127);
}
