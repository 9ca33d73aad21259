#!/usr/bin/env bash
# Installs the Debian packages Tessera needs to build, run and test.
# Idempotent: when everything is present it only checks and exits in about a second.
# Used by the Makefile, the Dockerfile and CI (.ci/run -> make test).
#
#   scripts/install-deps.sh           build + run + test dependencies (make run, make test, CI)
#   scripts/install-deps.sh --build   what building the server needs (Docker build stage)
#   scripts/install-deps.sh --runtime only what the server needs at run time (Docker final stage)
set -euo pipefail

runtime=(
  gstreamer1.0-tools
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  # x264enc: the composite in H.264 for receivers that take nothing else (GPL; docs/interop.md).
  gstreamer1.0-plugins-ugly
  gstreamer1.0-nice
  gstreamer1.0-libav
  ca-certificates
)
build=(
  build-essential
  pkg-config
  libglib2.0-dev
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  libgstreamer-plugins-bad1.0-dev
  libssl-dev
  curl
  # apt-get source (dpkg-source), for libsrtp2 on OpenSSL below.
  dpkg-dev
)
tests=(
  # End-to-end browser tests: real browsers, driven by puppeteer-core from npm.
  chromium
  firefox-esr
  # The benchmark's peer server (Janus AudioBridge), also exercised by a test.
  janus
  # The TURN relay test (tests/scenarios/turn_relay.rs) starts its own `turnserver` on a free
  # loopback port. The package also enables a coturn.service on systemd machines (listening on
  # 3478 with /etc/turnserver.conf); the tests neither use nor disturb it.
  coturn
  # The fleet tests (tests/scenarios/fleet_*.rs) start their own `redis-server` on a free
  # loopback port (no persistence); the package's own redis-server.service is not used.
  redis-server
  # The aiortc interop peer and the Python agent examples run in a project-local venv (.venv/,
  # see below).
  python3-venv
  # Text to speech for the greeter agent example (examples/agents/greeter.py) and its test.
  espeak-ng
  # A room thread stuck for 2 s writes every thread's backtrace to the server's log in tests
  # (TESSERA_STALL_BACKTRACES=1, src/room/watchdog.rs), so a hang seen once can be explained.
  gdb
)


mode="${1:-all}"
case "$mode" in
  all|--build|--runtime) ;;
  *) echo "usage: $0 [--build|--runtime]" >&2; exit 2 ;;
esac
pkgs=("${runtime[@]}")
[[ "$mode" != "--runtime" ]] && pkgs+=("${build[@]}")
[[ "$mode" == "all" ]] && pkgs+=("${tests[@]}")

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm for the browser tests: any installation will do (NodeSource's nodejs bundles
# npm and conflicts with Debian's npm package), so check the commands, not the packages.
if [[ "$mode" == "all" ]] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# SRTP on OpenSSL (crates/webrtc/src/srtp.rs): Debian's libsrtp2 encrypts through NSS and
# builds an NSS context for every packet. The same source package (the installed version)
# built with --enable-openssl costs each receiver about a third less; the server loads it in
# place of the system's. Built once; the Docker image copies it from its build stage.
srtp_lib=/usr/local/lib/tessera/libsrtp2.so.1
if [[ "$mode" != "--runtime" && ! -e "$srtp_lib" ]]; then
  version="$(dpkg-query -W -f='${source:Version}' libsrtp2-1)"
  echo "install-deps: building libsrtp2 $version on OpenSSL into $srtp_lib" >&2
  if ! apt-cache showsrc libsrtp2 2>/dev/null | grep -q '^Package: libsrtp2'; then
    uris="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${uris:-http://deb.debian.org/debian}" | $sudo tee /etc/apt/sources.list.d/tessera-deb-src.sources >/dev/null
    $sudo apt-get update -qq
  fi
  work="$(mktemp -d)"
  (
    cd "$work"
    apt-get source -qq "libsrtp2=$version" >/dev/null 2>&1
    cd libsrtp2-*/
    ./configure -q --enable-openssl >/dev/null
    make -s -j"$(nproc)" shared_library >/dev/null
  )
  $sudo install -D -m 0644 "$work"/libsrtp2-*/libsrtp2.so.1 "$srtp_lib"
  rm -rf "$work"
fi

# The interop tests' aiortc peer and the Python agent examples: a venv at the repository root
# with the pinned packages (PyPI wheels), rebuilt only when a requirements file changed since
# it was made.
if [[ "$mode" == "all" ]]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  venv="$root/.venv"
  requirements=("$root/tests/interop/requirements.txt" "$root/examples/agents/requirements.txt")
  if ! cat "${requirements[@]}" | cmp -s - "$venv/.requirements" 2>/dev/null; then
    echo "install-deps: creating $venv for the aiortc interop peer and the agent examples" >&2
    /usr/bin/python3 -m venv --clear "$venv"
    for r in "${requirements[@]}"; do
      "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$r"
    done
    cat "${requirements[@]}" > "$venv/.requirements"
  fi
fi
