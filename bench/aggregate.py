#!/usr/bin/env python
"""Fold bench/run.sh's results.jsonl into a markdown table: medians across rounds per
framework/model, and the ratio of each lstmkit variant to the best peer measured in the same run.

usage: aggregate.py results.jsonl [--out results_table.md]

Lines are {"tag": "framework:model", "round": r, "result": {...}} (a RESULT line), or
{"tag": ..., "round": r, "status": "unsupported"|"failed", ...}. The peers' own
../shared/peers/aggregate.py runs at import time and knows nothing of those statuses or of
lstmkit, so this script keeps its conventions (median across rounds; * when the rounds spread by
more than 25 % of the median) without importing it.
"""
import argparse
import json
import statistics
from collections import defaultdict

PEERS = ["keras", "keras-xla", "torch", "torch-nomkldnn", "onnxruntime"]
MODELS = ["M1", "M2", "M3", "M3rd0", "M4"]
NOISY = 0.25

ap = argparse.ArgumentParser()
ap.add_argument("path", nargs="?", default="results.jsonl")
ap.add_argument("--out", default="results_table.md")
args = ap.parse_args()

rows = [json.loads(line) for line in open(args.path) if line.strip()]
by_tag = defaultdict(list)
status = defaultdict(list)
for r in rows:
    if "result" in r:
        by_tag[r["tag"]].append(r["result"])
    else:
        status[r["tag"]].append(r)

lstmkit_fws = sorted({t.split(":")[0] for t in list(by_tag) + list(status)
                      if t.startswith("lstmkit")}, key=lambda f: (len(f), f))
frameworks = lstmkit_fws + PEERS


def values(results, key):
    return [r[key] for r in results if r.get(key) is not None]


def med(results, key):
    vals = values(results, key)
    return statistics.median(vals) if vals else None


def fig(results, key, fmt="{:,.0f}"):
    vals = values(results, key)
    if not vals:
        return "—"
    m = statistics.median(vals)
    spread = (max(vals) - min(vals)) / m if m else 0.0
    return fmt.format(m) + ("*" if spread > NOISY else "")


# ---- GEMM reference (gemm_ref.py), for "% of GEMM peak" ------------------------------------
gemm = {}
for tag in ("gemm:2threads", "gemm:1thread"):
    res = by_tag.get(tag, [])
    for lib in ("numpy", "torch"):
        for shape in (res[0].get(lib, {}) if res else {}):
            meds = [r[lib][shape]["median"] for r in res]
            bests = [r[lib][shape]["best"] for r in res]
            gemm[(tag, lib, shape)] = (statistics.median(meds), max(bests), min(meds), max(meds), len(res))
peak_key = ("gemm:2threads", "numpy", "2048x2048@2048x2048")
peak = gemm[peak_key][0] if peak_key in gemm else None

out = []
out.append("| framework | model | params | train samples/s | est. epoch s | infer samples/s (b256) "
           "| b1 latency ms (Python) | b1 latency ms (C) | peak RSS MB | train GFLOP/s "
           "| % of GEMM peak | rounds |")
out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in MODELS:
    for fw in frameworks:
        tag = f"{fw}:{m}"
        res = by_tag.get(tag)
        if not res:
            if any(s["status"] == "unsupported" for s in status.get(tag, [])):
                out.append(f"| {fw} | {m} | not supported yet | | | | | | | | | |")
            continue
        params = res[0].get("params")
        gf = med(res, "train_gflops_per_s")
        pct = f"{100 * gf / peak:.0f} %" if (gf and peak) else "—"
        out.append(f"| {fw} | {m} | {f'{params:,}' if params else '—'} | {fig(res, 'train_samples_per_s')} "
                   f"| {fig(res, 'est_epoch_s')} | {fig(res, 'infer_samples_per_s_b256')} "
                   f"| {fig(res, 'latency_b1_ms', '{:.2f}')} | {fig(res, 'latency_b1_ms_c', '{:.2f}')} "
                   f"| {fig(res, 'peak_rss_mb')} | {fig(res, 'train_gflops_per_s', '{:.1f}')} | {pct} "
                   f"| {len(res)} |")

# ---- ratios: lstmkit / best peer, same run ------------------------------------------------
# (metric key, label, higher is better?)
# latency_b1_ms_c (lstmkit from C) is compared with the peers' latency_b1_ms.
METRICS = [("train_samples_per_s", "train samples/s", True),
           ("infer_samples_per_s_b256", "infer b256 samples/s", True),
           ("latency_b1_ms", "b1 latency ms", False),
           ("latency_b1_ms_c", "b1 latency ms (C)", False),
           ("peak_rss_mb", "peak RSS MB", False)]
out.append("")
out.append("Ratios lstmkit / best peer of the same run (medians across rounds). For samples/s a "
           "ratio above 1 means lstmkit is faster; for latency and RSS a ratio below 1 means "
           "lstmkit is better. The best peer is named in brackets. 'b1 (C)' compares "
           "lstmkit_model_predict called from C with the best peer's Python-side latency.")
out.append("")
out.append("| lstmkit variant | model | train samples/s | infer b256 | b1 latency | b1 latency (C) | peak RSS |")
out.append("|---|---|---:|---:|---:|---:|---:|")
for m in MODELS:
    peers_here = {fw: by_tag[f"{fw}:{m}"] for fw in PEERS if by_tag.get(f"{fw}:{m}")}
    for fw in lstmkit_fws:
        res = by_tag.get(f"{fw}:{m}")
        if not res:
            if status.get(f"{fw}:{m}"):
                out.append(f"| {fw} | {m} | {status[f'{fw}:{m}'][0]['status']} | | | | |")
            continue
        cells = []
        for key, _label, higher in METRICS:
            mine = med(res, key)
            peer_key = "latency_b1_ms" if key == "latency_b1_ms_c" else key
            cands = [(med(r, peer_key), p) for p, r in peers_here.items() if med(r, peer_key)]
            if mine is None or not cands:
                cells.append("—")
                continue
            best, who = (max if higher else min)(cands)
            cells.append(f"{mine / best:.2f} ({who} {best:,.2f})" if best < 10 else
                         f"{mine / best:.2f} ({who} {best:,.0f})")
        out.append(f"| {fw} | {m} | " + " | ".join(cells) + " |")

# ---- statuses ------------------------------------------------------------------------------
unsupported = {t: s for t, s in status.items() if any(x["status"] == "unsupported" for x in s)}
failed = {t: s for t, s in status.items() if any(x["status"] == "failed" for x in s)}
if unsupported:
    out.append("")
    out.append("Not supported yet (bench exited with code 3):")
    out.append("")
    for t, s in sorted(unsupported.items()):
        out.append(f"- {t}: {s[0].get('reason', '').strip()}")
if failed:
    out.append("")
    out.append("Failed runs (see logs/): " + ", ".join(
        f"{t} round {x['round']} rc={x.get('rc')}" for t, s in sorted(failed.items()) for x in s))

# ---- real-data epochs (bench/real_imdb_epoch.py) -------------------------------------------
# tags "real-<recipe>:<framework>" (and "imdb-real:<framework>" from before there were recipes)
RECIPE_TITLES = {
    "imdb_lstm": "IMDB LSTM (seed 001): 25,000 reviews, 600 ids 'pre', batch 64",
    "translate_en_fr": "EN→FR seq2seq (seed 000): mask_zero encoder, post-padding, batch 1024",
    "imdb_bilstm": "IMDB BiLSTM (seed 002): 45,000 reviews, 200 ids 'pre', batch 128, no mask",
}
real = defaultdict(lambda: defaultdict(dict))  # recipe -> framework -> round -> result
for r in rows:
    if "result" not in r or not (r["tag"].startswith("real-") or r["tag"].startswith("imdb-real:")):
        continue
    res = r["result"]
    recipe = {"imdb_real_M1": "imdb_lstm"}.get(res.get("recipe"), res.get("recipe"))
    real[recipe][res["framework"]][r["round"]] = res


def epoch_seconds(res):
    if res.get("epoch1_s"):
        return res["epoch1_s"]
    return None


def epoch_cpu_seconds(res):
    return (res.get("epoch_cpu_s") or [None])[0]


def fmt(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


if real:
    out.append("")
    out.append("Real data, one full training epoch (validation pass included), seconds; ratios are "
               "medians of per-round ratios (the frameworks of a round run back to back, so they "
               "see about the same machine):")
    out.append("")
    out.append("| recipe | padding (train rows) | lstmkit s | lstmkit, skip off s | keras s "
               "| keras / lstmkit | same in CPU s | skip off / lstmkit | lstmkit bf16 s | keras / lstmkit bf16 "
               "| rounds |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = [k for k in RECIPE_TITLES if k in real] + sorted(k for k in real if k not in RECIPE_TITLES)
    for recipe in order:
        fws = real[recipe]
        medians = {fw: (statistics.median(v) if v else None) for fw, v in
               ((fw, [epoch_seconds(x) for x in fws.get(fw, {}).values() if epoch_seconds(x)])
                for fw in ("lstmkit", "lstmkit-noskip", "lstmkit-bf16", "keras"))}

        def ratio(num, den, value=epoch_seconds):
            rs = [value(fws[num][k]) / value(fws[den][k])
                  for k in fws.get(num, {}) if k in fws.get(den, {})
                  and value(fws[num][k]) and value(fws[den][k])]
            if not rs:
                return "—"
            spread = "*" if len(rs) > 1 and (max(rs) - min(rs)) > NOISY * statistics.median(rs) else ""
            bold = "**" if num == "keras" and value is epoch_seconds else ""
            return f"{bold}{statistics.median(rs):.2f}×{bold}{spread}"

        anyres = next(iter(next(iter(fws.values())).values()))
        pad = (anyres.get("data") or {}).get("padding_fraction_train")
        pad = f"{100 * pad:.1f} %" if pad is not None else ("65.5 %" if recipe == "imdb_lstm" else "—")
        rounds = max(len(v) for v in fws.values())
        out.append(f"| {recipe} | {pad} | {fmt(medians['lstmkit'])} | {fmt(medians['lstmkit-noskip'])} "
                   f"| {fmt(medians['keras'])} | {ratio('keras', 'lstmkit')} "
                   f"| {ratio('keras', 'lstmkit', epoch_cpu_seconds)} "
                   f"| {ratio('lstmkit-noskip', 'lstmkit')} | {fmt(medians['lstmkit-bf16'])} "
                   f"| {ratio('keras', 'lstmkit-bf16')} | {rounds} |")
    out.append("")
    out.append("Every run: epoch seconds (CPU seconds of the process in that epoch); est. = median "
               "step time × steps (training only); load = 1-minute load average at start/end.")
    out.append("")
    out.append("| recipe | framework | round | epoch s | epoch CPU s | est. train s | steps "
               "| loss | val_accuracy | peak RSS MB | load | data sha1 x/y |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for recipe in order:
        for fw in sorted(real[recipe], key=lambda f: (f != "lstmkit", f)):
            for rnd, res in sorted(real[recipe][fw].items()):
                logs = res["epoch_logs"][-1] if res.get("epoch_logs") else {}
                cpu = epoch_cpu_seconds(res)
                load = res.get("loadavg_start_end")
                data = res.get("data") or {}
                out.append(
                    f"| {recipe} | {fw} | {rnd} | {fmt(epoch_seconds(res))} | {fmt(cpu)} "
                    f"| {fmt(res.get('est_epoch_train_s'))} "
                    f"| {res.get('steps_done')} / {res.get('steps_per_epoch')} "
                    f"| {fmt(logs.get('loss'), '.4f')} | {fmt(logs.get('val_accuracy'), '.3f')} "
                    f"| {res['peak_rss_mb']:,.0f} "
                    f"| {'/'.join(f'{v:.1f}' for v in load) if load else '—'} "
                    f"| {data.get('x_sha1', '—')}/{data.get('y_sha1', '—')} |")

# ---- GEMM ----------------------------------------------------------------------------------
if gemm:
    out.append("")
    out.append("GEMM float32 GFLOP/s, ../shared/peers/gemm_ref.py (median of per-round medians; best "
               "single repetition; range of round medians):")
    out.append("")
    out.append("| threads | library | shape | median | best | range | rounds |")
    out.append("|---|---|---|---:|---:|---|---:|")
    for (tag, lib, shape), (m_, best, lo, hi, n) in sorted(gemm.items()):
        out.append(f"| {tag.split(':')[1]} | {lib} | {shape} | {m_:.1f} | {best:.1f} | {lo:.0f}–{hi:.0f} | {n} |")

# ---- per round -----------------------------------------------------------------------------
if any(by_tag.get(f"{fw}:{m}") for m in MODELS for fw in frameworks):
    out.append("")
    out.append("Per round: train samples/s; infer b256; b1 ms; noise probe = numpy 1024^3 GFLOP/s at "
               "start/end of each process (~200 on a quiet machine):")
    out.append("")
for m in MODELS:
    for fw in frameworks:
        res = by_tag.get(f"{fw}:{m}")
        if not res:
            continue
        trs = ", ".join(f"{r['train_samples_per_s']:.1f}" if r.get("train_samples_per_s") else "—" for r in res)
        infs = ", ".join(f"{r['infer_samples_per_s_b256']:.0f}" for r in res)
        lats = ", ".join(f"{r['latency_b1_ms']:.2f}" for r in res)
        probes = ", ".join("/".join(f"{p:.0f}" for p in r["probe_gflops_start_end"])
                           for r in res if "probe_gflops_start_end" in r)
        out.append(f"- {fw} {m}: train [{trs}]; infer [{infs}]; b1 ms [{lats}]"
                   + (f"; probe [{probes}]" if probes else ""))

text = "\n".join(out) + "\n"
open(args.out, "w").write(text)
print(text)
