/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
 * BZMPOP): not yet; the signal a push sends is where wake-ups go. */
#include "processor/resp_zset.h"

void
resp_list_signal(struct resp_ctx *x, const struct resp_arg *key)
{
    (void)x;
    (void)key;
}
