/* import.h - superd -I: an inetd.conf or xinetd files as superd services. */
#ifndef SUPERD_IMPORT_H
#define SUPERD_IMPORT_H

#include <stdio.h>

#define IMP_TCP 0x1
#define IMP_UDP 0x2
#define IMP_UNSET (-1L) /* a number the source did not give */

/* superd's rlimits, in the order they are written. */
enum {
	IMP_RL_AS,
	IMP_RL_CPU,
	IMP_RL_NOFILE,
	IMP_RL_NPROC,
	IMP_RL_FSIZE,
	IMP_RL_CORE,
	IMP_NRL
};

/* Strings that grow; given is set once the source named the list at all. */
struct imp_list {
	char **v;
	int n;
	int given; /* an empty only_from admits no one: not the same as none */
};

/* A service as superd will have it, and what of it could not come along. */
struct imp_svc {
	struct imp_list from; /* FILE:LINE of every declaration folded in */
	char *name;	      /* as declared; made unique when written */
	char *port;	      /* a number or a name from /etc/services */
	char *path;	      /* a unix socket instead of a port */
	struct imp_list addrs;
	int protos;
	int v6only; /* inetd's tcp6 or udp6 alone: IPv6 only there */
	char *script;
	struct imp_list options; /* "key = value;" as written */
	struct imp_list exec;	 /* the program's path, then its arguments */
	char *argv0, *user, *group, *umask;
	int wait;
	long max_connections, per_source, rate, nice;
	long rlimits[IMP_NRL];
	struct imp_list only_from, no_access, env, passenv;
	struct imp_list notes; /* one comment each: what was not carried */
	int disabled;	       /* written out commented */
	int dropped;	       /* not a service: its notes only */
};

struct imp {
	const char *kind; /* "inetd" or "xinetd" */
	const char *path; /* what -I was given */
	int dir;	  /* an xinetd.d directory */
	struct imp_svc **svcs;
	int nsvcs;
	struct imp_list notes; /* the header's: settings of no one service */
	int errors;
};

/* import.c */
int import_main(const char *path, FILE *out);
char *imp_read(struct imp *m, const char *path);

/* import_svc.c */
void *imp_alloc(size_t size);
char *imp_strdup(const char *s);
char *imp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void imp_list_add(struct imp_list *l, const char *s);
int imp_list_has(const struct imp_list *l, const char *s);
void imp_list_del(struct imp_list *l, const char *s);
void imp_list_free(struct imp_list *l);
struct imp_svc *imp_svc_new(struct imp *m, const char *file, int line);
void imp_svc_free(struct imp_svc *v);
int imp_bad_port(const char *port);
void imp_note(struct imp_svc *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void imp_error(struct imp *m, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void imp_free(struct imp *m);

/* import_prog.c: what both formats run, internal or a program */
int imp_internal(struct imp_svc *v, const char *name);
int imp_internal_port(const char *name);
void imp_program(struct imp_svc *v, const char *kind, const char *path,
    char **argv, int argc);
void imp_address(struct imp_svc *v, const char *addr);

/* import_fold.c */
void imp_fold(struct imp *m);

/* import_out.c */
void imp_write(struct imp *m, FILE *out);
char *imp_settings(const struct imp_svc *v);

/* import_inetd.c */
void import_inetd(struct imp *m, const char *file, char *text);

/* import_xinetd.c: the blocks of xinetd files */
int import_is_xinetd(const char *text);
void import_xinetd(struct imp *m, const char *file, char *text);
void import_xinetd_dir(struct imp *m, const char *dir);

#endif
