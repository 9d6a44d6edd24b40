/*
 * dbk_forward: a fixed bootstrap port in front of the mock cluster.
 *
 * librdkafka 2.0.2's mock brokers always bind 127.0.0.1 on an ephemeral port
 * (rd_kafka_mock_broker_new binds port 0 and offers no way to choose). For --port, a
 * thread listens on 127.0.0.1:PORT and relays each connection, byte for byte, to the first
 * broker that accepts it (broker 1, else 2, ...). Clients only bootstrap through it: the
 * Metadata response names the brokers' real addresses, and clients connect to those
 * directly afterwards, exactly as with a real cluster's bootstrap list.
 */
#ifndef DBK_FORWARD_H
#define DBK_FORWARD_H

#include <netinet/in.h>
#include <stddef.h>

typedef struct cdc_dbk_forward_s cdc_dbk_forward_t;

/*
 * Binds 127.0.0.1:port and starts relaying to upstreams[0..n-1] (copied). Returns NULL
 * with a message naming the port in errstr when it cannot listen (in use, no permission).
 * Caller stops and frees with cdc_dbk_forward_stop().
 */
cdc_dbk_forward_t *cdc_dbk_forward_start(int port, const struct sockaddr_in *upstreams, int n,
                                         char *errstr, size_t errstr_size);

/* Closes the listener and every relayed connection, joins the thread. NULL is a no-op. */
void cdc_dbk_forward_stop(cdc_dbk_forward_t *fw);

#endif
