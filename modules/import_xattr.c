/*
 * import_xattr.c - one xinetd service as a superd service: its defaults
 * applied as xinetd applies them (a set's "=" in defaults adds; in the
 * service "=" replaces, "+=" adds, "-=" removes), then each attribute
 * taken as a setting, and each one left over noted with the reason.
 */
#include <stdlib.h>
#include <string.h>

#include "import_x.h"

/* The attributes whose value is a set, where defaults accumulate. */
static const char *const sets[] = {"only_from", "no_access", "log_on_success",
    "log_on_failure", "log_type", "passenv", "env", NULL};

static int
one_of(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(name, *names) == 0)
			return 1;
	return 0;
}

static struct xval *
xval_at(struct xsvc *x, const char *name)
{
	struct xval *xv = x_find(x, name);

	if (xv != NULL)
		return xv;
	xv = realloc(x->vals, (x->n + 1) * sizeof(*xv));
	if (xv == NULL) {
		fprintf(stderr, "superd: -I: out of memory\n");
		exit(1);
	}
	x->vals = xv;
	xv = &x->vals[x->n++];
	memset(xv, 0, sizeof(*xv));
	xv->name = name;
	return xv;
}

static void
apply(struct xsvc *x, const struct xattr *a, int inherited)
{
	struct xval *xv;
	int op = a->op, i;

	if (a->name[0] == '\0') { /* the defaults' are in the header */
		if (!inherited)
			imp_note(x->v, "not imported, cannot parse: %s",
			    a->vals.v[0]);
		return;
	}
	xv = xval_at(x, a->name);
	if (inherited && one_of(a->name, sets))
		op = XOP_ADD;
	if (op == XOP_SET)
		imp_list_free(&xv->vals);
	for (i = 0; i < a->vals.n; i++)
		if (op == XOP_DEL)
			imp_list_del(&xv->vals, a->vals.v[i]);
		else
			imp_list_add(&xv->vals, a->vals.v[i]);
	xv->vals.given = 1;
	xv->inherited = inherited;
}

/* A service's own attributes over its defaults (not enabled, disabled). */
static void
collect(struct xsvc *x, const struct xblock *d, const struct xblock *b)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->a[i].name, "enabled") != 0 &&
		    strcmp(d->a[i].name, "disabled") != 0)
			apply(x, &d->a[i], 1);
	for (i = 0; i < b->n; i++)
		apply(x, &b->a[i], 0);
}

/* type: INTERNAL and UNLISTED come along; RPC and TCPMUX do not. */
static int
x_type(struct xsvc *x)
{
	const struct imp_list *t = x_take(x, "type");
	int i;

	for (i = 0; t && i < t->n; i++)
		if (strcmp(t->v[i], "INTERNAL") == 0)
			x->internal = 1;
		else if (strcmp(t->v[i], "RPC") == 0)
			return x_drop(x,
			    "xinetd RPC service not carried over: "
			    "superd does not register with rpcbind");
		else if (strncmp(t->v[i], "TCPMUX", 6) == 0)
			return x_drop(x, "xinetd TCPMUX service not carried "
					 "over: superd has no tcpmux");
		else if (strcmp(t->v[i], "UNLISTED") != 0)
			x_lost(x, "type", t->v[i], "an unknown type");
	return 0;
}

static int
x_flags(struct xsvc *x)
{
	const struct imp_list *f = x_take(x, "flags");
	int i;

	for (i = 0; f && i < f->n; i++)
		if (strcmp(f->v[i], "NAMEINARGS") == 0)
			x->nameinargs = 1;
		else if (strcmp(f->v[i], "IPv4") == 0 ||
			 strcmp(f->v[i], "IPv6") == 0)
			x->family = f->v[i][3] - '0';
		else if (strcmp(f->v[i], "SENSOR") == 0)
			return x_drop(x, "xinetd SENSOR not carried over: "
					 "superd has no sensor services");
		else if (strcmp(f->v[i], "REUSE") != 0 &&
			 strcmp(f->v[i], "NOLIBWRAP") != 0)
			x_lost(x, "flags", f->v[i], "superd has no such flag");
	return 0;
}

/* socket_type and protocol, either of which implies the other. */
static int
x_socket(struct xsvc *x)
{
	const char *st = x_take1(x, "socket_type");
	const char *proto = x_take1(x, "protocol");

	x->dgram = st ? strcmp(st, "dgram") == 0
		      : proto != NULL && strcmp(proto, "udp") == 0;
	if (st == NULL && proto == NULL)
		return x_drop(x, "not imported: no socket_type");
	if (st != NULL && strcmp(st, "stream") != 0 && !x->dgram)
		return x_drop(x, "xinetd socket_type not carried over: superd "
				 "serves stream and dgram sockets");
	if (proto != NULL && strcmp(proto, x->dgram ? "udp" : "tcp") != 0)
		return x_drop(x, "xinetd protocol not carried over: superd "
				 "serves tcp over stream and udp over dgram");
	x->v->protos = x->dgram ? IMP_UDP : IMP_TCP;
	return 0;
}

/* redirect = host port: the shipped relay.lua, which xinetd's is. */
static int
x_redirect(struct xsvc *x, const struct imp_list *r)
{
	char *opt;

	if (r->n != 2 || x_number(r->v[1]) < 1 || x_number(r->v[1]) > 65535)
		return x_drop(x, "not imported: redirect wants a host and "
				 "a port");
	if (x->dgram)
		return x_drop(x, "xinetd redirect over UDP not carried "
				 "over: relay.lua is TCP");
	if (x_take1(x, "server") != NULL)
		imp_note(x->v, "xinetd \"server\" not used: redirect takes "
			       "its place, as in xinetd");
	x->v->script = imp_strdup("relay.lua");
	opt = imp_printf("host = \"%s\";", r->v[0]);
	imp_list_add(&x->v->options, opt);
	free(opt);
	opt = imp_printf("port = %s;", r->v[1]);
	imp_list_add(&x->v->options, opt);
	free(opt);
	return 0;
}

/* server and server_args; argv[0] is server's last part, or NAMEINARGS'. */
static int
x_server(struct xsvc *x, const char *server)
{
	const struct imp_list *args = x_take(x, "server_args");
	struct imp_list argv = {0};
	const char *w = x_take1(x, "wait");
	int i;

	if (server[0] != '/')
		return x_drop(
		    x, "not imported: server is not an absolute path");
	if (!x->nameinargs)
		imp_list_add(&argv,
		    strrchr(server, '/') ? strrchr(server, '/') + 1 : server);
	for (i = 0; args && i < args->n; i++)
		imp_list_add(&argv, args->v[i]);
	imp_program(x->v, "xinetd", server, argv.v, argv.n);
	imp_list_free(&argv);
	x->v->wait = (w != NULL && strcmp(w, "yes") == 0) || x->dgram;
	if (x->dgram && (w == NULL || strcmp(w, "yes") != 0))
		imp_note(x->v, "xinetd had \"wait = no\": superd runs a UDP "
			       "program as a wait service");
	if (x_take1(x, "user") != NULL)
		x->v->user = imp_strdup(x_take1(x, "user"));
	if (x_take1(x, "group") != NULL)
		x->v->group = imp_strdup(x_take1(x, "group"));
	return 0;
}

static int
x_program(struct xsvc *x)
{
	const struct imp_list *r = x_take(x, "redirect");
	const char *server = x_take1(x, "server");

	if (r != NULL || x->internal) {
		x_take(x, "wait"); /* superd serves them: nothing waits */
		x_take(x, "user");
		x_take(x, "group");
	}
	if (r != NULL)
		return x_redirect(x, r);
	if (x->internal && imp_internal(x->v, x->b->name) < 0)
		return x_drop(x, "xinetd's internal service not carried "
				 "over: superd ships echo, discard, daytime, "
				 "chargen and time");
	if (x->internal)
		return 0;
	if (server == NULL)
		return x_drop(x, "not imported: no server");
	return x_server(x, server);
}

/* port (the name's from /etc/services without it), bind, the family. */
static int
x_port(struct xsvc *x)
{
	const char *port = x_take1(x, "port"), *bind = x_take1(x, "bind");
	const char *v6only = x_take1(x, "v6only");

	if (port != NULL && (port[0] == '\0' || imp_bad_port(port)))
		return x_drop(x, "not imported: port is not 1 to 65535");
	x->v->port = imp_strdup(port ? port : x->b->name);
	if (bind == NULL)
		bind = x_take1(x, "interface");
	if (bind != NULL)
		imp_address(x->v, bind);
	else
		imp_list_add(&x->v->addrs, x->family == 4 ? "0.0.0.0" : "::");
	if (v6only != NULL && strcmp(v6only, "yes") == 0)
		x_lost(x, "v6only", v6only,
		    "superd's \"::\" takes IPv4 clients too");
	return 0;
}

/* disable = yes, or the defaults' disabled and enabled lists. */
static void
x_enabled(struct xsvc *x, const struct xblock *d)
{
	const char *id = x_take1(x, "id"), *dis = x_take1(x, "disable");
	struct imp_list on = {0}, off = {0};
	int i, j;

	id = id ? id : x->b->name;
	for (i = 0; i < d->n; i++) {
		/* "enabled =" alone enables nothing, as in xinetd */
		on.given |= strcmp(d->a[i].name, "enabled") == 0;
		for (j = 0; j < d->a[i].vals.n; j++)
			if (strcmp(d->a[i].name, "enabled") == 0)
				imp_list_add(&on, d->a[i].vals.v[j]);
			else if (strcmp(d->a[i].name, "disabled") == 0)
				imp_list_add(&off, d->a[i].vals.v[j]);
	}
	if (dis != NULL && strcmp(dis, "yes") == 0)
		x_disable(x, "xinetd \"disable = yes\"");
	else if (imp_list_has(&off, id))
		x_disable(x, "listed in xinetd's defaults \"disabled\"");
	else if (on.given && !imp_list_has(&on, id))
		x_disable(x, "not in xinetd's defaults \"enabled\"");
	imp_list_free(&on);
	imp_list_free(&off);
}

void
xinetd_service(
    struct imp *m, const struct xblock *b, const struct xblock *defaults)
{
	struct xsvc x = {0};
	int i;

	x.b = b;
	x.v = imp_svc_new(m, b->file, b->line);
	x.v->name = imp_strdup(b->name);
	collect(&x, defaults, b);
	if (x_type(&x) == 0 && x_flags(&x) == 0 && x_socket(&x) == 0 &&
	    x_program(&x) == 0 && x_port(&x) == 0) {
		x_settings(&x);
		x_enabled(&x, defaults);
		x_leftovers(&x);
	}
	for (i = 0; i < x.n; i++)
		imp_list_free(&x.vals[i].vals);
	free(x.vals);
}
