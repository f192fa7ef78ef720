# Sourced by scripts/screenshot and scripts/check_card: headless Chromium with a DevTools port.
#   start_chromium PORT    installs Debian's chromium with apt-get when absent, starts it on
#                          127.0.0.1:PORT with a scratch profile, waits until it answers. Sets
#                          $cdp_python: the Python that runs screenshot_cdp.py.
#   stop_chromium          stops it and removes the profile (callers run it from an EXIT trap).
start_chromium() {
  local port=$1
  local sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo -n)
  if ! command -v chromium >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  if command -v python3.14 >/dev/null 2>&1 && [ -x .venv/bin/python ]; then
    cdp_python=(.venv/bin/python)
  else
    cdp_python=("${sudo_cmd[@]}" /opt/py314-ha-develop/bin/py314-exec "$PWD" python)
  fi
  chromium_profile=$(mktemp -d)
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$chromium_profile" --remote-debugging-address=127.0.0.1 \
    --remote-debugging-port="$port" about:blank > "$chromium_profile.log" 2>&1 &
  chromium_pid=$!
  for _ in $(seq 1 30); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/json/version" && return 0
    sleep 0.5
  done
  echo "chromium did not open its DevTools port $port; its log:" >&2
  cat "$chromium_profile.log" >&2
  return 1
}

stop_chromium() {
  [ -n "${chromium_pid:-}" ] || return 0
  kill "$chromium_pid" 2>/dev/null || true
  wait "$chromium_pid" 2>/dev/null || true
  # Its helper processes can outlive it by a moment and still write into the profile.
  pkill -f -- "--user-data-dir=$chromium_profile" 2>/dev/null || true
  for _ in $(seq 1 20); do
    pgrep -f -- "--user-data-dir=$chromium_profile" >/dev/null 2>&1 || break
    sleep 0.25
  done
  rm -rf "$chromium_profile" "$chromium_profile.log" 2>/dev/null || true
  chromium_pid=
}
