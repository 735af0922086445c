/*
 * import_xinetd.c - xinetd.conf and xinetd.d files: the defaults block,
 * service blocks, include and includedir, read in xinetd's order and
 * converted once all are read (a defaults block applies to every
 * service, wherever it stands).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import_x.h"

#define MAXDEPTH 8 /* include files within include files */

/* What the files read so far declare. */
struct xconf {
	struct imp *m;
	struct xblock defaults;
	int have_defaults;
	struct xblock *svcs;
	int nsvcs;
	int depth;
};

/* A file's text, taken a line at a time. */
struct xfile {
	struct xconf *c;
	const char *file;
	char *rest;
	int no;
	char *again; /* a line to read once more: a block ended without } */
};

/* The next line that is not blank or a comment, trimmed; NULL at the end. */
static char *
next_line(struct xfile *f)
{
	char *s, *end;

	if ((s = f->again) != NULL) {
		f->again = NULL;
		return s;
	}
	while ((s = f->rest) != NULL) {
		if ((f->rest = strchr(s, '\n')) != NULL)
			*f->rest++ = '\0';
		f->no++;
		s += strspn(s, " \t\r");
		end = s + strlen(s);
		while (end > s && strchr(" \t\r", end[-1]))
			*--end = '\0';
		if (*s != '\0' && *s != '#')
			return s;
	}
	return NULL;
}

/* "service NAME" or "defaults", the lines that open a block. */
static int
opens_block(char *s, char **name)
{
	size_t n = strcspn(s, " \t");

	*name = NULL;
	if (n == 8 && strncmp(s, "defaults", 8) == 0)
		return 1;
	if (n != 7 || strncmp(s, "service", 7) != 0)
		return 0;
	*name = s + 7 + strspn(s + 7, " \t");
	return **name != '\0' && **name != '{';
}

/* xinetd's own files have a block, "service NAME" then "{", or includedir. */
int
import_is_xinetd(const char *text)
{
	char *copy = imp_strdup(text), *s, *name;
	struct xfile f = {NULL, "", copy, 0, NULL};
	int after_head = 0, yes = 0;

	while (!yes && (s = next_line(&f)) != NULL) {
		yes = (after_head && strcmp(s, "{") == 0) ||
		      strncmp(s, "includedir ", 11) == 0;
		after_head = opens_block(s, &name);
		if (after_head && s[strlen(s) - 1] == '{')
			yes = 1;
	}
	free(copy);
	return yes;
}

static void
block_add(struct xblock *b, const char *name, int op, int line)
{
	struct xattr *a = realloc(b->a, (b->n + 1) * sizeof(*a));

	if (a == NULL) {
		fprintf(stderr, "superd: -I: out of memory\n");
		exit(1);
	}
	b->a = a;
	a = &b->a[b->n++];
	memset(a, 0, sizeof(*a));
	a->name = imp_strdup(name);
	a->op = op;
	a->line = line;
}

/* "name = v v ...", "name += ...", "name -= ...": -1 when it is none. */
static int
attribute(struct xfile *f, struct xblock *b, char *s)
{
	char *end = s + strcspn(s, " \t+-="), *p, *save = NULL, *w;
	int op = XOP_SET;

	p = end + strspn(end, " \t");
	if (p[0] == '+' && p[1] == '=')
		op = XOP_ADD;
	else if (p[0] == '-' && p[1] == '=')
		op = XOP_DEL;
	else if (p[0] != '=' || end == s)
		return -1;
	p += op == XOP_SET ? 1 : 2;
	*end = '\0';
	block_add(b, s, op, f->no);
	for (w = strtok_r(p, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		imp_list_add(&b->a[b->n - 1].vals, w);
	return 0;
}

/* An error, and a comment in the output where the block would have been. */
static void
not_imported(struct imp *m, const char *file, int line, const char *name,
    const char *why)
{
	struct imp_svc *v = imp_svc_new(m, file, line);

	imp_error(m, file, line, "%s %s: %s", name ? "service" : "defaults",
	    name ? name : "block", why);
	v->dropped = 1;
	imp_note(v, "not imported: %s %s: %s", name ? "service" : "defaults",
	    name ? name : "block", why);
}

/* The block's lines up to its "}"; -1 (said) when the file ends first. */
static int
block(struct xfile *f, struct xblock *b)
{
	char *s, *copy, *name;

	while ((s = next_line(f)) != NULL) {
		if (strcmp(s, "}") == 0)
			return 0;
		if (opens_block(s, &name))
			break; /* the next block: this one lost its } */
		copy = imp_strdup(s);
		if (attribute(f, b, s) < 0) {
			imp_error(f->c->m, f->file, f->no,
			    "expected ATTRIBUTE = VALUE..., found \"%s\"",
			    copy);
			block_add(b, "", XOP_SET, f->no);
			imp_list_add(&b->a[b->n - 1].vals, copy);
		}
		free(copy);
	}
	not_imported(f->c->m, f->file, b->line, b->name, "no closing }");
	f->again = s;
	return -1;
}

static void
block_free(struct xblock *b)
{
	int i;

	for (i = 0; i < b->n; i++) {
		free(b->a[i].name);
		imp_list_free(&b->a[i].vals);
	}
	free(b->a);
	free(b->name);
	free(b->file);
	memset(b, 0, sizeof(*b));
}

static void
keep(struct xconf *c, struct xblock *b)
{
	struct xblock *svcs;
	char *note;

	if (b->name == NULL && !c->have_defaults) {
		c->defaults = *b;
		c->have_defaults = 1;
		return;
	}
	if (b->name == NULL) {
		note = imp_printf("xinetd: the second defaults block at %s:%d "
				  "is ignored, as xinetd ignores it",
		    b->file, b->line);
		imp_list_add(&c->m->notes, note);
		free(note);
		block_free(b);
		return;
	}
	if ((svcs = realloc(c->svcs, (c->nsvcs + 1) * sizeof(*svcs))) == NULL) {
		fprintf(stderr, "superd: -I: out of memory\n");
		exit(1);
	}
	c->svcs = svcs;
	c->svcs[c->nsvcs++] = *b;
}

/* "service NAME" or "defaults", its "{" on that line or the next. */
static void
entry(struct xfile *f, char *s, char *name)
{
	struct xblock b = {0};
	char *brace;
	size_t n;

	b.file = imp_strdup(f->file);
	b.line = f->no;
	if (name != NULL) {
		n = strcspn(name, " \t{");
		b.name = imp_printf("%.*s", (int)n, name);
	}
	brace = s[strlen(s) - 1] == '{' ? s : next_line(f);
	if (brace == NULL || (brace != s && strcmp(brace, "{") != 0)) {
		not_imported(f->c->m, f->file, b.line, b.name, "missing {");
		while (brace != NULL && strcmp(brace, "}") != 0)
			brace = next_line(f); /* as xinetd skips the entry */
		block_free(&b);
		return;
	}
	if (block(f, &b) == 0)
		keep(f->c, &b);
	else
		block_free(&b);
}

static void parse_file(struct xconf *c, const char *path);

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * includedir, as xinetd reads it: the regular files in C-locale order,
 * skipping names that hold a '.' or end in '~' (editor and package
 * manager leftovers such as foo.dpkg-old or foo~).
 */
static void
include_dir(struct xconf *c, const char *dir)
{
	struct imp_list names = {0};
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char *path;
	int i;

	if (d == NULL) {
		imp_error(c->m, dir, 0, "cannot read: %s", strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strchr(e->d_name, '.') == NULL &&
		    e->d_name[strlen(e->d_name) - 1] != '~')
			imp_list_add(&names, e->d_name);
	closedir(d);
	if (names.n > 0)
		qsort(names.v, names.n, sizeof(*names.v), by_name);
	for (i = 0; i < names.n; i++) {
		path = imp_printf("%s/%s", dir, names.v[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			parse_file(c, path);
		free(path);
	}
	imp_list_free(&names);
}

static void
directive(struct xfile *f, char *s)
{
	char *name, *arg = s + strcspn(s, " \t");

	arg += strspn(arg, " \t");
	if (strncmp(s, "includedir", 10) == 0 && strchr(" \t", s[10]) && *arg)
		include_dir(f->c, arg);
	else if (strncmp(s, "include", 7) == 0 && strchr(" \t", s[7]) && *arg)
		parse_file(f->c, arg);
	else if (opens_block(s, &name))
		entry(f, s, name);
	else
		imp_error(f->c->m, f->file, f->no,
		    "expected service NAME, defaults, include or includedir");
}

static void
parse_text(struct xconf *c, const char *file, char *text)
{
	struct xfile f = {c, file, text, 0, NULL};
	char *s;

	while ((s = next_line(&f)) != NULL)
		directive(&f, s);
}

static void
parse_file(struct xconf *c, const char *path)
{
	char *text;

	if (c->depth >= MAXDEPTH) {
		imp_error(
		    c->m, path, 0, "included more than %d deep", MAXDEPTH);
		return;
	}
	if ((text = imp_read(c->m, path)) == NULL)
		return;
	c->depth++;
	parse_text(c, path, text);
	c->depth--;
	free(text);
}

static void
convert(struct xconf *c)
{
	int i;

	xinetd_defaults(c->m, &c->defaults);
	for (i = 0; i < c->nsvcs; i++) {
		xinetd_service(c->m, &c->svcs[i], &c->defaults);
		block_free(&c->svcs[i]);
	}
	block_free(&c->defaults);
	free(c->svcs);
}

void
import_xinetd(struct imp *m, const char *file, char *text)
{
	struct xconf c = {0};

	c.m = m;
	parse_text(&c, file, text);
	convert(&c);
}

void
import_xinetd_dir(struct imp *m, const char *dir)
{
	struct xconf c = {0};

	c.m = m;
	include_dir(&c, dir);
	convert(&c);
}
