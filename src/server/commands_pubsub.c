/*
 * commands_pubsub.c - SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE,
 * PUBLISH and PUBSUB CHANNELS|NUMSUB|NUMPAT|HELP with Redis 7.0's replies,
 * and the RESP2 subscriber-mode rule the dispatcher applies: a client with
 * a subscription may only run the SUBSCRIBE family, PING (answered as a
 * pub/sub message), QUIT and RESET. The registry and delivery are in
 * pubsub.c.
 */
#include "pubsub.h"

#include <string.h>
#include <strings.h>

void rcache__cmd_subscribe(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__pubsub_subscribe(c, argc, argv, 0);
}

void rcache__cmd_psubscribe(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__pubsub_subscribe(c, argc, argv, 1);
}

void rcache__cmd_unsubscribe(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__pubsub_unsubscribe(c, argc, argv, 0, 1);
}

void rcache__cmd_punsubscribe(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    rcache__pubsub_unsubscribe(c, argc, argv, 1, 1);
}

void rcache__cmd_publish(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    (void)argc;
    rcache__reply_int(c, rcache__pubsub_publish(argv[1].ptr, argv[1].len, argv[2].ptr,
                                                argv[2].len));
}

static int sub_is(const rcache__arg_t *a, const char *name) {
    return a->len == strlen(name) && strncasecmp(a->ptr, name, a->len) == 0;
}

static const char *const HELP[] = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
};

static void wrong_args(rcache__client_t *c, const rcache__arg_t *sub) {
    char lower[32];
    size_t n = sub->len < sizeof lower - 1 ? sub->len : sizeof lower - 1;
    rcache__lower_copy(lower, sub->ptr, n);
    lower[n] = '\0';
    rcache__reply_errorf(c, "ERR wrong number of arguments for 'pubsub|%s' command", lower);
}

void rcache__cmd_pubsub(rcache__client_t *c, size_t argc, const rcache__arg_t *argv) {
    const rcache__arg_t *sub = &argv[1];
    if (sub_is(sub, "help") && argc == 2) {
        rcache__reply_help(c, HELP, sizeof HELP / sizeof HELP[0]);
    } else if (sub_is(sub, "channels") || sub_is(sub, "shardchannels")) {
        if (argc > 3) {
            wrong_args(c, sub);
        } else if (sub_is(sub, "shardchannels")) {
            rcache__reply_array(c, 0); /* no sharded channels here */
        } else {
            rcache__pubsub_reply_channels(c, argc == 3 ? &argv[2] : NULL);
        }
    } else if (sub_is(sub, "numsub")) {
        rcache__pubsub_reply_numsub(c, argc - 2, argv + 2);
    } else if (sub_is(sub, "shardnumsub")) {
        rcache__reply_array(c, 2 * (long long)(argc - 2));
        for (size_t i = 2; i < argc; i++) {
            rcache__reply_bulk(c, argv[i].ptr, argv[i].len);
            rcache__reply_int(c, 0);
        }
    } else if (sub_is(sub, "numpat")) {
        if (argc != 2)
            wrong_args(c, sub);
        else
            rcache__pubsub_reply_numpat(c);
    } else {
        rcache__reply_unknown_subcommand(c, sub, "PUBSUB");
    }
}

int rcache__pubsub_allowed(const rcache__client_t *c, const rcache__cmd_t *cmd) {
    if (!c->ps || c->resp3 || rcache__pubsub_count(c) == 0)
        return 1; /* RESP3: push frames, any command allowed */
    rcache__cmd_fn f = cmd->fn;
    if (f == rcache__cmd_subscribe || f == rcache__cmd_psubscribe ||
        f == rcache__cmd_unsubscribe || f == rcache__cmd_punsubscribe ||
        f == rcache__cmd_ping || f == rcache__cmd_quit || f == rcache__cmd_reset)
        return 1;
    return 0;
}
