/*
 * import_fold.c - the services read, made superd's: ports as numbers,
 * what a wait service cannot have turned into notes, the lines inetd
 * needs per protocol and address family folded into one service, and
 * names made unique.
 */
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

static int
live(const struct imp_svc *v)
{
	return v != NULL && !v->dropped;
}

/* A name from /etc/services as its number, when this machine knows it. */
static void
resolve_port(struct imp_svc *v)
{
	const char *proto = v->protos & IMP_TCP ? "tcp" : "udp";
	struct servent *se;
	int port;

	if (v->port == NULL || strspn(v->port, "0123456789") == strlen(v->port))
		return;
	se = getservbyname(v->port, proto);
	if (se == NULL && v->protos == (IMP_TCP | IMP_UDP))
		se = getservbyname(v->port, "udp");
	port = se ? ntohs(se->s_port) : imp_internal_port(v->port);
	if (port == 0) {
		imp_note(v,
		    "port \"%s\" is not in /etc/services here: "
		    "superd looks it up when it starts",
		    v->port);
		return;
	}
	free(v->port);
	v->port = imp_printf("%d", port);
}

/* A wait service's program takes the clients: superd refuses these. */
static void
unwait(const char *kind, struct imp_svc *v)
{
	const char *why = "a wait service's program takes the clients itself";
	struct imp_list *lists[] = {&v->only_from, &v->no_access};
	const char *names[] = {"only_from", "no_access"};
	int i;

	if (!v->wait)
		return;
	if (v->rate != IMP_UNSET)
		imp_note(v, "%s's rate (%ld a second) not carried over: %s",
		    kind, v->rate, why);
	if (v->per_source != IMP_UNSET)
		imp_note(v, "%s's per_source (%ld) not carried over: %s", kind,
		    v->per_source, why);
	v->rate = v->per_source = IMP_UNSET;
	for (i = 0; i < 2; i++) {
		if (lists[i]->given)
			imp_note(v, "%s's %s not carried over: %s", kind,
			    names[i], why);
		imp_list_free(lists[i]);
	}
}

/* "::" takes every address, "0.0.0.0" every IPv4 one: the others go. */
static void
normalize(struct imp_list *addrs)
{
	struct imp_list out = {0};
	int any6 = imp_list_has(addrs, "::"), i;
	int any4 = imp_list_has(addrs, "0.0.0.0");

	for (i = 0; i < addrs->n; i++) {
		if (any6 && strcmp(addrs->v[i], "::") != 0)
			continue;
		if (any4 && strchr(addrs->v[i], ':') == NULL &&
		    strcmp(addrs->v[i], "0.0.0.0") != 0)
			continue;
		if (!imp_list_has(&out, addrs->v[i]))
			imp_list_add(&out, addrs->v[i]);
	}
	out.given = addrs->given;
	imp_list_free(addrs);
	*addrs = out;
}

static int
same_set(const struct imp_list *a, const struct imp_list *b)
{
	int i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!imp_list_has(b, a->v[i]))
			return 0;
	return 1;
}

/* Service j, now part of service i, leaves the list. */
static void
absorb(struct imp *m, char **keys, int i, int j)
{
	struct imp_svc *a = m->svcs[i], *b = m->svcs[j];
	int k;

	for (k = 0; k < b->from.n; k++)
		imp_list_add(&a->from, b->from.v[k]);
	a->v6only = a->v6only && b->v6only;
	imp_svc_free(b);
	free(keys[j]);
	memmove(&m->svcs[j], &m->svcs[j + 1],
	    (m->nsvcs - j - 1) * sizeof(*m->svcs));
	memmove(&keys[j], &keys[j + 1], (m->nsvcs - j - 1) * sizeof(*keys));
	m->nsvcs--;
}

/*
 * Two services alike but for where they listen (tcp and tcp6 lines):
 * pass 0 joins their addresses when their protocols are the same; pass
 * 1 joins their protocols (echo's tcp and udp lines) when their
 * addresses are.
 */
static int
foldable(struct imp *m, char **keys, int i, int j, int pass)
{
	struct imp_svc *a = m->svcs[i], *b = m->svcs[j];

	if (!live(a) || !live(b) || a->disabled != b->disabled ||
	    strcmp(keys[i], keys[j]) != 0)
		return 0;
	if (pass == 0)
		return a->protos == b->protos;
	return (a->protos & b->protos) == 0 && same_set(&a->addrs, &b->addrs);
}

static void
fold_pass(struct imp *m, char **keys, int pass)
{
	struct imp_svc *a;
	int i, j, k;

	for (i = 0; i < m->nsvcs; i++)
		for (j = i + 1; j < m->nsvcs; j++) {
			if (!foldable(m, keys, i, j, pass))
				continue;
			a = m->svcs[i];
			for (k = 0; k < m->svcs[j]->addrs.n; k++)
				imp_list_add(&a->addrs, m->svcs[j]->addrs.v[k]);
			normalize(&a->addrs);
			a->protos |= m->svcs[j]->protos;
			absorb(m, keys, i, j--);
		}
}

static void
fold_alike(struct imp *m)
{
	char **keys = imp_alloc((m->nsvcs + 1) * sizeof(*keys));
	int i;

	for (i = 0; i < m->nsvcs; i++)
		keys[i] = live(m->svcs[i]) ? imp_settings(m->svcs[i]) : NULL;
	fold_pass(m, keys, 0);
	fold_pass(m, keys, 1);
	for (i = 0; i < m->nsvcs; i++)
		free(keys[i]);
	free(keys);
}

/* What names a service declared by port number or path: its program. */
static const char *
name_source(const struct imp_svc *v)
{
	const char *s = v->name ? v->name : "service", *slash;

	if (strspn(s, "0123456789") != strlen(s) && v->path == NULL)
		return s;
	if (v->exec.n > 0)
		return (slash = strrchr(v->exec.v[0], '/')) ? slash + 1
							    : v->exec.v[0];
	return v->script ? v->script : "service";
}

/* [a-z0-9_-], as superd's names are; a script's without its ".lua". */
static char *
clean_name(const struct imp_svc *v)
{
	const char *s = name_source(v);
	char *out = imp_printf("%.40s", s);
	int i;

	if (s == v->script)
		out[strcspn(out, ".")] = '\0';
	for (i = 0; out[i]; i++) {
		out[i] = (char)tolower((unsigned char)out[i]);
		if (!isalnum((unsigned char)out[i]) && out[i] != '_')
			out[i] = '-';
	}
	return out;
}

static int
taken(struct imp *m, int upto, const char *name)
{
	int i;

	for (i = 0; i < upto; i++)
		if (live(m->svcs[i]) && strcmp(m->svcs[i]->name, name) == 0)
			return 1;
	return 0;
}

/* ftp, then ftp-udp for its UDP twin, then ftp-2, ftp-3... */
static void
unique_names(struct imp *m)
{
	struct imp_svc *v;
	char *want, *name;
	int i, n;

	for (i = 0; i < m->nsvcs; i++) {
		if (!live(v = m->svcs[i]))
			continue;
		want = clean_name(v);
		name = v->protos == IMP_UDP ? imp_printf("%s-udp", want)
					    : imp_strdup(want);
		if (!taken(m, i, want)) {
			free(name);
			name = imp_strdup(want);
		}
		for (n = 2; taken(m, i, name); n++) {
			free(name);
			name = imp_printf("%s-%d", want, n);
		}
		free(want);
		free(v->name);
		v->name = name;
	}
}

void
imp_fold(struct imp *m)
{
	struct imp_svc *v;
	int i;

	for (i = 0; i < m->nsvcs; i++) {
		if (!live(v = m->svcs[i]))
			continue;
		resolve_port(v);
		normalize(&v->addrs);
		unwait(m->kind, v);
	}
	fold_alike(m);
	for (i = 0; i < m->nsvcs; i++)
		if (live(v = m->svcs[i]) && v->v6only)
			imp_note(v, "inetd listened on IPv6 only; superd's "
				    "\"::\" takes IPv4 clients too");
	unique_names(m);
}
