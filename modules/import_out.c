/*
 * import_out.c - superd -I's output: a whole superd.conf, a header to
 * review, each service with its source lines, and comments for what did
 * not come along.
 */
#include <stdlib.h>
#include <string.h>

#include "import.h"

/* Where make install puts the shipped scripts (echo.lua, relay.lua...). */
#ifndef SUPERD_SCRIPTS
#define SUPERD_SCRIPTS "/usr/local/share/superd/services"
#endif

static const char *const rlimit_names[IMP_NRL] = {
    "as", "cpu", "nofile", "nproc", "fsize", "core"};

/* Where lines go, and what starts each: a disabled service's is "#". */
struct out {
	FILE *f;
	const char *lead;
};

/* A libconfig string: quotes and backslashes escaped, controls as \x. */
static void
put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	fputc('"', f);
}

static void
put_list(FILE *f, const struct imp_list *l)
{
	int i;

	fputc('[', f);
	for (i = 0; i < l->n; i++) {
		fputs(i ? ", " : "", f);
		put_str(f, l->v[i]);
	}
	fputc(']', f);
}

static void
set_str(struct out *o, const char *name, const char *value)
{
	if (value == NULL)
		return;
	fprintf(o->f, "%s%s = ", o->lead, name);
	put_str(o->f, value);
	fputs(";\n", o->f);
}

static void
set_num(struct out *o, const char *name, long value)
{
	if (value != IMP_UNSET)
		fprintf(o->f, "%s%s = %ld;\n", o->lead, name, value);
}

static void
set_list(struct out *o, const char *name, const struct imp_list *l)
{
	if (!l->given)
		return;
	fprintf(o->f, "%s%s = ", o->lead, name);
	put_list(o->f, l);
	fputs(";\n", o->f);
}

static void
set_group(struct out *o, const char *name, const struct imp_list *l)
{
	int i;

	if (l->n == 0)
		return;
	fprintf(o->f, "%s%s = {", o->lead, name);
	for (i = 0; i < l->n; i++)
		fprintf(o->f, " %s", l->v[i]);
	fputs(" };\n", o->f);
}

static void
set_rlimits(struct out *o, const long *rl)
{
	int i, any = 0;

	for (i = 0; i < IMP_NRL; i++) {
		if (rl[i] == IMP_UNSET)
			continue;
		if (any++ == 0)
			fprintf(o->f, "%srlimits = {", o->lead);
		fprintf(o->f, " %s = %ld;", rlimit_names[i], rl[i]);
	}
	if (any)
		fputs(" };\n", o->f);
}

static void
set_port(struct out *o, const struct imp_svc *v)
{
	if (v->path != NULL)
		set_str(o, "path", v->path);
	else if (strspn(v->port, "0123456789") == strlen(v->port))
		fprintf(o->f, "%sport = %s;\n", o->lead, v->port);
	else
		set_str(o, "port", v->port);
}

/* Every setting after name, port, address and protocol. */
static void
settings(struct out *o, const struct imp_svc *v)
{
	int i;

	set_str(o, "script", v->script);
	set_list(o, "exec", &v->exec);
	set_str(o, "argv0", v->argv0);
	set_group(o, "options", &v->options);
	set_str(o, "user", v->user);
	set_str(o, "group", v->group);
	if (v->wait)
		fprintf(o->f, "%swait = true;\n", o->lead);
	set_num(o, "max_connections", v->max_connections);
	set_num(o, "per_source", v->per_source);
	set_num(o, "rate", v->rate);
	set_list(o, "only_from", &v->only_from);
	set_list(o, "no_access", &v->no_access);
	set_list(o, "env", &v->env);
	set_list(o, "passenv", &v->passenv);
	set_rlimits(o, v->rlimits);
	set_num(o, "nice", v->nice);
	set_str(o, "umask", v->umask);
	for (i = 0; i < v->notes.n; i++)
		fprintf(o->f, "%s# %s\n", o->lead, v->notes.v[i]);
}

/*
 * v's settings as one string, but for its name, addresses and protocols:
 * two services with the same one can fold into one.
 */
char *
imp_settings(const struct imp_svc *v)
{
	struct out o = {NULL, ""};
	char *s = NULL;
	size_t len;

	if ((o.f = open_memstream(&s, &len)) == NULL) {
		fprintf(stderr, "superd: -I: out of memory\n");
		exit(1);
	}
	set_port(&o, v);
	settings(&o, v);
	fclose(o.f);
	return s;
}

/* "# /etc/inetd.conf:3,4": where the service came from. */
static void
sources(FILE *f, const struct imp_svc *v)
{
	const char *at, *colon, *prev = NULL;
	size_t len = 0;
	int i;

	fputs("  #", f);
	for (i = 0; i < v->from.n; i++) {
		at = v->from.v[i];
		colon = strrchr(at, ':');
		if (prev && (size_t)(colon - at) == len &&
		    strncmp(prev, at, len) == 0)
			fprintf(f, ",%s", colon + 1);
		else
			fprintf(f, "%s %s", i ? "," : "", at);
		prev = at;
		len = colon - at;
	}
	fputc('\n', f);
}

/* One address as a string, more as a list. */
static void
set_address(struct out *o, const struct imp_svc *v)
{
	if (v->addrs.n == 1)
		set_str(o, "address", v->addrs.v[0]);
	else if (v->addrs.n > 1)
		set_list(o, "address", &v->addrs);
}

/* A unix socket has no addresses; a protocol only for datagrams. */
static void
set_protocol(struct out *o, const struct imp_svc *v)
{
	if (v->path != NULL && v->protos == IMP_TCP)
		return;
	if (v->protos == (IMP_TCP | IMP_UDP))
		fprintf(o->f, "%sprotocol = [\"tcp\", \"udp\"];\n", o->lead);
	else
		fprintf(o->f, "%sprotocol = \"%s\";\n", o->lead,
		    v->protos == IMP_UDP ? "udp" : "tcp");
}

static void
service(FILE *f, const struct imp_svc *v, int comma)
{
	struct out o = {f, v->disabled ? "  #   " : "    "};
	const char *open = v->disabled ? "  # {" : "  {";

	sources(f, v);
	fprintf(f, "%s\n", open);
	set_str(&o, "name", v->name);
	set_port(&o, v);
	set_address(&o, v);
	set_protocol(&o, v);
	settings(&o, v);
	fprintf(f, "%s}%s\n", v->disabled ? "  # " : "  ",
	    comma && !v->disabled ? "," : "");
}

/* A declaration that is no service: its notes, where it was. */
static void
dropped(FILE *f, const struct imp_svc *v)
{
	int i;

	for (i = 0; i < v->notes.n; i++)
		fprintf(f, "  # %s: %s\n", v->from.v[0], v->notes.v[i]);
}

static void
header(struct imp *m, FILE *f)
{
	int i;

	fprintf(f,
	    "# superd.conf imported by superd -I from %s %s.\n"
	    "#\n"
	    "# Review it before use.  These apply to all of superd, not to "
	    "a service:\n"
	    "#   log   every connection is logged at info, to stderr (to "
	    "syslog under -d);\n"
	    "#         %s logged to syslog: log = \"syslog\" does that.\n"
	    "#   user  superd's loop and scripts run as this user once the "
	    "ports are\n"
	    "#         bound (nobody, when started as root and it is unset); "
	    "each exec\n"
	    "#         service below still runs as the user %s gave it.\n"
	    "# What did not come along is a comment beside its service.  "
	    "Check with\n"
	    "# superd -t -c FILE.\n",
	    m->dir			    ? "the xinetd.d directory"
	    : strcmp(m->kind, "inetd") == 0 ? "the inetd.conf"
					    : "the xinetd configuration",
	    m->path, m->kind, m->kind);
	for (i = 0; i < m->notes.n; i++)
		fprintf(f, "# %s\n", m->notes.v[i]);
	fprintf(f,
	    "\n"
	    "script_dir = \"%s\";\n"
	    "# log = \"syslog\";\n"
	    "# user = \"nobody\";\n",
	    SUPERD_SCRIPTS);
}

void
imp_write(struct imp *m, FILE *out)
{
	int i, last = -1;

	for (i = 0; i < m->nsvcs; i++)
		if (!m->svcs[i]->dropped && !m->svcs[i]->disabled)
			last = i;
	header(m, out);
	fputs("\nservices = (\n", out);
	for (i = 0; i < m->nsvcs; i++)
		if (m->svcs[i]->dropped)
			dropped(out, m->svcs[i]);
		else
			service(out, m->svcs[i], i < last);
	fputs(");\n", out);
}
