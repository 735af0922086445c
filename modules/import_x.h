/*
 * import_x.h - xinetd's blocks and attributes, between the reader
 * (import_xinetd.c) and the conversion (import_xattr.c, import_xval.c).
 */
#ifndef SUPERD_IMPORT_X_H
#define SUPERD_IMPORT_X_H

#include "import.h"

/* One "attribute op values" line of a block, and the block. */
enum { XOP_SET, XOP_ADD, XOP_DEL };
struct xattr {
	char *name; /* "" for a line that is none: vals holds its text */
	int op;
	struct imp_list vals;
	int line;
};
struct xblock {
	char *name; /* the service's; NULL for defaults */
	char *file;
	int line;
	struct xattr *a;
	int n;
};

/* An attribute's value once the defaults and the service have spoken. */
struct xval {
	const char *name;
	struct imp_list vals;
	int inherited; /* the defaults' alone: the header notes it */
	int used;
};

/* One service being converted. */
struct xsvc {
	const struct xblock *b;
	struct imp_svc *v;
	struct xval *vals;
	int n;
	int internal, nameinargs, dgram;
	int family; /* 4 or 6 from flags, 0 when they say neither */
};

/* import_xattr.c */
void xinetd_service(
    struct imp *m, const struct xblock *b, const struct xblock *defaults);

/* import_xval.c */
struct xval *x_find(struct xsvc *x, const char *name);
const struct imp_list *x_take(struct xsvc *x, const char *name);
const char *x_take1(struct xsvc *x, const char *name);
long x_number(const char *s);
int x_drop(struct xsvc *x, const char *why);
void x_disable(struct xsvc *x, const char *why);
void x_lost(
    struct xsvc *x, const char *name, const char *value, const char *why);
void x_settings(struct xsvc *x);
void x_leftovers(struct xsvc *x);
void xinetd_defaults(struct imp *m, const struct xblock *defaults);

#endif
