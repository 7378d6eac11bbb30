#!/usr/bin/env python3
"""End-to-end load over a realistic mix (issue 9).

Starts a release `cairn serve` on 127.0.0.1 with a fresh data dir, sets up
an org the way an operator's users would (a member in a group, a namespace
shared with the group at `use`, flows in it, secrets the member owns, groups
to share with), then measures with `wrk` (Debian package `wrk`):

  1. GET /health                         the baseline of this run
  2. GET /api/v1/flows/{id}              authenticated, as the member: the
                                         session check, `authorize` through a
                                         grant to a group on the namespace,
                                         the catalog view
  3. PUT /api/v1/secrets/{id}            secret writes (rotations): sealed
                                         under the owner's key, an event made
                                         durable before the answer
  4. POST + DELETE /api/v1/grants        grants created and revoked, half each
  5. POST /api/v1/flows/{id}/runs        runs requested (a `log` step each)
  6. mix                                 3 to 5 and the GET at once

It prints requests/s, p50 and p99 for each, the server's CPU per answered
request, and the ratio of the authenticated GET to GET /health in the same
run, then checks the targets:

  * the authenticated GET keeps >= 0.5x the requests/s of GET /health;
  * its p99 is under 5 ms at 64 connections;
  * a secret write costs no more than 1.5x the authenticated GET in server
    CPU per request.

wrk is a C event loop: on a 2-core machine the client competes with the
server for CPU, and wrk spends far less of it per request than a Python
client would. Phases 3 to 5 use wrk's Lua hooks (tests/load/wrk/*.lua);
tokens and ids reach them through the environment, never a file.

Everything talks to 127.0.0.1 only; every phase is bounded in time; the
server is stopped at the end (SIGTERM, then SIGKILL).

Run from the repository root:

    python3 tests/load/e2e_load.py                     # builds, ~75 s of load
    python3 tests/load/e2e_load.py --no-build --seconds 5

Exit status: 0 when every target passes, 1 when one fails, 2 when the run
itself could not be done.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LUA = Path(__file__).resolve().parent / "wrk"
ADMIN_USER = "load-admin"
MEMBER_USER = "load-member"

# Targets (issue 9).
MIN_GET_TO_HEALTH = 0.5
MAX_GET_P99_MS = 5.0
MAX_WRITE_TO_GET_CPU = 1.5


class RunError(Exception):
    """The measurement could not be made (not a missed target)."""


# --------------------------------------------------------------------------
# The server


@dataclass
class Server:
    process: subprocess.Popen
    host: str
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def start_server(binary: Path, work: Path, admin_password: str) -> Server:
    log_path = work / "server.log"
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CAIRN_DATA_DIR": str(work / "data"),
        "CAIRN_MASTER_KEY": key,
        "CAIRN_DISABLE_AUTO_ADMIN": "false",
        "CAIRN_ADMIN_USER": ADMIN_USER,
        "CAIRN_ADMIN_PASSWORD": admin_password,
        # Every client is 127.0.0.1, one client for the per-IP limiter: at
        # the default, all but the first 1,200 requests a minute would be
        # 429s. The limiter's own cost per request stays in the figures.
        "CAIRN_RATE_LIMIT_REQUESTS": "100000000",
        "CAIRN_BIND": "127.0.0.1:0",
        "RUST_LOG": "warn,cairn_api=info",
    }
    log = open(log_path, "wb")  # noqa: SIM115 - the server owns it until it stops
    process = subprocess.Popen(
        [str(binary), "serve"], env=env, cwd=work, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 30
    address = None
    while time.monotonic() < deadline and address is None:
        if process.poll() is not None:
            raise RunError(f"the server exited ({process.returncode}):\n{log_path.read_text()}")
        match = re.search(r"listening on http://(\S+)", log_path.read_text(errors="replace"))
        if match:
            address = match.group(1)
        else:
            time.sleep(0.05)
    if address is None:
        process.kill()
        raise RunError("the server did not print its address within 30 s")
    host, _, port = address.rpartition(":")
    if not host.startswith("127."):
        process.kill()
        raise RunError(f"refusing to load a non-loopback address: {address}")
    server = Server(process, host, int(port), log_path)
    while time.monotonic() < deadline:
        try:
            if call(server, "GET", "/health")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RunError("GET /health did not answer 200 within 30 s")


def call(server: Server, method: str, path: str, body=None, token: str | None = None):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        headers = {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        try:
            return response.status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return response.status, text
    finally:
        connection.close()


def expect(server: Server, status: int, method: str, path: str, body=None, token=None):
    got, answer = call(server, method, path, body, token)
    if got != status:
        raise RunError(f"{method} {path}: expected {status}, got {got}: {answer}")
    return answer


# --------------------------------------------------------------------------
# The org under load


@dataclass
class Setup:
    admin_token: str
    member_token: str
    read_flow: str
    run_flow: str
    member_secrets: list[str]
    share_flows: list[str]
    share_groups: list[str]
    # Grant pairs (flow, group) earlier wrk runs may have used.
    pairs_used: int = 0


def set_up(server: Server, admin_password: str, flows: int, groups: int) -> Setup:
    admin = expect(server, 200, "POST", "/api/v1/auth/login",
                   {"username": ADMIN_USER, "password": admin_password})["access_token"]
    member_password = "member-" + secrets.token_urlsafe(12)
    member_id = expect(server, 201, "POST", "/api/v1/users", {
        "username": MEMBER_USER, "password": member_password,
        "role": "flow_executor", "is_active": True,
    }, admin)["id"]
    member = expect(server, 200, "POST", "/api/v1/auth/login",
                    {"username": MEMBER_USER, "password": member_password})["access_token"]
    team = expect(server, 201, "POST", "/api/v1/groups", {"name": "load-team"}, admin)["id"]
    expect(server, 201, "POST", f"/api/v1/groups/{team}/members",
           {"user_id": member_id, "role": "member"}, admin)
    namespace = expect(server, 201, "POST", "/api/v1/namespaces", {"name": "load"}, admin)["id"]
    expect(server, 201, "POST", "/api/v1/grants", {
        "resource_type": "namespace", "resource_id": namespace,
        "grantee_type": "group", "grantee_id": team, "level": "use",
    }, admin)
    definition = {"steps": [{"id": "note", "type": "log", "message": "load run"}]}
    read_flow = expect(server, 201, "POST", "/api/v1/flows", {
        "name": "read-me", "namespace_id": namespace, "definition": definition,
    }, admin)["id"]
    run_flow = expect(server, 201, "POST", "/api/v1/flows", {
        "name": "run-me", "namespace_id": namespace, "definition": definition,
    }, admin)["id"]
    member_secrets = [
        expect(server, 201, "POST", "/api/v1/secrets",
               {"name": f"load_secret_{n}", "value": secrets.token_urlsafe(24)}, member)["id"]
        for n in range(64)
    ]
    share_flows = [
        expect(server, 201, "POST", "/api/v1/flows", {
            "name": f"shared-{n}", "namespace_id": namespace, "definition": definition,
        }, admin)["id"]
        for n in range(flows)
    ]
    share_groups = [
        expect(server, 201, "POST", "/api/v1/groups", {"name": f"share-{n}"}, admin)["id"]
        for n in range(groups)
    ]
    # The member can read and run through the group's grant.
    expect(server, 200, "GET", f"/api/v1/flows/{read_flow}", token=member)
    return Setup(admin, member, read_flow, run_flow, member_secrets, share_flows, share_groups)



# --------------------------------------------------------------------------
# wrk


@dataclass
class Result:
    name: str
    rps: float
    ok_rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    statuses: str = ""


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise RunError(f"cannot read wrk latency {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(name: str, output: str, seconds: float) -> Result:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not (rps and p50 and p99 and total):
        raise RunError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    statuses = re.search(r"^statuses: (.*)$", output, re.M)
    requests = int(total.group(1))
    bad = int(non_2xx.group(1)) if non_2xx else 0
    elapsed = to_ms(total.group(2) + total.group(3)) / 1000.0 or seconds
    return Result(
        name=name,
        rps=float(rps.group(1)),
        ok_rps=(requests - bad) / elapsed,
        p50_ms=to_ms(p50.group(1)),
        p99_ms=to_ms(p99.group(1)),
        requests=requests,
        non_2xx=bad,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        statuses=statuses.group(1) if statuses else "",
    )


def wrk_command(url: str, seconds: float, connections: int, script: Path | None) -> list[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    return command + [url]


def wrk_env(setup: Setup, token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CAIRN_LOAD_PAIR_OFFSET": str(setup.pairs_used),
        "CAIRN_LOAD_TOKEN": token,
        "CAIRN_LOAD_SECRETS": ",".join(setup.member_secrets),
        "CAIRN_LOAD_FLOWS": ",".join(setup.share_flows),
        "CAIRN_LOAD_GROUPS": ",".join(setup.share_groups),
        "CAIRN_LOAD_RUN_FLOW": setup.run_flow,
    })
    return env


@dataclass
class Phase:
    name: str
    path: str
    connections: int
    script: str | None
    as_admin: bool


def phases(setup: Setup) -> list[Phase]:
    return [
        Phase("GET /health", "/health", 64, None, False),
        Phase("GET /api/v1/flows/{id} (member)", f"/api/v1/flows/{setup.read_flow}", 64,
              "auth_get.lua", False),
        Phase("PUT /api/v1/secrets/{id} (rotate)", "/", 64, "secret_write.lua", False),
        Phase("POST+DELETE /api/v1/grants", "/", 64, "grants.lua", True),
        # Runs go to a bounded queue (CAIRN_RUN_WORKERS x 16): past it the
        # server sheds with 503 at once. 16 connections keep most requests
        # admitted, which is what a run costs; the 503s are counted apart.
        Phase("POST /api/v1/flows/{id}/runs", "/", 16, "runs.lua", False),
    ]


@dataclass
class Measured:
    result: Result
    server_cpu: float
    client_cpu: float
    machine_cpu: float
    seconds: float
    server_cpu_total: float = 0.0

    @property
    def server_cpu_per_ok_us(self) -> float:
        ok = self.result.requests - self.result.non_2xx
        return self.server_cpu / ok * 1e6 if ok else float("inf")

    @property
    def other_cores(self) -> float:
        server = self.server_cpu_total or self.server_cpu
        return max(0.0, self.machine_cpu - server - self.client_cpu) / self.seconds


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(server: Server, setup: Setup, group: list[Phase], seconds: float) -> list[Measured]:
    """Runs the phases of `group` at once, each its own wrk."""
    procs = []
    cpu0, machine0, children0, t0 = (server.cpu_seconds(), machine_busy_seconds(),
                                     children_cpu(), time.monotonic())
    for phase in group:
        token = setup.admin_token if phase.as_admin else setup.member_token
        script = LUA / phase.script if phase.script else None
        command = wrk_command(server.base + phase.path, seconds, phase.connections, script)
        procs.append((phase, subprocess.Popen(
            command, env=wrk_env(setup, token), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )))
    outputs = []
    for phase, process in procs:
        try:
            output, _ = process.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise RunError(f"wrk for {phase.name} did not finish") from None
        if process.returncode != 0:
            raise RunError(f"wrk failed for {phase.name} ({process.returncode}):\n{output}")
        outputs.append((phase, output))
    elapsed = time.monotonic() - t0
    server_cpu = server.cpu_seconds() - cpu0
    machine = machine_busy_seconds() - machine0
    client = children_cpu() - children0
    for phase, output in outputs:
        if phase.script == "grants.lua":
            # Every other request is a create once responses flow, but all
            # are while none has come back: count them all.
            setup.pairs_used += parse_wrk(phase.name, output, seconds).requests + 1
    measured = []
    for phase, output in outputs:
        result = parse_wrk(phase.name, output, seconds)
        share = (result.requests - result.non_2xx) / max(1, sum(
            parse_wrk(p.name, o, seconds).requests - parse_wrk(p.name, o, seconds).non_2xx
            for p, o in outputs))
        measured.append(Measured(result, server_cpu * share, client, machine, elapsed,
                                 server_cpu))
    return measured


# --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the existing binary")
    parser.add_argument("--binary", type=Path, default=ROOT / "target/release/cairn")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (1 to 60)")
    parser.add_argument("--warmup", type=float, default=2.0, help="per phase, not measured")
    parser.add_argument("--flows", type=int, default=1000, help="flows to share (grant phase)")
    parser.add_argument("--groups", type=int, default=400, help="groups to share with")
    parser.add_argument("--only", default=None,
                        help="run only the phases whose name contains this (with GET /health), "
                             "e.g. to profile one: no mix, no verdict")
    args = parser.parse_args()
    args.binary = args.binary.resolve()
    if not 1 <= args.seconds <= 60 or not 0 <= args.warmup <= 10:
        print("--seconds must be 1 to 60 and --warmup 0 to 10", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not args.no_build:
        print("building: cargo build --release --bin cairn", flush=True)
        subprocess.run(["cargo", "build", "--release", "--bin", "cairn"], cwd=ROOT, check=True)
    if not args.binary.exists():
        print(f"{args.binary} is missing (build it, or drop --no-build)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="cairn-load-", dir=ROOT / "target"))
    admin_password = "load-" + secrets.token_urlsafe(16)
    server = None
    try:
        server = start_server(args.binary, work, admin_password)
        started = time.monotonic()
        setup = set_up(server, admin_password, args.flows, args.groups)
        print(f"setup: {time.monotonic() - started:.1f} s "
              f"({len(setup.share_flows)} flows x {len(setup.share_groups)} groups to share, "
              f"{len(setup.member_secrets)} secrets)", flush=True)
        print(f"server pid {server.process.pid}", flush=True)
        results: dict[str, Measured] = {}
        chosen = [p for p in phases(setup)
                  if args.only is None or args.only in p.name or p.path == "/health"]
        for phase in chosen:
            if args.warmup > 0:
                measure(server, setup, [phase], args.warmup)
            [measured] = measure(server, setup, [phase], args.seconds)
            results[phase.name] = measured
            report(measured)
        if args.only is not None:
            return 0
        # The mix: writes, grants, runs and the GET at once, 16 connections each.
        mixed = [Phase(p.name, p.path, 16, p.script, p.as_admin) for p in phases(setup)[1:]]
        print(f"\nmix: {', '.join(p.name for p in mixed)} at once, 16 connections each")
        mix = measure(server, setup, mixed, args.seconds)
        for measured in mix:
            report(measured, mixed=True)
        print(f"{'':38} cores: server {mix[0].server_cpu_total / mix[0].seconds:.2f}, "
              f"wrk {mix[0].client_cpu / mix[0].seconds:.2f}, "
              f"other processes {mix[0].other_cores:.2f}", flush=True)
        return verdict(results, mix, server)
    except RunError as error:
        print(f"run failed: {error}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()
            errors = [line for line in server.log_path.read_text(errors="replace").splitlines()
                      if " ERROR " in line or "panick" in line]
            if errors:
                print("server errors:\n  " + "\n  ".join(errors[:10]), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


def report(measured: Measured, mixed: bool = False) -> None:
    r = measured.result
    extra = f", statuses {r.statuses}" if r.statuses else ""
    cpu = "" if mixed else f"  server CPU {measured.server_cpu_per_ok_us:6.1f} us/2xx"
    print(f"{r.name:38} {r.rps:9,.0f} req/s ({r.ok_rps:,.0f} 2xx/s)  p50 {r.p50_ms:6.2f} ms  "
          f"p99 {r.p99_ms:6.2f} ms{cpu}"
          f"  non-2xx {r.non_2xx}, socket errors {r.socket_errors}{extra}", flush=True)
    if not mixed:
        print(f"{'':38} cores: server {measured.server_cpu / measured.seconds:.2f}, "
              f"wrk {measured.client_cpu / measured.seconds:.2f}, "
              f"other processes {measured.other_cores:.2f}", flush=True)


def verdict(results: dict[str, Measured], mix: list[Measured], server: Server) -> int:
    health = results["GET /health"]
    get = results["GET /api/v1/flows/{id} (member)"]
    write = results["PUT /api/v1/secrets/{id} (rotate)"]
    ratio = get.result.rps / health.result.rps
    cpu_ratio = write.server_cpu_per_ok_us / get.server_cpu_per_ok_us
    checks = [
        (f"authenticated GET / GET /health requests/s = {ratio:.2f} (>= {MIN_GET_TO_HEALTH})",
         ratio >= MIN_GET_TO_HEALTH),
        (f"authenticated GET p99 at 64 connections = {get.result.p99_ms:.2f} ms "
         f"(< {MAX_GET_P99_MS} ms)", get.result.p99_ms < MAX_GET_P99_MS),
        (f"secret write / authenticated GET server CPU = {cpu_ratio:.2f} "
         f"({write.server_cpu_per_ok_us:.0f} / {get.server_cpu_per_ok_us:.0f} us) "
         f"(<= {MAX_WRITE_TO_GET_CPU})", cpu_ratio <= MAX_WRITE_TO_GET_CPU),
    ]
    noisy = [m.result.name for m in results.values() if m.other_cores > 0.25]
    print("\ntargets:")
    for text, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {text}")
    if noisy:
        print(f"  warning: other processes used > 0.25 cores during: {', '.join(noisy)}")
    failures = sum(
        m.result.socket_errors for m in list(results.values()) + mix
    )
    if failures:
        print(f"  warning: {failures} socket errors")
    if server.process.poll() is not None:
        raise RunError(f"the server died during the run ({server.process.returncode})")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
