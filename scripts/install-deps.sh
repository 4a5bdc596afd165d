#!/usr/bin/env bash
# Installs what building and testing bailiff needs on a Debian machine:
# the fail2ban reference package (configs, sample logs, fail2ban-client/-regex
# as oracles), nftables/iptables/ipset and iproute2 for the network-namespace
# tests, sqlite3 for inspecting state, python3 for comparison scripts,
# systemd-journal-remote (writes journal files for the journal tests) and
# python3-systemd (fail2ban's journal formatter as the oracle), firewalld and
# dbus-daemon (the stock firewallcmd-* action files are tested against a real
# firewalld, which only talks D-Bus: the tests start a private bus and firewalld
# inside a network namespace, see crates/e2e/src/firewalld.rs), and util-linux
# for setpriv (crates/e2e/tests/health_capability.rs runs the daemon without
# CAP_NET_ADMIN; essential on Debian, listed so a slim image cannot lack it).
set -euo pipefail
pkgs=(fail2ban nftables iptables ipset iproute2 sqlite3 python3 python3-systemd systemd-journal-remote libsystemd0 procps time firewalld dbus-daemon util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${pkgs[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The package starts a fail2ban-server on machines with systemd; the tests start
# their own reference servers and must not race a system one.
# Likewise firewalld: a system one would own the host's ruleset; the tests run
# their own inside network namespaces.
for svc in fail2ban firewalld; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
echo "install-deps: installed ${missing[*]}"
