#!/usr/bin/env bash
# Installs the Debian packages Tandem needs, and only those that are missing.
#   scripts/install-deps.sh build   libraries and tools to build tandemd
#   scripts/install-deps.sh test    what the test suite runs besides: systemd-analyze (systemd),
#                                   openssl, ps (procps), ip and ss (iproute2), sipp (sip-tester),
#                                   headless Chromium and Firefox ESR for the browser peers and the
#                                   library matrix, certutil (libnss3-tools) to trust a test
#                                   certificate in a Firefox profile, and python3-venv for the
#                                   interop environment scripts/install-interop.sh makes, and
#                                   sngrep, the HEP capture server the SIP trace test sends to,
#                                   promtool (prometheus) and fail2ban-regex (fail2ban), which check
#                                   the files in contrib/. Both packages come with a service
#                                   (Debian's Prometheus listens on 9090, Tandem's default http
#                                   port): while the test packages install, a temporary
#                                   policy-rc.d keeps package scripts from starting any service.
#                                   unshare and nsenter come from util-linux, which Debian always
#                                   has (Essential).
#   scripts/install-deps.sh bench   rtpengine, the gateway `make bench` compares Tandem with, a C
#                                   compiler and OpenSSL's headers for tandem-floor (the relayed
#                                   call's floor, bench/floor/floor.c), and strace for
#                                   TANDEM_LOAD_STRACE=1
# Runs apt-get non-interactively as root (or through sudo -n); says what it does.
set -euo pipefail

build_packages=(pkg-config libssl-dev libsrtp2-dev libopus-dev libspandsp-dev)
test_packages=(systemd openssl procps iproute2 sip-tester chromium firefox-esr libnss3-tools python3-venv sngrep prometheus fail2ban)
bench_packages=(rtpengine-daemon gcc libssl-dev strace)

case "${1:-build}" in
    build) wanted=("${build_packages[@]}") ;;
    test) wanted=("${test_packages[@]}") ;;
    bench) wanted=("${bench_packages[@]}") ;;
    *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; install these (or your distribution's equivalents) yourself: ${wanted[*]}" >&2
    exit 0
fi

missing=()
for package in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps ($1): all present: ${wanted[*]}"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root, or install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "deps ($1): installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
if [ "$1" = test ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    echo "deps ($1): services of these packages are not started (temporary /usr/sbin/policy-rc.d)"
    "${run[@]}" sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    trap '"${run[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps ($1): installed ${missing[*]}"
