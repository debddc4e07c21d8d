#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) from the broker jars Maven resolves from
# Maven Central. Idempotent: `start` is fast when the broker already runs.
#   scripts/kafka.sh start|stop|status
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${TINGJIAN_RUN_DIR:-$ROOT/.run}/kafka"
CACHE="${TINGJIAN_CACHE:-$HOME/.cache/tingjian}"
PORT="${TINGJIAN_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${TINGJIAN_KAFKA_CONTROLLER_PORT:-19093}"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/kafka/pom.xml")"
LIBS="$CACHE/kafka-$VERSION/libs"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; }

resolve() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v java >/dev/null || { echo "kafka: java not found (Java 17 needed)" >&2; exit 1; }
  command -v mvn >/dev/null || { echo "kafka: mvn not found: apt-get install -y maven" >&2; exit 1; }
  echo "kafka: resolving org.apache.kafka:kafka_2.13:$VERSION from Maven Central ..."
  rm -rf "$LIBS.tmp"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS" && touch "$LIBS/.complete"
}

configure() {
  mkdir -p "$RUN/data"
  cat >"$RUN/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$RUN/data
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=6
PROPS
  cat >"$RUN/log4j2.properties" <<'PROPS'
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
PROPS
  if [ ! -f "$RUN/data/meta.properties" ]; then
    local id
    id="$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java -cp "$LIBS/*" kafka.tools.StorageTool format -t "$id" -c "$RUN/server.properties" 2>/dev/null
  fi
}

start() {
  if running && port_open "$PORT"; then echo "kafka: running on 127.0.0.1:$PORT"; return 0; fi
  if port_open "$PORT"; then
    # Another checkout's broker (or one started by hand): use it rather than fail.
    echo "kafka: a broker not started from this checkout already listens on 127.0.0.1:$PORT; using it"
    return 0
  fi
  resolve
  configure
  nohup java -Xms256m -Xmx1g -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$RUN/log4j2.properties" -Dkafka.logs.dir="$RUN" \
    -cp "$LIBS/*" kafka.Kafka "$RUN/server.properties" >"$RUN/stdout.log" 2>&1 &
  echo $! >"$RUN/pid"
  for _ in $(seq 1 120); do
    if port_open "$PORT" && grep -q "Kafka Server started" "$RUN/server.log" 2>/dev/null; then
      echo "kafka: started $VERSION on 127.0.0.1:$PORT"; return 0
    fi
    running || { echo "kafka: broker exited; see $RUN/server.log" >&2; tail -20 "$RUN/stdout.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "kafka: not listening after 60 s; see $RUN/server.log" >&2; exit 1
}

stop() {
  if running; then
    kill "$(cat "$RUN/pid")"
    for _ in $(seq 1 60); do running || break; sleep 0.5; done
    running && kill -9 "$(cat "$RUN/pid")" 2>/dev/null || true
  fi
  rm -f "$RUN/pid"; echo "kafka: stopped"
}

status() {
  if running && port_open "$PORT"; then echo "kafka: running $VERSION on 127.0.0.1:$PORT (pid $(cat "$RUN/pid"))"
  else echo "kafka: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
