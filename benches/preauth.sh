#!/usr/bin/env bash
# Pre-authentication bounds under attack (issue 13): 100 connections each
# declare a 5 MiB body and trickle it, reconnecting when refused, while
# signed GitHub pushes are sent beside them. Prints chartpilot's RSS (from
# /proc) during the attack and p50/p99 latency of the signed webhooks.
# Loopback only; bounded counts and durations; stops by itself.
# Usage: bash benches/preauth.sh   (env: ATTACK_SECS=20 SLOW=100 SENDERS=4)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cargo build --release --bin chartpilot >&2
work="$(mktemp -d)"
secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
: >"$work/c.toml"
(
  cd "$work"
  CHARTPILOT__SERVER__LISTEN="127.0.0.1:$port" \
  CHARTPILOT__QUEUE__KIND=embedded CHARTPILOT__QUEUE__PATH="$work/queue" \
  CHARTPILOT__GITHUB__WEBHOOK_SECRET="$secret" CHARTPILOT__LOG__LEVEL=warn \
  CHARTPILOT__GIT__PATH="$work" \
    exec "$here/target/release/chartpilot" serve --config "$work/c.toml" >"$work/serve.log" 2>&1
) &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
PORT="$port" PID="$pid" SECRET="$secret" python3 - <<'PY'
import hashlib, hmac, os, socket, statistics, threading, time, uuid

port, pid, secret = int(os.environ["PORT"]), int(os.environ["PID"]), os.environ["SECRET"].encode()
attack_secs = int(os.environ.get("ATTACK_SECS", "20"))
slow = int(os.environ.get("SLOW", "100"))
senders = int(os.environ.get("SENDERS", "4"))
DECLARED = 5 * 1024 * 1024          # what each slow connection promises
TRICKLE = 16 * 1024                 # bytes per step
STEP = 0.2                          # seconds between steps
stop = time.monotonic() + attack_secs
counts = {"refused": 0, "reconnects": 0}
lock = threading.Lock()

def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def slow_client():
    while time.monotonic() < stop:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall((f"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
                       f"X-GitHub-Delivery: {uuid.uuid4()}\r\nContent-Length: {DECLARED}\r\n\r\n").encode())
            s.setblocking(False)
            while time.monotonic() < stop:
                try:
                    if s.recv(1024) == b"":
                        break
                    with lock:
                        counts["refused"] += 1
                    break
                except BlockingIOError:
                    pass
                s.sendall(b" " * TRICKLE)
                time.sleep(STEP)
            s.close()
        except OSError:
            time.sleep(STEP)
        with lock:
            counts["reconnects"] += 1

PUSH = (b'{"ref":"refs/heads/main","before":"' + b"1" * 40 + b'","after":"' + b"2" * 40 +
        b'","repository":{"full_name":"o/r"},"commits":[]}')
latencies, statuses = [], {}

def sender():
    while time.monotonic() < stop:
        sig = "sha256=" + hmac.new(secret, PUSH, hashlib.sha256).hexdigest()
        req = (f"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
               f"X-GitHub-Delivery: {uuid.uuid4()}\r\nX-Hub-Signature-256: {sig}\r\n"
               f"Content-Type: application/json\r\nConnection: close\r\n"
               f"Content-Length: {len(PUSH)}\r\n\r\n").encode() + PUSH
        t0 = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(req)
            head = s.recv(64)
            s.close()
            code = head.split(b" ")[1].decode() if head else "closed"
        except OSError as e:
            code = type(e).__name__
        with lock:
            latencies.append((time.monotonic() - t0) * 1000)
            statuses[code] = statuses.get(code, 0) + 1
        time.sleep(0.02)

print(f"RSS before attack: {rss_mib():.1f} MiB")
threads = [threading.Thread(target=slow_client) for _ in range(slow)]
threads += [threading.Thread(target=sender) for _ in range(senders)]
for t in threads:
    t.start()
peak = 0.0
while time.monotonic() < stop:
    time.sleep(1)
    r = rss_mib()
    peak = max(peak, r)
    print(f"  t+{attack_secs - int(stop - time.monotonic()):>3}s RSS {r:6.1f} MiB")
for t in threads:
    t.join()
lat = sorted(latencies)
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"slow connections: {slow} x {DECLARED} B declared, {TRICKLE} B every {STEP}s; "
      f"refused answers {counts['refused']}, reconnects {counts['reconnects']}")
print(f"peak RSS during attack: {peak:.1f} MiB")
print(f"signed webhooks: {len(lat)} sent, statuses {statuses}, "
      f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]:.1f} ms")
PY
