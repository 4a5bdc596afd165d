#!/bin/sh
# Build bailiff's Debian package with cargo-deb, install it with dpkg, check what it
# put in place and that the installed binary runs with its built-in configuration,
# then remove it again.
#
# Installing touches the system (/usr/bin, /usr/lib, systemd units), so outside CI
# (CI=true) the script builds and inspects the package but does not install it,
# unless BAILIFF_DEB_INSTALL=1.
#
# BAILIFF_DEB_NO_BUILD=1 packages the existing target/release/bailiff.
# Needs: cargo-deb (`cargo install cargo-deb`), dpkg. Uses $CARGO_TARGET_DIR (default
# target/ at the workspace root).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR="$target"

fail() { echo "check-deb: FAILED: $*" >&2; exit 1; }
step() { echo "check-deb: $*"; }

command -v cargo-deb >/dev/null 2>&1 || {
    if [ "${CI:-}" = true ]; then
        fail "cargo-deb is not installed (cargo install cargo-deb)"
    fi
    echo "check-deb: SKIPPED: cargo-deb is not installed (cargo install cargo-deb)" >&2
    exit 0
}

if [ "${BAILIFF_DEB_NO_BUILD:-}" = 1 ]; then
    step "using the existing release build (BAILIFF_DEB_NO_BUILD=1)"
else
    step "release build"
    cargo build --release -p bailiff
fi
bin="$target/release/bailiff"

step "man pages, completions, compat links"
pkgdir="$target/release/pkg"
rm -rf "$pkgdir"
"$bin" generate man "$pkgdir/man"
"$bin" generate completions "$pkgdir/completions"
mkdir -p "$pkgdir/compat"
for tool in fail2ban-client fail2ban-server fail2ban-regex; do
    ln -s /usr/bin/bailiff "$pkgdir/compat/$tool"
done

step "cargo deb"
deb=$(cargo deb -p bailiff --no-build --strip --output "$target/debian/" | tail -n 1)
[ -f "$deb" ] || fail "cargo deb did not print the package path (got: $deb)"
step "built $deb"

contents=$(dpkg-deb --contents "$deb")
for f in usr/bin/bailiff usr/share/man/man1/bailiff.1 usr/share/man/man1/bailiff-client.1 \
    usr/share/bash-completion/completions/bailiff usr/share/zsh/vendor-completions/_bailiff \
    usr/share/fish/vendor_completions.d/bailiff.fish systemd/system/bailiff.service \
    usr/lib/bailiff/compat/fail2ban-client usr/lib/bailiff/compat/fail2ban-regex; do
    echo "$contents" | grep -q "$f" || fail "package lacks $f"
done
echo "$contents" | grep -q "usr/bin/fail2ban-" && fail "package installs fail2ban-* into PATH"

if [ "${CI:-}" != true ] && [ "${BAILIFF_DEB_INSTALL:-}" != 1 ]; then
    echo "check-deb: SKIPPED install: not in CI (set CI=true or BAILIFF_DEB_INSTALL=1 to install with dpkg -i)" >&2
    exit 0
fi
[ "$(id -u)" = 0 ] || fail "installing needs root"
if dpkg -s bailiff >/dev/null 2>&1; then
    fail "a bailiff package is already installed; not touching it"
fi

cleanup() { dpkg --purge bailiff >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb"
[ -x /usr/bin/bailiff ] || fail "/usr/bin/bailiff missing"
unit=""
for u in /usr/lib/systemd/system/bailiff.service /lib/systemd/system/bailiff.service; do
    [ -f "$u" ] && unit=$u
done
[ -n "$unit" ] || fail "bailiff.service not installed"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$unit" || fail "unit lacks ExecReload"
[ -f /usr/share/man/man1/bailiff.1 ] || [ -f /usr/share/man/man1/bailiff.1.gz ] || fail "man page missing"
[ -L /usr/lib/bailiff/compat/fail2ban-client ] || [ -x /usr/lib/bailiff/compat/fail2ban-client ] ||
    fail "compat fail2ban-client missing"
[ -e /usr/bin/fail2ban-client ] && [ "$(readlink -f /usr/bin/fail2ban-client)" = /usr/bin/bailiff ] &&
    fail "/usr/bin/fail2ban-client points to bailiff"

step "bailiff --version"
/usr/bin/bailiff --version | grep -q '^bailiff ' || fail "bailiff --version"

step "bailiff client -t with the built-in configuration"
/usr/bin/bailiff client -t -c '<embedded>' || fail "client -t on the built-in configuration"
/usr/bin/bailiff client -d -c '<embedded>' | grep -q '"start","sshd"' || fail "sshd not started by the built-in configuration"
/usr/lib/bailiff/compat/fail2ban-client -d -c '<embedded>' | grep -q '"start","sshd"' ||
    fail "compat fail2ban-client"
if [ ! -d /etc/bailiff ] && [ ! -f /etc/fail2ban/jail.conf ]; then
    /usr/bin/bailiff client -t || fail "client -t (no configuration on disk)"
fi

if command -v ip >/dev/null 2>&1 && command -v nft >/dev/null 2>&1; then
    step "installed server, built-in jails, in a network namespace: sshd bans through nftables"
    ov=$(mktemp -d)
    ns=bailiff-deb-$$
    printf '[Definition]\ndbfile = %s/db.sqlite3\nlogtarget = %s/bailiff.log\nsocket = %s/s.sock\npidfile = %s/pid\n' \
        "$ov" "$ov" "$ov" "$ov" > "$ov/fail2ban.local"
    printf '[DEFAULT]\nbailiff_log = %s/bailiff.log\nsshd_log = %s/auth.log\nmaxretry = 2\n' "$ov" "$ov" > "$ov/jail.local"
    : > "$ov/auth.log"
    : > "$ov/bailiff.log"
    ip netns add "$ns"
    cleanup() {
        ip netns exec "$ns" /usr/bin/bailiff client -c "<embedded>+$ov" stop >/dev/null 2>&1 || true
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "$ov"
        dpkg --purge bailiff >/dev/null 2>&1 || true
    }
    ip netns exec "$ns" /usr/bin/bailiff server -f -x -c "<embedded>+$ov" > "$ov/out" 2>&1 &
    i=0
    until [ -S "$ov/s.sock" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -S "$ov/s.sock" ] || { cat "$ov/out" >&2; fail "server did not start"; }
    sleep 1
    for p in 1 2 3; do
        echo "$(date '+%b %e %H:%M:%S') host sshd[70$p]: Failed password for root from 203.0.113.9 port 4000$p ssh2" >> "$ov/auth.log"
    done
    i=0
    until ip netns exec "$ns" nft list set inet bailiff addr-set-sshd 2>/dev/null | grep -q 203.0.113.9 || [ $i -ge 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    ip netns exec "$ns" nft list set inet bailiff addr-set-sshd | grep -q 203.0.113.9 ||
        { cat "$ov/bailiff.log" >&2; fail "203.0.113.9 not in the nftables set"; }
    ip netns exec "$ns" /usr/bin/bailiff client -c "<embedded>+$ov" stop
    ip netns del "$ns"
    rm -rf "$ov"
    cleanup() { dpkg --purge bailiff >/dev/null 2>&1 || true; }
else
    echo "check-deb: SKIPPED live ban check: ip or nft missing" >&2
fi

step "dpkg --purge"
dpkg --purge bailiff
trap - EXIT
[ ! -e /usr/bin/bailiff ] || fail "/usr/bin/bailiff left after purge"
step "OK"
