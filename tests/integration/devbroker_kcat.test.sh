#!/usr/bin/env bash
# labels: integration quick
# timeout: 120
#
# cdc-devbroker seen by a stock Kafka client (kcat): the topics of a pipeline config and of
# --topic exist with their partition counts, a produced message is consumed back unchanged,
# and a topic auto-created by a client's metadata request is reported, not hidden.
set -euo pipefail

# shellcheck source=lib/devbroker.sh
source "$CDC_SOURCE_DIR/tests/integration/lib/devbroker.sh"

# A pipeline with two domains of 3 and 6 partitions and a 2-partition validation topic.
cat >"$TMP/pipeline.yml" <<'EOF'
topic_prefix: it
sources:
  - {name: s1, path: s1.db, domain: alpha}
  - {name: s2, path: s2.db, domain: beta}
domains:
  - {name: alpha, partitions: 3, target: "dbname=alpha"}
  - {name: beta, partitions: 6, target: "dbname=beta"}
validation: {partitions: 2}
EOF

dbk_start -c "$TMP/pipeline.yml" -t extra.topic:5 -t plain -p 2 -b 3
[[ "$(cat "$TMP/stdout")" == "$BS" ]] || fail "stdout '$(cat "$TMP/stdout")' != bootstrap file '$BS'"
[[ "$BS" =~ ^127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$ ]] ||
    fail "bootstrap '$BS' does not list 3 brokers"
echo "bootstrap: $BS"

# Every topic, with its partition count, as a client sees it.
expected=$(printf '%s\n' it.alpha:3 it.alpha.dlq:3 it.beta:6 it.beta.dlq:6 it.validation:2 \
    it.schemas:1 extra.topic:5 plain:2 | sort)
seen=$(kcat -L -J -b "$BS" | /usr/bin/python3 -c '
import json, sys
md = json.load(sys.stdin)
for t in md["topics"]:
    print("%s:%d" % (t["topic"], len(t["partitions"])))
' | sort)
echo "kcat -L topics:"
echo "$seen"
[[ "$seen" == "$expected" ]] || fail "kcat -L topics differ from expected:
$expected"
[[ $(kcat -L -J -b "$BS" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["brokers"]))') == 3 ]] ||
    fail "kcat -L does not list 3 brokers"

# The control socket reports the same list.
topics_reply=$(dbk_ctl topics)
[[ "$(echo "${topics_reply#ok }" | tr ',' '\n' | sort)" == "$expected" ]] ||
    fail "'topics' reply '$topics_reply' differs"

# Produce with kcat and consume it back: one message on a given partition, and one keyed
# message placed by the client's partitioner.
msg="hello from devbroker_kcat $$ $(date +%s%N)"
printf '%s\n' "$msg" | kcat -P -b "$BS" -t it.beta -p 4 -k k1 -X message.timeout.ms=10000
got=$(timeout 30 kcat -C -b "$BS" -t it.beta -p 4 -o beginning -e -q -f '%k=%s\n')
[[ "$got" == "k1=$msg" ]] || fail "consumed '$got', expected 'k1=$msg'"

printf 'row-42:keyed payload\n' | kcat -P -b "$BS" -t it.alpha -K: -X message.timeout.ms=10000
got=$(timeout 30 kcat -C -b "$BS" -t it.alpha -o beginning -e -q -f '%k=%s\n')
[[ "$got" == "row-42=keyed payload" ]] || fail "consumed '$got' from it.alpha"

# Producing to a topic nobody created: the 2.0.2 mock auto-creates it (4 partitions) on
# the producer's metadata request; the devbroker must say so in its log and list it.
printf 'stray\n' | kcat -P -b "$BS" -t stray.topic -X message.timeout.ms=10000
for _ in $(seq 1 50); do
    grep -q "topic 'stray.topic' was auto-created with 4 partitions" "$TMP/stderr" && break
    sleep 0.1
done
grep -q "topic 'stray.topic' was auto-created with 4 partitions" "$TMP/stderr" ||
    fail "no warning about the auto-created topic"
dbk_ctl topics | grep -q 'stray.topic:4' ||
    fail "'topics' does not list the auto-created topic"

# Nothing of the kind happened to the configured topics.
if grep -E "topic '(it\.|extra|plain)[^']*' was auto-created" "$TMP/stderr"; then
    fail "a configured topic was reported as auto-created"
fi

# A clean stop: SIGTERM exits 0 (under ASan this also proves no leak was reported).
dbk_stop "$BROKER_PID"

echo "PASS devbroker_kcat"
