/* serve.h - a service put to work: built, fed what arrives, freed. */
#ifndef SUPERD_SERVE_H
#define SUPERD_SERVE_H

#include <stddef.h>

struct conf;
struct listener_ops;
struct service;
struct svc_conf;

/* For service_attach: where what arrives on a listener goes. */
extern const struct listener_ops serve_ops;
extern const struct listener_ops serve_wait_ops; /* wait = true */
const struct listener_ops *serve_ops_for(const struct service *s);

struct service *serve_new(
    struct svc_conf *v, const struct conf *c, char *err, size_t len);
void serve_free(struct service *s);

#endif
