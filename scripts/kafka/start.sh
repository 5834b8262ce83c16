#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft: broker and controller in one JVM) for local runs
# and the integration tests, and prints its PID. Idempotent: a broker already running from
# here is left as is. Everything lives in .kafka/ (git-ignored): lib (jars from Maven
# Central, fetched once), data, logs, pid. Needs Java 17+ and Maven.
#
#   scripts/kafka/start.sh            # 127.0.0.1:9092, controller on 127.0.0.1:9093
#   KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 scripts/kafka/start.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${KAFKA_DIR:-$here/../../.kafka}"
mkdir -p "$root"
root="$(cd "$root" && pwd)"
port="${KAFKA_PORT:-9092}"
controller="${KAFKA_CONTROLLER_PORT:-9093}"
lib="$root/lib" data="$root/data" logs="$root/logs" pidfile="$root/kafka.pid"
source "$here/probe.sh"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if running; then
  if answers 127.0.0.1 "$port"; then
    cat "$pidfile"
    exit 0
  fi
  echo "kafka: process $(cat "$pidfile") is running but 127.0.0.1:$port does not answer yet; waiting" >&2
elif answers 127.0.0.1 "$port"; then
  echo "kafka: something not started by this script already answers on 127.0.0.1:$port" >&2
  exit 1
else
  # Jars: fetched once; fetched again only when the pom changes (a new Kafka version).
  if [ ! -f "$lib/.complete" ] || [ "$here/pom.xml" -nt "$lib/.complete" ]; then
    echo "kafka: fetching jars into $lib" >&2
    rm -rf "$lib"
    mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib" >&2
    touch "$lib/.complete"
  fi

  mkdir -p "$data" "$logs"
  # Topics are created explicitly by the adapter with the partition count it is configured
  # with: auto-creation would let a typo or a stray consumer make a topic with the broker's
  # default partitions, silently breaking the symbol → partition mapping.
  cat >"$root/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Groups: no wait for more members on the first join, and session timeouts down to 1 s so
# tests of a dead member finish quickly.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
# Small and quiet: a shared development machine, not a production broker.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
log.segment.bytes=67108864
log.retention.hours=24
log.retention.check.interval.ms=60000
PROPS
  cat >"$root/log4j2.properties" <<PROPS
appender.file.type=RollingFile
appender.file.name=file
appender.file.fileName=$logs/server.log
appender.file.filePattern=$logs/server.log.%i
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
appender.file.policies.type=Policies
appender.file.policies.size.type=SizeBasedTriggeringPolicy
appender.file.policies.size.size=10MB
appender.file.strategy.type=DefaultRolloverStrategy
appender.file.strategy.max=2
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
PROPS

  java=(java -Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$root/log4j2.properties" -Dkafka.logs.dir="$logs" -cp "$lib/*")
  if [ ! -f "$data/meta.properties" ]; then
    "${java[@]}" kafka.tools.StorageTool format --cluster-id "$("${java[@]}" kafka.tools.StorageTool random-uuid)" \
      --config "$root/server.properties" --ignore-formatted >"$logs/format.log" 2>&1 \
      || { cat "$logs/format.log" >&2; exit 1; }
  fi
  nohup "${java[@]}" kafka.Kafka "$root/server.properties" >"$logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
fi

for _ in $(seq 120); do
  if answers 127.0.0.1 "$port"; then
    cat "$pidfile"
    exit 0
  fi
  if ! running; then
    echo "kafka: the broker exited; last lines of $logs:" >&2
    tail -n 20 "$logs/stdout.log" "$logs/server.log" >&2 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.5
done
echo "kafka: 127.0.0.1:$port did not answer metadata within 60 s (see $logs)" >&2
exit 1
