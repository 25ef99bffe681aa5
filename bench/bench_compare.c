/*
 * bench_compare.c - `bpbench compare A.json B.json`: two runs side by side.
 *
 * Owns: reading the files the subcommands write with --json FILE (schema
 * "bpbench/1", bench_out.h) through a small strict JSON parser of its own,
 * matching the results of two runs, and printing, and on request writing
 * as CSV and JSON, the comparison.
 *
 *   bpbench compare A.json B.json [--metric NAME]... [--csv FILE]
 *                   [--json FILE] [--force]
 *
 * Printed: a header with each run's file, subcommand, version, start time,
 * duration and machine (kernel, cpu, cores, memory, hostname) and the
 * options whose values differ between A and B; then, for every result
 * present in both runs (the same table and the same labels, in any order;
 * results of A in their order, each matched with the first unmatched equal
 * one of B), one line per metric: table, labels, metric, A, B and the
 * ratio B/A ("1.50x", "-" when A is 0 or a value is missing), and per
 * latency kind four lines <kind>_p50_ns, <kind>_p99_ns, <kind>_p999_ns
 * (p99.9) and <kind>_max_ns; last, the results only in A or only in B.
 * --metric NAME (repeatable) keeps the metrics of that name and the
 * latency kind of that name (or one latency line by its full name).
 * --csv FILE: one line per metric (table,labels,metric,a,b,b_over_a), the
 * results only in one run included with the other side empty.  --json
 * FILE: the same as one object, schema "bpbench-compare/1".
 *
 * Refused (exit 1, one line on stderr): a file that cannot be read, is not
 * valid JSON (the byte offset of the first error is given) or is not a
 * bpbench/1 file, and two runs of different subcommands unless --force.
 * Exit 2 on a usage error.
 *
 * The parser takes RFC 8259 JSON and nothing else: no comments, no
 * trailing commas, no leading zeros, no NaN, no byte order mark, no raw
 * control characters or malformed UTF-8 in strings, no unpaired
 * surrogates in \u escapes, no number that overflows a double; nesting is
 * limited to JP_MAX_DEPTH and a key may appear once per object.  A metric
 * or latency value of null (how bench_out.c writes a NaN) counts as
 * missing.
 */
#include "bench.h"
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JP_MAX_DEPTH 64
#define CMP_MAX_FILE ((size_t)256 << 20)
#define CMP_SCHEMA "bpbench/1"

/* ---- JSON values --------------------------------------------------------- */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

static const char *const j_lit[] = {"null", "false", "true"};

typedef struct jmem jmem;

typedef struct jv {
    jtype t;
    double num;  /* J_NUM */
    char *s;     /* J_STR: the decoded bytes, NUL-terminated */
    size_t len;  /* J_STR: bytes; J_ARR: items; J_OBJ: members */
    jmem *kid;   /* J_ARR (key NULL) and J_OBJ, in file order */
} jv;

struct jmem {
    char *key;
    size_t klen, off; /* off: byte offset of the key in the file */
    jv val;
};

static void jv_free(jv *v)
{
    for (size_t i = 0; v->kid && i < v->len; i++) {
        free(v->kid[i].key);
        jv_free(&v->kid[i].val);
    }
    free(v->kid);
    free(v->s);
}

/* The value of key in object o; NULL when o is not an object or has no
 * such key. */
static const jv *jv_getn(const jv *o, const char *key, size_t klen)
{
    for (size_t i = 0; o && o->t == J_OBJ && i < o->len; i++)
        if (o->kid[i].klen == klen && memcmp(o->kid[i].key, key, klen) == 0)
            return &o->kid[i].val;
    return NULL;
}

static const jv *jv_get(const jv *o, const char *key)
{
    return jv_getn(o, key, strlen(key));
}

/* Whether a and b are the same value (objects: members in any order). */
static int jv_equal(const jv *a, const jv *b)
{
    if (a->t != b->t || a->len != b->len)
        return 0;
    if (a->t == J_NUM)
        return a->num == b->num;
    if (a->t == J_STR)
        return memcmp(a->s, b->s, a->len) == 0;
    for (size_t i = 0; i < a->len; i++) {
        const jmem *m = &a->kid[i];
        const jv *o = a->t == J_OBJ ? jv_getn(b, m->key, m->klen)
                                    : &b->kid[i].val;
        if (!o || !jv_equal(&m->val, o))
            return 0;
    }
    return 1;
}

/* ---- helpers ------------------------------------------------------------- */

/* A key for a message (b: 44 bytes or more): control characters replaced,
 * at most 40 bytes. */
static const char *clip(const char *s, size_t n, char *b)
{
    size_t i;
    for (i = 0; i < n && i < 40; i++)
        b[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i];
    strcpy(b + i, i < n ? "..." : "");
    return b;
}

/* Grows an array of elem-sized items to hold one more than *cap; the new
 * array, or NULL (the old one kept) when out of memory. */
static void *grow(void *arr, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = ncap > SIZE_MAX / elem ? NULL : realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

/* One line on stderr: "bpbench compare: [path: ]<message>"; -1. */
BU_PRINTF(2, 3) static int cmp_msg(const char *path, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bpbench compare: %s%s", path ? path : "",
            path ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* p, or (NULL) exit 1 after "out of memory". */
static void *need(void *p)
{
    if (!p) {
        cmp_msg(NULL, "out of memory");
        exit(1);
    }
    return p;
}

/* printf into a malloc'd string (need()). */
BU_PRINTF(1, 2) static char *xfmt(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return need(n < 0 ? NULL : s);
}

/* ---- JSON parser ----------------------------------------------------------
 * Every function returns 1, or 0 after recording the error. */

typedef struct jp {
    unsigned char *base, *p, *end; /* *end is 0 */
    int depth;
    size_t err_off;
    char err[128];
} jp;

BU_PRINTF(3, 4)
static int jp_fail(jp *j, const unsigned char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->err, sizeof j->err, fmt, ap);
    va_end(ap);
    j->err_off = (size_t)(at - j->base);
    return 0;
}

/* "<what> expected, found <the byte at j->p>". */
static int jp_found(jp *j, const char *what)
{
    unsigned c = *j->p;
    return jp_fail(j, j->p, c > 0x20 && c < 0x7F ? "%s expected, found '%c'"
                   : "%s expected, found byte 0x%02x", what, c);
}

/* The next byte after white space, -1 at the end. */
static int jp_peek(jp *j)
{
    while (memchr(" \t\n\r", *j->p, 4))
        j->p++;
    return j->p < j->end ? *j->p : -1;
}

/* Skips the digits at *p; whether there was one. */
static int jp_digits(unsigned char **p)
{
    size_t n = strspn((char *)*p, "0123456789");
    *p += n;
    return n > 0;
}

/* The four hex digits at s into *out. */
static int jp_hex4(const unsigned char *s, unsigned *out)
{
    char h[5] = {0};
    memcpy(h, s, 4);
    *out = (unsigned)strtoul(h, NULL, 16);
    return strspn(h, "0123456789abcdefABCDEF") == 4;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), 0
 * when it is not one (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    size_t len = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3
               : c < 0xF5 ? 4 : 0;
    if (len < 2)
        return len;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* The escape at s[0] == '\\' (n bytes up to the closing quote) decoded
 * at *o (advanced); its length in the input, 0 on error. */
static size_t jp_escape(jp *j, const unsigned char *s, size_t n,
                        unsigned char **o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = s[1] ? strchr(from, s[1]) : NULL;
    unsigned cp, lo;
    int k;

    if (e) {
        *(*o)++ = (unsigned char)to[e - from];
        return 2;
    }
    if (s[1] != 'u')
        return jp_fail(j, s, "invalid escape '\\%c' in string",
                       s[1] > 0x20 && s[1] < 0x7F ? s[1] : '?');
    if (n < 6 || !jp_hex4(s + 2, &cp))
        return jp_fail(j, s, "invalid \\u escape: four hex digits expected");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return jp_fail(j, s, "unpaired low surrogate \\u%04X", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (n < 12 || s[6] != '\\' || s[7] != 'u' || !jp_hex4(s + 8, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return jp_fail(j, s, "high surrogate \\u%04X not followed by a "
                                 "low one", cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    /* UTF-8: k continuation bytes after a lead byte */
    k = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
    *(*o)++ = (unsigned char)(k ? (0xFF00u >> (k + 1)) | cp >> (6 * k) : cp);
    while (k--)
        *(*o)++ = (unsigned char)(0x80 | (cp >> (6 * k) & 0x3F));
    return cp >= 0x10000 ? 12 : 6;
}

/* The string at j->p (on its opening quote) into *out (malloc'd, also on
 * error) and *outlen. */
static int jp_string(jp *j, char **out, size_t *outlen)
{
    unsigned char *open = j->p, *s = open + 1, *o;
    size_t n = (size_t)(j->end - s), span = 0, len;

    while (span < n && s[span] != '"')
        span += s[span] == '\\' ? 2 : 1;
    if (span >= n)
        return jp_fail(j, open, "unterminated string");
    /* Every escape is at least as long as what it decodes to. */
    if (!(*out = (char *)(o = malloc(span + 1))))
        return jp_fail(j, open, "out of memory");
    for (size_t i = 0; i < span; i += len) {
        if (s[i] == '\\')
            len = jp_escape(j, s + i, span - i, &o);
        else if (s[i] < 0x20)
            return jp_fail(j, s + i, "control character 0x%02x in string",
                           s[i]);
        else if ((len = utf8_len(s + i, span - i)) == 0)
            return jp_fail(j, s + i, "invalid UTF-8 in string");
        else
            o = (unsigned char *)memcpy(o, s + i, len) + len;
        if (len == 0)
            return 0;
    }
    *o = 0;
    *outlen = (size_t)(o - (unsigned char *)*out);
    j->p = s + span + 1;
    return 1;
}

static int jp_number(jp *j, jv *v)
{
    unsigned char *s = j->p, *p = s + (*s == '-'), c;

    if (*p == '0')
        p++;
    else if (!jp_digits(&p))
        return jp_fail(j, s, "invalid number: a digit expected");
    if (*p == '.' && (p++, !jp_digits(&p)))
        return jp_fail(j, s, "invalid number: a digit expected after '.'");
    if (*p == 'e' || *p == 'E') {
        p += p[1] == '+' || p[1] == '-' ? 2 : 1;
        if (!jp_digits(&p))
            return jp_fail(j, s, "invalid number: a digit expected in the "
                                 "exponent");
    }
    c = *p; /* strtod of just these bytes */
    *p = 0;
    v->num = strtod((char *)s, NULL);
    *p = c;
    v->t = J_NUM;
    j->p = p;
    return isfinite(v->num) || jp_fail(j, s, "number out of range");
}

static int key_cmp(const void *a, const void *b)
{
    const jmem *x = *(const jmem *const *)a, *y = *(const jmem *const *)b;
    int c = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);
    if (c == 0 && x->klen != y->klen)
        c = x->klen < y->klen ? -1 : 1;
    return c ? c : (x > y) - (x < y); /* then in file order */
}

/* Refuses an object that has a key twice (sorted: n log n). */
static int jp_unique_keys(jp *j, const jv *v)
{
    const jmem **m, *dup = NULL;
    char k[48];

    if (v->len < 2)
        return 1;
    if (!(m = malloc(v->len * sizeof *m)))
        return jp_fail(j, j->p, "out of memory");
    for (size_t i = 0; i < v->len; i++)
        m[i] = &v->kid[i];
    qsort(m, v->len, sizeof *m, key_cmp);
    for (size_t i = 1; i < v->len && !dup; i++)
        if (m[i]->klen == m[i - 1]->klen &&
            memcmp(m[i]->key, m[i - 1]->key, m[i]->klen) == 0)
            dup = m[i];
    free(m);
    return !dup || jp_fail(j, j->base + dup->off, "key \"%s\" twice in an "
                           "object", clip(dup->key, dup->klen, k));
}

static int jp_value(jp *j, jv *v);

/* The array or object at j->p into v. */
static int jp_list(jp *j, jv *v)
{
    int obj = *j->p == '{', close = obj ? '}' : ']', c = 0;
    const char *what = obj ? "object" : "array";
    size_t cap = 0;

    v->t = obj ? J_OBJ : J_ARR;
    j->p++;
    if (jp_peek(j) == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        if (obj && (c = jp_peek(j)) != '"')
            return c < 0 ? jp_fail(j, j->p, "unexpected end: a key expected")
                         : jp_found(j, "a string key");
        if (v->len == cap) {
            jmem *kid = grow(v->kid, &cap, sizeof *kid);
            if (!kid)
                return jp_fail(j, j->p, "out of memory");
            v->kid = kid;
        }
        jmem *m = memset(&v->kid[v->len++], 0, sizeof *m);
        m->off = (size_t)(j->p - j->base);
        if (obj && !jp_string(j, &m->key, &m->klen))
            return 0;
        if (obj && jp_peek(j) != ':')
            return jp_fail(j, j->p, "expected ':' after a key");
        j->p += obj;
        if (!jp_value(j, &m->val))
            return 0;
        if ((c = jp_peek(j)) != ',')
            break;
        j->p++;
    }
    if (c < 0)
        return jp_fail(j, j->p, "unexpected end: %s not closed", what);
    if (c != close)
        return jp_fail(j, j->p, "expected ',' or '%c' in an %s", close, what);
    j->p++;
    return !obj || jp_unique_keys(j, v);
}

/* One value at j->p into v (zeroed by the caller).  On error v holds what
 * was built so far, for jv_free(). */
static int jp_value(jp *j, jv *v)
{
    int c = jp_peek(j), rc;

    if (c < 0)
        return jp_fail(j, j->p, "unexpected end: a value expected");
    if (c == '{' || c == '[') {
        if (j->depth >= JP_MAX_DEPTH)
            return jp_fail(j, j->p, "nesting deeper than %d", JP_MAX_DEPTH);
        j->depth++;
        rc = jp_list(j, v);
        j->depth--;
        return rc;
    }
    if (c == '"') {
        v->t = J_STR;
        return jp_string(j, &v->s, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return jp_number(j, v);
    for (jtype t = J_NULL; t <= J_TRUE; t++) {
        size_t n = strlen(j_lit[t]);
        if (c != j_lit[t][0])
            continue;
        if (strncmp((char *)j->p, j_lit[t], n) != 0)
            return jp_fail(j, j->p, "invalid literal (true, false or null "
                                    "expected)");
        v->t = t;
        j->p += n;
        return 1;
    }
    return jp_found(j, "a value");
}

/* Parses buf[0, n) (buf[n] is 0) into *out (zeroed; freed by the caller
 * also on error); on error a message in err. */
static int jp_parse(char *buf, size_t n, jv *out, char *err, size_t errn)
{
    jp j = {.base = (unsigned char *)buf, .p = (unsigned char *)buf,
            .end = (unsigned char *)buf + n};

    if (jp_value(&j, out) && jp_peek(&j) >= 0)
        jp_fail(&j, j.p, "unexpected data after the JSON value");
    if (j.err[0])
        snprintf(err, errn, "invalid JSON at byte %zu: %s", j.err_off, j.err);
    return !j.err[0];
}

/* ---- text, JSON and CSV -------------------------------------------------- */

/* The shortest of %.15g..%.17g that reads back as v. */
static const char *fmt_exact(char *b, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, n, "%.*g", prec, v == 0 ? 0.0 : v);
        if (strtod(b, NULL) == v)
            break;
    }
    return b;
}

/* A number for a human: integers in full, others with at most four
 * significant digits (trailing zeros dropped). */
static const char *fmt_num(char *b, size_t n, double v)
{
    double a = v < 0 ? -v : v;

    if (a < 1e15 && v == (double)(long long)v)
        snprintf(b, n, "%lld", (long long)v);
    else if (a >= 1e15 || a < 1e-3)
        snprintf(b, n, "%.4g", v);
    else {
        int len = snprintf(b, n, "%.*f",
                           a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4, v);
        while (len > 0 && (size_t)len < n && b[len - 1] == '0' &&
               b[len - 2] != '.')
            b[--len] = 0; /* 9.100 as 9.1, 2.000 as 2.0 */
    }
    return b;
}

/* A scalar for a human; "-" when absent. */
static const char *jv_text(const jv *v, char *b, size_t n)
{
    if (!v)
        return "-";
    if (v->t <= J_TRUE)
        return j_lit[v->t];
    if (v->t == J_NUM)
        return fmt_exact(b, n, v->num);
    return v->t == J_STR ? v->s : v->t == J_ARR ? "[...]" : "{...}";
}

static void json_str(FILE *f, const char *s, size_t n)
{
    static const char esc[] = "\"\\\n\t\r", rep[] = "\"\\ntr";
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = c ? strchr(esc, c) : NULL;
        if (e)
            fprintf(f, "\\%c", rep[e - esc]);
        else if (c < 0x20 || c == 0x7F)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* v as JSON; NULL as null. */
static void json_val(FILE *f, const jv *v)
{
    char b[40];

    if (!v || v->t <= J_TRUE) {
        fputs(j_lit[v ? v->t : J_NULL], f);
    } else if (v->t == J_NUM) {
        fputs(fmt_exact(b, sizeof b, v->num), f);
    } else if (v->t == J_STR) {
        json_str(f, v->s, v->len);
    } else {
        fputc(v->t == J_ARR ? '[' : '{', f);
        for (size_t i = 0; i < v->len; i++) {
            fputs(i ? ", " : "", f);
            if (v->t == J_OBJ) {
                json_str(f, v->kid[i].key, v->kid[i].klen);
                fputs(": ", f);
            }
            json_val(f, &v->kid[i].val);
        }
        fputc(v->t == J_ARR ? ']' : '}', f);
    }
}

/* "key=value key=value" of the labels of result res; malloc'd. */
static char *labels_text(const jv *res)
{
    const jv *l = jv_get(res, "labels");
    char *s = NULL, num[40];
    size_t n;
    FILE *f = need(open_memstream(&s, &n));

    for (size_t i = 0; l && i < l->len; i++) {
        const jmem *m = &l->kid[i];
        fputs(i ? " " : "", f);
        fwrite(m->key, 1, m->klen, f);
        fputc('=', f);
        if (m->val.t == J_STR)
            fwrite(m->val.s, 1, m->val.len, f);
        else
            fputs(jv_text(&m->val, num, sizeof num), f);
    }
    return need(fclose(f) ? NULL : s);
}

/* ---- aligned tables ------------------------------------------------------ */

static void tab_add(bu_table *t, const char *const *cells)
{
    if (bu_table_add(t, cells))
        need(NULL);
}

/* Columns wide on screen: UTF-8 lead bytes counted. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s with control characters (C0, DEL, C1) shown as '?'. */
static void put_safe(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            fputc('?', f);
            p++;
        } else {
            fputc(*p < 0x20 || *p == 0x7F ? '?' : *p, f);
        }
    }
}

/* t without a rule: column c right-aligned when bit c of right is set;
 * before row span_at (span_at == t->nrows: after the last) the line span,
 * outside the columns. */
static void tab_print(FILE *f, const bu_table *t, unsigned right,
                      size_t span_at, const char *span)
{
    size_t w[8] = {0}, nc = t->ncols;

    for (size_t i = 0; i < t->nrows * nc; i++)
        if (text_width(t->cells[i]) > w[i % nc])
            w[i % nc] = text_width(t->cells[i]);
    for (size_t r = 0; r <= t->nrows; r++) {
        if (r == span_at && span)
            fprintf(f, "%s\n", span);
        if (r == t->nrows)
            break;
        for (size_t c = 0; c < nc; c++) {
            const char *s = t->cells[r * nc + c];
            int pad = (int)(w[c] - text_width(s)), rt = (right >> c) & 1;
            fprintf(f, "%s%*s", c ? "  " : "", rt ? pad : 0, "");
            put_safe(f, s);
            fprintf(f, "%*s", !rt && c + 1 < nc ? pad : 0, "");
        }
        fputc('\n', f);
    }
}

/* ---- one run ------------------------------------------------------------- */

typedef struct cmp_run {
    const char *path, *subcommand;
    jv root;
    const jv *meta, *machine, *options, *results;
} cmp_run;

#define cmp_bad(r, ...) cmp_msg((r)->path, __VA_ARGS__)

/* The file at path into *buf (malloc'd, NUL-terminated; NULL when not
 * made) and *n; NULL, or why not. */
static const char *read_all(const char *path, char **buf, size_t *n)
{
    static char big[32];
    char blk[65536];
    size_t got, total = 0;
    const char *why = NULL;
    FILE *f = fopen(path, "rb"), *m;

    *buf = NULL;
    if (!f)
        return strerror(errno);
    if (!(m = open_memstream(buf, n)))
        why = "out of memory";
    while (!why && (got = fread(blk, 1, sizeof blk, f)) > 0)
        if ((total += got) > CMP_MAX_FILE) {
            snprintf(big, sizeof big, "larger than %zu MiB",
                     CMP_MAX_FILE >> 20);
            why = big;
        } else if (fwrite(blk, 1, got, m) != got)
            why = "out of memory";
    if (!why && ferror(f))
        why = strerror(errno);
    if (m && fclose(m) && !why)
        why = "out of memory";
    fclose(f);
    return why;
}

static int cmp_check_result(const cmp_run *r, size_t i, const jv *res)
{
    static const char *const part[] = {"labels", "metrics", "latency_ns"};
    const jv *t = jv_get(res, "table");
    char k[48], k2[48];

    if (res->t != J_OBJ)
        return cmp_bad(r, "results[%zu] is not an object", i);
    if (!t || t->t != J_STR)
        return cmp_bad(r, "results[%zu] has no \"table\" string", i);
    for (int p = 0; p < 3; p++) {
        const jv *o = jv_get(res, part[p]);
        if (o && o->t != J_OBJ)
            return cmp_bad(r, "results[%zu].%s is not an object", i, part[p]);
        for (size_t n = 0; o && n < o->len; n++) {
            const jv *v = &o->kid[n].val;
            int num = v->t == J_NUM || v->t == J_NULL;
            clip(o->kid[n].key, o->kid[n].klen, k);
            if (p == 0 && !num && v->t != J_STR)
                return cmp_bad(r, "results[%zu].labels.%s is not a string "
                                  "or a number", i, k);
            if (p == 1 && !num)
                return cmp_bad(r, "results[%zu].metrics.%s is not a number",
                               i, k);
            if (p == 2 && v->t != J_OBJ)
                return cmp_bad(r, "results[%zu].latency_ns.%s is not an "
                                  "object", i, k);
            for (size_t m = 0; p == 2 && m < v->len; m++)
                if (v->kid[m].val.t != J_NUM && v->kid[m].val.t != J_NULL)
                    return cmp_bad(r, "results[%zu].latency_ns.%s.%s is not "
                                      "a number", i, k, clip(v->kid[m].key,
                                      v->kid[m].klen, k2));
        }
    }
    return 0;
}

/* Reads and checks one bpbench/1 file; on error a message on stderr.  The
 * caller frees r->root in any case. */
static int cmp_load(cmp_run *r)
{
    char *buf, err[200];
    size_t n;
    const jv *s, *sub;
    const char *why = read_all(r->path, &buf, &n);
    int ok = !why && jp_parse(buf, n, &r->root, err, sizeof err);

    free(buf);
    if (!ok)
        return cmp_bad(r, "%s", why ? why : err);
    if (r->root.t != J_OBJ)
        return cmp_bad(r, "not a " CMP_SCHEMA " file: the top level is not "
                          "an object");
    if (!(s = jv_get(&r->root, "schema")))
        return cmp_bad(r, "not a " CMP_SCHEMA " file: no \"schema\"");
    if (s->t != J_STR)
        return cmp_bad(r, "not a " CMP_SCHEMA " file: \"schema\" is not a "
                          "string");
    if (strlen(s->s) != s->len || strcmp(s->s, CMP_SCHEMA) != 0)
        return cmp_bad(r, "schema is \"%s\", not \"" CMP_SCHEMA "\"",
                       clip(s->s, s->len, err));
    r->meta = jv_get(&r->root, "bpbench");
    if (!r->meta || r->meta->t != J_OBJ)
        return cmp_bad(r, "no \"bpbench\" object");
    if (!(sub = jv_get(r->meta, "subcommand")) || sub->t != J_STR)
        return cmp_bad(r, "bpbench.subcommand is not a string");
    r->subcommand = sub->s;
    r->machine = jv_get(&r->root, "machine");
    if (r->machine && r->machine->t != J_OBJ)
        return cmp_bad(r, "\"machine\" is not an object");
    r->options = jv_get(&r->root, "options");
    if (r->options && r->options->t != J_OBJ)
        return cmp_bad(r, "\"options\" is not an object");
    r->results = jv_get(&r->root, "results");
    if (!r->results || r->results->t != J_ARR)
        return cmp_bad(r, "no \"results\" array");
    for (size_t i = 0; i < r->results->len; i++)
        if (cmp_check_result(r, i, &r->results->kid[i].val))
            return -1;
    return 0;
}

/* ---- the comparison ------------------------------------------------------ */

/* One metric of one result: A's and B's value.  ra or rb is NULL for a
 * result only in the other run. */
typedef struct cmp_line {
    const jv *ra, *rb;
    char *metric;
    int has_a, has_b;
    double a, b;
} cmp_line;

/* B/A of a line into *r; 0 when a value is missing or A is 0. */
static int line_ratio(const cmp_line *l, double *r)
{
    if (!l->has_a || !l->has_b || l->a == 0)
        return 0;
    *r = l->b / l->a;
    return isfinite(*r);
}

/* An option whose value differs (a or b NULL: not set in that run). */
typedef struct cmp_opt {
    const jmem *m;
    const jv *a, *b;
} cmp_opt;

typedef struct cmp {
    cmp_run A, B;
    const char *csv, *json; /* --csv FILE, --json FILE */
    int force;
    struct cmp_want {
        const char *name; /* --metric NAME */
        int hit;
    } *want;
    size_t nwant;
    cmp_line *line;
    size_t nline, cap, nboth; /* line[0, nboth): results in both */
    const jv **only[2];       /* results only in A, only in B */
    size_t nonly[2];
    cmp_opt *opt;
    size_t nopt;
} cmp;

/* Whether a line named name (of latency kind, or NULL) is asked for. */
static int cmp_wanted(cmp *c, const char *name, const char *kind)
{
    int hit = c->nwant == 0;
    for (size_t i = 0; i < c->nwant; i++)
        if (strcmp(c->want[i].name, name) == 0 ||
            (kind && strcmp(c->want[i].name, kind) == 0))
            hit = c->want[i].hit = 1;
    return hit;
}

/* The lines of ra and rb (name malloc'd, taken): their metrics (A's names
 * in order, then B's that A lacks), then per latency kind (the same
 * order) four percentiles. */
static void cmp_lines(cmp *c, const jv *ra, const jv *rb)
{
    static const char *const stat[] = {"p50", "p99", "p999", "max"};

    for (int lat = 0; lat < 2; lat++) {
        const char *part = lat ? "latency_ns" : "metrics";
        const jv *pa = jv_get(ra, part), *pb = jv_get(rb, part);
        for (int side = 0; side < 2; side++) {
            const jv *p = side ? pb : pa;
            for (size_t i = 0; p && i < p->len; i++) {
                const jmem *e = &p->kid[i];
                const jv *va = jv_getn(pa, e->key, e->klen);
                const jv *vb = jv_getn(pb, e->key, e->klen);
                if (side && va)
                    continue;
                for (int s = 0; s < (lat ? 4 : 1); s++) {
                    char *name = lat ? xfmt("%s_%s_ns", e->key, stat[s])
                                     : need(strdup(e->key));
                    if (!cmp_wanted(c, name, lat ? e->key : NULL)) {
                        free(name);
                        continue;
                    }
                    if (c->nline == c->cap)
                        c->line = need(grow(c->line, &c->cap, sizeof *c->line));
                    cmp_line *l = &c->line[c->nline++];
                    const jv *a = lat ? jv_get(va, stat[s]) : va;
                    const jv *b = lat ? jv_get(vb, stat[s]) : vb;
                    *l = (cmp_line){ra, rb, name, a && a->t == J_NUM,
                                    b && b->t == J_NUM, a ? a->num : 0,
                                    b ? b->num : 0};
                }
            }
        }
    }
}

static int same_result(const jv *ra, const jv *rb)
{
    static const jv none = {.t = J_OBJ};
    const jv *la = jv_get(ra, "labels"), *lb = jv_get(rb, "labels");
    return jv_equal(jv_get(ra, "table"), jv_get(rb, "table")) &&
           jv_equal(la ? la : &none, lb ? lb : &none);
}

/* Matches the results, builds the lines and the options that differ. */
static void cmp_build(cmp *c)
{
    const jv *ra = c->A.results, *rb = c->B.results;
    const jv *oa = c->A.options, *ob = c->B.options;
    unsigned char *used = need(calloc(rb->len + 1, 1));

    c->only[0] = need(calloc(ra->len + 1, sizeof *c->only[0]));
    c->only[1] = need(calloc(rb->len + 1, sizeof *c->only[1]));
    c->opt = need(calloc((oa ? oa->len : 0) + (ob ? ob->len : 0) + 1,
                         sizeof *c->opt));
    for (size_t i = 0; i < ra->len; i++) {
        const jv *a = &ra->kid[i].val;
        size_t k = 0;
        while (k < rb->len && (used[k] || !same_result(a, &rb->kid[k].val)))
            k++;
        if (k == rb->len) {
            c->only[0][c->nonly[0]++] = a;
            continue;
        }
        used[k] = 1;
        cmp_lines(c, a, &rb->kid[k].val);
    }
    c->nboth = c->nline;
    for (size_t k = 0; k < rb->len; k++)
        if (!used[k])
            c->only[1][c->nonly[1]++] = &rb->kid[k].val;
    free(used);
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < c->nonly[s]; i++)
            cmp_lines(c, s ? NULL : c->only[s][i], s ? c->only[s][i] : NULL);
    for (int s = 0; s < 2; s++) {
        const jv *o = s ? ob : oa;
        for (size_t i = 0; o && i < o->len; i++) {
            const jmem *m = &o->kid[i];
            const jv *a = jv_getn(oa, m->key, m->klen);
            const jv *b = jv_getn(ob, m->key, m->klen);
            if (s ? !a : (!b || !jv_equal(a, b)))
                c->opt[c->nopt++] = (cmp_opt){m, a, b};
        }
    }
}

/* ---- printing ------------------------------------------------------------ */

static void cmp_print_head(const cmp *c, FILE *f)
{
    static const char *const key[] = {"subcommand", "version", "started",
                                      "seconds", "kernel", "cpu", "cores",
                                      "memory_bytes", "hostname"};
    bu_table t;
    char b[2][40];

    bu_table_init(&t, 3);
    tab_add(&t, (const char *const[]){"", "A", "B"});
    tab_add(&t, (const char *const[]){"file", c->A.path, c->B.path});
    for (size_t i = 0; i < 9; i++) {
        const char *cell[3] = {i == 7 ? "memory" : key[i]};
        for (int s = 0; s < 2; s++) {
            const cmp_run *r = s ? &c->B : &c->A;
            const jv *v = jv_get(i < 4 ? r->meta : r->machine, key[i]);
            cell[s + 1] = jv_text(v, b[s], sizeof b[s]);
            if (i == 7 && v && v->t == J_NUM)
                snprintf(b[s], sizeof b[s], "%.1f GiB", v->num / 1073741824.0);
        }
        tab_add(&t, cell);
    }
    for (size_t i = 0; i < c->nopt; i++) {
        char *name = xfmt("  %.*s", (int)c->opt[i].m->klen, c->opt[i].m->key);
        tab_add(&t, (const char *const[]){
            name, jv_text(c->opt[i].a, b[0], sizeof b[0]),
            jv_text(c->opt[i].b, b[1], sizeof b[1])});
        free(name);
    }
    tab_print(f, &t, 0, 11, c->nopt ? "options that differ:"
                                    : "options: the same in both");
    bu_table_free(&t);
}

static void cmp_print_results(const cmp *c, FILE *f)
{
    bu_table g, o;
    char a[40], b[40], r[40];
    double ratio = 0;

    bu_table_init(&g, 6);
    bu_table_init(&o, 3);
    if (c->A.results->len == c->nonly[0])
        fputs("no result is in both runs\n", f);
    else if (c->nboth == 0)
        fputs("no metric to compare in the results in both runs\n", f);
    tab_add(&g, (const char *const[]){"table", "labels", "metric", "A", "B",
                                      "B/A"});
    for (size_t i = 0; i < c->nboth; i++) {
        const cmp_line *l = &c->line[i];
        const jv *res = l->ra;
        char *labels = labels_text(res);
        if (!line_ratio(l, &ratio))
            strcpy(r, "-");
        else
            snprintf(r, sizeof r, fabs(ratio) >= 1e6 ? "%.3gx" : "%.2fx",
                     ratio);
        tab_add(&g, (const char *const[]){
            jv_get(res, "table")->s, labels[0] ? labels : "-", l->metric,
            l->has_a ? fmt_num(a, sizeof a, l->a) : "-",
            l->has_b ? fmt_num(b, sizeof b, l->b) : "-", r});
        free(labels);
    }
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < c->nonly[s]; i++) {
            char *labels = labels_text(c->only[s][i]);
            tab_add(&o, (const char *const[]){
                s ? "only in B:" : "only in A:",
                jv_get(c->only[s][i], "table")->s, labels[0] ? labels : "-"});
            free(labels);
        }
    if (c->nboth)
        tab_print(f, &g, 7u << 3, SIZE_MAX, NULL);
    if (c->nboth && o.nrows)
        fputc('\n', f);
    tab_print(f, &o, 0, SIZE_MAX, NULL);
    bu_table_free(&g);
    bu_table_free(&o);
}

/* ---- files --------------------------------------------------------------- */

/* A, B and B/A of a line as numbers for a file ("" when missing). */
static void line_nums(const cmp_line *l, char b[3][40])
{
    double r = 0;
    int has[3] = {l->has_a, l->has_b, line_ratio(l, &r)};
    double v[3] = {l->a, l->b, r};
    for (int i = 0; i < 3; i++) {
        b[i][0] = 0;
        if (has[i])
            fmt_exact(b[i], sizeof b[i], v[i]);
    }
}

static void write_csv(const cmp *c, FILE *f)
{
    fputs("table,labels,metric,a,b,b_over_a\n", f);
    for (size_t i = 0; i < c->nline; i++) {
        const cmp_line *l = &c->line[i];
        const jv *res = l->ra ? l->ra : l->rb;
        char *labels = labels_text(res), num[3][40];
        line_nums(l, num);
        bu_csv_row(f, (const char *const[]){jv_get(res, "table")->s, labels,
                                            l->metric, num[0], num[1],
                                            num[2]}, 6);
        free(labels);
    }
}

/* lead, then the table and labels of result res as JSON members. */
static void json_res(FILE *f, const char *lead, const jv *res)
{
    static const jv none = {.t = J_OBJ};
    const jv *l = jv_get(res, "labels");
    fprintf(f, "%s{\"table\": ", lead);
    json_val(f, jv_get(res, "table"));
    fputs(", \"labels\": ", f);
    json_val(f, l ? l : &none);
}

static void write_json(const cmp *c, FILE *f)
{
    char num[3][40];

    fputs("{\"schema\": \"bpbench-compare/1\",\n", f);
    for (int s = 0; s < 2; s++) {
        const cmp_run *r = s ? &c->B : &c->A;
        fprintf(f, " \"%s\": {\"file\": ", s ? "b" : "a");
        json_str(f, r->path, strlen(r->path));
        fputs(", \"subcommand\": ", f);
        json_str(f, r->subcommand, strlen(r->subcommand));
        fputs(", \"started\": ", f);
        json_val(f, jv_get(r->meta, "started"));
        fputs("},\n", f);
    }
    fputs(" \"options_differ\": {", f);
    for (size_t i = 0; i < c->nopt; i++) {
        fputs(i ? ", " : "", f);
        json_str(f, c->opt[i].m->key, c->opt[i].m->klen);
        fputs(": {\"a\": ", f);
        json_val(f, c->opt[i].a);
        fputs(", \"b\": ", f);
        json_val(f, c->opt[i].b);
        fputc('}', f);
    }
    fputs("},\n \"results\": [", f);
    for (size_t i = 0; i < c->nline; i++) {
        const cmp_line *l = &c->line[i];
        line_nums(l, num);
        json_res(f, i ? ",\n   " : "\n   ", l->ra ? l->ra : l->rb);
        fputs(", \"metric\": ", f);
        json_str(f, l->metric, strlen(l->metric));
        for (int k = 0; k < 3; k++)
            fprintf(f, ", \"%s\": %s", k == 2 ? "b_over_a" : k ? "b" : "a",
                    num[k][0] ? num[k] : "null");
        fputc('}', f);
    }
    for (int s = 0; s < 2; s++) {
        fprintf(f, "],\n \"only_in_%s\": [", s ? "b" : "a");
        for (size_t i = 0; i < c->nonly[s]; i++) {
            json_res(f, i ? ",\n   " : "\n   ", c->only[s][i]);
            fputc('}', f);
        }
    }
    fputs("]}\n", f);
}

/* Writes the comparison to path by body; 0, or -1 after a message. */
static int cmp_write(const cmp *c, const char *path,
                     void (*body)(const cmp *, FILE *))
{
    FILE *f = fopen(path, "w");
    int e = f ? 0 : errno;

    if (f) {
        body(c, f);
        e = ferror(f) ? EIO : 0;
        if (fclose(f) && !e)
            e = errno;
    }
    return e ? cmp_msg(path, "%s", strerror(e)) : 0;
}

/* ---- the subcommand ------------------------------------------------------ */

static int cmp_usage(FILE *f, int rc)
{
    fprintf(f,
            "usage: bpbench compare A.json B.json [--metric NAME]... "
            "[--csv FILE]\n"
            "                       [--json FILE] [--force]\n"
            "  two runs written with --json FILE, side by side: their "
            "machines, the\n"
            "  options that differ, and for every result in both (same "
            "table and\n"
            "  labels) each metric and latency p50/p99/p99.9/max of A and "
            "B with B/A;\n"
            "  then the results only in one run.\n"
            "  --metric NAME  only metrics or latency kinds of that name "
            "(repeatable)\n"
            "  --csv FILE     the comparison as CSV, --json FILE as JSON\n"
            "  --force        compare runs of different subcommands\n");
    return rc;
}

static int cmp_run_all(cmp *c)
{
    char a[48], b[48];

    if (cmp_load(&c->A) || cmp_load(&c->B))
        return 1;
    if (strcmp(c->A.subcommand, c->B.subcommand) != 0 && !c->force) {
        cmp_msg(NULL, "%s ran '%s', %s ran '%s': not the same subcommand "
                      "(--force compares them anyway)", c->A.path,
                clip(c->A.subcommand, strlen(c->A.subcommand), a), c->B.path,
                clip(c->B.subcommand, strlen(c->B.subcommand), b));
        return 1;
    }
    cmp_build(c);
    cmp_print_head(c, stdout);
    fputc('\n', stdout);
    cmp_print_results(c, stdout);
    for (size_t i = 0; i < c->nwant; i++)
        if (!c->want[i].hit)
            cmp_msg(NULL, "no metric or latency kind '%s' in either run",
                    c->want[i].name);
    fflush(stdout);
    return (c->csv && cmp_write(c, c->csv, write_csv)) ||
           (c->json && cmp_write(c, c->json, write_json));
}

/* argv into c: 0, 1 for --help, -1 after a usage error's line. */
static int cmp_args(cmp *c, int argc, char **argv)
{
    const char **file[2] = {&c->A.path, &c->B.path};
    int nfiles = 0, opts = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = !strcmp(a, "--csv") ? &c->csv
                         : !strcmp(a, "--json") ? &c->json
                         : !strcmp(a, "--metric") ? &c->want[c->nwant].name
                         : NULL;
        if (!opts || a[0] != '-' || !a[1]) {
            if (nfiles == 2)
                return cmp_msg(NULL, "more than two files ('%s')", a);
            *file[nfiles++] = a;
        } else if (!strcmp(a, "--")) {
            opts = 0;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            return 1;
        } else if (!strcmp(a, "--force")) {
            c->force = 1;
        } else if (val && i + 1 < argc) {
            *val = argv[++i];
            if (val == &c->want[c->nwant].name)
                c->nwant++;
        } else {
            return cmp_msg(NULL, "%s '%s'", val ? "a value is needed after"
                                                : "unknown option", a);
        }
    }
    return nfiles == 2 ? 0 : cmp_msg(NULL, "two files expected");
}

int bench_compare_main(int argc, char **argv)
{
    cmp c = {0};
    int rc;

    c.want = need(calloc((size_t)(argc > 0 ? argc : 1), sizeof *c.want));
    rc = cmp_args(&c, argc, argv);
    rc = rc < 0 ? cmp_usage(stderr, 2) : rc ? cmp_usage(stdout, 0)
                                            : cmp_run_all(&c);
    for (size_t i = 0; i < c.nline; i++)
        free(c.line[i].metric);
    free(c.line);
    free(c.only[0]);
    free(c.only[1]);
    free(c.opt);
    free(c.want);
    jv_free(&c.A.root);
    jv_free(&c.B.root);
    return rc;
}
