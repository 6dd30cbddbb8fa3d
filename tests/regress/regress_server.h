/*
 * regress_server.h - helpers shared by the tests in tests/regress that
 * drive a real rcached: start it on a free loopback port (retrying if the
 * port is taken meanwhile), stop it and check its exit status, send one
 * RESP command per connection and read one line of reply, and read the
 * process's peak RSS (VmHWM) from /proc.
 *
 * Each test is a single translation unit, so the state (binary path, port,
 * pid) lives here as file-static globals.
 */
#ifndef REGRESS_SERVER_H
#define REGRESS_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *g_bin; /* rcached under test (argv[1]) */
static int g_port;        /* its RESP port */
static pid_t g_pid;       /* its process */

static inline int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_port = htons((uint16_t)g_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Send cmd, read one line of reply into out. */
static inline int roundtrip(const char *cmd, char *out, size_t cap) {
    int fd = dial();
    size_t len = 0;
    if (fd < 0)
        return -1;
    if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
        close(fd);
        return -1;
    }
    while (len + 1 < cap) {
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(out, '\n', len))
            break;
    }
    out[len] = '\0';
    close(fd);
    return (int)len;
}

/* The server's peak RSS in bytes (0 if /proc cannot be read). */
static inline uint64_t hwm_bytes(void) {
    char path[64], line[256];
    uint64_t v = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)g_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            v = strtoull(line + 6, NULL, 10) * 1024u;
    fclose(f);
    return v;
}

static inline int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 0;
    close(fd);
    return ntohs(a.sin_port);
}

/*
 * Start g_bin with --maxmemory maxmemory and --threads threads, and wait
 * until it answers PING: up to `polls` polls 25 ms apart per attempt, up to 5
 * attempts (a fresh port each). Returns 0 when up, -1 otherwise.
 */
static inline int regress_server_start(const char *maxmemory, const char *threads, int polls) {
    char port[16], rep[64];
    for (int attempt = 0; attempt < 5; attempt++) {
        g_port = free_port();
        snprintf(port, sizeof port, "%d", g_port);
        g_pid = fork();
        if (g_pid == 0) {
            execl(g_bin, g_bin, "--port", port, "--bind", "127.0.0.1", "--admin-port", "0",
                  "--maxmemory", maxmemory, "--threads", threads, "--loglevel", "warning",
                  (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < polls; i++) {
            if (waitpid(g_pid, NULL, WNOHANG) == g_pid)
                break;
            if (roundtrip("PING\r\n", rep, sizeof rep) > 0 && strncmp(rep, "+PONG", 5) == 0)
                return 0;
            usleep(25000);
        }
        kill(g_pid, SIGKILL);
        waitpid(g_pid, NULL, 0);
    }
    return -1;
}

/* SIGTERM the server; 0 if it exited cleanly with status 0, -1 otherwise. */
static inline int regress_server_stop(void) {
    int st = 0;
    kill(g_pid, SIGTERM);
    waitpid(g_pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/*
 * Check argv[1] names an rcached usable for RSS measurements: returns 0
 * and sets g_bin (and ignores SIGPIPE) if so; otherwise prints why and
 * returns 77 (ctest's SKIP_RETURN_CODE) when it is missing or built with
 * a sanitizer.
 */
static inline int regress_server_init(int argc, char **argv) {
    char cmd[512];
    if (argc < 2 || access(argv[1], X_OK) != 0) {
        printf("rcached not built, skipped\n");
        return 77;
    }
    snprintf(cmd, sizeof cmd, "nm -D '%s' 2>/dev/null | grep -q -E '__(a|t)san_init'", argv[1]);
    if (system(cmd) == 0) {
        printf("rcached built with a sanitizer (RSS meaningless), skipped\n");
        return 77;
    }
    g_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

#endif /* REGRESS_SERVER_H */
