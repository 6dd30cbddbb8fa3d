/*
 * script_thread.c - the thread that runs EVAL, EVALSHA, EVAL_RO and
 * EVALSHA_RO (script.h).
 *
 * Why a thread of its own: a script holds the exclusive gate for as long
 * as it runs. Run on its client's worker thread, it would stop that
 * worker's event loop, so the worker's other clients could get neither
 * -BUSY replies nor through with SCRIPT KILL while a script loops, and
 * with one worker thread nobody could. Instead the worker hands the
 * command to this thread and goes on serving its other clients, who wait
 * at the gate and get -BUSY once the script passes lua-time-limit. The
 * reply is built in the job's own buffer and sent back to the worker with
 * event_base_once() (thread-safe: libevent runs with pthreads locking; a
 * zero timeout makes the callback active at once, in posting order).
 *
 * Pipelines: a client that pipelines scripts (redis-py's Lock in a
 * pipeline, a batch of EVALSHAs) hands over each of them as it is parsed,
 * up to RCACHE__SCRIPT_PIPELINE_MAX, so one batch here runs them all
 * under one exclusive section and one post answers them all; the client
 * loop holds any other command in the query buffer until the client's
 * pending list is empty (client.c), which keeps replies in order. One
 * hand-over per script instead cost two thread wake-ups per command
 * (bench/server_cpu.sh --only EVALSHA, DESIGN.md).
 *
 * Ownership: a job belongs to this thread from submit to completion post,
 * then to the client's worker. The client's pending list (cnext, oldest
 * first) is touched on the worker thread only. A client closed meanwhile
 * only clears job->client in each pending job, and the completion drops
 * the reply. EVAL inside EXEC or from a script is nested: it runs in
 * place.
 */
#include "script.h"

#include "gate.h"
#include "server.h" /* the worker's event base */
#include "slowlog.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rcache__script_job {
    struct rcache__script_job *next;  /* queue here, then post chain */
    struct rcache__script_job *cnext; /* client's pending list (worker) */
    rcache__client_t *client;  /* NULL once closed (worker thread only) */
    struct event_base *base;   /* the client's worker */
    rcache__client_t proxy;    /* replies land in proxy.out */
    const rcache__cmd_t *cmd;
    size_t argc;
    rcache__arg_t *argv;       /* argv and bytes, one allocation */
    int drop_reply;            /* CLIENT REPLY OFF/SKIP muted this command */
} job_t;

static struct {
    pthread_t thread;
    pthread_mutex_t m;
    pthread_cond_t cv;
    job_t *head, *tail;
    int started, stopping;
} T = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void job_free(job_t *j) {
    if (j->proxy.out)
        evbuffer_free(j->proxy.out);
    free(j->proxy.name);
    free(j->argv);
    free(j);
}

/* On the clients' worker: deliver the replies of a chain of jobs (linked
 * by next) and resume each client whose last pending script this was.
 * Jobs complete in submit order, so j is its client's oldest. */
static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    for (job_t *j = arg, *next; j; j = next) {
        next = j->next;
        rcache__client_t *c = j->client;
        if (c) {
            c->script_job = j->cnext;
            if (!c->script_job)
                c->script_last = NULL;
            c->script_pending--;
            if (!(c->flags & RCACHE__CLIENT_CLOSING) && !j->drop_reply)
                evbuffer_add_buffer(c->out, j->proxy.out);
        }
        job_free(j);
        if (c && c->script_pending == 0)
            rcache__client_resume(c);
    }
}

/* Send finished jobs back, one event per worker (chained by next). */
static void post_done(job_t **jobs, size_t n) {
    struct timeval now = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i])
            continue;
        job_t *chain = jobs[i], *tail = chain;
        tail->next = NULL;
        for (size_t k = i + 1; k < n; k++) {
            if (jobs[k] && jobs[k]->base == chain->base) {
                tail->next = jobs[k];
                tail = jobs[k];
                tail->next = NULL;
                jobs[k] = NULL;
            }
        }
        if (event_base_once(chain->base, -1, EV_TIMEOUT, on_done, chain, &now) != 0)
            rcache__log(RCACHE__LOG_WARNING, "script thread: cannot post a reply");
    }
}

#define BATCH_MAX 64

/* Run one job's command; SLOWLOG and LATENCY get its real run time (the
 * dispatcher saw only the hand-over). */
static void run_timed(job_t *j) {
    uint64_t t0 = rcache__cmdtime_wanted() ? rcache__mono_us() : 0;
    j->cmd->fn(&j->proxy, j->argc, j->argv);
    if (t0)
        rcache__cmdtime_record(&j->proxy, j->cmd, j->argc, j->argv, rcache__mono_us() - t0);
}

/* Run a batch of jobs under one exclusive section (each job is still one
 * atomic script; batching only saves stop-the-world round trips). */
static void run_batch(job_t **jobs, size_t n, int stopping) {
    int busy = stopping ? 0 : rcache__gate_excl_begin();
    for (size_t i = 0; i < n; i++) {
        job_t *j = jobs[i];
        if (stopping)
            rcache__reply_error(&j->proxy, "ERR server is shutting down");
        else if (busy)
            rcache__reply_error(&j->proxy, "BUSY Redis is busy running a script. "
                                           "You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
        else
            run_timed(j);
    }
    if (!stopping && !busy)
        rcache__gate_excl_end();
    post_done(jobs, n);
}

static void *script_main(void *arg) {
    (void)arg;
    job_t *batch[BATCH_MAX];
    pthread_mutex_lock(&T.m);
    for (;;) {
        while (!T.head && !T.stopping)
            pthread_cond_wait(&T.cv, &T.m);
        if (!T.head)
            break;
        size_t n = 0;
        while (T.head && n < BATCH_MAX) {
            batch[n++] = T.head;
            T.head = T.head->next;
        }
        if (!T.head)
            T.tail = NULL;
        int stopping = T.stopping;
        pthread_mutex_unlock(&T.m);
        run_batch(batch, n, stopping);
        pthread_mutex_lock(&T.m);
    }
    pthread_mutex_unlock(&T.m);
    return NULL;
}

int rcache__script_thread_start(void) {
    T.stopping = 0;
    if (pthread_create(&T.thread, NULL, script_main, NULL) != 0)
        return -1;
    T.started = 1;
    return 0;
}

void rcache__script_thread_stop(void) {
    if (!T.started)
        return;
    pthread_mutex_lock(&T.m);
    T.stopping = 1;
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.m);
    pthread_join(T.thread, NULL);
    T.started = 0;
}

/* A copy of argv that outlives the read buffer it points into. */
static rcache__arg_t *copy_args(size_t argc, const rcache__arg_t *argv) {
    size_t bytes = argc * sizeof(rcache__arg_t);
    for (size_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    rcache__arg_t *copy = malloc(bytes);
    if (!copy)
        return NULL;
    char *data = (char *)(copy + argc);
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(data, argv[i].ptr, argv[i].len);
        copy[i].ptr = data;
        copy[i].len = argv[i].len;
        data += argv[i].len;
    }
    return copy;
}

int rcache__script_submit(rcache__client_t *c, const rcache__cmd_t *cmd,
                          size_t argc, const rcache__arg_t *argv) {
    if (!T.started)
        return -1;
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->argv = copy_args(argc, argv);
    j->proxy.out = evbuffer_new();
    if (!j->argv || !j->proxy.out) {
        job_free(j);
        return -1;
    }
    j->client = c;
    j->base = c->w->base;
    j->cmd = cmd;
    j->argc = argc;
    j->proxy.id = c->id;
    j->proxy.srv = c->srv;
    j->proxy.w = c->w; /* call counters only */
    j->proxy.authed = 1;
    j->proxy.db = c->db;
    j->proxy.resp3 = c->resp3; /* the reply in the caller's protocol */
    j->drop_reply = c->real_out != NULL;
    snprintf(j->proxy.addr, sizeof j->proxy.addr, "%s", c->addr); /* for SLOWLOG */
    if (c->name && !(j->proxy.name = strdup(c->name))) {
        job_free(j);
        return -1;
    }
    if (c->script_last)
        c->script_last->cnext = j;
    else
        c->script_job = j;
    c->script_last = j;
    c->script_pending++;
    pthread_mutex_lock(&T.m);
    if (T.tail)
        T.tail->next = j;
    else
        T.head = j;
    T.tail = j;
    pthread_cond_signal(&T.cv);
    pthread_mutex_unlock(&T.m);
    return 0;
}

void rcache__script_forget(rcache__client_t *c) {
    for (job_t *j = c->script_job; j; j = j->cnext)
        j->client = NULL;
    c->script_job = c->script_last = NULL;
    c->script_pending = 0;
}
