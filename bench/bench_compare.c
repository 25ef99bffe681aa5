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
#include "bench_out.h"

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

#define CMP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- JSON values --------------------------------------------------------- */

typedef enum jtype {
    J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ
} jtype;

typedef struct jmem jmem;

typedef struct jv {
    jtype t;
    double num;      /* J_NUM */
    char *s;         /* J_STR: the decoded bytes, NUL-terminated */
    size_t len;      /* J_STR: bytes; J_ARR: items; J_OBJ: members */
    struct jv *item; /* J_ARR */
    jmem *mem;       /* J_OBJ, in file order */
} jv;

struct jmem {
    char *key;
    size_t klen;
    size_t off; /* byte offset of the key in the file */
    jv val;
};

static void jv_free(jv *v)
{
    if (v->t == J_STR) {
        free(v->s);
    } else if (v->t == J_ARR) {
        for (size_t i = 0; i < v->len; i++)
            jv_free(&v->item[i]);
        free(v->item);
    } else if (v->t == J_OBJ) {
        for (size_t i = 0; i < v->len; i++) {
            free(v->mem[i].key);
            jv_free(&v->mem[i].val);
        }
        free(v->mem);
    }
    memset(v, 0, sizeof *v);
}

/* The value of key in object o; NULL when o is not an object or has no
 * such key. */
static const jv *jv_getn(const jv *o, const char *key, size_t klen)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->len; i++)
        if (o->mem[i].klen == klen && memcmp(o->mem[i].key, key, klen) == 0)
            return &o->mem[i].val;
    return NULL;
}

static const jv *jv_get(const jv *o, const char *key)
{
    return jv_getn(o, key, strlen(key));
}

static int jv_equal(const jv *a, const jv *b)
{
    if (a->t != b->t)
        return 0;
    switch (a->t) {
    case J_NUM:
        return a->num == b->num;
    case J_STR:
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    case J_ARR:
        if (a->len != b->len)
            return 0;
        for (size_t i = 0; i < a->len; i++)
            if (!jv_equal(&a->item[i], &b->item[i]))
                return 0;
        return 1;
    case J_OBJ:
        if (a->len != b->len)
            return 0;
        for (size_t i = 0; i < a->len; i++) {
            const jmem *m = &a->mem[i];
            const jv *o = jv_getn(b, m->key, m->klen);
            if (!o || !jv_equal(&m->val, o))
                return 0;
        }
        return 1;
    default:
        return 1;
    }
}

/* The number in v, when v is one (null and absent values are missing). */
static int jv_number(const jv *v, double *out)
{
    if (!v || v->t != J_NUM)
        return 0;
    *out = v->num;
    return 1;
}

/* A key for a message: control characters replaced, at most 40 bytes. */
static const char *clip(const char *s, size_t n, char *b, size_t bn)
{
    size_t i, max = bn - 4 < 40 ? bn - 4 : 40;
    for (i = 0; i < n && i < max; i++)
        b[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i];
    if (i < n) {
        memcpy(b + i, "...", 3);
        i += 3;
    }
    b[i] = 0;
    return b;
}

/* Grows an array of elem-sized items to hold one more than *cap; the new
 * array, or NULL (the old one kept) when out of memory. */
static void *grow(void *arr, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

/* ---- JSON parser --------------------------------------------------------- */

typedef struct jp {
    const unsigned char *base, *p, *end;
    int depth;
    size_t err_off;
    char err[128];
} jp;

/* Records the first error, at byte `at`; returns -1. */
CMP_PRINTF(3, 4)
static int jp_fail(jp *j, const unsigned char *at, const char *fmt, ...)
{
    if (!j->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err, sizeof j->err, fmt, ap);
        va_end(ap);
        j->err_off = (size_t)(at - j->base);
    }
    return -1;
}

/* The byte at p, quoted for a message. */
static const char *jp_byte(const unsigned char *p, char *buf, size_t n)
{
    if (*p > 0x20 && *p < 0x7F)
        snprintf(buf, n, "'%c'", *p);
    else
        snprintf(buf, n, "byte 0x%02x", *p);
    return buf;
}

static void jp_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
                             *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jp_digit(const jp *j, const unsigned char *p)
{
    return p < j->end && *p >= '0' && *p <= '9';
}

static int jp_hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), 0
 * when it is not one (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static size_t utf8_put(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The escape at s[0] == '\\' (n bytes up to the closing quote) decoded
 * into o; its length in the input, 0 on error (recorded). */
static size_t jp_escape(jp *j, const unsigned char *s, size_t n,
                        unsigned char *o, size_t *olen)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = s[1] ? strchr(from, s[1]) : NULL;
    unsigned cp, lo;

    if (e) {
        *o = (unsigned char)to[e - from];
        *olen = 1;
        return 2;
    }
    if (s[1] != 'u') {
        jp_fail(j, s, "invalid escape '\\%c' in string",
                s[1] > 0x20 && s[1] < 0x7F ? s[1] : '?');
        return 0;
    }
    if (n < 6 || jp_hex4(s + 2, &cp)) {
        jp_fail(j, s, "invalid \\u escape: four hex digits expected");
        return 0;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        jp_fail(j, s, "unpaired low surrogate \\u%04X", cp);
        return 0;
    }
    if (cp < 0xD800 || cp > 0xDBFF) {
        *olen = utf8_put(o, cp);
        return 6;
    }
    if (n < 12 || s[6] != '\\' || s[7] != 'u' || jp_hex4(s + 8, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF) {
        jp_fail(j, s, "high surrogate \\u%04X not followed by a low one",
                cp);
        return 0;
    }
    *olen = utf8_put(o, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
    return 12;
}

/* The string at j->p (on its opening quote) into *out (malloc'd). */
static int jp_string(jp *j, char **out, size_t *outlen)
{
    const unsigned char *open = j->p, *s = j->p + 1;
    size_t n = (size_t)(j->end - s), span = 0, i, len;

    while (span < n && s[span] != '"')
        span += s[span] == '\\' ? 2 : 1;
    if (span >= n)
        return jp_fail(j, open, "unterminated string");
    /* Every escape is at least as long as what it decodes to. */
    unsigned char *buf = malloc(span + 1), *o = buf;
    if (!buf)
        return jp_fail(j, open, "out of memory");
    for (i = 0; i < span; i += len) {
        if (s[i] == '\\') {
            size_t olen = 0;
            len = jp_escape(j, s + i, span - i, o, &olen);
            o += olen;
        } else if (s[i] < 0x20) {
            jp_fail(j, s + i, "control character 0x%02x in string", s[i]);
            len = 0;
        } else if ((len = utf8_len(s + i, span - i)) == 0) {
            jp_fail(j, s + i, "invalid UTF-8 in string");
        } else {
            memcpy(o, s + i, len);
            o += len;
        }
        if (len == 0) {
            free(buf);
            return -1;
        }
    }
    *o = 0;
    *out = (char *)buf;
    *outlen = (size_t)(o - buf);
    j->p = s + span + 1;
    return 0;
}

static int jp_number(jp *j, double *out)
{
    const unsigned char *s = j->p, *p = s;
    char small[64], *buf;

    if (p < j->end && *p == '-')
        p++;
    if (p < j->end && *p == '0')
        p++;
    else if (jp_digit(j, p) && *p != '0')
        while (jp_digit(j, p))
            p++;
    else
        return jp_fail(j, s, "invalid number: a digit expected");
    if (p < j->end && *p == '.') {
        if (!jp_digit(j, ++p))
            return jp_fail(j, s, "invalid number: a digit expected after "
                                 "'.'");
        while (jp_digit(j, p))
            p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (!jp_digit(j, p))
            return jp_fail(j, s, "invalid number: a digit expected in the "
                                 "exponent");
        while (jp_digit(j, p))
            p++;
    }
    size_t n = (size_t)(p - s);
    buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return jp_fail(j, s, "out of memory");
    memcpy(buf, s, n);
    buf[n] = 0;
    double v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    if (!isfinite(v))
        return jp_fail(j, s, "number out of range");
    *out = v;
    j->p = p;
    return 0;
}

static int jp_literal(jp *j, jv *v, const char *word, jtype t)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return jp_fail(j, j->p, "invalid literal (true, false or null "
                                "expected)");
    v->t = t;
    j->p += n;
    return 0;
}

static int jp_value(jp *j, jv *v);

static int jp_array(jp *j, jv *v)
{
    size_t cap = 0;

    v->t = J_ARR;
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (v->len == cap) {
            jv *item = grow(v->item, &cap, sizeof *item);
            if (!item)
                return jp_fail(j, j->p, "out of memory");
            v->item = item;
        }
        jv *it = &v->item[v->len++];
        memset(it, 0, sizeof *it);
        if (jp_value(j, it))
            return -1;
        jp_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
        } else if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        } else {
            return jp_fail(j, j->p, j->p < j->end
                                        ? "expected ',' or ']' in an array"
                                        : "unexpected end: array not closed");
        }
    }
}

static int jp_key_cmp(const void *a, const void *b)
{
    const jmem *x = *(const jmem *const *)a, *y = *(const jmem *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Refuses an object that has a key twice (sorted: n log n). */
static int jp_unique_keys(jp *j, const jv *v)
{
    if (v->len < 2)
        return 0;
    const jmem **m = malloc(v->len * sizeof *m);
    if (!m)
        return jp_fail(j, j->p, "out of memory");
    for (size_t i = 0; i < v->len; i++)
        m[i] = &v->mem[i];
    qsort(m, v->len, sizeof *m, jp_key_cmp);
    const jmem *dup = NULL;
    char k[48];
    for (size_t i = 1; i < v->len && !dup; i++)
        if (m[i]->klen == m[i - 1]->klen &&
            memcmp(m[i]->key, m[i - 1]->key, m[i]->klen) == 0)
            dup = m[i];
    free(m);
    if (dup)
        return jp_fail(j, j->base + dup->off, "key \"%s\" twice in an object",
                       clip(dup->key, dup->klen, k, sizeof k));
    return 0;
}

static int jp_object(jp *j, jv *v)
{
    size_t cap = 0;

    v->t = J_OBJ;
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        char b[16];
        jp_ws(j);
        if (j->p >= j->end)
            return jp_fail(j, j->p, "unexpected end: a key expected");
        if (*j->p != '"')
            return jp_fail(j, j->p, "a string key expected, found %s",
                           jp_byte(j->p, b, sizeof b));
        if (v->len == cap) {
            jmem *mem = grow(v->mem, &cap, sizeof *mem);
            if (!mem)
                return jp_fail(j, j->p, "out of memory");
            v->mem = mem;
        }
        jmem *m = &v->mem[v->len++];
        memset(m, 0, sizeof *m);
        m->off = (size_t)(j->p - j->base);
        if (jp_string(j, &m->key, &m->klen))
            return -1;
        jp_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return jp_fail(j, j->p, "expected ':' after a key");
        j->p++;
        if (jp_value(j, &m->val))
            return -1;
        jp_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
        } else if (j->p < j->end && *j->p == '}') {
            j->p++;
            return jp_unique_keys(j, v);
        } else {
            return jp_fail(j, j->p, j->p < j->end
                                        ? "expected ',' or '}' in an object"
                                        : "unexpected end: object not "
                                          "closed");
        }
    }
}

/* One value at j->p into v (zeroed by the caller).  On error v holds what
 * was built so far, for jv_free(). */
static int jp_value(jp *j, jv *v)
{
    char b[16];
    int rc;

    jp_ws(j);
    if (j->p >= j->end)
        return jp_fail(j, j->p, "unexpected end: a value expected");
    switch (*j->p) {
    case '{':
    case '[':
        if (j->depth >= JP_MAX_DEPTH)
            return jp_fail(j, j->p, "nesting deeper than %d", JP_MAX_DEPTH);
        j->depth++;
        rc = *j->p == '{' ? jp_object(j, v) : jp_array(j, v);
        j->depth--;
        return rc;
    case '"':
        v->t = J_STR;
        return jp_string(j, &v->s, &v->len);
    case 't':
        return jp_literal(j, v, "true", J_TRUE);
    case 'f':
        return jp_literal(j, v, "false", J_FALSE);
    case 'n':
        return jp_literal(j, v, "null", J_NULL);
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            v->t = J_NUM;
            return jp_number(j, &v->num);
        }
        return jp_fail(j, j->p, "a value expected, found %s",
                       jp_byte(j->p, b, sizeof b));
    }
}

/* Parses buf[0, n) into *out; on error a message in err, *out empty. */
static int jp_parse(const char *buf, size_t n, jv *out, char *err,
                    size_t errn)
{
    jp j = {.base = (const unsigned char *)buf};
    int rc;

    j.p = j.base;
    j.end = j.base + n;
    memset(out, 0, sizeof *out);
    rc = jp_value(&j, out);
    if (rc == 0) {
        jp_ws(&j);
        if (j.p != j.end)
            rc = jp_fail(&j, j.p, "unexpected data after the JSON value");
    }
    if (rc) {
        snprintf(err, errn, "invalid JSON at byte %zu: %s", j.err_off,
                 j.err);
        jv_free(out);
    }
    return rc;
}

/* ---- JSON and CSV writing ------------------------------------------------ */

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

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7F)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_cstr(FILE *f, const char *s)
{
    json_str(f, s, strlen(s));
}

/* v as JSON; NULL as null. */
static void json_val(FILE *f, const jv *v)
{
    char b[40];

    if (!v) {
        fputs("null", f);
        return;
    }
    switch (v->t) {
    case J_NULL:
        fputs("null", f);
        break;
    case J_FALSE:
        fputs("false", f);
        break;
    case J_TRUE:
        fputs("true", f);
        break;
    case J_NUM:
        fputs(fmt_exact(b, sizeof b, v->num), f);
        break;
    case J_STR:
        json_str(f, v->s, v->len);
        break;
    case J_ARR:
        fputc('[', f);
        for (size_t i = 0; i < v->len; i++) {
            fputs(i ? ", " : "", f);
            json_val(f, &v->item[i]);
        }
        fputc(']', f);
        break;
    case J_OBJ:
        fputc('{', f);
        for (size_t i = 0; i < v->len; i++) {
            fputs(i ? ", " : "", f);
            json_str(f, v->mem[i].key, v->mem[i].klen);
            fputs(": ", f);
            json_val(f, &v->mem[i].val);
        }
        fputc('}', f);
        break;
    }
}

static void json_num(FILE *f, int has, double v)
{
    char b[40];
    fputs(has && isfinite(v) ? fmt_exact(b, sizeof b, v) : "null", f);
}

static void csv_num(FILE *f, int has, double v)
{
    char b[40];
    fputc(',', f);
    if (has && isfinite(v))
        fputs(fmt_exact(b, sizeof b, v), f);
}

/* ---- text ---------------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
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
    switch (v->t) {
    case J_NULL:
        return "null";
    case J_FALSE:
        return "false";
    case J_TRUE:
        return "true";
    case J_NUM:
        return fmt_exact(b, n, v->num);
    case J_STR:
        return v->s;
    case J_ARR:
        return "[...]";
    default:
        return "{...}";
    }
}

/* "key=value key=value" of a labels object (NULL: none); malloc'd, NULL
 * when out of memory. */
static char *labels_text(const jv *l)
{
    sbuf b = {0};
    char num[40];

    sb_put(&b, "", 0);
    for (size_t i = 0; l && i < l->len; i++) {
        const jmem *m = &l->mem[i];
        if (i)
            sb_put(&b, " ", 1);
        sb_put(&b, m->key, m->klen);
        sb_put(&b, "=", 1);
        if (m->val.t == J_STR)
            sb_put(&b, m->val.s, m->val.len);
        else
            sb_str(&b, jv_text(&m->val, num, sizeof num));
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- aligned tables ------------------------------------------------------ */

#define GRID_MAXCOLS 6

typedef struct grid_row {
    char *cell[GRID_MAXCOLS];
    int span; /* one line of its own, outside the columns */
} grid_row;

typedef struct grid {
    int ncols;
    unsigned right; /* bit c: column c right-aligned */
    grid_row *row;
    size_t n, cap;
    int oom;
} grid;

/* Adds a row of g->ncols cells, or (span) one line of text. */
static void grid_add(grid *g, int span, const char *const *cells)
{
    if (g->oom)
        return;
    if (g->n == g->cap) {
        grid_row *r = grow(g->row, &g->cap, sizeof *r);
        if (!r) {
            g->oom = 1;
            return;
        }
        g->row = r;
    }
    grid_row *r = &g->row[g->n++];
    memset(r, 0, sizeof *r);
    r->span = span;
    for (int c = 0; c < (span ? 1 : g->ncols); c++)
        if (!(r->cell[c] = strdup(cells[c] ? cells[c] : "")))
            g->oom = 1;
}

static void grid_free(grid *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (int c = 0; c < GRID_MAXCOLS; c++)
            free(g->row[i].cell[c]);
    free(g->row);
    memset(g, 0, sizeof *g);
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
    const unsigned char *p = (const unsigned char *)s;
    for (; *p; p++) {
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            fputc('?', f);
            p++;
        } else {
            fputc(*p < 0x20 || *p == 0x7F ? '?' : *p, f);
        }
    }
}

static void grid_print(FILE *f, const grid *g)
{
    size_t w[GRID_MAXCOLS] = {0};

    for (size_t i = 0; i < g->n; i++)
        for (int c = 0; c < g->ncols && !g->row[i].span; c++) {
            size_t cw = text_width(g->row[i].cell[c]);
            w[c] = cw > w[c] ? cw : w[c];
        }
    for (size_t i = 0; i < g->n; i++) {
        const grid_row *r = &g->row[i];
        if (r->span) {
            put_safe(f, r->cell[0]);
            fputc('\n', f);
            continue;
        }
        for (int c = 0; c < g->ncols; c++) {
            size_t pad = w[c] - text_width(r->cell[c]);
            int right = (g->right >> c) & 1, last = c + 1 == g->ncols;
            if (c)
                fputs("  ", f);
            for (size_t k = 0; right && k < pad; k++)
                fputc(' ', f);
            put_safe(f, r->cell[c]);
            for (size_t k = 0; !right && !last && k < pad; k++)
                fputc(' ', f);
        }
        fputc('\n', f);
    }
}

/* ---- one run ------------------------------------------------------------- */

typedef struct cmp_run {
    const char *path;
    jv root;
    const jv *meta, *machine, *options, *results;
    const char *subcommand;
} cmp_run;

CMP_PRINTF(2, 3)
static int cmp_bad(const cmp_run *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bpbench compare: %s: ", r->path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static int read_all(const char *path, char **out, size_t *outn,
                    char *err, size_t errn)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        snprintf(err, errn, "%s", strerror(errno));
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > CMP_MAX_FILE) {
                snprintf(err, errn, "larger than %zu MiB",
                         CMP_MAX_FILE >> 20);
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            ncap = ncap > CMP_MAX_FILE + 1 ? CMP_MAX_FILE + 1 : ncap;
            char *p = realloc(buf, ncap);
            if (!p) {
                snprintf(err, errn, "out of memory");
                break;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errn, "%s", strerror(errno));
                break;
            }
            fclose(f);
            *out = buf;
            *outn = n;
            return 0;
        }
    }
    fclose(f);
    free(buf);
    return -1;
}

/* Checks that the members of object o hold numbers (or null); i, where
 * and kind name o in a message. */
static int cmp_check_nums(const cmp_run *r, const jv *o, size_t i,
                          const char *where, const char *kind)
{
    char k[48];
    for (size_t m = 0; m < o->len; m++) {
        jtype t = o->mem[m].val.t;
        if (t != J_NUM && t != J_NULL)
            return cmp_bad(r, "results[%zu].%s%s%s.%s is not a number", i,
                           where, kind ? "." : "", kind ? kind : "",
                           clip(o->mem[m].key, o->mem[m].klen, k, sizeof k));
    }
    return 0;
}

static int cmp_check_result(const cmp_run *r, size_t i, const jv *res)
{
    const jv *t, *l, *m, *lat;
    char k[48];

    if (res->t != J_OBJ)
        return cmp_bad(r, "results[%zu] is not an object", i);
    t = jv_get(res, "table");
    if (!t || t->t != J_STR)
        return cmp_bad(r, "results[%zu] has no \"table\" string", i);
    l = jv_get(res, "labels");
    if (l && l->t != J_OBJ)
        return cmp_bad(r, "results[%zu].labels is not an object", i);
    for (size_t n = 0; l && n < l->len; n++) {
        jtype lt = l->mem[n].val.t;
        if (lt != J_STR && lt != J_NUM && lt != J_NULL)
            return cmp_bad(r, "results[%zu].labels.%s is not a string or "
                              "a number", i,
                           clip(l->mem[n].key, l->mem[n].klen, k, sizeof k));
    }
    m = jv_get(res, "metrics");
    if (m && m->t != J_OBJ)
        return cmp_bad(r, "results[%zu].metrics is not an object", i);
    if (m && cmp_check_nums(r, m, i, "metrics", NULL))
        return -1;
    lat = jv_get(res, "latency_ns");
    if (lat && lat->t != J_OBJ)
        return cmp_bad(r, "results[%zu].latency_ns is not an object", i);
    for (size_t n = 0; lat && n < lat->len; n++) {
        const jmem *e = &lat->mem[n];
        clip(e->key, e->klen, k, sizeof k);
        if (e->val.t != J_OBJ)
            return cmp_bad(r, "results[%zu].latency_ns.%s is not an object",
                           i, k);
        if (cmp_check_nums(r, &e->val, i, "latency_ns", k))
            return -1;
    }
    return 0;
}

/* Reads and checks one bpbench/1 file; on error a message on stderr.  The
 * caller frees r->root in any case. */
static int cmp_load(cmp_run *r, const char *path)
{
    char *buf, err[200];
    size_t n;
    const jv *s, *sub;

    r->path = path;
    if (read_all(path, &buf, &n, err, sizeof err))
        return cmp_bad(r, "%s", err);
    int rc = jp_parse(buf, n, &r->root, err, sizeof err);
    free(buf);
    if (rc)
        return cmp_bad(r, "%s", err);
    if (r->root.t != J_OBJ)
        return cmp_bad(r, "not a %s file: the top level is not an object",
                       CMP_SCHEMA);
    s = jv_get(&r->root, "schema");
    if (!s)
        return cmp_bad(r, "not a %s file: no \"schema\"", CMP_SCHEMA);
    if (s->t != J_STR)
        return cmp_bad(r, "not a %s file: \"schema\" is not a string",
                       CMP_SCHEMA);
    if (strlen(s->s) != s->len || strcmp(s->s, CMP_SCHEMA) != 0)
        return cmp_bad(r, "schema is \"%s\", not \"%s\"",
                       clip(s->s, s->len, err, sizeof err), CMP_SCHEMA);
    r->meta = jv_get(&r->root, "bpbench");
    if (!r->meta || r->meta->t != J_OBJ)
        return cmp_bad(r, "no \"bpbench\" object");
    sub = jv_get(r->meta, "subcommand");
    if (!sub || sub->t != J_STR)
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
        if (cmp_check_result(r, i, &r->results->item[i]))
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

/* B/A as "1.23x"; "-" when there is none. */
static const char *fmt_ratio(char *b, size_t n, const cmp_line *l)
{
    double r = 0;

    if (!line_ratio(l, &r))
        snprintf(b, n, "-");
    else if (r >= 1e6 || r <= -1e6)
        snprintf(b, n, "%.3gx", r);
    else
        snprintf(b, n, "%.2fx", r);
    return b;
}

/* An option whose value differs (a or b NULL: not set in that run). */
typedef struct cmp_opt {
    const jmem *m;
    const jv *a, *b;
} cmp_opt;

typedef struct cmp {
    cmp_run A, B;
    const char **want; /* --metric names */
    unsigned char *want_hit;
    size_t nwant;
    cmp_line *line;
    size_t nline, cap, nboth; /* line[0, nboth): results in both */
    const jv **only_a, **only_b;
    size_t nonly_a, nonly_b;
    cmp_opt *opt;
    size_t nopt, optcap;
    int oom;
} cmp;

/* Whether a line named name (of latency kind, or NULL) is asked for. */
static int cmp_wanted(cmp *c, const char *name, const char *kind)
{
    int hit = c->nwant == 0;
    for (size_t i = 0; i < c->nwant; i++)
        if (strcmp(c->want[i], name) == 0 ||
            (kind && strcmp(c->want[i], kind) == 0)) {
            c->want_hit[i] = 1;
            hit = 1;
        }
    return hit;
}

static void cmp_push(cmp *c, const jv *ra, const jv *rb, const char *metric,
                     const jv *va, const jv *vb)
{
    if (c->oom)
        return;
    if (c->nline == c->cap) {
        cmp_line *l = grow(c->line, &c->cap, sizeof *l);
        if (!l) {
            c->oom = 1;
            return;
        }
        c->line = l;
    }
    cmp_line *l = &c->line[c->nline];
    memset(l, 0, sizeof *l);
    l->ra = ra;
    l->rb = rb;
    l->has_a = jv_number(va, &l->a);
    l->has_b = jv_number(vb, &l->b);
    if (!(l->metric = strdup(metric)))
        c->oom = 1;
    else
        c->nline++;
}

/* Lines for the metrics of ra and rb: A's names in order, then B's that A
 * lacks. */
static void cmp_metric_lines(cmp *c, const jv *ra, const jv *rb)
{
    const jv *ma = jv_get(ra, "metrics"), *mb = jv_get(rb, "metrics");

    for (int side = 0; side < 2; side++) {
        const jv *m = side ? mb : ma;
        for (size_t i = 0; m && i < m->len; i++) {
            const jmem *e = &m->mem[i];
            if (side && jv_getn(ma, e->key, e->klen))
                continue;
            if (!cmp_wanted(c, e->key, NULL))
                continue;
            cmp_push(c, ra, rb, e->key, jv_getn(ma, e->key, e->klen),
                     jv_getn(mb, e->key, e->klen));
        }
    }
}

/* Lines for the latency kinds of ra and rb: four percentiles each. */
static void cmp_latency_lines(cmp *c, const jv *ra, const jv *rb)
{
    static const char *const stat[] = {"p50", "p99", "p999", "max"};
    const jv *la = jv_get(ra, "latency_ns"), *lb = jv_get(rb, "latency_ns");

    for (int side = 0; side < 2; side++) {
        const jv *l = side ? lb : la;
        for (size_t i = 0; l && i < l->len; i++) {
            const jmem *e = &l->mem[i];
            const jv *ka = jv_getn(la, e->key, e->klen);
            const jv *kb = jv_getn(lb, e->key, e->klen);
            if (side && ka)
                continue;
            for (int s = 0; s < 4; s++) {
                sbuf name = {0};
                sb_str(&name, e->key);
                sb_put(&name, "_", 1);
                sb_str(&name, stat[s]);
                sb_put(&name, "_ns", 3);
                if (name.oom)
                    c->oom = 1;
                else if (cmp_wanted(c, name.s, e->key))
                    cmp_push(c, ra, rb, name.s, jv_get(ka, stat[s]),
                             jv_get(kb, stat[s]));
                free(name.s);
            }
        }
    }
}

static int labels_equal(const jv *a, const jv *b)
{
    size_t na = a ? a->len : 0, nb = b ? b->len : 0;
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        const jv *o = jv_getn(b, a->mem[i].key, a->mem[i].klen);
        if (!o || !jv_equal(&a->mem[i].val, o))
            return 0;
    }
    return 1;
}

static int same_result(const jv *ra, const jv *rb)
{
    return jv_equal(jv_get(ra, "table"), jv_get(rb, "table")) &&
           labels_equal(jv_get(ra, "labels"), jv_get(rb, "labels"));
}

static void cmp_option(cmp *c, const jmem *m, const jv *a, const jv *b)
{
    if (a && b && jv_equal(a, b))
        return;
    if (c->nopt == c->optcap) {
        cmp_opt *o = grow(c->opt, &c->optcap, sizeof *o);
        if (!o) {
            c->oom = 1;
            return;
        }
        c->opt = o;
    }
    c->opt[c->nopt++] = (cmp_opt){m, a, b};
}

/* Matches the results, builds the lines and the options that differ. */
static int cmp_build(cmp *c)
{
    const jv *ra = c->A.results, *rb = c->B.results;
    const jv *oa = c->A.options, *ob = c->B.options;
    unsigned char *used = calloc(rb->len + 1, 1);

    c->only_a = calloc(ra->len + 1, sizeof *c->only_a);
    c->only_b = calloc(rb->len + 1, sizeof *c->only_b);
    if (!used || !c->only_a || !c->only_b) {
        free(used);
        return -1;
    }
    for (size_t i = 0; i < ra->len; i++) {
        size_t k = 0;
        while (k < rb->len && (used[k] || !same_result(&ra->item[i],
                                                       &rb->item[k])))
            k++;
        if (k == rb->len) {
            c->only_a[c->nonly_a++] = &ra->item[i];
            continue;
        }
        used[k] = 1;
        cmp_metric_lines(c, &ra->item[i], &rb->item[k]);
        cmp_latency_lines(c, &ra->item[i], &rb->item[k]);
    }
    c->nboth = c->nline;
    for (size_t k = 0; k < rb->len; k++)
        if (!used[k])
            c->only_b[c->nonly_b++] = &rb->item[k];
    free(used);
    for (size_t i = 0; i < c->nonly_a; i++) {
        cmp_metric_lines(c, c->only_a[i], NULL);
        cmp_latency_lines(c, c->only_a[i], NULL);
    }
    for (size_t i = 0; i < c->nonly_b; i++) {
        cmp_metric_lines(c, NULL, c->only_b[i]);
        cmp_latency_lines(c, NULL, c->only_b[i]);
    }
    for (size_t i = 0; oa && i < oa->len; i++)
        cmp_option(c, &oa->mem[i], &oa->mem[i].val,
                   jv_getn(ob, oa->mem[i].key, oa->mem[i].klen));
    for (size_t i = 0; ob && i < ob->len; i++)
        if (!jv_getn(oa, ob->mem[i].key, ob->mem[i].klen))
            cmp_option(c, &ob->mem[i], NULL, &ob->mem[i].val);
    return c->oom ? -1 : 0;
}

/* ---- printing ------------------------------------------------------------ */

static void head_row(grid *g, const char *what, const jv *a, const jv *b)
{
    char ba[40], bb[40];
    const char *cells[3] = {what, jv_text(a, ba, sizeof ba),
                            jv_text(b, bb, sizeof bb)};
    grid_add(g, 0, cells);
}

static const char *mem_text(const jv *v, char *b, size_t n)
{
    if (v && v->t == J_NUM) {
        snprintf(b, n, "%.1f GiB", v->num / 1073741824.0);
        return b;
    }
    return jv_text(v, b, n);
}

static int cmp_print_head(const cmp *c, FILE *f)
{
    static const char *const meta[] = {"subcommand", "version", "started",
                                       "seconds"};
    static const char *const mach[] = {"kernel", "cpu", "cores"};
    const cmp_run *A = &c->A, *B = &c->B;
    grid g = {.ncols = 3};
    char ba[40], bb[40];
    int rc;

    grid_add(&g, 0, (const char *const[]){"", "A", "B"});
    grid_add(&g, 0, (const char *const[]){"file", A->path, B->path});
    for (size_t i = 0; i < sizeof meta / sizeof *meta; i++)
        head_row(&g, meta[i], jv_get(A->meta, meta[i]),
                 jv_get(B->meta, meta[i]));
    for (size_t i = 0; i < sizeof mach / sizeof *mach; i++)
        head_row(&g, mach[i], jv_get(A->machine, mach[i]),
                 jv_get(B->machine, mach[i]));
    grid_add(&g, 0, (const char *const[]){
        "memory", mem_text(jv_get(A->machine, "memory_bytes"), ba, sizeof ba),
        mem_text(jv_get(B->machine, "memory_bytes"), bb, sizeof bb)});
    head_row(&g, "hostname", jv_get(A->machine, "hostname"),
             jv_get(B->machine, "hostname"));
    if (c->nopt == 0) {
        grid_add(&g, 1, (const char *const[]){"options: the same in both"});
    } else {
        grid_add(&g, 1, (const char *const[]){"options that differ:"});
        for (size_t i = 0; i < c->nopt; i++) {
            sbuf name = {0};
            sb_str(&name, "  ");
            sb_put(&name, c->opt[i].m->key, c->opt[i].m->klen);
            if (name.oom)
                g.oom = 1;
            else
                head_row(&g, name.s, c->opt[i].a, c->opt[i].b);
            free(name.s);
        }
    }
    rc = g.oom ? -1 : 0;
    if (rc == 0)
        grid_print(f, &g);
    grid_free(&g);
    return rc;
}

static void line_cells(const cmp_line *l, grid *g)
{
    char a[40], b[40], r[40];
    const jv *res = l->ra ? l->ra : l->rb;
    char *labels = labels_text(jv_get(res, "labels"));

    if (!labels) {
        g->oom = 1;
        return;
    }
    grid_add(g, 0, (const char *const[]){
        jv_get(res, "table")->s, labels[0] ? labels : "-", l->metric,
        l->has_a ? fmt_num(a, sizeof a, l->a) : "-",
        l->has_b ? fmt_num(b, sizeof b, l->b) : "-",
        fmt_ratio(r, sizeof r, l)});
    free(labels);
}

static void only_cells(grid *g, const char *which, const jv *res)
{
    char *labels = labels_text(jv_get(res, "labels"));

    if (!labels) {
        g->oom = 1;
        return;
    }
    grid_add(g, 0, (const char *const[]){which, jv_get(res, "table")->s,
                                         labels[0] ? labels : "-"});
    free(labels);
}

static int cmp_print_results(const cmp *c, FILE *f)
{
    grid g = {.ncols = 6, .right = 7u << 3}, o = {.ncols = 3};
    size_t npairs = c->A.results->len - c->nonly_a;
    int rc;

    if (npairs == 0)
        fputs("no result is in both runs\n", f);
    else if (c->nboth == 0)
        fputs("no metric to compare in the results in both runs\n", f);
    grid_add(&g, 0, (const char *const[]){"table", "labels", "metric", "A",
                                          "B", "B/A"});
    for (size_t i = 0; i < c->nboth; i++)
        line_cells(&c->line[i], &g);
    for (size_t i = 0; i < c->nonly_a; i++)
        only_cells(&o, "only in A:", c->only_a[i]);
    for (size_t i = 0; i < c->nonly_b; i++)
        only_cells(&o, "only in B:", c->only_b[i]);
    rc = g.oom || o.oom ? -1 : 0;
    if (rc == 0 && c->nboth)
        grid_print(f, &g);
    if (rc == 0 && o.n) {
        if (c->nboth)
            fputc('\n', f);
        grid_print(f, &o);
    }
    grid_free(&g);
    grid_free(&o);
    return rc;
}

/* ---- files --------------------------------------------------------------- */

static int cmp_close(FILE *f, const char *path)
{
    int bad = ferror(f), rc = fclose(f);
    if (bad || rc) {
        fprintf(stderr, "bpbench compare: %s: %s\n", path,
                strerror(bad ? EIO : errno));
        return -1;
    }
    return 0;
}

static FILE *cmp_create(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "bpbench compare: %s: %s\n", path, strerror(errno));
    return f;
}

static int cmp_write_csv(const cmp *c, const char *path)
{
    FILE *f = cmp_create(path);

    if (!f)
        return -1;
    fputs("table,labels,metric,a,b,b_over_a\n", f);
    for (size_t i = 0; i < c->nline; i++) {
        const cmp_line *l = &c->line[i];
        const jv *res = l->ra ? l->ra : l->rb;
        char *labels = labels_text(jv_get(res, "labels"));
        double r = 0;
        int has_r;
        if (!labels) {
            fclose(f);
            fprintf(stderr, "bpbench compare: out of memory\n");
            return -1;
        }
        bo_csv_field(f, jv_get(res, "table")->s);
        fputc(',', f);
        bo_csv_field(f, labels);
        fputc(',', f);
        bo_csv_field(f, l->metric);
        csv_num(f, l->has_a, l->a);
        csv_num(f, l->has_b, l->b);
        has_r = line_ratio(l, &r);
        csv_num(f, has_r, r);
        fputc('\n', f);
        free(labels);
    }
    return cmp_close(f, path);
}

static void json_run(FILE *f, const char *name, const cmp_run *r)
{
    fprintf(f, " \"%s\": {\"file\": ", name);
    json_cstr(f, r->path);
    fputs(", \"subcommand\": ", f);
    json_cstr(f, r->subcommand);
    fputs(", \"started\": ", f);
    json_val(f, jv_get(r->meta, "started"));
    fputs("},\n", f);
}

static void json_only(FILE *f, const char *name, const jv *const *res,
                      size_t n)
{
    static const jv none = {.t = J_OBJ};
    fprintf(f, " \"%s\": [", name);
    for (size_t i = 0; i < n; i++) {
        const jv *l = jv_get(res[i], "labels");
        fputs(i ? ",\n   {\"table\": " : "\n   {\"table\": ", f);
        json_val(f, jv_get(res[i], "table"));
        fputs(", \"labels\": ", f);
        json_val(f, l ? l : &none);
        fputc('}', f);
    }
    fputc(']', f);
}

static int cmp_write_json(const cmp *c, const char *path)
{
    static const jv none = {.t = J_OBJ};
    FILE *f = cmp_create(path);

    if (!f)
        return -1;
    fputs("{\"schema\": \"bpbench-compare/1\",\n", f);
    json_run(f, "a", &c->A);
    json_run(f, "b", &c->B);
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
        const jv *res = l->ra ? l->ra : l->rb, *lab = jv_get(res, "labels");
        double r = 0;
        int has_r;
        fputs(i ? ",\n   {\"table\": " : "\n   {\"table\": ", f);
        json_val(f, jv_get(res, "table"));
        fputs(", \"labels\": ", f);
        json_val(f, lab ? lab : &none);
        fputs(", \"metric\": ", f);
        json_cstr(f, l->metric);
        fputs(", \"a\": ", f);
        json_num(f, l->has_a, l->a);
        fputs(", \"b\": ", f);
        json_num(f, l->has_b, l->b);
        fputs(", \"b_over_a\": ", f);
        has_r = line_ratio(l, &r);
        json_num(f, has_r, r);
        fputc('}', f);
    }
    fputs("],\n", f);
    json_only(f, "only_in_a", c->only_a, c->nonly_a);
    fputs(",\n", f);
    json_only(f, "only_in_b", c->only_b, c->nonly_b);
    fputs("}\n", f);
    return cmp_close(f, path);
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

static void cmp_free(cmp *c)
{
    for (size_t i = 0; i < c->nline; i++)
        free(c->line[i].metric);
    free(c->line);
    free(c->only_a);
    free(c->only_b);
    free(c->opt);
    free(c->want);
    free(c->want_hit);
    jv_free(&c->A.root);
    jv_free(&c->B.root);
}

static int cmp_run_all(cmp *c, const char *const files[2], int force,
                       const char *csv, const char *json)
{
    if (cmp_load(&c->A, files[0]) || cmp_load(&c->B, files[1]))
        return 1;
    if (strcmp(c->A.subcommand, c->B.subcommand) != 0 && !force) {
        char a[48], b[48];
        fprintf(stderr, "bpbench compare: %s ran '%s', %s ran '%s': "
                        "not the same subcommand (--force compares them "
                        "anyway)\n",
                c->A.path, clip(c->A.subcommand, strlen(c->A.subcommand),
                                a, sizeof a),
                c->B.path, clip(c->B.subcommand, strlen(c->B.subcommand),
                                b, sizeof b));
        return 1;
    }
    if (cmp_build(c) || cmp_print_head(c, stdout)) {
        fprintf(stderr, "bpbench compare: out of memory\n");
        return 1;
    }
    fputc('\n', stdout);
    if (cmp_print_results(c, stdout)) {
        fprintf(stderr, "bpbench compare: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < c->nwant; i++)
        if (!c->want_hit[i])
            fprintf(stderr, "bpbench compare: no metric or latency kind "
                            "'%s' in either run\n", c->want[i]);
    fflush(stdout);
    if (csv && cmp_write_csv(c, csv))
        return 1;
    if (json && cmp_write_json(c, json))
        return 1;
    return 0;
}

int bench_compare_main(int argc, char **argv)
{
    cmp c;
    const char *files[2] = {NULL, NULL}, *csv = NULL, *json = NULL;
    int nfiles = 0, force = 0, opts = 1, rc;

    memset(&c, 0, sizeof c);
    c.want = calloc((size_t)(argc > 0 ? argc : 1), sizeof *c.want);
    c.want_hit = calloc((size_t)(argc > 0 ? argc : 1), 1);
    if (!c.want || !c.want_hit) {
        fprintf(stderr, "bpbench compare: out of memory\n");
        cmp_free(&c);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (opts && a[0] == '-' && a[1]) {
            if (strcmp(a, "--") == 0) {
                opts = 0;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                cmp_free(&c);
                return cmp_usage(stdout, 0);
            } else if (strcmp(a, "--force") == 0) {
                force = 1;
            } else if (strcmp(a, "--metric") == 0 && v) {
                c.want[c.nwant++] = v;
                i++;
            } else if (strcmp(a, "--csv") == 0 && v) {
                csv = v;
                i++;
            } else if (strcmp(a, "--json") == 0 && v) {
                json = v;
                i++;
            } else {
                fprintf(stderr, "bpbench compare: %s '%s'\n",
                        strcmp(a, "--metric") && strcmp(a, "--csv") &&
                                strcmp(a, "--json")
                            ? "unknown option"
                            : "a value is needed after",
                        a);
                cmp_free(&c);
                return cmp_usage(stderr, 2);
            }
        } else if (nfiles == 2) {
            fprintf(stderr, "bpbench compare: more than two files ('%s')\n",
                    a);
            cmp_free(&c);
            return cmp_usage(stderr, 2);
        } else {
            files[nfiles++] = a;
        }
    }
    if (nfiles != 2) {
        fprintf(stderr, "bpbench compare: two files expected\n");
        cmp_free(&c);
        return cmp_usage(stderr, 2);
    }
    rc = cmp_run_all(&c, files, force, csv, json);
    cmp_free(&c);
    return rc;
}
