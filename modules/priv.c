/* priv.c - one switch of user and group: the daemon's after binding, an exec
 * child's. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "priv.h"

/*
 * The ids user and group name; a group given wins over the user's own.
 * 0 with p filled, PRIV_NOTHING or PRIV_NOT_ROOT when there is nothing
 * to switch, -1 with err naming the first name that is unknown.
 */
int
priv_lookup(
    const char *user, const char *group, struct priv *p, char *err, size_t len)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (user == NULL && group == NULL)
		return PRIV_NOTHING;
	if (getuid() != 0)
		return PRIV_NOT_ROOT;
	if ((user && (pw = getpwnam(user)) == NULL) ||
	    (group && (gr = getgrnam(group)) == NULL)) {
		snprintf(err, len, "unknown user or group \"%s\"",
		    pw == NULL && user ? user : group);
		return -1;
	}
	p->user = user;
	p->uid = pw ? pw->pw_uid : 0;
	p->gid = gr ? gr->gr_gid : pw->pw_gid;
	return 0;
}

/* Groups first, the uid last: once it is given up nothing else can be. */
int
priv_switch(const struct priv *p, int flags)
{
	int rc;

	if (p->user && (flags & PRIV_INITGROUPS))
		rc = initgroups(p->user, p->gid);
	else
		rc = setgroups(0, NULL);
	if (rc < 0 || setgid(p->gid) < 0)
		return -1;
	return p->user ? setuid(p->uid) : 0;
}
