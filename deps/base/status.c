/* SPDX-License-Identifier: Apache-2.0 */
/* Names of status codes. */
#include "base/status.h"

const char *
status_str(rstatus_i status)
{
    switch (status) {
    case STATUS_OK:
        return "ok";
    case STATUS_ERROR:
        return "error";
    case STATUS_EAGAIN:
        return "again";
    case STATUS_ENOMEM:
        return "no memory";
    case STATUS_EEMPTY:
        return "empty";
    case STATUS_EFULL:
        return "full";
    case STATUS_EINVAL:
        return "invalid";
    case STATUS_EOF:
        return "end of file";
    case STATUS_ENOTFOUND:
        return "not found";
    default:
        return "unknown status";
    }
}
