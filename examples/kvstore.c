/*
 * kvstore.c - the smallest complete use of the B+tree (examples/btree.h):
 * put a few keys, scan them in order, flush, close everything, reopen the
 * file and read a key back.
 *   usage: kvstore [data-file]        (default: ./kvstore.db, removed at exit)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "btree.h"

static int open_pool(bp_pool **p, const char *path)
{
    int rc = bp_create(p, NULL);

    if (rc == 0)
        rc = bp_set_page_size(*p, 8192);
    if (rc == 0)
        rc = bp_set_cache_size(*p, 16u << 20); /* 16 MiB of shm frames */
    if (rc == 0)
        rc = bp_open(*p, path, BP_CREATE);
    if (rc)
        fprintf(stderr, "open %s: %s\n  %s\n", path, bp_strerror(rc),
                bp_errmsg(*p));
    return rc;
}

static int print_pair(void *ctx, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    (void)ctx;
    printf("  %.*s = %.*s\n", (int)klen, (const char *)key, (int)vlen,
           (const char *)val);
    return 0; /* nonzero would stop the scan */
}

/* First run: create the tree, put, scan, flush. */
static int write_some(bt_tree *t)
{
    static const char *const kv[][2] = {
        {"cherry", "red"}, {"apple", "green"}, {"banana", "yellow"},
        {"damson", "purple"}, {"apple", "golden"}, /* replaces green */
    };
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof kv / sizeof kv[0]; i++)
        rc = bt_put(t, kv[i][0], strlen(kv[i][0]), kv[i][1], strlen(kv[i][1]));
    if (rc == 0)
        rc = bt_del(t, "damson", 6);
    if (rc == 0) {
        printf("scan from \"b\":\n");
        rc = bt_scan(t, "b", 1, 0, print_pair, NULL, NULL);
    }
    if (rc == 0)
        rc = bt_flush(t); /* durable from here on */
    return rc;
}

/* Second run: after a reopen, everything is there. */
static int read_back(bt_tree *t)
{
    char val[64];
    size_t vlen;
    bt_info info;
    int rc = bt_get(t, "apple", 5, val, sizeof val, &vlen);

    if (rc == 0)
        printf("after reopen: apple = %.*s\n", (int)vlen, val);
    if (rc == 0 && (rc = bt_info_get(t, &info)) == 0)
        printf("%llu keys, height %llu\n", (unsigned long long)info.keys,
               (unsigned long long)info.height);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "kvstore.db";
    int rc = 0;

    for (int session = 0; rc == 0 && session < 2; session++) {
        bp_pool *p = NULL;
        bt_tree *t = NULL;

        if ((rc = open_pool(&p, path)) == 0 && (rc = bt_open(&t, p)) == 0)
            rc = session == 0 ? write_some(t) : read_back(t);
        if (rc)
            fprintf(stderr, "kvstore: %s\n", rc == BT_NOTFOUND ? "not found"
                    : rc == BT_ECORRUPT ? "corrupt tree" : bp_strerror(rc));
        bt_close(t);  /* no flush: bt_flush did that */
        bp_close(p);
    }
    if (argc < 2)
        unlink(path);
    return rc ? 1 : 0;
}
