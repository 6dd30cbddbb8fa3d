/*
 * log.c - rcached's log lines, in Redis's format so operators' habits and
 * tools carry over: "pid:M 21 Nov 2026 05:30:01.123 * message", with the
 * level shown as '.' debug, '-' verbose, '*' notice, '#' warning.
 *
 * The level is the one process-wide setting here (every thread logs and
 * CONFIG SET loglevel changes it), so it is an atomic; each line is written
 * with a single fprintf, which stdio serialises between threads. Reopening
 * after log rotation (SIGHUP) swaps the file descriptor under the FILE
 * with dup2(), which is atomic, so no thread ever sees a closed stream.
 */
#include "config.h"
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = RCACHE__LOG_NOTICE;
static FILE *_Atomic log_file;

void rcache__log_set_level(int level) { atomic_store(&log_level, level); }
int rcache__log_level(void) { return atomic_load(&log_level); }

int rcache__log_open(const char *path) {
    if (!path || !path[0]) {
        atomic_store(&log_file, NULL);
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    atomic_store(&log_file, f);
    return 0;
}

int rcache__log_reopen(const char *path) {
    FILE *f = atomic_load(&log_file);
    if (!f || !path || !path[0])
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    fflush(f);
    int rc = dup2(fd, fileno(f));
    close(fd);
    return rc < 0 ? -1 : 0;
}

void rcache__log(int level, const char *fmt, ...) {
    static const char marks[] = ".-*#";
    if (level < atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    size_t n = strftime(ts, sizeof ts, "%d %b %Y %H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03d", (int)(tv.tv_usec / 1000));
    FILE *f = atomic_load(&log_file);
    if (!f)
        f = stderr;
    fprintf(f, "%d:M %s %c %s\n", (int)getpid(), ts,
            marks[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}
