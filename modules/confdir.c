/*
 * confdir.c - the drop-in files of an include_dir, in the order they load.
 *
 * As systemd takes its drop-ins, and nginx the files of an include with a
 * "*.conf" pattern: names ending in ".conf", sorted bytewise.  A name
 * starting with a dot (an editor's swap file, a package manager's
 * half-written one), a backup such as "x.conf~" or "x.conf.dpkg-old" and
 * a subdirectory are not read, nor is the main file itself, which an
 * include_dir of "." would find.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "confdir.h"

static int
is_dropin(const char *dir, const char *name, const struct stat *self)
{
	size_t n = strlen(name);
	struct stat st;
	char path[PATH_MAX];

	if (name[0] == '.' || n <= 5 || strcmp(name + n - 5, ".conf") != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* One that cannot be looked at is read, and its error reported. */
	if (stat(path, &st) < 0)
		return 1;
	return !S_ISDIR(st.st_mode) &&
	       !(st.st_dev == self->st_dev && st.st_ino == self->st_ino);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends dir/name to the NULL-terminated *v of *n paths. */
static int
add(char ***v, int *n, const char *dir, const char *name)
{
	char **grown = realloc(*v, (*n + 2) * sizeof(char *));

	if (grown == NULL)
		return -1;
	*v = grown;
	if (asprintf(&grown[*n], "%s/%s", dir, name) < 0) {
		grown[*n] = NULL;
		return -1;
	}
	grown[++*n] = NULL;
	return 0;
}

/* readdir's end is NULL with errno as it was, its failure NULL with errno. */
static struct dirent *
next_entry(DIR *d)
{
	errno = 0;
	return readdir(d);
}

/*
 * *paths: dir's drop-ins as "dir/name", NULL-terminated, the caller's to
 * free (each and the array, even on failure), leaving out the main file
 * self; 0, or -1 with errno.
 */
int
confdir_list(const char *dir, const char *self, char ***paths)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int n = 0, rc = 0, saved;

	if ((*paths = calloc(1, sizeof(char *))) == NULL)
		return -1;
	if ((d = opendir(dir)) == NULL)
		return -1;
	if (stat(self, &st) < 0)
		memset(&st, 0, sizeof(st)); /* matches no file */
	while (rc == 0 && (e = next_entry(d)) != NULL)
		if (is_dropin(dir, e->d_name, &st))
			rc = add(paths, &n, dir, e->d_name);
	if (rc == 0 && errno != 0)
		rc = -1;
	saved = errno;
	closedir(d);
	errno = saved;
	qsort(*paths, n, sizeof(char *), by_name);
	return rc;
}
