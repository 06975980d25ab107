/* SPDX-License-Identifier: Apache-2.0 */
/* Every cmocka test includes this: cmocka needs these headers first. */
#pragma once

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
