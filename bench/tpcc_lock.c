/*
 * tpcc_lock.c - the TPC-C driver's lock manager: it serializes conflicting
 * transactions for every engine alike (the bufpool engine has none of its
 * own; LMDB's single writer would serialize writers but not a reader's view
 * of a row set, and the same locks keep the comparison fair).
 *
 * Owns one array of pthread mutexes in four regions, in this order:
 *   [0, nw)                  warehouse w (W_YTD)
 *   [base_d, base_d + 10 nw) district (w, d) (D_YTD, D_NEXT_O_ID, and the
 *                            district's NEW_ORDER queue, ORDER and
 *                            ORDER_LINE rows)
 *   [base_c, base_c + nc)    customer stripes (C_BALANCE, ..., and the
 *                            customer's orders as Order-Status sees them)
 *   [base_s, base_s + ns)    stock stripes (S_QUANTITY, ...)
 * Invariant: a thread takes mutexes in increasing index order only
 * (tl_acquire sorts its set; a later set must sort after what is held), so
 * no cycle of waiters can form.  Striping only merges rows of one region,
 * which adds waiting, never a cycle.
 */
#include "tpcc.h"

#include <errno.h>
#include <stdlib.h>

#define TL_C_STRIPES 8192u
#define TL_S_STRIPES 16384u

int tl_init(tpcc_locks *l, uint32_t warehouses)
{
    uint64_t nc = (uint64_t)warehouses * TPCC_DISTRICTS * TPCC_CUSTOMERS;
    uint64_t ns = (uint64_t)warehouses * TPCC_ITEMS;

    memset(l, 0, sizeof *l);
    l->nw = warehouses;
    l->base_d = warehouses;
    l->base_c = l->base_d + warehouses * TPCC_DISTRICTS;
    l->nc = (uint32_t)(nc < TL_C_STRIPES ? nc : TL_C_STRIPES);
    l->base_s = l->base_c + l->nc;
    l->ns = (uint32_t)(ns < TL_S_STRIPES ? ns : TL_S_STRIPES);
    l->n = l->base_s + l->ns;
    l->m = malloc((size_t)l->n * sizeof *l->m);
    if (!l->m)
        return -ENOMEM;
    for (uint32_t i = 0; i < l->n; i++)
        pthread_mutex_init(&l->m[i], NULL);
    return 0;
}

void tl_destroy(tpcc_locks *l)
{
    if (!l->m)
        return;
    for (uint32_t i = 0; i < l->n; i++)
        pthread_mutex_destroy(&l->m[i]);
    free(l->m);
    l->m = NULL;
}

static void tl_push(tpcc_lockset *s, uint32_t idx)
{
    if (s->n < TL_MAX)
        s->idx[s->n++] = idx;
    else
        abort(); /* a transaction never needs more: a driver bug */
}

/* Multiplicative hash of a row number onto n stripes. */
static uint32_t tl_stripe(uint64_t row, uint32_t n)
{
    return (uint32_t)(((row * 0x9E3779B97F4A7C15ull) >> 32) % n);
}

void tl_add_w(const tpcc_locks *l, tpcc_lockset *s, uint32_t w)
{
    (void)l;
    tl_push(s, w - 1);
}

void tl_add_d(const tpcc_locks *l, tpcc_lockset *s, uint32_t w, uint32_t d)
{
    tl_push(s, l->base_d + (w - 1) * TPCC_DISTRICTS + (d - 1));
}

void tl_add_c(const tpcc_locks *l, tpcc_lockset *s, uint32_t w, uint32_t d,
              uint32_t c)
{
    uint64_t row = ((uint64_t)(w - 1) * TPCC_DISTRICTS + (d - 1)) *
                       TPCC_CUSTOMERS + (c - 1);
    tl_push(s, l->base_c + tl_stripe(row, l->nc));
}

void tl_add_s(const tpcc_locks *l, tpcc_lockset *s, uint32_t w, uint32_t i)
{
    uint64_t row = (uint64_t)(w - 1) * (TPCC_ITEMS + 1) + i;
    tl_push(s, l->base_s + tl_stripe(row, l->ns));
}

void tl_acquire(tpcc_locks *l, tpcc_lockset *s)
{
    /* Insertion sort: at most TL_MAX entries. */
    for (int i = 1; i < s->n; i++) {
        uint32_t v = s->idx[i];
        int j = i;
        for (; j > 0 && s->idx[j - 1] > v; j--)
            s->idx[j] = s->idx[j - 1];
        s->idx[j] = v;
    }
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (n == 0 || s->idx[n - 1] != s->idx[i])
            s->idx[n++] = s->idx[i];
    s->n = n;
    for (int i = 0; i < n; i++)
        pthread_mutex_lock(&l->m[s->idx[i]]);
}

void tl_release(tpcc_locks *l, tpcc_lockset *s)
{
    for (int i = s->n - 1; i >= 0; i--)
        pthread_mutex_unlock(&l->m[s->idx[i]]);
    s->n = 0;
}
