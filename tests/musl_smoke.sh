#!/usr/bin/env bash
# tests/musl_smoke.sh BINARY - checks a static release binary end to end: it is statically
# linked, smaller than 8 MiB, prints --version, and serves a client. The server runs on a free
# 127.0.0.1 port with a temporary data directory; the binary's own `cli` creates and reads a
# znode and its `4lw` sends ruok. Every step is bounded by `timeout`, and the trap stops the
# server and removes the directory however the script ends.
set -euo pipefail

BIN=${1:?usage: tests/musl_smoke.sh BINARY}
SIZE_MAX_BYTES=$((8 * 1024 * 1024))
STEP_TIMEOUT_S=20

fail() { echo "musl_smoke: FAIL: $*" >&2; exit 1; }

[ -x "$BIN" ] || fail "$BIN is not an executable file"

linkage=$(file -b "$BIN")
case "$linkage" in
  *"static-pie linked"* | *"statically linked"*) ;;
  *) fail "not statically linked: $linkage" ;;
esac
# ldd prints "not a dynamic executable" (glibc) or "statically linked" for a static binary,
# and exits non-zero for the former.
ldd_out=$(ldd "$BIN" 2>&1 || true)
case "$ldd_out" in
  *"not a dynamic executable"* | *"statically linked"*) ;;
  *) fail "ldd lists shared libraries: $ldd_out" ;;
esac

size_bytes=$(stat -c %s "$BIN")
[ "$size_bytes" -lt "$SIZE_MAX_BYTES" ] || fail "size $size_bytes bytes >= $SIZE_MAX_BYTES"
echo "musl_smoke: $BIN: $linkage; $size_bytes bytes"

version=$(timeout "$STEP_TIMEOUT_S" "$BIN" --version)
case "$version" in
  "ferrokeeper "[0-9]*) echo "musl_smoke: --version: $version" ;;
  *) fail "--version printed '$version'" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/fk-musl-smoke.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free port: bind port 0 on loopback, read the port the kernel chose, release it. Another
# process could take it before the server binds; the server then fails to start and we say so.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/zoo.cfg" <<EOF
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
4lw.commands.whitelist=ruok,srvr,mntr
EOF

"$BIN" server "$work/zoo.cfg" > "$work/server.log" 2>&1 &
server_pid=$!

# Wait (at most ~10 s) until ruok answers imok.
answer=
for _ in $(seq 1 100); do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; fail "server exited"; }
  answer=$(timeout 5 "$BIN" 4lw --server "127.0.0.1:$port" ruok 2>/dev/null || true)
  [ "$answer" = imok ] && break
  sleep 0.1
done
[ "$answer" = imok ] || { cat "$work/server.log" >&2; fail "ruok answered '$answer'"; }
echo "musl_smoke: ruok -> $answer"

cli() { timeout "$STEP_TIMEOUT_S" "$BIN" cli -server "127.0.0.1:$port" "$@"; }
cli create /musl-smoke hello-from-musl > /dev/null || fail "cli create failed"
data=$(cli get /musl-smoke) || fail "cli get failed"
[ "$data" = hello-from-musl ] || fail "cli get printed '$data'"
echo "musl_smoke: create/get /musl-smoke -> $data"

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
echo "musl_smoke: ok"
