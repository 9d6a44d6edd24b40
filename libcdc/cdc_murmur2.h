/*
 * cdc_murmur2: Kafka's default partitioner, bit for bit.
 *
 * murmur2 is the Java client's Utils.murmur2 (seed 0x9747b28c), and the partition of a
 * key is toPositive(murmur2(key)) % partitions with toPositive(x) = x & 0x7fffffff, as
 * the Java DefaultPartitioner and librdkafka's "murmur2" partitioner compute it; any
 * client that hashes the same bytes picks the same partition.
 *
 * Invariant 4: the bytes hashed are the CANONICAL KEY BYTES, the Avro binary of the key
 * record (cdc_avro_schema.h: string source, string table, the key column values) without
 * any wire framing, so a row keeps its partition whether records travel in single-object
 * or Confluent framing. The key encoder (cdc_avro_value.h) produces those bytes; the
 * producer passes them here and gives librdkafka the chosen partition explicitly.
 */
#ifndef CDC_MURMUR2_H
#define CDC_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 of len bytes (data may be NULL when len is 0). */
uint32_t cdc_murmur2(const void *data, size_t len);

/* Partition of a key: (murmur2(key) & 0x7fffffff) % partitions; partitions must be > 0
 * (returns -1 otherwise). */
int32_t cdc_murmur2_partition(const void *key, size_t len, int32_t partitions);

#endif
