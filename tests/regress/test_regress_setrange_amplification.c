/*
 * test_regress_setrange_amplification.c - regression test for a memory
 * amplification found while hardening rcached (issue 7): a 30-byte
 * `SETRANGE k 536870000 x` made a server with --maxmemory 64mb allocate
 * and zero-fill a 512 MiB value (VmHWM 515 MiB; ~960 MiB with two clients
 * at once) before the cache refused it as too big, all under a shard lock.
 * src/server/commands_strings.c splice_cb() sizes the new value against
 * the 512 MiB string limit only, not against maxmemory.
 *
 * Why it matters: any client, with one tiny command per worker thread, can
 * push the process hundreds of MiB past the memory bound operators size
 * the host by (SECURITY.md), and stall a shard while 512 MiB is memset.
 *
 * The test starts rcached (path in argv[1]; skipped with 77 if missing or
 * built with a sanitizer) with --maxmemory 64mb (rcached uses one arena),
 * sends a SETRANGE whose result could never fit from two clients at once,
 * and asserts: each gets an error reply, the server still answers, and
 * VmHWM stays within 64 MiB + 16 MiB (the bound of SECURITY.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
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
#define BOUND (64ull * MIB + 16ull * MIB)

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
                  "--maxmemory", "64mb", "--threads", "2", "--loglevel", "warning",
                  (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 1200; i++) { /* up to 30 s on a loaded machine */
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

static void *hostile_client(void *arg) {
    char rep[256];
    const char *cmd = arg;
    if (roundtrip(cmd, rep, sizeof rep) <= 0)
        return (void *)1;
    return rep[0] == '-' ? NULL : (void *)1; /* must be refused */
}

static void test_setrange_past_maxmemory(void **state) {
    (void)state;
    static const char setrange[] =
        "*4\r\n$8\r\nSETRANGE\r\n$1\r\nk\r\n$9\r\n536870000\r\n$1\r\nx\r\n";
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hostile_client, (void *)setrange), 0);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    char rep[64];
    assert_true(roundtrip("PING\r\n", rep, sizeof rep) > 0);
    assert_memory_equal(rep, "+PONG", 5);
    uint64_t hwm = hwm_bytes();
    print_message("VmHWM after SETRANGE at 512 MiB: %.1f MiB (bound %.0f MiB)\n",
                  hwm / (double)MIB, BOUND / (double)MIB);
    assert_true(hwm <= BOUND);
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
        cmocka_unit_test(test_setrange_past_maxmemory),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
