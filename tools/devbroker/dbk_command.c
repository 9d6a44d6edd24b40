#include "dbk_command.h"

#include "cdc_alloc.h"
#include "cdc_cli.h"
#include "cdc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 4

/* Largest latency accepted: an hour, the same bound librdkafka puts on test.mock.broker.rtt. */
#define MAX_RTT_MS 3600000

/* Splits line into at most MAX_WORDS whitespace-separated words (in buf); returns the
 * count, or MAX_WORDS + 1 when there are more. */
static int split_words(char *buf, char *words[MAX_WORDS])
{
    int n = 0;
    char *save = NULL;

    for (char *w = strtok_r(buf, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
        if (n == MAX_WORDS)
            return MAX_WORDS + 1;
        words[n++] = w;
    }
    return n;
}

/* "all" is broker id 0 for the cluster module. */
static int parse_broker(const cdc_dbk_cluster_t *cl, const char *word, int *id)
{
    long v;

    if (strcmp(word, "all") == 0) {
        *id = 0;
        return 0;
    }
    if (cdc_cli_parse_long(word, 1, cdc_dbk_cluster_broker_count(cl), &v) != 0)
        return -1;
    *id = (int)v;
    return 0;
}

static char *broker_reply(const cdc_dbk_cluster_t *cl, int id, const char *what)
{
    if (id == 0)
        return cdc_asprintf("ok all %d brokers %s", cdc_dbk_cluster_broker_count(cl), what);
    return cdc_asprintf("ok broker %d %s", id, what);
}

static char *cmd_updown(cdc_dbk_cluster_t *cl, char **words, int n, int up)
{
    char err[256];
    int id;

    if (n != 2)
        return cdc_asprintf("error: usage: %s N|all", words[0]);
    if (parse_broker(cl, words[1], &id) != 0)
        return cdc_asprintf("error: no broker '%s' (brokers are 1..%d, or all)", words[1],
                            cdc_dbk_cluster_broker_count(cl));
    if (cdc_dbk_cluster_set_up(cl, id, up, err, sizeof(err)) != 0)
        return cdc_asprintf("error: %s", err);
    return broker_reply(cl, id, up ? "up" : "down");
}

static char *cmd_rtt(cdc_dbk_cluster_t *cl, char **words, int n)
{
    char err[256];
    char what[64];
    long ms;
    int id;

    if (n != 3)
        return cdc_asprintf("error: usage: rtt N|all MS");
    if (parse_broker(cl, words[1], &id) != 0)
        return cdc_asprintf("error: no broker '%s' (brokers are 1..%d, or all)", words[1],
                            cdc_dbk_cluster_broker_count(cl));
    if (cdc_cli_parse_long(words[2], 0, MAX_RTT_MS, &ms) != 0)
        return cdc_asprintf("error: rtt '%s' is not a number of milliseconds in 0..%d", words[2],
                            MAX_RTT_MS);
    if (cdc_dbk_cluster_set_rtt(cl, id, (int)ms, err, sizeof(err)) != 0)
        return cdc_asprintf("error: %s", err);
    snprintf(what, sizeof(what), "rtt %ld ms", ms);
    return broker_reply(cl, id, what);
}

char *cdc_dbk_command_execute(cdc_dbk_cluster_t *cl, const char *line)
{
    char *buf = cdc_strdup(line);
    char *words[MAX_WORDS];
    char *reply = NULL;
    int n = split_words(buf, words);

    if (n == 0) {
        reply = cdc_asprintf("error: empty command (commands: %s)", CDC_DBK_COMMANDS);
    } else if (n > MAX_WORDS) {
        reply = cdc_asprintf("error: too many words (commands: %s)", CDC_DBK_COMMANDS);
    } else if (strcmp(words[0], "ping") == 0 && n == 1) {
        reply = cdc_strdup("ok");
    } else if (strcmp(words[0], "help") == 0 && n == 1) {
        reply = cdc_asprintf("ok commands: %s", CDC_DBK_COMMANDS);
    } else if (strcmp(words[0], "topics") == 0 && n == 1) {
        char *list = cdc_dbk_cluster_topics_str(cl);
        reply = cdc_asprintf("ok %s", list);
        free(list);
    } else if (strcmp(words[0], "down") == 0) {
        reply = cmd_updown(cl, words, n, 0);
    } else if (strcmp(words[0], "up") == 0) {
        reply = cmd_updown(cl, words, n, 1);
    } else if (strcmp(words[0], "rtt") == 0) {
        reply = cmd_rtt(cl, words, n);
    } else {
        reply = cdc_asprintf("error: unknown command '%s' (commands: %s)", line, CDC_DBK_COMMANDS);
    }
    cdc_log_info("control: '%s' -> '%s'", line, reply);
    free(buf);
    return reply;
}
