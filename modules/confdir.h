/* confdir.h - the drop-in files of an include_dir, in the order they load. */
#ifndef SUPERD_CONFDIR_H
#define SUPERD_CONFDIR_H

int confdir_list(const char *dir, const char *self, char ***paths);

#endif
