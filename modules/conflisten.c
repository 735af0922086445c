/*
 * conflisten.c - where a service listens: a port, given as a number or
 * as a name from /etc/services, or a unix socket's path, with the mode
 * and owner of its file, and what cannot go with a unix socket.
 */
#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflisten.h"
#include "confwhere.h"
#include "unixsock.h"

/* A port's name for one protocol: its number, 0 when it has none. */
static int
port_by_name(const char *name, const char *proto)
{
	struct servent *se = getservbyname(name, proto);

	return se ? ntohs((uint16_t)se->s_port) : 0;
}

/*
 * 1 to 65535, or a name getservbyname knows for each protocol the
 * service speaks; for TCP and UDP both, the two must be one number.
 */
static int
listen_port(struct conf_where *w, const config_setting_t *s, struct svc_conf *v)
{
	int t = config_setting_type(s), tcp = 0, udp = 0;
	const char *name;
	long long n;

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		n = config_setting_get_int64(s);
		if (n < 1 || n > 65535)
			return conf_blame(
			    w, s, "\"port\" must be between 1 and 65535");
		v->port = (int)n;
		return 0;
	}
	if (t != CONFIG_TYPE_STRING)
		return conf_blame(w, s,
		    "\"port\" must be an integer or a name from /etc/services");
	name = config_setting_get_string(s);
	if ((v->protos & CONF_TCP) && (tcp = port_by_name(name, "tcp")) == 0)
		return conf_blame(
		    w, s, "\"port\": no service \"%s\" for tcp", name);
	if ((v->protos & CONF_UDP) && (udp = port_by_name(name, "udp")) == 0)
		return conf_blame(
		    w, s, "\"port\": no service \"%s\" for udp", name);
	if (tcp && udp && tcp != udp)
		return conf_blame(w, s, "\"port\": \"%s\" is %d/tcp but %d/udp",
		    name, tcp, udp);
	v->port = tcp ? tcp : udp;
	return 0;
}

/*
 * What a unix socket has no use for.  Who may connect is up to its
 * file's mode, owner and group, not to access lists of addresses; a
 * proxy's header would replace the peer's credentials with an address.
 */
static const char *const no_place[] = {"port", "address", NULL};
static const char *const no_address[] = {
    "only_from", "no_access", "proxy_protocol", "proxy_from", NULL};

static int
unix_only(struct conf_where *w, const struct svc_conf *v, int workers)
{
	const config_setting_t *s;

	if ((s = conf_first_of(w->g, no_place)) != NULL)
		return conf_blame(w, s,
		    "\"%s\" and \"path\" cannot go together: a service "
		    "listens on a port or on a unix socket",
		    config_setting_name(s));
	if ((s = conf_first_of(w->g, no_address)) != NULL)
		return conf_blame(w, s,
		    "\"%s\" does not apply to a unix socket (\"path\"): "
		    "mode, owner and group say who may connect",
		    config_setting_name(s));
	if (v->protos == (CONF_TCP | CONF_UDP))
		return conf_blame(w,
		    config_setting_get_member(w->g, "protocol"),
		    "a unix socket (\"path\") is of one type: "
		    "\"protocol\" is \"tcp\" (stream) or \"udp\" "
		    "(datagram)");
	/* every worker would bind its own file over the others' */
	if (workers > 1)
		return conf_blame(w, config_setting_get_member(w->g, "path"),
		    "a unix socket (\"path\") needs workers = 1");
	return 0;
}

/* Resolved against the configuration's directory, as other paths are. */
static int
listen_path(struct conf_where *w, const config_setting_t *s, struct svc_conf *v,
    const char *dir, int workers)
{
	char err[CONF_ERRLEN];

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_blame(w, s, "\"path\" must be a string");
	if (unix_only(w, v, workers) < 0)
		return -1;
	v->path = conf_resolve(dir, config_setting_get_string(s));
	if (v->path == NULL)
		return conf_blame(w, s, "out of memory");
	if (unixsock_check(v->path, err, sizeof(err)) < 0)
		return conf_blame(w, s, "\"path\": %s", err);
	return 0;
}

/* Octal in a string: 0660 as a libconfig integer would be decimal. */
static int
listen_mode(struct conf_where *w, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(w->g, "mode");
	const char *text;
	long m = -1;

	v->sock.mode = 0666; /* as ucspi-unix's unixserver, umask aside */
	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		text = config_setting_get_string(s);
		if (*text && strspn(text, "01234567") == strlen(text))
			m = strtol(text, NULL, 8);
	}
	if (m < 0 || m > 0777)
		return conf_blame(w, s,
		    "\"mode\" must be octal digits in a string, "
		    "\"0\" to \"0777\", as \"0660\"");
	v->sock.mode = (mode_t)m;
	return 0;
}

/* Looked up now, so a name unknown is an error at its line. */
static int
listen_owner(struct conf_where *w, struct svc_conf *v)
{
	const config_setting_t *s = config_setting_get_member(w->g, "owner");
	struct passwd *pw;
	struct group *gr;

	v->sock.uid = (uid_t)-1;
	v->sock.gid = (gid_t)-1;
	if (s != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return conf_blame(w, s, "\"owner\" must be a string");
		if ((v->owner = strdup(config_setting_get_string(s))) == NULL)
			return conf_blame(w, s, "out of memory");
		if ((pw = getpwnam(v->owner)) == NULL)
			return conf_blame(
			    w, s, "\"owner\": unknown user \"%s\"", v->owner);
		v->sock.uid = pw->pw_uid;
	}
	/* a "group" that is not a string is confservice.c's to refuse */
	s = config_setting_get_member(w->g, "group");
	if (s == NULL || config_setting_type(s) != CONFIG_TYPE_STRING)
		return 0;
	if ((gr = getgrnam(config_setting_get_string(s))) == NULL)
		return conf_blame(w, s, "\"group\": unknown group \"%s\"",
		    config_setting_get_string(s));
	v->sock.gid = gr->gr_gid;
	return 0;
}

/*
 * Service g's "port", or its "path" with "mode" and "owner" ("group",
 * which an exec service's program also runs as, is the file's group).
 * After its protocols are known.
 */
int
conf_listen(const config_setting_t *g, struct svc_conf *v, const char *dir,
    int workers, const config_setting_t **at, char *msg, size_t len)
{
	static const char *const file[] = {"mode", "owner", NULL};
	const config_setting_t *path = config_setting_get_member(g, "path");
	const config_setting_t *port = config_setting_get_member(g, "port");
	struct conf_where w = {g, at, msg, len};
	const config_setting_t *s;

	if (path != NULL) {
		if (listen_path(&w, path, v, dir, workers) < 0 ||
		    listen_mode(&w, v) < 0)
			return -1;
		return listen_owner(&w, v);
	}
	if ((s = conf_first_of(g, file)) != NULL)
		return conf_blame(&w, s,
		    "\"%s\" is for a unix socket (\"path\")",
		    config_setting_name(s));
	if (port == NULL)
		return conf_blame(&w, g,
		    "service \"%s\" needs a \"port\" or a \"path\"", v->name);
	return listen_port(&w, port, v);
}
