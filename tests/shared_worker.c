/*
 * shared_worker.c - the worker processes of the multi-process tests and
 * the parent's side of talking to them (shared_worker.h).
 */
#include "shared_worker.h"
#include "util_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int sw_open(bp_pool **out, const char *data, const char *shm, int keep,
            bp_backend be, unsigned flags)
{
    bp_pool *p = NULL;
    int rc = bp_create(&p, NULL);

    *out = p;
    if (rc)
        return rc;
    if ((rc = bp_set_page_size(p, SW_PSZ)) != 0 ||
        (rc = bp_set_cache_frames(p, SW_FRAMES)) != 0 ||
        (rc = bp_set_window_slots(p, SW_SLOTS)) != 0 ||
        (rc = bp_set_backend(p, util_backend_for(be))) != 0 ||
        (shm && (rc = bp_set_shm(p, shm, keep)) != 0))
        return rc;
    return bp_open(p, data, flags | (shm ? BP_ATTACH : 0));
}

/* ---- the parent's side ------------------------------------------------------ */

/* This program's own path (under qemu-user, readlink of /proc/self/exe
 * names the emulated program, where exec of /proc/self/exe would start
 * the emulator). */
static const char *sw_self(void)
{
    static char self[4096];
    ssize_t n;

    if (self[0])
        return self;
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    return self;
}

void sw_start(struct sw *w, const char *data, const char *shm,
              const char *extra)
{
    const char *emu = getenv("BP_TEST_WORKER_EMU");

    sw_start_prog(w, sw_self(), emu && *emu ? emu : NULL, data, shm, extra);
}

void sw_start_prog(struct sw *w, const char *prog, const char *emu,
                   const char *data, const char *shm, const char *extra)
{
    int in[2], out[2];
    posix_spawn_file_actions_t fa;
    char *argv[] = {(char *)(emu ? emu : prog), (char *)prog, "--worker",
                    (char *)data, (char *)shm, (char *)extra, NULL};
    char **args = emu ? argv : argv + 1;

    signal(SIGPIPE, SIG_IGN); /* a killed worker's pipe: EPIPE, no signal */
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    assert_int_equal(posix_spawnp(&w->pid, args[0], &fa, NULL, args, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    w->to = fdopen(in[1], "w");
    w->from = fdopen(out[0], "r");
    assert_non_null(w->to);
    assert_non_null(w->from);
}

void sw_send(struct sw *w, const char *cmd)
{
    assert_true(fprintf(w->to, "%s\n", cmd) > 0);
    assert_int_equal(fflush(w->to), 0);
}

void sw_recv(struct sw *w, char *line, size_t len)
{
    if (!fgets(line, (int)len, w->from)) {
        print_error("worker %ld said nothing (exited?)\n", (long)w->pid);
        fail();
    }
    line[strcspn(line, "\n")] = '\0';
}

void sw_cmd(struct sw *w, const char *cmd, char *line, size_t len)
{
    sw_send(w, cmd);
    sw_recv(w, line, len);
}

int sw_stop(struct sw *w)
{
    char buf[256];
    int status = 0;

    if (w->to) {
        (void)fprintf(w->to, "quit\n");
        fclose(w->to);
    }
    while (fgets(buf, sizeof buf, w->from))
        ;
    fclose(w->from);
    w->to = w->from = NULL;
    if (waitpid(w->pid, &status, 0) != w->pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + WTERMSIG(status);
}

static int sw_parse(const char *line, const char *tag, uint64_t *v,
                    unsigned n)
{
    size_t tl = strlen(tag);
    const char *s = line;

    if (strncmp(s, tag, tl) != 0 || s[tl] != ' ') {
        print_error("worker answered \"%s\", not %s\n", line, tag);
        return -1;
    }
    s += tl;
    for (unsigned i = 0; i < n; i++) {
        char *end;
        v[i] = strtoull(s, &end, 10);
        if (end == s)
            return -1;
        s = end;
    }
    return 0;
}

int sw_parse_counts(const char *line, uint64_t *counts, unsigned n)
{
    return sw_parse(line, "counts", counts, n);
}

int sw_parse_list(const char *line, const char *tag, uint64_t *v, unsigned n)
{
    return sw_parse(line, tag, v, n);
}

/* ---- counter pages ---------------------------------------------------------- */

#define SW_HASH_AT (SW_WORKERS * 8)
#define SW_FILL_AT (SW_HASH_AT + 8)

static uint64_t sw_hash(const unsigned char *pg)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < SW_PSZ; i++)
        if (i < SW_HASH_AT || i >= SW_FILL_AT) {
            h ^= pg[i];
            h *= 0x100000001b3ull;
        }
    return h;
}

static unsigned char sw_fill(uint64_t total, uint64_t pgno, size_t i)
{
    return (unsigned char)(total * 31 + pgno * 7 + i);
}

void sw_counter_add(void *page, uint64_t pgno, unsigned id)
{
    unsigned char *pg = page;
    uint64_t c[SW_WORKERS], total = 0, h;

    memcpy(c, pg, sizeof c);
    c[id]++;
    for (unsigned i = 0; i < SW_WORKERS; i++)
        total += c[i];
    memcpy(pg, c, sizeof c);
    /* the fill is rewritten in two halves around the hash, so a reader
     * that saw a half-written page (no latch) would fail the hash */
    for (size_t i = SW_FILL_AT; i < SW_PSZ; i++)
        pg[i] = sw_fill(total, pgno, i);
    h = sw_hash(pg);
    memcpy(pg + SW_HASH_AT, &h, sizeof h);
}

int sw_counter_check(const void *page, uint64_t pgno, const uint64_t *want)
{
    const unsigned char *pg = page;
    uint64_t c[SW_WORKERS], h, total = 0;
    int zero = 1;

    for (size_t i = 0; i < SW_PSZ && zero; i++)
        zero = pg[i] == 0;
    memcpy(c, pg, sizeof c);
    memcpy(&h, pg + SW_HASH_AT, sizeof h);
    for (unsigned i = 0; i < SW_WORKERS; i++)
        total += c[i];
    if (!zero && h != sw_hash(pg)) {
        fprintf(stderr, "page %" PRIu64 ": torn or stale (hash)\n", pgno);
        return -1;
    }
    for (size_t i = SW_FILL_AT; !zero && i < SW_PSZ; i++)
        if (pg[i] != sw_fill(total, pgno, i)) {
            fprintf(stderr, "page %" PRIu64 ": fill wrong at %zu\n", pgno, i);
            return -1;
        }
    for (unsigned i = 0; want && i < SW_WORKERS; i++)
        if (c[i] != want[i]) {
            fprintf(stderr, "page %" PRIu64 ": worker %u counted %" PRIu64
                    ", the page says %" PRIu64 "\n", pgno, i, want[i], c[i]);
            return -1;
        }
    return 0;
}

/* ---- the worker ------------------------------------------------------------- */

struct sw_state {
    const char *data, *shm;
    bp_pool *p;
    bp_page held[SW_MAXPAGES];
    int holds[SW_MAXPAGES];
};

static void sw_err(struct sw_state *s, int rc)
{
    printf("err %d\n", rc);
    if (rc != BP_EAGAIN) /* asked for by the NOWAIT cases */
        fprintf(stderr, "worker %ld: %s: %s\n", (long)getpid(), bp_strerror(rc),
            s->p ? bp_errmsg(s->p) : "");
}

static int sw_stamp(struct sw_state *s, unsigned iters, unsigned npages,
                    unsigned id, uint64_t seed)
{
    static uint64_t counts[SW_MAXPAGES];
    uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;

    if (npages == 0 || npages > SW_MAXPAGES || id >= SW_WORKERS)
        return -EINVAL;
    memset(counts, 0, sizeof counts);
    for (unsigned it = 0; it < iters; it++) {
        uint64_t pg = util_rand_below(&rng, npages);
        bp_page h;
        int rc;

        if (util_rand_below(&rng, 4) == 0) { /* a shared look */
            if ((rc = bp_fix(s->p, pg, BP_SHARED, &h)) != 0)
                return rc;
            rc = sw_counter_check(h.data, pg, NULL);
            bp_unfix(s->p, &h, 0);
            if (rc)
                return -EUCLEAN;
            continue;
        }
        if ((rc = bp_fix(s->p, pg, BP_EXCLUSIVE, &h)) != 0)
            return rc;
        if (sw_counter_check(h.data, pg, NULL) != 0) {
            bp_unfix(s->p, &h, 0);
            return -EUCLEAN;
        }
        sw_counter_add(h.data, pg, id);
        if ((rc = bp_unfix(s->p, &h, BP_DIRTY)) != 0)
            return rc;
        counts[pg]++;
    }
    printf("counts");
    for (unsigned i = 0; i < npages; i++)
        printf(" %" PRIu64, counts[i]);
    printf("\n");
    return 0;
}

/* Arm a park point and walk into it: evict (dirty pages from base on
 * until a dirty frame is written back), flush (page base dirty, then
 * bp_flush), alloc. */
static int sw_park(struct sw_state *s, const char *point, uint64_t base)
{
    int which = strcmp(point, "evict") == 0   ? BP__PARK_EVICT
                : strcmp(point, "flush") == 0 ? BP__PARK_FLUSH
                : strcmp(point, "alloc") == 0 ? BP__PARK_ALLOC
                                              : 0;
    uint64_t n = bp_page_count(s->p);
    bp_page h;
    int rc;

    if (!which)
        return -EINVAL;
    fflush(stdout);
    if ((rc = bp__test_park_arm(which, 1)) != 0) {
        printf("skip\n");
        return 0;
    }
    if (which == BP__PARK_ALLOC) {
        if ((rc = bp_alloc_page(s->p, &h)) == 0)
            rc = bp_unfix(s->p, &h, BP_DIRTY);
        return rc ? rc : -ENOENT;
    }
    for (uint64_t pg = base; pg < n; pg++) {
        if ((rc = bp_fix(s->p, pg, BP_EXCLUSIVE, &h)) != 0)
            return rc;
        util_stamp(h.data, SW_PSZ, pg, 50);
        if ((rc = bp_unfix(s->p, &h, BP_DIRTY)) != 0)
            return rc;
        if (which == BP__PARK_FLUSH)
            return bp_flush(s->p) ? -EIO : -ENOENT;
    }
    return -ENOENT; /* never parked */
}

/* Reopen after the cache was poisoned: once every process has closed it,
 * an open builds it again.  0, or the last error after 60 s. */
static int sw_reopen(struct sw_state *s)
{
    const struct timespec ms = {0, 5000000};
    int rc = 0;

    if (s->p)
        bp_close(s->p);
    s->p = NULL;
    for (int i = 0; i < 12000; i++) {
        if ((rc = sw_open(&s->p, s->data, s->shm, 0, BP_BACKEND_AUTO, 0)) ==
            0)
            return 0;
        bp_close(s->p);
        s->p = NULL;
        nanosleep(&ms, NULL);
    }
    return rc;
}

/* The kill loop's workload, until killed: stamp page base + (g % n) with
 * generation g for g = gen0, gen0 + 1, ...; every 8 pages bp_flush, and
 * once it succeeded, g is acknowledged: written at offset 0 of ackfile
 * (and the longest any call took, in microseconds, at offset 8).  A
 * poisoned cache is closed and opened again. */
static int sw_loop(struct sw_state *s, const char *ackfile, uint64_t base,
                   uint64_t n, uint64_t gen0)
{
    int fd = open(ackfile, O_WRONLY | O_CREAT, 0600);
    uint64_t worst = 0, rec[2] = {gen0 - 1, 0};
    struct timespec t0, t1;

    if (fd < 0)
        return -errno;
    if (!s->p) { /* its open failed: the cache was poisoned, and not every
                    process has closed it yet */
        int rc = sw_reopen(s);

        if (rc)
            return rc;
    }
    for (uint64_t g = gen0;; g++) {
        uint64_t pg = base + g % n, us;
        bp_page h;
        int rc;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if ((rc = bp_fix(s->p, pg, BP_EXCLUSIVE, &h)) == 0) {
            util_stamp(h.data, SW_PSZ, pg, (uint32_t)g);
            rc = bp_unfix(s->p, &h, BP_DIRTY);
        }
        if (rc == 0 && g % 8 == 7 && (rc = bp_flush(s->p)) == 0) {
            rec[0] = g;
            rec[1] = worst;
            if (pwrite(fd, rec, sizeof rec, 0) != (ssize_t)sizeof rec)
                return -EIO;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us = (uint64_t)(((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 +
                         (t1.tv_nsec - t0.tv_nsec)) /
                        1000);
        if (us > worst)
            worst = us;
        if (rc == BP_EPOISONED) {
            if ((rc = sw_reopen(s)) != 0)
                return rc;
            g = rec[0]; /* redo what was not acknowledged */
            continue;
        }
        if (rc)
            return rc;
    }
}

static int sw_do(struct sw_state *s, char *line)
{
    char *cmd = strtok(line, " \n"), *a1 = strtok(NULL, " \n"),
         *a2 = strtok(NULL, " \n"), *a3 = strtok(NULL, " \n"),
         *a4 = strtok(NULL, " \n");
    unsigned long long n1 = a1 ? strtoull(a1, NULL, 10) : 0,
                       n2 = a2 ? strtoull(a2, NULL, 10) : 0;
    bp_page h;
    int rc = 0;

    if (!cmd)
        return 0;
    if (strcmp(cmd, "quit") == 0)
        return 1;
    if (strcmp(cmd, "open") == 0) {
        rc = sw_open(&s->p, s->data, s->shm, 0, BP_BACKEND_AUTO, 0);
        if (rc) {
            sw_err(s, rc);
            bp_close(s->p);
            s->p = NULL;
            return 0;
        }
    } else if (strcmp(cmd, "close") == 0) {
        rc = bp_close(s->p);
        if (rc == 0)
            s->p = NULL;
    } else if (strcmp(cmd, "flush") == 0) {
        rc = bp_flush(s->p);
    } else if (strcmp(cmd, "fix") == 0 && a2 && n1 < SW_MAXPAGES) {
        unsigned mode = (a2[0] == 'x' ? BP_EXCLUSIVE : BP_SHARED) |
                        (a2[1] == 'n' ? BP_NOWAIT : 0);
        rc = bp_fix(s->p, n1, mode, &s->held[n1]);
        s->holds[n1] = rc == 0;
    } else if (strcmp(cmd, "unfix") == 0 && n1 < SW_MAXPAGES &&
               s->holds[n1]) {
        rc = bp_unfix(s->p, &s->held[n1], a2 ? BP_DIRTY : 0);
        s->holds[n1] = 0;
    } else if (strcmp(cmd, "read") == 0) {
        if ((rc = bp_fix(s->p, n1, BP_SHARED, &h)) == 0) {
            uint32_t g = util_page_gen(h.data, SW_PSZ, n1);
            bp_unfix(s->p, &h, 0);
            printf("gen %u\n", g);
            return 0;
        }
    } else if (strcmp(cmd, "write") == 0) {
        if ((rc = bp_fix(s->p, n1, BP_EXCLUSIVE, &h)) == 0) {
            util_stamp(h.data, SW_PSZ, n1, (uint32_t)n2);
            rc = bp_unfix(s->p, &h, BP_DIRTY);
        }
    } else if (strcmp(cmd, "alloc") == 0) {
        static uint64_t got[1024];
        for (unsigned long long i = 0; i < n1 && i < 1024 && rc == 0; i++)
            if ((rc = bp_alloc_page(s->p, &h)) == 0) {
                got[i] = h.pgno;
                util_stamp(h.data, SW_PSZ, h.pgno, (uint32_t)n2);
                rc = bp_unfix(s->p, &h, BP_DIRTY);
            }
        if (rc == 0) {
            printf("pages");
            for (unsigned long long i = 0; i < n1 && i < 1024; i++)
                printf(" %" PRIu64, got[i]);
            printf("\n");
            return 0;
        }
    } else if (strcmp(cmd, "stamp") == 0 && a4) {
        rc = sw_stamp(s, (unsigned)n1, (unsigned)n2,
                      (unsigned)strtoul(a3, NULL, 10),
                      strtoull(a4, NULL, 10));
        if (rc == 0)
            return 0;
    } else if (strcmp(cmd, "scribble") == 0) { /* exclusive, half changed */
        if ((rc = bp_fix(s->p, n1, BP_EXCLUSIVE, &s->held[n1])) == 0) {
            memset(s->held[n1].data, 0xA5, SW_PSZ / 2);
            s->holds[n1] = 1;
        }
    } else if (strcmp(cmd, "park") == 0 && a1) {
        rc = sw_park(s, a1, n2);
        if (rc == 0)
            return 0; /* the library said "parked" (or this is unreached) */
    } else if (strcmp(cmd, "loop") == 0 && a4) {
        rc = sw_loop(s, a1, strtoull(a2, NULL, 10), strtoull(a3, NULL, 10),
                     strtoull(a4, NULL, 10));
    } else if (strcmp(cmd, "bits") == 0) {
        printf("%zu\n", sizeof(void *) * 8);
        return 0;
    } else if (strcmp(cmd, "failsync") == 0) {
        rc = bp__test_fault_arm(BP__SYS_DATA_SYNC, 1, EIO, 1);
        if (rc == -ENOTSUP) {
            printf("skip\n");
            return 0;
        }
    } else {
        printf("err unknown command %s\n", cmd);
        return 0;
    }
    if (rc)
        sw_err(s, rc);
    else
        printf("ok\n");
    return 0;
}

int sw_main(int argc, char **argv)
{
    struct sw_state s = {0};
    char line[512];

    if (argc < 2)
        return 2;
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves none */
    s.data = argv[0];
    s.shm = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        if (sw_do(&s, line))
            break;
        fflush(stdout);
    }
    for (unsigned i = 0; i < SW_MAXPAGES; i++)
        if (s.holds[i])
            bp_unfix(s.p, &s.held[i], 0);
    if (s.p)
        bp_close(s.p);
    return 0;
}
