/* client.h - what integration tests share: a real superd and a client. */
#ifndef SUPERD_T_CLIENT_H
#define SUPERD_T_CLIENT_H

#include "fix.h"
#include "proc.h"
#include "sd.h"
#include "sock.h"

#endif
