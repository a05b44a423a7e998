#!/usr/bin/env bash
# bench_compare.sh - ZooKeeper 3.8 and Ferrokeeper side by side, one client, one machine (#6).
#
# Starts the reference ZooKeeper (../shared/tools/zk-ref.sh, forceSync=yes) and Ferrokeeper
# (forceSync=yes) with the same shape, runs `ferrokeeper bench` for each workload on both,
# alternating which server goes first, stops both, and prints one table with the ratios
# Ferrokeeper/ZooKeeper of throughput and p99 latency. Every process it starts is stopped
# on exit (trap EXIT), whatever happens.
#
# Usage: tests/bench_compare.sh            (from anywhere; paths resolve from the repo root)
#
# Environment (all optional):
#   MODE=standalone      standalone | ensemble (3 nodes on 127.0.0.1 each)
#   WORKLOADS="create mixed get set multi watch"
#   DURATION=5 WARMUP=1  seconds measured / warmed up per run
#   SESSIONS=64 IN_FLIGHT=1 VALUE_SIZE=100 KEYS=100
#   ROUNDS=1             repeat the whole set; the table shows the median of the rounds
#   ZK_PORT=23791 FK_PORT=24791   client port (ensemble: +0..+2; quorum +100.., election +200..)
#   FERROKEEPER_BIN=...  binary to use (default: cargo build --release, CARGO_TARGET_DIR aware)
#   ZK_HEAP=1g           ZooKeeper heap (passed to zk-ref.sh)
#   SETTLE_CPU=10 SETTLE_MAX=10  before each run, wait (at most SETTLE_MAX s) until the
#                        servers together use under SETTLE_CPU% of one CPU
#   KEEP=1               keep the work directory (logs, JSON of every run)
#   RESULTS=FILE         also write every run's JSON line to FILE
#   MEMORY_ZNODES=0      after the runs, load this many znodes (100-byte values, ~45-byte
#                        paths, with ../shared/tools/zkload.py) into both servers, then
#                        print a second table: idle RSS, RSS after the load, time from a
#                        kill -9 restart to serving, RSS after that restart. In an ensemble
#                        RSS is the largest member's, and the restart is of every member
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$REPO/../shared}
ZK_REF=${ZK_REF:-$SHARED/tools/zk-ref.sh}
MODE=${MODE:-standalone}
WORKLOADS=${WORKLOADS:-"create mixed get set multi watch"}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SESSIONS=${SESSIONS:-64}
IN_FLIGHT=${IN_FLIGHT:-1}
VALUE_SIZE=${VALUE_SIZE:-100}
KEYS=${KEYS:-100}
ROUNDS=${ROUNDS:-1}
ZK_PORT=${ZK_PORT:-23791}
FK_PORT=${FK_PORT:-24791}
export ZK_HEAP=${ZK_HEAP:-1g}
export ZK_FORCESYNC=yes

log() { echo "bench_compare: $*" >&2; }
die() { log "$*"; exit 1; }

case "$MODE" in
  standalone) NODES=1 ;;
  ensemble) NODES=3 ;;
  *) die "MODE must be standalone or ensemble, not '$MODE'" ;;
esac
[ -x "$ZK_REF" ] || die "$ZK_REF not found (set SHARED or ZK_REF)"

WORK=$(mktemp -d /tmp/bench-compare.XXXXXX)
FK_PIDS=()
ZK_STARTED=0

cleanup() {
  local rc=$? pid
  if [ "$ZK_STARTED" = 1 ]; then
    "$ZK_REF" stop "$WORK/zk" >/dev/null 2>&1 || log "zk-ref.sh stop failed; see $WORK/zk"
  fi
  for pid in "${FK_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- the binary --------------------------------------------------------------------------
if [ -n "${FERROKEEPER_BIN:-}" ]; then
  BIN=$FERROKEEPER_BIN
else
  log "building ferrokeeper (release)"
  (cd "$REPO" && cargo build --release --quiet)
  BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/ferrokeeper
fi
[ -x "$BIN" ] || die "no ferrokeeper binary at $BIN"

port_list() { # BASE -> host:port list of the NODES client ports
  local i out=""
  for ((i = 0; i < NODES; i++)); do out+="${out:+,}127.0.0.1:$(($1 + i))"; done
  echo "$out"
}

# --- ZooKeeper ---------------------------------------------------------------------------
if [ "$MODE" = standalone ]; then
  "$ZK_REF" start-standalone "$ZK_PORT" "$WORK/zk" >"$WORK/zk-start.log" 2>&1 &
else
  "$ZK_REF" start-ensemble "$ZK_PORT" "$WORK/zk" >"$WORK/zk-start.log" 2>&1 &
fi
ZK_STARTER=$!
ZK_STARTED=1 # zk-ref.sh stop only touches the pids it recorded under $WORK/zk
ZK_START_CMD=start-standalone
[ "$MODE" = standalone ] || ZK_START_CMD=start-ensemble
wait "$ZK_STARTER" || { cat "$WORK/zk-start.log" >&2; die "ZooKeeper did not start"; }
ZK_VERSION=$("$ZK_REF" 4lw "$ZK_PORT" srvr | sed -n 's/^Zookeeper version: \([^-,]*\).*/\1/p')

# --- Ferrokeeper -------------------------------------------------------------------------
fk_config() { # NODE -> writes $WORK/fk/nNODE/zoo.cfg
  local n=$1 dir="$WORK/fk/n$1" i
  mkdir -p "$dir/data"
  {
    echo "tickTime=2000"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$dir/data"
    echo "clientPort=$((FK_PORT + n - 1))"
    echo "clientPortAddress=127.0.0.1"
    echo "maxClientCnxns=0"
    echo "4lw.commands.whitelist=*"
    echo "forceSync=yes"
    if [ "$NODES" -gt 1 ]; then
      for ((i = 1; i <= NODES; i++)); do
        echo "server.$i=127.0.0.1:$((FK_PORT + 99 + i)):$((FK_PORT + 199 + i))"
      done
    fi
  } >"$dir/zoo.cfg"
  [ "$NODES" -gt 1 ] && echo "$n" >"$dir/data/myid"
  return 0
}

fk_wait() { # PORT PID -> waits up to 30 s for ruok=imok
  local i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    [ "$("$BIN" 4lw --server "127.0.0.1:$1" ruok 2>/dev/null)" = imok ] && return 0
    sleep 0.2
  done
  return 1
}

for ((n = 1; n <= NODES; n++)); do
  fk_config "$n"
  "$BIN" server --config "$WORK/fk/n$n/zoo.cfg" >"$WORK/fk/n$n/server.log" 2>&1 &
  FK_PIDS+=($!)
done
for ((n = 1; n <= NODES; n++)); do
  fk_wait "$((FK_PORT + n - 1))" "${FK_PIDS[$((n - 1))]}" ||
    { tail -20 "$WORK/fk/n$n/server.log" >&2; die "Ferrokeeper node $n did not start"; }
done
if [ "$NODES" -gt 1 ]; then
  mode=$("$BIN" 4lw --server "127.0.0.1:$FK_PORT" srvr | sed -n 's/^Mode: //p')
  [ "$mode" != standalone ] || die "this Ferrokeeper build runs standalone only (#5): no ensemble run"
fi

rss_mib() { # PID -> VmRSS in MiB (one decimal)
  awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"
}
zk_pids() { awk '{print $2}' "$WORK/zk/pids"; }
max_rss_mib() { # PID... -> the largest VmRSS among them, in MiB
  local pid
  for pid in "$@"; do rss_mib "$pid"; echo; done | sort -g | tail -1
}
MEMORY_ZNODES=${MEMORY_ZNODES:-0}
if [ "$MEMORY_ZNODES" -gt 0 ]; then
  # shellcheck disable=SC2046 # one pid per word
  ZK_IDLE_RSS=$(max_rss_mib $(zk_pids))
  FK_IDLE_RSS=$(max_rss_mib "${FK_PIDS[@]}")
fi

# --- the runs ----------------------------------------------------------------------------
ZK_SERVERS=$(port_list "$ZK_PORT")
FK_SERVERS=$(port_list "$FK_PORT")
RUNS="$WORK/runs.jsonl"
: >"$RUNS"

# CPU time (clock ticks) used so far by every server process of both kinds.
server_ticks() {
  local pid ticks=0
  for pid in "${FK_PIDS[@]}" $(awk '{print $2}' "$WORK/zk/pids" 2>/dev/null); do
    [ -r "/proc/$pid/stat" ] || continue
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$ticks"
}

# Waits until both servers are quiet (under SETTLE_CPU% of one CPU over half a second, for
# at most SETTLE_MAX seconds): a server still writing the snapshot its last run triggered,
# or collecting garbage, would otherwise slow the next run, of either server.
SETTLE_CPU=${SETTLE_CPU:-10}
SETTLE_MAX=${SETTLE_MAX:-10}
CLK_TCK=$(getconf CLK_TCK)
settle() {
  local i before after
  for ((i = 0; i < SETTLE_MAX * 2; i++)); do
    before=$(server_ticks)
    sleep 0.5
    after=$(server_ticks)
    (((after - before) * 100 * 2 <= SETTLE_CPU * CLK_TCK)) && return 0
  done
  log "the servers are still busy after ${SETTLE_MAX}s; running anyway"
}

run_one() { # NAME SERVERS WORKLOAD ROUND
  local out="$WORK/$1-$3-$4.json"
  settle
  log "round $4: $3 on $1"
  if ! "$BIN" bench --servers "$2" --workload "$3" --sessions "$SESSIONS" \
    --in-flight "$IN_FLIGHT" --value-size "$VALUE_SIZE" --keys "$KEYS" \
    --duration "$DURATION" --warmup "$WARMUP" --json >"$out" 2>"$WORK/$1-$3-$4.err"; then
    tail -5 "$WORK/$1-$3-$4.err" >&2
    die "bench failed: $3 on $1"
  fi
  printf '{"server":"%s","round":%s,"run":%s}\n' "$1" "$4" "$(cat "$out")" >>"$RUNS"
}

for ((round = 1; round <= ROUNDS; round++)); do
  turn=$round
  for w in $WORKLOADS; do
    # Alternate who goes first, from one workload to the next and from one round to the
    # next for each workload, so neither server always runs on a warmer machine.
    if ((turn % 2 == 1)); then
      run_one zookeeper "$ZK_SERVERS" "$w" "$round"
      run_one ferrokeeper "$FK_SERVERS" "$w" "$round"
    else
      run_one ferrokeeper "$FK_SERVERS" "$w" "$round"
      run_one zookeeper "$ZK_SERVERS" "$w" "$round"
    fi
    turn=$((turn + 1))
  done
done
[ -z "${RESULTS:-}" ] || cp "$RUNS" "$RESULTS"

# --- the table ---------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# $MODE, $SESSIONS sessions x $IN_FLIGHT in flight, ${VALUE_SIZE}-byte values," \
  "${DURATION}s measured after ${WARMUP}s warm-up, $ROUNDS round(s); forceSync=yes on both"
echo "# machine: $(nproc) CPUs ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ferrokeeper $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "(plus uncommitted changes, if any), ZooKeeper ${ZK_VERSION:-?}"
python3 - "$RUNS" "$WORKLOADS" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def med(server, workload, key, sub=None):
    vals = [r["run"][sub][key] if sub else r["run"][key] for r in runs
            if r["server"] == server and r["run"]["workload"] == workload]
    return statistics.median(vals) if vals else float("nan")
head = ("workload", "ZK ops/s", "FK ops/s", "FK/ZK", "ZK p99 ms", "FK p99 ms", "FK/ZK",
        "ZK err", "FK err")
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for w in sys.argv[2].split():
    zo, fo = med("zookeeper", w, "ops_per_s"), med("ferrokeeper", w, "ops_per_s")
    zp, fp = med("zookeeper", w, "p99_ms", "latency"), med("ferrokeeper", w, "p99_ms", "latency")
    ze, fe = med("zookeeper", w, "error_count"), med("ferrokeeper", w, "error_count")
    ratio = lambda a, b: "%.2f" % (a / b) if b else "-"
    print("| %s | %.0f | %.0f | %s | %.2f | %.2f | %s | %d | %d |"
          % (w, zo, fo, ratio(fo, zo), zp, fp, ratio(fp, zp), ze, fe))
EOF

# --- memory and restart (MEMORY_ZNODES > 0) --------------------------------------------------
[ "$MEMORY_ZNODES" -gt 0 ] || exit 0
ZKLOAD=${ZKLOAD:-$SHARED/tools/zkload.py}
[ -r "$ZKLOAD" ] || die "$ZKLOAD not found"

serving() { # PORT -> true once `srvr` shows a Mode (the server answers clients)
  "$BIN" 4lw --server "127.0.0.1:$1" srvr 2>/dev/null | grep -q '^Mode: '
}

wait_serving() { # PORT T0 -> seconds from T0 (date +%s.%N) until serving (polled every 20 ms)
  local i
  for ((i = 0; i < 15000; i++)); do
    if serving "$1"; then
      echo "$(date +%s.%N) - $2" | bc
      return 0
    fi
    sleep 0.02
  done
  return 1
}

all_serving() { # FIRST_PORT -> waits until every member serves (RSS is read after that)
  local i
  for ((i = 0; i < NODES; i++)); do
    wait_serving "$(($1 + i))" "$(date +%s.%N)" >/dev/null || return 1
  done
}

load() { # NAME PORT
  log "loading $MEMORY_ZNODES znodes into $1"
  python3 "$ZKLOAD" --hosts "127.0.0.1:$2" -n "$MEMORY_ZNODES" --size 100 -c 256 -k 16 -P 1 \
    --ops create --root /bench_compare_memory_anchor >"$WORK/load-$1.log" 2>&1 ||
    { tail -5 "$WORK/load-$1.log" >&2; die "loading $1 failed"; }
  sleep 2 # let background work (snapshots, GC) settle before reading RSS
}

load zookeeper "$ZK_PORT"
# shellcheck disable=SC2046 # one pid per word
ZK_LOADED_RSS=$(max_rss_mib $(zk_pids))
load ferrokeeper "$FK_PORT"
FK_LOADED_RSS=$(max_rss_mib "${FK_PIDS[@]}")

# kill -9 every member and restart each on its own data; time from the exec to the first
# member serving (in an ensemble: once a quorum is back and has a leader).
mapfile -t pids < <(zk_pids)
kill -9 "${pids[@]}"
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
done
t0=$(date +%s.%N)
"$ZK_REF" "$ZK_START_CMD" "$ZK_PORT" "$WORK/zk" >"$WORK/zk-restart.log" 2>&1 &
ZK_RESTART_S=$(wait_serving "$ZK_PORT" "$t0") || die "ZooKeeper did not restart"
wait $! || { cat "$WORK/zk-restart.log" >&2; die "zk-ref.sh restart failed"; }
all_serving "$ZK_PORT" || die "a ZooKeeper member did not come back"
# shellcheck disable=SC2046 # one pid per word
ZK_RESTART_RSS=$(max_rss_mib $(zk_pids))

kill -9 "${FK_PIDS[@]}"
for pid in "${FK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
t0=$(date +%s.%N)
for ((n = 1; n <= NODES; n++)); do
  "$BIN" server --config "$WORK/fk/n$n/zoo.cfg" >>"$WORK/fk/n$n/server.log" 2>&1 &
  FK_PIDS[n - 1]=$!
done
FK_RESTART_S=$(wait_serving "$FK_PORT" "$t0") || die "Ferrokeeper did not restart"
all_serving "$FK_PORT" || die "a Ferrokeeper member did not come back"
FK_RESTART_RSS=$(max_rss_mib "${FK_PIDS[@]}")

echo
scope="the server"
[ "$NODES" -eq 1 ] || scope="every member (RSS: the largest member's)"
echo "# $MEMORY_ZNODES znodes (100-byte values), ZooKeeper heap $ZK_HEAP; restart = kill -9 of" \
  "$scope, then exec to the first 'srvr' answer with a Mode"
python3 - "$ZK_IDLE_RSS" "$FK_IDLE_RSS" "$ZK_LOADED_RSS" "$FK_LOADED_RSS" "$ZK_RESTART_S" \
  "$FK_RESTART_S" "$ZK_RESTART_RSS" "$FK_RESTART_RSS" "$(stat -c %s "$BIN")" <<'EOF'
import sys
v = [float(x) for x in sys.argv[1:]]
rows = [("idle RSS, MiB", v[0], v[1], "%.1f"), ("RSS after the load, MiB", v[2], v[3], "%.1f"),
        ("restart to serving, s", v[4], v[5], "%.2f"),
        ("RSS after the restart, MiB", v[6], v[7], "%.1f")]
print("| figure | ZooKeeper | Ferrokeeper | FK/ZK |")
print("|---|---|---|---|")
for name, z, f, fmt in rows:
    print("| %s | %s | %s | %.2f |" % (name, fmt % z, fmt % f, f / z))
print("| ferrokeeper binary, bytes | - | %d | - |" % v[8])
EOF
