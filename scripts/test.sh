#!/usr/bin/env bash
# Runs every test of bailiff on a fresh Debian machine: installs the reference
# fail2ban package and the firewall tools, then format, lint and the whole test
# suite (unit tests, the fail2ban sample-log compat suite, the `fail2ban-client -d`
# comparison, real-socket/real-SQLite/network-namespace tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PCRE2_SYS_STATIC=1
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo build (binary used by end-to-end tests)"
cargo build --workspace --bins
echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/bailiff-test.log
echo "== Debian package: build with cargo-deb, install, check, remove"
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
bash pkg/check-deb.sh
# One closing line over every cargo test binary (ignored tests count as skipped).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s }' /tmp/bailiff-test.log
