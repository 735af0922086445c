/*
 * import.c - superd -I FILE|DIR: an inetd.conf, an xinetd file or an
 * xinetd.d directory printed as a superd configuration.
 *
 * Whatever cannot come along becomes a comment that says so.  An error
 * (a file that cannot be read, a line that cannot be parsed) is printed
 * on stderr as FILE:LINE: message and makes the exit status 1, but the
 * rest is still converted and printed, with the line that failed kept
 * as a comment: the output is a file to review either way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import.h"

/* A file: its content tells which of the two it is. */
static int
import_file(struct imp *m, const char *path)
{
	char *text = imp_read(m, path);

	if (text == NULL)
		return -1;
	if (import_is_xinetd(text)) {
		m->kind = "xinetd";
		import_xinetd(m, path, text);
	} else {
		m->kind = "inetd";
		import_inetd(m, path, text);
	}
	free(text);
	return 0;
}

int
import_main(const char *path, FILE *out)
{
	struct imp m = {0};
	struct stat st;
	int rc = 0;

	m.path = path;
	if (stat(path, &st) < 0) {
		fprintf(
		    stderr, "%s:0: cannot read: %s\n", path, strerror(errno));
		return 1;
	}
	if (S_ISDIR(st.st_mode)) {
		m.kind = "xinetd";
		m.dir = 1;
		import_xinetd_dir(&m, path);
	} else if (import_file(&m, path) < 0)
		rc = 1;
	if (rc == 0) {
		imp_fold(&m);
		imp_write(&m, out);
		rc = m.errors > 0;
	}
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(
		    stderr, "superd: -I: cannot write: %s\n", strerror(errno));
		rc = 1;
	}
	imp_free(&m);
	return rc;
}
