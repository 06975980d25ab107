/* SPDX-License-Identifier: Apache-2.0 */
/* The ping processor: answers PING with PONG, touching no store. */
#pragma once

#include "core/processor.h"

extern const struct processor proc_ping;
