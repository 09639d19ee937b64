/* A hash of a short byte string, eight bytes at a time: what logstd/_lintc.c
 * (its table of key layouts) indexes its tables by. Not for anything
 * kept: the values may change with the code. */
#ifndef LOGSTD_WORDHASH_H
#define LOGSTD_WORDHASH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t word_hash(const char *p, Py_ssize_t n, uint64_t seed) {
    uint64_t h = seed ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, (size_t)(n - i));
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

#endif
