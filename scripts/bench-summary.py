#!/usr/bin/env python3
"""Markdown summary of one scripts/bench-vs-lttng.sh or scripts/bench-pipeline-vs-lttng.sh run.

    scripts/bench-summary.py bench-results/<run>     (reads raw.tsv, viewer.tsv, env.txt)
    scripts/bench-summary.py bench-results/<run>-pipeline   (pipeline.tsv, commands.tsv,
                                                             coldstart.tsv, env.txt)

Every figure is a median [min, max] over the repetitions; at T=2 a repetition's ns/event
is the median of its two threads. Standard library only.
"""
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

CASES = [
    ("loop", "empty loop (reference)"),
    ("dis_ev", "bench:ev compiled in, tracing off"),
    ("dis_min", "bench:ev_min compiled in, tracing off"),
    ("ev", "bench:ev (u64, u32, 16-char string) to disk, 4 x 512 KiB/CPU, discard"),
    ("min", "bench:ev_min (u64) to disk, 4 x 512 KiB/CPU, discard"),
    ("snap_ev", "bench:ev, flight recorder (overwrite, 4 x 512 KiB/CPU, written once at the end)"),
    ("snap_min", "bench:ev_min, flight recorder"),
    ("clock", "the trace clock alone (libust::clock::now)"),
]
IMPLS = [("ours", "libust"), ("c", "libust, C API"), ("lttng", "LTTng-UST")]


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def si(x, nd=2):
    if x is None:
        return "NA"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.{nd}f}{suf}"
    return f"{x:.{nd}f}"


def ns(x):
    if x is None:
        return "NA"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def mmm(xs, f):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "NA"
    return f"{f(statistics.median(xs))} [{f(min(xs))}, {f(max(xs))}]"


def ratio(a, b, nd=2):
    return f"{a / b:.{nd}f}" if a is not None and b else "NA"


def kept_cell(rows):
    """Flight recorder: the events the final snapshot kept (overwriting is not a loss)."""
    kept = [num(r["counted_bt2"]) for r in rows]
    return "kept " + mmm(kept, lambda x: f"{int(x):,}")


def lost_cell(rows):
    """Lost events per run, and whether the discard reports agree with them."""
    lost = [r["lost"] for r in rows]
    out = " / ".join(f"{int(num(x)):,}" if num(x) is not None else "NA" for x in lost)
    zero = sum(1 for x in lost if num(x) == 0)
    notes = []
    for r in rows:
        l = num(r["lost"])
        for key, who in (("warn_view", "view"), ("warn_bt2", "bt2"), ("lttng_discarded", "lttng list")):
            w = int(r[key]) if r[key].isdigit() else None
            if w is not None and l is not None and w != int(l):
                said = f"2^63 + {w - 2**63:,}" if w >= 2**63 else f"{w:,}"
                notes.append(f"rep {r['rep']}: {who} says {said}")
        cv = num(r["counted_view"])
        cb = num(r["counted_bt2"])
        if cv is not None and cb is not None and cv != cb:
            notes.append(f"rep {r['rep']}: view printed {int(cv):,} lines, bt2 counted {int(cb):,}")
    s = f"{out} (0 in {zero}/{len(rows)})"
    if notes:
        s += "; MISMATCH: " + "; ".join(notes)
    return s


def read_env(res):
    env = {}
    if (res / "env.txt").exists():
        for line in (res / "env.txt").read_text().splitlines():
            k, _, v = line.partition("\t")
            env[k] = v
    return env


# LTTng 2.13 reference, measured earlier on the reference VM (ms): `stop` and `destroy`
# right after a run that recorded events, and the root sessiond's start until it serves.
LTTNG_REF_MS = {"stop": 200.0, "destroy": 505.0, "sessiond": 23.0}
COMMANDS = ["create", "enable-event", "start", "stop", "list", "destroy"]


def pipeline_main(res):
    """Summary of scripts/bench-pipeline-vs-lttng.sh: the whole pipeline, both sides."""
    env = read_env(res)
    rows = list(csv.DictReader(open(res / "pipeline.tsv"), delimiter="\t"))
    cmds = list(csv.DictReader(open(res / "commands.tsv"), delimiter="\t")) if (res / "commands.tsv").exists() else []
    cold = list(csv.DictReader(open(res / "coldstart.tsv"), delimiter="\t")) if (res / "coldstart.tsv").exists() else []
    g = defaultdict(list)
    for r in rows:
        g[(r["impl"], int(r["threads"]))].append(r)
    names = {"ours": "ours (lttng-rs)", "lttng": "LTTng 2.13"}
    f1 = lambda x: f"{x:.1f}"
    f2 = lambda x: f"{x:.2f}"

    def intcell(v):
        x = num(v)
        if x is None:
            return "NA"
        x = int(x)
        return f"2^63 + {x - 2**63:,}" if x >= 2**63 else f"{x:,}"

    o = []
    o.append("# Whole pipeline: ours (lttng / lttng-sessiond / lttng-consumerd-ust) vs LTTng 2.13\n")
    if env.get("quick") == "1":
        o.append("**QUICK smoke run: small N, the numbers are not meaningful.**\n")
    for k in ("date", "git", "cpu", "uname", "lttng", "liblttng-ust", "babeltrace2", "rustc",
              "trace_fs", "disk_direct_MBps_start", "disk_direct_MBps_end", "reps", "n", "sessiond",
              "loadavg_start", "loadavg_end"):
        if k in env:
            o.append(f"- {k}: {env[k]}")
    o.append("")

    o.append("## 1. bench:ev through the daemons, default per-user buffers, discard mode\n")
    o.append("ns/ev: per-thread loop time / N as the workload reports it (median of the threads, then "
             "median [min, max] over repetitions). app: wall time of the whole program (start-up, "
             "registration, exit). Discarded: \"Discarded events\" of `lttng list SESSION` after `stop`, "
             "per run. Missing: N*T - events babeltrace2 counts in the trace, per run. Unaccounted: "
             "missing - discarded (events recorded but neither read back nor counted as discarded). "
             "A MISMATCH note appears when `lttng view`'s line count or the discard warnings "
             "disagree with the count, or when the stream files grew after `stop` returned.\n")
    o.append("| tracer | T | N/thread | buffers | runs | ns/ev | aggregate ev/s | app s | discarded per run | missing from trace per run | unaccounted |")
    o.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in (1, 2):
        for impl in ("ours", "lttng"):
            rs = g.get((impl, t))
            if not rs:
                continue
            bufs = sorted({f"{r['num_subbuf']} x {si(num(r['subbuf_size']), 0)}B" if num(r["subbuf_size"]) else "NA" for r in rs})
            disc = " / ".join(intcell(r["discarded_list"]) for r in rs)
            zero_d = sum(1 for r in rs if num(r["discarded_list"]) == 0)
            miss = " / ".join(intcell(r["lost"]) for r in rs)
            zero_m = sum(1 for r in rs if num(r["lost"]) == 0)
            notes = []
            for r in rs:
                cv, cb = num(r["counted_view"]), num(r["counted_bt2"])
                if cv is not None and cb is not None and cv != cb:
                    notes.append(f"rep {r['rep']}: view printed {int(cv):,} lines, bt2 counted {int(cb):,}")
                a, z = num(r.get("stream_bytes_at_stop")), num(r.get("stream_bytes"))
                if a is not None and z is not None and a != z:
                    notes.append(f"rep {r['rep']}: stream files grew from {int(a):,} to {int(z):,} B after `stop` returned")
                l = num(r["lost"])
                for key, who in (("warn_view", "view warnings"), ("warn_bt2", "bt2 warnings")):
                    w = num(r[key])
                    if w is not None and l is not None and w != l:
                        notes.append(f"rep {r['rep']}: {who} say {intcell(r[key])}")
            unacc = [num(r["unaccounted"]) for r in rs]
            ucell = " / ".join("NA" if u is None else f"{int(u):,}" for u in unacc)
            mcell = f"{miss} (0 in {zero_m}/{len(rs)})"
            if notes:
                mcell += "; MISMATCH: " + "; ".join(notes)
            o.append(f"| {names[impl]} | {t} | {si(num(rs[0]['n_per_thread']), 0)} | {', '.join(bufs)} | {len(rs)} | "
                     f"{mmm([num(r['ns_per_ev_median']) for r in rs], ns)} | "
                     f"{mmm([num(r['events_per_s']) for r in rs], si)} | "
                     f"{mmm([num(r['app_ms']) / 1000 if num(r['app_ms']) is not None else None for r in rs], f2)} | "
                     f"{disc} (0 in {zero_d}/{len(rs)}) | {mcell} | {ucell} |")
    o.append("")

    o.append("Ours / LTTng ns/ev: ratio of the medians; in parentheses the median [min, max] of the "
             "per-repetition ratios (both ran back to back in each repetition).\n")
    o.append("| T | ns/ev ours / LTTng | aggregate ev/s ours / LTTng |")
    o.append("|---|---|---|")
    nsr = {}
    for t in (1, 2):
        a = {r["rep"]: r for r in g.get(("ours", t), [])}
        b = {r["rep"]: r for r in g.get(("lttng", t), [])}
        if not a or not b:
            continue
        per_ns = [num(a[k]["ns_per_ev_median"]) / num(b[k]["ns_per_ev_median"])
                  for k in a if k in b and num(a[k]["ns_per_ev_median"]) is not None and num(b[k]["ns_per_ev_median"])]
        per_eps = [num(a[k]["events_per_s"]) / num(b[k]["events_per_s"])
                   for k in a if k in b and num(a[k]["events_per_s"]) is not None and num(b[k]["events_per_s"])]
        ma = med([num(r["ns_per_ev_median"]) for r in a.values()])
        mb = med([num(r["ns_per_ev_median"]) for r in b.values()])
        nsr[t] = ma / mb if ma is not None and mb else None
        o.append(f"| {t} | {ratio(ma, mb)} ({mmm(per_ns, f2)}) | "
                 f"{ratio(med([num(r['events_per_s']) for r in a.values()]), med([num(r['events_per_s']) for r in b.values()]))} "
                 f"({mmm(per_eps, f2)}) |")
    o.append("")

    o.append("## 2. Command wall times (ms, daemon already running)\n")
    o.append("Each `lttng` command of the runs above, timed from the shell (process start-up "
             "included); median [min, max] over all runs (T=1 and T=2). `stop` and `destroy` come "
             "right after the workload, with its data still to flush.\n")
    cg = defaultdict(list)
    for r in cmds:
        cg[(r["impl"], r["cmd"])].append(num(r["ms"]))
    o.append("| command | runs | ours ms | LTTng ms | ours / LTTng | LTTng reference (earlier) |")
    o.append("|---|---|---|---|---|---|")
    cmed = {}
    for c in COMMANDS:
        a, b = cg.get(("ours", c), []), cg.get(("lttng", c), [])
        if not a and not b:
            continue
        cmed[c] = (med(a), med(b))
        ref = f"{LTTNG_REF_MS[c]:.0f}" if c in LTTNG_REF_MS else ""
        o.append(f"| `{c}` | {max(len(a), len(b))} | {mmm(a, f1)} | {mmm(b, f1)} | {ratio(med(a), med(b), 3)} | {ref} |")
    for T in (1, 2):
        line = []
        for c in ("stop", "destroy"):
            a = [num(r["ms"]) for r in cmds if r["impl"] == "ours" and r["cmd"] == c and r["threads"] == str(T)]
            b = [num(r["ms"]) for r in cmds if r["impl"] == "lttng" and r["cmd"] == c and r["threads"] == str(T)]
            if a or b:
                line.append(f"`{c}` ours {mmm(a, f1)}, LTTng {mmm(b, f1)}")
        if line:
            o.append(f"\nAfter T={T} runs: " + "; ".join(line) + ".")
    o.append("")

    o.append("## 3. Cold start (ours)\n")
    o.append("`lttng-sessiond --daemonize` returns once the daemon serves. `lttng trace -- true`, cold: "
             "no daemon running before (it starts one, creates a private session, runs `true`, stops, "
             "destroys, views the empty trace); warm: the same right after, its daemon still running.\n")
    kg = defaultdict(list)
    for r in cold:
        kg[r["what"]].append(num(r["ms"]))
    o.append("| what | runs | ms |")
    o.append("|---|---|---|")
    labels = [
        ("ours_sessiond_daemonize", "ours: `lttng-sessiond --daemonize`"),
        ("ours_trace_true_cold", "ours: `lttng trace -- true`, no daemon before"),
        ("ours_trace_true_warm", "ours: `lttng trace -- true`, daemon running"),
        ("lttng_sessiond_background", "LTTng: `lttng-sessiond --background` (started by this run)"),
        ("lttng_sessiond_ready", "LTTng: ... until `lttng list` answers"),
    ]
    for key, label in labels:
        if kg.get(key):
            o.append(f"| {label} | {len(kg[key])} | {mmm(kg[key], f1)} |")
    o.append(f"\nLTTng reference measured earlier: root sessiond ready in {LTTNG_REF_MS['sessiond']:.0f} ms, "
             f"`stop` about {LTTNG_REF_MS['stop']:.0f} ms, `destroy` about {LTTNG_REF_MS['destroy']:.0f} ms.\n")

    o.append("## Targets\n")
    if env.get("quick") == "1":
        o.append("(QUICK run: the verdicts below only show that the checks work.)\n")
    o.append("| target | measured | verdict |")
    o.append("|---|---|---|")

    def verdict(ok):
        return "NA" if ok is None else ("pass" if ok else "**FAIL**")

    rs = g.get(("ours", 2), [])
    if rs:
        zero = sum(1 for r in rs if num(r["discarded_list"]) == 0 and num(r["lost"]) == 0)
        full = len(rs) >= 5 and num(rs[0]["n_per_thread"]) >= 1e7
        v = verdict(zero == len(rs)) if full else ("NA (needs 5 runs of 10 M)" if zero == len(rs) else "**FAIL**")
        o.append(f"| ours discards none, 2 threads x 10 M bench:ev, 5 of 5 runs | 0 discarded and 0 missing in "
                 f"{zero}/{len(rs)} runs of 2 x {si(num(rs[0]['n_per_thread']), 0)} | {v} |")
    for t in (1, 2):
        r = nsr.get(t)
        o.append(f"| ours ns/ev <= 1/3 of LTTng's (T={t}) | {'NA' if r is None else f'{r:.3f}'} | "
                 f"{verdict(None if r is None else r <= 1 / 3)} |")
    for c in ("stop", "destroy"):
        a, b = cmed.get(c, (None, None))
        r = a / b if a is not None and b else None
        rr = a / LTTNG_REF_MS[c] if a is not None else None
        o.append(f"| `{c}` <= 1/5 of LTTng's | {'NA' if a is None else f'{a:.1f}'} ms vs {'NA' if b is None else f'{b:.1f}'} ms "
                 f"= {'NA' if r is None else f'{r:.3f}'} (vs the {LTTNG_REF_MS[c]:.0f} ms reference: "
                 f"{'NA' if rr is None else f'{rr:.3f}'}) | {verdict(None if r is None else r <= 0.2)} |")
    ours = [r for r in rows if r["impl"] == "ours"]
    if ours:
        grew = [r for r in ours if num(r.get("stream_bytes_at_stop")) is not None
                and num(r.get("stream_bytes_at_stop")) != num(r.get("stream_bytes"))]
        o.append(f"| ours `stop` returns with the trace complete (stream files do not grow after it) | "
                 f"{len(ours) - len(grew)}/{len(ours)} runs | {verdict(not grew)} |")
        bad = [r for r in ours if num(r["unaccounted"]) != 0]
        o.append(f"| ours loses nothing recorded: every event is read back or counted discarded | "
                 f"{len(ours) - len(bad)}/{len(ours)} runs exact"
                 + ("".join(f"; T={r['threads']} rep {r['rep']}: {r['unaccounted']} unaccounted" for r in bad)) +
                 f" | {verdict(not bad)} |")
    print("\n".join(o))


def main():
    res = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/latest")
    if (res / "pipeline.tsv").exists() and not (res / "raw.tsv").exists():
        return pipeline_main(res)
    env = read_env(res)
    rows = list(csv.DictReader(open(res / "raw.tsv"), delimiter="\t"))
    g = defaultdict(list)
    for r in rows:
        g[(r["impl"], r["case"], int(r["threads"]))].append(r)

    def nsv(impl, case, t):
        return [num(r["ns_per_ev_median"]) for r in g.get((impl, case, t), [])]

    def epsv(impl, case, t):
        return [num(r["events_per_s"]) for r in g.get((impl, case, t), [])]

    o = []
    o.append("# libust vs LTTng-UST: benchmark summary\n")
    if env.get("quick") == "1":
        o.append("**QUICK smoke run: small N, the numbers are not meaningful.**\n")
    for k in ("date", "git", "cpu", "uname", "lttng", "liblttng-ust", "babeltrace2", "rustc",
              "trace_fs", "disk_direct_MBps_start", "disk_direct_MBps_end", "reps", "n", "sessiond",
              "loadavg_start", "loadavg_end"):
        if k in env:
            o.append(f"- {k}: {env[k]}")
    o.append("")

    o.append("## Per-event cost\n")
    o.append("ns/ev: per-thread loop time / N (median of the threads, then median [min, max] over "
             "repetitions). ev/s: aggregate N*T / (last thread end - first thread start). "
             "Lost: N*T - events babeltrace2 counts in the trace, per repetition; a MISMATCH note "
             "appears when `lttng view`'s or babeltrace2's discarded-event warnings, `lttng list`'s "
             "\"Discarded events\", or `lttng view`'s line count disagree with it. "
             "B/ev: stream-file bytes (no metadata, no index) / events in the trace.\n")
    o.append("| tracer | case | T | N/thread | runs | ns/ev | aggregate ev/s | lost events per run | B/ev |")
    o.append("|---|---|---|---|---|---|---|---|---|")
    for case, desc in CASES:
        for t in (1, 2):
            for impl, iname in IMPLS:
                rs = g.get((impl, case, t))
                if not rs:
                    continue
                enabled = rs[0]["counted_bt2"] != "NA" or rs[0]["case"] in ("ev", "min")
                bpe = [num(r["stream_bytes"]) / num(r["counted_bt2"])
                       if num(r["stream_bytes"]) and num(r["counted_bt2"]) else None for r in rs]
                o.append(f"| {iname} | {case}: {desc} | {t} | {si(num(rs[0]['n_per_thread']), 1)} | {len(rs)} | "
                         f"{mmm(nsv(impl, case, t), ns)} | {mmm(epsv(impl, case, t), si)} | "
                         f"{kept_cell(rs) if case.startswith('snap') else lost_cell(rs) if enabled else '-'} | "
                         f"{mmm(bpe, lambda x: f'{x:.2f}') if enabled else '-'} |")
    o.append("")

    o.append("## libust / LTTng-UST\n")
    o.append("Ratio of the medians; in parentheses the median [min, max] of the per-repetition ratios "
             "(both tracers ran the case back to back in each repetition). Below 1 means libust is faster.\n")
    o.append("| ours | case | T | ns/ev ours / LTTng-UST | aggregate ev/s ours / LTTng-UST |")
    o.append("|---|---|---|---|---|")
    for impl, iname in IMPLS[:2]:
        for case in ("ev", "min", "dis_ev", "dis_min"):
            for t in (1, 2):
                ours = {r["rep"]: r for r in g.get((impl, case, t), [])}
                theirs = {r["rep"]: r for r in g.get(("lttng", case, t), [])}
                if not ours or not theirs:
                    continue
                per_ns = [num(ours[k]["ns_per_ev_median"]) / num(theirs[k]["ns_per_ev_median"])
                          for k in ours if k in theirs and num(theirs[k]["ns_per_ev_median"])]
                per_eps = [num(ours[k]["events_per_s"]) / num(theirs[k]["events_per_s"])
                           for k in ours if k in theirs and num(theirs[k]["events_per_s"])]
                f2 = lambda x: f"{x:.2f}"
                o.append(f"| {iname} | {case} | {t} | {ratio(med(nsv(impl, case, t)), med(nsv('lttng', case, t)))} "
                         f"({mmm(per_ns, f2)}) | {ratio(med(epsv(impl, case, t)), med(epsv('lttng', case, t)))} "
                         f"({mmm(per_eps, f2)}) |")
    o.append("")

    o.append("## Scaling: aggregate ev/s at T=2 / T=1 (medians)\n")
    o.append("| case | " + " | ".join(n for _, n in IMPLS) + " |")
    o.append("|---" * (len(IMPLS) + 1) + "|")
    for case in ("ev", "min", "snap_ev", "snap_min", "clock"):
        cells = [ratio(med(epsv(impl, case, 2)), med(epsv(impl, case, 1))) for impl, _ in IMPLS]
        if any(c != "NA" for c in cells):
            o.append(f"| {case} | " + " | ".join(cells) + " |")
    o.append("")

    # Phase 3: libust alone, loops of >= 1 s, T=1 and T=2 back to back.
    st = res / "scale.tsv"
    scale = {}
    # The control: the empty loop's T=2 / T=1 in the same pairs, the most any case can reach.
    control = None
    if st.exists():
        srows = list(csv.DictReader(open(st), delimiter="\t"))
        sg = defaultdict(dict)
        for r in srows:
            sg[r["case"]][(r["rep"], int(r["threads"]))] = r
        traced = [r for r in srows if r["case"] != "loop"]
        n = si(num(traced[0]["n_per_thread"]), 0) if traced else "NA"
        o.append(f"## Scaling of libust: T=1 and T=2 back to back, {n} events per thread\n")
        o.append("Loops of about 1 s at the default 48 M, as the anchors ask of every timed loop. "
                 "Each T=1 run is next to its T=2 run (which goes first alternates), 1 s apart. Pair ratio: T=2 / T=1 ev/s of one pair. "
                 "Discarded: the writers' own count, per T=2 run. "
                 "null_ev and null_min: ev and min with every stream file a link to /dev/null "
                 "(the tracer and its consumer without the disk). "
                 "loop: the empty loop in the same pairs, the control: what the machine gives a "
                 "second thread; no tracer scales beyond it. "
                 "÷ loop's: the case's ratio divided by the control's, the share of what the machine "
                 "allowed that the case reached.\n")
        o.append("| case | T=1 ev/s | T=2 ev/s | T=2 / T=1 (medians) | pair ratios | ÷ loop's | discarded at T=2 |")
        o.append("|---|---|---|---|---|---|---|")

        if "loop" in sg:
            one = med([num(r["events_per_s"]) for k, r in sg["loop"].items() if k[1] == 1])
            two = med([num(r["events_per_s"]) for k, r in sg["loop"].items() if k[1] == 2])
            control = two / one if one and two else None
        for case, runs in sg.items():
            reps = sorted({k[0] for k in runs}, key=int)
            one = [num(runs[(r, 1)]["events_per_s"]) for r in reps if (r, 1) in runs]
            two = [num(runs[(r, 2)]["events_per_s"]) for r in reps if (r, 2) in runs]
            pairs = [num(runs[(r, 2)]["events_per_s"]) / num(runs[(r, 1)]["events_per_s"])
                     for r in reps if (r, 1) in runs and (r, 2) in runs]
            disc = [runs[(r, 2)]["discarded"] for r in reps if (r, 2) in runs]
            scale[case] = (med(two), med(one))
            of_control = (f"{med(two) / med(one) / control:.2f}"
                          if control and med(two) and med(one) else "NA")
            o.append(f"| {case} | {mmm(one, si)} | {mmm(two, si)} | {ratio(med(two), med(one))} | "
                     f"{mmm(pairs, lambda x: f'{x:.2f}')} | {of_control} | {' / '.join(disc)} |")
        o.append("")

    vt = res / "viewer.tsv"
    vmed = {}
    if vt.exists():
        vrows = list(csv.DictReader(open(vt), delimiter="\t"))
        vg = defaultdict(list)
        for r in vrows:
            vg[r["tool"]].append(r)
        o.append("## Viewer speed (text output to /dev/null)\n")
        if vrows:
            ev = num(vrows[0]["events"])
            sb = num(vrows[0]["stream_bytes"])
            o.append(f"Trace: {int(ev):,} bench:ev events written by libust (16 x 4 MiB per CPU), "
                     f"{si(sb)}B of stream files, read from the page cache.\n")
        o.append("| command | runs | seconds | events/s |")
        o.append("|---|---|---|---|")
        for tool, cmd in (("lttng-view", "`lttng view DIR`"), ("babeltrace2", "`babeltrace2 DIR`")):
            rs = vg.get(tool, [])
            if rs:
                eps = [num(r["events_per_s"]) for r in rs]
                vmed[tool] = med(eps)
                o.append(f"| {cmd} | {len(rs)} | {mmm([num(r['seconds']) for r in rs], lambda x: f'{x:.2f}')} | {mmm(eps, si)} |")
        o.append(f"\n`lttng view` / babeltrace2 events/s: {ratio(vmed.get('lttng-view'), vmed.get('babeltrace2'))}\n")

    # The targets of BENCHMARKS.md, checked against this run.
    o.append("## Targets\n")
    if env.get("quick") == "1":
        o.append("(QUICK run: the verdicts below only show that the checks work.)\n")
    o.append("| target | measured | verdict |")
    o.append("|---|---|---|")

    def verdict(ok):
        return "NA" if ok is None else ("pass" if ok else "**FAIL**")

    for impl, iname in IMPLS[:2]:
        for t in (1, 2):
            a, b = med(nsv(impl, "ev", t)), med(nsv("lttng", "ev", t))
            r = a / b if a is not None and b else None
            o.append(f"| {iname}: bench:ev ns/ev <= 1/3 of LTTng-UST's (T={t}) | {ratio(a, b, 3)} | {verdict(None if r is None else r <= 1 / 3)} |")
        for case in ("dis_ev", "dis_min"):
            for t in (1, 2):
                v = med(nsv(impl, case, t))
                o.append(f"| {iname}: disabled {case[4:]} <= 1 ns (T={t}) | {ns(v)} ns | {verdict(None if v is None else v <= 1.0)} |")
    # The disk's direct-write bandwidth, measured at the start and the end of the run.
    disk = [num(env.get(k)) for k in ("disk_direct_MBps_start", "disk_direct_MBps_end")]
    disk = [d * 1e6 for d in disk if d]
    # Target 3: without the disk (stream files on /dev/null) and in flight-recorder
    # mode, two threads get at least 0.95 of what the empty loop gets in the same pairs.
    for case in ("null_ev", "null_min", "snap_ev", "snap_min"):
        if case not in scale or control is None:
            o.append(f"| {case}: T=2 / T=1 >= 0.95 x the empty loop's in the same pairs (phase 3) | NA | NA |")
            continue
        a, b = scale[case]
        r = a / b if a is not None and b else None
        share = r / control if r is not None and control else None
        measured = (f"{r:.2f} / {control:.2f} = {share:.2f}" if share is not None else "NA")
        o.append(f"| {case}: T=2 / T=1 >= 0.95 x the empty loop's in the same pairs (phase 3) | "
                 f"{measured} | {verdict(None if share is None else share >= 0.95)} |")
    # To disk, for the record: how close T=2 came to what the disk takes (no target).
    for case in ("ev", "min"):
        a, b = scale.get(case) or (med(epsv("ours", case, 2)), med(epsv("ours", case, 1)))
        r = a / b if a is not None and b else None
        note = ""
        bpe = med([num(x["stream_bytes"]) / num(x["counted_bt2"]) for x in g.get(("ours", case, 2), [])
                   if num(x["stream_bytes"]) and num(x["counted_bt2"])])
        if r is not None and disk and bpe:
            rate, top = a * bpe, max(disk)
            note = (f"; T=2 wrote {rate / 1e9:.2f} GB/s, the disk takes {top / 1e9:.2f} GB/s with direct I/O, "
                    f"so at most {min(2.0, top / (b * bpe)):.2f} x T=1 here")
        if control is not None and case in scale:
            note += f"; the empty loop in the same pairs: {control:.2f}"
        src = " (phase 3)" if case in scale else ""
        o.append(f"| {case} to disk: T=2 / T=1{src}, no target | {ratio(a, b)}{note} | - |")
    for case in ("ev", "min"):
        for t in (1, 2):
            def bpe(impl):
                return med([num(r["stream_bytes"]) / num(r["counted_bt2"]) for r in g.get((impl, case, t), [])
                            if num(r["stream_bytes"]) and num(r["counted_bt2"])])
            a, b = bpe("ours"), bpe("lttng")
            # 0.01 B/event of slack: the last, partly filled packet and the packet count
            # differ by a few hundred bytes between runs; the event layout is what counts.
            ok = None if a is None or b is None else a <= b + 0.01
            o.append(f"| {case} bytes/event <= LTTng-UST's (T={t}) | {'NA' if a is None else f'{a:.3f}'} vs "
                     f"{'NA' if b is None else f'{b:.3f}'} | {verdict(ok)} |")
    rs = g.get(("ours", "ev", 2), [])
    if rs:
        zero = sum(1 for r in rs if num(r["lost"]) == 0)
        n = si(num(rs[0]["n_per_thread"]), 0)
        full = len(rs) >= 5 and num(rs[0]["n_per_thread"]) >= 1e7
        o.append(f"| no discarded event, 2 threads x 10 M bench:ev, 5 of 5 runs | 0 lost in {zero}/{len(rs)} runs "
                 f"of 2 x {n} | {verdict(zero == len(rs)) if full else ('NA (needs 5 runs of 10 M)' if zero == len(rs) else '**FAIL**')} |")
    a, b = vmed.get("lttng-view"), vmed.get("babeltrace2")
    r = a / b if a is not None and b else None
    o.append(f"| `lttng view` >= 3 x babeltrace2 text speed | {ratio(a, b)} | {verdict(None if r is None else r >= 3)} |")
    print("\n".join(o))


if __name__ == "__main__":
    main()
