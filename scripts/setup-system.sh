#!/usr/bin/env bash
# Debian packages the network tests need: iptables (NAT namespaces, link cuts), util-linux
# (setpriv: namespace children die with the runner), coturn (STUN/TURN
# inside a test namespace), iproute2 (ip netns); and chromium, the browser the web UI's tests
# (test/web) and bench drive with playwright-core. Installed only when missing and when we are root;
# without root the tests that need them skip with a printed reason.
set -euo pipefail
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-system: not root or no apt-get; network-namespace and browser tests will skip" >&2
  exit 0
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v turnserver >/dev/null || need+=(coturn)
command -v setpriv >/dev/null || need+=(util-linux)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-system: installing ${need[*]}" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
