/* loop.c — the poll(2) event loop: a table of watched descriptors indexed by fd, an intrusive
 * list of timers, deferred calls. poll rather than epoll: a few hundred descriptors at most. */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct loop_reg {
    loop_fn fn;                     /* NULL: not watched */
    void *ud;
    int mask;
    unsigned gen;                   /* changes at each add/remove: a stale ready event is dropped */
    bool kicked;
};

struct loop_call {
    struct loop_call *next;
    void (*fn)(void *ud);
    void *ud;
};

struct loop {
    struct loop_reg *regs;
    int nregs;                      /* size of regs: every fd below it has a slot */
    struct pollfd *pfds;
    unsigned *pgen;                 /* generation of each pfds entry's registration */
    int npcap;
    struct loop_timer *timers;
    struct loop_call *later, **later_tail;
    int depth;                      /* callbacks running */
    unsigned gen;
};

int64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
    struct loop *l = calloc(1, sizeof *l);
    if (l)
        l->later_tail = &l->later;
    return l;
}

struct loop *loop_default(void)
{
    static struct loop *def;
    if (!def)
        def = loop_new();
    return def;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    while (l->later) {
        struct loop_call *c = l->later;
        l->later = c->next;
        free(c);
    }
    free(l->regs);
    free(l->pfds);
    free(l->pgen);
    free(l);
}

int loop_add(struct loop *l, int fd, int mask, loop_fn fn, void *ud)
{
    if (fd < 0 || !fn)
        return LOOP_ERR_SYS;
    if (fd >= l->nregs) {
        int n = l->nregs ? l->nregs : 64;
        while (n <= fd)
            n *= 2;
        struct loop_reg *r = realloc(l->regs, (size_t)n * sizeof *r);
        if (!r)
            return LOOP_ERR_SYS;
        memset(r + l->nregs, 0, (size_t)(n - l->nregs) * sizeof *r);
        l->regs = r;
        l->nregs = n;
    }
    struct loop_reg *r = &l->regs[fd];
    r->fn = fn;
    r->ud = ud;
    r->mask = mask;
    r->gen = ++l->gen;
    r->kicked = false;
    return 0;
}

void loop_set_mask(struct loop *l, int fd, int mask)
{
    if (fd >= 0 && fd < l->nregs && l->regs[fd].fn)
        l->regs[fd].mask = mask;
}

void loop_remove(struct loop *l, int fd)
{
    if (fd < 0 || fd >= l->nregs)
        return;
    memset(&l->regs[fd], 0, sizeof l->regs[fd]);
    l->regs[fd].gen = ++l->gen;
}

void loop_kick(struct loop *l, int fd)
{
    if (fd >= 0 && fd < l->nregs && l->regs[fd].fn)
        l->regs[fd].kicked = true;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t when_ms)
{
    t->when = when_ms;
    if (t->armed)
        return;
    t->armed = true;
    t->prev = NULL;
    t->next = l->timers;
    if (l->timers)
        l->timers->prev = t;
    l->timers = t;
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
    if (!t->armed)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        l->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
    t->armed = false;
}

int loop_later(struct loop *l, void (*fn)(void *ud), void *ud)
{
    struct loop_call *c = malloc(sizeof *c);
    if (!c)
        return LOOP_ERR_SYS;
    c->next = NULL;
    c->fn = fn;
    c->ud = ud;
    *l->later_tail = c;
    l->later_tail = &c->next;
    return 0;
}

bool loop_dispatching(const struct loop *l)
{
    return l->depth > 0;
}

static struct loop_timer *earliest(const struct loop *l)
{
    struct loop_timer *best = NULL;
    for (struct loop_timer *t = l->timers; t; t = t->next)
        if (!best || t->when < best->when)
            best = t;
    return best;
}

/* The poll set: every watched descriptor with a mask or a kick. Returns its size or -1. */
static int build_pollset(struct loop *l, bool *kicked)
{
    int n = 0;
    *kicked = false;
    for (int fd = 0; fd < l->nregs; fd++) {
        struct loop_reg *r = &l->regs[fd];
        if (!r->fn || (!r->mask && !r->kicked))
            continue;
        if (n == l->npcap) {
            int cap = l->npcap ? l->npcap * 2 : 16;
            struct pollfd *p = realloc(l->pfds, (size_t)cap * sizeof *p);
            if (!p)
                return -1;
            l->pfds = p;
            unsigned *g = realloc(l->pgen, (size_t)cap * sizeof *g);
            if (!g)
                return -1;
            l->pgen = g;
            l->npcap = cap;
        }
        l->pfds[n] = (struct pollfd){ .fd = fd, .events = (short)(((r->mask & LOOP_READ) ? POLLIN : 0) |
                                                                  ((r->mask & LOOP_WRITE) ? POLLOUT : 0)) };
        l->pgen[n] = r->gen;
        *kicked = *kicked || r->kicked;
        n++;
    }
    return n;
}

static int run_timers(struct loop *l)
{
    int ran = 0;
    int64_t now = loop_now_ms();
    for (;;) {
        struct loop_timer *t = earliest(l);
        if (!t || t->when > now)
            return ran;
        loop_timer_disarm(l, t);
        t->fn(l, t);
        ran++;
    }
}

static int run_later(struct loop *l)
{
    int ran = 0;
    while (l->later) {
        struct loop_call *c = l->later;
        l->later = c->next;
        if (!l->later)
            l->later_tail = &l->later;
        c->fn(c->ud);
        free(c);
        ran++;
    }
    return ran;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
    if (l->depth)
        return LOOP_ERR_NESTED;
    bool kicked;
    int n = build_pollset(l, &kicked);
    if (n < 0)
        return LOOP_ERR_SYS;
    int wait = timeout_ms;
    struct loop_timer *t = earliest(l);
    if (t) {
        int64_t left = t->when - loop_now_ms();
        if (left < 0)
            left = 0;
        if (wait < 0 || left < wait)
            wait = left > INT_MAX ? INT_MAX : (int)left;
    }
    if (kicked || l->later)
        wait = 0;
    if (n == 0 && !t && wait < 0)
        return 0;   /* nothing could ever end the wait */
    int r = poll(l->pfds, (nfds_t)n, wait);
    if (r < 0 && errno != EINTR)
        return LOOP_ERR_SYS;
    if (r < 0)
        r = 0;
    int ran = 0;
    l->depth++;
    for (int i = 0; i < n; i++) {
        int fd = l->pfds[i].fd;
        short re = l->pfds[i].revents;
        struct loop_reg *reg = &l->regs[fd];
        if (!reg->fn || reg->gen != l->pgen[i])
            continue;   /* removed (or replaced) by an earlier callback of this round */
        int ready = 0;
        if (re & (POLLERR | POLLHUP | POLLNVAL))
            ready = LOOP_READ | LOOP_WRITE;
        if (re & POLLIN)
            ready |= LOOP_READ;
        if (re & POLLOUT)
            ready |= LOOP_WRITE;
        if (reg->kicked) {
            reg->kicked = false;
            ready |= LOOP_READ;
        }
        if (!ready)
            continue;
        reg->fn(l, fd, ready, reg->ud);
        ran++;
    }
    ran += run_timers(l);
    ran += run_later(l);
    l->depth--;
    return ran;
}
