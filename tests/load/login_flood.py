#!/usr/bin/env python3
"""Login flood (issue 3, "Identity and authentication", Must show 5).

Floods POST /api/v1/auth/login with 200 concurrent clients (a share of
them sending 1 MiB passwords) while measuring GET /health and an
authenticated GET /api/v1/auth/me, and checks the targets:

  * both GETs keep >= 50% of their idle requests/s and stay within 2x of
    their idle p99;
  * logins sustain >= 60/s with argon2id at OWASP parameters
    (m = 19456 KiB, t = 2, p = 1);
  * overflow is shed with 503 rather than queued without bound (and a
    1 MiB password is refused with 413 before any hashing).

Tools: Python 3.11 standard library only, plus `wrk` (Debian package
`wrk`, `apt-get install -y wrk`) for the measured GETs. wrk is a C event
loop: on this 2-core machine the client competes with the server for CPU,
and wrk spends far less of it per request than any Python client would,
so the GET numbers are the server's rather than the client's. The login
flood itself is an asyncio client (raw HTTP/1.1 on keep-alive sockets): it
needs per-client logic (username rotation, 1 MiB bodies, Retry-After) and
runs at a few hundred requests/s, where Python's cost is small.

Everything talks to 127.0.0.1 only; every phase is bounded in time, and the
server is stopped at the end (SIGTERM, then SIGKILL).

Run from the repository root:

    python3 tests/load/login_flood.py            # builds, runs, ~1.5 min
    python3 tests/load/login_flood.py --no-build --binary target/release/cairn

Exit status: 0 when every target passes, 1 when one fails, 2 when the run
itself could not be done.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER = "load-admin"
ONE_MIB = 1024 * 1024

# Targets (issue 3).
MIN_RPS_RATIO = 0.5
MAX_P99_RATIO = 2.0
MIN_LOGINS_PER_SEC = 60.0


class RunError(Exception):
    """The measurement could not be made (not a missed target)."""


# --------------------------------------------------------------------------
# The server


@dataclass
class Server:
    process: subprocess.Popen
    host: str
    port: int
    data_dir: Path
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def status_kib(self, key: str) -> int:
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/task"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def build() -> None:
    print("building: cargo build --release --bin cairn", flush=True)
    started = time.monotonic()
    subprocess.run(["cargo", "build", "--release", "--bin", "cairn"], cwd=ROOT, check=True)
    print(f"built in {time.monotonic() - started:.0f} s", flush=True)


def start_server(
    binary: Path, work: Path, admin_password: str, rate_limit: int, extra_env: dict[str, str]
) -> Server:
    data_dir = work / "data"
    log_path = work / "server.log"
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CAIRN_DATA_DIR": str(data_dir),
        "CAIRN_MASTER_KEY": key,
        "CAIRN_DISABLE_AUTO_ADMIN": "false",
        "CAIRN_ADMIN_USER": ADMIN_USER,
        "CAIRN_ADMIN_PASSWORD": admin_password,
        "CAIRN_RATE_LIMIT_REQUESTS": str(rate_limit),
        "CAIRN_BIND": "127.0.0.1:0",
        "RUST_LOG": "info",
    }
    env.update(extra_env)
    log = open(log_path, "wb")  # noqa: SIM115 - the server owns it until it stops
    process = subprocess.Popen(
        [str(binary), "serve"],
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
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
    server = Server(process, host, int(port), data_dir, log_path)
    while time.monotonic() < deadline:
        try:
            status, _ = request(server, "GET", "/health")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RunError("GET /health did not answer 200 within 30 s")


def request(server: Server, method: str, path: str, body=None, token: str | None = None):
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


def login(server: Server, username: str, password: str) -> str:
    status, body = request(
        server, "POST", "/api/v1/auth/login", {"username": username, "password": password}
    )
    if status != 200:
        raise RunError(f"login as {username}: {status} {body}")
    return body["access_token"]


def create_user(server: Server, token: str, username: str, password: str) -> None:
    status, body = request(
        server,
        "POST",
        "/api/v1/users",
        {"username": username, "password": password, "role": "viewer", "is_active": True},
        token,
    )
    if status != 201:
        raise RunError(f"create {username}: {status} {body}")


# --------------------------------------------------------------------------
# The measured GETs (wrk)


@dataclass
class GetResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise RunError(f"cannot read wrk latency {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> GetResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise RunError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return GetResult(
        rps=float(rps.group(1)),
        p50_ms=_to_ms(p50.group(1)),
        p99_ms=_to_ms(p99.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


async def run_wrk(url: str, seconds: float, connections: int, token: str | None) -> GetResult:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s",
    ]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    command.append(url)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RunError(f"wrk failed ({process.returncode}):\n{text}")
    return parse_wrk(text)


# --------------------------------------------------------------------------
# The login flood (asyncio, raw HTTP/1.1)


@dataclass
class FloodStats:
    statuses: dict[int, int] = field(default_factory=dict)
    by_kind: dict[str, dict[int, int]] = field(default_factory=dict)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    connection_errors: int = 0
    timeouts: int = 0
    started: float = 0.0
    ended: float = 0.0

    def record(self, kind: str, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        kinds = self.by_kind.setdefault(kind, {})
        kinds[status] = kinds.get(status, 0) + 1
        self.latencies.setdefault(status, []).append(seconds)


class Flood:
    """`clients` concurrent login loops. Per request: a 1 MiB password with
    probability `big_share`, a wrong password for a never-used username with
    probability `wrong_share` (each name is tried once, far below the lockout
    of 5 failures), else the right password of one of a few real users."""

    def __init__(
        self,
        server: Server,
        users: list[tuple[str, str]],
        clients: int,
        big_share: float,
        wrong_share: float,
        honor_retry_after: bool,
        timeout: float,
    ):
        self.server = server
        self.users = users
        self.clients = clients
        self.big_share = big_share
        self.wrong_share = wrong_share
        self.honor_retry_after = honor_retry_after
        self.timeout = timeout
        self.stop = asyncio.Event()
        self.window: FloodStats | None = None  # counts go here while set
        self.tag = secrets.token_hex(3)
        self.valid_bodies = [
            json.dumps({"username": name, "password": password}).encode()
            for name, password in users
        ]
        self.big_body = json.dumps(
            {"username": users[0][0], "password": "x" * ONE_MIB}
        ).encode()
        self.tasks: list[asyncio.Task] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def _request(self, body: bytes) -> bytes:
        head = (
            "POST /api/v1/auth/login HTTP/1.1\r\n"
            f"Host: {self.server.host}:{self.server.port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head + body

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        return status, headers

    async def _client(self, index: int) -> None:
        rng = random.Random(index)
        reader = writer = None
        attempt = 0
        while not self.stop.is_set():
            draw = rng.random()
            if draw < self.big_share:
                kind, body = "1mib", self.big_body
            elif draw < self.big_share + self.wrong_share:
                attempt += 1
                name = f"ghost-{self.tag}-{index}-{attempt}"
                kind = "wrong"
                body = json.dumps({"username": name, "password": "Wrong-pass-4711!"}).encode()
            else:
                kind, body = "valid", rng.choice(self.valid_bodies)
            payload = self._request(body)
            window = self.window
            started = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(
                        self.server.host, self.server.port, limit=1 << 16
                    )
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    writer.write(payload)
                    answer = asyncio.ensure_future(self._read_response(reader))
                    try:
                        # The server may answer 413 and close before it has
                        # read the whole 1 MiB: the answer still counts.
                        await asyncio.wait_for(writer.drain(), self.timeout)
                    except (ConnectionError, asyncio.TimeoutError):
                        pass
                    status, headers = await asyncio.wait_for(answer, self.timeout)
                finally:
                    self.in_flight -= 1
            except asyncio.TimeoutError:
                if window is not None and window is self.window:
                    window.timeouts += 1
                writer = self._close(writer)
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                if window is not None and window is self.window:
                    window.connection_errors += 1
                writer = self._close(writer)
                await asyncio.sleep(0.01)
                continue
            elapsed = time.monotonic() - started
            if window is not None and window is self.window:
                window.record(kind, status, elapsed)
            if headers.get("connection", "").lower() == "close" or kind == "1mib":
                writer = self._close(writer)
            if status in (429, 503) and self.honor_retry_after:
                try:
                    wait = float(headers.get("retry-after", "1"))
                except ValueError:
                    wait = 1.0
                # At least what the server asked, spread so the shed clients
                # do not come back in one wave.
                await asyncio.sleep(min(wait, 5.0) * rng.uniform(1.0, 1.5))

    @staticmethod
    def _close(writer):
        if writer is not None:
            writer.close()
        return None

    def begin(self) -> None:
        self.tasks = [asyncio.create_task(self._client(i)) for i in range(self.clients)]

    def open_window(self) -> FloodStats:
        stats = FloodStats(started=time.monotonic())
        self.window = stats
        return stats

    def close_window(self) -> FloodStats:
        stats = self.window
        self.window = None
        stats.ended = time.monotonic()
        return stats

    async def end(self) -> None:
        self.stop.set()
        done, pending = await asyncio.wait(self.tasks, timeout=self.timeout + 2)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# --------------------------------------------------------------------------
# Phases and the report


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def machine_ticks() -> tuple[int, int, int]:
    """CPU ticks of the whole machine: busy in processes (user + system),
    in interrupts (loopback TCP is mostly processed there), and stolen."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(n) for n in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return user + nice + system, irq + softirq, steal


@dataclass
class Usage:
    """CPU used during a phase, in cores: the server, this process (the
    flood client), wrk, and everything else on the machine."""

    wall: float
    server: float
    me: float
    wrk: float
    machine: float
    irq: float
    steal: float
    rss_mib: float

    @staticmethod
    def snapshot(server: Server):
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, irq, steal = machine_ticks()
        tick = os.sysconf("SC_CLK_TCK")
        return (
            time.monotonic(),
            server.cpu_seconds(),
            own.ru_utime + own.ru_stime,
            kids.ru_utime + kids.ru_stime,
            busy / tick,
            irq / tick,
            steal / tick,
            server.status_kib("VmRSS") / 1024,
        )

    @staticmethod
    def between(before, after) -> "Usage":
        wall = after[0] - before[0]
        seconds = [a - b for a, b in zip(after[1:7], before[1:7])]
        return Usage(wall, *(s / wall for s in seconds), rss_mib=after[7])

    @property
    def others(self) -> float:
        return max(0.0, self.machine - self.server - self.me - self.wrk)

    def line(self) -> str:
        return (
            f"server {self.server:.2f}, flood client {self.me:.2f}, wrk {self.wrk:.2f}, "
            f"softirq {self.irq:.2f}, other processes {self.others:.2f}, "
            f"stolen {self.steal:.2f}; "
            f"server RSS {self.rss_mib:.0f} MiB"
        )


async def measure_gets(server: Server, token: str, seconds: float, connections: int):
    results = {}
    usage = {}
    for name, path, auth in (("GET /health", "/health", None), ("GET /api/v1/auth/me", "/api/v1/auth/me", token)):
        before = Usage.snapshot(server)
        results[name] = await run_wrk(server.base + path, seconds, connections, auth)
        usage[name] = Usage.between(before, Usage.snapshot(server))
    return results, usage


def load_average() -> str:
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        return " ".join(loadavg.read().split()[:3])


async def run(args) -> int:
    binary = Path(args.binary).resolve() if args.binary else ROOT / "target" / "release" / "cairn"
    if not args.no_build:
        build()
    if not binary.exists():
        raise RunError(f"no binary at {binary} (build it, or pass --binary)")
    if shutil.which("wrk") is None:
        raise RunError("wrk is not installed: apt-get install -y wrk")

    work_parent = ROOT / "target"
    work_parent.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="login-flood-", dir=work_parent))
    admin_password = "Load-" + secrets.token_urlsafe(18)
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    server = start_server(binary, work, admin_password, args.rate_limit, extra_env)
    started = time.monotonic()
    try:
        print(f"server pid {server.process.pid} on {server.base}, data in {work}", flush=True)
        print(f"load average before: {load_average()}", flush=True)
        admin_token = login(server, ADMIN_USER, admin_password)
        users = []
        for index in range(args.users):
            name, password = f"flood-user-{index}", "Flood-" + secrets.token_urlsafe(18)
            create_user(server, admin_token, name, password)
            users.append((name, password))
        token = login(server, users[0][0], users[0][1])

        # Warm-up (connections, caches, CPU frequency), not counted.
        await run_wrk(server.base + "/health", 2, args.connections, None)
        await run_wrk(server.base + "/api/v1/auth/me", 2, args.connections, token)

        print(f"idle: {args.seconds:g} s per GET", flush=True)
        idle, idle_usage = await measure_gets(server, token, args.seconds, args.connections)

        flood = Flood(
            server,
            users,
            clients=args.clients,
            big_share=args.big_share,
            wrong_share=args.wrong_share,
            honor_retry_after=not args.no_backoff,
            timeout=args.login_timeout,
        )
        flood.begin()
        await asyncio.sleep(args.ramp)
        # The flood alone first: what the hashing pool delivers when nothing
        # else wants the CPU (for diagnosis; the targets use the windows
        # below, with the GETs running).
        print(f"flood alone: {args.clients} login clients, {args.alone:g} s", flush=True)
        flood.open_window()
        alone_before = Usage.snapshot(server)
        await asyncio.sleep(args.alone)
        alone_usage = Usage.between(alone_before, Usage.snapshot(server))
        alone = flood.close_window()
        print(f"flood: {args.clients} login clients, {args.seconds:g} s per GET", flush=True)
        window = flood.open_window()
        flood_before = Usage.snapshot(server)
        busy, busy_usage = await measure_gets(server, token, args.seconds, args.connections)
        flood_usage = Usage.between(flood_before, Usage.snapshot(server))
        stats = flood.close_window()
        max_in_flight = flood.max_in_flight
        await flood.end()
        threads = server.threads()
        peak_rss_mib = server.status_kib("VmHWM") / 1024
        load_after = load_average()
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started

    return report(args, idle, busy, idle_usage, busy_usage, flood_usage, stats, max_in_flight,
                  threads, peak_rss_mib, load_after, elapsed, alone, alone_usage)


def report(args, idle, busy, idle_usage, busy_usage, flood_usage, stats: FloodStats,
           max_in_flight, threads, peak_rss_mib, load_after, elapsed, alone: FloodStats,
           alone_usage) -> int:
    verdicts: list[tuple[str, bool, str]] = []
    print()
    print(f"{'':22}{'idle req/s':>12}{'flood req/s':>13}{'ratio':>7}   "
          f"{'idle p99':>9}{'flood p99':>10}{'ratio':>7}   {'idle p50':>9}{'flood p50':>10}")
    for name in idle:
        before, after = idle[name], busy[name]
        rps_ratio = after.rps / before.rps
        p99_ratio = after.p99_ms / before.p99_ms
        print(f"{name:22}{before.rps:12.0f}{after.rps:13.0f}{rps_ratio:7.2f}   "
              f"{before.p99_ms:7.2f}ms{after.p99_ms:8.2f}ms{p99_ratio:7.2f}   "
              f"{before.p50_ms:7.2f}ms{after.p50_ms:8.2f}ms")
        for phase, result in (("idle", before), ("flood", after)):
            if result.non_2xx or result.socket_errors:
                print(f"  ! {phase}: {result.non_2xx} non-2xx answers, "
                      f"{result.socket_errors} socket errors")
        clean = not (before.non_2xx or after.non_2xx or before.socket_errors or after.socket_errors)
        verdicts.append((f"{name} req/s >= {MIN_RPS_RATIO:.0%} of idle", rps_ratio >= MIN_RPS_RATIO and clean,
                         f"{rps_ratio:.2f}x"))
        verdicts.append((f"{name} p99 <= {MAX_P99_RATIO:g}x idle", p99_ratio <= MAX_P99_RATIO and clean,
                         f"{p99_ratio:.2f}x ({before.p99_ms:.2f} -> {after.p99_ms:.2f} ms)"))

    window = stats.ended - stats.started
    count = lambda status: stats.statuses.get(status, 0)  # noqa: E731
    verified = count(200) + count(401)
    print()
    print(f"login flood, {window:.1f} s measured: {args.clients} clients, "
          f"{args.big_share:.0%} 1 MiB passwords, {args.wrong_share:.0%} wrong passwords "
          f"(each for a fresh username), the rest valid ({args.users} users); "
          f"{'clients wait Retry-After on 429/503' if not args.no_backoff else 'no backoff on 503'}")
    print("  answers: " + ", ".join(
        f"{status}: {stats.statuses.get(status, 0)}" for status in (200, 401, 413, 429, 503)))
    others = {s: n for s, n in stats.statuses.items() if s not in (200, 401, 413, 429, 503)}
    if others:
        print(f"  other statuses: {others}")
    print(f"  client-side: {stats.connection_errors} connection errors, {stats.timeouts} timeouts "
          f"(> {args.login_timeout:g} s), at most {max_in_flight} requests in flight")
    for kind, statuses in sorted(stats.by_kind.items()):
        print(f"  {kind:>6}: {dict(sorted(statuses.items()))}")
    for status in (200, 401, 413, 503):
        values = stats.latencies.get(status, [])
        if values:
            print(f"  latency of {status}: p50 {percentile(values, 0.5) * 1000:.1f} ms, "
                  f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms")
    print(f"  logins verified with argon2id (200 + 401): {verified / window:.1f}/s; "
          f"succeeded (200): {count(200) / window:.1f}/s")
    alone_window = alone.ended - alone.started
    alone_verified = alone.statuses.get(200, 0) + alone.statuses.get(401, 0)
    print(f"  for comparison, the flood alone ({alone_window:.1f} s, no GET load): "
          f"{alone_verified / alone_window:.1f} logins verified/s, "
          f"{alone.statuses.get(200, 0) / alone_window:.1f} succeeded/s; "
          f"answers {dict(sorted(alone.statuses.items()))}")
    verdicts.append((f"logins (200 + 401, each an argon2id verify) >= {MIN_LOGINS_PER_SEC:g}/s",
                     verified / window >= MIN_LOGINS_PER_SEC, f"{verified / window:.1f}/s"))

    admitted = stats.latencies.get(200, []) + stats.latencies.get(401, [])
    worst = max(admitted) if admitted else float("inf")
    shed = count(503) > 0 and stats.timeouts == 0 and worst <= args.max_login_latency
    verdicts.append(("overflow shed with 503, admitted logins bounded", shed,
                     f"{count(503)} x 503, worst admitted login {worst * 1000:.0f} ms "
                     f"(bound {args.max_login_latency:g} s), {stats.timeouts} timeouts"))
    big = stats.by_kind.get("1mib", {})
    big_ok = bool(big) and set(big) == {413}
    verdicts.append(("1 MiB passwords refused with 413", big_ok, f"{dict(sorted(big.items()))}"))

    print()
    print("CPU (cores busy, averaged over the phase):")
    for name in idle:
        print(f"  idle  {name:23} {idle_usage[name].line()}")
    for name in busy:
        print(f"  flood {name:23} {busy_usage[name].line()}")
    print(f"  flood alone                   {alone_usage.line()}")
    print(f"  flood with the GETs           {flood_usage.line()}")
    print(f"  server: {threads} threads at the end, peak RSS {peak_rss_mib:.0f} MiB; "
          f"load average after: {load_after}; {elapsed:.0f} s from start to stop")

    disturbed = [
        (label, usage.others)
        for label, usage in [(f"idle {n}", u) for n, u in idle_usage.items()]
        + [(f"flood {n}", u) for n, u in busy_usage.items()]
        + [("flood alone", alone_usage)]
        if usage.others > args.max_others
    ]
    for label, others in disturbed:
        print(f"  WARNING: other processes used {others:.2f} cores during {label}: "
              "the figures are disturbed; rerun on a quiet machine")

    print()
    failed = 0
    for name, passed, detail in verdicts:
        failed += not passed
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")
    print()
    print("RESULT: " + ("PASS" if not failed else f"FAIL ({failed} of {len(verdicts)} targets missed)"))
    return 0 if not failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", help="the cairn binary (default target/release/cairn)")
    parser.add_argument("--no-build", action="store_true", help="do not run cargo build")
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured GET phase")
    parser.add_argument("--ramp", type=float, default=3, help="flood warm-up before measuring (s)")
    parser.add_argument("--alone", type=float, default=5, help="flood without GETs, for comparison (s)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per GET phase")
    parser.add_argument("--clients", type=int, default=200, help="concurrent login clients")
    parser.add_argument("--users", type=int, default=4, help="real users logging in")
    parser.add_argument("--big-share", type=float, default=0.1, help="share of 1 MiB passwords")
    parser.add_argument("--wrong-share", type=float, default=0.2, help="share of wrong passwords")
    parser.add_argument("--no-backoff", action="store_true",
                        help="retry at once after 503/429 instead of waiting Retry-After")
    parser.add_argument("--login-timeout", type=float, default=10, help="a login slower than this is a timeout")
    parser.add_argument("--max-login-latency", type=float, default=5,
                        help="an admitted login slower than this means unbounded queueing")
    # All clients are 127.0.0.1, i.e. one client for the per-IP limiter: at
    # the default (60/min on /auth/login) nearly every login would be a 429
    # and argon2 would never be reached. 10,000,000/min (x20 elsewhere) is
    # far above anything this machine can send.
    parser.add_argument("--rate-limit", type=int, default=10_000_000,
                        help="CAIRN_RATE_LIMIT_REQUESTS for the server")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the server (experiments, e.g. GLIBC_TUNABLES)")
    parser.add_argument("--max-others", type=float, default=0.25,
                        help="warn when other processes use more cores than this in a phase")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
