/*
 * test_regress_splice_copies.c - regression test for issue 10 item 9:
 * APPEND and SETRANGE built the whole new value in a malloc'd buffer in
 * the server's update callback, then the library copied it into a new
 * entry, next to the old value, all under the shard lock: two or three
 * transient copies of the value (and repeated APPEND was O(n^2)).
 * src/server/commands_strings.c now hands the write to the library as an
 * RCACHE_UPDATE_SPLICE, which writes the value once, into its entry (in
 * place when nobody else holds the entry).
 *
 * The test starts rcached (path in argv[1]; skipped with 77 if missing or
 * built with a sanitizer) with --maxmemory 256mb and one worker, and
 * watches the process's peak RSS (VmHWM) while one client, with nothing
 * else running:
 *   SETRANGE k 40000000 x   one 40 MB value: before, buffer + entry = 80 MB
 *   APPEND k x              before, old + buffer + new entry = 120 MB;
 *                           now the entry grows in place: ~40 MB
 * Each step must stay within one copy (40 MB) + 16 MiB of the peak before
 * it. The peak is a property of the process, not of timing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define MIB (1024ull * 1024ull)
#define VALUE 40000000ull
#define SLACK (16ull * MIB)

static const char *g_bin;
static int g_port;
static pid_t g_pid;

static int dial(void) {
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
static int roundtrip(const char *cmd, char *out, size_t cap) {
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

static uint64_t hwm_bytes(void) {
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

static int free_port(void) {
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

static int start(void **state) {
    (void)state;
    char port[16], rep[64];
    for (int attempt = 0; attempt < 5; attempt++) {
        g_port = free_port();
        snprintf(port, sizeof port, "%d", g_port);
        g_pid = fork();
        if (g_pid == 0) {
            execl(g_bin, g_bin, "--port", port, "--bind", "127.0.0.1", "--admin-port", "0",
                  "--maxmemory", "256mb", "--threads", "1", "--loglevel", "warning",
                  (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 200; i++) {
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

static int stop(void **state) {
    int st = 0;
    (void)state;
    kill(g_pid, SIGTERM);
    waitpid(g_pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void expect_reply(const char *cmd, const char *want) {
    char rep[256];
    assert_true(roundtrip(cmd, rep, sizeof rep) > 0);
    if (strncmp(rep, want, strlen(want)) != 0)
        fail_msg("%s -> %s (wanted %s)", cmd, rep, want);
}

static void test_splice_writes_value_once(void **state) {
    (void)state;
    expect_reply("PING\r\n", "+PONG");
    uint64_t h0 = hwm_bytes();
    expect_reply("*4\r\n$8\r\nSETRANGE\r\n$1\r\nk\r\n$8\r\n39999999\r\n$1\r\nx\r\n",
                 ":40000000");
    uint64_t h1 = hwm_bytes();
    print_message("VmHWM: start %.1f MiB, after SETRANGE %.1f MiB\n", h0 / (double)MIB,
                  h1 / (double)MIB);
    assert_true(h1 <= h0 + VALUE + SLACK);
    expect_reply("*3\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n$1\r\ny\r\n", ":40000001");
    uint64_t h2 = hwm_bytes();
    print_message("VmHWM after APPEND %.1f MiB (bound %.1f MiB)\n", h2 / (double)MIB,
                  (h1 + SLACK) / (double)MIB);
    assert_true(h2 <= h1 + SLACK);
    expect_reply("*2\r\n$6\r\nSTRLEN\r\n$1\r\nk\r\n", ":40000001");
    expect_reply("*4\r\n$8\r\nGETRANGE\r\n$1\r\nk\r\n$8\r\n39999998\r\n$2\r\n-1\r\n",
                 "$3");
}

int main(int argc, char **argv) {
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splice_writes_value_once),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
