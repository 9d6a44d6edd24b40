/*
 * Kafka's murmur2 partitioner: the Java-compatible vectors published in librdkafka's
 * src/rdmurmur2.c unit test and in the Java client's tests, and agreement with
 * librdkafka's own "murmur2" partitioner for many random keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "cdc_murmur2.h"

static void test_librdkafka_vectors(void **state)
{
    /* librdkafka's unittest_murmur2(): keys at every alignment, results from Java. */
    static const struct {
        const char *key;
        uint32_t hash;
    } v[] = {
        {"kafka", 0xd067cf64u},
        {"giberish123456789", 0x8f552b0cu},
        {"1234", 0x9fc97b14u},
        {"234", 0xe7c009cau},
        {"34", 0x873930dau},
        {"4", 0x5a4b5ca1u},
        {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1cu},
        {"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377u},
        {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09eu},
        {"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43fu},
        {"", 0x106e08d9u},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint32_t h = cdc_murmur2(v[i].key, strlen(v[i].key));

        if (h != v[i].hash)
            fail_msg("murmur2(\"%s\") = 0x%08x, expected 0x%08x", v[i].key, h, v[i].hash);
    }
    assert_int_equal(cdc_murmur2(NULL, 0), 0x106e08d9u);
}

static void test_java_vectors(void **state)
{
    /* The Java client's UtilsTest.testMurmur2 (signed ints as Java prints them). */
    static const struct {
        const char *key;
        int32_t hash;
    } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal((int32_t)cdc_murmur2(v[i].key, strlen(v[i].key)), v[i].hash);
}

static void test_partition_formula(void **state)
{
    (void)state;
    /* toPositive, not abs(): "kafka" hashes to a negative int (0xd067cf64). */
    assert_int_equal(cdc_murmur2_partition("kafka", 5, 1000), (0xd067cf64u & 0x7fffffffu) % 1000);
    assert_int_equal(cdc_murmur2_partition("kafka", 5, 1), 0);
    assert_int_equal(cdc_murmur2_partition("kafka", 5, 0), -1);
    assert_int_equal(cdc_murmur2_partition("kafka", 5, -3), -1);
}

static void test_agrees_with_librdkafka(void **state)
{
    unsigned char key[64];
    unsigned int seed = 20261121;

    (void)state;
    /* Random binary keys of every length 0..63 (Avro keys contain zero bytes), against
     * several partition counts. */
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof(key));
        int32_t parts = 1 + rand_r(&seed) % 64;

        int32_t ours, theirs;

        for (size_t j = 0; j < len; j++)
            key[j] = (unsigned char)rand_r(&seed);
        ours = cdc_murmur2_partition(key, len, parts);
        theirs = rd_kafka_msg_partitioner_murmur2(NULL, key, len, parts, NULL, NULL);
        if (ours != theirs)
            fail_msg("key of %zu bytes, %d partitions: ours %d, librdkafka %d", len, parts, ours,
                     theirs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_librdkafka_vectors),
        cmocka_unit_test(test_java_vectors),
        cmocka_unit_test(test_partition_formula),
        cmocka_unit_test(test_agrees_with_librdkafka),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
