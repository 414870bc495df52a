"""Smoke test of `python -m convlite.bench`'s plumbing: worker processes, JSON, table, goals. Never timings."""
from __future__ import annotations

import json

import pytest

from convlite.bench import goals, report, rows, runner


def test_one_row_convlite_alone_gives_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = runner.main(["--quick", "--only", "kernel/relu_fwd", "--frameworks", "convlite", "--repeats", "2",
                        "--threads", "1", "--json", str(out), "--markdown"])
    assert code == 0
    text = capsys.readouterr().out
    results = json.loads(out.read_text())

    assert [c["key"] for c in results["columns"]] == ["convlite"]
    assert list(results["rows"]) == ["kernel/relu_fwd"]
    cell = results["rows"]["kernel/relu_fwd"]["cells"]["convlite"]
    assert cell["n"] == 2 and len(cell["samples"]) == 2
    assert cell["min"] <= cell["median"] <= cell["max"] and cell["median"] > 0
    assert cell["copy_gbs"] > 0 and cell["copy_probe"]
    facts = results["machine"]
    for key in ("cpu", "cores", "load_before", "load_after", "load", "copy_bandwidth_gbs", "date"):
        assert key in facts, key
    assert "fma_peak_gflops" in facts  # a number, or None with the reason in fma_peak_note
    assert results["frameworks"]["convlite"]["isa"]
    assert results["settings"] == {"repeats": 2, "threads": 1, "quick": True, "only": "kernel/relu_fwd"}
    assert {g["status"] for g in results["goals"]} <= {"met", "short", "pending"}
    assert all({"issue", "goal", "target", "measured", "shown"} <= set(g) for g in results["goals"])

    assert "| row | convlite | convlite rate |" in text
    assert rows.ROWS_BY_ID["kernel/relu_fwd"].label in text
    assert "measured FMA peak:" in text and "load average" in text
    assert "speed goals" in text


def test_only_that_matches_nothing_is_an_error(capsys):
    assert runner.main(["--quick", "--only", "no-such-row-xyz", "--frameworks", "convlite"]) == 2
    assert "Received: only='no-such-row-xyz'" in capsys.readouterr().err


def test_only_accepts_substrings_and_regular_expressions():
    assert [r.id for r in rows.select_rows("sgemm")] == ["kernel/sgemm1024"]
    assert {r.id for r in rows.select_rows("^train/")} == {"train/ecg", "train/mnist_convnet", "train/lenet5"}
    assert len(rows.select_rows(None)) == len(rows.ROWS)
    assert [r.id for r in rows.select_rows("conv3x3_(fwd|wgrad)")] == ["kernel/conv3x3_fwd", "kernel/conv3x3_fwd_gemm",
                                                                       "kernel/conv3x3_wgrad"]
    with pytest.raises(ValueError, match="Known rows"):  # an invalid regex is taken as a plain substring
        rows.select_rows("conv3x3_fwd[")


def test_without_tensorflow_convlite_is_measured_alone(monkeypatch):
    real = runner.importlib.util.find_spec
    monkeypatch.setattr(runner.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tensorflow", "torch") else real(name, *a))
    columns, notes = runner.available_columns(None)
    assert [c[0] for c in columns] == ["convlite", "numpy"]
    assert any("TensorFlow is not installed" in n and "alone" in n for n in notes)


def _fake_results():
    cell = lambda t: {"median": t, "spread": 0.1, "n": 5}  # noqa: E731
    results = {
        "command": "python -m convlite.bench (synthetic)",
        "settings": {"repeats": 5, "threads": 2, "quick": False, "only": None},
        "machine": {"fma_peak_gflops": 200.0, "cores": {"usable": 2}, "load_before": [0, 0, 0],
                    "load_after": [0, 0, 0]},
        "columns": [{"key": "convlite", "label": "convlite"}, {"key": "tf", "label": "TF default"},
                    {"key": "numpy", "label": "numpy"}],
        "frameworks": {},
        "notes": [],
        "rows": {
            "kernel/conv3x3_fwd": {"cells": {"convlite": cell(0.006), "tf": cell(0.012)}},
            "kernel/conv3x3_fwd_gemm": {"cells": {"convlite": cell(0.010)}},
            "train/ecg": {"cells": {"convlite": cell(0.001), "tf": {"pending": "not measured"}}},
            "kernel/sgemm1024": {"cells": {"convlite": cell(0.010), "numpy": cell(0.008)}},
        },
    }
    results["ratios"] = report.ratios(results)
    results["goals"] = goals.evaluate(results)
    return results


def test_ratios_are_other_over_convlite_and_goals_follow():
    results = _fake_results()
    assert results["ratios"]["kernel/conv3x3_fwd"]["tf"] == pytest.approx(2.0)
    assert results["ratios"]["train/ecg"] == {}
    by_goal = {g["goal"]: g for g in results["goals"]}
    forward = by_goal["3x3 conv 64->64 56x56 b8 forward >= 1.5x tf.nn.conv2d (TF default)"]
    assert forward["status"] == "met" and forward["measured"] == pytest.approx(2.0)
    peak = by_goal["3x3 conv forward >= 75% of the measured FMA peak (GEMM route, direct FLOPs)"]
    assert peak["measured"] == pytest.approx(rows.CONV_FLOPS / 0.010 / 1e9 / 200.0)
    assert peak["status"] == "met"  # 1.85 GFLOP in 10 ms is 185 GFLOP/s: 92% of 200
    assert by_goal["SGEMM 1024^3 >= 0.9x numpy's sgemm"]["status"] == "short"  # 0.8x
    assert by_goal["ECG seed model: >= 25x faster per epoch than Keras fit"]["status"] == "pending"


def test_text_table_marks_pending_cells_and_rates():
    text = report.render(_fake_results())
    assert "pending" in text and "2.00x" in text
    assert "GFLOP/s" in text and "% peak" in text


@pytest.mark.parametrize("thread_cpu", [False, True])
def test_profile_step_splits_the_step_by_layer(capsys, thread_cpu):
    from convlite.bench import profile_step

    wall, parts, rest = profile_step.profile_model("ecg", steps=3, warmup=1, thread_cpu=thread_cpu)
    assert len(parts) == 4 and set(rest) == {"gather", "loss", "optimizer"}
    assert all(fwd >= 0 and bwd >= 0 for _, fwd, bwd in parts) and all(ms >= 0 for ms in rest.values())
    assert parts[2][1:] == (0.0, 0.0)  # Flatten is a view: no work, no time
    total = sum(f + b for _, f, b in parts) + sum(rest.values())
    assert 0 < total and (thread_cpu or total <= wall * 1.05)

    profile_step.main(["ecg", "--steps", "2"])
    text = capsys.readouterr().out
    assert "ecg:" in text and "ms wall per step" in text and "optimizer" in text
    with pytest.raises(SystemExit):
        profile_step.main(["alexnet"])


def test_convlite_only_rows_are_asked_of_convlite_alone():
    only = [r.id for r in rows.ROWS if r.convlite_only]
    assert "kernel/conv3x3_fwd_gemm" in only and "sep/sep1d_500_fwd_unfused" in only
    for row_id in only:
        assert runner._implements("convlite", row_id)
        assert not any(runner._implements(c, row_id) for c in ("tf", "tf_onednn", "torch", "numpy"))
    assert runner._implements("torch", "kernel/tanh_fwd") and runner._implements("tf", "sep/sep1d_500_train")
