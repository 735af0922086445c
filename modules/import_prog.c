/*
 * import_prog.c - what an imported service runs and where it listens:
 * the shipped script for an internal service, a program (out from under
 * tcpd), its addresses.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "import.h"

/* tcpd's REAL_DAEMON_DIR on Debian: where it finds a daemon named bare. */
#define TCPD_DIR "/usr/sbin"

/* inetd's and xinetd's built-in services that superd ships a script for. */
static const struct internal {
	const char *name, *script;
	int port; /* when /etc/services does not list it */
} internals[] = {
    {"echo", "echo.lua", 7},
    {"discard", "discard.lua", 9},
    {"daytime", "daytime.lua", 13},
    {"chargen", "chargen.lua", 19},
    {"time", "time.lua", 37},
    {NULL, NULL, 0},
};

static const struct internal *
internal_named(const char *name)
{
	const struct internal *i;

	for (i = internals; i->name; i++)
		if (strcmp(i->name, name) == 0)
			return i;
	return NULL;
}

/* v runs the script of the built-in name: 0, or -1 when none ships. */
int
imp_internal(struct imp_svc *v, const char *name)
{
	const struct internal *i = internal_named(name);

	if (i == NULL)
		return -1;
	v->script = imp_strdup(i->script);
	return 0;
}

int
imp_internal_port(const char *name)
{
	const struct internal *i = internal_named(name);

	return i ? i->port : 0;
}

static const char *
base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * path and the arguments after argv[0] (name); argv0 only when name says
 * more than the path does, since superd's argv[0] is the path.
 */
static void
program_args(struct imp_svc *v, const char *path, const char *name, char **args,
    int nargs)
{
	int i;

	imp_list_add(&v->exec, path);
	if (name != NULL && strcmp(name, path) != 0 &&
	    strcmp(name, base(path)) != 0)
		v->argv0 = imp_strdup(name);
	for (i = 0; i < nargs; i++)
		imp_list_add(&v->exec, args[i]);
}

/*
 * tcpd checked hosts.allow and hosts.deny, then ran the daemon its
 * argv[0] names (looked up in its directory when bare) with that name's
 * last part as argv[0].  superd has no libwrap: the program runs
 * directly, and the note says where its rules must go now.
 */
static void
unwrap_tcpd(struct imp_svc *v, const char *kind, char **argv, int argc)
{
	char *real;

	if (argv[0][0] == '/')
		real = imp_strdup(argv[0]);
	else
		real = imp_printf("%s/%s", TCPD_DIR, argv[0]);
	imp_note(v,
	    "%s ran it through tcpd: hosts.allow and hosts.deny are not "
	    "applied; put their rules in only_from and no_access",
	    kind);
	if (argv[0][0] != '/')
		imp_note(v, "tcpd would have run %s: check the path", real);
	program_args(v, real, NULL, argv + 1, argc - 1);
	free(real);
}

/*
 * v runs the program at path with argv (argv[0] first, as inetd.conf
 * gives it); tcpd is taken out of the way.
 */
void
imp_program(struct imp_svc *v, const char *kind, const char *path, char **argv,
    int argc)
{
	if (argc == 0)
		program_args(v, path, NULL, NULL, 0);
	else if (strcmp(base(path), "tcpd") == 0)
		unwrap_tcpd(v, kind, argv, argc);
	else
		program_args(v, path, argv[0], argv + 1, argc - 1);
}

static int
numeric(const char *addr)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, addr, buf) == 1 ||
	       inet_pton(AF_INET6, addr, buf) == 1;
}

/*
 * superd binds numeric addresses only: a host name is looked up now,
 * once, as xinetd did at its start; one that does not resolve stays, so
 * that superd -t points at it.
 */
static void
resolve(struct imp_svc *v, const char *name)
{
	struct addrinfo hints = {0}, *res, *r;
	char text[INET6_ADDRSTRLEN];

	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0) {
		imp_note(v,
		    "\"%s\" is no numeric address and does not "
		    "resolve here: give its address",
		    name);
		imp_list_add(&v->addrs, name);
		return;
	}
	for (r = res; r; r = r->ai_next)
		if (getnameinfo(r->ai_addr, r->ai_addrlen, text, sizeof(text),
			NULL, 0, NI_NUMERICHOST) == 0 &&
		    !imp_list_has(&v->addrs, text))
			imp_list_add(&v->addrs, text);
	freeaddrinfo(res);
	imp_note(v, "host name \"%s\" was resolved when imported", name);
}

/* One address v listens on, as the source wrote it ([::1] too). */
void
imp_address(struct imp_svc *v, const char *addr)
{
	size_t n = strlen(addr);
	char *bare;

	if (n > 2 && addr[0] == '[' && addr[n - 1] == ']')
		bare = imp_printf("%.*s", (int)n - 2, addr + 1);
	else
		bare = imp_strdup(addr);
	if (numeric(bare))
		imp_list_add(&v->addrs, bare);
	else
		resolve(v, bare);
	free(bare);
}
