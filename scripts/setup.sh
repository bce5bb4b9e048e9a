#!/usr/bin/env bash
# Installs what building and testing kflowd needs on Debian 12, and nothing that is
# already there: Debian packages for the BPF toolchain, then the npm dependencies
# (Bun itself is the pinned npm package "bun"). Safe to run again; fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# build: BPF toolchain and libbpf; lint: clang-format for C (scripts/lint.sh); tests: the peers and clients they run (python3, curl, ip and tc
# from iproute2 for the network namespace test,
# logger from bsdutils, findmnt from util-linux; dig and host from bind9-dnsutils against the dnsmasq of
# dnsmasq-base, for test/e2e/app-tools.test.ts; a private rsyslog relay, plain and TLS (rsyslog, rsyslog-gnutls,
# certificates made by openssl) and promtool from prometheus, for test/e2e/fleet-*.test.ts; no service is started:
# the tests run their own instances); packages: dpkg-deb, rpmbuild; kernel matrix: QEMU, initramfs tools, arm64 cross gcc,
# and the compilers of its 32-bit test program (test/fixtures/fileops.c): gcc-12-multilib for i386 (not the
# gcc-multilib metapackage, which conflicts with the cross compilers) and the armhf cross gcc; io_uring: liburing-dev
# for the test program that does each operation through a ring (test/fixtures/uring-ops.c), fio for its benchmark
APT_PACKAGES=(clang-16 clang-format-16 llvm-16 bpftool libbpf-dev libbpf1 libelf-dev zlib1g-dev gcc libc6-dev
  python3 curl bsdutils util-linux iproute2 bind9-dnsutils dnsmasq-base rsyslog rsyslog-gnutls openssl prometheus
  dpkg-dev rpm
  qemu-system-x86 qemu-system-arm cpio gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-12-multilib gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
  liburing-dev fio)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm installs the npm dependencies; Debian's when the machine has none (a bare debian:12 container)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file
if [[ ! -x node_modules/.bin/bun || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
