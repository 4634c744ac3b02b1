# Shared by the benchmark scripts (sourced, run from the repository's root): the Release
# daemon they measure, built from this checkout, and started on a free port.

# Builds the daemon in Release into the folder $1: configured once (the binary embeds the
# web page's npm packages, so those first), then brought up to date on every run, so that a
# benchmark never measures an older build. BENCH_REBUILD=0 takes an existing binary as it is.
bench_build() {
  local build=$1
  [[ ${BENCH_REBUILD:-1} == 0 && -x $build/cinevault ]] && return 0
  if [[ ! -f $build/build.ninja ]]; then
    scripts/install-deps build
    [[ -d web/node_modules ]] || (cd web && npm ci --no-audit --no-fund --loglevel=error)
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCINEVAULT_TESTS=OFF >/dev/null
  fi
  cmake --build "$build" --target cinevault >/dev/null
  local type
  type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
  [[ $type == Release ]] || echo "warning: $build is a '$type' build, not Release" >&2
}

# Starts `$1 serve` with the data folder $2 on a free port, its output in the file $3, and
# the remaining arguments as flags. Sets daemon_pid, daemon (its base URL) and key (the
# admin key); exits with the log when the daemon does not come up.
bench_start_daemon() {
  local binary=$1 data=$2 log=$3 port=""
  shift 3
  "$binary" serve --data "$data" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 300); do
    port=$(sed -nE 's#.*listening on http://127\.0\.0\.1:([0-9]+).*#\1#p' "$log" | head -1)
    [[ -n $port ]] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "the daemon did not start:" >&2; cat "$log" >&2; exit 1; }
  daemon=http://127.0.0.1:$port
  key=$(cat "$data/admin.key")
}

# Stops the daemon bench_start_daemon started, if it still runs (safe in an EXIT trap).
bench_stop_daemon() {
  [[ -n ${daemon_pid:-} ]] || return 0
  kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
