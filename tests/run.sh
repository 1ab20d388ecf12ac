#!/usr/bin/env bash
# CoordinationHub test runner: the single command that runs the whole test suite.
#
#   tests/run.sh [extra dotnet test args...]
#
# - Runs every test class against SQLite (embedded) and PostgreSQL.
# - PostgreSQL: if COORDINATIONHUB_TEST_POSTGRES (an admin connection string) is
#   already set, that server is used as is. Otherwise PostgreSQL 15 is installed
#   if missing (apt-get), and a throwaway cluster is created in a temp dir, started
#   on a free port on 127.0.0.1, and stopped and deleted again on exit.
# - Installs the Node.js packages of the contract checks (npm ci, from package-lock.json) when needed.
# - The last line printed is always "N passed, N failed[, N skipped]"; failed tests are listed
#   (name, message, first frames) just before it.
# - Exits non-zero when the build or any test fails.
#
# Special modes (no dotnet test run):
#   tests/run.sh --pg-only-check   start the throwaway cluster, run `select version()`
#                                  through psql, print the connection string, clean up.
#   (same as COORDINATIONHUB_PG_ONLY_CHECK=1 tests/run.sh)
#
# Optional environment:
#   COORDINATIONHUB_TEST_POSTGRES   use this server instead of a throwaway cluster
#   COORDINATIONHUB_TEST_RESULTS    trx/log output dir (default: <repo>/TestResults)
#   COORDINATIONHUB_PG_VERSION      PostgreSQL major version to use (default: 15)
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"

PG_VERSION="${COORDINATIONHUB_PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_TMP=""       # temp dir holding the throwaway cluster (empty: none started)
PG_DATA=""
PG_PORT=""
PG_STARTED=0

log() { printf '[run.sh] %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the user that owns the cluster: `postgres` when we are root
# (initdb/pg_ctl refuse to run as root), else the current user. Runs from inside
# the temp dir so the postgres user never needs access to the caller's cwd.
as_pg_user() {
    if is_root; then
        (cd "$PG_TMP" && runuser -u postgres -- "$@")
    else
        (cd "$PG_TMP" && "$@")
    fi
}

# (a) Make sure the PostgreSQL server binaries are installed.
ensure_pg_installed() {
    if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; then
        return 0
    fi
    log "PostgreSQL $PG_VERSION server binaries not found in $PG_BIN; installing postgresql-$PG_VERSION"
    local sudo=()
    if ! is_root; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
        else
            log "not root and no sudo: install postgresql-$PG_VERSION yourself, or set COORDINATIONHUB_TEST_POSTGRES"
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    # policy-rc.d-free: the Debian package may try to start a default cluster;
    # that is harmless (it listens on 5432, we use our own port).
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION"
    if [ ! -x "$PG_BIN/initdb" ]; then
        log "postgresql-$PG_VERSION installed but $PG_BIN/initdb is missing"
        return 1
    fi
}

# Is something listening on 127.0.0.1:$1 ?
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print a free TCP port on 127.0.0.1: ask the kernel via python3 when present,
# else probe random ports in 20000-59999 with bash's /dev/tcp.
find_free_port() {
    local port
    if command -v python3 >/dev/null 2>&1; then
        port="$(python3 - <<'PY' 2>/dev/null || true
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
)"
        if [[ "$port" =~ ^[0-9]+$ ]] && ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    fi
    local i
    for i in $(seq 1 200); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    done
    log "could not find a free TCP port"
    return 1
}

# Stop the throwaway cluster (if any) and delete its temp dir. Idempotent.
pg_stop() {
    if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
        if [ "$PG_STARTED" -eq 1 ] || [ -f "$PG_DATA/postmaster.pid" ]; then
            as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
                || as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 \
                || true
        fi
        rm -rf -- "$PG_TMP" || true
    fi
    PG_TMP=""
    PG_STARTED=0
}

# (b) Create and start the throwaway cluster, export COORDINATIONHUB_TEST_POSTGRES.
pg_start() {
    ensure_pg_installed

    # As root, use /tmp explicitly: the postgres user must be able to reach the dir.
    if is_root; then
        PG_TMP="$(mktemp -d /tmp/coordinationhub-pg.XXXXXX)"
        chown postgres:postgres "$PG_TMP"
    else
        PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/coordinationhub-pg.XXXXXX")"
    fi
    chmod 700 "$PG_TMP"
    PG_DATA="$PG_TMP/data"
    local sock="$PG_TMP/sock"
    as_pg_user mkdir -p "$sock"

    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale=C.UTF-8
    fi

    log "initdb in $PG_DATA (locale $locale)"
    if ! as_pg_user env LC_ALL=C "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust \
            -E UTF8 --locale="$locale" --no-sync >"$PG_TMP/initdb.log" 2>&1; then
        cat "$PG_TMP/initdb.log" >&2
        log "initdb failed"
        return 1
    fi

    cat >>"$PG_DATA/postgresql.conf" <<CONF

# --- CoordinationHub throwaway test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF

    # The port is picked just before starting; retry a few times in case another
    # process grabbed it in between.
    local attempt
    for attempt in 1 2 3 4 5; do
        PG_PORT="$(find_free_port)"
        log "starting PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT (attempt $attempt)"
        if as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_TMP/postgres.log" \
                -o "-p $PG_PORT" -w -t 60 start >/dev/null 2>&1; then
            PG_STARTED=1
            break
        fi
        log "pg_ctl start failed:"
        tail -n 20 "$PG_TMP/postgres.log" >&2 2>/dev/null || true
    done
    if [ "$PG_STARTED" -ne 1 ]; then
        log "could not start PostgreSQL"
        return 1
    fi

    local pg_isready="$PG_BIN/pg_isready"
    [ -x "$pg_isready" ] || pg_isready="pg_isready"
    local i
    for i in $(seq 1 60); do
        if "$pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; then
            break
        fi
        if [ "$i" -eq 60 ]; then
            log "PostgreSQL did not become ready"
            tail -n 50 "$PG_TMP/postgres.log" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.5
    done

    export COORDINATIONHUB_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Password=postgres;Database=postgres"
    log "PostgreSQL ready: COORDINATIONHUB_TEST_POSTGRES=$COORDINATIONHUB_TEST_POSTGRES"
}

# (d2) Debian's Chromium for the browser tests of the pages (Playwright drives it by its path: no browser can be
# downloaded at run time). Installed with apt-get when missing, like PostgreSQL.
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    log "chromium not found; installing chromium (browser tests of the pages)"
    local sudo=()
    if ! is_root; then
        if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive); else
            log "not root and no sudo: apt-get install chromium yourself"; return 1; fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver
}

# (e) Node.js packages of the contract checks (Spectral + OWASP ruleset, the TypeScript client), from the
# lock file: node and npm are installed with apt-get when missing; `npm ci` runs when package-lock.json
# is newer than node_modules (or node_modules is missing).
ensure_node_packages() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "node/npm not found; installing nodejs and npm"
        local sudo=()
        if ! is_root; then
            if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive); else
                log "not root and no sudo: install nodejs and npm yourself"; return 1; fi
        fi
        export DEBIAN_FRONTEND=noninteractive
        "${sudo[@]}" apt-get update -q
        "${sudo[@]}" apt-get install -y -q --no-install-recommends nodejs npm
    fi
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        log "npm ci (contract lint and TypeScript client packages)"
        npm ci --no-audit --no-fund --loglevel=error >&2
    fi
}

# Sum one attribute over all <Counters .../> elements in the given trx files.
trx_sum() {
    local attr="$1"; shift
    local total=0 v
    for v in $(cat -- "$@" | grep -o '<Counters [^>]*>' | grep -o " $attr=\"[0-9]*\"" | grep -o '[0-9][0-9]*'); do
        total=$(( total + v ))
    done
    echo "$total"
}

# Sum one field ("Passed", "Failed", "Skipped") over dotnet test's per-project
# summaries in its console output. Normal verbosity prints a block per project:
#   Total tests: 5
#        Passed: 3
#        Failed: 1
#       Skipped: 1
# minimal verbosity a line: "Failed!  - Failed: 1, Passed: 3, Skipped: 1, Total: 5, ..."
output_sum() {
    local field="$1" file="$2"
    local total=0 v
    if grep -qE '^ *Total tests: +[0-9]+' "$file" 2>/dev/null; then
        for v in $(grep -E "^ *$field: +[0-9]+ *\$" "$file" | grep -oE '[0-9]+'); do
            total=$(( total + v ))
        done
    else
        for v in $(grep -E '^(Passed|Failed)! +- ' "$file" 2>/dev/null | grep -oE "$field: +[0-9]+" | grep -oE '[0-9]+'); do
            total=$(( total + v ))
        done
    fi
    echo "$total"
}

# (d) Print the totals line (must be the very last line of output).
print_totals() {
    local rc="$1" results_dir="$2" output_log="$3"
    local passed=0 failed=0 skipped=0
    local trx_files=()
    if [ -d "$results_dir" ]; then
        while IFS= read -r -d '' f; do trx_files+=("$f"); done \
            < <(find "$results_dir" -name '*.trx' -type f -print0)
    fi
    if [ "${#trx_files[@]}" -gt 0 ]; then
        passed=$(trx_sum passed "${trx_files[@]}")
        failed=$(( $(trx_sum failed "${trx_files[@]}") + $(trx_sum error "${trx_files[@]}") \
                 + $(trx_sum timeout "${trx_files[@]}") + $(trx_sum aborted "${trx_files[@]}") ))
        # VSTest's trx leaves skipped tests out of "executed" (their results have
        # outcome="NotExecuted" but the notExecuted counter stays 0), so
        # skipped = total - executed (or notExecuted, should a logger fill it in).
        local total executed not_executed
        total=$(trx_sum total "${trx_files[@]}")
        executed=$(trx_sum executed "${trx_files[@]}")
        not_executed=$(trx_sum notExecuted "${trx_files[@]}")
        skipped=$(( total - executed ))
        [ "$skipped" -ge 0 ] || skipped=0
        [ "$not_executed" -le "$skipped" ] || skipped=$not_executed
    elif grep -qE '^(Passed|Failed)! +- |^ *Total tests: +[0-9]+' "$output_log" 2>/dev/null; then
        passed=$(output_sum Passed "$output_log")
        failed=$(output_sum Failed "$output_log")
        skipped=$(output_sum Skipped "$output_log")
    else
        passed=0
        failed=1
    fi
    if [ "$failed" -gt 0 ] && [ "${#trx_files[@]}" -gt 0 ]; then
        # Repeated here so that the tail of a long log names what failed and why.
        echo "== failed tests =="
        perl "$SCRIPT_DIR/failed-tests.pl" "${trx_files[@]}" || true
    fi
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        # Build failure, crashed test host, aborted run, ...: never report green.
        echo "dotnet test exited with code $rc although no test failed; counting it as 1 failure"
        failed=1
    fi
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
}

on_exit() {
    local rc=$?
    set +e
    pg_stop
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

main() {
    cd "$REPO_ROOT"

    local pg_only_check="${COORDINATIONHUB_PG_ONLY_CHECK:-0}"
    if [ "${1:-}" = "--pg-only-check" ]; then
        pg_only_check=1
        shift
    fi

    if [ "$pg_only_check" = "1" ]; then
        unset COORDINATIONHUB_TEST_POSTGRES
        pg_start
        local psql="$PG_BIN/psql"
        [ -x "$psql" ] || psql="psql"
        "$psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
            -c 'select version()' -c 'show max_connections' -c 'show fsync'
        echo "COORDINATIONHUB_TEST_POSTGRES=$COORDINATIONHUB_TEST_POSTGRES"
        echo "PG_TMP=$PG_TMP"
        echo "PG_PORT=$PG_PORT"
        return 0
    fi

    if [ -n "${COORDINATIONHUB_TEST_POSTGRES:-}" ]; then
        log "using existing PostgreSQL from COORDINATIONHUB_TEST_POSTGRES"
    else
        pg_start
    fi

    ensure_node_packages
    ensure_chromium

    export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
    export MSBUILDTERMINALLOGGER=off

    local solution="CoordinationHub.sln"
    if [ ! -f "$solution" ] && [ -f "CoordinationHub.slnx" ]; then
        solution="CoordinationHub.slnx"
    fi

    local results_dir="${COORDINATIONHUB_TEST_RESULTS:-$REPO_ROOT/TestResults}"
    mkdir -p "$results_dir"
    find "$results_dir" -name '*.trx' -type f -delete
    local output_log="$results_dir/dotnet-test.log"

    # (c) build + test. Output is shown live and kept for the fallback count.
    local rc=0
    set +e
    dotnet test "$solution" -c Release \
        --logger "console;verbosity=normal" \
        --logger "trx" \
        --results-directory "$results_dir" \
        "$@" 2>&1 | tee "$output_log"
    rc=${PIPESTATUS[0]}
    set -e

    print_totals "$rc" "$results_dir" "$output_log"
    return "$rc"
}

main "$@"
