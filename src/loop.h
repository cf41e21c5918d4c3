/* loop.h — one poll(2) loop for every connection of the process: descriptors with the events
 * they wait for, timers, and calls deferred to the end of a round. Redis' ae.c is the shape. */
#ifndef IMAPSCRIPT_LOOP_H
#define IMAPSCRIPT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

enum {
    LOOP_ERR_NESTED = -1,   /* loop_run_once called from inside one of its own callbacks */
    LOOP_ERR_SYS    = -2,   /* poll failed, or out of memory */
};

struct loop;

/* Called with what fd is ready for (LOOP_READ and/or LOOP_WRITE; both on an error or hang-up,
 * so that the next read or write reports it). */
typedef void (*loop_fn)(struct loop *l, int fd, int ready, void *ud);

/* A timer lives in its owner's struct (no allocation); armed at most once at a time. */
struct loop_timer {
    struct loop_timer *next, *prev;
    int64_t when;                   /* loop_now_ms() at which it fires */
    bool armed;
    void (*fn)(struct loop *l, struct loop_timer *t);
};

/* The process' loop, made on first use; sessions without a loop of their own use it. */
struct loop *loop_default(void);
struct loop *loop_new(void);
/* Frees l; its descriptors and timers must be gone. NULL is fine. */
void loop_free(struct loop *l);

/* Watches fd (which must stay open until loop_remove) for mask; fn(l, fd, ready, ud) is called
 * when it is ready. Returns 0 or LOOP_ERR_SYS. */
int loop_add(struct loop *l, int fd, int mask, loop_fn fn, void *ud);
/* Changes what fd waits for; 0 keeps it registered but quiet. */
void loop_set_mask(struct loop *l, int fd, int mask);
/* Stops watching fd. Safe from inside a callback, its own included. */
void loop_remove(struct loop *l, int fd);
/* Calls fd's function in the next round without waiting (data buffered above the socket). */
void loop_kick(struct loop *l, int fd);

void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t when_ms);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);

/* Calls fn(ud) at the end of the current round (or of the next one, outside a round): to free
 * what a callback still stands on. Returns 0 or LOOP_ERR_SYS (out of memory: not called). */
int loop_later(struct loop *l, void (*fn)(void *ud), void *ud);

/* One round: waits up to timeout_ms (< 0: no limit; a due timer shortens it) for ready
 * descriptors, calls their functions, the due timers and the deferred calls. Returns how many
 * functions ran (0: the time ran out), LOOP_ERR_NESTED from inside a callback, or
 * LOOP_ERR_SYS. A signal ends the wait early (returns 0). */
int loop_run_once(struct loop *l, int timeout_ms);
/* True while l is calling a callback: waiting is impossible there. */
bool loop_dispatching(const struct loop *l);

/* CLOCK_MONOTONIC in milliseconds (the same clock in every process of the machine). */
int64_t loop_now_ms(void);

#endif
