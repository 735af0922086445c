/*
 * import_inetd.c - inetd.conf lines, as OpenBSD's inetd and Debian's
 * openbsd-inetd read them, as superd services:
 *
 *   [addr[,addr]:]service socket-type protocol wait[.max] user[:group]
 *       program [argv0 args...]
 */
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

#define MAXWORDS 128
/* Debian's update-inetd disables a line by putting this in front. */
#define DEBIAN_OFF "#<off>#"

/* One line being read, and what the lines before it said. */
struct line {
	struct imp *m;
	const char *file;
	int no;
	char *text; /* as written, for the notes */
	char *w[MAXWORDS];
	int n;
	int off;		/* disabled by update-inetd */
	struct imp_list *addrs; /* a line "addr:" set these for those after */
};

/* The fields after the service's name, checked. */
struct fields {
	int dgram, unix_sock, family; /* family: 4, 6 or 46 */
	int wait;
	long max, max_child, per_source;
	char *user, *group;
};

static int
split(struct line *l, char *s)
{
	char *save = NULL, *w;

	l->n = 0;
	for (w = strtok_r(s, " \t", &save); w && l->n < MAXWORDS;
	     w = strtok_r(NULL, " \t", &save))
		l->w[l->n++] = w;
	return w == NULL ? 0 : -1;
}

/* A line whose service cannot come along: the reason and the line. */
static void
drop(struct line *l, const char *fmt, const char *arg)
{
	struct imp_svc *v = imp_svc_new(l->m, l->file, l->no);

	v->dropped = 1;
	imp_note(v, fmt, arg);
	imp_note(v, "  %s", l->text);
}

/*
 * A line that is not inetd.conf: an error, and the line kept as a note.
 * After update-inetd's marker it is taken for a plain comment.
 */
static void
bad(struct line *l, const char *fmt, const char *arg)
{
	char *msg;

	if (l->off)
		return;
	msg = imp_printf(fmt, arg);
	imp_error(l->m, l->file, l->no, "%s", msg);
	drop(l, "not imported: %s:", msg);
	free(msg);
}

static int
socket_type(struct line *l, struct fields *f)
{
	const char *t = l->w[1];

	if (strcmp(t, "stream") == 0 || strcmp(t, "dgram") == 0) {
		f->dgram = t[0] == 'd';
		return 0;
	}
	if (strcmp(t, "raw") == 0 || strcmp(t, "rdm") == 0 ||
	    strcmp(t, "seqpacket") == 0)
		drop(l,
		    "inetd socket type \"%s\" not carried over: superd "
		    "serves stream and dgram sockets",
		    t);
	else
		bad(l, "unknown socket type \"%s\"", t);
	return -1;
}

/* tcp, tcp4, tcp6, tcp46 and the same for udp; unix. */
static int
protocol(struct line *l, struct fields *f)
{
	const char *p = l->w[2], *want = f->dgram ? "udp" : "tcp";

	if (strncmp(p, "rpc/", 4) == 0) {
		drop(l,
		    "inetd RPC service not carried over: superd does not "
		    "register with rpcbind (%s)",
		    p);
		return -1;
	}
	if (strcmp(p, "unix") == 0) {
		f->unix_sock = 1;
		return 0;
	}
	if (strncmp(p, want, 3) != 0 ||
	    (strcmp(p + 3, "") != 0 && strcmp(p + 3, "4") != 0 &&
		strcmp(p + 3, "6") != 0 && strcmp(p + 3, "46") != 0)) {
		bad(l, "protocol \"%s\" does not go with the socket type", p);
		return -1;
	}
	f->family = p[3] == '\0' || strcmp(p + 3, "4") == 0 ? 4
		    : strcmp(p + 3, "6") == 0		    ? 6
							    : 46;
	return 0;
}

static int
number(const char *s, long *out)
{
	char *end;

	*out = strtol(s, &end, 10);
	return s[0] != '\0' && *end == '\0' && *out > 0 ? 0 : -1;
}

/*
 * wait or nowait, then OpenBSD's ".max" (a minute's worth) or FreeBSD's
 * "/max-child/max-per-ip-per-minute/max-child-per-ip".
 */
static int
wait_field(struct line *l, struct fields *f)
{
	char *w = l->w[3], *p = w + strcspn(w, "./"), *q;
	long per_minute = 0;
	int sep = *p;

	*p = '\0';
	if (strcmp(w, "wait") != 0 && strcmp(w, "nowait") != 0)
		goto fail;
	f->wait = w[0] == 'w';
	if (sep == '.' && number(p + 1, &f->max) < 0)
		goto fail;
	if (sep == '/') {
		for (q = p + 1; *q; q++)
			if (!isdigit((unsigned char)*q) && *q != '/')
				goto fail;
		sscanf(p + 1, "%ld/%ld/%ld", &f->max_child, &per_minute,
		    &f->per_source);
	}
	if (per_minute > 0)
		f->max = -per_minute; /* per source: noted, not carried */
	*p = sep;
	return 0;
fail:
	*p = sep;
	bad(l, "\"%s\" is not wait or nowait[.max]", w);
	return -1;
}

static void
user_field(struct line *l, struct fields *f)
{
	char *u = l->w[4], *g = u + strcspn(u, ":.");

	f->user = u;
	f->group = NULL;
	if (*g != '\0') {
		*g = '\0';
		f->group = g + 1;
	}
}

static int
fields(struct line *l, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	if (l->n < 6) {
		bad(l, "%s",
		    "expected service, socket type, protocol, wait, user and "
		    "program");
		return -1;
	}
	if (socket_type(l, f) < 0 || protocol(l, f) < 0 || wait_field(l, f) < 0)
		return -1;
	user_field(l, f);
	if (strcmp(l->w[5], "internal") != 0 && l->w[5][0] != '/') {
		bad(l, "program \"%s\" is not internal nor an absolute path",
		    l->w[5]);
		return -1;
	}
	return 0;
}

/* "addr,addr:service": the addresses, or the default ones, or the family's. */
static void
addresses(
    struct line *l, struct imp_svc *v, const struct fields *f, char *hosts)
{
	char *save = NULL, *a;
	int i;

	if (hosts != NULL && strcmp(hosts, "*") != 0) {
		for (a = strtok_r(hosts, ",", &save); a;
		     a = strtok_r(NULL, ",", &save))
			imp_address(v, a);
		return;
	}
	if (hosts == NULL && l->addrs->n > 0) {
		for (i = 0; i < l->addrs->n; i++)
			imp_address(v, l->addrs->v[i]);
		return;
	}
	imp_list_add(&v->addrs, f->family == 4 ? "0.0.0.0" : "::");
	v->v6only = f->family == 6;
}

/* An internal service named by number: /etc/services says which. */
static int
internal(struct imp_svc *v, const char *service, int dgram)
{
	struct servent *se;
	long port;

	if (imp_internal(v, service) == 0)
		return 0;
	if (number(service, &port) < 0 || port > 65535)
		return -1;
	se = getservbyport(htons(port), dgram ? "udp" : "tcp");
	return se != NULL ? imp_internal(v, se->s_name) : -1;
}

/* wait, the per-minute limit and FreeBSD's counts, for a program. */
static void
limits(struct imp_svc *v, const struct fields *f, const char *w)
{
	if (f->max > 0) {
		v->rate = (f->max + 59) / 60;
		imp_note(v,
		    "inetd \"%s\" allows %ld a minute; superd's rate counts "
		    "a second: %ld/60, rounded up",
		    w, f->max, f->max);
	} else if (f->max < 0)
		imp_note(v,
		    "inetd \"%s\": the limit of %ld a minute from one "
		    "address is not carried over",
		    w, -f->max);
	if (f->max_child > 0)
		v->max_connections = f->max_child;
	if (f->per_source > 0)
		v->per_source = f->per_source;
}

static void
program(struct line *l, struct imp_svc *v, const struct fields *f)
{
	v->user = imp_strdup(f->user);
	if (f->group != NULL)
		v->group = imp_strdup(f->group);
	v->wait = f->wait || f->dgram;
	if (f->dgram && !f->wait)
		imp_note(v, "inetd ran it nowait: superd runs a UDP program "
			    "as a wait service");
	imp_program(v, "inetd", l->w[5], l->w + 6, l->n - 6);
}

static void
service(struct line *l, const struct fields *f)
{
	char *name = l->w[0], *colon = strrchr(name, ':'), *hosts = NULL;
	struct imp_svc *v;

	if (colon != NULL) {
		*colon = '\0';
		hosts = name;
		name = colon + 1;
	}
	if (!f->unix_sock && imp_bad_port(name)) {
		bad(l, "port %s is not 1 to 65535", name);
		return;
	}
	v = imp_svc_new(l->m, l->file, l->no);
	v->disabled = l->off;
	if (l->off)
		imp_note(v, "disabled by update-inetd (#<off>#)");
	v->name = imp_strdup(name);
	v->protos = f->dgram ? IMP_UDP : IMP_TCP;
	if (f->unix_sock)
		v->path = imp_strdup(name);
	else {
		v->port = imp_strdup(name);
		addresses(l, v, f, hosts);
	}
	limits(v, f, l->w[3]);
	if (strcmp(l->w[5], "internal") != 0)
		program(l, v, f);
	else if (internal(v, name, f->dgram) < 0) {
		v->dropped = 1;
		imp_note(v,
		    "inetd's internal \"%s\" not carried over: superd "
		    "ships echo, discard, daytime, chargen and time",
		    name);
		imp_note(v, "  %s", l->text);
	}
}

/* "addr:" alone: the addresses of the lines after it ("*:" clears them). */
static void
default_addresses(struct line *l)
{
	char *hosts = l->w[0], *save = NULL, *a;

	hosts[strlen(hosts) - 1] = '\0';
	imp_list_free(l->addrs);
	if (strcmp(hosts, "*") == 0)
		return;
	for (a = strtok_r(hosts, ",", &save); a; a = strtok_r(NULL, ",", &save))
		imp_list_add(l->addrs, a);
}

static void
one_line(struct line *l, char *s)
{
	struct fields f;
	char *copy;

	s += strspn(s, " \t");
	if (strncmp(s, DEBIAN_OFF, strlen(DEBIAN_OFF)) == 0) {
		l->off = 1;
		s += strlen(DEBIAN_OFF) + strspn(s + strlen(DEBIAN_OFF), " \t");
	} else if (*s == '#' || *s == '\0')
		return;
	l->text = copy = imp_strdup(s);
	if (split(l, s) < 0)
		bad(l, "more than %s fields", "128");
	else if (l->n == 1 && s[strlen(s) - 1] == ':' && !l->off)
		default_addresses(l);
	else if (fields(l, &f) == 0)
		service(l, &f);
	free(copy);
}

/* Every line of text (the file's, modified in place) into m. */
void
import_inetd(struct imp *m, const char *file, char *text)
{
	struct imp_list addrs = {0};
	struct line l = {m, file, 0, NULL, {0}, 0, 0, &addrs};
	char *s, *next;

	for (s = text; s != NULL; s = next) {
		next = strchr(s, '\n');
		if (next != NULL)
			*next++ = '\0';
		s[strcspn(s, "\r")] = '\0';
		l.no++;
		l.off = 0;
		one_line(&l, s);
	}
	imp_list_free(&addrs);
}
