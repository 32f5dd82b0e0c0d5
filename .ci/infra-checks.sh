#!/usr/bin/env bash
# Static checks of the cloud side: Terraform formatting, tflint (core rules),
# a security scan of the Terraform (tfsec), and actionlint with shellcheck on
# the GitHub workflows. Tools are installed once into ./.tools/bin (go install
# through the Go module proxy; shellcheck from Debian) and reused afterwards.
#
# Usage: .ci/infra-checks.sh [install|check|all]   (default: all)
#
# `terraform validate` and `terraform plan` need the AWS provider, which cannot
# be fetched here: the GitHub workflows run them (see docs/cicd.md).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tools="$root/.tools/bin"
mkdir -p "$tools"
export PATH="$tools:$PATH"
mode=${1:-all}
# A CLI config named by the environment but missing only makes terraform
# warn on every call; nothing here needs one (no init, no providers).
if [[ -n ${TF_CLI_CONFIG_FILE:-} && ! -f $TF_CLI_CONFIG_FILE ]]; then
	unset TF_CLI_CONFIG_FILE
fi

# Pinned versions (all served by the Go module proxy; measured install times
# on a cold build cache are in docs/cicd.md).
TERRAFORM_VERSION=v1.5.7
TFLINT_VERSION=v0.64.0
TFSEC_VERSION=v1.26.0
ACTIONLINT_VERSION=v1.7.12

log() { printf '==> %s\n' "$*" >&2; }

elapsed() { # elapsed START: seconds since START
	echo $(($(date +%s) - $1))
}

# go_tool NAME VERSION PACKAGE: go install PACKAGE@VERSION into .tools/bin
# unless that exact version is already there (a stamp file records it).
go_tool() {
	local name=$1 version=$2 pkg=$3 stamp="$tools/.$1.version"
	if [[ -x "$tools/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
		return 0
	fi
	local t0
	t0=$(date +%s)
	log "installing $name $version (go install $pkg@$version)"
	# CGO off: static tools that run on any Linux; -trimpath keeps the build
	# reproducible; GOFLAGS cleared so a -mod setting of the project does
	# not leak into a module-mode install.
	GOBIN="$tools" CGO_ENABLED=0 GOFLAGS='' go install -trimpath "$pkg@$version"
	echo "$version" >"$stamp"
	log "installed $name in $(elapsed "$t0") s"
}

install_shellcheck() {
	command -v shellcheck >/dev/null && return 0
	local t0 sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	t0=$(date +%s)
	log "installing shellcheck (apt)"
	if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1; then
		$sudo apt-get update -qq >/dev/null
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
	fi
	log "installed shellcheck in $(elapsed "$t0") s"
}

install_all() {
	install_shellcheck
	go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint
	go_tool tfsec "$TFSEC_VERSION" github.com/aquasecurity/tfsec/cmd/tfsec
	go_tool tflint "$TFLINT_VERSION" github.com/terraform-linters/tflint
	go_tool terraform "$TERRAFORM_VERSION" github.com/hashicorp/terraform
}

check_all() {
	local t0 failed=0
	t0=$(date +%s)
	log "terraform fmt -check -recursive terraform/"
	terraform fmt -check -recursive -diff terraform/ || failed=1

	# tflint: the bundled terraform ruleset with every rule on (documented,
	# typed variables; standard module structure; pinned sources; unused
	# declarations). The AWS ruleset plugin is not served here, and
	# --init is never run: the bundled plugin needs no download.
	log "tflint --recursive (core rules, preset all)"
	(cd terraform && tflint --recursive --config "$root/terraform/.tflint.hcl" --format compact) || failed=1

	# tfsec fails on any finding not fixed or explained by an inline
	# #tfsec:ignore comment with its reason. Each environment is a root
	# module; scanning it resolves the local modules it calls with its real
	# inputs.
	for dir in terraform/envs/*/ terraform/bootstrap/; do
		log "tfsec $dir"
		tfsec "$dir" --no-color --concise-output --exclude-downloaded-modules || failed=1
	done

	log "actionlint (with shellcheck) .github/workflows"
	# Files named explicitly: actionlint then needs no git checkout.
	actionlint -shellcheck="$(command -v shellcheck)" .github/workflows/*.yml || failed=1

	local scripts=(.ci/*.sh)
	[[ -f .ci/run ]] && scripts+=(.ci/run)
	log "shellcheck ${scripts[*]}"
	shellcheck "${scripts[@]}" || failed=1

	log "checks took $(elapsed "$t0") s"
	return "$failed"
}

t_start=$(date +%s)
case "$mode" in
install) install_all ;;
check) check_all ;;
all)
	install_all
	check_all
	;;
*)
	echo "usage: $0 [install|check|all]" >&2
	exit 2
	;;
esac
log "infra-checks $mode: done in $(elapsed "$t_start") s"
