#!/usr/bin/env python3
"""The app against a bare Tauri window, in one run, as ratios (run by scripts/bench-app.sh).

Absolute figures drift on shared machines; a ratio against a baseline measured in the same run
holds. Both binaries are release builds from the same target directory, started alternately
through tauri-driver (WebDriver), N times each, on the X display and D-Bus session the caller
provides (with a Secret Service, for the app's keyring). Per start:

  window      start → main window mapped (xwininfo, polled every 10 ms)
  first       start → first content: the bare page's DOMContentLoaded, the app's first
              rendered snapshot (both a `performance.mark('first-content')`, read over WebDriver)
  signed_in   (app) start → signed-in view, the session restored from the keyring
  pss         PSS of the process and its WebKit children, 5 s after start
and once each, at the end: CPU time of the tree during IDLE seconds (the app signed in, its
countdowns running). "Start" is the process's start time from /proc (10 ms resolution); the
marks are wall-clock (performance.timeOrigin + startTime), compared on the same clock.

Prints a table and checks the targets (exit 1 when one is missed).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

ELEMENT = "element-6066-11e4-a5ab-0ec5d2da5f0d"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WAIT_S = 30.0


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=60.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read() or b"null")


class Driver:
    """One tauri-driver, whose environment (XDG folders) every app it starts inherits."""

    def __init__(self, home):
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            XDG_DATA_HOME=f"{home}/data",
            XDG_CONFIG_HOME=f"{home}/config",
            XDG_CACHE_HOME=f"{home}/cache",
            BROWSER="true",
            LANG="en_US.UTF-8",
        )
        self.process = subprocess.Popen(
            ["tauri-driver", "--port", str(self.port), "--native-port", str(free_port())],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(f"{home}/driver.log", "wb"),
            start_new_session=True,
        )
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                http("GET", f"{self.url}/status", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: tauri-driver did not answer")
                time.sleep(0.1)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        os.killpg(self.process.pid, 15)
        self.process.wait()


class Session:
    """One started binary, driven over WebDriver."""

    def __init__(self, driver, binary, title):
        self.tag = f"--bench-run={uuid.uuid4()}"
        self.title = title
        self.window_at = None
        watcher = threading.Thread(target=self._watch_window, daemon=True)
        self._watching = True
        watcher.start()
        options = {"application": binary, "args": [self.tag]}
        caps = {"browserName": "wry", "tauri:options": options}
        for attempt in range(3):
            try:
                reply = http(
                    "POST",
                    f"{driver.url}/session",
                    {"capabilities": {"alwaysMatch": caps}, "desiredCapabilities": caps},
                )
                break
            except OSError as error:  # tauri-driver may drop the first request while it starts
                if attempt == 2:
                    raise
                print(f"  (WebDriver session refused: {error}; asking again)", file=sys.stderr)
                time.sleep(1)
        self.base = f"{driver.url}/session/{reply['value']['sessionId']}"
        http("POST", f"{self.base}/timeouts", {"script": 120_000})
        self.pid = self._find_pid()
        self.started_at = process_start_wall(self.pid)
        deadline = time.monotonic() + WAIT_S
        while self.window_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self._watching = False

    def _watch_window(self):
        needle = f'"{self.title}"'
        while self._watching and self.window_at is None:
            tree = subprocess.run(
                ["xwininfo", "-root", "-tree"], capture_output=True, text=True
            ).stdout
            if needle in tree:
                self.window_at = time.time()
            time.sleep(0.01)

    def _find_pid(self):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = subprocess.run(["pgrep", "-f", "--", self.tag], capture_output=True, text=True)
            pids = [int(p) for p in found.stdout.split()]
            # The binary itself, not a shell or WebKit process that repeats the argument.
            for pid in pids:
                if os.path.basename(os.readlink(f"/proc/{pid}/exe")) in BINARY_NAMES:
                    return pid
            time.sleep(0.05)
        raise SystemExit(f"bench: no process with {self.tag}")

    def script(self, source, *args):
        return http("POST", f"{self.base}/execute/sync", {"script": source, "args": list(args)})["value"]

    def script_async(self, source, *args):
        return http(
            "POST", f"{self.base}/execute/async", {"script": source, "args": list(args)}, timeout=120
        )["value"]

    def mark(self, name):
        """Wall-clock time (s) of a performance mark, waiting for it."""
        source = (
            "const m = performance.getEntriesByName(arguments[0], 'mark')[0];"
            "return m ? performance.timeOrigin + m.startTime : null;"
        )
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            at = self.script(source, name)
            if at is not None:
                return at / 1000.0
            time.sleep(0.05)
        raise SystemExit(f"bench: the page never marked {name!r}")

    def element(self, testid):
        css = f'[data-testid="{testid}"]'
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                found = http("POST", f"{self.base}/element", {"using": "css selector", "value": css})
                return found["value"][ELEMENT]
            except urllib.error.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"bench: no element {testid}")

    def type_into(self, testid, text):
        element = self.element(testid)
        self.script(
            "arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            {ELEMENT: element},
        )
        http("POST", f"{self.base}/element/{element}/value", {"text": text})

    def click(self, testid):
        http("POST", f"{self.base}/element/{self.element(testid)}/click", {})

    def wait_state(self, state):
        deadline = time.monotonic() + WAIT_S
        source = "return document.querySelector('[data-testid=\"session-state\"]')?.textContent ?? null;"
        while time.monotonic() < deadline:
            if (self.script(source) or "").strip() == state:
                return
            time.sleep(0.1)
        raise SystemExit(f"bench: the app never reached {state!r}")

    def tree(self):
        """The process and everything under it (WebKit's web and network processes)."""
        pids, frontier = [self.pid], [self.pid]
        while frontier:
            children = []
            for pid in frontier:
                found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
                children += [int(c) for c in found.stdout.split()]
            pids += children
            frontier = children
        return pids

    def pss_kib(self):
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
            except (OSError, StopIteration):
                pass
        return total

    def cpu_seconds(self):
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except OSError:
                pass
        return total / CLK_TCK

    def close(self):
        try:
            http("DELETE", self.base, timeout=20)
        except OSError:
            pass
        subprocess.run(["pkill", "-f", "--", self.tag])


BINARY_NAMES = set()


def process_start_wall(pid):
    """When the process started, on the wall clock (from its boot-time start in /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    since_start = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / CLK_TCK
    return time.time() - since_start


def measure(session, marks):
    result = {"window": (session.window_at - session.started_at) * 1000 if session.window_at else None}
    for key, name in marks.items():
        result[key] = (session.mark(name) - session.started_at) * 1000
    settle = session.started_at + 5 - time.time()
    if settle > 0:
        time.sleep(settle)
    result["pss"] = session.pss_kib() / 1024
    return result


def idle_cpu(session, seconds):
    before = session.cpu_seconds()
    time.sleep(seconds)
    return (session.cpu_seconds() - before) * 60 / seconds


def start_emulator(binary, home):
    process = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--memory", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=open(f"{home}/emulator.log", "wb"),
        text=True,
    )
    return process, json.loads(process.stdout.readline())


def sign_in_once(driver, app, emulator):
    """The first start of the app: a profile for the emulator and a pasted login token, so that
    every later start restores the session from the keyring."""
    session = Session(driver, app, "Genius Account")
    try:
        session.element("setup")
        session.script("document.querySelector('[data-testid=\"preset-custom\"]').click();")
        session.type_into("profile-name", "Bench")
        session.type_into("profile-server", emulator["url"])
        session.type_into("profile-appcode", emulator["appCode"])
        session.type_into("profile-callback", "http://localhost:47150/callback")
        session.type_into("profile-secret", emulator["appSecret"])
        session.click("btn-save-profile")
        session.wait_state("signed-out")
        token = http(
            "POST",
            f"{emulator['url']}/__emulator/login-token",
            {"appCode": emulator["appCode"], "uid": emulator["users"][0]["id"]},
        )["token"]
        session.type_into("signin-paste-input", token)
        session.click("signin-paste-submit")
        session.wait_state("signed-in")
    finally:
        session.close()


def mint_login_tokens(emulator, count):
    """Real tokens, signed by the emulator: login tokens of its seeded users, round robin."""
    users = [u["id"] for u in emulator["users"]]
    return [
        http(
            "POST",
            f"{emulator['url']}/__emulator/login-token",
            {"appCode": emulator["appCode"], "uid": users[i % len(users)]},
        )["token"]
        for i in range(count)
    ]


# In the page: time from a click to the first rows of the table (two frames later, painted).
FIRST_ROWS = """
const [testid, done] = [arguments[0], arguments[arguments.length - 1]];
const start = performance.now();
document.querySelector(`[data-testid="${testid}"]`).click();
const poll = () => document.querySelector('[data-testid="support-row"]')
  ? requestAnimationFrame(() => done(performance.now() - start))
  : requestAnimationFrame(poll);
poll();
"""

# In the page: from a change (sort click or filter text) until the first row differs.
FIRST_ROW_CHANGES = """
const [testid, text, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const firstRow = () => document.querySelector('[data-testid="support-row"]')?.dataset.id ?? null;
const before = firstRow();
const start = performance.now();
const el = document.querySelector(`[data-testid="${testid}"]`);
if (text === null) el.click();
else { el.value = text; el.dispatchEvent(new Event('input', { bubbles: true })); }
const poll = () => firstRow() !== before
  ? requestAnimationFrame(() => done(performance.now() - start))
  : (performance.now() - start > 10000 ? done(null) : requestAnimationFrame(poll));
poll();
"""

# In the page: wait until the table counts this many rows.
COUNT_IS = """
const [n, done] = arguments;
const poll = () => document.querySelector('[data-testid="support-count"]')?.textContent === n
  ? done(true) : setTimeout(poll, 50);
poll();
"""

# In the page: scroll #main from top to bottom in steps of one frame; the frame intervals.
SCROLL = """
const done = arguments[arguments.length - 1];
const main = document.getElementById('main');
main.scrollTop = 0;
const step = Math.max(1, (main.scrollHeight - main.clientHeight) / 240);
const frames = [];
let last = null;
const frame = (now) => {
  if (last !== null) frames.push(now - last);
  last = now;
  if (main.scrollTop + main.clientHeight >= main.scrollHeight - 1 || frames.length > 600) done(frames);
  else { main.scrollTop += step; requestAnimationFrame(frame); }
};
requestAnimationFrame(frame);
"""


def support_view(session, emulator, count):
    """10,000 tokens loaded, sorted, filtered and scrolled in the real window."""
    tokens = mint_login_tokens(emulator, count)
    session.click("nav-support")
    field = session.element("support-input")
    session.script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        {ELEMENT: field},
        "\n".join(tokens),
    )
    result = {"first_rows": session.script_async(FIRST_ROWS, "support-parse")}
    session.script_async(COUNT_IS, str(count))
    result["sort"] = session.script_async(FIRST_ROW_CHANGES, "support-sort-issued", None)
    # An owner whose token is first in neither order (tokens go round robin over the users).
    users = emulator["users"]
    other = next(u for i, u in enumerate(users) if i not in (0, (count - 1) % len(users)))
    result["filter"] = session.script_async(FIRST_ROW_CHANGES, "support-filter", other["name"])
    session.script_async(FIRST_ROW_CHANGES, "support-filter", "")
    frames = sorted(session.script_async(SCROLL))
    result["frame_median"] = statistics.median(frames)
    result["frame_p95"] = frames[int(len(frames) * 0.95) - 1]
    result["frame_max"] = frames[-1]
    result["frames"] = len(frames)
    return result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", required=True)
    parser.add_argument("--bare", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measurement")
    parser.add_argument("--deb", help="the .deb whose size is checked")
    parser.add_argument("--support-rows", type=int, default=10_000, help="0 skips the Support view")
    args = parser.parse_args()
    BINARY_NAMES.update(os.path.basename(b) for b in (args.app, args.bare))

    work = tempfile.mkdtemp(prefix="bench-app-")
    app_home, bare_home = f"{work}/app", f"{work}/bare"
    for home in (app_home, bare_home):
        os.makedirs(home)
    emulator_process, emulator = start_emulator(args.emulator, work)
    app_driver, bare_driver = Driver(app_home), Driver(bare_home)
    runs = {"app": [], "bare": []}
    idle = {}
    try:
        sign_in_once(app_driver, args.app, emulator)
        for n in range(1, args.runs + 1):
            for name in ("bare", "app"):
                if name == "bare":
                    session = Session(bare_driver, args.bare, "Bare Tauri")
                    marks = {"first": "first-content"}
                else:
                    session = Session(app_driver, args.app, "Genius Account")
                    marks = {"first": "first-content", "signed_in": "signed-in"}
                try:
                    result = measure(session, marks)
                    if n == args.runs and args.idle > 0:
                        idle[name] = idle_cpu(session, args.idle)
                finally:
                    session.close()
                runs[name].append(result)
                shown = ", ".join(f"{k} {v:.0f}" for k, v in result.items() if v is not None)
                print(f"  run {n} {name:4}: {shown}  (ms, MiB)", flush=True)
        support = None
        if args.support_rows:
            session = Session(app_driver, args.app, "Genius Account")
            try:
                session.wait_state("signed-in")
                support = support_view(session, emulator, args.support_rows)
            finally:
                session.close()
    finally:
        app_driver.close()
        bare_driver.close()
        emulator_process.terminate()

    med = {name: {k: median([r.get(k) for r in rs]) for k in ("window", "first", "signed_in", "pss")}
           for name, rs in runs.items()}
    sizes = {name: os.path.getsize(path) / 2**20 for name, path in (("app", args.app), ("bare", args.bare))}
    print(f"\nmedians of {args.runs} runs each (ms; MiB):")
    print(f"  {'measurement':42} {'app':>9} {'bare':>9} {'app/bare':>9}")
    rows = [
        ("start → window mapped", med["app"]["window"], med["bare"]["window"]),
        ("start → first content", med["app"]["first"], med["bare"]["first"]),
        ("start → signed-in view (restored)", med["app"]["signed_in"], med["bare"]["first"]),
        ("PSS of the process tree, 5 s after start", med["app"]["pss"], med["bare"]["pss"]),
        ("release binary size", sizes["app"], sizes["bare"]),
    ]
    for label, a, b in rows:
        print(f"  {label:42} {a:9.1f} {b:9.1f} {a / b:9.2f}")
    for name, per_minute in idle.items():
        print(f"  idle CPU of the {name} tree: {per_minute:.3f} s per minute (over {args.idle:.0f} s)")

    if support:
        print(
            f"  Support view, {args.support_rows} tokens: first rows {support['first_rows']:.0f} ms after"
            f" \"Find tokens\", sorted in {support['sort']:.0f} ms, filtered in {support['filter']:.0f} ms;"
            f" scrolling top to bottom, {support['frames']} frames: median {support['frame_median']:.1f} ms,"
            f" p95 {support['frame_p95']:.1f} ms, max {support['frame_max']:.1f} ms"
        )

    checks = [
        ("first content ≤ 1.15× the bare window's", med["app"]["first"] / med["bare"]["first"], 1.15),
        ("signed-in view ≤ 1.3× the bare first content", med["app"]["signed_in"] / med["bare"]["first"], 1.3),
        ("PSS of the tree ≤ 1.10× the bare window's", med["app"]["pss"] / med["bare"]["pss"], 1.10),
    ]
    if "app" in idle:
        checks.append(("idle CPU ≤ 0.2 s per minute", idle["app"], 0.2))
    if args.deb:
        checks.append((".deb ≤ 4 MiB", os.path.getsize(args.deb) / 2**20, 4.0))
    # Sanity bounds (the old absolute targets): a gross regression, whatever the baseline does.
    checks += [
        ("sanity: window mapped < 2000 ms", med["app"]["window"], 2000),
        ("sanity: app tree PSS < 400 MiB", med["app"]["pss"], 400),
    ]
    missed = 0
    print("targets:")
    for label, value, limit in checks:
        ok = value <= limit
        missed += not ok
        print(f"  {'ok    ' if ok else 'MISSED'}  {label:48} {value:8.2f} (limit {limit})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
