/* bench/common/bench.h - shared helpers for the rcgc benchmark programs.
 *
 * Every benchmark program prints its results as tab-separated lines on stdout:
 *
 *   R <benchmark> <system> <metric> <value> <unit> <params>
 *
 * where params is "key=value,key=value" (the sizes actually used). A program
 * prints results only after its own correctness checks pass; tools/run-bench.sh
 * keeps the lines of a run only if the program exits 0, so a missing or broken
 * piece records nothing instead of a wrong number.
 */
#ifndef RCGC_BENCH_H
#define RCGC_BENCH_H

#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#ifndef BENCH_SYSTEM
#error "BENCH_SYSTEM must name the system under test"
#endif

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: excludes time the thread was descheduled,
 * which on a shared machine is most of the tail of short pauses. */
static inline double bench_thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keep gcc from deleting work on p. */
static inline void bench_sink(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }
#define BENCH_BARRIER() __asm__ volatile("" : : : "memory")

/* Resident set size now, in bytes (from /proc/self/statm). */
static inline size_t bench_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* Peak RSS of the process so far, in KiB. */
static inline long bench_peak_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static char bench_params_buf[512];

/* Set the params string printed with every following result. */
static inline void bench_params(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void bench_params(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bench_params_buf, sizeof bench_params_buf, fmt, ap);
    va_end(ap);
}

static inline void bench_result(const char *benchmark, const char *metric, double value,
                                const char *unit) {
    printf("R\t%s\t%s\t%s\t%.6g\t%s\t%s\n", benchmark, BENCH_SYSTEM, metric, value, unit,
           bench_params_buf[0] ? bench_params_buf : "-");
    fflush(stdout);
}

/* A failed correctness check: say why on stderr and exit 3, so that the run
 * records nothing for this benchmark. */
#define BENCH_CHECK(cond, ...)                                                   \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "CHECK FAILED (%s:%d): %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            exit(3);                                                             \
        }                                                                        \
    } while (0)

/* wyrand (the generator of Rust's fastrand 2.x) and a Lemire bounded draw. */
typedef struct { uint64_t s; } bench_rng_t;
static inline uint64_t bench_rng_u64(bench_rng_t *r) {
    r->s += 0xA0761D6478BD642FULL;
    __uint128_t t = (__uint128_t)r->s * (r->s ^ 0xE7037ED1A0B428DBULL);
    return (uint64_t)t ^ (uint64_t)(t >> 64);
}
/* Uniform in [0, n), n > 0 (Lemire's multiply-shift with rejection). */
static inline uint64_t bench_rng_below(bench_rng_t *r, uint64_t n) {
    uint64_t x = bench_rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = (0 - n) % n;
        while (lo < t) {
            x = bench_rng_u64(r);
            m = (__uint128_t)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
/* Sort v and return the q-quantile (0..1), nearest rank. */
static inline double bench_quantile_sorted(const double *v, size_t n, double q) {
    if (n == 0) return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    if (i >= n) i = n - 1;
    return v[i];
}
static inline void bench_sort(double *v, size_t n) { qsort(v, n, sizeof *v, bench_cmp_double); }

/* Write samples (seconds) in microseconds to
 * $BENCH_SAMPLES_DIR/<benchmark>.<system>.txt for the distribution plots. */
static inline void bench_write_samples(const char *benchmark, const double *samples, size_t n) {
    const char *dir = getenv("BENCH_SAMPLES_DIR");
    if (!dir || !*dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.txt", dir, benchmark, BENCH_SYSTEM);
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (size_t i = 0; i < n; i++) fprintf(f, "%.3f\n", samples[i] * 1e6);
    fclose(f);
}

/* Report min / median / p99 / max of samples (seconds) in microseconds, and
 * write the sorted samples to $BENCH_SAMPLES_DIR/<benchmark>.<system>.txt for
 * the distribution plot. */
static inline void bench_report_pauses(const char *benchmark, double *samples, size_t n,
                                       double *cpu_samples) {
    bench_sort(samples, n);
    bench_result(benchmark, "pause_min", samples[0] * 1e6, "us");
    bench_result(benchmark, "pause_median", bench_quantile_sorted(samples, n, 0.5) * 1e6, "us");
    bench_result(benchmark, "pause_p99", bench_quantile_sorted(samples, n, 0.99) * 1e6, "us");
    bench_result(benchmark, "pause_max", samples[n - 1] * 1e6, "us");
    if (cpu_samples) { /* the same pauses in thread CPU time */
        bench_sort(cpu_samples, n);
        bench_result(benchmark, "pause_cpu_median", bench_quantile_sorted(cpu_samples, n, 0.5) * 1e6, "us");
        bench_result(benchmark, "pause_cpu_p99", bench_quantile_sorted(cpu_samples, n, 0.99) * 1e6, "us");
        bench_result(benchmark, "pause_cpu_max", cpu_samples[n - 1] * 1e6, "us");
    }
    bench_write_samples(benchmark, samples, n);
}

static inline long bench_arg(int argc, char **argv, int i, long dflt) {
    return argc > i ? atol(argv[i]) : dflt;
}

#endif
