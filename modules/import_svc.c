/* import_svc.c - superd -I's model: services, string lists, notes, errors,
 * the files read. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

/*
 * -I is a command that runs once and prints: when memory runs out there
 * is nothing to keep serving, so it says so and exits.
 */
static void
out_of_memory(void)
{
	fprintf(stderr, "superd: -I: out of memory\n");
	exit(1);
}

void *
imp_alloc(size_t size)
{
	void *p = calloc(1, size);

	if (p == NULL)
		out_of_memory();
	return p;
}

char *
imp_strdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		out_of_memory();
	return p;
}

char *
imp_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	return s;
}

void
imp_list_add(struct imp_list *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 2) * sizeof(*v));

	if (v == NULL)
		out_of_memory();
	l->v = v;
	l->v[l->n++] = imp_strdup(s);
	l->v[l->n] = NULL;
	l->given = 1;
}

int
imp_list_has(const struct imp_list *l, const char *s)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* xinetd's -=: every copy of s goes. */
void
imp_list_del(struct imp_list *l, const char *s)
{
	int i, j;

	for (i = j = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			free(l->v[i]);
		else
			l->v[j++] = l->v[i];
	l->n = j;
	if (l->v != NULL)
		l->v[j] = NULL;
}

void
imp_list_free(struct imp_list *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A new service of m, declared at file:line, with every number unset. */
struct imp_svc *
imp_svc_new(struct imp *m, const char *file, int line)
{
	struct imp_svc *v = imp_alloc(sizeof(*v)), **svcs;
	char *at = imp_printf("%s:%d", file, line);
	int i;

	v->max_connections = v->per_source = v->rate = IMP_UNSET;
	v->nice = IMP_UNSET;
	for (i = 0; i < IMP_NRL; i++)
		v->rlimits[i] = IMP_UNSET;
	imp_list_add(&v->from, at);
	free(at);
	svcs = realloc(m->svcs, (m->nsvcs + 1) * sizeof(*svcs));
	if (svcs == NULL)
		out_of_memory();
	m->svcs = svcs;
	m->svcs[m->nsvcs++] = v;
	return v;
}

void
imp_svc_free(struct imp_svc *v)
{
	struct imp_list *lists[] = {&v->from, &v->addrs, &v->options, &v->exec,
	    &v->only_from, &v->no_access, &v->env, &v->passenv, &v->notes};
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		imp_list_free(lists[i]);
	free(v->name);
	free(v->port);
	free(v->path);
	free(v->script);
	free(v->argv0);
	free(v->user);
	free(v->group);
	free(v->umask);
	free(v);
}

/* A port given as a number that no port has. */
int
imp_bad_port(const char *port)
{
	long n = strtol(port, NULL, 10);

	return port[0] != '\0' && strspn(port, "0123456789") == strlen(port) &&
	       (n < 1 || n > 65535);
}

void
imp_note(struct imp_svc *v, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		out_of_memory();
	va_end(ap);
	if (!imp_list_has(&v->notes, s))
		imp_list_add(&v->notes, s);
	free(s);
}

/* Said at once on stderr, as superd -t says its errors; -I exits 1. */
void
imp_error(struct imp *m, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	m->errors++;
}

void
imp_free(struct imp *m)
{
	int i;

	for (i = 0; i < m->nsvcs; i++)
		imp_svc_free(m->svcs[i]);
	free(m->svcs);
	imp_list_free(&m->notes);
}

/* A whole file as a string, or NULL (the error said). */
char *
imp_read(struct imp *m, const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (f == NULL) {
		imp_error(m, path, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (getdelim(&text, &len, '\0', f) < 0 && ferror(f)) {
		imp_error(m, path, 0, "cannot read: %s", strerror(errno));
		free(text);
		text = NULL;
	} else if (text == NULL)
		text = imp_strdup("");
	fclose(f);
	return text;
}
