/*
 * plot.c - miss-ratio curves as PNG through gnuplot.
 *
 * gnuplot is an external program (Debian's gnuplot-nox): we fork/exec it
 * with a pipe to its stdin and write the script and the data inline, so no
 * temporary files are needed and no shell sees the user's file names.
 */
#include "plot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* gnuplot single-quoted string: a quote is written twice. */
static void gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n')
            fputc(*s, f);
    }
    fputc('\'', f);
}

int rcache__plot_curve(const char *out_png, const char *title, const char *x_label,
                       int log_x, const rcache__plot_point_t *pts, size_t n,
                       char *err, size_t errlen)
{
    const char *name = "LRU (librcache, 1 shard)";
    return rcache__plot_curves(out_png, title, x_label, log_x, &name, &pts, 1, n,
                               err, errlen);
}

int rcache__plot_curves(const char *out_png, const char *title, const char *x_label,
                        int log_x, const char *const *names,
                        const rcache__plot_point_t *const *pts, size_t nseries,
                        size_t n, char *err, size_t errlen)
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]);
        close(fd[1]);
        execlp("gnuplot", "gnuplot", (char *)NULL);
        fprintf(stderr, "rcache-bench: cannot run gnuplot: %s\n", strerror(errno));
        _exit(127);
    }
    close(fd[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    FILE *f = fdopen(fd[1], "w");
    if (!f) {
        close(fd[1]);
    } else {
        fputs("set terminal pngcairo size 900,560 enhanced font 'sans,11'\n", f);
        fputs("set output ", f);
        gp_quote(f, out_png);
        fputs("\nset title ", f);
        gp_quote(f, title);
        fputs(" noenhanced\nset xlabel ", f);
        gp_quote(f, x_label);
        fputs("\nset ylabel 'miss ratio'\nset yrange [0:1]\nset grid\n"
              "set key top right\n", f);
        if (log_x)
            fputs("set logscale x\n", f);
        fputs("plot ", f);
        for (size_t k = 0; k < nseries; k++) {
            fputs(k ? ", '-' using 1:2 with linespoints lw 2 pt 7 title "
                    : "'-' using 1:2 with linespoints lw 2 pt 7 title ", f);
            gp_quote(f, names[k]);
        }
        fputs("\n", f);
        for (size_t k = 0; k < nseries; k++) {
            for (size_t i = 0; i < n; i++)
                fprintf(f, "%.17g %.17g\n", pts[k][i].x, pts[k][i].miss_ratio);
            fputs("e\n", f);
        }
        fclose(f);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    signal(SIGPIPE, old);
    if (!f || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "gnuplot failed (exit status %d) drawing %s",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1, out_png);
        return -1;
    }
    struct stat sb;
    if (stat(out_png, &sb) != 0 || sb.st_size == 0) {
        snprintf(err, errlen, "gnuplot wrote no image to %s", out_png);
        return -1;
    }
    return 0;
}
