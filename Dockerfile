# syntax=docker/dockerfile:1
#
# One image for every wattcast service: each is a subcommand of the same
# static binary (wattcast produce | process | train | score | query | ...).
#
#   docker build -t wattcast .                              # compile in a Go stage, run on distroless
#   docker build --build-arg BASE_IMAGE=scratch -t wattcast .   # the same on an empty base
#   docker build --target prebuilt -t wattcast CONTEXT      # take a binary built outside
#
# The `prebuilt` target takes a binary from `CGO_ENABLED=0 make build`
# instead of compiling: its build context must hold `wattcast` and
# `ca-certificates.crt` at the root. .ci/container.sh builds it that way
# with podman, which here can build and run images but not pull them.

# Runtime base: distroless static (CA certificates, /tmp, user nonroot
# 65532, no shell, no package manager). Pin it by digest in a release:
# gcr.io/distroless/static-debian12:nonroot@sha256:...
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

# --- binary from source -----------------------------------------------------
FROM ${GO_IMAGE} AS binary-source
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/usr/local/bin/wattcast ./cmd/wattcast \
 && mkdir -p /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

# --- binary built outside (make build) --------------------------------------
FROM scratch AS binary-prebuilt
COPY wattcast /out/usr/local/bin/wattcast
COPY ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

# --- runtime ----------------------------------------------------------------
# The binary embeds time/tzdata (market time zones resolve without
# /usr/share/zoneinfo). TLS to AWS (S3, MSK, STS, Athena) needs a CA bundle:
# distroless has one; the binary stages bring Debian's ca-certificates
# bundle, so a scratch base verifies AWS endpoints too.
FROM ${BASE_IMAGE} AS runtime-base
ENV HOME=/tmp \
    WATTCAST_LOG_FORMAT=json
# Non-root, by number, so it holds on bases without /etc/passwd (scratch).
USER 65532:65532
# The working directory must be writable (the demo's local lake, scratch
# files). With a read-only root file system, mount a volume there: ECS
# Fargate initialises a bind mount at a VOLUME path from the image's
# directory, keeping distroless's world-writable /tmp (1777).
WORKDIR /tmp
VOLUME ["/tmp"]
ENTRYPOINT ["/usr/local/bin/wattcast"]
CMD ["--help"]

FROM runtime-base AS prebuilt
COPY --from=binary-prebuilt /out/ /

# The default target (last): compiled from source.
FROM runtime-base AS runtime
COPY --from=binary-source /out/ /
