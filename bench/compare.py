#!/usr/bin/env python3
"""Helpers for bench/compare.sh (python3 standard library only).

  compare.py sample OUT.json PIDS MAIN_PID   poll /proc for the server pids until SIGTERM, write OUT.json
  compare.py oneline RUN.json                one human line about a loadgen result (stderr progress)
  compare.py env OUTDIR                      write OUTDIR/env.json (versions, machine, parameters)
  compare.py summarize OUTDIR                medians and ratios: summary.json, summary.md, s1a.dat

Ratios are always "x times better", > 1 meaning blindpad is better: blindpad/reference for
throughputs, reference/blindpad for latencies, CPU, memory and times.
"""
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

VARIANTS = ["bp-none", "bp-group", "floor", "floor-proto", "floor-sig", "ref"]
LABEL = {"bp-none": "blindpad (fsync none)", "bp-group": "blindpad (fsync group)",
         "floor": "kernel floor (bench/kfloor: no protocol, one read and one write per delivery)",
         "floor-proto": "protocol floor (bench/kfloor --ack --append: the bare relay plus the ACK to the sender "
                        "and the append to the channel's log)",
         "floor-sig": "signature floor (bench/kfloor/sfloor: decode, check, append, ACK and deliver each signed "
                      "message, no WebSocket or JSON, a thread per CPU checking inline, no hand-off)",
         "ref": "reference (CryptPad)"}
SHORT = {"bp-none": "bp none", "bp-group": "bp group", "floor": "floor", "floor-proto": "floor+proto",
         "floor-sig": "floor+sig", "ref": "reference"}
GEN_BOUND = 90.0          # generator CPU % of its core above which the server was not the bottleneck
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ sample
def proc_cpu_rss(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK      # utime + stime
        rss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return cpu, rss
    except (OSError, ValueError, IndexError):
        return None, None


def cmd_sample(out, pids, main_pid, interval=0.25):
    pids = [int(p) for p in pids.split(",") if p]
    main_pid = int(main_pid)
    info = {}
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = None
        info[p] = {"cmd": cmd, "cpu_first": None, "cpu_last": None, "rss_kb_first": None,
                   "rss_kb_last": None, "rss_kb_max": None, "rss_kb_max_at_s": None}
    t0 = time.monotonic()
    stop = [False]

    def on_term(*_):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    total_rss_max = 0
    nsamples = 0
    while True:
        now = time.monotonic() - t0
        tot = 0
        for p in pids:
            cpu, rss = proc_cpu_rss(p)
            d = info[p]
            if cpu is not None:
                if d["cpu_first"] is None:
                    d["cpu_first"] = cpu
                d["cpu_last"] = cpu
            if rss is not None:
                if d["rss_kb_first"] is None:
                    d["rss_kb_first"] = rss
                d["rss_kb_last"] = rss
                if d["rss_kb_max"] is None or rss > d["rss_kb_max"]:
                    d["rss_kb_max"], d["rss_kb_max_at_s"] = rss, round(now, 2)
                tot += rss
        total_rss_max = max(total_rss_max, tot)
        nsamples += 1
        if nsamples == 1:       # compare.sh starts loadgen only once the first sample is taken
            with open(out + ".ready", "w"):
                pass
        if stop[0]:
            break
        # sleep in small steps so that SIGTERM ends the wait quickly
        end = time.monotonic() + interval
        while not stop[0] and time.monotonic() < end:
            time.sleep(0.02)
    res = {"interval_s": interval, "wall_s": round(time.monotonic() - t0, 3), "samples": nsamples,
           "main_pid": main_pid, "pids": {}}
    tot_cpu = 0.0
    for p, d in info.items():
        cpu = None
        if d["cpu_first"] is not None:
            cpu = round(d["cpu_last"] - d["cpu_first"], 3)
            tot_cpu += cpu
        res["pids"][str(p)] = {"cmd": d["cmd"], "cpu_s": cpu, "rss_kb_first": d["rss_kb_first"],
                               "rss_kb_last": d["rss_kb_last"], "rss_kb_max": d["rss_kb_max"],
                               "rss_kb_max_at_s": d["rss_kb_max_at_s"]}
    m = res["pids"].get(str(main_pid), {})
    res["all"] = {"cpu_s": round(tot_cpu, 3), "rss_kb_max": total_rss_max}
    res["main"] = {"cpu_s": m.get("cpu_s"), "rss_kb_first": m.get("rss_kb_first"),
                   "rss_kb_max": m.get("rss_kb_max"), "rss_kb_last": m.get("rss_kb_last"),
                   "cpu_share_percent": round(100.0 * m["cpu_s"] / tot_cpu, 1)
                   if m.get("cpu_s") is not None and tot_cpu > 0 else None}
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


# ------------------------------------------------------------------ metrics
def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def us2ms(v):
    return None if v is None else v / 1000.0


def kb2mib(v):
    return None if v is None else v / 1024.0


def lost(d):
    m = d.get("messages") or {}
    if m.get("deliveries_expected") is None:
        return None
    return m["deliveries_expected"] - m["deliveries"]


def procs_main(p, key):
    return None if p is None else get(p, "main." + key)


def main_bytes_per_conn(d, p):
    n = get(d, "idle.established")
    if p is None or not n:
        return None
    a, b = get(p, "main.rss_kb_first"), get(p, "main.rss_kb_max")
    if a is None or b is None:
        return None
    return (b - a) * 1024.0 / n


def verify_fraction(d):
    """accepted/s as % of the raw verify rate: the best one measured in any s4 run of this results
    directory (loadgen measures it right after the run, so a server still busy with a backlog, as the
    reference is, lowers it), with 2 threads when the server was unpinned, 1 thread when pinned."""
    acc, c = get(d, "signed.accepted_per_s"), d.get("_compare") or {}
    ver = c.get("verify_best_2t" if c.get("pin") == "unpinned" else "verify_best_1t")
    if not acc or not ver:
        return None
    return 100.0 * acc / ver


# (key, label, function(run_json, procs_json) -> value, direction "up"|"down"|None, format)
def M(key, label, fn, direction, fmt="%.3g"):
    return (key, label, fn, direction, fmt)


COMMON_TAIL = [
    M("server_cpu_pct", "server CPU, % of one core (all pids)", lambda d, p: get(d, "server.cpu_percent_core"), None, "%.1f"),
    M("server_rss_end_mib", "server RSS at end, MiB (all pids)", lambda d, p: kb2mib(get(d, "server.rss_kb_end")), "down", "%.1f"),
    M("main_rss_max_mib", "server RSS max, MiB (main process alone)", lambda d, p: kb2mib(procs_main(p, "rss_kb_max")), "down", "%.1f"),
    M("main_cpu_share_pct", "main process share of server CPU, % (whole run)", lambda d, p: procs_main(p, "cpu_share_percent"), None, "%.0f"),
    M("gen_cpu_pct", "generator CPU, % of its core", lambda d, p: get(d, "generator.cpu_percent_core"), None, "%.1f"),
]

METRICS = {
    "s1": [
        M("delivered_per_s", "deliveries/s", lambda d, p: get(d, "rates.delivered_per_s"), "up", "%.0f"),
        M("acked_per_s", "messages ACKed/s", lambda d, p: get(d, "rates.acked_per_s"), "up", "%.0f"),
        M("e2e_p50_ms", "e2e latency p50, ms", lambda d, p: us2ms(get(d, "latency.e2e.p50_us")), "down"),
        M("e2e_p99_ms", "e2e latency p99, ms", lambda d, p: us2ms(get(d, "latency.e2e.p99_us")), "down"),
        M("e2e_max_ms", "e2e latency max, ms", lambda d, p: us2ms(get(d, "latency.e2e.max_us")), "down"),
        M("ack_p50_ms", "ACK latency p50, ms", lambda d, p: us2ms(get(d, "latency.ack.p50_us")), "down"),
        M("cpu_us_per_delivery", "server CPU µs per delivered message", lambda d, p: get(d, "server.cpu_us_per_delivered_msg"), "down"),
        M("lost", "deliveries missing (expected - received)", lambda d, p: lost(d), None, "%.0f"),
        M("skipped_window_full", "sends skipped (window full)", lambda d, p: get(d, "messages.skipped_window_full"), None, "%.0f"),
    ] + COMMON_TAIL,
    "s2": [
        M("joins_per_s", "joins/s (complete joiners)", lambda d, p: get(d, "storm.joins_per_s"), "up", "%.1f"),
        M("full_history_p50_ms", "time to full history p50, ms", lambda d, p: us2ms(get(d, "storm.time_to_full_history.p50_us")), "down"),
        M("full_history_p99_ms", "time to full history p99, ms", lambda d, p: us2ms(get(d, "storm.time_to_full_history.p99_us")), "down"),
        M("full_history_max_ms", "time to full history max, ms", lambda d, p: us2ms(get(d, "storm.time_to_full_history.max_us")), "down"),
        M("join_p50_ms", "JOIN to member list p50, ms", lambda d, p: us2ms(get(d, "storm.join_to_member_list.p50_us")), "down"),
        M("history_p50_ms", "GET_HISTORY to end marker p50, ms", lambda d, p: us2ms(get(d, "storm.get_history_to_end_marker.p50_us")), "down"),
        M("storm_s", "storm length, s", lambda d, p: get(d, "storm.storm_s"), "down"),
        M("server_cpu_s", "server CPU during the storm, s", lambda d, p: get(d, "server.cpu_s"), "down"),
        M("cpu_us_per_delivery", "server CPU µs per history message delivered", lambda d, p: get(d, "server.cpu_us_per_delivered_msg"), "down"),
        M("joiners_complete", "joiners complete", lambda d, p: get(d, "storm.joiners_complete"), None, "%.0f"),
        M("clients_exact", "joiners with exactly H messages", lambda d, p: get(d, "history_messages_per_client.clients_exact"), None, "%.0f"),
    ] + COMMON_TAIL,
    "s3": [
        M("rss_bytes_per_conn", "server RSS bytes per idle connection (all pids)", lambda d, p: get(d, "memory.server_rss_bytes_per_conn"), "down", "%.0f"),
        M("main_rss_bytes_per_conn", "server RSS bytes per idle connection (main process)", main_bytes_per_conn, "down", "%.0f"),
        M("server_rss_after_mib", "server RSS holding the connections, MiB (all pids)", lambda d, p: kb2mib(get(d, "memory.server_rss_kb_after")), "down", "%.1f"),
        M("established", "connections established", lambda d, p: get(d, "idle.established"), None, "%.0f"),
        M("held_at_end", "connections held at end", lambda d, p: get(d, "idle.held_at_end"), None, "%.0f"),
        M("open_connect_ident_p50_ms", "opening: connect to IDENT p50, ms", lambda d, p: us2ms(get(d, "idle.connect_to_ident.p50_us")), "down"),
        M("probe_p50_ms", "probe connect+IDENT+JOIN+PING p50, ms", lambda d, p: us2ms(get(d, "probe.connect_ident_join_ping.p50_us")), "down"),
        M("probe_p99_ms", "probe connect+IDENT+JOIN+PING p99, ms", lambda d, p: us2ms(get(d, "probe.connect_ident_join_ping.p99_us")), "down"),
    ] + COMMON_TAIL,
    "s4": [
        M("accepted_per_s", "signed writes accepted/s", lambda d, p: get(d, "signed.accepted_per_s"), "up", "%.0f"),
        M("verify_frac_pct", "accepted/s as % of the raw verify rate (see below)",
          lambda d, p: verify_fraction(d), None, "%.1f"),
        M("verify_1t", "raw verify/s, 1 thread, measured after this run", lambda d, p: get(d, "signed.verify_detached_per_s_1_thread"), None, "%.0f"),
        M("verify_2t", "raw verify/s, 2 threads, measured after this run", lambda d, p: get(d, "signed.verify_detached_per_s_2_threads"), None, "%.0f"),
        M("e2e_p50_ms", "e2e latency p50, ms", lambda d, p: us2ms(get(d, "latency.e2e.p50_us")), "down"),
        M("e2e_p99_ms", "e2e latency p99, ms", lambda d, p: us2ms(get(d, "latency.e2e.p99_us")), "down"),
        M("cpu_us_per_delivery", "server CPU µs per delivered message", lambda d, p: get(d, "server.cpu_us_per_delivered_msg"), "down"),
        M("acked", "messages ACKed", lambda d, p: get(d, "messages.acked"), None, "%.0f"),
        M("rejected", "rejected", lambda d, p: get(d, "signed.rejected"), None, "%.0f"),
        M("lost", "deliveries missing (expected - received)", lambda d, p: lost(d), None, "%.0f"),
    ] + COMMON_TAIL,
    "s5": [
        M("stall_e2e_p50_ms", "others' e2e p50 during the stall, ms", lambda d, p: us2ms(get(d, "during_stall.e2e.p50_us")), "down"),
        M("stall_e2e_p99_ms", "others' e2e p99 during the stall, ms", lambda d, p: us2ms(get(d, "during_stall.e2e.p99_us")), "down"),
        M("stall_e2e_max_ms", "others' e2e max during the stall, ms", lambda d, p: us2ms(get(d, "during_stall.e2e.max_us")), "down"),
        M("before_e2e_p99_ms", "e2e p99 before the stall, ms", lambda d, p: us2ms(get(d, "before_stall.e2e.p99_us")), "down"),
        M("delivered_per_s", "deliveries/s", lambda d, p: get(d, "rates.delivered_per_s"), "up", "%.0f"),
        M("slow_rss_max_mib", "server RSS max while stalled, MiB (all pids)", lambda d, p: kb2mib(get(d, "server_rss.max_kb")), "down", "%.1f"),
        M("disconnected", "slow consumer disconnected (1 = yes)", lambda d, p: None if get(d, "slow_consumer.disconnected") is None else int(bool(get(d, "slow_consumer.disconnected"))), None, "%.2g"),
        M("disconnected_after_s", "slow consumer disconnected after, s", lambda d, p: get(d, "slow_consumer.disconnected_after_s"), None, "%.1f"),
        M("send_queue_max_kib", "server kernel send queue to it, max KiB", lambda d, p: None if get(d, "slow_consumer.server_send_queue_max_bytes") is None else get(d, "slow_consumer.server_send_queue_max_bytes") / 1024.0, None, "%.0f"),
        M("lost", "deliveries missing (expected - received)", lambda d, p: lost(d), None, "%.0f"),
    ] + COMMON_TAIL,
}

# the one or two numbers per case shown in the overview table
HEADLINE = {
    "s1a": ["e2e_p50_ms", "e2e_p99_ms", "cpu_us_per_delivery"],
    "s1b": ["delivered_per_s", "e2e_p99_ms", "cpu_us_per_delivery"],
    "s1c": ["delivered_per_s", "e2e_p99_ms", "cpu_us_per_delivery"],
    "s2": ["joins_per_s", "full_history_p99_ms", "server_cpu_s"],
    "s3": ["rss_bytes_per_conn", "main_rss_bytes_per_conn", "probe_p99_ms"],
    "s4": ["accepted_per_s", "verify_frac_pct", "e2e_p99_ms"],
    "s5": ["stall_e2e_p99_ms", "slow_rss_max_mib"],
}


def headline_for(case):
    for k in sorted(HEADLINE, key=len, reverse=True):
        if case.startswith(k):
            return HEADLINE[k]
    return []


def fmtv(v, fmt="%.3g"):
    if v is None:
        return "—"
    if isinstance(v, float) and v != v:
        return "—"
    if fmt == "%.3g" and abs(v) >= 1000:
        return "%.0f" % v
    return fmt % v


def ratio(bp, ref, direction):
    if bp is None or ref is None or direction is None:
        return None
    if direction == "up":
        return bp / ref if ref > 0 else None
    return ref / bp if bp > 0 else None


def fmtr(r):
    if r is None:
        return "—"
    return ("%.2f×" if r < 10 else "%.1f×" if r < 100 else "%.0f×") % r


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


# ------------------------------------------------------------------ oneline
def oneline(d):
    s = d.get("scenario")
    ms = lambda v: "-" if v is None else "%.2fms" % (v / 1000.0)
    if s in ("s1", "s4", "s5"):
        lat = d.get("latency") or d.get("during_stall") or {}
        line = "%.0f deliveries/s, e2e p50 %s p99 %s, lost %s" % (
            get(d, "rates.delivered_per_s") or 0, ms(get(lat, "e2e.p50_us")), ms(get(lat, "e2e.p99_us")), lost(d))
        if s == "s4":
            line += ", accepted %.0f/s (verify %.0f/s 1 thr, %.0f/s 2 thr)" % (
                get(d, "signed.accepted_per_s") or 0, get(d, "signed.verify_detached_per_s_1_thread") or 0,
                get(d, "signed.verify_detached_per_s_2_threads") or 0)
        if s == "s5":
            line += ", slow consumer disconnected %s, RSS max %s KiB" % (
                get(d, "slow_consumer.disconnected"), get(d, "server_rss.max_kb"))
    elif s == "s2":
        line = "%s/%s joiners, %.1f joins/s, full history p50 %s p99 %s" % (
            get(d, "storm.joiners_complete"), get(d, "params.joiners"), get(d, "storm.joins_per_s") or 0,
            ms(get(d, "storm.time_to_full_history.p50_us")), ms(get(d, "storm.time_to_full_history.p99_us")))
    else:
        line = "%s conns, %s B/conn, probe p50 %s" % (
            get(d, "idle.established"), get(d, "memory.server_rss_bytes_per_conn"),
            ms(get(d, "probe.connect_ident_join_ping.p50_us")))
    gen = get(d, "generator.cpu_percent_core")
    line += "; server %s%% cpu, generator %s%% cpu" % (get(d, "server.cpu_percent_core"), gen)
    if gen is not None and gen > GEN_BOUND:
        line += " GENERATOR-BOUND"
    if d.get("aborted"):
        line += "; ABORTED: %s" % d["aborted"]
    return "    -> " + line


# ------------------------------------------------------------------ env
def sh(*cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001 -- recorded, not fatal
        return "error: %s" % e


def sha256(path):
    import hashlib
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def cmd_env(outdir):
    E = os.environ.get
    proj, refdir, cgit = E("PROJECT", "."), E("REF_DIR", ""), E("CRYPTPAD_GIT", "")
    cpu = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split(":")[1].strip()
    except (OSError, IndexError):
        pass
    ref_version = ref_commit = chainpad_server = None
    try:
        ref_version = json.load(open(os.path.join(refdir, "package.json.orig")))["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        ref_commit = open(os.path.join(refdir, ".bench-commit")).read().strip()
    except OSError:
        ref_commit = sh("git", "-C", cgit, "rev-parse", "HEAD") if cgit else None
    try:
        chainpad_server = json.load(open(os.path.join(refdir, "node_modules/chainpad-server/package.json")))["version"]
    except (OSError, ValueError, KeyError):
        pass
    env = {
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "project": {
            "git_rev": sh("git", "rev-parse", "HEAD", cwd=proj),
            "git_describe": sh("git", "describe", "--always", "--dirty", cwd=proj),
            "git_status_porcelain": sh("git", "status", "--porcelain", "--untracked-files=no", cwd=proj).splitlines(),
            "blindpad_version": sh(E("BP_BIN", ""), "--version"),
            "blindpad_sha256": sha256(E("BP_BIN", "")),
            "loadgen_sha256": sha256(E("LG_BIN", "")),
        },
        "reference": {
            "dir": refdir, "cryptpad_version": ref_version, "cryptpad_commit": ref_commit,
            "cryptpad_git": cgit, "chainpad_server_version": chainpad_server,
            "node_version": sh("node", "--version"), "ws_port": E("REF_WS_PORT"),
        },
        "machine": {
            "kernel": " ".join(platform.uname()), "cpu_model": cpu, "ncpu": os.cpu_count(),
            "mem_total": mem, "loadavg_at_start": open("/proc/loadavg").read().strip(),
            "python": platform.python_version(),
            "gnuplot": sh("gnuplot", "--version"),
        },
        "parameters": {k: v for k, v in sorted(os.environ.items())
                       if re.match(r"^(QUICK|REPS|CASES|VARIANTS|RATES|S[1-5]_\w+|MSG_SIZE|BP_PORT|REF_PORT|REF_WS_PORT|"
                                   r"SRV_CPU|LG_CPU|SEED|TIMEOUT_SLACK|NO_BUILD)$", k)},
    }
    old = {}
    p = os.path.join(outdir, "env.json")
    if os.path.exists(p):
        try:
            old = json.load(open(p))
        except ValueError:
            pass
    if "loadgen_command_lines" in old:
        env["loadgen_command_lines"] = old["loadgen_command_lines"]
    with open(p, "w") as f:
        json.dump(env, f, indent=1, ensure_ascii=False)
        f.write("\n")


# ------------------------------------------------------------------ summarize
def read_tsv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l]


def cmd_summarize(outdir):
    cases = []
    with open(os.path.join(outdir, "cases.tsv")) as f:
        for line in f.read().splitlines():
            n, sc, pin, title, args = line.split("\t")
            cases.append({"case": n, "scenario": sc, "pin": pin, "title": title, "args": args})
    runs = read_tsv(os.path.join(outdir, "runs.tsv"))
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in runs)]
    bps = [v for v in variants if v != "ref"]

    # load every run
    for r in runs:
        r["data"] = r["procs"] = None
        if r.get("json"):
            try:
                r["data"] = json.load(open(os.path.join(outdir, r["json"])))
            except (OSError, ValueError):
                pass
            pp = os.path.join(outdir, r["json"][:-len(".json")] + ".procs.json")
            try:
                r["procs"] = json.load(open(pp))
            except (OSError, ValueError):
                pass
        d = r["data"] or {}
        flags = []
        if r["status"] != "ok":
            flags.append(r["status"])
        if d.get("aborted"):
            flags.append("aborted: " + d["aborted"])
        gen = get(d, "generator.cpu_percent_core")
        if gen is not None and gen > GEN_BOUND:
            flags.append("generator-bound (%.0f%% > %.0f%%)" % (gen, GEN_BOUND))
        if lost(d):
            flags.append("%d deliveries missing" % lost(d))
        if d.get("scenario") == "s2":
            nj, ok = get(d, "params.joiners"), get(d, "storm.joiners_complete")
            if nj is not None and ok != nj:
                flags.append("%s/%s joiners complete" % (ok, nj))
        if d.get("scenario") == "s3":
            nc, est = get(d, "params.conns"), get(d, "idle.established")
            if nc is not None and est != nc:
                flags.append("%s/%s connections established" % (est, nc))
        if get(d, "messages.connections_lost"):
            flags.append("%d connections lost" % get(d, "messages.connections_lost"))
        r["flags"] = flags
        # a run is used for medians if it produced JSON and was not aborted
        r["usable"] = r["data"] is not None and not d.get("aborted")

    # S4: the best raw verify rates of the whole run (see verify_fraction)
    pins = {c["case"]: c["pin"] for c in cases}
    s4 = [r["data"] for r in runs if r["data"] and r["data"].get("scenario") == "s4"]
    vb1 = max([get(d, "signed.verify_detached_per_s_1_thread") or 0 for d in s4], default=0) or None
    vb2 = max([get(d, "signed.verify_detached_per_s_2_threads") or 0 for d in s4], default=0) or None
    for r in runs:
        if r["data"] is not None:
            r["data"]["_compare"] = {"pin": pins.get(r["case"]), "verify_best_1t": vb1, "verify_best_2t": vb2}

    summary = {"outdir": os.path.basename(outdir), "s4_raw_verify_best_per_s": {"1_thread": vb1, "2_threads": vb2},
               "ratio_convention":
               "x times better, > 1 = blindpad better: bp/ref for 'up' metrics, ref/bp for 'down' metrics",
               "generator_bound_threshold_percent": GEN_BOUND, "cases": {}, "runs": []}
    for c in cases:
        n, sc = c["case"], c["scenario"]
        metrics = METRICS[sc]
        cv = {}
        for v in variants:
            rr = [r for r in runs if r["case"] == n and r["variant"] == v]
            use = [r for r in rr if r["usable"]]
            vals = {}
            for key, _label, fn, _dir, _fmt in metrics:
                vals[key] = median([fn(r["data"], r["procs"]) for r in use])
            gens = [get(r["data"], "generator.cpu_percent_core") for r in rr if r["data"]]
            gens = [g for g in gens if g is not None]
            cv[v] = {"runs": len(rr), "used": len(use), "medians": vals,
                     "generator_cpu_percent_max": max(gens) if gens else None,
                     "generator_bound_runs": sum(1 for g in gens if g > GEN_BOUND),
                     "flags": sorted({f for r in rr for f in r["flags"]})}
        ratios = {}
        for b in bps:
            ratios[b] = {}
            for key, _label, _fn, direction, _fmt in metrics:
                if direction and "ref" in cv:
                    ratios[b][key] = ratio(cv[b]["medians"][key], cv["ref"]["medians"][key], direction)
        summary["cases"][n] = dict(c, variants=cv, ratios_vs_reference=ratios,
                                   directions={m[0]: m[3] for m in metrics},
                                   labels={m[0]: m[1] for m in metrics})
    for r in runs:
        summary["runs"].append({k: r.get(k) for k in ("case", "variant", "rep", "rc", "status", "json", "pids",
                                                      "main_pid", "affinity_server", "affinity_loadgen", "command")}
                               | {"generator_cpu_percent": get(r["data"] or {}, "generator.cpu_percent_core"),
                                  "server_cpu_percent": get(r["data"] or {}, "server.cpu_percent_core"),
                                  "main_cpu_share_percent": get(r["procs"] or {}, "main.cpu_share_percent"),
                                  "main_rss_kb_max": get(r["procs"] or {}, "main.rss_kb_max"),
                                  "flags": r["flags"]})
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")

    # env.json gets the command lines
    ep = os.path.join(outdir, "env.json")
    try:
        env = json.load(open(ep))
    except (OSError, ValueError):
        env = {}
    env["loadgen_command_lines"] = [{"run": "%s.%s.r%s" % (r["case"], r["variant"], r["rep"]),
                                     "command": r.get("command")} for r in runs]
    env["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(ep, "w") as f:
        json.dump(env, f, indent=1, ensure_ascii=False)
        f.write("\n")

    write_s1a_dat(outdir, summary, variants)
    write_md(outdir, summary, env, variants, bps, runs)


def write_s1a_dat(outdir, summary, variants):
    rows = []
    for n, c in summary["cases"].items():
        m = re.match(r"^s1a-r(\d+)$", n)
        if m:
            rows.append((int(m.group(1)), c))
    path = os.path.join(outdir, "s1a.dat")
    if not rows:
        if os.path.exists(path):
            os.remove(path)
        return
    rows.sort()
    cols = ["rate_msg_per_s"]
    for v in ("bp-none", "ref", "bp-group"):
        cols += ["%s_p50_ms" % v, "%s_p99_ms" % v]
    for v in ("bp-none", "ref", "bp-group"):
        cols += ["%s_cpu_us_per_delivery" % v]
    with open(path, "w") as f:
        f.write("# S1a: median e2e latency (ms) and server CPU per delivered message vs offered load\n")
        f.write("# " + " ".join(cols) + "\n")
        for rate, c in rows:
            vals = [rate]
            for v in ("bp-none", "ref", "bp-group"):
                med = (c["variants"].get(v) or {}).get("medians", {})
                vals += [med.get("e2e_p50_ms"), med.get("e2e_p99_ms")]
            for v in ("bp-none", "ref", "bp-group"):
                med = (c["variants"].get(v) or {}).get("medians", {})
                vals += [med.get("cpu_us_per_delivery")]
            f.write(" ".join("NaN" if x is None else ("%g" % x) for x in vals) + "\n")


def write_md(outdir, summary, env, variants, bps, runs):
    L = []
    w = L.append
    proj, ref, mach = env.get("project", {}), env.get("reference", {}), env.get("machine", {})
    params = env.get("parameters", {})
    w("# blindpad vs the reference (CryptPad %s): %s" % (ref.get("cryptpad_version"), summary["outdir"]))
    w("")
    if params.get("QUICK") == "1":
        w("**QUICK=1 smoke run: 2-3 s runs and small sizes, one repetition. Not a measurement.**")
        w("")
    w("- blindpad: `%s` (%s), built from %s" % (proj.get("blindpad_version"), proj.get("git_describe"),
                                                  (proj.get("git_rev") or "")[:12]))
    w("- reference: CryptPad %s, commit %s, chainpad-server %s, node %s" % (
        ref.get("cryptpad_version"), (ref.get("cryptpad_commit") or "")[:12], ref.get("chainpad_server_version"),
        ref.get("node_version")))
    w("- machine: %s, %s CPUs, %s; %s" % (mach.get("cpu_model"), mach.get("ncpu"), mach.get("mem_total"),
                                        mach.get("kernel")))
    w("- %s repetition(s) per case, servers alternated within each repetition (%s; the order rotates by one per repetition); every run on a fresh server; "
      "values are medians over the repetitions that did not abort." % (
          params.get("REPS", "?"), ", ".join(SHORT.get(v, v) for v in params.get("VARIANTS", " ".join(variants)).split())))
    w("- pinning: server (all its threads and processes) on CPU %s, load generator on CPU %s, except where the "
      "case says UNPINNED (server free on every CPU)." % (params.get("SRV_CPU", "1"), params.get("LG_CPU", "0")))
    w("- **ratio = x times better, > 1 means blindpad is better**: blindpad/reference for throughputs (↑), "
      "reference/blindpad for latencies, CPU, memory and times (↓). Rows without an arrow are context.")
    w("- ⚠ marks a generator above %.0f%% of its core: the server was not the bottleneck there." % GEN_BOUND)
    w("- Reference CPU is summed over its main process and children (http workers, db-workers); its RSS sum counts "
      "pages shared between node processes once per process. `main process` rows are the `node server.js` "
      "process alone, polled from /proc every 0.25 s over the whole loadgen run (setup included).")
    w("")

    # overview
    w("## Overview")
    w("")
    hdr = "| case | metric | " + " | ".join(SHORT[v] for v in variants) + " |" + \
          ("".join(" %s vs ref |" % SHORT[b] for b in bps) if "ref" in variants else "")
    w(hdr)
    w("|" + "---|" * (2 + len(variants) + (len(bps) if "ref" in variants else 0)))
    for n, c in summary["cases"].items():
        for key in headline_for(n):
            fmt = [m[4] for m in METRICS[c["scenario"]] if m[0] == key][0]
            arrow = {"up": " ↑", "down": " ↓"}.get(c["directions"][key], "")
            cells = []
            for v in variants:
                cv = c["variants"][v]
                cells.append(fmtv(cv["medians"][key], fmt) + (" ⚠" if cv["generator_bound_runs"] else ""))
            rs = [("**%s**" % fmtr(c["ratios_vs_reference"][b].get(key))) if arrow else "" for b in bps] \
                if "ref" in variants else []
            w("| %s | %s%s | %s |%s" % (n, c["labels"][key], arrow, " | ".join(cells),
                                        (" " + " | ".join(rs) + " |") if rs else ""))
    w("")

    # per case
    w("## Per case")
    for n, c in summary["cases"].items():
        w("")
        w("### %s: %s" % (n, c["title"]))
        w("")
        w("`loadgen %s` — server %s" % (c["args"], "UNPINNED (all CPUs)" if c["pin"] == "unpinned"
                                        else "pinned to one core"))
        w("")
        w(hdr.replace("| case ", "").replace("| metric", "| metric"))
        w("|" + "---|" * (1 + len(variants) + (len(bps) if "ref" in variants else 0)))
        for key, label, _fn, direction, fmt in METRICS[c["scenario"]]:
            arrow = {"up": " ↑", "down": " ↓"}.get(direction, "")
            cells = [fmtv(c["variants"][v]["medians"][key], fmt) for v in variants]
            if key == "gen_cpu_pct":
                label = "generator CPU, % of its core (median; max)"
                cells = ["%s; %s%s" % (fmtv(c["variants"][v]["medians"][key], fmt),
                                       fmtv(c["variants"][v]["generator_cpu_percent_max"], fmt),
                                       " ⚠" if c["variants"][v]["generator_bound_runs"] else "")
                         for v in variants]
            rs = [fmtr(c["ratios_vs_reference"][b].get(key)) if direction else "" for b in bps] \
                if "ref" in variants else []
            w("| %s%s | %s |%s" % (label, arrow, " | ".join(cells), (" " + " | ".join(rs) + " |") if rs else ""))
        w("| runs used / run | %s |%s" % (" | ".join("%d/%d" % (c["variants"][v]["used"], c["variants"][v]["runs"])
                                                    for v in variants),
                                         (" " + " | ".join("" for _ in bps) + " |") if "ref" in variants else ""))
        if c["scenario"] == "s4":
            vb = summary["s4_raw_verify_best_per_s"]
            w("")
            w("Raw `crypto_sign_verify_detached` rate on this machine for the same message size (best of all "
              "s4 runs): %s/s with 1 thread, %s/s with 2 threads. Unpinned runs are compared with the 2-thread "
              "rate, pinned ones with the 1-thread rate. The per-run rates are measured by loadgen right after "
              "the run, while a server with a backlog (the reference) may still be busy." % (
                  fmtv(vb["1_thread"], "%.0f"), fmtv(vb["2_threads"], "%.0f")))
        notes = []
        for v in variants:
            if c["variants"][v]["flags"]:
                notes.append("%s: %s" % (SHORT[v], "; ".join(c["variants"][v]["flags"])))
        if notes:
            w("")
            w("Flags: " + " — ".join(notes))

    # runs
    w("")
    w("## Every run")
    w("")
    w("| run | status | generator CPU % | server CPU % | main process CPU share % | flags |")
    w("|---|---|---|---|---|---|")
    for r in runs:
        d, p = r["data"] or {}, r["procs"] or {}
        gen = get(d, "generator.cpu_percent_core")
        w("| %s.%s.r%s | %s | %s%s | %s | %s | %s |" % (
            r["case"], r["variant"], r["rep"], r["status"], fmtv(gen, "%.1f"),
            " ⚠" if gen is not None and gen > GEN_BOUND else "", fmtv(get(d, "server.cpu_percent_core"), "%.1f"),
            fmtv(get(p, "main.cpu_share_percent"), "%.0f"), "; ".join(r["flags"])))
    w("")
    w("Files: `json/<run>.json` (loadgen output), `json/<run>.procs.json` (per-pid CPU/RSS), `env.json` "
      "(versions and every loadgen command line), `summary.json`, `s1a.dat` + `latency_vs_load.png`, "
      "`cpu_vs_load.png`.")
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd = sys.argv[1]
    if cmd == "sample" and len(sys.argv) == 5:
        cmd_sample(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "oneline":
        print(oneline(json.load(open(sys.argv[2]))))
    elif cmd == "env":
        cmd_env(sys.argv[2])
    elif cmd == "summarize":
        cmd_summarize(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
