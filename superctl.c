/*
 * superctl.c - superd's control client: finds the control socket (-s, or
 * the `control` setting of superd's configuration), sends one request
 * line, and prints the reply: its text on stdout after "ok", on stderr
 * after "error".  The protocol is modules/control.h's.
 */
#include <errno.h>
#include <getopt.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "modules/confread.h"
#include "modules/control.h"

#ifndef SUPERD_CONFIG
#define SUPERD_CONFIG "/etc/superd/superd.conf"
#endif

#define EXIT_FAILED 1 /* superd refused the command, or it failed */
#define EXIT_USAGE 2  /* a bad command line, or no superd to ask */

/*
 * Seconds to wait for the reply: a reload runs every script first, an
 * upgrade waits for the new binary to serve (30 s at most).
 */
#define REPLY_TIMEOUT 60

static const struct command {
	const char *name;
	int min, max; /* arguments */
} commands[] = {
    {"status", 0, 0},
    {"connections", 0, 1},
    {"kick", 1, 1},
    {"disable", 1, 1},
    {"enable", 1, 1},
    {"reload", 0, 0},
    {"reload-scripts", 0, 0},
    {"upgrade", 0, 0},
    {NULL, 0, 0},
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: superctl [-c FILE | -s SOCKET] [--json] COMMAND\n"
	    "  -c FILE    superd's configuration, whose \"control\" names the\n"
	    "             socket (default %s)\n"
	    "  -s SOCKET  the control socket itself\n"
	    "  --json     status and connections as JSON\n"
	    "commands:\n"
	    "  status                 each service: state, counters, memory\n"
	    "  connections [SERVICE]  each open connection of a script or TLS "
	    "relay\n"
	    "  kick ID                end a connection (its fini runs)\n"
	    "  disable SERVICE        stop accepting; open connections carry "
	    "on\n"
	    "  enable SERVICE         accept again\n"
	    "  reload                 re-read the configuration, as SIGHUP\n"
	    "  reload-scripts         reload every script, as SIGUSR1\n"
	    "  upgrade                start the binary anew on the same "
	    "sockets,\n"
	    "                         as SIGUSR2; the old process drains\n",
	    SUPERD_CONFIG);
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "superctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	return EXIT_USAGE;
}

/* A word goes as it is: printable, without spaces. */
static int
plain_word(const char *w)
{
	if (*w == '\0')
		return 0;
	for (; *w; w++)
		if ((unsigned char)*w <= ' ' || (unsigned char)*w > '~')
			return 0;
	return 1;
}

/* The request line for argv (the command and its arguments), or NULL. */
static char *
request(int argc, char **argv, int json, int *rc)
{
	const struct command *c;
	char *line;
	size_t n = 16;
	int i;

	for (c = commands; c->name && strcmp(c->name, argv[0]) != 0; c++)
		;
	if (c->name == NULL) {
		*rc = usage_error("unknown command \"%s\"", argv[0]);
		return NULL;
	}
	if (argc - 1 < c->min || argc - 1 > c->max) {
		*rc = usage_error("%s: wrong number of arguments", c->name);
		return NULL;
	}
	for (i = 0; i < argc; i++) {
		if (!plain_word(argv[i])) {
			*rc = usage_error("\"%s\": not a plain word", argv[i]);
			return NULL;
		}
		n += strlen(argv[i]) + 1;
	}
	if ((line = malloc(n)) == NULL) {
		perror("superctl");
		*rc = EXIT_USAGE;
		return NULL;
	}
	strcpy(line, json ? "--json" : "");
	for (i = 0; i < argc; i++)
		strcat(strcat(line, *line ? " " : ""), argv[i]);
	strcat(line, "\n");
	return line;
}

/* The configuration's `control`, against its directory; or NULL, said. */
static char *
socket_of(const char *conf)
{
	char err[2048], *dir, *slash, *out = NULL;
	const char *p;
	config_t cfg;

	if ((dir = realpath(conf, NULL)) == NULL) {
		fprintf(stderr, "superctl: %s: %s\n", conf, strerror(errno));
		return NULL;
	}
	slash = strrchr(dir, '/');
	*(slash == dir ? slash + 1 : slash) = '\0';
	config_init(&cfg);
	if (confread(&cfg, conf, dir, err, sizeof(err)) < 0)
		fprintf(stderr, "superctl: %s\n", err);
	else if (config_lookup_string(&cfg, "control", &p) != CONFIG_TRUE)
		fprintf(stderr,
		    "superctl: %s: no control socket set (control "
		    "= \"PATH\";)\n",
		    conf);
	else if (p[0] == '/')
		out = strdup(p);
	else if (asprintf(&out, "%s/%s", dir, p) < 0)
		out = NULL;
	config_destroy(&cfg);
	free(dir);
	return out;
}

/* Connected to the socket at path, timeouts set: the descriptor, or -1. */
static int
dial(const char *path)
{
	struct timeval rcv = {REPLY_TIMEOUT, 0}, snd = {CONTROL_TIMEOUT, 0};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "superctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "superctl: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Everything superd sends until it closes; NULL when it says nothing. */
static char *
receive(int fd, const char *path)
{
	size_t len = 0, cap = 0;
	char *text = NULL, *p;
	ssize_t n = 0;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			if ((p = realloc(text, cap + 1)) == NULL)
				break;
			text = p;
		}
		n = recv(fd, text + len, cap - len, 0);
		if (n > 0)
			len += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	/* a reset after the reply (superd refused unread bytes) ends it too */
	if (len == 0 || text == NULL) {
		fprintf(stderr, "superctl: %s: no reply%s%s\n", path,
		    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		free(text);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

/* The reply's text goes out, each error line after "superctl: ". */
static int
print_reply(char *text, const char *path)
{
	char *body = strchr(text, '\n'), *line;

	if (body == NULL) {
		fprintf(stderr, "superctl: %s: a reply cut short\n", path);
		return EXIT_USAGE;
	}
	*body++ = '\0';
	if (strcmp(text, CONTROL_OK) == 0) {
		fputs(body, stdout);
		return 0;
	}
	if (strcmp(text, CONTROL_ERROR) != 0) {
		fprintf(stderr, "superctl: %s: not a reply: %s\n", path, text);
		return EXIT_USAGE;
	}
	for (line = strtok(body, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "superctl: %s\n", line);
	return EXIT_FAILED;
}

static int
ask(const char *path, const char *line)
{
	char *text;
	int fd, rc;

	if ((fd = dial(path)) < 0)
		return EXIT_USAGE;
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "superctl: %s: %s\n", path, strerror(errno));
		close(fd);
		return EXIT_USAGE;
	}
	text = receive(fd, path);
	close(fd);
	if (text == NULL)
		return EXIT_USAGE;
	rc = print_reply(text, path);
	free(text);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longs[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = NULL, *sock = NULL;
	char *path, *line;
	int ch, json = 0, rc = 0;

	while ((ch = getopt_long(argc, argv, "+c:s:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (conf != NULL && sock != NULL)
		return usage_error("-c and -s exclude each other");
	if (optind >= argc)
		return usage_error("no command");
	if ((line = request(argc - optind, argv + optind, json, &rc)) == NULL)
		return rc;
	path = sock ? strdup(sock) : socket_of(conf ? conf : SUPERD_CONFIG);
	if (path != NULL)
		rc = ask(path, line);
	else
		rc = EXIT_USAGE;
	free(path);
	free(line);
	return rc;
}
