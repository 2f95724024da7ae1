#!/usr/bin/env python3
"""End-to-end check through `cargo lambda watch`: the README's curl flow, over real HTTP.

Usage: smoke.py BASE_URL ADMIN_TOKEN WATCH_LOG
Exits non-zero on the first broken promise. Standard library only.
"""
import csv
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

base, token, log_path = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]


def call(method, function, body=None, headers=None, with_headers=False):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{base}/{function}/", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            got = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        got = err.code, err.read(), err.headers
    try:
        body = json.loads(got[1])
    except ValueError:  # a 5xx from the emulator itself, say: kept as text for the message
        body = {"not JSON": got[1][:200].decode("utf-8", "replace")}
    got = got[0], body, got[2]
    return got if with_headers else got[:2]


def expect(got, status, detail=None):
    code, body = got
    if code != status or (detail is not None and body.get("detail") != detail):
        sys.exit(f"smoke: expected {status} {detail!r}, got {code} {body}")
    return body


admin = {"Authorization": f"Bearer {token}"}
issued = expect(call("POST", "issue", {"name": "smoke"}, admin), 201)
key = issued["key"]
ok = "Hello from protected endpoint! Your API key is valid."
expect(call("GET", "test-protected", headers={"X-API-KEY": key}), 200, ok)
expect(call("POST", "issue", {"name": "smoke"}, {"Authorization": "Bearer wrong"}), 401)
expect(call("GET", "test-protected"), 403, "API Key is missing. Send it in the X-API-KEY header.")
typo = key[:-1] + ("1" if key[-1] == "0" else "0")  # one digit off: fails the checksum
expect(call("GET", "test-protected", headers={"X-API-KEY": typo}), 403, "Invalid API Key.")

# Verifications racing a revoke, across the emulator's instances: once revoke has
# answered, none may succeed. One sent before the revoke answered may get either answer,
# but only those two: a 5xx, or any other status, fails the race like a wrong answer.
revoked = "API Key is not active or has been revoked."
with ThreadPoolExecutor(max_workers=8) as pool:
    racing = [pool.submit(call, "GET", "test-protected", None, {"X-API-KEY": key}) for _ in range(16)]
    expect(call("POST", "revoke", {"key": key}), 200, "API Key revoked successfully.")
    after = [pool.submit(call, "GET", "test-protected", None, {"X-API-KEY": key}) for _ in range(16)]
    racing = [f.result() for f in racing]
    after = [f.result() for f in after]
def answer(got):
    code, body = got
    return code, body.get("detail") if isinstance(body, dict) else None


race_ok = [r for r in racing if answer(r) == (200, ok)]
race_revoked = [r for r in racing if answer(r) == (403, revoked)]
race_wrong = [r for r in racing if answer(r) not in ((200, ok), (403, revoked))]
after_revoked = [r for r in after if answer(r) == (403, revoked)]
after_wrong = [r for r in after if answer(r) != (403, revoked)]
server_errors = sum(1 for code, _ in racing + after if code >= 500)
print(f"smoke: revoke race: {len(racing)} verifications sent before the revoke answered "
      f"({len(race_ok)} answered 200, {len(race_revoked)} 403 revoked, {len(race_wrong)} other), "
      f"{len(after)} after it ({len(after_revoked)} answered 403 revoked, {len(after_wrong)} other); "
      f"5xx {server_errors}")
if race_wrong or after_wrong:
    sys.exit(f"smoke: the revoke race got wrong answers or 5xx: before the revoke answered "
             f"{race_wrong[:3]}, after it {after_wrong[:3]}")
expect(call("POST", "revoke", {"key": key}), 200)
expect(call("POST", "revoke", {"key": "kg_nope"}), 404, "API Key not found.")

# A key with a rate limit, across the emulator's instances: exactly `limit` requests pass,
# each 200 and 429 with the RateLimit-* headers.
limited = expect(call("POST", "issue", {"name": "smoke-limited",
                                        "rate_limit": {"limit": 5, "window_seconds": 3600}}, admin), 201)
with ThreadPoolExecutor(max_workers=8) as pool:
    burst = [pool.submit(call, "GET", "test-protected", None, {"X-API-KEY": limited["key"]}, True)
             for _ in range(20)]
    replies = [f.result() for f in burst]
statuses = sorted(code for code, _, _ in replies)
if statuses != [200] * 5 + [429] * 15:
    sys.exit(f"smoke: a burst of 20 with a limit of 5 got {statuses}")
for code, body, headers in replies:
    if headers.get("RateLimit-Limit") != "5" or headers.get("RateLimit-Remaining") is None:
        sys.exit(f"smoke: {code} without the RateLimit-* headers: {dict(headers)}")
    if code == 429 and not body["detail"].startswith("Rate limit exceeded. Retry after "):
        sys.exit(f"smoke: unexpected 429 detail {body}")

# Usage: the burst's 20 requests show in the usage API at once (from Redis), and still after
# the usage-fold function (invoked as its schedule would, through the emulator's Lambda API)
# has folded them into the table.
def usage_of(key_id):
    req = urllib.request.Request(f"{base}/admin/api/usage?key_id={key_id}", headers=admin)
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())["totals"]


def fold():
    invoke = base.rsplit("/lambda-url", 1)[0] + "/2015-03-31/functions/usage-fold/invocations"
    req = urllib.request.Request(invoke, data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read())


want = {"valid": 5, "rate_limited": 15, "quota_exhausted": 0, "missing_scope": 0, "revoked": 0,
        "expired": 0}
if usage_of(limited["id"]) != want:
    sys.exit(f"smoke: usage before the fold {usage_of(limited['id'])}, expected {want}")
folded = fold()
if folded.get("failed") != 0 or folded.get("folded", 0) < 1:
    sys.exit(f"smoke: the usage-fold function answered {folded}")
if usage_of(limited["id"]) != want:
    sys.exit(f"smoke: usage after the fold {usage_of(limited['id'])}, expected {want}")

# The old system's keys through `keygate-local import` (built by `make test` with the bins): the
# sample CSV's 19 readable rows imported (or skipped, on a deployment that has them), its one
# bad row failed (exit 1); then an active one verifies and a revoked one is refused.
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sample = os.path.join(root, "local", "samples", "legacy-keys.csv")
target = os.path.join(root, os.environ.get("CARGO_TARGET_DIR", "target"))
run = subprocess.run([os.path.join(target, "debug", "keygate-local"), "import", sample, "--url",
                      f"{base}/admin", "--restart"], env={**os.environ, "KEYGATE_TOKEN": token},
                     capture_output=True, text=True, timeout=600)
counts = re.search(r"imported (\d+), skipped (\d+), failed (\d+)", run.stdout)
if run.returncode != 1 or not counts or (int(counts[1]) + int(counts[2]), counts[3]) != (19, "1"):
    sys.exit(f"smoke: keygate-local import of the sample: exit {run.returncode}\n{run.stdout}{run.stderr}")
with open(sample, newline="") as f:
    legacy = {row["name"]: row["key"] for row in csv.DictReader(f)}
expect(call("GET", "test-protected", headers={"X-API-KEY": legacy["billing-service"]}), 200, ok)
expect(call("GET", "test-protected", headers={"X-API-KEY": legacy["partner-globex"]}), 403, revoked)

with open(log_path, encoding="utf-8", errors="replace") as f:
    logs = f.read()
# The functions write one line per request (with `latency_us`): a log without any would make
# the scan below prove nothing.
request_lines = sum(1 for line in logs.splitlines() if "latency_us" in line)
if not request_lines:
    sys.exit(f"smoke: no request line of the functions in {log_path}: the scan for raw keys "
             "would read nothing of theirs")
if key[3:] in logs or limited["key"][3:] in logs or token in logs or legacy["billing-service"] in logs:
    sys.exit("smoke: a raw key or the admin token reached the function logs")
print("smoke: the README flow works through cargo lambda watch (issue, verify, race a revoke, "
      f"revoke, rate limit, usage folded by usage-fold, import of legacy keys); no raw key or admin token in {request_lines} request lines of the functions")
