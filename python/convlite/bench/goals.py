"""The speed goals named in issues 3, 4 and 5, each checked against a run's results: met, short or pending."""
from __future__ import annotations

from . import rows

# Issue 4 names relu, pooling forward/backward, softmax and optimizer steps for the copy-bandwidth bar, and "each
# standalone kernel" for the 2x TensorFlow bar: every kernel row of the table that has a TensorFlow twin.
MEMORY_BOUND = ["kernel/relu_fwd", "kernel/relu_bwd", "kernel/maxpool_fwd", "kernel/maxpool_bwd",
                "kernel/avgpool_fwd", "kernel/avgpool_bwd", "kernel/global_avgpool_fwd", "kernel/softmax",
                "kernel/adam_1m"]
STANDALONE_VS_TF = ["kernel/relu_fwd", "kernel/relu_bwd", "kernel/maxpool_fwd", "kernel/maxpool_bwd",
                    "kernel/softmax", "kernel/dense_fwd", "kernel/dense_bwd", "kernel/adam_1m",
                    "kernel/avgpool_fwd", "kernel/avgpool_bwd", "kernel/global_avgpool_fwd", "kernel/tanh_fwd",
                    "kernel/tanh_bwd", "kernel/sigmoid_fwd", "kernel/sigmoid_bwd", "kernel/batchnorm_fwd",
                    "kernel/batchnorm_bwd", "kernel/dropout_fwd", "kernel/softmax_ce"]


def _median(results: dict, row_id: str, column: str):
    cell = results["rows"].get(row_id, {}).get("cells", {}).get(column) or {}
    return cell.get("median")


def _ratio(results, row_id, column, convlite_row=None):
    other = _median(results, row_id, column)
    ours = _median(results, convlite_row or row_id, "convlite")
    if not other or not ours:
        return None
    return other / ours


def _goal(issue, text, target, measured, higher_is_better=True, unit="x", why_pending=""):
    if measured is None:
        status = "pending"
        shown = "n/a" + (f" ({why_pending})" if why_pending else "")
    else:
        status = "met" if (measured >= target if higher_is_better else measured <= target) else "short"
        shown = f"{measured * 100:.0f}%" if unit == "%" else f"{measured:.2f}x"
    return {"issue": issue, "goal": text, "target": target, "measured": measured, "shown": shown, "status": status}


def evaluate(results: dict) -> list[dict]:
    tf = "tf"
    peak = results.get("machine", {}).get("fma_peak_gflops")
    goals = []

    def fraction_of_peak(row_id):
        t = _median(results, row_id, "convlite")
        flops = rows.ROWS_BY_ID[row_id].flops
        if not t or not peak:
            return None
        return flops / t / 1e9 / peak

    no_peak = "no FMA peak probe" if not peak else ""
    goals.append(_goal(3, "3x3 conv 64->64 56x56 b8 forward >= 1.5x tf.nn.conv2d (TF default)", 1.5,
                       _ratio(results, "kernel/conv3x3_fwd", tf)))
    goals.append(_goal(3, "3x3 conv forward >= 75% of the measured FMA peak (GEMM route, direct FLOPs)", 0.75,
                       fraction_of_peak("kernel/conv3x3_fwd_gemm"), unit="%", why_pending=no_peak))
    goals.append(_goal(3, "3x3 conv forward + input grad + weight grad >= 1.3x TF", 1.3,
                       _ratio(results, "kernel/conv3x3_train", tf)))
    goals.append(_goal(3, "3x3 conv weight gradient alone >= 55% of the FMA peak", 0.55,
                       fraction_of_peak("kernel/conv3x3_wgrad"), unit="%", why_pending=no_peak))
    goals.append(_goal(3, "SGEMM 1024^3 >= 0.9x numpy's sgemm", 0.9, _ratio(results, "kernel/sgemm1024", "numpy")))
    for row_id in MEMORY_BOUND:
        cell = results["rows"].get(row_id, {}).get("cells", {}).get("convlite") or {}
        row = rows.ROWS_BY_ID[row_id]
        achieved = row.bytes / cell["median"] / 1e9 if cell.get("median") else None
        fraction = achieved / cell["copy_gbs"] if achieved and cell.get("copy_gbs") else None
        goals.append(_goal(4, f"{row.label}: >= 70% of copy bandwidth on the same size", 0.70, fraction, unit="%"))
    for row_id in STANDALONE_VS_TF:
        goals.append(_goal(4, f"{rows.ROWS_BY_ID[row_id].label}: >= 2x the TensorFlow op", 2.0,
                           _ratio(results, row_id, tf)))
    goals.append(_goal(4, "Adam step over 1M parameters >= 3x vectorised numpy Adam", 3.0,
                       _ratio(results, "kernel/adam_1m", "numpy")))
    goals.append(_goal(5, "ECG seed model: >= 25x faster per epoch than Keras fit", 25.0,
                       _ratio(results, "train/ecg", tf)))
    goals.append(_goal(5, "Keras MNIST convnet: >= 3.5x faster per epoch than Keras fit", 3.5,
                       _ratio(results, "train/mnist_convnet", tf)))
    goals.append(_goal(5, "LeNet-5: >= 8x faster per epoch than Keras fit", 8.0, _ratio(results, "train/lenet5", tf)))
    goals.append(_goal(5, "ECG model predict on one sample >= 100x faster than TF's model(x)", 100.0,
                       _ratio(results, "infer/ecg_1_call", tf, convlite_row="infer/ecg_1_predict")))
    ours = _median(results, "footprint/import", "convlite")
    base = _median(results, "footprint/import", "numpy")
    goals.append(_goal(5, "`import convlite` no slower than 1.5x `import numpy` (fresh process)", 1.5,
                       ours / base if ours and base else None, higher_is_better=False))
    return goals
