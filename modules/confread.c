/*
 * confread.c - one libconfig file read, with its @include lines found
 * relative to the file's directory and checked before libconfig opens them.
 *
 * libconfig 1.5 (Debian's) opens an @include'd file as the path is
 * written, that is against the current directory, which a daemon has
 * changed to /; its include_dir is put in front of absolute paths too.
 * So the read runs in the file's directory.  libconfig opens each file
 * itself, and a directory given to @include is a "fatal" flex error that
 * exits the process, a running one on SIGHUP: every @include is looked
 * at first, as libconfig will resolve it, and refused with FILE:LINE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confread.h"

/* libconfig's own bound: deeper, it reports the nesting itself. */
#define INCLUDE_DEPTH 10

enum { IN_CODE, IN_STRING, IN_COMMENT };

struct scan {
	const char *dir; /* what relative @include paths resolve against */
	char *err;
	size_t len;
	int found; /* @include lines seen */
};

/* A file name as libconfig's messages and settings give it: dir/name. */
const char *
confread_file(const char *dir, const char *name, char *buf, size_t len)
{
	if (name[0] == '/' ||
	    (size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		return name;
	return buf;
}

/* 0 if path can be read as a file, else -1 with errno. */
static int
readable(const char *path)
{
	struct stat st;

	if (access(path, R_OK) < 0 || stat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	return 0;
}

/*
 * The file name of an "@include" line, as libconfig's scanner takes it
 * (blanks, @include, blanks, a string with \\ and \" escapes), or NULL.
 */
static const char *
include_name(const char *p, char *name, size_t size)
{
	size_t n = 0;

	p += strspn(p, " \t");
	if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return NULL;
	p += 8 + strspn(p + 8, " \t");
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"' && n + 1 < size; p++, n++) {
		if (*p == '\\' && (p[1] == '\\' || p[1] == '"'))
			p++;
		name[n] = *p;
	}
	name[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

/* Comments and strings, where an "@include" is only text. */
static void
skip_text(const char *p, int *state)
{
	for (; *p; p++) {
		switch (*state) {
		case IN_STRING:
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				*state = IN_CODE;
			break;
		case IN_COMMENT:
			if (p[0] == '*' && p[1] == '/') {
				*state = IN_CODE;
				p++;
			}
			break;
		default:
			if (*p == '#' || (p[0] == '/' && p[1] == '/'))
				return;
			if (p[0] == '/' && p[1] == '*') {
				*state = IN_COMMENT;
				p++;
			} else if (*p == '"') {
				*state = IN_STRING;
			}
		}
	}
}

static int scan_file(struct scan *sc, const char *path, int depth);

/* An @include of file path at line: there, and its own ones too. */
static int
scan_include(
    struct scan *sc, const char *path, int line, const char *name, int depth)
{
	char buf[PATH_MAX];
	const char *file = confread_file(sc->dir, name, buf, sizeof(buf));

	sc->found++;
	if (readable(file) < 0) {
		snprintf(sc->err, sc->len, "%s:%d: @include \"%s\": %s", path,
		    line, file, strerror(errno));
		return -1;
	}
	return depth + 1 < INCLUDE_DEPTH ? scan_file(sc, file, depth + 1) : 0;
}

static int
scan_file(struct scan *sc, const char *path, int depth)
{
	FILE *f = fopen(path, "r");
	char *text = NULL, name[PATH_MAX];
	const char *rest;
	size_t size = 0;
	int line = 0, state = IN_CODE, rc = 0;

	if (f == NULL) {
		snprintf(sc->err, sc->len, "%s:0: cannot read: %s", path,
		    strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&text, &size, f) >= 0) {
		line++;
		rest = NULL;
		if (state == IN_CODE &&
		    (rest = include_name(text, name, sizeof(name))) != NULL)
			rc = scan_include(sc, path, line, name, depth);
		skip_text(rest ? rest : text, &state);
	}
	free(text);
	fclose(f);
	return rc;
}

/* libconfig's error, its file named as the settings' are. */
static int
read_error(
    config_t *cfg, const char *path, const char *dir, char *err, size_t len)
{
	const char *file = config_error_file(cfg);
	char buf[PATH_MAX];

	snprintf(err, len, "%s:%d: %s",
	    file ? confread_file(dir, file, buf, sizeof(buf)) : path,
	    config_error_line(cfg), config_error_text(cfg));
	return -1;
}

/*
 * The read itself, in dir when the file includes others: 0, 1 when
 * libconfig refused the text, -1 (err set) when the move failed.
 */
static int
read_in(
    config_t *cfg, FILE *f, const char *dir, int move, char *err, size_t len)
{
	int here = -1, rc;

	if (move && ((here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
			chdir(dir) < 0)) {
		snprintf(err, len, "%s:0: cannot change to it: %s", dir,
		    strerror(errno));
		if (here >= 0)
			close(here);
		return -1;
	}
	rc = config_read(cfg, f) == CONFIG_TRUE ? 0 : 1;
	if (here >= 0 && fchdir(here) < 0) {
		snprintf(err, len, "%s:0: cannot change back: %s", dir,
		    strerror(errno));
		rc = -1;
	}
	if (here >= 0)
		close(here);
	return rc;
}

/*
 * Reads path into cfg; relative @include paths, in it and in the files
 * it includes, are against dir.  0, or -1 with "FILE:LINE: message".
 */
int
confread(
    config_t *cfg, const char *path, const char *dir, char *err, size_t len)
{
	struct scan sc = {dir, err, len, 0};
	FILE *f;
	int rc;

	if (readable(path) < 0 || (f = fopen(path, "r")) == NULL) {
		snprintf(
		    err, len, "%s:0: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (scan_file(&sc, path, 0) < 0) {
		fclose(f);
		return -1;
	}
	rc = read_in(cfg, f, dir, sc.found > 0, err, len);
	fclose(f);
	if (rc > 0)
		return read_error(cfg, path, dir, err, len);
	return rc;
}
