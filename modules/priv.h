/* priv.h - one switch of user and group, named as the configuration names them.
 */
#ifndef SUPERD_PRIV_H
#define SUPERD_PRIV_H

#include <stddef.h>
#include <sys/types.h>

/* priv_lookup's answers when there is nothing to switch. */
#define PRIV_NOTHING 1	/* neither a user nor a group was asked for */
#define PRIV_NOT_ROOT 2 /* asked for, but only root can switch */

/* priv_switch: the user's groups from the group file, not none. */
#define PRIV_INITGROUPS 0x1

struct priv {
	const char *user; /* NULL: the uid stays */
	uid_t uid;
	gid_t gid;
};

int priv_lookup(
    const char *user, const char *group, struct priv *p, char *err, size_t len);
int priv_switch(const struct priv *p, int flags);

#endif
