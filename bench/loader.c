/*
 * loader.c - rcache-loader: bulk-loads N keys into a server over one
 * pipelined TCP connection, speaking RESP (redis-server, rcached) or the
 * memcached text protocol, and checks every reply.
 *
 * compare.sh uses it to put the same 1M keys (14-byte keys, 100-byte
 * values by default) into each server before reading their memory figures;
 * redis-benchmark cannot talk to memcached, and memcached's own tools do not
 * pipeline.  Keys are "k" + zero-padded decimal index, as in
 * `rcache-bench micro`.
 *
 * usage: rcache-loader --port P [--host H] [--proto resp|memcache]
 *                      [--keys N] [--key-size B] [--value-size B] [--batch N]
 * Exit status 0 only if every command got its success reply.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0) {
        fprintf(stderr, "rcache-loader: %s:%s: %s\n", host, port, gai_strerror(e));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "rcache-loader: cannot connect to %s:%s: %s\n", host, port,
                strerror(errno));
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until `want` reply lines have arrived; each must be `ok` exactly. */
static int read_replies(int fd, size_t want, const char *ok, char *buf, size_t cap,
                        size_t *carry)
{
    size_t have = *carry, got = 0, oklen = strlen(ok);
    while (got < want) {
        char *nl;
        while (got < want && (nl = memchr(buf, '\n', have)) != NULL) {
            size_t ln = (size_t)(nl - buf) + 1;
            if (ln != oklen || memcmp(buf, ok, oklen) != 0) {
                fprintf(stderr, "rcache-loader: unexpected reply: %.*s\n", (int)ln, buf);
                return -1;
            }
            memmove(buf, buf + ln, have - ln);
            have -= ln;
            got++;
        }
        if (got == want)
            break;
        if (have == cap) {
            fprintf(stderr, "rcache-loader: reply line too long\n");
            return -1;
        }
        ssize_t r = read(fd, buf + have, cap - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "rcache-loader: connection closed after %zu of %zu replies\n",
                    got, want);
            return -1;
        }
        have += (size_t)r;
    }
    *carry = have;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'}, {"port", required_argument, 0, 'p'},
        {"proto", required_argument, 0, 'P'}, {"keys", required_argument, 0, 'n'},
        {"key-size", required_argument, 0, 'k'}, {"value-size", required_argument, 0, 'v'},
        {"batch", required_argument, 0, 'b'}, {0, 0, 0, 0}};
    const char *host = "127.0.0.1", *port = NULL;
    int memcache = 0;
    unsigned long long keys = 1000000;
    size_t ks = 14, vs = 100, batch = 1000;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'H': host = optarg; break;
        case 'p': port = optarg; break;
        case 'P':
            if (strcmp(optarg, "memcache") == 0)
                memcache = 1;
            else if (strcmp(optarg, "resp") != 0)
                port = NULL, keys = 0;
            break;
        case 'n': keys = strtoull(optarg, NULL, 10); break;
        case 'k': ks = strtoul(optarg, NULL, 10); break;
        case 'v': vs = strtoul(optarg, NULL, 10); break;
        case 'b': batch = strtoul(optarg, NULL, 10); break;
        default: port = NULL; break;
        }
    }
    if (!port || keys == 0 || ks < 8 || ks > 200 || vs > (1u << 20) || batch == 0 ||
        batch > 100000) {
        fprintf(stderr, "usage: rcache-loader --port P [--host H] [--proto resp|memcache] "
                        "[--keys N] [--key-size B] [--value-size B] [--batch N]\n");
        return 2;
    }
    int fd = connect_to(host, port);
    if (fd < 0)
        return 1;

    int rc = 1;
    char *val = malloc(vs + 1);
    size_t cmd_max = ks + vs + 128;
    char *out = malloc(cmd_max * batch);
    size_t rcap = 1 << 16, carry = 0;
    char *rbuf = malloc(rcap);
    if (!val || !out || !rbuf) {
        fprintf(stderr, "rcache-loader: out of memory\n");
        goto done;
    }
    memset(val, 'v', vs);
    val[vs] = '\0';

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long long i = 0; i < keys;) {
        size_t n = 0, cmds = 0;
        for (; cmds < batch && i < keys; cmds++, i++) {
            char key[256], tmp[256];
            snprintf(tmp, sizeof tmp, "%0*llu", (int)ks, i);
            memcpy(key, tmp + strlen(tmp) - ks, ks);
            key[0] = 'k';
            key[ks] = '\0';
            if (memcache)
                n += (size_t)sprintf(out + n, "set %s 0 0 %zu\r\n%s\r\n", key, vs, val);
            else
                n += (size_t)sprintf(out + n, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                                     ks, key, vs, val);
        }
        if (write_all(fd, out, n) != 0) {
            fprintf(stderr, "rcache-loader: write failed: %s\n", strerror(errno));
            goto done;
        }
        if (read_replies(fd, cmds, memcache ? "STORED\r\n" : "+OK\r\n", rbuf, rcap, &carry) != 0)
            goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("loaded %llu keys in %.3f s (%.0f sets/s)\n", keys, s, (double)keys / s);
    rc = 0;
done:
    close(fd);
    free(val);
    free(out);
    free(rbuf);
    return rc;
}
