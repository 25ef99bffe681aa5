/*
 * bp_env.c - the BUFPOOL_* environment variables: names, valid values,
 * parsing.
 *
 * Owns: the one table of every variable the library reads that takes a
 * value from a list (bufpool.h, "Requirements and environment variables",
 * says what each means and whether it beats the API; BUFPOOL_KMOD_DEVICE,
 * a path, is read where it is used: bp_backend_kmod.c), bp__env_check (bp_open checks all of them
 * before it creates anything) and bp__env_get (a variable's value as an
 * index into its list of valid values).
 *
 * Invariants: a variable that is unset or empty counts as unset; any other
 * value must be one of its list exactly (case matters), else bp_open fails
 * with -EINVAL and a message naming the variable, its value and the valid
 * values: a mistyped override is never silently ignored.  Nothing is
 * cached: each bp_open reads the environment again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

#define BP__ENV_MAX_VALUES 6

static const struct bp__env_var {
    const char *name;
    const char *values[BP__ENV_MAX_VALUES + 1]; /* NULL-terminated */
} bp__env_vars[BP__ENV_COUNT] = {
    /* the order of each list is the index bp__env_get returns */
    [BP__ENV_BACKEND] = {"BUFPOOL_BACKEND",
                         {"auto", "rfp", "mmap", "copy", "linear", "kmod",
                          NULL}},
    [BP__ENV_IO] = {"BUFPOOL_IO", {"auto", "sync", "uring", "io_uring", NULL}},
    [BP__ENV_IO_STAGE] = {"BUFPOOL_IO_STAGE", {"auto", "off", "on", NULL}},
    [BP__ENV_IO_EARLY] = {"BUFPOOL_IO_EARLY", {"0", "1", NULL}},
    [BP__ENV_IO_HUGEPAGE] = {"BUFPOOL_IO_HUGEPAGE", {"0", "1", NULL}},
    [BP__ENV_IO_REGBUF] = {"BUFPOOL_IO_REGBUF", {"0", "1", NULL}},
    [BP__ENV_REPLACEMENT] = {"BUFPOOL_REPLACEMENT", {"admit", "clock", NULL}},
    [BP__ENV_READER_FENCE] = {"BUFPOOL_READER_FENCE",
                              {"auto", "always", "eager", NULL}},
    [BP__ENV_GUARD] = {"BUFPOOL_GUARD", {"0", "1", NULL}},
};

/* The index of s in v's list, or -1. */
static int bp__env_index(const struct bp__env_var *v, const char *s)
{
    for (int i = 0; v->values[i]; i++)
        if (strcmp(s, v->values[i]) == 0)
            return i;
    return -1;
}

int bp__env_get(enum bp__env which, int dflt)
{
    const struct bp__env_var *v = &bp__env_vars[which];
    const char *s = getenv(v->name);
    int i;

    if (!s || !*s)
        return dflt;
    i = bp__env_index(v, s);
    return i >= 0 ? i : dflt; /* bp__env_check refused it at open */
}

int bp__env_check(bp_pool *p)
{
    for (int k = 0; k < BP__ENV_COUNT; k++) {
        const struct bp__env_var *v = &bp__env_vars[k];
        const char *s = getenv(v->name);
        char valid[64] = "";
        size_t len = 0;

        if (!s || !*s || bp__env_index(v, s) >= 0)
            continue;
        for (int i = 0; v->values[i] && len < sizeof valid; i++)
            len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s",
                                    i ? ", " : "", v->values[i]);
        return bp__fail(p, -EINVAL, "%s=\"%.40s%s\": valid values are %s "
                        "(or unset)", v->name, s, strlen(s) > 40 ? "..." : "",
                        valid);
    }
    return 0;
}
