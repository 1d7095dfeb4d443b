#!/usr/bin/env bash
# The three services the cluster features talk to, on this machine, for the tests marked `services` (make services):
#   - a one-node SLURM cluster with accounting: munged, MariaDB, slurmdbd, slurmctld, slurmd
#   - PostgreSQL with a database and user for Optuna studies
#   - an MLflow tracking server from the project's .venv, its artifacts under --artifacts-destination
# Usage, as root on Debian 12:  scripts/services.sh start | stop | status | env
# start installs what is missing and starts what is not running (running it again changes nothing); stop stops them.
# The daemons are started directly (no systemd) and listen on loopback addresses only.
# The addresses the tests use are written to $SERVICES_DIR/env (and printed by `env`).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
SERVICES_DIR="${SERVICES_DIR:-/var/lib/tabular-services}"
MLFLOW_PORT="${MLFLOW_PORT:-5055}"
PG_PORT="${PG_PORT:-5432}"
OPTUNA_DB_PASSWORD="${OPTUNA_DB_PASSWORD:-optuna-secret}"   # a loopback-only test database
SLURMDBD_PASSWORD="${SLURMDBD_PASSWORD:-slurmdbd-secret}"
CLUSTER=tabular
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server postgresql chromium curl)

say() { echo "services: $*"; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, or fail naming what did not come up
    local limit=$1 what=$2
    shift 2
    for _ in $(seq "$limit"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    echo "error: $what did not come up within ${limit}s; see the logs in $SERVICES_DIR/log" >&2
    exit 1
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get update -qq
        # policy-rc.d: the packages' scripts must not start daemons; this script starts them with its own settings
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        rm -f /usr/sbin/policy-rc.d
    fi
}

write_slurm_conf() {
    local node mem_mb
    node="$(hostname -s)"
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))  # below the machine's, as SLURM wants
    mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /run/slurm "$SERVICES_DIR/log"
    cat >/etc/slurm/slurm.conf <<EOF
# written by scripts/services.sh: one node, no cgroups (this sandbox has none), accounting through slurmdbd
ClusterName=$CLUSTER
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$SERVICES_DIR/log/slurmctld.log
SlurmdLogFile=$SERVICES_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=60
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    cat >/etc/slurm/slurmdbd.conf <<EOF
# written by scripts/services.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=/run/slurm/slurmdbd.pid
LogFile=$SERVICES_DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageUser=slurm
StoragePass=$SLURMDBD_PASSWORD
StorageLoc=slurm_acct_db
EOF
    chmod 600 /etc/slurm/slurmdbd.conf
}

start_munge() {
    mkdir -p /run/munge && chown munge:munge /run/munge
    [ -f /etc/munge/munge.key ] || { mungekey --create && chown munge:munge /etc/munge/munge.key; }
    if ! pgrep -u munge -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged
    fi
    wait_for 20 munged munge -n
}

start_mariadb() {
    if ! mysqladmin ping >/dev/null 2>&1; then
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        nohup mysqld_safe --bind-address=127.0.0.1 >"$SERVICES_DIR/log/mariadb.log" 2>&1 </dev/null &
        wait_for 60 MariaDB mysqladmin ping
    fi
    mysql -u root <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$SLURMDBD_PASSWORD';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$SLURMDBD_PASSWORD';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

start_slurm() {
    write_slurm_conf
    running /run/slurm/slurmdbd.pid || slurmdbd
    wait_for 60 slurmdbd sacctmgr -n list cluster
    sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
    running /run/slurm/slurmctld.pid || slurmctld
    wait_for 60 slurmctld scontrol ping
    running /run/slurm/slurmd.pid || slurmd
    wait_for 60 "slurmd (node idle)" sh -c "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"
}

start_postgres() {
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    [ -n "$version" ] || { echo "error: no PostgreSQL cluster in /etc/postgresql" >&2; exit 1; }
    pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start
    wait_for 60 PostgreSQL runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
    runuser -u postgres -- psql -q -p "$PG_PORT" -tAc "SELECT 1 FROM pg_roles WHERE rolname='optuna'" | grep -q 1 ||
        runuser -u postgres -- psql -q -p "$PG_PORT" -c "CREATE ROLE optuna LOGIN PASSWORD '$OPTUNA_DB_PASSWORD'"
    runuser -u postgres -- psql -q -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname='optuna'" | grep -q 1 ||
        runuser -u postgres -- createdb -p "$PG_PORT" -O optuna optuna
}

start_mlflow() {
    [ -x "$REPO/.venv/bin/mlflow" ] || { echo "error: $REPO/.venv has no mlflow; run make .venv/.installed first" >&2; exit 1; }
    mkdir -p "$SERVICES_DIR/mlflow/artifacts"
    if ! running "$SERVICES_DIR/mlflow.pid"; then
        (cd "$SERVICES_DIR/mlflow" && exec "$REPO/.venv/bin/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
            --backend-store-uri "sqlite:///$SERVICES_DIR/mlflow/mlflow.db" \
            --artifacts-destination "$SERVICES_DIR/mlflow/artifacts") >"$SERVICES_DIR/log/mlflow.log" 2>&1 </dev/null &
        echo $! >"$SERVICES_DIR/mlflow.pid"
    fi
    wait_for 120 "MLflow server" curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health"
}

write_env() {
    cat >"$SERVICES_DIR/env" <<EOF
SERVICES_SLURM=1
SERVICES_OPTUNA_STORAGE=postgresql+psycopg://optuna:$OPTUNA_DB_PASSWORD@127.0.0.1:$PG_PORT/optuna
SERVICES_MLFLOW_URI=http://127.0.0.1:$MLFLOW_PORT
SERVICES_MLFLOW_ARTIFACTS=$SERVICES_DIR/mlflow/artifacts
SERVICES_CHROMIUM=$(command -v chromium)
EOF
}

start() {
    [ "$(id -u)" = 0 ] || { echo "error: scripts/services.sh start installs packages and starts daemons: run it as root" >&2; exit 1; }
    local began=$SECONDS
    mkdir -p "$SERVICES_DIR/log"
    install_packages
    start_munge
    start_mariadb
    start_slurm
    start_postgres
    start_mlflow
    write_env
    say "up in $((SECONDS - began)) s: SLURM ($(sinfo -h -o '%n %c CPUs %m MB')), PostgreSQL, MLflow on http://127.0.0.1:$MLFLOW_PORT"
    say "addresses for the tests: $SERVICES_DIR/env"
}

stop_pidfile() {  # stop_pidfile FILE NAME
    if running "$1"; then
        kill "$(cat "$1")" 2>/dev/null || true
        for _ in $(seq 30); do running "$1" || break; sleep 1; done
        say "stopped $2"
    fi
    rm -f "$1"
}

stop() {
    if [ -f "$SERVICES_DIR/mlflow.pid" ] && running "$SERVICES_DIR/mlflow.pid"; then
        # the server's gunicorn/uvicorn workers are its children: stop the whole group it leads
        pkill -TERM -P "$(cat "$SERVICES_DIR/mlflow.pid")" 2>/dev/null || true
    fi
    stop_pidfile "$SERVICES_DIR/mlflow.pid" "MLflow server"
    if command -v scancel >/dev/null && scontrol ping >/dev/null 2>&1; then scancel --full --state=RUNNING,PENDING -u root 2>/dev/null || true; fi
    stop_pidfile /run/slurm/slurmd.pid slurmd
    stop_pidfile /run/slurm/slurmctld.pid slurmctld
    stop_pidfile /run/slurm/slurmdbd.pid slurmdbd
    if command -v pg_lsclusters >/dev/null; then
        for version in $(ls /etc/postgresql 2>/dev/null); do
            pg_ctlcluster "$version" main status >/dev/null 2>&1 && pg_ctlcluster "$version" main stop && say "stopped PostgreSQL"
        done
    fi
    if mysqladmin ping >/dev/null 2>&1; then mysqladmin shutdown && say "stopped MariaDB"; fi
    if pgrep -u munge -x munged >/dev/null; then
        kill "$(cat /run/munge/munged.pid 2>/dev/null || pgrep -u munge -x munged)" 2>/dev/null || true
        say "stopped munged"
    fi
    rm -f "$SERVICES_DIR/env"
}

status() {
    scontrol ping 2>/dev/null | head -1 || echo "SLURM: down"
    sinfo 2>/dev/null || true
    runuser -u postgres -- pg_isready -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null || echo "PostgreSQL: down"
    curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health" >/dev/null 2>&1 && echo "MLflow: up on $MLFLOW_PORT" || echo "MLflow: down"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) cat "$SERVICES_DIR/env" ;;
    *) echo "usage: scripts/services.sh start|stop|status|env" >&2; exit 2 ;;
esac
