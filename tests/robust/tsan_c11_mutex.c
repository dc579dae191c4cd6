/*
 * For the ThreadSanitizer run only (LD_PRELOAD): glibc's C11 mtx_* call its
 * internal pthread mutex functions directly, past the sanitizer's
 * interceptors, so locks the plugin takes with mtx_lock are invisible to it
 * and every access they protect is reported as a race. These definitions
 * take precedence over glibc's and go through the public pthread functions,
 * which the sanitizer sees. glibc's mtx_t has the layout of a
 * pthread_mutex_t, as its own mtx_* rely on.
 */
#include <pthread.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) >= sizeof(pthread_mutex_t), "mtx_t holds a pthread mutex");

int mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL);
    int rc = pthread_mutex_init((pthread_mutex_t *)m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? thrd_success : thrd_error;
}

int mtx_lock(mtx_t *m)
{
    return pthread_mutex_lock((pthread_mutex_t *)m) == 0 ? thrd_success : thrd_error;
}

int mtx_trylock(mtx_t *m)
{
    return pthread_mutex_trylock((pthread_mutex_t *)m) == 0 ? thrd_success : thrd_busy;
}

int mtx_unlock(mtx_t *m)
{
    return pthread_mutex_unlock((pthread_mutex_t *)m) == 0 ? thrd_success : thrd_error;
}

void mtx_destroy(mtx_t *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

/* call_once likewise (glibc's once_flag is a pthread_once_t). */
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

void call_once(once_flag *flag, void (*func)(void))
{
    pthread_once((pthread_once_t *)flag, func);
}
