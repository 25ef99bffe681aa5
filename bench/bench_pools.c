/*
 * bench_pools.c - the runner of `bpbench hit` and `bpbench remap`: see
 * bench_pools.h.
 */
#include "bench_pools.h"

#include "platform/bp_testing.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Notes (printed under the tables) ------------------------------------ */

void bpl_note(bpl_ctx *x, int kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bu_note_add(&x->note[kind], &x->nnote[kind], buf);
    if (kind == BPL_WARN && !x->quiet)
        bu_progress("WARNING: %s", buf);
}

void bpl_print_notes(const bpl_ctx *x, const char *checks)
{
    static const char *const tag[BPL_NOTE_KINDS] = {"note", "n/a",
                                                    "WARNING"};
    const char *pre = x->csv ? "# " : "";
    for (int k = 0; k < BPL_NOTE_KINDS; k++)
        for (size_t i = 0; i < x->nnote[k]; i++)
            fprintf(x->info, "%s%s: %s\n", pre, tag[k], x->note[k][i]);
    if (x->nnote[BPL_WARN] == 0)
        fprintf(x->info, "%s%s\n", pre, checks);
}

/* ---- Pools --------------------------------------------------------------- */

int bpl_open(struct bu_pool_cfg *cfg, int named, int buffered_retry,
             bp_pool **out, bp_stats *st, char *why, size_t whysz)
{
    char shm[128];
    int rc;
    if (named) {
        rc = bu_shm_name(shm, sizeof shm);
        if (rc) {
            snprintf(why, whysz, "no shm name: %s", strerror(-rc));
            return rc;
        }
        cfg->shm_name = shm;
    }
    for (;;) {
        rc = bu_pool_open(cfg, out, why, whysz);
        if (rc != BP_ENODIRECT || !buffered_retry ||
            (cfg->open_flags & BP_BUFFERED_IO))
            break;
        cfg->open_flags |= BP_BUFFERED_IO;
    }
    cfg->shm_name = NULL; /* shm goes out of scope */
    return rc ? rc : bu_stats(*out, st, why, whysz);
}

void bpl_backend_note(bpl_ctx *x, const char *who, bp_backend want,
                      const bp_stats *st, char *chose, size_t chosesz)
{
    const char *runs = bp_backend_name((bp_backend)st->backend);
    if (want == BP_BACKEND_AUTO)
        snprintf(chose, chosesz, "%s (%.150s)", runs, st->backend_reason);
    else if (st->backend != (uint32_t)want)
        bpl_note(x, BPL_WARN, "%s: the pool runs backend %s, not %s", who,
                 runs, bp_backend_name(want));
}

void bpl_fail(bpl_ctx *x, bp_pool **p, const char *who, const char *what,
              const char *why)
{
    int rc = *p ? bp_close(*p) : 0;
    if (rc)
        bpl_note(x, BPL_NA, "%s: %s failed: %s; then bp_close: %s (%d) "
                 "(pool leaked)", who, what, why, bp_strerror(rc), rc);
    else
        bpl_note(x, BPL_NA, "%s: %s failed: %s", who, what, why);
    *p = NULL;
    bu_progress("%s: n/a: %s: %s", who, what, why);
}

void bpl_close(bpl_ctx *x, bp_pool **p, const char *who)
{
    int rc = bp__test_check(*p);
    if (rc)
        bpl_note(x, BPL_WARN, "%s: invariant check after the run: %s (%d): "
                 "%s", who, bp_strerror(rc), rc, bp_errmsg(*p));
    rc = bp_close(*p);
    if (rc)
        bpl_note(x, BPL_WARN, "%s: bp_close: %s (%d): %s", who,
                 bp_strerror(rc), rc, bp_errmsg(*p));
    *p = NULL;
}

void bpl_progress(void *arg, char *line, size_t n)
{
    bpl_ctx *x = arg;
    snprintf(line, n, "%d of %d phases", atomic_load(&x->pg_done),
             atomic_load(&x->pg_total));
}

void bpl_join(char *buf, size_t sz, const char *item)
{
    size_t l = strlen(buf);
    snprintf(buf + l, sz - l, "%s%s", l ? "," : "", item);
}

void bpl_sample(uint64_t *perm, uint64_t n, uint64_t k, bu_rng *r)
{
    for (uint64_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t j = i + bu_rng_below(r, n - i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- A run --------------------------------------------------------------- */

int bpl_main(const bpl_cmd *cmd, void *c, bpl_ctx *x, bo_outopts *out,
             const char *const *dir, int argc, char **argv)
{
    const char *name = cmd->name;
    bo_run *run = bo_run_begin(argc, argv);
    if (!run) {
        fprintf(stderr, "bpbench %s: out of memory\n", name);
        return 1;
    }
    int status = cmd->parse(c, argc, argv);
    if (status == 0 && out->csv && !out->csv[0]) { /* --csv alone */
        x->csv = 1; /* rows on stdout */
        out->csv = NULL;
    }
    x->quiet = out->quiet;
    if (status == 0 && bo_outopts_apply(name, out, run))
        status = -1;
    if (status) {
        bo_run_discard(run);
        return status > 0 ? 0 : 2;
    }
    x->info = x->csv ? stderr : stdout;
    if (x->csv) /* CSV rows on stdout: the plots' line with the notes */
        bo_run_plots(run, out->dir, BO_PLOT_ALL, stderr);
    bo_tick_init();
    if (cmd->alt && (status = cmd->alt(c, run)) >= 0) {
        if (bo_run_finish(name, run) && !status)
            status = 1;
        return status;
    }
    status = 1;

    if (getenv("BUFPOOL_BACKEND")) {
        bpl_note(x, BPL_INFO, "BUFPOOL_BACKEND=%s was unset so that each "
                 "pool runs the backend it asks for",
                 getenv("BUFPOOL_BACKEND"));
        unsetenv("BUFPOOL_BACKEND");
    }
    if (cmd->setup(c)) {
        status = 2;
        goto out;
    }

    int rc = bu_tempdir(*dir, x->dir, sizeof x->dir);
    if (rc) {
        fprintf(stderr, "bpbench %s: cannot create a directory in %s: %s\n",
                name, *dir, strerror(-rc));
        goto out;
    }
    snprintf(x->path, sizeof x->path, "%s/data.db", x->dir);
    char fs[64], err[PATH_MAX + 128];
    bu_fs_name(x->dir, fs, sizeof fs);
    if (cmd->tmpfs_why && strcmp(fs, "tmpfs") == 0)
        bpl_note(x, BPL_WARN, "the data file is on tmpfs (%s): %s", *dir,
                 cmd->tmpfs_why);
    if (cmd->size_mib)
        bu_progress("writing the %llu MiB data file %s",
                    (unsigned long long)((x->data_pages * x->page_size) >>
                                         20), x->path);
    else
        bu_progress("writing the %llu-page data file %s",
                    (unsigned long long)x->data_pages, x->path);
    double wsecs = 0.0;
    rc = bu_data_file_create(x->path, x->page_size, x->data_pages, &wsecs,
                             err, sizeof err);
    if (rc) {
        fprintf(stderr, "bpbench %s: cannot create the data file: %s\n",
                name, err);
        goto out;
    }
    cmd->header(c, fs, wsecs);

    cmd->run(c);
    bu_progress("done");

    if (x->csv)
        cmd->csv(c);
    else
        cmd->tables(c);
    cmd->tail(c);
    status = x->data_error ? 1 : 0;
    cmd->record(c, run);
    if (bo_run_finish(name, run) && !status)
        status = 1;
    run = NULL;

out:
    bo_run_discard(run); /* set when the run failed before its results */
    fflush(stdout);
    bu_cleanup_now();
    for (int k = 0; k < BPL_NOTE_KINDS; k++)
        bu_note_free(x->note[k], x->nnote[k]);
    return status;
}
