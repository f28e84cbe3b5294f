#!/usr/bin/env python3
"""Runs the commands the documentation shows, as written, and fails when one of them does not work.

Sources: every ```sh block and every ```text block that starts with "$ COMMAND" in README.md, profiles/README.md,
docs/*.md and deploy/kubernetes/README.md, and the examples in every `fleetstorm ... --help`. Each source runs in a
scratch folder of its own (profiles/, Sources/ and deploy/ linked in), its commands in order, so a report written
by one command is there for the next. A command fails the pass when it exits non-zero, prints an `error:` line or
refuses a key; a ```text block fails when a line label or column header of its shown output is missing from what
the command prints now (numbers aside). A README table that a bench script prints must have the script's header.

What is adapted, and only this:
- `swift run -c release fleetstorm` and `fleetstorm` run the binary under test (FLEETSTORM_BIN, default the debug
  build that scripts/test.sh made);
- fleet sizes are capped at FLEETSTORM_DOC_DEVICES devices (default 40; `--devices` lowered or added to run,
  simulate, tune and netlab run) and real runs at FLEETSTORM_DOC_DURATION (default 3s; `--duration` lowered or
  added), or 2 s after the last fault the profile starts in its first 10 s, so the storm it shows happens;
- every 127.0.0.1 port is moved to a free one (in one source, the same documented port to the same free port);
- a `fleetstorm hub` that listens runs in the background until the end of its block, then gets Ctrl-C and must exit
  0; a command aimed at a hub that the text did not start gets one: mosquitto for mqtt://, else `fleetstorm hub
  --anonymous` (certificates from `hub --generate-cert` when the text made none);
- `faults.yaml` exists with the example the hub's --help gives.
Sources run FLEETSTORM_DOC_JOBS at a time (default 3; netlab's one after another, after the others).
Commands that cannot run here are listed with the reason (a Kubernetes cluster, release benchmarks that take
minutes, the test suite itself) and counted at the end.

Usage: scripts/doc-commands.py [--list] [--keep] [SOURCE-SUBSTRING...]
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.abspath(os.environ.get("FLEETSTORM_BIN", os.path.join(ROOT, ".build/debug/fleetstorm")))
CAP_DEVICES = int(os.environ.get("FLEETSTORM_DOC_DEVICES", "40"))
CAP_DURATION = os.environ.get("FLEETSTORM_DOC_DURATION", "3s")
TIMEOUT = int(os.environ.get("FLEETSTORM_DOC_TIMEOUT", "180"))
JOBS = int(os.environ.get("FLEETSTORM_DOC_JOBS", "3"))
DOCS = ["README.md", "profiles/README.md", "deploy/kubernetes/README.md"] + sorted(
    "docs/" + f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
FAULTS_EXAMPLE = "faults: [{at: 30s, kind: drop, fraction: 0.5}]\n"

# Commands that are not run, with the reason. Matched against the start of the command as written.
NOT_RUN = [
    ("scripts/test.sh", "the test suite itself (this pass is part of it)"),
    ("python3 scripts/doc-commands.py", "this pass itself"),
    ("scripts/fuzz.sh", "fuzzing: scripts/test.sh runs every target before this pass"),
    ("scripts/bench-", "a release benchmark taking minutes; its README table's header is checked against the script"),
    ("scripts/sim-vs-real.sh", "runs a profile over real sockets for a minute or more per seed (a measurement)"),
    ("scripts/differential.sh", "runs 30 generated scenarios over real sockets and in FleetSim (half an hour; a measurement)"),
    ("cd Benchmarks", "package-benchmark micro-benchmarks (release, minutes)"),
    ("docker ", "needs docker and a Kubernetes cluster; KubernetesTests runs the pods' command lines"),
    ("START=", "part of the Kubernetes sequence (needs a cluster)"),
    ("sed -i", "part of the Kubernetes sequence (needs a cluster)"),
    ("kubectl ", "needs a Kubernetes cluster; KubernetesTests validates the manifests and runs their commands"),
    ("swift run fleetstorm-fuzz", "replays a fuzz finding FILE (a placeholder); FuzzCorpusTests replays the corpus"),
]


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TAKEN = set()
TAKEN_LOCK = threading.Lock()


def new_port():
    """A free loopback port below the ephemeral range, never handed out twice in one pass."""
    with TAKEN_LOCK:
        while True:
            port = 20000 + (free_port() % 12000)
            if port in TAKEN:
                continue
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
            TAKEN.add(port)
            return port


# ---------------------------------------------------------------------------------------------- extraction


class Snippet:
    def __init__(self, source, line, commands, expected=None):
        self.source, self.line, self.commands, self.expected = source, line, commands, expected


def logical_lines(lines):
    """Joins backslash continuations; drops blank lines, comment lines and trailing `# comments`."""
    out, current = [], ""
    for raw in lines:
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line.strip() if current else line
        current = re.sub(r"\s+#(\s.*)?$", "", current).strip()
        if current and not current.startswith("#"):
            out.append(current)
        current = ""
    return out


def markdown_snippets(path):
    lines = open(os.path.join(ROOT, path), encoding="utf-8").read().split("\n")
    snippets, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body, lang = lines[i + 1:j], fence.group(1)
        if lang in ("sh", "bash"):
            snippets.append(Snippet(path, i + 2, logical_lines(body)))
        elif lang == "text" and body and body[0].startswith("$ "):
            k, head = 0, []
            while True:
                head.append(body[k][2:] if k == 0 else body[k])
                if not body[k].rstrip().endswith("\\") or k + 1 >= len(body):
                    break
                k += 1
            snippets.append(Snippet(path, i + 2, logical_lines(head), expected=body[k + 1:]))
        i = j + 1
    return snippets


def help_text(path, columns=None):
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = str(columns)
    result = subprocess.run([BIN] + path + ["--help"], capture_output=True, text=True, timeout=60, env=env)
    if result.returncode != 0:
        raise Failure(f"fleetstorm {' '.join(path)} --help exits {result.returncode}")
    return result.stdout


def command_paths(path=()):
    """Every command path: [], [run], ..., [netlab, run], from the SUBCOMMANDS sections."""
    paths, text = [list(path)], help_text(list(path))
    section = text.split("SUBCOMMANDS:", 1)
    if len(section) == 2:
        for line in section[1].split("\n"):
            m = re.match(r"^  ([a-z][a-z-]*)\b", line)
            if m and m.group(1) != "help":
                paths += command_paths(path + (m.group(1),))
    return paths


def help_examples(text, name):
    lines = text.split("\n")
    starts = [n for n, line in enumerate(lines) if re.match(r"^Examples?\b", line)]
    if not starts:
        raise Failure(f"{name}: no example (every --help shows a working one)")
    commands = []
    for line in lines[starts[0] + 1:]:
        if line.startswith("then, in another shell"):
            continue
        if not line.startswith("  "):
            break
        if line.rstrip().endswith("\\"):
            raise Failure(f"{name}: the example `{line.strip()}` goes on over a second line; put it on one")
        commands.append(re.sub(r"\s+#(\s.*)?$", "", line.strip()))
    return commands


def help_snippets():
    snippets = []
    for path in command_paths():
        name = " ".join(["fleetstorm"] + path + ["--help"])
        commands = help_examples(help_text(path), name)
        if commands != help_examples(help_text(path, columns=1000), name):
            raise Failure(f"{name}: examples are wrapped at the default width, so pasting one breaks it")
        snippets.append(Snippet(name, 0, commands))
    return snippets


# ---------------------------------------------------------------------------------------------- adaptation


def option_value(words, option):
    for n, word in enumerate(words):
        if word == option and n + 1 < len(words):
            return n + 1, words[n + 1]
        if word.startswith(option + "="):
            return n, word.split("=", 1)[1]
    return None, None


def seconds(text):
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$", text)
    if not m:
        return None
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def run_cap(arguments):
    """FLEETSTORM_DOC_DURATION, or long enough for the profile's faults of its first 10 s to happen (a storm)."""
    cap = seconds(CAP_DURATION)
    profile = re.search(r"(\S+\.yaml)\b", arguments)
    try:
        text = open(os.path.join(ROOT, profile.group(1)), encoding="utf-8").read() if profile else ""
    except OSError:
        text = ""
    for at in re.findall(r"\bat:\s*([0-9.]+(?:ms|s|m)?)", text):
        if (seconds(at) or 99) <= 10:
            cap = max(cap, seconds(at) + 2)
    return f"{cap:g}s"


def adapt(command, ports):
    """The command as it runs here: the binary under test, free ports, capped sizes (inserted after the
    subcommand, so shell syntax in the rest of the line stays as written)."""
    command = re.sub(r"^swift run (-c release )?fleetstorm\b", "fleetstorm", command)
    command = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports(int(m.group(1)))}", command)
    m = re.match(r"^fleetstorm (run|simulate|tune|netlab run)\b", command)
    if not m:
        return command
    sub, rest, added = m.group(1), command[m.end():], []
    devices = re.search(r"--devices[ =](\d+)", rest)
    if devices is None:
        added += ["--devices", str(CAP_DEVICES)]
    elif int(devices.group(1)) > CAP_DEVICES:
        rest = rest[:devices.start(1)] + str(CAP_DEVICES) + rest[devices.end(1):]
    if sub in ("run", "netlab run"):
        cap = run_cap(rest)
        duration = re.search(r"--duration[ =](\S+)", rest)
        if duration is None:
            added += ["--duration", cap]
        elif (seconds(duration.group(1)) or 0) > seconds(cap):
            rest = rest[:duration.start(1)] + cap + rest[duration.end(1):]
    if sub == "tune" and "--real" in rest:
        added += ["--set", f"duration={CAP_DURATION}"]
    if sub != "tune" and "--quiet" not in rest:
        added.append("--quiet")
    return f"fleetstorm {sub} {' '.join(added)}{rest}"


def listened_ports(words):
    ports = []
    for option in ("--listen", "--tls-listen", "--ws-listen", "--wss-listen", "--https-listen", "--amqp-listen",
                   "--amqps-listen"):
        _, value = option_value(words, option)
        if value and ":" in value:
            ports.append(int(value.rsplit(":", 1)[1]))
    return ports


# ---------------------------------------------------------------------------------------------- running


class Folder:
    """One scratch folder, its background hubs and brokers."""

    def __init__(self, keep):
        self.path = tempfile.mkdtemp(prefix="fleetstorm-doc-")
        self.keep = keep
        for name in ("profiles", "Sources", "deploy"):
            os.symlink(os.path.join(ROOT, name), os.path.join(self.path, name))
        with open(os.path.join(self.path, "faults.yaml"), "w") as f:
            f.write(FAULTS_EXAMPLE)
        bindir = os.path.join(self.path, ".bin")
        os.mkdir(bindir)
        os.symlink(BIN, os.path.join(bindir, "fleetstorm"))
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        self.env.pop("COLUMNS", None)
        self.background = {}  # port -> (process, command, log path)
        self.ports = {}  # documented port -> the free one it runs on here

    def port(self, documented):
        if documented not in self.ports:
            self.ports[documented] = new_port()
        return self.ports[documented]

    def start(self, command, ports, what):
        for port in ports:
            if port in self.background:
                self.stop(port)
        log = os.path.join(self.path, f".bg-{ports[0]}.log")
        process = subprocess.Popen(command, shell=True, cwd=self.path, env=self.env, executable="/bin/bash",
                                   stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        for port in ports:
            while True:
                if process.poll() is not None:
                    raise Failure(f"{what} exited {process.returncode} before listening: {tail(log)}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise Failure(f"{what} did not listen on port {port} within 60 s: {tail(log)}")
                    time.sleep(0.2)
        for port in ports:
            self.background[port] = (process, what, log)

    def stop(self, port):
        process, what, log = self.background[port]
        for p in [p for p, entry in self.background.items() if entry[0] is process]:
            del self.background[p]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise Failure(f"{what} did not stop within 60 s of Ctrl-C")
        if process.returncode != 0 and not what.startswith("helper"):
            raise Failure(f"{what} exited {process.returncode} after Ctrl-C: {tail(log)}")

    def stop_all(self):
        first_error = None
        while self.background:
            try:
                self.stop(next(iter(self.background)))
            except Failure as error:
                first_error = first_error or error
        if first_error:
            raise first_error

    def ensure_hub(self, words):
        """Starts a hub for a command aimed at one that nothing here runs."""
        _, url = option_value(words, "--hub")
        m = re.match(r"^(mqtts?|wss?|https|amqps?)://127\.0\.0\.1:(\d+)", url or "")
        if not m or int(m.group(2)) in self.background:
            return
        scheme, port = m.group(1), int(m.group(2))
        if scheme == "mqtt":
            mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto")
                                                      else None)
            if mosquitto:
                self.start(f"exec {mosquitto} -p {port}", [port], f"helper mosquitto on {port}")
                return
            if os.environ.get("CI") == "true":
                raise Failure("mosquitto is not installed (CI needs it: .ci/run installs it)")
        if scheme != "mqtt" and not os.path.exists(os.path.join(self.path, "certs/server.pem")):
            run_checked(self, "fleetstorm hub --generate-cert certs --host localhost", "helper certificates")
        option = {"mqtt": "--listen", "mqtts": "--tls-listen", "ws": "--ws-listen", "wss": "--wss-listen",
                  "https": "--https-listen", "amqp": "--amqp-listen", "amqps": "--amqps-listen"}[scheme]
        tls = "" if scheme in ("mqtt", "ws", "amqp") else " --tls-cert certs/server.pem --tls-key certs/server-key.pem"
        self.start(f"exec fleetstorm hub --anonymous {option} 127.0.0.1:{port}{tls}", [port],
                   f"helper hub on {scheme}://127.0.0.1:{port}")

    def close(self):
        try:
            self.stop_all()
        finally:
            if not self.keep:
                shutil.rmtree(self.path, ignore_errors=True)


def tail(path, lines=3):
    try:
        text = open(path, errors="replace").read().strip().split("\n")
    except OSError:
        return ""
    return " | ".join(text[-lines:])


REFUSALS = re.compile(r"^(error:|.*\bunknown key\b|.*\bis not a profile key\b)", re.M)


def run_checked(folder, command, what):
    result = subprocess.run(command, shell=True, cwd=folder.path, env=folder.env, executable="/bin/bash",
                            capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        lines = [line for line in output.strip().split("\n") if line.strip()]
        raise Failure(f"{what}: exit {result.returncode}: {' | '.join(lines[-3:])}")
    refused = REFUSALS.search(output)
    if refused:
        raise Failure(f"{what}: exit 0 but printed `{refused.group(0).strip()}`")
    return result.stdout


def label(line):
    """A line's label, numbers aside: its words before the first value (a word that starts with a digit or a sign
    and a digit, a bar of a sparkline, a dash for none, ±, never), up to its first colon. A table's header line is
    all label, so its columns must match exactly; a row is its name; "key: verdict" is its key."""
    if line.startswith("GENERATOR LIMITED"):
        return "generator:"  # the health line's other verdict ("generator: kept up (...)")
    words = []
    for word in line.split():
        if re.match(r"^[-+(]?\d", word) or re.search(r"[▁-█]", word) or word in ("—", "±", "never"):
            break
        words.append(word)
    text = " ".join(words)
    # "generator: kept up (...)" and "recommended: retry.policy=..." are labelled by their key, not their verdict.
    return text.split(":", 1)[0] + ":" if ":" in text else text


def compare_output(expected, actual, what):
    actual_labels = {label(line) for line in actual.split("\n")}
    missing = []
    for line in expected:
        text = label(line)
        if text and not text.startswith("[") and text not in actual_labels:
            missing.append(text)
    if missing:
        raise Failure(f"{what}: the shown output has lines the command no longer prints: "
                      + "; ".join(f"`{m}`" for m in missing[:4]))


def not_run_reason(command):
    for prefix, reason in NOT_RUN:
        if command.startswith(prefix):
            return reason
    return None


def run_snippet(folder, snippet, report):
    for command in snippet.commands:
        where = f"{snippet.source}:{snippet.line}" if snippet.line else snippet.source
        what = f"{where}: `{command}`"
        reason = not_run_reason(command)
        if reason:
            report["not run"].append(f"{what} ({reason})")
            continue
        adapted = adapt(command, folder.port)
        try:
            words = shlex.split(adapted)
        except ValueError:
            words = []
        started = time.time()
        if words[:2] == ["fleetstorm", "hub"] and listened_ports(words) and "--duration" not in words:
            folder.start("exec " + adapted, listened_ports(words), what)
            report["ran"].append((what, time.time() - started))
            continue
        folder.ensure_hub(words)
        output = run_checked(folder, adapted, what)
        if snippet.expected is not None:
            compare_output(snippet.expected, output, what)
        report["ran"].append((what, time.time() - started))
    folder.stop_all()


def readme_tables(report):
    """A README table right after a paragraph naming scripts/bench-X.sh has the header that script prints."""
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")
    for n, line in enumerate(lines):
        if not line.startswith("| ") or (n > 0 and lines[n - 1].startswith("|")):
            continue
        context = " ".join(lines[max(0, n - 8):n])
        scripts = re.findall(r"scripts/(bench-[a-z-]+\.sh)(?: ([a-z]+))?", context)
        if not scripts:
            continue
        script, step = scripts[-1]
        text = open(os.path.join(ROOT, "scripts", script), encoding="utf-8").read()
        if step:
            m = re.search(rf"^\s*{step}\)\n(.*?)^\s*;;", text, re.M | re.S)
            text = m.group(1) if m else text
        else:
            # A table that names no step is not one a step prints (a step's table is named with its step).
            text = re.sub(r"^\s*[a-z]+\)\n.*?^\s*;;", "", text, flags=re.M | re.S)
        headers = re.findall(r'^\s*echo "(\| [^"$]*\|)"\s*$', text, re.M)
        headers = [h for h in headers if not h.startswith("|---")]
        if not re.search(r'^\s*echo "\|---', text, re.M):
            report["not run"].append(f"README.md:{n + 1}: table assembled from the rows scripts/{script} prints "
                                     "(it prints no header to compare)")
            continue
        if line.strip() not in headers:
            raise Failure(f"README.md:{n + 1}: the table's header is not what scripts/{script}"
                          f"{' ' + step if step else ''} prints ({headers[0] if headers else 'no table'})")
        report["tables"] += 1


def run_source(name, snippets, keep):
    """Runs one source's snippets in a folder of its own; returns its log lines, report and failures."""
    report, failures, log = {"ran": [], "not run": []}, [], []
    folder = Folder(keep)
    log.append(f"== {name} ({folder.path})")
    try:
        for snippet in snippets:
            try:
                run_snippet(folder, snippet, report)
            except (Failure, subprocess.TimeoutExpired) as error:
                failures.append(str(error))
                log.append(f"FAIL {error}")
                try:
                    folder.stop_all()
                except Failure as stop_error:
                    failures.append(str(stop_error))
    finally:
        try:
            folder.close()
        except Failure as error:
            failures.append(str(error))
    return log, report, failures


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    listing, keep = "--list" in sys.argv, "--keep" in sys.argv
    if not os.access(BIN, os.X_OK):
        sys.exit(f"error: {BIN} is not built: run `swift build` first (or set FLEETSTORM_BIN)")
    report = {"ran": [], "not run": [], "tables": 0}
    failures = []
    try:
        readme_tables(report)
    except Failure as error:
        failures.append(str(error))
    sources = [(path, markdown_snippets(path)) for path in DOCS]
    try:
        sources += [(s.source, [s]) for s in help_snippets()]
    except Failure as error:
        failures.append(str(error))
    sources = [(name, snippets) for name, snippets in sources if not args or any(a in name for a in args)]
    if listing:
        for name, snippets in sources:
            for s in snippets:
                for c in s.commands:
                    print(f"{name}:{s.line}: {c}")
        return
    # Sources run side by side (each in its own folder, on its own ports; the fleets are small and mostly wait),
    # except the netlab ones, which run one at a time after the others.
    netlab = [(n, s) for n, s in sources if any("netlab run" in c for x in s for c in x.commands)]
    others = [(n, s) for n, s in sources if (n, s) not in netlab]
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        results = list(pool.map(lambda source: run_source(*source, keep), others))
    results += [run_source(*source, keep) for source in netlab]
    for log, part, failed in results:
        print("\n".join(log), flush=True)
        report["ran"] += part["ran"]
        report["not run"] += part["not run"]
        failures += failed
    for what, took in report["ran"]:
        print(f"ok   {took:5.1f}s  {what}")
    for what in report["not run"]:
        print(f"not run  {what}")
    total = sum(took for _, took in report["ran"])
    print(f"{len(report['ran'])} commands ran ({total:.0f} s), {len(report['not run'])} not run (reasons above), "
          f"{report['tables']} README tables match their script, {len(failures)} failures")
    if failures:
        for failure in failures:
            print(f"FAIL {failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
