/*
 * slow_flush.so: an LD_PRELOAD shim for benches that makes every fsync and
 * fdatasync of the process take FLUSH_DELAY_US microseconds longer, as on a
 * disk whose cache flush is slow (a network-attached cloud disk: an Azure
 * managed disk, which an AKS PersistentVolume is, flushes in about a
 * millisecond; the VM this project is built on flushes in ~0.1 ms).
 *
 * The delay is a sleep after the real call returns, so it costs the caller
 * time, not CPU, as a device wait does. Each process counts its flushes and,
 * when FLUSH_COUNT_FILE is set, appends "flushes=N" to that file at exit.
 *
 *   cc -O2 -shared -fPIC -o slow_flush.so benches/slow_flush.c -ldl
 *   FLUSH_DELAY_US=1000 LD_PRELOAD=$PWD/slow_flush.so chartpilot serve
 *
 * Used by benches/ingest_embedded.sh (BENCH_FLUSH_DELAY_US). Never used by
 * the service or the tests.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_long delay_ns = -1;
static atomic_ulong flushes;

static void wait_for_the_device(void) {
    long ns = atomic_load(&delay_ns);
    if (ns < 0) {
        const char *us = getenv("FLUSH_DELAY_US");
        ns = us ? atol(us) * 1000L : 0;
        if (ns < 0) ns = 0;
        atomic_store(&delay_ns, ns);
    }
    atomic_fetch_add(&flushes, 1);
    if (ns == 0) return;
    struct timespec left = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
}

typedef int (*flush_fn)(int);

static int call_real(const char *name, flush_fn *slot, int fd) {
    flush_fn real = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!real) {
        real = (flush_fn)dlsym(RTLD_NEXT, name);
        if (!real) {
            errno = ENOSYS;
            return -1;
        }
        __atomic_store_n(slot, real, __ATOMIC_RELEASE);
    }
    int rc = real(fd);
    int saved = errno;
    wait_for_the_device();
    errno = saved;
    return rc;
}

int fsync(int fd) {
    static flush_fn real;
    return call_real("fsync", &real, fd);
}

int fdatasync(int fd) {
    static flush_fn real;
    return call_real("fdatasync", &real, fd);
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("FLUSH_COUNT_FILE");
    if (!path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "flushes=%lu\n", atomic_load(&flushes));
    fclose(f);
}
