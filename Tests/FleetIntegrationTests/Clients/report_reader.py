#!/usr/bin/env python3
"""An independent reader of FleetStorm reports: protoc's Python code for the repo's .proto, PyPI protobuf to decode,
PyPI hdrhistogram for every hdr_v2, and the storm definitions (storm-metrics.md) recomputed from the raw series.

  report_reader.py PROTO_ROOT REPORT.pb   -> prints JSON {checks, histograms, storms}; exit 1 on any mismatch
"""
import base64, importlib, json, math, os, subprocess, sys, tempfile


def load_module(proto_root, out):
    proto = "fleetstorm/report/v1/report.proto"
    subprocess.run(["protoc", f"--proto_path={proto_root}", f"--python_out={out}", proto], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("fleetstorm.report.v1.report_pb2")


def storm(fault_label, start, losses_until, end_of_fault, series, w, run_end):
    attempts, accepted = series.get("attempts", []), series.get("accepted", [])
    lost, back = series.get("lost", []), series.get("reconnected", [])
    n = max(len(attempts), len(accepted), len(lost), len(back))
    val = lambda v, i: v[i] if i < len(v) else 0
    b0 = max(0, start) // w
    loss_end = losses_until // w
    affected = sum(val(lost, b) for b in range(b0, min(n, loss_end)))
    recovered = min(affected, sum(val(back, b) for b in range(b0, n)))

    def reached(threshold):
        if threshold <= 0 or threshold > recovered:
            return None
        cum = 0
        for b in range(b0, n):
            cum += val(back, b)
            if cum >= threshold:
                return b
        return None

    share = lambda x: math.ceil(x * affected)
    last = reached(recovered) if recovered > 0 else None
    if last is not None:
        end = (last + 1) * w
    elif affected == 0:
        end = max(end_of_fault, start + w)
    else:
        end = run_end
    end = max(end, start + 1)
    b1 = max(b0 + 1, -(-end // w))
    window = [val(attempts, b) for b in range(b0, b1)]
    peak = max(window) / (w / 1e9)
    t90_bin = reached(share(0.9))
    return {
        "fault": fault_label,
        "affected": affected,
        "peak_attempt_rate": peak,
        "t90_ns": -1 if t90_bin is None else (t90_bin + 1) * w - start,
    }


def main(proto_root, path):
    with tempfile.TemporaryDirectory(prefix="fleetstorm-py-") as out:
        return check(load_module(proto_root, out), path)


def check(pb, path):
    report = pb.Report()
    report.ParseFromString(open(path, "rb").read())
    from hdrh.histogram import HdrHistogram

    problems, histograms = [], 0
    for h in list(report.histograms) + [h for c in report.cohorts for h in c.histograms]:
        if not h.hdr_v2:
            if h.count:
                problems.append(f"{h.name}/{h.attempt}: no hdr_v2")
            continue
        decoded = HdrHistogram.decode(base64.b64encode(h.hdr_v2))
        histograms += 1
        if decoded.get_total_count() != h.count:
            problems.append(f"{h.name}/{h.attempt}: count {decoded.get_total_count()} != {h.count}")
        for pct, mine in ((50, h.p50), (90, h.p90), (99, h.p99), (100, h.max)):
            theirs = decoded.get_value_at_percentile(pct)
            # Libraries round a percentile's rank differently (nearest vs up): the report's value must lie between
            # the values one rank below and one rank above in the decoded histogram.
            step = 100.0 / h.count
            low = decoded.get_value_at_percentile(max(0.0, pct - step))
            high = decoded.get_value_at_percentile(min(100.0, pct + step))
            if not (decoded.values_are_equivalent(theirs, mine) or low <= mine <= high):
                problems.append(f"{h.name}/{h.attempt} p{pct}: hdrhistogram {theirs} vs report {mine}")

    w = report.series.bin_ns
    series = {s.name: list(s.values) for s in report.series.series}
    run_end = report.run.duration_ns
    faults = []
    for f in sorted(report.faults, key=lambda f: f.start_ns):
        if faults and faults[-1]["start"] // w == f.start_ns // w:  # same bin: one storm for both
            faults[-1]["label"] += " + " + f.label
            faults[-1]["end"] = max(faults[-1]["end"], f.end_ns)
        else:
            faults.append({"label": f.label, "start": f.start_ns, "end": f.end_ns})
    expected = []
    for i, f in enumerate(faults):
        nxt = faults[i + 1]["start"] if i + 1 < len(faults) else run_end + w
        expected.append(storm(f["label"], f["start"], max(nxt, f["start"] + w), f["end"], series, w, run_end))
    expected.append(storm("run", 0, run_end + w, run_end, series, w, run_end))
    stored = [s for s in report.storms]
    if [s.fault for s in stored] != [e["fault"] for e in expected]:
        problems.append(f"storms {[s.fault for s in stored]} != {[e['fault'] for e in expected]}")
    for s, e in zip(stored, expected):
        if s.affected != e["affected"]:
            problems.append(f"{s.fault}: affected {s.affected} != {e['affected']}")
        if abs(s.peak_attempt_rate - e["peak_attempt_rate"]) > 1e-6:
            problems.append(f"{s.fault}: peak {s.peak_attempt_rate} != {e['peak_attempt_rate']}")
        if s.t90_ns != e["t90_ns"]:
            problems.append(f"{s.fault}: t90 {s.t90_ns} != {e['t90_ns']}")
    print(json.dumps({"problems": problems, "histograms": histograms, "storms": expected}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
