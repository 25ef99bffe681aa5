/*
 * bench_remap_raw.c - `bpbench remap --raw`: the window mechanisms alone,
 * without the library: ns per scattered remap of one slot (map a random
 * frame into a random slot of a window whose every slot maps some frame,
 * then read one word of every 4 KiB of it).
 *
 *   rfp   remap_file_pages of the slot in one MAP_SHARED mapping
 *   mmap  mmap(MAP_SHARED|MAP_FIXED|MAP_POPULATE) of the frame over the slot
 *   kmod  BPWIN_OP_MAP|BPWIN_MAP_POPULATE to /dev/bpwin: one op per ioctl,
 *         and --batch ops per ioctl
 *
 * Every mechanism replays the same (slot, frame) sequence from --seed, on
 * its own memfd of slots + slots / 4 frames, set up before timing with
 * every slot mapped in a shuffled order, so rfp and mmap hold one VMA per
 * slot as a scattered window does.  Repetitions alternate the mechanisms;
 * the report gives each one's median and kmod's throughput over rfp's and
 * mmap's as the median of the per-repetition ratios.  A mechanism that
 * cannot set its window up (rfp and mmap past vm.max_map_count, kmod
 * without the module) shows n/a and why.
 *
 * Results (bo_run, table "raw"): a row per mechanism asked for, labels
 * backend, slots and batch (ops per call), metrics ns_per_remap (the
 * median; none when n/a), remaps_per_rep, reps, and on kmod's rows
 * ratio_rfp_over_this and ratio_mmap_over_this (the throughput ratios).
 */
#include "bench_remap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bpwin_uapi.h"

enum { RAW_RFP, RAW_MMAP, RAW_KMOD1, RAW_KMODB, RAW_N };
static const char *const raw_name[RAW_N] = {"rfp", "mmap", "kmod",
                                            "kmod batch"};

typedef struct raw_win {
    int shm, dev; /* dev: /dev/bpwin, kmod only */
    char *w;
    uint64_t slots, frames, psz;
    int ok;
    char why[256];
} raw_win;

static int raw_kmod_batch(raw_win *r, const struct bpwin_op *ops, uint32_t n)
{
    struct bpwin_batch b = {.ops = (uint64_t)(uintptr_t)ops, .count = n};
    while (ioctl(r->dev, BPWIN_IOC_BATCH, &b) != 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

/* Map frame f into slot s with mechanism m; 0 or -errno. */
static int raw_map1(raw_win *r, int m, uint64_t s, uint64_t f)
{
    char *a = r->w + s * r->psz;
    if (m == RAW_RFP)
        return remap_file_pages(a, r->psz, 0, f * (r->psz / 4096), 0) ? -errno
                                                                       : 0;
    if (m == RAW_MMAP)
        return mmap(a, r->psz, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_FIXED | MAP_POPULATE, r->shm,
                    (off_t)(f * r->psz)) == MAP_FAILED ? -errno : 0;
    struct bpwin_op op = {.slot = s, .frame = f, .op = BPWIN_OP_MAP,
                          .flags = BPWIN_PROT_RW | BPWIN_MAP_POPULATE};
    return raw_kmod_batch(r, &op, 1);
}

static void raw_close(raw_win *r)
{
    if (r->w && r->w != MAP_FAILED)
        munmap(r->w, r->slots * r->psz);
    if (r->dev >= 0)
        close(r->dev);
    if (r->shm >= 0)
        close(r->shm);
    r->w = NULL;
    r->dev = r->shm = -1;
}

/* Set up mechanism m's window with every slot mapped (perm: a shuffled
 * slot order); r->ok 0 and r->why filled when it cannot. */
static void raw_open(raw_win *r, int m, const uint64_t *perm)
{
    uint64_t bytes = r->frames * r->psz;
    r->dev = -1;
    r->w = NULL;
    r->ok = 0;
    r->shm = memfd_create("bpbench-raw", MFD_CLOEXEC);
    if (r->shm < 0 || ftruncate(r->shm, (off_t)bytes) != 0 ||
        fallocate(r->shm, 0, 0, (off_t)bytes) != 0) {
        snprintf(r->why, sizeof r->why, "shm of %llu bytes: %s",
                 (unsigned long long)bytes, strerror(errno));
        return;
    }
    if (m >= RAW_KMOD1) {
        struct bpwin_setup su = {.abi_version = BPWIN_ABI_VERSION,
                                 .shm_fd = r->shm,
                                 .slot_pages = (uint32_t)(r->psz / 4096),
                                 .nslots = r->slots};
        if ((r->dev = open(BPWIN_DEVICE, O_RDWR | O_CLOEXEC)) < 0 ||
            ioctl(r->dev, BPWIN_IOC_SETUP, &su) != 0) {
            snprintf(r->why, sizeof r->why, "%s: %s", BPWIN_DEVICE,
                     strerror(errno));
            return;
        }
        r->w = mmap(NULL, r->slots * r->psz, PROT_READ | PROT_WRITE,
                    MAP_SHARED, r->dev, 0);
    } else {
        r->w = mmap(NULL, r->slots * r->psz, PROT_READ | PROT_WRITE,
                    MAP_SHARED, r->shm, 0);
    }
    if (r->w == MAP_FAILED) {
        snprintf(r->why, sizeof r->why, "window mmap: %s", strerror(errno));
        return;
    }
    for (uint64_t i = 0; i < r->slots; i++) {
        uint64_t s = perm[i];
        int rc = raw_map1(r, m, s, (s * 7 + 3) % r->frames);
        if (rc) {
            snprintf(r->why, sizeof r->why, "stops at %llu of %llu slots: "
                     "%s%s", (unsigned long long)i,
                     (unsigned long long)r->slots, strerror(-rc),
                     rc == -ENOMEM ? " (vm.max_map_count)" : "");
            return;
        }
    }
    r->ok = 1;
}

/* One timed repetition: ns per remap, or -1 with why filled. */
static double raw_rep(raw_win *r, int m, const uint64_t *sl,
                      const uint64_t *fr, uint64_t n, uint32_t batch)
{
    struct bpwin_op *ops = NULL;
    volatile uint64_t sink = 0;
    uint64_t t0 = bu_now_ns();
    if (m == RAW_KMODB && !(ops = calloc(batch, sizeof *ops)))
        return -1;
    for (uint64_t i = 0; i < n;) {
        uint64_t k = m == RAW_KMODB ? (n - i < batch ? n - i : batch) : 1;
        int rc;
        if (m == RAW_KMODB) {
            for (uint64_t j = 0; j < k; j++)
                ops[j] = (struct bpwin_op){.slot = sl[i + j],
                                           .frame = fr[i + j],
                                           .op = BPWIN_OP_MAP,
                                           .flags = BPWIN_PROT_RW |
                                                    BPWIN_MAP_POPULATE};
            rc = raw_kmod_batch(r, ops, (uint32_t)k);
        } else {
            rc = raw_map1(r, m, sl[i], fr[i]);
        }
        if (rc) {
            snprintf(r->why, sizeof r->why, "remap: %s", strerror(-rc));
            free(ops);
            return -1;
        }
        for (uint64_t j = 0; j < k; j++) {
            const char *a = r->w + sl[i + j] * r->psz;
            for (uint64_t o = 0; o < r->psz; o += 4096)
                sink += *(const volatile uint64_t *)(a + o);
        }
        i += k;
    }
    (void)sink;
    free(ops);
    return (double)(bu_now_ns() - t0) / (double)n;
}

/* The options and one row per mechanism asked for into run; x[m][0],
 * x[m][1]: rfp's and mmap's ns over m's (0: none). */
static void raw_record(const rm_opts *o, bo_run *run, const int *want,
                       const raw_win *win, double *const *ns,
                       double x[RAW_N][2], uint32_t batch)
{
    char bks[64] = "";
    for (int m = 0; m < RAW_KMODB; m++)
        if (want[m])
            bpl_join(bks, sizeof bks, raw_name[m]);
    bo_opt_num(run, "raw", 1);
    bo_opt_num(run, "page_size", (double)o->page_size);
    bo_opt_num(run, "window_slots", (double)o->window_slots);
    bo_opt_num(run, "ops", (double)o->ops);
    bo_opt_num(run, "reps", (double)o->reps);
    bo_opt_num(run, "batch", batch);
    bo_opt_str(run, "backend", bks);
    bo_opt_num(run, "seed", (double)o->seed);
    bo_plot_metric(run, "raw", "ns_per_remap",
                   "ns per remap (median of the reps)");
    for (int m = 0; m < RAW_N; m++) {
        int ok = win[m].ok && ns[m];
        if (!want[m])
            continue;
        bo_row *w = bo_row_new(run, "raw");
        bo_label_str(w, "backend", m == RAW_KMODB ? "kmod" : raw_name[m]);
        bo_label_num(w, "slots", (double)o->window_slots);
        bo_label_num(w, "batch", m == RAW_KMODB ? batch : 1);
        if (ok)
            bo_metric(w, "ns_per_remap", bu_median(ns[m], o->reps));
        bo_metric(w, "remaps_per_rep", (double)o->ops);
        bo_metric(w, "reps", ok ? (double)o->reps : 0);
        if (x[m][0] > 0)
            bo_metric(w, "ratio_rfp_over_this", x[m][0]);
        if (x[m][1] > 0)
            bo_metric(w, "ratio_mmap_over_this", x[m][1]);
    }
}

int rm_raw_main(void *c, bo_run *run)
{
    const rm_opts *o = &((const rm_ctx *)c)->o;
    if (!o->raw)
        return -1;
    uint64_t slots = o->window_slots, n = o->ops, reps = o->reps;
    uint64_t *perm, *sl, *fr;
    bu_rng rng;
    uint32_t batch = o->batch ? (uint32_t)o->batch : 64;
    raw_win win[RAW_N];
    double *ns[RAW_N], x[RAW_N][2] = {{0}};
    int want[RAW_N] = {0}, rc = 0;

    for (int b = 0; b < o->nbk; b++) {
        if (o->bk[b] == BP_BACKEND_RFP)
            want[RAW_RFP] = 1;
        else if (o->bk[b] == BP_BACKEND_MMAP)
            want[RAW_MMAP] = 1;
        else if (o->bk[b] == BP_BACKEND_KMOD)
            want[RAW_KMOD1] = want[RAW_KMODB] = 1;
    }
    perm = malloc(slots * sizeof *perm);
    sl = malloc(n * sizeof *sl);
    fr = malloc(n * sizeof *fr);
    if (!perm || !sl || !fr) {
        fprintf(stderr, "bpbench remap --raw: out of memory\n");
        free(perm), free(sl), free(fr);
        return 1;
    }
    bu_rng_seed(&rng, o->seed, 7, 0);
    for (uint64_t i = 0; i < slots; i++)
        perm[i] = i;
    for (uint64_t i = slots; i > 1; i--) {
        uint64_t j = bu_rng_below(&rng, i), t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (uint64_t i = 0; i < n; i++) {
        sl[i] = bu_rng_below(&rng, slots);
        fr[i] = bu_rng_below(&rng, slots + slots / 4);
    }
    printf("bpbench remap --raw: ns per scattered remap of one slot + a read "
           "of every 4 KiB of it, median of %llu reps\n",
           (unsigned long long)reps);
    bu_print_machine(stdout, "");
    printf("window: %llu slots of %llu B over %llu frames (memfd); %llu "
           "remaps per rep, the same sequence for each mechanism; kmod "
           "batch: %u ops per ioctl\n", (unsigned long long)slots,
           (unsigned long long)o->page_size,
           (unsigned long long)(slots + slots / 4), (unsigned long long)n,
           batch);
    for (int m = 0; m < RAW_N; m++) {
        memset(&win[m], 0, sizeof win[m]);
        win[m].slots = slots;
        win[m].frames = slots + slots / 4;
        win[m].psz = o->page_size;
        win[m].dev = win[m].shm = -1;
        ns[m] = calloc(reps, sizeof *ns[m]);
        if (want[m]) {
            raw_open(&win[m], m == RAW_KMODB ? RAW_KMOD1 : m, perm);
            if (!win[m].ok)
                raw_close(&win[m]);
        }
    }
    for (uint64_t r = 0; r < reps; r++)
        for (int m = 0; m < RAW_N; m++)
            if (want[m] && win[m].ok && ns[m]) {
                ns[m][r] = raw_rep(&win[m], m, sl, fr, n, batch);
                if (ns[m][r] < 0) {
                    win[m].ok = 0;
                    rc = 1;
                }
            }
    printf("\n  mechanism      ns/remap\n  -----------------------\n");
    for (int m = 0; m < RAW_N; m++) {
        if (!want[m])
            continue;
        if (win[m].ok && ns[m])
            printf("  %-12s %10.0f\n", raw_name[m], bu_median(ns[m], reps));
        else
            printf("  %-12s %10s  (%s)\n", raw_name[m], "n/a", win[m].why);
    }
    for (int k = RAW_KMOD1; k <= RAW_KMODB; k++) {
        if (!want[k] || !win[k].ok ||
            !((want[RAW_RFP] && win[RAW_RFP].ok) ||
              (want[RAW_MMAP] && win[RAW_MMAP].ok)))
            continue;
        printf("\n%s's throughput over", raw_name[k]);
        for (int m = RAW_RFP; m <= RAW_MMAP; m++) {
            double *q = malloc(reps * sizeof *q);
            if (!want[m] || !win[m].ok || !q) {
                free(q);
                continue;
            }
            for (uint64_t r = 0; r < reps; r++)
                q[r] = ns[k][r] > 0 ? ns[m][r] / ns[k][r] : 0;
            x[k][m - RAW_RFP] = bu_median(q, reps);
            printf(" %s %.2fx", raw_name[m], x[k][m - RAW_RFP]);
            free(q);
        }
        printf(" (their ns over its ns, median of the per-rep ratios)\n");
    }
    raw_record(o, run, want, win, ns, x, batch);
    for (int m = 0; m < RAW_N; m++) {
        raw_close(&win[m]);
        free(ns[m]);
    }
    free(perm), free(sl), free(fr);
    return rc;
}
