#!/bin/sh
# bench/run.sh - superd against bench/ref in one run, interleaved (ref, then
# superd, for each row), the server on CPU 0 and the load generator on CPU 1.
# Prints a markdown table on stdout; progress and raw results go to stderr.
# QUICK=1 runs each row twice instead of four times, for 0.7 s instead of
# 1.5 s (chat: one 2 s run instead of three of 4 s; echo beside floods:
# 2 s instead of 3), measures idle CPU over 1 s instead of 3, and churns
# 50,000 connections instead of 1,000,000; the 10,000 idle connections
# stay.  The TLS rows (bench/ref_tls against superd serving echo.lua
# over TLS 1.3 with a throwaway ECDSA P-256 certificate) hold 2,000 idle
# TLS connections instead of 10,000, and run 1.5 s of handshakes instead
# of 3.
# SUPERD=path measures that superd binary instead of ./superd (an older
# build, for a before and after).  BENCH_ONLY=tls runs the TLS rows
# alone.
#
# `make bench` runs it after building superd, bench/loadgen and bench/ref.

set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
SUPERD_BIN=${SUPERD:-./superd}

# Each row runs REPS times on each server, alternating.  Other work on
# a shared host only ever slows a run down, so the table shows each
# server's best run for throughput and CPU per request, the median for
# latency, and totals for errors and losses.  A run in which the server
# or the load generator waited for a CPU more than DISTURBED of the time
# (schedstat's run_delay) is left out when a clean one exists, and the
# row gets more runs, up to twice REPS, while the run is within BUDGET.
DISTURBED=0.10
START=$(date +%s)
if [ "${QUICK:-}" = 1 ]; then
	BUDGET=40	# seconds after which no run is repeated
	REPS=2		# runs per row and server
	SECS=0.7	# echo, connect, udp: measured seconds per run
	CHAT_REPS=1
	CHAT_SECS=2	# chat: seconds of lines at CHAT_RATE per run
	HOLD=1		# idle: seconds the idle CPU is measured over
	CHURN=50000	# QOTD connections opened and closed for the RSS drift
	REF_CHURN=50000	# (ref's RSS is flat; its churn is kept short)
	FLOOD_SECS=2	# echo beside floods: measured seconds per run
	TLS_IDLE=2000	# idle TLS connections, for RSS per connection
	HS_SECS=1.5	# TLS handshakes: measured seconds per run
else
	BUDGET=210
	REPS=4
	SECS=1.5
	CHAT_REPS=3
	CHAT_SECS=4
	HOLD=3
	CHURN=1000000
	REF_CHURN=100000
	FLOOD_SECS=3
	TLS_IDLE=10000
	HS_SECS=3
fi
CHAT_RATE=20
IDLE=10000	# idle connections, for RSS per connection and the reload stall
STALL_RUNS=3	# 1 s echo windows, each with one SIGUSR1 in its middle

TMP=$(mktemp -d "${TMPDIR:-/tmp}/superd-bench.XXXXXX") || exit 1
PIDS=

# Every process this script started, by its pid, whatever way it ends.
cleanup()
{
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# stop PID: ends a helper this script started and forgets its pid, so
# the cleanup never signals a number the system has given to another.
stop()
{
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	forget "$1"
}

# forget PID: a helper that has ended and been waited for.
forget()
{
	PIDS=$(echo "$PIDS" | sed "s/ $1\b//")
}

say()
{
	echo "bench: $*" >&2
}

die()
{
	say "$*"
	exit 1
}

# The floods beside an echo take only what CPU the echo client leaves.
if command -v chrt >/dev/null 2>&1; then
	IDLE_LG="chrt --idle 0"
else
	IDLE_LG=
	say "note: chrt missing, the floods run at the echo client's priority"
fi

if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	PIN_SRV="taskset -c 0"
	PIN_LG="taskset -c 1"
	PINNING="server on CPU 0, load generator on CPU 1 (taskset)"
else
	PIN_SRV=
	PIN_LG=
	PINNING="not pinned (taskset missing or fewer than 2 CPUs)"
	say "note: $PINNING"
fi

# A port nobody uses for TCP or UDP, below the ephemeral range, so a
# client's own port can never take it.
port_free()
{
	! cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 \
	    2>/dev/null | grep -q "$(printf ':%04X ' "$1")"
}

# pick_port VAR: not in a subshell, so the next pick moves on.
NEXT_PORT=$((20000 + $$ % 10000))
pick_port()
{
	while ! port_free "$NEXT_PORT"; do
		NEXT_PORT=$((NEXT_PORT + 1))
	done
	eval "$1=$NEXT_PORT"
	NEXT_PORT=$((NEXT_PORT + 1))
}

listening()
{
	grep -q "$(printf ':%04X 00000000:0000 0A' "$1")" /proc/net/tcp
}

for v in R_ECHO R_QOTD R_CHAT S_ECHO S_QOTD S_CHAT S_EXEC S_CHARGEN; do
	pick_port $v
done
QUOTES=$ROOT/conf/quotes.txt

# The shipped scripts; no per-connection log lines (ref writes none).
cat >"$TMP/superd.conf" <<EOF
log = "stderr";
log_level = "notice";
script_dir = "$ROOT/services";
max_connections = 30000;
services = (
  { name = "echo"; port = $S_ECHO; address = "127.0.0.1";
    protocol = ["tcp", "udp"]; script = "echo.lua"; max_connections = 30000; },
  { name = "qotd"; port = $S_QOTD; address = "127.0.0.1"; script = "qotd.lua";
    max_connections = 30000; options = { quotes = "$QUOTES"; }; },
  { name = "chat"; port = $S_CHAT; address = "127.0.0.1"; script = "chat.lua";
    max_connections = 30000; options = { login_timeout = 60; }; },
  { name = "qotd-exec"; port = $S_EXEC; address = "127.0.0.1";
    exec = ["/bin/cat", "$QUOTES"]; max_connections = 30000; },
  { name = "chargen"; port = $S_CHARGEN; address = "127.0.0.1";
    script = "chargen.lua"; }
);
EOF

"$SUPERD_BIN" -t -c "$TMP/superd.conf" >&2 || die "the bench configuration does not load"

# What is measured: the binary as it is now, whatever is rebuilt later.
SUPERD_IS="$("$SUPERD_BIN" -V 2>&1 | head -n 1), binary of $(date -u -r "$SUPERD_BIN" '+%Y-%m-%d %H:%M UTC')"
if [ "$SUPERD_BIN" != ./superd ]; then
	SUPERD_IS="$SUPERD_IS, SUPERD=$SUPERD_BIN (not this tree's build)"
elif command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
	SUPERD_IS="$SUPERD_IS, built from $(git log -1 --format=%h)"
	git diff --quiet HEAD -- superd.c modules ||
	    SUPERD_IS="$SUPERD_IS with local changes"
fi
$PIN_SRV bench/ref -e "$R_ECHO" -u "$R_ECHO" -q "$R_QOTD" -c "$R_CHAT" \
    -f "$QUOTES" 2>"$TMP/ref.log" &
REF=$!
PIDS="$PIDS $REF"
$PIN_SRV "$SUPERD_BIN" -c "$TMP/superd.conf" 2>"$TMP/superd.log" &
SUPERD=$!
PIDS="$PIDS $SUPERD"

i=0
until listening "$R_CHAT" && listening "$S_EXEC"; do
	i=$((i + 1))
	[ $i -lt 100 ] || die "the servers did not start: $(cat "$TMP"/*.log)"
	sleep 0.1
done

# The server died: say where and show its log ($TMP/NAME$PHASE.log), then
# stop.
PHASE=
alive()
{
	kill -0 "$2" 2>/dev/null && return 0
	say "$1 (pid $2) is gone, during: $3; the end of its log:"
	tail -n 20 "$TMP/$1$PHASE.log" >&2
	exit 1
}

rss_kib()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

cpu_ticks()
{
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# field KEY LINE: the value of KEY=value in a loadgen result line.
field()
{
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# lg NAME PID WHAT LOADGEN-ARGS...: one test, its result line in $OUT.
lg()
{
	name=$1 pid=$2 what=$3
	shift 3
	OUT=$($PIN_LG bench/loadgen -P "$pid" "$@" 2>"$TMP/lg.err")
	[ -s "$TMP/lg.err" ] && sed "s/^/bench: $name $what: /" "$TMP/lg.err" >&2
	say "$name $what: $OUT"
	alive "$name" "$pid" "$what"
	[ -n "$OUT" ] || die "$name $what: the load generator printed nothing"
}

ROWS=$TMP/rows
: >"$ROWS"

# row FIGURE REF SUPERD CHECK TARGET: CHECK is ge:X or le:X (the ratio
# superd/ref), max:X (superd's own figure) or - (shown only).
row()
{
	echo "$1|$2|$3|$4|$5" >>"$ROWS"
}

# pair LABEL REF-PORT SUPERD-PORT LOADGEN-ARGS...: REPS runs on each
# server, alternating, so a noisy spell on the host hits both alike;
# more while either has fewer than half its runs clean.
pair()
{
	label=$1 rp=$2 sp=$3
	shift 3
	: >"$TMP/ref.runs"
	: >"$TMP/superd.runs"
	k=0
	while [ $k -lt "$REPS" ] || { [ $k -lt $((REPS * 2)) ] &&
	    ! over_budget && { [ $(($(clean ref) * 2)) -lt "$REPS" ] ||
		[ $(($(clean superd) * 2)) -lt "$REPS" ]; }; }; do
		k=$((k + 1))
		lg ref "$REF" "$label" -p "$rp" "$@"
		echo "$OUT" >>"$TMP/ref.runs"
		lg superd "$SUPERD" "$label" -p "$sp" "$@"
		echo "$OUT" >>"$TMP/superd.runs"
	done
	tally ref
	tally superd
}

# tally RUNS: adds the runs, and the disturbed ones, to the run's count.
RUNS=0
DIRTY=0
tally()
{
	RUNS=$((RUNS + $(grep -c . "$TMP/$1.runs")))
	DIRTY=$((DIRTY + $(grep -c . "$TMP/$1.runs") - $(clean "$1")))
}

over_budget()
{
	[ $(($(date +%s) - START)) -ge "$BUDGET" ]
}

# clean RUNS: how many of the runs no other work disturbed.
clean()
{
	awk -v d="$DISTURBED" '{ for (i = 1; i <= NF; i++)
		if ($i ~ /^waited=/ && substr($i, 8) + 0 <= d) n++ }
	    END { print n + 0 }' "$TMP/$1.runs"
}

# pick RUNS FIELD max|min|med [SCALE]: one figure over the runs, times
# SCALE; over the clean runs only, when there are any.
pick()
{
	awk -v d="$DISTURBED" -v c="$(clean "$1")" '{
		for (i = 1; i <= NF; i++)
			if ($i ~ /^waited=/ && c > 0 && substr($i, 8) + 0 > d)
				next
		print
	    }' "$TMP/$1.runs" >"$TMP/pick.runs"
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$TMP/pick.runs" | sort -g |
	    awk -v how="$3" -v k="${4:-1}" '{ v[NR] = $1 * k }
		END {
			x = v[how == "min" ? 1 : how == "max" ? NR : int((NR + 1) / 2)]
			f = x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : "%.3f"
			printf f "\n", x
		}'
}

# Throughput: the best run.  CPU per request: the cheapest.  Latency: the
# median run.
rate()
{
	pick "$1" "$2" max
}

cost()
{
	pick "$1" "$2" min "${3:-1}"
}

med()
{
	pick "$1" "$2" med
}

# sum RUNS FIELD: errors and losses add up over the runs.
sum()
{
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$TMP/$1.runs" |
	    awk '{ t += $1 } END { print t + 0 }'
}

# gap NAME PID PORT SIGNAL: GAP, the longest round-trip (ms) an echo client
# sees in STALL_RUNS windows of 1 s, the server getting SIGNAL (if any)
# half-way through each; the same without a signal says what is noise.
gap()
{
	: >"$TMP/gap.runs"
	k=0
	while [ $k -lt $((STALL_RUNS * 2)) ] &&
	    [ "$(clean gap)" -lt "$STALL_RUNS" ]; do
		k=$((k + 1))
		$PIN_LG bench/loadgen -P "$2" -m echo -p "$3" -c 10 -d 1 \
		    >"$TMP/gap.out" &
		echo_pid=$!
		PIDS="$PIDS $echo_pid"
		sleep 0.5
		[ -n "$4" ] && kill "-$4" "$2"
		wait $echo_pid
		stop $echo_pid
		say "$1 echo gap${4:+ with SIG$4}: $(cat "$TMP/gap.out")"
		alive "$1" "$2" "echo with $IDLE connections open${4:+, SIG$4}"
		cat "$TMP/gap.out" >>"$TMP/gap.runs"
		[ $k -ge "$STALL_RUNS" ] && over_budget && break
	done
	tally gap
	GAP=$(pick gap max_us max 0.001)
}

# hold_idle NAME PID PORT N [-t]: N connections opened (over TLS with -t),
# one round-trip each, and left idle, held by the load generator $idle;
# ${NAME}_rss the server's RSS growth per connection (KiB).
hold_idle()
{
	name=$1 pid=$2 port=$3 n=$4
	shift 4
	rss0=$(rss_kib "$pid")
	# emptied first: the last run's ready line must not pass for this one's
	: >"$TMP/idle.out"
	$PIN_LG bench/loadgen -m idle -p "$port" -c "$n" -H 600 "$@" \
	    >"$TMP/idle.out" 2>"$TMP/idle.err" &
	idle=$!
	PIDS="$PIDS $idle"
	i=0
	until grep -q ready "$TMP/idle.out"; do
		i=$((i + 1))
		[ $i -lt 1800 ] && kill -0 $idle 2>/dev/null ||
		    die "$name idle: no ready line: $(cat "$TMP/idle.err")"
		sleep 0.1
	done
	line=$(cat "$TMP/idle.out")
	say "$name idle${*:+ $*}: $line"
	[ -s "$TMP/idle.err" ] && sed "s/^/bench: $name idle: /" "$TMP/idle.err" >&2
	alive "$name" "$pid" "idle $n${*:+ $*}"
	rss1=$(rss_kib "$pid")
	eval "${name}_rss=$(awk -v a="$rss0" -v b="$rss1" \
	    -v n="$(field conns "$line")" 'BEGIN { printf "%.2f", (b - a) / n }')"
}

# Idle connections on fresh servers, so the baseline is each one's own:
# RSS per connection, CPU while idle, and the longest echo gap while
# superd reloads its scripts (ref has no reload: its gap is the floor).
idle_test()
{
	name=$1 pid=$2 port=$3
	hold_idle "$name" "$pid" "$port" "$IDLE"
	t0=$(cpu_ticks "$pid")
	sleep "$HOLD"
	t1=$(cpu_ticks "$pid")
	eval "${name}_idlecpu=$(awk -v t="$((t1 - t0))" -v s="$HOLD" \
	    -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz / s * 100 }')"
	gap "$name" "$pid" "$port" ""
	eval "${name}_gap=$GAP"
	if [ "$name" = superd ]; then
		gap "$name" "$pid" "$port" USR1
		eval "${name}_stall=$GAP"
	fi
	stop $idle
	sleep 0.5
}

say "ports: ref $R_ECHO/$R_QOTD/$R_CHAT, superd $S_ECHO/$S_QOTD/$S_CHAT/$S_EXEC"
say "$PINNING; $REPS run(s) of ${SECS}s per row, chat $CHAT_REPS of ${CHAT_SECS}s, churn $CHURN; log in $TMP"

# BENCH_ONLY=tls: the TLS rows alone (the main servers start, and wait).
if [ "${BENCH_ONLY:-}" != tls ]; then
idle_test ref "$REF" "$R_ECHO"
idle_test superd "$SUPERD" "$S_ECHO"
row "memory per idle connection, $IDLE open (KiB above baseline)" \
    "$ref_rss" "$superd_rss" "max:3" "≤ 3 KiB"
row "server CPU while $IDLE connections idle (%)" \
    "$ref_idlecpu" "$superd_idlecpu" "max:0" "0%"
row "longest echo gap, $IDLE open, no signal (ms)" \
    "$ref_gap" "$superd_gap" - "(noise floor)"
row "longest echo gap, $IDLE open, superd gets SIGUSR1 (ms)" \
    "$ref_gap" "$superd_stall" "max:20" "≤ 20 ms"

# echo C: round-trips/s, latency and the server's CPU per round-trip.
for c in 1 100 1000; do
	pair "echo C=$c" "$R_ECHO" "$S_ECHO" -m echo -c "$c" -d "$SECS"
	t=-
	[ $c -gt 1 ] && t="ge:0.85"
	row "echo C=$c: round-trips/s" "$(rate ref rps)" "$(rate superd rps)" \
	    "$t" "$([ $c -gt 1 ] && echo '≥ 0.85 × ref')"
	row "echo C=$c: p99 latency (µs)" "$(med ref p99_us)" \
	    "$(med superd p99_us)" - ""
	t=-
	[ $c = 100 ] && t="le:1.25"
	row "echo C=$c: server CPU s per 100,000 round-trips" \
	    "$(cost ref srv_cpu_us 0.1)" "$(cost superd srv_cpu_us 0.1)" \
	    "$t" "$([ $c = 100 ] && echo '≤ 1.25 × ref')"
	row "echo C=$c: errors" "$(sum ref errors)" "$(sum superd errors)" \
	    "max:0" "0"
done

# connect C=50: QOTD connections/s and the server's CPU per connection,
# and the same from an exec service, inetd's way (its children's CPU
# counts: superd reaps them).
pair "qotd C=50" "$R_QOTD" "$S_QOTD" -m connect -c 50 -d "$SECS"
row "qotd C=50: connections/s" "$(rate ref rps)" "$(rate superd rps)" - ""
row "qotd C=50: server CPU µs per connection" "$(cost ref srv_cpu_us)" \
    "$(cost superd srv_cpu_us)" "le:1.5" "≤ 1.5 × ref"
row "qotd C=50: errors" "$(sum ref errors)" "$(sum superd errors)" "max:0" "0"
: >"$TMP/exec.runs"
for k in $(seq "$REPS"); do
	lg superd "$SUPERD" "qotd C=50 exec" -m connect -p "$S_EXEC" -c 50 \
	    -d "$SECS"
	echo "$OUT" >>"$TMP/exec.runs"
done
row "qotd C=50, superd exec /bin/cat: connections/s" "$(rate ref rps)" \
    "$(rate exec rps)" - "(inetd's way)"
row "qotd C=50, superd exec /bin/cat: server CPU µs per connection" \
    "$(cost ref srv_cpu_us)" "$(cost exec srv_cpu_us)" - "~150 × ref"
row "qotd C=50, superd exec /bin/cat: errors" "$(sum ref errors)" \
    "$(sum exec errors)" - ""

# chat M: fan-out of one line at a time to M-1 members.
for m in 100 1000; do
	reps=$REPS
	REPS=$CHAT_REPS
	pair "chat M=$m" "$R_CHAT" "$S_CHAT" -m chat -c "$m" \
	    -d "$CHAT_SECS" -r "$CHAT_RATE"
	REPS=$reps
	row "chat M=$m: fan-out p50 (µs)" "$(med ref p50_us)" \
	    "$(med superd p50_us)" - ""
	t=-
	[ $m = 1000 ] && t="le:1.5"
	row "chat M=$m: fan-out p99 (µs)" "$(med ref p99_us)" \
	    "$(med superd p99_us)" "$t" "$([ $m = 1000 ] && echo '≤ 1.5 × ref')"
	row "chat M=$m: lines lost (of $(sum superd requests))" \
	    "$(sum ref lines_lost)" "$(sum superd lines_lost)" "max:0" "0"
	row "chat M=$m: server CPU µs per line" "$(cost ref srv_cpu_us)" \
	    "$(cost superd srv_cpu_us)" - ""
done

pair "udp C=64" "$R_ECHO" "$S_ECHO" -m udp -c 64 -d "$SECS"
row "udp echo C=64: datagrams/s" "$(rate ref rps)" "$(rate superd rps)" \
    "ge:0.80" "≥ 0.80 × ref"
row "udp echo C=64: server CPU µs per datagram" "$(cost ref srv_cpu_us)" \
    "$(cost superd srv_cpu_us)" - ""
row "udp echo C=64: datagrams lost (resent after 1 s)" "$(sum ref lost)" \
    "$(sum superd lost)" - ""

# Echo beside floods: one echo client (64-byte lines, one at a time) while
# a chargen client reads as fast as it can and a chat talker says lines as
# fast as the chat takes them to one member, each a load generator of its
# own started half a second before the echo window and ending half a
# second after it, at SCHED_IDLE so that they take only the CPU the echo
# client leaves.  superd only: ref has no chargen.  What superd cut short
# is counted: a chargen stream it ended, lines the member never got.
beside_floods()
{
	: >"$TMP/beside.runs"
	ENDED=0
	LOST=0
	for k in $(seq "$REPS"); do
		len=$(awk -v s="$FLOOD_SECS" 'BEGIN { print s + 1 }')
		$PIN_LG $IDLE_LG bench/loadgen -m stream -p "$S_CHARGEN" -c 1 \
		    -d "$len" >"$TMP/stream.out" 2>"$TMP/stream.err" &
		st=$!
		$PIN_LG $IDLE_LG bench/loadgen -m flood -p "$S_CHAT" -c 2 \
		    -d "$len" >"$TMP/flood.out" 2>"$TMP/flood.err" &
		fl=$!
		PIDS="$PIDS $st $fl"
		sleep 0.5
		lg superd "$SUPERD" "echo beside floods" -m echo -p "$S_ECHO" \
		    -c 1 -d "$FLOOD_SECS"
		echo "$OUT" >>"$TMP/beside.runs"
		wait "$st"
		forget "$st"
		wait "$fl"
		forget "$fl"
		for f in stream flood; do
			say "superd $f beside the echo: $(cat "$TMP/$f.out")"
			sed "s/^/bench: superd $f: /" "$TMP/$f.err" >&2
		done
		e=$(field ended "$(cat "$TMP/stream.out")")
		l=$(field lines_lost "$(cat "$TMP/flood.out")")
		ENDED=$((ENDED + ${e:-1}))
		LOST=$((LOST + ${l:-1}))
		alive superd "$SUPERD" "echo beside floods"
	done
	tally beside
}
beside_floods
row "echo p99 while chargen and a chat talker flood (ms)" "—" \
    "$(pick beside p99_us med 0.001)" "max:10" "≤ 10 ms"
row "echo max while chargen and a chat talker flood (ms)" "—" \
    "$(pick beside max_us max 0.001)" - "(worst run)"
row "chargen streams superd ended while read at full speed" "—" \
    "$ENDED" "max:0" "0"
row "chat flood lines a member reading at full speed did not get" "—" \
    "$LOST" "max:0" "0"

# RSS drift: after the first 10,000 QOTD connections, then after COUNT
# (or as many as 90 s allow), both counted from the server's start.
churn()
{
	name=$1 pid=$2 port=$3 count=$4
	lg "$name" "$pid" "churn first 10000" -m connect -p "$port" -c 50 \
	    -d 60 -n 10000
	a=$(rss_kib "$pid")
	lg "$name" "$pid" "churn to $count" -m connect -p "$port" -c 50 \
	    -d 90 -n $((count - 10000))
	b=$(rss_kib "$pid")
	n=$((10000 + $(field requests "$OUT")))
	say "$name churn: RSS $a KiB after 10000 connections, $b KiB after $n"
	eval "${name}_churned=$n"
	eval "${name}_drift=\"$(awk -v a="$a" -v b="$b" \
	    'BEGIN { printf "%.1f (%d → %d KiB)", (b - a) * 100 / a, a, b }')\""
}
churn ref "$REF" "$R_QOTD" "$REF_CHURN"
churn superd "$SUPERD" "$S_QOTD" "$CHURN"
row "RSS growth, 10,000 to $superd_churned QOTD connections (ref: to $ref_churned) (%)" \
    "$ref_drift" "$superd_drift" "max:10" "≤ 10%"
fi

# TLS: bench/ref_tls against a superd of its own serving the shipped
# services/echo.lua over TLS 1.3, both fresh (the idle memory's baseline
# is each one's own) and pinned as the others, with a throwaway ECDSA
# P-256 certificate; the servers above wait, idle.
tls_start()
{
	for v in RT_ECHO ST_ECHO; do
		pick_port $v
	done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -subj /CN=localhost -days 1 -keyout "$TMP/key.pem" \
	    -out "$TMP/cert.pem" 2>"$TMP/openssl.log" ||
	    die "no certificate: $(cat "$TMP/openssl.log")"
	cat >"$TMP/superd-tls.conf" <<EOC
log = "stderr";
log_level = "notice";
script_dir = "$ROOT/services";
max_connections = 30000;
services = ({ name = "echo-tls"; port = $ST_ECHO; address = "127.0.0.1";
  script = "echo.lua"; max_connections = 30000;
  tls = { certificate = "$TMP/cert.pem"; key = "$TMP/key.pem";
          min_version = "TLSv1.3"; }; });
EOC
	"$SUPERD_BIN" -t -c "$TMP/superd-tls.conf" >&2 ||
	    die "the TLS configuration does not load"
	PHASE=-tls
	$PIN_SRV bench/ref_tls -e "$RT_ECHO" -C "$TMP/cert.pem" \
	    -K "$TMP/key.pem" 2>"$TMP/ref-tls.log" &
	REF=$!
	$PIN_SRV "$SUPERD_BIN" -c "$TMP/superd-tls.conf" \
	    2>"$TMP/superd-tls.log" &
	SUPERD=$!
	PIDS="$PIDS $REF $SUPERD"
	i=0
	until listening "$RT_ECHO" && listening "$ST_ECHO"; do
		i=$((i + 1))
		[ $i -lt 100 ] ||
		    die "the TLS servers did not start: $(cat "$TMP"/*-tls.log)"
		sleep 0.1
	done
}

MAIN_REF=$REF
MAIN_SUPERD=$SUPERD
tls_start
say "TLS: ports ref_tls $RT_ECHO, superd $ST_ECHO; $TLS_IDLE idle, ${HS_SECS}s of handshakes per run"
hold_idle ref "$REF" "$RT_ECHO" "$TLS_IDLE" -t
stop $idle
hold_idle superd "$SUPERD" "$ST_ECHO" "$TLS_IDLE" -t
stop $idle
row "memory per idle TLS connection, $TLS_IDLE open (KiB above baseline)" \
    "$ref_rss" "$superd_rss" "max:48" "≤ 48 KiB"

# Full handshakes: connect, handshake, one 64-byte round-trip (the
# server has finished its side), close_notify; no session kept.
pair "tls handshakes C=50" "$RT_ECHO" "$ST_ECHO" -m handshake -c 50 \
    -d "$HS_SECS"
row "tls handshakes C=50: full handshakes/s" "$(rate ref rps)" \
    "$(rate superd rps)" - ""
row "tls handshakes C=50: p99, connect to the first echo (µs)" \
    "$(med ref p99_us)" "$(med superd p99_us)" - ""
row "tls handshakes C=50: server CPU µs per full handshake" \
    "$(cost ref srv_cpu_us)" "$(cost superd srv_cpu_us)" "le:1.15" \
    "≤ 1.15 × ref"
row "tls handshakes C=50: errors" "$(sum ref errors)" \
    "$(sum superd errors)" "max:0" "0"

pair "tls echo C=100" "$RT_ECHO" "$ST_ECHO" -m echo -t -c 100 -d "$SECS"
row "tls echo C=100: round-trips/s" "$(rate ref rps)" "$(rate superd rps)" \
    "ge:0.90" "≥ 0.9 × ref"
row "tls echo C=100: p99 latency (µs)" "$(med ref p99_us)" \
    "$(med superd p99_us)" - ""
row "tls echo C=100: server CPU s per 100,000 round-trips" \
    "$(cost ref srv_cpu_us 0.1)" "$(cost superd srv_cpu_us 0.1)" - ""
row "tls echo C=100: errors" "$(sum ref errors)" "$(sum superd errors)" \
    "max:0" "0"
stop "$SUPERD"
stop "$REF"
SUPERD=$MAIN_SUPERD
REF=$MAIN_REF
PHASE=

echo "## superd vs bench/ref$([ "${QUICK:-}" = 1 ] && echo ' (QUICK=1)')"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs" \
    "($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))," \
    "Linux $(uname -r); $PINNING; $SUPERD_IS."
echo
echo "Each row ran $REPS times per server (chat $CHAT_REPS), ref and superd" \
    "alternating, ${SECS} s per run (chat ${CHAT_SECS} s at $CHAT_RATE lines/s," \
    "TLS handshakes ${HS_SECS} s):" \
    "throughput and server CPU per request are each server's best run," \
    "latencies the median run, errors and losses the total.  Server CPU is" \
    "utime+stime (+ reaped children) from /proc/PID/stat over the measured" \
    "window, in $(getconf CLK_TCK) Hz ticks.  superd logs at notice (no line" \
    "per connection; ref writes none).  $DIRTY of $RUNS runs were disturbed" \
    "by other work on the host (server or load generator kept off a CPU" \
    "more than $(awk -v d=$DISTURBED 'BEGIN { print d * 100 }')% of the run) and are left out where a clean run exists."
echo
echo "| figure | ref | superd | superd/ref | target | met |"
echo "|---|---:|---:|---:|---|:-:|"
awk -F'|' '
function num(x) { return x + 0 }
{
	ratio = (num($2) > 0 && $3 ~ /^[0-9.]+$/) ? sprintf("%.2f", $3 / $2) : "—"
	split($4, c, ":")
	met = ""
	if (c[1] == "ge" && ratio != "—")
		met = (ratio + 0 >= c[2] + 0) ? "yes" : "**no**"
	if (c[1] == "le" && ratio != "—")
		met = (ratio + 0 <= c[2] + 0) ? "yes" : "**no**"
	if (c[1] == "max")
		met = ($3 ~ /^[0-9.]/ && num($3) <= c[2] + 0) ? "yes" : "**no**"
	printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, ratio, $5, met
}' "$ROWS"
[ "${BENCH_ONLY:-}" = tls ] && exit 0

# workers = 2 against workers = 1: echo C=100 with two load generator
# threads.  Neither server is pinned (two workers need both cores) and
# the load generator shares those same two cores, so this says what a
# second worker buys on this machine, not on a machine with cores to
# spare.  CPU is the master's and its workers' utime+stime together.
stop "$SUPERD"
stop "$REF"

# tree_ticks PID: utime+stime of PID and its children (the workers).
tree_ticks()
{
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '{
		pid = $1
		sub(/.*\) /, "")
		if (pid == p || $2 == p)
			t += $12 + $13
	    } END { print t + 0 }'
}

workers_run()
{
	n=$1
	pick_port W_PORT
	cat >"$TMP/w$n.conf" <<EOC
log = "stderr";
log_level = "notice";
workers = $n;
max_connections = 30000;
services = ({ name = "echo"; port = $W_PORT; address = "127.0.0.1";
  script = "$ROOT/services/echo.lua"; max_connections = 30000; });
EOC
	"$SUPERD_BIN" -c "$TMP/w$n.conf" 2>"$TMP/w$n.log" &
	wpid=$!
	PIDS="$PIDS $wpid"
	i=0
	until listening "$W_PORT"; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "workers = $n did not start: $(cat "$TMP/w$n.log")"
		sleep 0.1
	done
	sleep 0.5
	best_rps=0
	best_cpu=
	for k in $(seq "$REPS"); do
		t0=$(tree_ticks "$wpid")
		OUT=$(bench/loadgen -m echo -p "$W_PORT" -c 100 -T 2 -d "$SECS" \
		    2>>"$TMP/lg.err")
		t1=$(tree_ticks "$wpid")
		say "workers = $n: $OUT"
		rps=$(field rps "$OUT")
		cpu=$(awk -v a="$t0" -v b="$t1" -v n="$(field requests "$OUT")" \
		    -v hz="$(getconf CLK_TCK)" \
		    'BEGIN { printf "%.3f", (b - a) / hz * 1e5 / (n > 0 ? n : 1) }')
		best_rps=$(awk -v a="$best_rps" -v b="$rps" \
		    'BEGIN { print (b > a ? b : a) }')
		best_cpu=$(awk -v a="${best_cpu:-1e9}" -v b="$cpu" \
		    'BEGIN { print (b < a ? b : a) }')
	done
	stop "$wpid"
	eval "W${n}_RPS=$best_rps W${n}_CPU=$best_cpu"
}
workers_run 1
workers_run 2

echo
echo "## superd workers = 2 against workers = 1"
echo
echo "Echo C=100 with 64-byte lines, load generator with 2 threads; nothing" \
    "pinned: the servers and the load generator share the same $(nproc) CPUs," \
    "so a second worker competes with the load for the second core.  Best of" \
    "$REPS runs each."
echo
echo "| figure | workers = 1 | workers = 2 | 2 / 1 |"
echo "|---|---:|---:|---:|"
awk -v a="$W1_RPS" -v b="$W2_RPS" 'BEGIN {
	printf "| echo C=100: round-trips/s | %.0f | %.0f | %.2f |\n", a, b, b / a }'
awk -v a="$W1_CPU" -v b="$W2_CPU" 'BEGIN {
	printf "| echo C=100: server CPU s per 100,000 round-trips (all processes) | %.3f | %.3f | %.2f |\n", a, b, b / a }'
