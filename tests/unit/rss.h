/*
 * rss.h - what the tests that read the process's memory share: SANITIZED
 * (defined under ASan or TSan, whose shadow memory makes RSS meaningless:
 * such tests skip or loosen their RSS checks) and rss_bytes(), the
 * resident set from /proc/self/statm (-1 when it cannot be read).
 */
#ifndef RCACHE_TEST_RSS_H
#define RCACHE_TEST_RSS_H

#include <stdio.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

static inline long rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

#endif
