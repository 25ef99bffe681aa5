/*
 * bp_error.c - return codes, their names, error details, the version, and
 * the allocator hook wrappers.
 *
 * Owns: bp_strerror()'s table (built from BP_ERRNO_MAP in bufpool.h),
 * bp_version(), and the last-error message: one buffer per thread
 * (bp__tls_err), written by bp__fail on the failing thread and read by
 * bp_errmsg on the same thread, so two threads failing at once never see
 * each other's message and no lock is needed.  The buffer says which pool
 * it is about by pointer and by the pool's err_id, a number never given to
 * two handles, so a message about a closed pool never shows for a new one
 * allocated at the same address.
 * Invariants: every library code has exactly one message; the library never
 * prints and never aborts on bad input; only failure paths (and bp_open's
 * start) write the buffer, never fix or unfix.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

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

#define BP__STR_(x) #x
#define BP__STR(x) BP__STR_(x)

const char *bp_version(int *major, int *minor, int *patch)
{
    if (major)
        *major = BUFPOOL_VERSION_MAJOR;
    if (minor)
        *minor = BUFPOOL_VERSION_MINOR;
    if (patch)
        *patch = BUFPOOL_VERSION_PATCH;
    return "libbufpool " BP__STR(BUFPOOL_VERSION_MAJOR) "." BP__STR(
        BUFPOOL_VERSION_MINOR) "." BP__STR(BUFPOOL_VERSION_PATCH);
}

/* The calling thread's last failure.  The default TLS model, not
 * BP__TLS's initial-exec: the buffer is touched only on failures, and a
 * shared library loaded by dlopen should not take 500 bytes of the
 * static TLS surplus. */
static _Thread_local struct {
    const bp_pool *pool; /* NULL: a call without a pool (bp_create) */
    uint64_t id;         /* pool->err_id when written */
    unsigned seq;        /* failures recorded (bp__err_mark) */
    char msg[512];
} bp__tls_err;

static uint64_t bp__err_ids;

uint64_t bp__err_new_id(void)
{
    return __atomic_add_fetch(&bp__err_ids, 1, __ATOMIC_RELAXED);
}

const char *bp_errmsg(const bp_pool *p)
{
    if (p && (bp__tls_err.pool != p || bp__tls_err.id != p->err_id))
        return ""; /* this thread's last failure was not on p */
    return bp__tls_err.msg;
}

unsigned bp__err_mark(void)
{
    return bp__tls_err.seq;
}

int bp__fail_wrap(bp_pool *p, int rc, unsigned mark, const char *fmt, ...)
{
    char head[160], inner[sizeof bp__tls_err.msg] = "";
    va_list ap;

    if (bp__tls_err.seq != mark && bp__tls_err.pool == p &&
        bp__tls_err.id == (p ? p->err_id : 0))
        memcpy(inner, bp__tls_err.msg, sizeof inner);
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    return inner[0] ? bp__fail(p, rc, "%s: %s", head, inner)
                    : bp__fail(p, rc, "%s", head);
}

void bp__errmsg_clear(const bp_pool *p)
{
    bp__tls_err.pool = p;
    bp__tls_err.id = p ? p->err_id : 0;
    bp__tls_err.msg[0] = '\0';
}

int bp__fail(bp_pool *p, int rc, const char *fmt, ...)
{
    va_list ap;

    bp__tls_err.pool = p;
    bp__tls_err.id = p ? p->err_id : 0;
    bp__tls_err.seq++;
    va_start(ap, fmt);
    vsnprintf(bp__tls_err.msg, sizeof bp__tls_err.msg, fmt, ap);
    va_end(ap);
    return rc;
}

int bp__state_error(bp_pool *p, int st)
{
    if (st == BP__POISONED)
        return BP_EPOISONED;
    if (st == BP__FORKED)
        return bp__fail(p, BP_EFORKED, "this pool was opened by the parent "
                        "process before fork(): bp_close it in the child and "
                        "open it again there");
    return bp__fail(p, BP_ESTATE, "pool is not open");
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
    case BP_BACKEND_KMOD:
        return "kmod";
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
