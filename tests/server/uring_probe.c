/*
 * uring_probe.c - a configure-time check (tests/server/CMakeLists.txt):
 * exits 0 when this kernel lets a process set up an io_uring, 1 when it
 * refuses (a container's seccomp profile, kernel.io_uring_disabled).
 *
 * Why: the *_uring variants of the end-to-end suites fail a server whose
 * INFO does not say io_uring, which is right where the engine can run and
 * wrong where the kernel refuses it (rcached then falls back to epoll,
 * and io.test.js checks that fallback on every machine). They are
 * registered only where this probe succeeds.
 */
#include <liburing.h>

int main(void) {
    struct io_uring ring;
    if (io_uring_queue_init(8, &ring, 0) != 0)
        return 1;
    io_uring_queue_exit(&ring);
    return 0;
}
