#!/usr/bin/env bash
# Build the wattcast image from the binary that `make build` made, on an
# empty (scratch) base, and run it: `wattcast version`, then, if given, one
# more wattcast command inside the same image (CI passes `demo`).
#
# Usage: .ci/container.sh [WATTCAST-COMMAND [ARGS...]]
#   .ci/container.sh                # build, run `wattcast version`
#   .ci/container.sh demo           # ... and run `wattcast demo` in the image
#
# There is no Docker engine here and no registry to pull a base image from,
# but podman (Debian's) builds images whose stages need no pull and runs them
# with runc. The image is the production Dockerfile's `prebuilt` target
# and BASE_IMAGE=scratch; the default (distroless) base is built in the
# GitHub workflows, where registries are reachable.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
image=${WATTCAST_IMAGE:-localhost/wattcast:ci}
log() { printf '==> %s\n' "$*" >&2; }
t_start=$(date +%s)

sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo

# 1. podman and runc, from Debian, when missing.
if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
	t0=$(date +%s)
	log "installing podman and runc (apt)"
	if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null 2>&1; then
		$sudo apt-get update -qq >/dev/null
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
	fi
	log "installed podman and runc in $(($(date +%s) - t0)) s"
fi

# 2. A containers.conf of our own (the system one is left alone): runc as
# the runtime, and explicit ulimits. Without them runc copies limits that
# this sandbox does not let a container set (measured: RLIMIT_NPROC above
# 4096 is refused), and every run fails with "error setting rlimit ...
# operation not permitted".
mkdir -p .tools
conf="$root/.tools/containers.conf"
nofile_soft=$(ulimit -Sn)
nofile_hard=$(ulimit -Hn)
nproc=4096
hard_nproc=$(ulimit -Hu)
if [[ $hard_nproc != unlimited && $hard_nproc -lt $nproc ]]; then
	nproc=$hard_nproc
fi
cat >"$conf" <<EOF
[containers]
default_ulimits = ["nofile=${nofile_soft}:${nofile_hard}", "nproc=${nproc}:${nproc}"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$conf"

# 3. The binary, from the tree as it is (make build is incremental), static:
# the image has no libc.
t0=$(date +%s)
log "make build"
make build >/dev/null
log "built bin/wattcast in $(($(date +%s) - t0)) s"
if command -v readelf >/dev/null && readelf -l bin/wattcast | grep -q 'program interpreter'; then
	echo "container: bin/wattcast is dynamically linked; build it with CGO_ENABLED=0 (make build)" >&2
	exit 1
fi

# 4. A small build context: the binary and the CA bundle that TLS to AWS
# needs on a scratch base (distroless ships its own). And a directory for the
# container's writable /tmp, owned by the image's user (65532), as a volume
# is on ECS: the root file system stays read-only. (A tmpfs would not do:
# podman gives it the mode of the image's /tmp, which on scratch is 0755
# root.)
ctx=$(mktemp -d)
work=$(mktemp -d)
as_container_root() { # run a command as the container's root: rootless podman maps IDs
	if [[ $(id -u) == 0 ]]; then "$@"; else podman unshare "$@"; fi
}
cleanup() {
	rm -rf "$ctx"
	as_container_root rm -rf "$work"
}
trap cleanup EXIT
as_container_root chown 65532:65532 "$work"
cp bin/wattcast "$ctx/wattcast"
ca=/etc/ssl/certs/ca-certificates.crt
if [[ ! -s $ca ]]; then
	echo "container: $ca is missing; install Debian's ca-certificates" >&2
	exit 1
fi
cp "$ca" "$ctx/ca-certificates.crt"

t0=$(date +%s)
log "podman build $image (BASE_IMAGE=scratch, --target prebuilt)"
podman build --quiet -f Dockerfile \
	--build-arg BASE_IMAGE=scratch --target prebuilt \
	-t "$image" "$ctx" >/dev/null
log "built in $(($(date +%s) - t0)) s, $(podman image inspect "$image" --format '{{.Size}}') bytes"

user=$(podman image inspect "$image" --format '{{.Config.User}}')
if [[ $user != 65532:65532 ]]; then
	echo "container: image user is '$user', want 65532:65532 (non-root)" >&2
	exit 1
fi

# 5. Run it as production does: read-only root, a writable /tmp volume (the
# working directory), no network beyond loopback, as the image's non-root
# user.
run() {
	podman run --rm --network none --read-only -v "$work:/tmp:rw" "$image" "$@"
}

out=$(run version)
echo "$out"
if [[ $out != wattcast\ * ]]; then
	echo "container: 'wattcast version' printed '$out'" >&2
	exit 1
fi

if [[ $# -gt 0 ]]; then
	t0=$(date +%s)
	log "wattcast $* (inside the image)"
	run "$@"
	log "wattcast $1 in the image took $(($(date +%s) - t0)) s"
fi
log "container checks passed in $(($(date +%s) - t_start)) s"
