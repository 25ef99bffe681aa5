/*
 * bp_backend_auto.c - the "auto" backend: pick a real backend at open.
 *
 * Rule (documented in README.md):
 *  1. On 64-bit, when the window asked for covers the whole cache, or no
 *     window size was set and the whole cache fits the address budget
 *     (bp__addr_room), take linear: nothing beats no remapping at all.
 *  2. Otherwise, when /dev/bpwin answers with this library's ABI (the
 *     bpwin module, kernel/), take kmod once a scratch window of it maps
 *     and touches slots (its cost goes in the reason): one VMA, remaps
 *     under mmap_lock for reading.
 *  3. Otherwise calibrate: for rfp, mmap and copy, set up a scratch window
 *     of BP__CAL_SLOTS slots and time BP__CAL_OPS cycles of "map a frame
 *     into a slot, touch every 4 KiB of it" (copy also copies every other
 *     slot back, as dirty pages would be).  rfp and mmap take part only when
 *     the window fits the VMA budget.  The cheapest per map wins.
 * Guard mode (bp_set_guard) takes kmod, or fails when the module does not
 * answer.  The choice and the measured figures land in
 * bp_stats.backend_reason.
 * Calibration runs before any page is cached and leaves no trace in the
 * counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "window/window_impl.h"

#define BP__CAL_SLOTS 8u
#define BP__CAL_OPS 96u

static uint64_t bp__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns per map+touch with backend b, or 0 when b could not be set up. */
static uint64_t bp__calibrate(bp_pool *p, const struct bp__backend_ops *b)
{
    uint32_t k = p->nframes < BP__CAL_SLOTS ? (uint32_t)p->nframes
                                            : BP__CAL_SLOTS;
    volatile unsigned char sink = 0;
    uint64_t t0, t1, best = UINT64_MAX;
    int rc = 0;

    p->be = b;
    p->nslots = k;
    p->window_bytes = (uint64_t)k * p->po_page_size;
    if (b->init(p) != 0) {
        b->fini(p);
        return 0;
    }
    for (int round = 0; round < 3 && rc == 0; round++) {
        t0 = bp__now_ns();
        for (uint32_t i = 0; i < BP__CAL_OPS && rc == 0; i++) {
            uint32_t s = i % k, f = (uint32_t)(p->nframes - 1 - i % p->nframes);
            const unsigned char *a = (const unsigned char *)bp__slot_addr(p, s);

            rc = b->map(p, s, f, 1);
            for (uint32_t o = 0; rc == 0 && o < p->po_page_size; o += 4096)
                sink = (unsigned char)(sink + a[o]);
            if (rc == 0 && b->id == BP_BACKEND_COPY && (i & 1))
                rc = bp__shm_pwrite(p, a, f);
        }
        t1 = bp__now_ns();
        if ((t1 - t0) / BP__CAL_OPS < best)
            best = (t1 - t0) / BP__CAL_OPS;
    }
    (void)sink;
    b->fini(p);
    return rc ? 0 : (best ? best : 1);
}

/* Bytes of address space the window may take: the pool's budget, and
 * half of what RLIMIT_AS leaves beside what the process maps already. */
static uint64_t bp__addr_room(const bp_pool *p)
{
    uint64_t room = p->po_addr_budget ? p->po_addr_budget : UINT64_MAX;
    struct rlimit rl;

    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        unsigned long long vm_pages = 0;
        uint64_t used, free_as;
        FILE *f = fopen("/proc/self/statm", "re");

        if (f) {
            if (fscanf(f, "%llu", &vm_pages) != 1)
                vm_pages = 0;
            fclose(f);
        }
        used = (uint64_t)vm_pages * (uint64_t)sysconf(_SC_PAGESIZE);
        free_as = (uint64_t)rl.rlim_cur > used ? (uint64_t)rl.rlim_cur - used
                                               : 0;
        if (free_as / 2 < room)
            room = free_as / 2;
    }
    return room;
}

/* After calibrating: no trace in the counters, no window, no message
 * from a failed trial. */
static void bp__auto_reset(bp_pool *p)
{
    memset(p->shards, 0, BP__SHARDS * sizeof *p->shards);
    p->nslots = 0;
    p->window_bytes = 0;
    bp__errmsg_clear(p);
}

int bp__backend_choose(bp_pool *p)
{
    static const struct bp__backend_ops *const cand[] = {
        &bp__backend_rfp, &bp__backend_mmap, &bp__backend_copy};
    uint64_t asked = bp__window_slots_asked(p), ns[3], best = UINT64_MAX;
    const struct bp__backend_ops *win = &bp__backend_copy;
    char vma_note[48] = "", addr_note[64] = "", why[192];
    int fits = 1, rc;

    if (p->po_guard) { /* only kmod protects slots one by one */
        if ((rc = bp__kmod_probe(why, sizeof why)) != 0)
            return bp__fail(p, BP_EBACKEND, "guard mode needs the kmod "
                            "backend: %s", why);
        p->be = &bp__backend_kmod;
        snprintf(p->be_reason, sizeof p->be_reason,
                 "auto: guard mode, so kmod");
        return 0;
    }
    if (sizeof(void *) >= 8 && asked >= p->nframes) {
        p->be = &bp__backend_linear;
        snprintf(p->be_reason, sizeof p->be_reason,
                 "auto: the window covers the whole cache on 64-bit, so one "
                 "linear map");
        return 0;
    }
    if (sizeof(void *) >= 8 && asked == 0) {
        uint64_t bytes = p->nframes * p->po_page_size, room = bp__addr_room(p);

        if (bytes <= room) {
            p->be = &bp__backend_linear;
            snprintf(p->be_reason, sizeof p->be_reason,
                     "auto: no window size set and the whole cache (%" PRIu64
                     " MiB) fits the address budget on 64-bit, so one linear "
                     "map", bytes >> 20);
            return 0;
        }
        snprintf(addr_note, sizeof addr_note,
                 " (cache over the address budget of %" PRIu64 " KiB)",
                 room >> 10);
    }
    if (bp__kmod_probe(why, sizeof why) == 0) {
        uint64_t k = bp__calibrate(p, &bp__backend_kmod);

        bp__auto_reset(p);
        if (k) {
            p->be = &bp__backend_kmod;
            snprintf(p->be_reason, sizeof p->be_reason,
                     "auto: the bpwin module answers, so kmod (map+touch "
                     "per slot %.1f us)%s", k / 1000.0, addr_note);
            return 0;
        }
    }
    if (asked && bp__vma_check(p, asked) != 0) {
        if (p->shared) /* copy is no choice for a shared cache */
            return bp__vma_check(p, asked);
        fits = 0;
        snprintf(vma_note, sizeof vma_note, " (rfp/mmap: over VMA budget)");
    }
    if (p->shared) {
        win = &bp__backend_mmap;
        snprintf(vma_note, sizeof vma_note, " (shared cache: not copy)");
    }
    for (int i = 0; i < 3; i++) {
        ns[i] = (fits || i == 2) && !(p->shared && i == 2)
                    ? bp__calibrate(p, cand[i])
                    : 0;
        if (ns[i] && ns[i] < best) {
            best = ns[i];
            win = cand[i];
        }
    }
    bp__auto_reset(p);
    p->be = win;
    if (snprintf(p->be_reason, sizeof p->be_reason,
                 "auto: map+touch per slot rfp %.1f us, mmap %.1f us, copy "
                 "%.1f us%s%s -> %s",
                 ns[0] / 1000.0, ns[1] / 1000.0, ns[2] / 1000.0, addr_note,
                 vma_note, win->name) >= (int)sizeof p->be_reason) {
        /* a reason cut short is still the reason */
    }
    return 0;
}
