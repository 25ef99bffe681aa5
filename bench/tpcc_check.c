/*
 * tpcc_check.c - after the run, TPC-C's consistency conditions 1-4
 * (clause 3.3.2) on whatever engine ran, from one read transaction (a
 * snapshot on LMDB; on bufpool the workers have stopped):
 *
 *   1. W_YTD = sum(D_YTD) over the warehouse's districts;
 *   2. D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID) per district (the
 *      NEW_ORDER part only while the district has undelivered orders);
 *   3. max(NO_O_ID) - min(NO_O_ID) + 1 = NEW_ORDER rows per district;
 *   4. sum(O_OL_CNT) = ORDER_LINE rows per district;
 * and, from the run's counters, that every committed New-Order left an
 * order: sum(D_NEXT_O_ID - 3001) = New-Orders - rollbacks.
 *
 * Each table is read with one scan from its id byte, aggregated per
 * district.  Money is integer cents, so the sums are exact.
 */
#include "tpcc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ck_district {
    int64_t ytd;
    uint32_t next_o_id;
    int seen;
    uint32_t o_max;
    uint64_t o_rows, ol_cnt_sum, ol_rows;
    uint32_t no_min, no_max;
    uint64_t no_rows;
} ck_district;

typedef struct ck_state {
    uint32_t nw, orders;
    unsigned table;
    int64_t *w_ytd;
    int *w_seen;
    ck_district *d;
    int bad; /* a key or value of the wrong shape */
} ck_state;

/* The district slot of a key (table, w:2, d:1, ...), or NULL. */
static ck_district *ck_slot(ck_state *s, const uint8_t *k, size_t klen)
{
    if (klen < 4)
        return NULL;
    uint32_t w = tk_get16(k + 1), d = k[3];
    if (w < 1 || w > s->nw || d < 1 || d > TPCC_DISTRICTS)
        return NULL;
    return &s->d[(w - 1) * TPCC_DISTRICTS + (d - 1)];
}

static int ck_fn(void *ctx, const void *key, size_t klen, const void *val,
                 size_t vlen)
{
    ck_state *s = ctx;
    const uint8_t *k = key;
    if (klen < 1 || k[0] != s->table)
        return 1; /* past the table */
    if (s->table == TT_WAREHOUSE) {
        uint32_t w = klen == 3 ? tk_get16(k + 1) : 0;
        tpcc_warehouse wh;
        if (w < 1 || w > s->nw || vlen != sizeof wh) {
            s->bad = 1;
            return 1;
        }
        memcpy(&wh, val, sizeof wh);
        s->w_ytd[w - 1] = wh.ytd;
        s->w_seen[w - 1] = 1;
        return 0;
    }
    ck_district *d = ck_slot(s, k, klen);
    if (!d) {
        s->bad = 1;
        return 1;
    }
    switch (s->table) {
    case TT_DISTRICT: {
        tpcc_district di;
        if (vlen != sizeof di)
            break;
        memcpy(&di, val, sizeof di);
        d->ytd = di.ytd;
        d->next_o_id = di.next_o_id;
        d->seen = 1;
        return 0;
    }
    case TT_ORDER: {
        tpcc_order od;
        if (klen != 8 || vlen != sizeof od)
            break;
        memcpy(&od, val, sizeof od);
        uint32_t o = tk_get32(k + 4);
        if (o > d->o_max)
            d->o_max = o;
        d->o_rows++;
        d->ol_cnt_sum += od.ol_cnt;
        return 0;
    }
    case TT_NEW_ORDER: {
        if (klen != 8)
            break;
        uint32_t o = tk_get32(k + 4);
        if (d->no_rows == 0 || o < d->no_min)
            d->no_min = o;
        if (o > d->no_max)
            d->no_max = o;
        d->no_rows++;
        return 0;
    }
    case TT_ORDER_LINE:
        if (klen != 9)
            break;
        d->ol_rows++;
        return 0;
    }
    s->bad = 1;
    return 1;
}

static int ck_scan(kv_txn *t, ck_state *s, unsigned table)
{
    uint8_t start = (uint8_t)table;
    s->table = table;
    return kv_scan(t, &start, 1, 0, ck_fn, s);
}

/* Append to out (the first failure only is detailed per condition). */
static void ck_say(char *out, size_t outsz, size_t *len, const char *fmt, ...)
    BU_PRINTF(4, 5);
static void ck_say(char *out, size_t outsz, size_t *len, const char *fmt, ...)
{
    if (*len >= outsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, outsz - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

/* Evaluate the conditions on the aggregates; returns how many failed. */
static int ck_eval(const ck_state *s, const wl_counters *total, char *out,
                   size_t outsz)
{
    size_t len = 0;
    int failed[6] = {0};
    char first[6][160];
    uint64_t ol_rows = 0, orders_new = 0;
    for (uint32_t w = 1; w <= s->nw; w++) {
        int64_t sum = 0;
        for (uint32_t dd = 1; dd <= TPCC_DISTRICTS; dd++) {
            const ck_district *d = &s->d[(w - 1) * TPCC_DISTRICTS + dd - 1];
            sum += d->ytd;
            ol_rows += d->ol_rows;
            orders_new += d->next_o_id - (s->orders + 1);
            if (!d->seen && !failed[0]++)
                snprintf(first[0], sizeof first[0], "district %u/%u missing",
                         w, dd);
            if ((d->next_o_id - 1 != d->o_max ||
                 (d->no_rows && d->no_max != d->o_max)) &&
                !failed[2]++)
                snprintf(first[2], sizeof first[2],
                         "w %u d %u: D_NEXT_O_ID-1 %u, max(O_ID) %u, "
                         "max(NO_O_ID) %u", w, dd, d->next_o_id - 1,
                         d->o_max, d->no_max);
            if (d->no_rows &&
                d->no_max - d->no_min + 1 != d->no_rows && !failed[3]++)
                snprintf(first[3], sizeof first[3],
                         "w %u d %u: NO_O_ID %u..%u but %" PRIu64 " rows",
                         w, dd, d->no_min, d->no_max, d->no_rows);
            if (d->ol_cnt_sum != d->ol_rows && !failed[4]++)
                snprintf(first[4], sizeof first[4],
                         "w %u d %u: sum(O_OL_CNT) %" PRIu64
                         ", ORDER_LINE rows %" PRIu64,
                         w, dd, d->ol_cnt_sum, d->ol_rows);
        }
        if (!s->w_seen[w - 1] && !failed[0]++)
            snprintf(first[0], sizeof first[0], "warehouse %u missing", w);
        if (s->w_ytd[w - 1] != sum && !failed[1]++)
            snprintf(first[1], sizeof first[1],
                     "w %u: W_YTD %" PRId64 " != sum(D_YTD) %" PRId64
                     " (cents)", w, s->w_ytd[w - 1], sum);
    }
    uint64_t committed = 0;
    if (total) {
        committed = total->ops[TPCC_NEW_ORDER] - total->aborts;
        if (committed != orders_new && !failed[5]++)
            snprintf(first[5], sizeof first[5],
                     "%" PRIu64 " New-Orders committed but %" PRIu64
                     " new orders in the districts", committed, orders_new);
    }
    int nfail = 0;
    for (int i = 0; i < 6; i++)
        if (failed[i]) {
            static const char *const what[6] = {
                "rows", "1", "2", "3", "4", "New-Order count"};
            ck_say(out, outsz, &len, "%sconsistency %s FAILED (%d): %s",
                   nfail ? "; " : "", what[i], failed[i], first[i]);
            nfail++;
        }
    if (!nfail)
        ck_say(out, outsz, &len,
               "consistency 1-4: ok (%u districts, %" PRIu64
               " new orders, %" PRIu64 " order lines)",
               s->nw * TPCC_DISTRICTS, orders_new, ol_rows);
    return nfail;
}

int tpcc_check(kv *k, void *arg, const wl_counters *total, char *out,
               size_t outsz)
{
    tpcc *tp = arg;
    ck_state s;
    memset(&s, 0, sizeof s);
    s.nw = tp->warehouses;
    s.orders = tp->orders;
    s.w_ytd = calloc(s.nw, sizeof *s.w_ytd);
    s.w_seen = calloc(s.nw, sizeof *s.w_seen);
    s.d = calloc((size_t)s.nw * TPCC_DISTRICTS, sizeof *s.d);
    if (outsz)
        out[0] = '\0';
    int rc = -ENOMEM;
    kv_txn *t = NULL;
    if (s.w_ytd && s.w_seen && s.d)
        rc = kv_begin(k, 0, &t);
    static const unsigned tables[] = {TT_WAREHOUSE, TT_DISTRICT, TT_ORDER,
                                      TT_NEW_ORDER, TT_ORDER_LINE};
    for (size_t i = 0; !rc && i < sizeof tables / sizeof tables[0]; i++)
        rc = ck_scan(t, &s, tables[i]);
    if (t) {
        int rc2 = kv_commit(t);
        rc = rc ? rc : rc2;
    }
    if (rc)
        snprintf(out, outsz, "consistency check: %s", kv_strerror(rc));
    else if (s.bad)
        snprintf(out, outsz, "consistency check: a row of the wrong shape "
                             "(key or value length)");
    else if (ck_eval(&s, total, out, outsz) == 0)
        rc = 0;
    else
        rc = TPCC_EINCONSISTENT;
    if (!rc && s.bad)
        rc = TPCC_EINCONSISTENT;
    free(s.w_ytd);
    free(s.w_seen);
    free(s.d);
    return rc;
}
