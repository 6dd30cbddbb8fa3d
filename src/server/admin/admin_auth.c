/*
 * admin_auth.c - the admin API's bearer token: taken from the options or
 * the environment, or generated at startup from the kernel's random source
 * and written to a file only our user can read (its path is printed, the
 * token never is). Header checks compare in constant time so response
 * timing does not reveal how much of a guess was right.
 */
#include "admin_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int rcache__admin_ct_equal(const void *a, size_t alen, const void *b, size_t blen) {
    const volatile unsigned char *pa = a, *pb = b;
    volatile unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++) {
        unsigned char ca = alen ? pa[i % alen] : 0;
        diff |= (unsigned char)(ca ^ pb[i]);
    }
    return diff == 0;
}

int rcache__admin_auth_check(const rcache__admin_t *a, const char *h) {
    const char *cred;
    size_t len;
    if (!h)
        return 401;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return 401;
    cred = h + 7;
    while (*cred == ' ' || *cred == '\t')
        cred++;
    len = strlen(cred);
    while (len > 0 && (cred[len - 1] == ' ' || cred[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 401;
    return rcache__admin_ct_equal(cred, len, a->token, a->token_len) ? 0 : 403;
}

int rcache__admin_token_default_path(int port, char *out, size_t cap) {
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/rcached-%d.token", xdg, port);
    else
        n = snprintf(out, cap, "/tmp/rcached-%lu-%d.token", (unsigned long)getuid(), port);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int rcache__admin_token_generate(char *hex) {
    unsigned char raw[RCACHE__ADMIN_TOKEN_BYTES];
    size_t got = 0;
    static const char digits[] = "0123456789abcdef";
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof raw) { /* no getrandom (old kernel, seccomp) */
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        got = 0;
        while (got < sizeof raw) {
            ssize_t n = read(fd, raw + got, sizeof raw - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        close(fd);
        if (got < sizeof raw)
            return -1;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[2 * sizeof raw] = '\0';
    memset(raw, 0, sizeof raw);
    return 0;
}

int rcache__admin_token_write(const char *path, const char *token,
                              char *err, size_t errlen) {
    struct stat st;
    size_t len = strlen(token), off = 0;
    int fd;
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode) || st.st_uid != getuid()) {
            snprintf(err, errlen, "token file %s exists and is not a regular file of ours; "
                     "remove it or choose another path", path);
            return -1;
        }
        if (unlink(path) != 0) {
            snprintf(err, errlen, "cannot remove stale token file %s: %s", path, strerror(errno));
            return -1;
        }
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create token file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) != 0) {
        snprintf(err, errlen, "cannot chmod token file %s: %s", path, strerror(errno));
        goto fail;
    }
    while (off <= len) { /* token then "\n" */
        const char *p = off < len ? token + off : "\n";
        size_t n = off < len ? len - off : 1;
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write token file %s: %s", path, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        snprintf(err, errlen, "cannot write token file %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
fail:
    close(fd);
    unlink(path);
    return -1;
}

int rcache__admin_auth_init(rcache__admin_t *a, const rcache__admin_opts_t *o,
                            char *err, size_t errlen) {
    const char *given = (o->token && o->token[0]) ? o->token : getenv(RCACHE__ADMIN_TOKEN_ENV);
    char hex[2 * RCACHE__ADMIN_TOKEN_BYTES + 1];
    char path[4096];

    if (!given || !given[0])
        given = getenv(RCACHE__ADMIN_TOKEN_ENV2);
    if (given && given[0]) {
        for (const char *p = given; *p; p++) {
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
                snprintf(err, errlen, "admin token must be printable ASCII without spaces");
                return -1;
            }
        }
        a->token = strdup(given);
        if (!a->token) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        a->token_len = strlen(a->token);
        return 0;
    }
    if (rcache__admin_token_generate(hex) != 0) {
        snprintf(err, errlen, "cannot read random bytes for the admin token");
        return -1;
    }
    if (o->token_file && o->token_file[0]) {
        if (snprintf(path, sizeof path, "%s", o->token_file) >= (int)sizeof path) {
            snprintf(err, errlen, "token file path too long");
            return -1;
        }
    } else if (rcache__admin_token_default_path(a->port, path, sizeof path) != 0) {
        snprintf(err, errlen, "token file path too long");
        return -1;
    }
    if (rcache__admin_token_write(path, hex, err, errlen) != 0)
        return -1;
    a->token = strdup(hex);
    a->token_file = strdup(path);
    memset(hex, 0, sizeof hex);
    if (!a->token || !a->token_file) {
        unlink(path);
        free(a->token);
        free(a->token_file);
        a->token = a->token_file = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->token_len = strlen(a->token);
    fprintf(stderr, "rcached: admin API token written to %s (mode 0600); send it as "
            "'Authorization: Bearer <token>'\n", path);
    return 0;
}

void rcache__admin_auth_fini(rcache__admin_t *a) {
    if (a->token_file) {
        unlink(a->token_file);
        free(a->token_file);
        a->token_file = NULL;
    }
    if (a->token) {
        memset(a->token, 0, a->token_len);
        free(a->token);
        a->token = NULL;
    }
}
