/*
 * bp_error.c - return codes, their names, and per-pool error details.
 *
 * Owns: bp_strerror()'s table (built from BP_ERRNO_MAP in bufpool.h), the
 * pool's last-error message (p->errmsg, written by bp__fail under whatever
 * lock the failing path holds), and the allocator hook wrappers.
 * Invariant: every library code has exactly one message; the library never
 * prints and never aborts on bad input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_internal.h"

const char *bp_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define BP__ERR_CASE(name, val, msg)                                           \
    case name:                                                                 \
        return #name ": " msg;
        BP_ERRNO_MAP(BP__ERR_CASE)
#undef BP__ERR_CASE
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error code";
}

const char *bp_errmsg(const bp_pool *p)
{
    return p ? p->errmsg : "";
}

int bp__fail(bp_pool *p, int rc, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&p->err_lock); /* a leaf lock: any thread may fail */
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&p->err_lock);
    return rc;
}

const char *bp_backend_name(bp_backend b)
{
    switch (b) {
    case BP_BACKEND_AUTO:
        return "auto";
    case BP_BACKEND_RFP:
        return "rfp";
    case BP_BACKEND_MMAP:
        return "mmap";
    case BP_BACKEND_COPY:
        return "copy";
    case BP_BACKEND_LINEAR:
        return "linear";
    }
    return "unknown";
}

static void *bp__libc_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void bp__libc_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

const bp_allocator bp__libc_allocator = {bp__libc_alloc, bp__libc_free, NULL};

void *bp__alloc(bp_pool *p, size_t size)
{
    void *ptr = p->po_alloc.alloc(p->po_alloc.ctx, size);

    if (ptr)
        memset(ptr, 0, size);
    return ptr;
}

void *bp__alloc_lines(bp_pool *p, size_t size, void **raw)
{
    char *r = bp__alloc(p, size + BP__APART);

    *raw = r;
    return r ? r + (BP__APART - (uintptr_t)r % BP__APART) % BP__APART : NULL;
}

void bp__free(bp_pool *p, void *ptr, size_t size)
{
    if (ptr)
        p->po_alloc.free(p->po_alloc.ctx, ptr, size);
}
