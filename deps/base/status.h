/* SPDX-License-Identifier: Apache-2.0 */
/* Status codes returned by base and core functions: 0 or a negative code. */
#pragma once

typedef int rstatus_i;

/* clang-format off */
#define STATUS_OK       0   /* done */
#define STATUS_ERROR    -1  /* failed; the callee logged why */
#define STATUS_EAGAIN   -2  /* try again later (would block, interrupted) */
#define STATUS_ENOMEM   -3  /* out of memory or over a configured cap */
#define STATUS_EEMPTY   -4  /* nothing to take */
#define STATUS_EFULL    -5  /* no room to put */
#define STATUS_EINVAL   -6  /* bad argument or input */
#define STATUS_EOF      -7  /* peer closed */
#define STATUS_ENOTFOUND -8 /* no such thing */
/* clang-format on */

/* A short constant name for a status, for logs and tests. */
const char *status_str(rstatus_i status);
