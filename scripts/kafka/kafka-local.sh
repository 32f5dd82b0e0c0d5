#!/usr/bin/env bash
# kafka-local.sh: a real Apache Kafka broker for wattcast's tests and local
# development, from Maven Central jars (no tarball, no Docker). One KRaft node
# that is both broker and controller, listening on 127.0.0.1 only.
#
#   scripts/kafka/kafka-local.sh fetch    # Maven copies the broker jars (once)
#   scripts/kafka/kafka-local.sh start    # fetch, format (first time), start, wait until ready
#   scripts/kafka/kafka-local.sh stop     # graceful stop (SIGTERM); data is kept
#   scripts/kafka/kafka-local.sh kill     # SIGKILL, like a crash; data is kept, start recovers it
#   scripts/kafka/kafka-local.sh restart  # stop + start, same data
#   scripts/kafka/kafka-local.sh status   # exit 0 when running and accepting connections
#   scripts/kafka/kafka-local.sh reset    # stop and delete the state directory (not the jars)
#   scripts/kafka/kafka-local.sh env      # print: export WATTCAST_KAFKA_BROKERS=127.0.0.1:PORT
#   scripts/kafka/kafka-local.sh logs     # last 100 lines of the broker's output
#
# Environment (defaults in brackets):
#   KAFKA_VERSION          Apache Kafka version from Maven Central [4.3.1]
#   KAFKA_PORT             client listener on 127.0.0.1 [9092]
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 [9093]
#   KAFKA_STATE_DIR        logs, metadata, pid file and output [<repo>/.kafka-local]
#   KAFKA_LIB_DIR          where the jars go [<repo>/.tools/kafka/lib-$KAFKA_VERSION]
#   KAFKA_HEAP             JVM heap, -Xms and -Xmx [512m]
#   KAFKA_AUTO_CREATE_TOPICS  auto.create.topics.enable [false, as on Amazon MSK]
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to be ready [180]
#   JAVA, MVN              the java (17 or later) and mvn to use [java, mvn]
#
# The state directory survives stop, kill and restart, so a test can stop the
# broker mid-stream and start it again with every topic, offset and
# transaction as it was. See scripts/kafka/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
PORT=${KAFKA_PORT:-9092}
CPORT=${KAFKA_CONTROLLER_PORT:-9093}
STATE=${KAFKA_STATE_DIR:-$ROOT/.kafka-local}
LIB=${KAFKA_LIB_DIR:-$ROOT/.tools/kafka/lib-$KAFKA_VERSION}
HEAP=${KAFKA_HEAP:-512m}
AUTOCREATE=${KAFKA_AUTO_CREATE_TOPICS:-false}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-180}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
DATA=$STATE/data
PROPS=$STATE/server.properties
PIDF=$STATE/kafka.pid
LOG=$STATE/kafka.out
LOGOPTS="-Dlog4j2.configurationFile=$HERE/log4j2.properties"

die() { echo "kafka-local: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found: install a JDK 17 or later (Debian: apt-get install openjdk-17-jre-headless) or set JAVA"
  local v
  v=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
  [ "${v%%.*}" -ge 17 ] 2>/dev/null || die "Kafka 4.x brokers need Java 17 or later; $JAVA is $v"
}

fetch() {
  if [ -f "$LIB/.complete" ]; then
    [ "${1:-}" = quiet ] || echo "kafka-local: Apache Kafka $KAFKA_VERSION already in $LIB"
    return 0
  fi
  command -v "$MVN" >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven) or set MVN"
  local t0
  t0=$(now)
  echo "kafka-local: fetching Apache Kafka $KAFKA_VERSION from Maven Central into $LIB"
  rm -rf "$LIB"
  mkdir -p "$LIB"
  # sed: Maven 3.8 prints colour resets even in batch mode.
  "$MVN" -B -q -Dstyle.color=never -f "$HERE/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$LIB" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' ||
    die "maven could not fetch kafka_2.13:$KAFKA_VERSION (is Maven Central reachable, and is the version served?)"
  ls "$LIB"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "kafka_2.13-$KAFKA_VERSION.jar missing in $LIB"
  touch "$LIB/.complete"
  echo "kafka-local: fetched $(find "$LIB" -name "*.jar" | wc -l) jars in $(since "$t0") s"
}

# pid prints the broker's pid when it is running from this state directory.
# The command line is checked so that a recycled pid is never signalled.
pid() {
  [ -f "$PIDF" ] || return 1
  local p
  p=$(cat "$PIDF")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$PROPS" || return 1
  echo "$p"
}

is_up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

run_class() { "$JAVA" -Xmx256m -cp "$LIB/*" "$LOGOPTS" "$@"; }

start() {
  check_java
  fetch quiet
  local p t0
  if p=$(pid); then
    echo "kafka-local: already running (pid $p) on 127.0.0.1:$PORT"
    return 0
  fi
  if is_up; then
    die "127.0.0.1:$PORT is taken by another process: stop it or set KAFKA_PORT (and KAFKA_CONTROLLER_PORT)"
  fi
  t0=$(now)
  mkdir -p "$STATE" "$DATA"
  # Keep the state directory out of git wherever it is.
  [ -f "$STATE/.gitignore" ] || echo '*' >"$STATE/.gitignore"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CPORT@|$CPORT|g" -e "s|@DATA@|$DATA|g" \
    -e "s|@AUTOCREATE@|$AUTOCREATE|g" "$HERE/server.properties.template" >"$PROPS"
  if [ ! -f "$DATA/meta.properties" ]; then
    local cid
    cid=$(run_class kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    [ "${#cid}" -ge 16 ] || die "could not get a cluster id from StorageTool (got '$cid')"
    # Static quorum (controller.quorum.voters), so no --standalone.
    run_class kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted >"$STATE/format.out" 2>&1 ||
      { cat "$STATE/format.out" >&2; die "formatting $DATA failed"; }
  fi
  local mark
  mark=$(grep -c '' "$LOG" 2>/dev/null || true)
  # The JVM flags of Kafka's kafka-run-class.sh, minus JMX and GC logs.
  # setsid: the broker outlives the shell (make kafka-up) and a Ctrl-C in it.
  setsid nohup "$JAVA" -Xms"$HEAP" -Xmx"$HEAP" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dkafka.logs.dir="$STATE" "$LOGOPTS" \
    -cp "$LIB/*" kafka.Kafka "$PROPS" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDF"
  local deadline=$(($(date +%s) + START_TIMEOUT))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if ! pid >/dev/null; then
      tail -50 "$LOG" >&2
      die "the broker exited during start (output above, all of it in $LOG)"
    fi
    # Only the lines of this run count: the output file is appended to.
    if is_up && tail -n +"$((mark + 1))" "$LOG" | grep -q "Kafka Server started"; then
      echo "kafka-local: Apache Kafka $KAFKA_VERSION up on 127.0.0.1:$PORT (pid $(pid)) in $(since "$t0") s; state in $STATE"
      return 0
    fi
    sleep 0.25
  done
  tail -50 "$LOG" >&2
  die "the broker was not ready after ${START_TIMEOUT}s (output above, all of it in $LOG)"
}

stop() {
  local p t0
  if ! p=$(pid); then
    rm -f "$PIDF"
    echo "kafka-local: not running"
    return 0
  fi
  t0=$(now)
  kill -TERM "$p"
  # A controlled shutdown of one node takes a few seconds; give it 60.
  for _ in $(seq 1 240); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$p" 2>/dev/null; then
    echo "kafka-local: pid $p ignored SIGTERM for 60 s; sending SIGKILL" >&2
    kill -KILL "$p"
  fi
  rm -f "$PIDF"
  echo "kafka-local: stopped (pid $p) in $(since "$t0") s; data kept in $STATE"
}

hardkill() {
  local p
  if ! p=$(pid); then
    echo "kafka-local: not running"
    return 0
  fi
  kill -KILL "$p"
  while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  rm -f "$PIDF"
  echo "kafka-local: killed (SIGKILL, pid $p); data kept in $STATE, start will recover it"
}

status() {
  local p
  if p=$(pid) && is_up; then
    echo "kafka-local: running (pid $p) on 127.0.0.1:$PORT, Apache Kafka $KAFKA_VERSION, state in $STATE"
  else
    echo "kafka-local: not running"
    return 1
  fi
}

reset() {
  stop
  case "$STATE" in "" | / | "$HOME" | "$ROOT") die "refusing to delete state directory '$STATE'" ;; esac
  rm -rf "$STATE"
  echo "kafka-local: deleted $STATE"
}

case "${1:-}" in
  fetch) check_java; fetch ;;
  start) start ;;
  stop) stop ;;
  kill) hardkill ;;
  restart) stop; start ;;
  status) status ;;
  reset) reset ;;
  env) echo "export WATTCAST_KAFKA_BROKERS=127.0.0.1:$PORT" ;;
  logs) tail -100 "$LOG" ;;
  *)
    echo "usage: $0 fetch|start|stop|kill|restart|status|reset|env|logs" >&2
    exit 2
    ;;
esac
