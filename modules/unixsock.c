/*
 * unixsock.c - unix-domain listening sockets: a crashed run's file
 * replaced, the file made with its mode and owner, and removed when
 * superd lets the socket go; -1 with errno set, or an error text in err.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixsock.h"

/* Set while a process that kept root can remove a file for superd. */
static unixsock_remove_fn *remover;

static int
unixsock_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

/*
 * What bind would refuse, found without binding (superd -t): a path too
 * long for a socket, or a file there that is not one.
 */
int
unixsock_check(const char *path, char *err, size_t len)
{
	struct sockaddr_un sun;
	struct stat st;

	if (unixsock_addr(path, &sun) < 0) {
		snprintf(err, len,
		    "%s is longer than the %zu bytes a unix "
		    "socket's path may have",
		    path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(err, len, "%s exists and is not a socket", path);
		return -1;
	}
	return 0;
}

/*
 * A socket file that nobody accepts on (or reads from) is a crashed
 * run's, and goes; one that answers is a live server's, and stays, as
 * does one of the other type.  The probe does not block: a live server
 * whose backlog is full answers EAGAIN.
 */
static int
unixsock_clear(const struct sockaddr_un *sun, int type, const char **why)
{
	int fd, rc, e;

	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	if (rc < 0 && e == ENOENT)
		return 0;
	if (rc < 0 && e == ECONNREFUSED)
		return unlink(sun->sun_path) < 0 && errno != ENOENT ? -1 : 0;
	if (rc == 0 || e == EAGAIN || e == EPROTOTYPE) {
		*why = "a live socket is there (another server's?)";
		return -1;
	}
	errno = e;
	return -1;
}

/*
 * bind makes the file as the umask allows: the umask is the mode's for
 * that one call, so the file is never wider than asked, even for a
 * moment.  The loop's thread is the only one that makes files.
 */
static int
unixsock_bind(int fd, const struct sockaddr_un *sun, mode_t mode)
{
	mode_t old = umask(~mode & 0777);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));

	umask(old);
	return rc;
}

/*
 * A socket of type (SOCK_STREAM, listening, or SOCK_DGRAM) at path, its
 * file as a says and recorded in id; what a crashed run left there is
 * replaced first.
 */
int
unixsock_listen(const char *path, int type, const struct unixsock_attr *a,
    struct unixsock_id *id, char *err, size_t len)
{
	struct sockaddr_un sun;
	const char *why = NULL;
	struct stat st;
	int fd = -1, e;

	id->ino = 0;
	if (unixsock_check(path, err, len) < 0)
		return -1;
	unixsock_addr(path, &sun);
	if (unixsock_clear(&sun, type, &why) < 0)
		goto fail;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || unixsock_bind(fd, &sun, a->mode) < 0)
		goto fail;
	if (lstat(path, &st) == 0) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
	if ((type == SOCK_STREAM && listen(fd, 511) < 0) ||
	    unixsock_apply(path, a, id) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	snprintf(
	    err, len, "cannot listen on %s: %s", path, why ? why : strerror(e));
	if (fd >= 0)
		close(fd);
	unixsock_remove(path, id);
	errno = e;
	return -1;
}

/*
 * The file superd made, as a says.  By its path, checked first to be
 * that file and not what a writer of the directory has put there since;
 * neither call follows a symbolic link.
 */
int
unixsock_apply(const char *path, const struct unixsock_attr *a,
    const struct unixsock_id *id)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -1;
	if (st.st_dev != id->dev || st.st_ino != id->ino) {
		errno = ENOENT; /* the file superd made is gone */
		return -1;
	}
	if ((st.st_mode & 07777) != a->mode &&
	    fchmodat(AT_FDCWD, path, a->mode, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if ((a->uid != (uid_t)-1 && a->uid != st.st_uid) ||
	    (a->gid != (gid_t)-1 && a->gid != st.st_gid))
		return lchown(path, a->uid, a->gid);
	return 0;
}

/*
 * Removed while it is the file superd made; 0 when that is gone.  Made
 * while superd was root, in root's directory, it is the remover's to
 * remove once superd has given root up.
 */
int
unixsock_remove(const char *path, const struct unixsock_id *id)
{
	struct stat st;

	if (id->ino == 0 || lstat(path, &st) < 0 || st.st_dev != id->dev ||
	    st.st_ino != id->ino)
		return 0;
	if (unlink(path) == 0)
		return 0;
	if ((errno == EACCES || errno == EPERM) && remover != NULL)
		return remover(path, id);
	return -1;
}

void
unixsock_set_remover(unixsock_remove_fn *fn)
{
	remover = fn;
}

/* The path a unix socket is bound to (systemd's, handed over); or -1. */
int
unixsock_path(int fd, char *buf, size_t len)
{
	struct sockaddr_un sun;
	socklen_t slen = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &slen) < 0)
		return -1;
	/* an abstract or unnamed socket has no file to match a path */
	if (sun.sun_family != AF_UNIX || sun.sun_path[0] != '/' ||
	    strlen(sun.sun_path) >= len) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	strcpy(buf, sun.sun_path);
	return 0;
}
