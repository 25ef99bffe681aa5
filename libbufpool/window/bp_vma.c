/*
 * bp_vma.c - the memory-mapping (VMA) budget of the window.
 *
 * Since Linux 4.0 remap_file_pages is emulated with one VMA per remapped
 * range, so the rfp and mmap backends cost up to one VMA per window slot
 * (a slot's mapping differs from its neighbours'; VMA boundaries only ever
 * fall on slot boundaries, so W slots never need more than W VMAs).  At
 * vm.max_map_count the whole process, not just the pool, starts failing
 * mmap/munmap/mprotect/malloc with ENOMEM.  So the window is checked up front
 * against what the limit leaves free, minus a generous reserve for the host
 * engine: max(4096, limit / 8).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "window/window_impl.h"

#define BP__VMA_RESERVE_MIN 4096u

int bp__vma_limit(uint64_t *limit)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    unsigned long long v = 0;
    int ok;

    if (!f)
        return -errno;
    ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    if (!ok)
        return -EIO;
    *limit = v;
    return 0;
}

int bp__vma_count(uint64_t *count)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char buf[4096];
    uint64_t n = 0;
    size_t got;

    if (!f)
        return -errno;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    }
    fclose(f);
    *count = n;
    return 0;
}

int bp__vma_check(bp_pool *p, uint64_t slots)
{
    /* initialised: gcc -O3 (Release) cannot tell -errno from 0 */
    uint64_t limit = 0, used = 0, reserve, avail;
    int rc;

    if ((rc = bp__vma_limit(&limit)) != 0)
        return bp__fail(p, rc, "cannot read /proc/sys/vm/max_map_count");
    if ((rc = bp__vma_count(&used)) != 0)
        return bp__fail(p, rc, "cannot read /proc/self/maps");
    reserve = limit / 8 > BP__VMA_RESERVE_MIN ? limit / 8 : BP__VMA_RESERVE_MIN;
    avail = limit > used + reserve ? limit - used - reserve : 0;
    p->vma_limit = limit;
    p->vma_budget = avail;
    if (slots + 2 > avail)
        return bp__fail(p, BP_EVMABUDGET,
                        "window of %llu slots needs up to %llu mappings, but "
                        "vm.max_map_count = %llu with %llu in use and %llu kept "
                        "in reserve leaves %llu: use a window of at most %llu "
                        "slots, the copy backend, or raise the limit (sysctl "
                        "-w vm.max_map_count=%llu)",
                        (unsigned long long)slots,
                        (unsigned long long)slots + 2,
                        (unsigned long long)limit, (unsigned long long)used,
                        (unsigned long long)reserve, (unsigned long long)avail,
                        (unsigned long long)(avail > 2 ? avail - 2 : 0),
                        (unsigned long long)(used + reserve + slots + 2));
    return 0;
}
