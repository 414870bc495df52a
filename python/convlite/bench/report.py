"""The table: each framework's median (± half the interquartile range), ratios to convlite, rates, goals."""
from __future__ import annotations

from . import rows

LEGEND = ("Cells: median per call (per epoch for training, per sample for batch predict) ± half the interquartile "
          "range as % of the median. ratio = other framework's median / convlite's median: > 1 means convlite is "
          "faster (or smaller, for footprint rows). rate: convlite's GFLOP/s and % of the measured FMA peak, or "
          "GB/s moved and % of a plain copy of the same size. Above 100% of peak: Winograd rows count the direct "
          "convolution's FLOPs; elsewhere it means the peak probe ran on a loaded machine (see the load average).")


def ratios(results: dict) -> dict:
    out = {}
    for row_id, row in results["rows"].items():
        ours = (row["cells"].get("convlite") or {}).get("median")
        out[row_id] = {}
        for key, cell in row["cells"].items():
            if key != "convlite" and ours and cell.get("median"):
                out[row_id][key] = cell["median"] / ours
    return out


def _seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def format_cell(row: rows.Row, cell: dict | None) -> str:
    if not cell:
        return "-"
    if "median" not in cell:
        return "pending"
    value = _bytes(cell["median"]) if row.unit == "bytes" else _seconds(cell["median"])
    if row.unit == "bytes":
        extra = cell.get("with_dependencies_bytes")
        return value + (f" ({_bytes(extra)} w/ deps)" if extra else "")
    spread = cell.get("spread") or 0.0
    return f"{value} ±{spread * 50:.0f}%" if cell.get("n", 1) > 1 else value


def rate(row: rows.Row, cell: dict | None, peak: float | None) -> str:
    if not cell or not cell.get("median"):
        return ""
    t = cell["median"]
    if row.flops:
        gflops = row.flops / t / 1e9
        return f"{gflops:.1f} GFLOP/s" + (f" ({gflops / peak * 100:.0f}% peak)" if peak else "")
    if row.bytes:
        gbs = row.bytes / t / 1e9
        copy = cell.get("copy_gbs")
        return f"{gbs:.1f} GB/s" + (f" ({gbs / copy * 100:.0f}% of copy {copy:.1f})" if copy else "")
    if cell.get("samples_per_second"):
        return f"{cell['samples_per_second']:,.0f} samples/s"
    return ""


def _table(header: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in body])


def machine_lines(results: dict) -> list[str]:
    m = results["machine"]
    fw = results.get("frameworks", {})
    peak = m.get("fma_peak_gflops")
    peak_text = m.get("fma_peak_note", "n/a")
    if peak:
        peak_text = f"{peak:.0f} GFLOP/s with {results['settings']['threads']} thread(s)"
        if m.get("fma_peak_gflops_1thread"):
            peak_text += f" ({m['fma_peak_gflops_1thread']:.0f} on one)"
        start, end = m.get("fma_peak_gflops_start"), m.get("fma_peak_gflops_end")
        if start and end:
            peak_text += f"; {start:.0f} at the start of the run, {end:.0f} at the end (% of peak uses the higher)"
    copy = m.get("copy_bandwidth_gbs")
    lines = [
        f"date: {m.get('date')}",
        f"command: {results.get('command')}",
        f"cpu: {m.get('cpu')} ({', '.join(m.get('simd_flags', []))}); cores: {m.get('cores')}; "
        f"threads used: {results['settings']['threads']}",
        f"measured FMA peak: {peak_text}; copy bandwidth: "
        + (f"{copy:.1f} GB/s ({m.get('copy_probe')})" if copy else "n/a"),
        f"{m.get('load', 'load average unknown')}",
    ]
    if "convlite" in fw:
        c = fw["convlite"]
        lines.append(f"convlite {c.get('version')}: isa {c.get('isa')} (available {c.get('isas_available')}), "
                     f"openmp {c.get('openmp')}")
    for key in ("tf", "tf_onednn"):
        if key in fw and fw[key]:
            t = fw[key]
            lines.append(f"{'TF default' if key == 'tf' else 'TF oneDNN'}: tensorflow {t.get('version')}, keras "
                         f"{t.get('keras')}, TF_ENABLE_ONEDNN_OPTS={t.get('TF_ENABLE_ONEDNN_OPTS')}, oneDNN custom "
                         f"ops {t.get('onednn_ops')}, threads {t.get('threads')}")
    if fw.get("torch"):
        lines.append(f"PyTorch {fw['torch'].get('version')}, threads {fw['torch'].get('threads')}")
    if fw.get("numpy"):
        lines.append(f"numpy {fw['numpy'].get('version')}, BLAS {fw['numpy'].get('blas', '?')}")
    s = results["settings"]
    lines.append(f"settings: repeats {s['repeats']}, quick {s['quick']}; run took {results.get('seconds', 0):.0f} s")
    return lines


def render(results: dict, markdown: bool = False) -> str:
    columns = results["columns"]
    peak = results["machine"].get("fma_peak_gflops")
    header = ["row"]
    for c in columns:
        header.append(c["label"])
        if c["key"] != "convlite":
            header.append(f"ratio {c['label']}")
    header.append("convlite rate")
    out = []
    bullet = "- " if markdown else ""
    out += [bullet + line for line in machine_lines(results)]
    out += [bullet + note for note in results.get("notes", [])]
    out.append("")
    out.append(LEGEND)
    ratio = results.get("ratios", {})
    for group in ("training", "kernels", "conv shapes", "inference", "footprint"):
        body = []
        for row_id, row in results["rows"].items():
            meta = rows.ROWS_BY_ID[row_id]
            if meta.group != group:
                continue
            line = [meta.label]
            for c in columns:
                line.append(format_cell(meta, row["cells"].get(c["key"])))
                if c["key"] != "convlite":
                    r = ratio.get(row_id, {}).get(c["key"])
                    line.append(f"{r:.2f}x" if r else "")
            line.append(rate(meta, row["cells"].get("convlite"), peak))
            body.append(line)
        if body:
            out.append("")
            out.append(f"{'### ' if markdown else ''}{group}")
            out.append(_table(header, body, markdown))
    pending = [(rid, c, cell["pending"]) for rid, row in results["rows"].items()
               for c, cell in row["cells"].items() if "pending" in cell]
    if pending:
        out.append("")
        out.append("pending cells:")
        out += [f"{bullet}{rid} [{c}]: {why}" for rid, c, why in pending]
    shown = results.get("goals") or []
    if results.get("settings", {}).get("only"):  # --only: the goals its rows decide, not 40 unmeasured ones
        shown = [g for g in shown if g["status"] != "pending"]
    if shown:
        out.append("")
        out.append(f"{'### ' if markdown else ''}speed goals (issues 3, 4, 5; against TF default settings)")
        body = [[str(g["issue"]), g["goal"], g["shown"], g["status"]] for g in shown]
        out.append(_table(["issue", "goal", "measured", "status"], body, markdown))
    return "\n".join(out)
