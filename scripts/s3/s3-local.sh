#!/usr/bin/env bash
# s3-local.sh: a real S3 API on 127.0.0.1 for wattcast's tests and local
# development: versitygw (github.com/versity/versitygw, Apache-2.0) serving a
# plain directory through its posix backend. Each top-level directory is a
# bucket and each object a file, so what the lake wrote can be looked at with
# ls as well as through S3.
#
#   scripts/s3/s3-local.sh install  # go install versitygw into .tools/bin (once, about 60 s)
#   scripts/s3/s3-local.sh start    # install, start, wait until it answers, create the buckets
#   scripts/s3/s3-local.sh stop     # stop; the data is kept
#   scripts/s3/s3-local.sh status   # exit 0 when running and answering
#   scripts/s3/s3-local.sh reset    # stop and delete the data
#   scripts/s3/s3-local.sh env      # print the exports a client needs (endpoint, keys, region)
#
# Environment (defaults in brackets):
#   S3_PORT           listen port on 127.0.0.1 [7070]
#   S3_STATE_DIR      data (one directory per bucket), pid file, output [<repo>/.s3-local]
#   S3_BUCKETS        buckets to create, space separated [wattcast-lake]
#   S3_ACCESS_KEY     root access key [wattcast-local]
#   S3_SECRET_KEY     root secret key [wattcast-local-secret]
#   S3_REGION         region the server signs for [us-east-1]
#   VERSITYGW_VERSION the module version to install [v1.8.0]
#   TOOLS_BIN         where versitygw is installed [<repo>/.tools/bin]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PORT=${S3_PORT:-7070}
STATE=${S3_STATE_DIR:-$ROOT/.s3-local}
BUCKETS=${S3_BUCKETS:-wattcast-lake}
ACCESS=${S3_ACCESS_KEY:-wattcast-local}
SECRET=${S3_SECRET_KEY:-wattcast-local-secret}
REGION=${S3_REGION:-us-east-1}
VERSION=${VERSITYGW_VERSION:-v1.8.0}
BIN_DIR=${TOOLS_BIN:-$ROOT/.tools/bin}
BIN=$BIN_DIR/versitygw
DATA=$STATE/data
PIDF=$STATE/versitygw.pid
LOG=$STATE/versitygw.out
ENDPOINT=http://127.0.0.1:$PORT
# SHA-256 of the empty body: versitygw requires x-amz-content-sha256.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

die() { echo "s3-local: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

installed_version() {
  [ -x "$BIN" ] || return 1
  go version -m "$BIN" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/versity/versitygw" { print $3 }'
}

install() {
  if [ "$(installed_version || true)" = "$VERSION" ]; then
    [ "${1:-}" = quiet ] || echo "s3-local: versitygw $VERSION already in $BIN_DIR"
    return 0
  fi
  command -v go >/dev/null || die "go not found: versitygw is installed with go install"
  local t0
  t0=$(now)
  echo "s3-local: installing versitygw $VERSION into $BIN_DIR (go install, about a minute)"
  mkdir -p "$BIN_DIR"
  GOBIN=$BIN_DIR GOFLAGS='' go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" ||
    die "go install github.com/versity/versitygw/cmd/versitygw@$VERSION failed (is the Go module proxy reachable?)"
  echo "s3-local: installed versitygw $VERSION in $(since "$t0") s"
}

pid() {
  [ -f "$PIDF" ] || return 1
  local p
  p=$(cat "$PIDF")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$DATA" || return 1
  echo "$p"
}

# s3 sends one SigV4-signed request with curl (7.75 or later) and prints the
# HTTP status; the body goes to $STATE/last-response.xml.
s3() {
  local method=$1 path=$2
  curl -sS -o "$STATE/last-response.xml" -w '%{http_code}' -X "$method" \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS:$SECRET" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$ENDPOINT$path"
}

answers() { curl -s -o /dev/null --max-time 2 "$ENDPOINT/" 2>/dev/null; }

create_buckets() {
  local b code
  for b in $BUCKETS; do
    # Through the S3 API, not mkdir: versitygw then records the bucket's
    # owner and ACL (extended attributes) as it does for any client's bucket.
    code=$(s3 PUT "/$b")
    case "$code" in
      200) echo "s3-local: created bucket $b" ;;
      409) ;; # BucketAlreadyOwnedByYou: kept from an earlier start
      *) cat "$STATE/last-response.xml" >&2; die "creating bucket $b: HTTP $code" ;;
    esac
  done
}

start() {
  install quiet
  local p t0
  if p=$(pid); then
    echo "s3-local: already running (pid $p) at $ENDPOINT"
    create_buckets
    return 0
  fi
  if answers; then
    die "127.0.0.1:$PORT is taken by another process: stop it or set S3_PORT"
  fi
  t0=$(now)
  mkdir -p "$DATA"
  # Keep the state directory out of git wherever it is.
  [ -f "$STATE/.gitignore" ] || echo '*' >"$STATE/.gitignore"
  # The root keys go through the environment, not argv, so ps does not show them.
  ROOT_ACCESS_KEY_ID=$ACCESS ROOT_SECRET_ACCESS_KEY=$SECRET \
    setsid nohup "$BIN" --port "127.0.0.1:$PORT" --region "$REGION" --quiet \
    posix "$DATA" >>"$LOG" 2>&1 </dev/null &
  local child=$!
  echo "$child" >"$PIDF"
  for _ in $(seq 1 120); do
    # Liveness by pid alone here: until the child has exec'd versitygw its
    # command line is this script's, and pid() would call it gone.
    if ! kill -0 "$child" 2>/dev/null; then
      tail -20 "$LOG" >&2
      die "versitygw exited during start (output above, all of it in $LOG)"
    fi
    if answers; then
      create_buckets
      echo "s3-local: versitygw $VERSION up at $ENDPOINT (pid $(pid)) in $(since "$t0") s; buckets: $BUCKETS; data in $DATA"
      return 0
    fi
    sleep 0.25
  done
  tail -20 "$LOG" >&2
  die "versitygw did not answer within 30 s (output above, all of it in $LOG)"
}

stop() {
  local p
  if ! p=$(pid); then
    rm -f "$PIDF"
    echo "s3-local: not running"
    return 0
  fi
  kill -TERM "$p"
  for _ in $(seq 1 40); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p"
  rm -f "$PIDF"
  echo "s3-local: stopped (pid $p); data kept in $DATA"
}

status() {
  local p
  if p=$(pid) && answers; then
    echo "s3-local: running (pid $p) at $ENDPOINT, versitygw $(installed_version), data in $DATA"
  else
    echo "s3-local: not running"
    return 1
  fi
}

reset() {
  stop
  case "$STATE" in "" | / | "$HOME" | "$ROOT") die "refusing to delete state directory '$STATE'" ;; esac
  rm -rf "$STATE"
  echo "s3-local: deleted $STATE"
}

env_exports() {
  cat <<EOF
export WATTCAST_S3_ENDPOINT=$ENDPOINT
export WATTCAST_S3_PATH_STYLE=true
export WATTCAST_S3_BUCKET=${BUCKETS%% *}
export AWS_ACCESS_KEY_ID=$ACCESS
export AWS_SECRET_ACCESS_KEY=$SECRET
export AWS_REGION=$REGION
EOF
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  reset) reset ;;
  env) env_exports ;;
  *)
    echo "usage: $0 install|start|stop|restart|status|reset|env" >&2
    exit 2
    ;;
esac
