/* vm.h - a service's Lua state: built, sandboxed, its script run. */
#ifndef SUPERD_VM_H
#define SUPERD_VM_H

#include <stddef.h>

struct buf;
struct conf;
struct service;

int vm_open(struct service *s, const struct conf *c, char *err, size_t len);
void vm_close(struct service *s);
int vm_reload(struct service *s, struct buf *report);
int vm_set_options(struct service *s);

#endif
