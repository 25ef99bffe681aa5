/*
 * bp_sys.c - the arming state of the system-call table (bp_sys.h) and its
 * test hooks (bp_testing.h: bp__test_fault_*), and the library's other
 * test hooks (bp__test_early_hook, bp__test_ahead_hook: bp__sys_hook_call).
 *
 * Owns: one process-wide arming: a mask of call kinds, the Nth matching
 * call to fail (1-based, counted from arming), once or from then on, with
 * an errno or a short transfer; counts of matching calls since arming, in
 * all and per kind, and of failed ones.
 *
 * Invariants:
 *  - bp__sys_armed is 0 unless a test armed it, so a disarmed wrapper costs
 *    one relaxed load.  Arming stores 0 first, resets the rest, then stores
 *    the mask (release), so a call that sees the new mask sees the new
 *    settings.  Arm and disarm while no pool is busy in another thread: a
 *    call in flight may count against the old or the new setting.
 *  - Every field is accessed atomically (several threads make calls).
 *  - With BP_FAULTS 0 only the hooks remain: arming is -ENOTSUP and
 *    bp__test_faults_compiled() says 0, so tests skip.
 */
#include <errno.h>
#include <stdint.h>

#include "platform/bp_sys.h"
#include "platform/bp_testing.h"

static const char *const bp__sys_names[BP__SYS_NKINDS] = {
#define BP__SYS_NAME(id, name) name,
    BP__SYS_CALLS(BP__SYS_NAME)
#undef BP__SYS_NAME
};

const char *bp__test_fault_kind_name(unsigned kind)
{
    return kind < BP__SYS_NKINDS ? bp__sys_names[kind] : "?";
}

#if BP_FAULTS

static struct {
    void (*fn)(void *arg, uint64_t pgno);
    void *arg;
} bp__sys_hooks[BP__HOOK_N];

static int bp__sys_hook_set(enum bp__sys_hook h,
                            void (*fn)(void *arg, uint64_t pgno), void *arg)
{
    __atomic_store_n(&bp__sys_hooks[h].arg, arg, __ATOMIC_RELAXED);
    __atomic_store_n(&bp__sys_hooks[h].fn, fn, __ATOMIC_RELEASE);
    return 0;
}

void bp__sys_hook_call(enum bp__sys_hook h, uint64_t pgno)
{
    void (*fn)(void *, uint64_t) =
        __atomic_load_n(&bp__sys_hooks[h].fn, __ATOMIC_ACQUIRE);

    if (fn)
        fn(__atomic_load_n(&bp__sys_hooks[h].arg, __ATOMIC_RELAXED), pgno);
}

unsigned bp__sys_armed;

static struct {
    uint64_t nth;     /* the first call to fail, 1-based */
    uint64_t count;   /* matching calls since arming */
    uint64_t hits;    /* of which failed */
    uint64_t kind_count[BP__SYS_NKINDS];
    int err;          /* errno, or 0: short transfer */
    int persistent;
} bp__sys_st;

int bp__sys_hit(enum bp__sys_kind k)
{
    uint64_t n = __atomic_add_fetch(&bp__sys_st.count, 1, __ATOMIC_ACQ_REL);
    uint64_t nth = __atomic_load_n(&bp__sys_st.nth, __ATOMIC_ACQUIRE);
    int err;

    __atomic_add_fetch(&bp__sys_st.kind_count[k], 1, __ATOMIC_RELAXED);
    if (n != nth &&
        !(n > nth && __atomic_load_n(&bp__sys_st.persistent, __ATOMIC_ACQUIRE)))
        return 0;
    __atomic_add_fetch(&bp__sys_st.hits, 1, __ATOMIC_RELAXED);
    err = __atomic_load_n(&bp__sys_st.err, __ATOMIC_ACQUIRE);
    return err ? err : BP__SYS_SHORT_HIT;
}

int bp__test_faults_compiled(void)
{
    return 1;
}

int bp__test_fault_arm(unsigned kinds, uint64_t nth, int err, int persistent)
{
    if (err < 0 || nth == 0 || (kinds & ~(unsigned)BP__SYS_ALL))
        return -EINVAL;
    __atomic_store_n(&bp__sys_armed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&bp__sys_st.nth, nth, __ATOMIC_RELEASE);
    __atomic_store_n(&bp__sys_st.count, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&bp__sys_st.hits, 0, __ATOMIC_RELEASE);
    for (int k = 0; k < BP__SYS_NKINDS; k++)
        __atomic_store_n(&bp__sys_st.kind_count[k], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&bp__sys_st.err, err, __ATOMIC_RELEASE);
    __atomic_store_n(&bp__sys_st.persistent, persistent != 0,
                     __ATOMIC_RELEASE);
    __atomic_store_n(&bp__sys_armed, kinds, __ATOMIC_RELEASE);
    return 0;
}

void bp__test_fault_disarm(void)
{
    __atomic_store_n(&bp__sys_armed, 0, __ATOMIC_RELEASE);
}

uint64_t bp__test_fault_calls(void)
{
    return __atomic_load_n(&bp__sys_st.count, __ATOMIC_ACQUIRE);
}

uint64_t bp__test_fault_hits(void)
{
    return __atomic_load_n(&bp__sys_st.hits, __ATOMIC_ACQUIRE);
}

uint64_t bp__test_fault_kind_calls(unsigned kind)
{
    return kind < BP__SYS_NKINDS
               ? __atomic_load_n(&bp__sys_st.kind_count[kind],
                                 __ATOMIC_ACQUIRE)
               : 0;
}

#else /* !BP_FAULTS */

static int bp__sys_hook_set(enum bp__sys_hook h,
                            void (*fn)(void *arg, uint64_t pgno), void *arg)
{
    (void)h, (void)fn, (void)arg;
    return -ENOTSUP;
}

int bp__test_faults_compiled(void)
{
    return 0;
}

int bp__test_fault_arm(unsigned kinds, uint64_t nth, int err, int persistent)
{
    (void)kinds, (void)nth, (void)err, (void)persistent;
    return -ENOTSUP;
}

void bp__test_fault_disarm(void)
{
}

uint64_t bp__test_fault_calls(void)
{
    return 0;
}

uint64_t bp__test_fault_hits(void)
{
    return 0;
}

uint64_t bp__test_fault_kind_calls(unsigned kind)
{
    (void)kind;
    return 0;
}

#endif

int bp__test_early_hook(void (*fn)(void *arg, uint64_t pgno), void *arg)
{
    return bp__sys_hook_set(BP__HOOK_EARLY, fn, arg);
}

int bp__test_ahead_hook(void (*fn)(void *arg, uint64_t pgno), void *arg)
{
    return bp__sys_hook_set(BP__HOOK_AHEAD, fn, arg);
}

/* ---- park points (bp_testing.h) --------------------------------------------
 * A multi-process test kills a worker while it is at a chosen place inside
 * the library: the worker arms a point, and the first thread to reach it
 * writes "parked" to the armed fd and sleeps until the process is killed.
 * Compiled with the fault table only. */
int bp__park_armed;
static int bp__park_fd = -1;

void bp__park_here(int point)
{
    static const char msg[] = "parked\n";
    int expect = point;

    if (!__atomic_compare_exchange_n(&bp__park_armed, &expect, 0, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    if (write(bp__park_fd, msg, sizeof msg - 1) < 0) {
        /* the test reads the line; without it, it times out and fails */
    }
    for (;;)
        pause();
}

int bp__test_park_arm(int point, int fd)
{
    if (!BP_FAULTS)
        return -ENOTSUP;
    bp__park_fd = fd;
    __atomic_store_n(&bp__park_armed, point, __ATOMIC_RELEASE);
    return 0;
}
