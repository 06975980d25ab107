/* SPDX-License-Identifier: Apache-2.0 */
/* Timing wheel: tick t covers (start + (t-1)*tick_ms, start + t*tick_ms];
 * a job due in tick t sits in slot t % nslot with its absolute tick, so a
 * job more than one turn away stays in its slot until its own turn comes.
 *
 *   slot:  0    1    2  ...  nslot-1
 *          |    |    |
 *         job  job  job -> job (tick 2 + nslot, waits a turn)
 */
#include "base/timing_wheel.h"

#include "base/mm.h"
#include "base/util.h"

#include <limits.h>
#include <stdint.h>

struct timer_job {
    struct timer_job *next;
    uint64_t due_ms;    /* monotonic time it is due */
    uint64_t period_ms; /* 0 for a one-shot job */
    uint64_t tick;      /* absolute tick it runs in */
    timer_cb_fn cb;
    void *arg;
};

struct tw_slot {
    struct timer_job *head;
    struct timer_job *tail;
};

struct timing_wheel {
    uint64_t tick_ms;
    size_t nslot;
    uint64_t start_ms; /* time of tick 0 */
    uint64_t now_ms;   /* latest time given to create or execute */
    uint64_t cur_tick; /* every tick up to this one has run */
    size_t njob;
    struct tw_slot slot[];
};

struct timing_wheel *
timing_wheel_create(uint64_t tick_ms, size_t nslot, uint64_t now_ms)
{
    if (tick_ms == 0 || nslot == 0 ||
            nslot > (SIZE_MAX - sizeof(struct timing_wheel)) /
                            sizeof(struct tw_slot)) {
        return NULL;
    }
    struct timing_wheel *tw =
            mm_zalloc(sizeof(*tw) + nslot * sizeof(struct tw_slot));
    if (tw == NULL) {
        return NULL;
    }
    tw->tick_ms = tick_ms;
    tw->nslot = nslot;
    tw->start_ms = now_ms;
    tw->now_ms = now_ms;
    return tw;
}

static void
job_list_free(struct timer_job *job)
{
    while (job != NULL) {
        struct timer_job *next = job->next;
        mm_release(job);
        job = next;
    }
}

void
timing_wheel_destroy(struct timing_wheel **tw)
{
    if (tw == NULL || *tw == NULL) {
        return;
    }
    for (size_t i = 0; i < (*tw)->nslot; i++) {
        job_list_free((*tw)->slot[i].head);
    }
    mm_free(tw);
}

/* The first tick ending at or after due_ms, and never one that has run. */
static uint64_t
tick_of(const struct timing_wheel *tw, uint64_t due_ms)
{
    uint64_t tick = 0;
    if (due_ms > tw->start_ms) {
        uint64_t d = due_ms - tw->start_ms;
        tick = d / tw->tick_ms + (d % tw->tick_ms != 0);
    }
    return tick > tw->cur_tick ? tick : tw->cur_tick + 1;
}

static void
slot_append(struct tw_slot *s, struct timer_job *job)
{
    job->next = NULL;
    if (s->tail == NULL) {
        s->head = job;
    } else {
        s->tail->next = job;
    }
    s->tail = job;
}

static void
schedule(struct timing_wheel *tw, struct timer_job *job)
{
    job->tick = tick_of(tw, job->due_ms);
    slot_append(&tw->slot[job->tick % tw->nslot], job);
}

static uint64_t
add_saturate(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

rstatus_i
timing_wheel_add(struct timing_wheel *tw, uint64_t delay_ms, timer_kind_e kind,
        timer_cb_fn cb, void *arg)
{
    ASSERT(cb != NULL);
    if (kind == TIMER_RECURRING && delay_ms == 0) {
        return STATUS_EINVAL;
    }
    struct timer_job *job = mm_zalloc(sizeof(*job));
    if (job == NULL) {
        return STATUS_ENOMEM;
    }
    job->due_ms = add_saturate(tw->now_ms, delay_ms);
    job->period_ms = kind == TIMER_RECURRING ? delay_ms : 0;
    job->cb = cb;
    job->arg = arg;
    schedule(tw, job);
    tw->njob++;
    return STATUS_OK;
}

/* Unlinks the jobs of slot s whose tick is at most upto, onto run. */
static void
slot_take_due(struct tw_slot *s, uint64_t upto, struct tw_slot *run)
{
    struct timer_job *keep = s->head;
    s->head = s->tail = NULL;
    while (keep != NULL) {
        struct timer_job *next = keep->next;
        slot_append(keep->tick <= upto ? run : s, keep);
        keep = next;
    }
}

/* A recurring job's next due time after now_ms, skipping missed periods. */
static uint64_t
next_due(const struct timer_job *job, uint64_t now_ms)
{
    uint64_t due = add_saturate(job->due_ms, job->period_ms);
    if (due <= now_ms) {
        uint64_t missed = (now_ms - due) / job->period_ms + 1;
        due = add_saturate(due, missed * job->period_ms);
    }
    return due;
}

size_t
timing_wheel_execute(struct timing_wheel *tw, uint64_t now_ms)
{
    if (now_ms > tw->now_ms) {
        tw->now_ms = now_ms;
    }
    if (now_ms < tw->start_ms) {
        return 0;
    }
    uint64_t now_tick = (now_ms - tw->start_ms) / tw->tick_ms;
    if (now_tick <= tw->cur_tick) {
        return 0;
    }
    struct tw_slot run = {NULL, NULL};
    uint64_t nscan = now_tick - tw->cur_tick;
    nscan = nscan < tw->nslot ? nscan : tw->nslot;
    for (uint64_t i = 1; i <= nscan; i++) {
        slot_take_due(
                &tw->slot[(tw->cur_tick + i) % tw->nslot], now_tick, &run);
    }
    tw->cur_tick = now_tick; /* jobs added by callbacks go after now */
    size_t n = 0;
    for (struct timer_job *job = run.head, *next; job != NULL; job = next) {
        next = job->next;
        job->cb(job->arg);
        n++;
        if (job->period_ms == 0) {
            mm_release(job);
            tw->njob--;
        } else {
            job->due_ms = next_due(job, now_ms);
            schedule(tw, job);
        }
    }
    return n;
}

size_t
timing_wheel_njob(const struct timing_wheel *tw)
{
    return tw->njob;
}

int
timing_wheel_timeout_ms(const struct timing_wheel *tw, uint64_t now_ms)
{
    if (tw->njob == 0) {
        return -1;
    }
    uint64_t min_tick = UINT64_MAX;
    for (size_t i = 0; i < tw->nslot; i++) {
        for (struct timer_job *j = tw->slot[i].head; j != NULL; j = j->next) {
            min_tick = j->tick < min_tick ? j->tick : min_tick;
        }
    }
    uint64_t at = min_tick > (UINT64_MAX - tw->start_ms) / tw->tick_ms
                          ? UINT64_MAX
                          : tw->start_ms + min_tick * tw->tick_ms;
    if (at <= now_ms) {
        return 0;
    }
    return at - now_ms > INT_MAX ? INT_MAX : (int)(at - now_ms);
}
