/*
 * bp_fork.c - what fork() does to open pools: the child's copies are
 * marked forked, so that every call on them is refused (BP_EFORKED)
 * instead of acting on a copy of the parent's private state.
 *
 * Owns: the process-wide list of open pools and its lock, and the
 * pthread_atfork handlers.  Invariant: a pool is on the list from the end
 * of a successful bp_open until bp_close takes it off; the list lock is
 * held across fork() (prepare handler), so the child's copy of the list is
 * whole when its handler walks it.
 *
 * Why refuse rather than go on: a child's handle is a copy of process
 * memory (window table, reader slots, locks held by threads that do not
 * exist in the child) describing a window the child shares with its
 * parent.  A fix there would pin frames its parent cannot see and a close
 * there would release the parent's data-file lock.  The child closes the
 * handle (bp_close: private memory and mappings only, nothing shared is
 * touched) and opens the pool again.
 */
#include <pthread.h>

#include "platform/platform.h"

static pthread_mutex_t bp__fork_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t bp__fork_once = PTHREAD_ONCE_INIT;
static bp_pool *bp__fork_head;

static void bp__fork_prepare(void)
{
    pthread_mutex_lock(&bp__fork_lock);
}

static void bp__fork_parent(void)
{
    pthread_mutex_unlock(&bp__fork_lock);
}

/* The child has one thread, this one; every other thread's locks stay as
 * they were copied, so nothing here takes a pool's lock. */
static void bp__fork_child(void)
{
    for (bp_pool *p = bp__fork_head; p; p = p->fork_next) {
        p->forked = 1;
        __atomic_store_n(&p->state, BP__FORKED, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&bp__fork_lock);
}

static void bp__fork_install(void)
{
    (void)pthread_atfork(bp__fork_prepare, bp__fork_parent, bp__fork_child);
}

void bp__fork_register(bp_pool *p)
{
    pthread_once(&bp__fork_once, bp__fork_install);
    pthread_mutex_lock(&bp__fork_lock);
    p->fork_prev = NULL;
    p->fork_next = bp__fork_head;
    if (bp__fork_head)
        bp__fork_head->fork_prev = p;
    bp__fork_head = p;
    pthread_mutex_unlock(&bp__fork_lock);
}

void bp__fork_unregister(bp_pool *p)
{
    pthread_mutex_lock(&bp__fork_lock);
    if (p->fork_prev)
        p->fork_prev->fork_next = p->fork_next;
    else if (bp__fork_head == p)
        bp__fork_head = p->fork_next;
    if (p->fork_next)
        p->fork_next->fork_prev = p->fork_prev;
    p->fork_next = p->fork_prev = NULL;
    pthread_mutex_unlock(&bp__fork_lock);
}
