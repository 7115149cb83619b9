# Installs (idempotently) and starts the real servers on loopback, on free ports:
# PostgreSQL 15 (Debian), Redis (Debian), SecantusDB (a MongoDB-wire server, PyPI) and
# moto (an S3 server, PyPI). Exports INESCAPE_TEST_{POSTGRES,REDIS,MONGODB}_URL and
# INESCAPE_TEST_S3_ENDPOINT_URL for the real-backend suite, plus the binaries' folder on PATH
# (tests start their own throwaway Redis/Mongo/S3 to stop them on purpose).
# Source it; it stops what it started, by PID, on EXIT.
set -euo pipefail
CI_TOOLS="${CI_TOOLS:-$PWD/.ci/.tools}"
export DEBIAN_FRONTEND=noninteractive
PY="${PYTHON:-python3}"
log() { printf '[services %(%T)T] %s\n' -1 "$*"; }

need_apt=()
{ command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/pg_ctl" ]; } || need_apt+=(postgresql-15)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$CI_TOOLS/venv/bin/secantusd-py" ] || [ ! -x "$CI_TOOLS/venv/bin/moto_server" ]; then
  log "creating the tools venv (SecantusDB, moto)"
  "$PY" -m venv "$CI_TOOLS/venv"
  "$CI_TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
      'secantusdb==0.7.0b3' 'moto[s3]==5.2.5' 'flask<4' 'flask-cors<7' 'pymongo<5' \
      2>&1 | { grep -v 'is ignored' || true; }
fi
export INESCAPE_TEST_TOOLS_BIN="$CI_TOOLS/venv/bin"

SVC_STATE="$(mktemp -d -t inescape-services.XXXXXX)"; chmod 755 "$SVC_STATE"
PGBIN="$(pg_config --bindir)"
SVC_PIDS=()
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_for() {  # wait_for NAME TRIES CMD...
  local name=$1 tries=$2; shift 2
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && { log "$name ready"; return 0; }; sleep 0.2; done
  log "$name FAILED to start"; tail -n 30 "$SVC_STATE"/*.log "$SVC_STATE"/pg/*.log 2>/dev/null || true; return 1
}
stop_services() {
  set +e
  [ -f "$SVC_STATE/pg/data/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$SVC_STATE/pg/data" -m immediate -w stop >/dev/null 2>&1
  for pid in "${SVC_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SVC_PIDS[@]}"; do for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill -9 "$pid" 2>/dev/null; done
  rm -rf "$SVC_STATE"
}
trap stop_services EXIT

PG_PORT=$(free_port)
mkdir -p "$SVC_STATE/pg" && chown postgres:postgres "$SVC_STATE/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$SVC_STATE/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$SVC_STATE/pg-initdb.log" 2>&1
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$SVC_STATE/pg/data" -l "$SVC_STATE/pg/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SVC_STATE/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
export INESCAPE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
wait_for postgres 50 "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT"

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$SVC_STATE" \
  --logfile "$SVC_STATE/redis.log" --daemonize no & SVC_PIDS+=($!)
export INESCAPE_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
wait_for redis 50 redis-cli -p "$REDIS_PORT" ping

MONGO_PORT=$(free_port)
"$CI_TOOLS/venv/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$SVC_STATE/mongo" \
  --log-level WARNING >"$SVC_STATE/mongo.log" 2>&1 & SVC_PIDS+=($!)
export INESCAPE_TEST_MONGODB_URL="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
wait_for mongo 150 "$CI_TOOLS/venv/bin/python" -c "import pymongo,sys;pymongo.MongoClient(sys.argv[1],serverSelectionTimeoutMS=300).admin.command('ping')" "$INESCAPE_TEST_MONGODB_URL"

S3_PORT=$(free_port)
"$CI_TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$SVC_STATE/s3.log" 2>&1 & SVC_PIDS+=($!)
export INESCAPE_TEST_S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
wait_for s3 100 curl -sf "$INESCAPE_TEST_S3_ENDPOINT_URL/"
log "services up: postgres=$PG_PORT redis=$REDIS_PORT mongo=$MONGO_PORT s3=$S3_PORT"
