/*
 * hello.c - the smallest complete use of libbufpool (quoted in README.md).
 *
 * Creates a data file of 16 KiB pages, writes a greeting into page 0 through
 * the window, makes it durable, reopens the file and reads it back.
 *   usage: hello [data-file]        (default: ./hello.db, removed at exit)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bufpool.h"

static int open_pool(bp_pool **p, const char *path)
{
    int rc = bp_create(p, NULL); /* NULL: libc malloc/free */

    if (rc == 0)
        rc = bp_set_page_size(*p, 16384);
    if (rc == 0)
        rc = bp_set_cache_size(*p, 64u << 20); /* 64 MiB of shm frames */
    if (rc == 0)
        rc = bp_set_window_size(*p, 4u << 20); /* seen through 4 MiB */
    if (rc == 0)
        rc = bp_open(*p, path, BP_CREATE);
    if (rc)
        fprintf(stderr, "open %s: %s\n  %s\n", path, bp_strerror(rc),
                bp_errmsg(*p));
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "hello.db";
    bp_pool *p;
    bp_page pg;
    bp_stats st;
    int rc;

    if (open_pool(&p, path)) {
        bp_close(p);
        if (argc < 2)
            unlink(path);
        return 1;
    }
    if (bp_page_count(p) == 0)
        rc = bp_alloc_page(p, &pg); /* page 0, fixed exclusively */
    else
        rc = bp_fix(p, 0, BP_EXCLUSIVE, &pg);
    if (rc == 0) {
        strcpy(pg.data, "hello from page 0");
        rc = bp_unfix(p, &pg, BP_DIRTY);
    }
    if (rc == 0)
        rc = bp_flush(p); /* write + fdatasync */
    bp_stats_get(p, &st, sizeof st);
    printf("backend %s (%s)\n", bp_backend_name((bp_backend)st.backend),
           st.backend_reason);
    bp_close(p);
    if (rc) {
        fprintf(stderr, "%s\n", bp_strerror(rc));
        return 1;
    }

    if (open_pool(&p, path)) {
        bp_close(p);
        if (argc < 2)
            unlink(path);
        return 1;
    }
    if ((rc = bp_fix(p, 0, BP_SHARED, &pg)) == 0) {
        printf("page 0 after reopen: \"%s\"\n", (char *)pg.data);
        bp_unfix(p, &pg, 0);
    }
    bp_close(p);
    if (argc < 2)
        unlink(path);
    return rc != 0;
}
