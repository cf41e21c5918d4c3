/* test_loop.c — loop.c over socket pairs: readiness reaches the right callback, a descriptor
 * removed by an earlier callback of the same round is not called, kicks, timers in order,
 * deferred calls after the round, and no waiting from inside a callback. */
#include "check.h"
#include "loop.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct probe {
    struct loop *l;
    int calls, ready, nested;
    int victim;                     /* fd this probe's callback removes, or -1 */
};

static void on_io(struct loop *l, int fd, int ready, void *ud)
{
    struct probe *p = ud;
    p->calls++;
    p->ready = ready;
    p->nested = loop_run_once(l, 0);
    if (p->victim >= 0)
        loop_remove(l, p->victim);
    char buf[64];
    if (ready & LOOP_READ)
        (void)!read(fd, buf, sizeof buf);
}

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
}

static void test_readiness(void)
{
    struct loop *l = loop_new();
    int a[2], b[2];
    pair(a);
    pair(b);
    struct probe pa = { .victim = -1 }, pb = { .victim = -1 };
    CHECK_INT(loop_add(l, a[0], LOOP_READ, on_io, &pa), 0);
    CHECK_INT(loop_add(l, b[0], LOOP_READ, on_io, &pb), 0);
    CHECK_INT(loop_run_once(l, 10), 0);            /* nothing to read: the time runs out */
    CHECK_INT(write(b[1], "x", 1), 1);
    CHECK_INT(loop_run_once(l, 1000), 1);
    CHECK_INT(pa.calls, 0);
    CHECK_INT(pb.calls, 1);
    CHECK_INT(pb.ready, LOOP_READ);
    CHECK_INT(pb.nested, LOOP_ERR_NESTED);         /* no waiting inside a callback */
    loop_set_mask(l, a[0], LOOP_WRITE);            /* a socket pair is writable at once */
    CHECK_INT(loop_run_once(l, 1000), 1);
    CHECK_INT(pa.ready & LOOP_WRITE, LOOP_WRITE);
    loop_set_mask(l, a[0], 0);
    close(b[1]);                                   /* a hang-up reads as both */
    CHECK_INT(loop_run_once(l, 1000), 1);
    CHECK_INT(pb.ready, LOOP_READ | LOOP_WRITE);
    loop_remove(l, a[0]);
    loop_remove(l, b[0]);
    CHECK_INT(loop_run_once(l, -1), 0);            /* nothing watched: no endless wait */
    close(a[0]);
    close(a[1]);
    close(b[0]);
    loop_free(l);
}

static void test_removed_in_same_round(void)
{
    struct loop *l = loop_new();
    int a[2], b[2];
    pair(a);
    pair(b);
    /* Both are ready; whichever runs first removes the other, which must not run. */
    struct probe pa = { .victim = b[0] }, pb = { .victim = a[0] };
    loop_add(l, a[0], LOOP_READ, on_io, &pa);
    loop_add(l, b[0], LOOP_READ, on_io, &pb);
    CHECK_INT(write(a[1], "x", 1), 1);
    CHECK_INT(write(b[1], "x", 1), 1);
    CHECK_INT(loop_run_once(l, 1000), 1);
    CHECK_INT(pa.calls + pb.calls, 1);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    loop_free(l);
}

static void test_kick(void)
{
    struct loop *l = loop_new();
    int a[2];
    pair(a);
    struct probe p = { .victim = -1 };
    loop_add(l, a[0], LOOP_READ, on_io, &p);
    loop_kick(l, a[0]);                            /* data held above the socket */
    CHECK_INT(loop_run_once(l, 5000), 1);          /* without waiting the 5 s */
    CHECK_INT(p.calls, 1);
    CHECK_INT(loop_run_once(l, 10), 0);            /* once */
    loop_remove(l, a[0]);
    close(a[0]);
    close(a[1]);
    loop_free(l);
}

static int order[8], norder;

static void on_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    order[norder++] = (int)(t->when % 1000);
}

static void test_timers(void)
{
    struct loop *l = loop_new();
    struct loop_timer t1 = { .fn = on_timer }, t2 = { .fn = on_timer }, t3 = { .fn = on_timer };
    int64_t now = loop_now_ms();
    /* A whole second before this one: all three are past, and when % 1000 tells them apart. */
    int64_t base = now - now % 1000 - 1000;
    norder = 0;
    loop_timer_arm(l, &t1, base + 30);
    loop_timer_arm(l, &t2, base + 10);
    loop_timer_arm(l, &t3, base + 20);
    loop_timer_disarm(l, &t3);
    /* All are due already: one round runs them, earliest first. */
    CHECK(loop_run_once(l, 1000) >= 2);
    CHECK_INT(norder, 2);
    CHECK_INT(order[0], 10);
    CHECK_INT(order[1], 30);
    CHECK(!t1.armed && !t2.armed && !t3.armed);
    /* A timer in the future shortens a longer wait. */
    int64_t t0 = loop_now_ms();
    loop_timer_arm(l, &t1, t0 + 50);
    CHECK_INT(loop_run_once(l, 10000), 1);
    CHECK(loop_now_ms() - t0 < 5000);
    loop_free(l);
}

static int later_calls;
static struct probe *later_probe;

static void later_fn(void *ud)
{
    later_calls++;
    later_probe = ud;
}

static void on_io_later(struct loop *l, int fd, int ready, void *ud)
{
    (void)ready;
    char buf[8];
    (void)!read(fd, buf, sizeof buf);
    loop_later(l, later_fn, ud);
    CHECK_INT(later_calls, 0);                     /* not while the callback runs */
}

static void test_later(void)
{
    struct loop *l = loop_new();
    int a[2];
    pair(a);
    struct probe p = { .victim = -1 };
    later_calls = 0;
    loop_add(l, a[0], LOOP_READ, on_io_later, &p);
    CHECK_INT(write(a[1], "x", 1), 1);
    CHECK_INT(loop_run_once(l, 1000), 2);          /* the callback and the deferred call */
    CHECK_INT(later_calls, 1);
    CHECK(later_probe == &p);
    loop_remove(l, a[0]);
    close(a[0]);
    close(a[1]);
    loop_free(l);
}

int main(void)
{
    RUN(test_readiness);
    RUN(test_removed_in_same_round);
    RUN(test_kick);
    RUN(test_timers);
    RUN(test_later);
    return CHECK_DONE();
}
