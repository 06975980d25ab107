/* SPDX-License-Identifier: Apache-2.0 */
/* Connection objects. */
#include "core/conn.h"

#include "core/transport.h"

#include <string.h>

void
conn_reset(struct conn *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->tp = &transport_tcp;
}
