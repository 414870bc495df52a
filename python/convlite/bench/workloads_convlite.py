"""convlite side of the benchmark (its own process).

Kernels call the compiled core (`convlite._core`) the way convlite's layers do; training and inference use the
Keras-shaped API (`convlite.Sequential`, `convlite.layers`) through the same code that times Keras. A row whose
piece of convlite is not there yet is reported as pending (with the missing name), never faked.
"""
from __future__ import annotations

import numpy as np

from . import conv_shapes, data, keras_models, layer_kernels, rows, separable_shapes
from .timing import Settings, summarize, time_calls

SAME_3X3 = (1, 1, 1, 1)  # (top, bottom, left, right)


def framework_info(import_log: str) -> dict:
    import convlite
    from convlite import _core

    return {
        "name": "convlite",
        "version": convlite.__version__,
        "isa": convlite.get_isa(),
        "isas_available": convlite.available_isas(),
        "openmp": _core.openmp_runtime(),
        "threads": {"omp": convlite.get_num_threads()},
    }


def setup(threads: int) -> None:
    import convlite

    convlite.set_num_threads(threads)


class Pending(Exception):
    """A piece of convlite this row needs has not landed."""


def _need(module, *names):
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise Pending(f"needs {module.__name__}.{', '.join(missing)}")


def _difference(total: dict, part: dict) -> dict:
    """The cost of `total` minus `part` (e.g. dx = (dx + dw) - dw), from their medians; spread from both."""
    median = max(total["median"] - part["median"], 1e-12)
    cell = summarize([median], 1, derived=f"{total['median']:.6g} s - {part['median']:.6g} s")
    cell["spread"] = (total["spread"] * total["median"] + part["spread"] * part["median"]) / median
    cell["n"] = min(total["n"], part["n"])
    return cell


def _kernel_groups(core, settings: Settings):
    """(row ids, function producing their cells) pairs; each function raises Pending when a binding is missing."""

    def conv3x3(wanted):
        _need(core, "conv2d", "conv2d_backward")
        t = data.conv_tensors()
        x, w, dy = t["x"], t["w"], t["dy"]
        fwd = lambda: core.conv2d(x, w, None, padding=SAME_3X3)  # noqa: E731
        both = lambda: core.conv2d_backward(x, w, None, dy, padding=SAME_3X3, has_bias=False)  # noqa: E731
        wgrad = lambda: core.conv2d_backward(x, w, None, dy, padding=SAME_3X3, has_bias=False,  # noqa: E731
                                             need_dx=False)
        cells = {}
        if "kernel/conv3x3_fwd" in wanted:
            cells["kernel/conv3x3_fwd"] = time_calls(fwd, settings)
        if "kernel/conv3x3_fwd_gemm" in wanted and hasattr(core, "set_conv_algorithm"):
            chosen = core.get_conv_algorithm()
            core.set_conv_algorithm("gemm")
            try:
                cells["kernel/conv3x3_fwd_gemm"] = time_calls(fwd, settings)
            finally:
                core.set_conv_algorithm(chosen)
        if wanted & {"kernel/conv3x3_wgrad", "kernel/conv3x3_dgrad"}:
            cells["kernel/conv3x3_wgrad"] = time_calls(wgrad, settings)
        if wanted & {"kernel/conv3x3_bwd", "kernel/conv3x3_dgrad"}:  # the dgrad fallback needs both
            cells["kernel/conv3x3_bwd"] = time_calls(both, settings)
        if "kernel/conv3x3_dgrad" in wanted:
            try:  # need_dw=False computes dx alone (bindings since the conv engine's second round)
                core.conv2d_backward(x, w, None, dy, padding=SAME_3X3, has_bias=False, need_dw=False)
                cells["kernel/conv3x3_dgrad"] = time_calls(lambda: core.conv2d_backward(
                    x, w, None, dy, padding=SAME_3X3, has_bias=False, need_dw=False), settings)
            except TypeError:
                cells["kernel/conv3x3_dgrad"] = _difference(cells["kernel/conv3x3_bwd"],
                                                            cells["kernel/conv3x3_wgrad"])
        if "kernel/conv3x3_train" in wanted:
            cells["kernel/conv3x3_train"] = time_calls(lambda: (fwd(), both()), settings)
        return cells

    def depthwise(wanted):
        _need(core, "depthwise2d", "depthwise2d_backward")
        t = data.depthwise_tensors()
        x, w, dy = t["x"], t["w"], t["dy"]
        cells = {}
        if "kernel/depthwise3x3_fwd" in wanted:
            cells["kernel/depthwise3x3_fwd"] = time_calls(lambda: core.depthwise2d(x, w, None, padding=SAME_3X3),
                                                          settings)
        if "kernel/depthwise3x3_bwd" in wanted:
            cells["kernel/depthwise3x3_bwd"] = time_calls(
                lambda: core.depthwise2d_backward(x, w, None, dy, padding=SAME_3X3, has_bias=False), settings)
        return cells

    def ecg_conv(layer, spec, offset):
        def measure(wanted):
            _need(core, "conv2d", "conv2d_backward")
            t = data.conv1d_tensors(spec, offset)
            # 1D runs on the 2D entry points with height 1: (N, W, C) -> (N, 1, W, C); (k, C, F) -> (1, k, C, F).
            x, w, dy = t["x"][:, None], t["w"][None], t["dy"][:, None]
            b = t["b"]
            y = core.conv2d(x, w, b, activation="relu")
            need_dx = layer == "ecg_conv2"
            cells = {}
            if f"kernel/{layer}_fwd" in wanted:
                cells[f"kernel/{layer}_fwd"] = time_calls(lambda: core.conv2d(x, w, b, activation="relu"), settings)
            if f"kernel/{layer}_bwd" in wanted:
                cells[f"kernel/{layer}_bwd"] = time_calls(
                    lambda: core.conv2d_backward(x, w, y, dy, need_dx=need_dx, activation="relu"), settings)
            return cells
        return measure

    def maxpool(wanted):
        _need(core, "max_pool2d", "max_pool2d_backward")
        t = data.pool_tensors()
        x, dy = t["x"], t["dy"]
        _, argmax = core.max_pool2d(x, (2, 2), return_argmax=True)
        cells = {}
        if "kernel/maxpool_fwd" in wanted:
            cells["kernel/maxpool_fwd"] = time_calls(lambda: core.max_pool2d(x, (2, 2)), settings)
        if "kernel/maxpool_bwd" in wanted:
            cells["kernel/maxpool_bwd"] = time_calls(
                lambda: core.max_pool2d_backward(argmax, dy, x.shape, pool=(2, 2), strides=(2, 2)), settings)
        return cells

    def dense(wanted):
        _need(core, "dense", "dense_backward")
        t = data.dense_tensors()
        y = core.dense(t["x"], t["w"], t["b"], activation="relu")
        cells = {}
        if "kernel/dense_fwd" in wanted:
            cells["kernel/dense_fwd"] = time_calls(lambda: core.dense(t["x"], t["w"], t["b"], activation="relu"),
                                                   settings)
        if "kernel/dense_bwd" in wanted:
            cells["kernel/dense_bwd"] = time_calls(
                lambda: core.dense_backward(t["x"], t["w"], y, t["dy"], activation="relu"), settings)
        return cells

    def sgemm(wanted):
        _need(core, "sgemm")
        t = data.sgemm_tensors()
        return {"kernel/sgemm1024": time_calls(lambda: core.sgemm(t["a"], t["b"]), settings)}

    def relu(wanted):
        _need(core, "relu", "relu_backward")
        t = data.elementwise_tensors()
        cells = {}
        if "kernel/relu_fwd" in wanted:
            cells["kernel/relu_fwd"] = time_calls(lambda: core.relu(t["x"]), settings)
        if "kernel/relu_bwd" in wanted:
            # A fresh output per call, as TensorFlow's eager ReluGrad here: its result does not share the gradient's
            # buffer (np.shares_memory on the two .numpy() views is False), so neither side runs in place.
            # core.relu_backward(x, dy, out=dy) would: no third stream through memory, ~1.5x faster.
            cells["kernel/relu_bwd"] = time_calls(lambda: core.relu_backward(t["x"], t["dy"]), settings)
        return cells

    def softmax(wanted):
        _need(core, "activation")
        logits = data.elementwise_tensors()["logits"]
        return {"kernel/softmax": time_calls(lambda: core.activation(logits, "softmax"), settings)}

    def adam(wanted):
        _need(core, "adam_update")
        t = data.adam_tensors()
        step = [0]

        def update():
            step[0] += 1
            core.adam_update(t["param"], t["grad"], t["m"], t["v"], None, lr=1e-3, step=step[0])

        return {"kernel/adam_1m": time_calls(update, settings)}

    return [
        ({r for r in rows.ROWS_BY_ID if r.startswith("kernel/conv3x3")}, conv3x3),
        ({"kernel/depthwise3x3_fwd", "kernel/depthwise3x3_bwd"}, depthwise),
        ({"kernel/ecg_conv1_fwd", "kernel/ecg_conv1_bwd"}, ecg_conv("ecg_conv1", rows.ECG_CONV1, 100)),
        ({"kernel/ecg_conv2_fwd", "kernel/ecg_conv2_bwd"}, ecg_conv("ecg_conv2", rows.ECG_CONV2, 110)),
        ({"kernel/maxpool_fwd", "kernel/maxpool_bwd"}, maxpool),
        ({"kernel/dense_fwd", "kernel/dense_bwd"}, dense),
        ({"kernel/sgemm1024"}, sgemm),
        ({"kernel/relu_fwd", "kernel/relu_bwd"}, relu),
        ({"kernel/softmax"}, softmax),
        ({"kernel/adam_1m"}, adam),
        (layer_kernels.IDS, lambda wanted: layer_kernels.convlite_cells(core, wanted, settings)),
        ({r for r in rows.ROWS_BY_ID if r.startswith("conv/")},
         lambda wanted: conv_shapes.convlite_cells(core, wanted, settings)),
        ({r for r in rows.ROWS_BY_ID if r.startswith("sep/")},
         lambda wanted: separable_shapes.convlite_cells(core, wanted, settings)),
    ]


def _copy_bandwidth(core, nbytes: int, quick: bool):
    """GB/s of a plain copy of `nbytes` (read + write counted), from _core when it has the probe, else numpy."""
    if hasattr(core, "measure_copy_bandwidth"):
        # Median of several probes of many copies each: one probe on a shared machine can land on a quiet or a
        # busy moment, and the kernel it is compared with was timed over several samples too.
        repeats = max(5, min(200, int(0.02 / max(nbytes * 2 / 20e9, 1e-7))))
        probes = sorted(float(core.measure_copy_bandwidth(int(nbytes), repeats)) for _ in range(3 if quick else 5))
        return probes[len(probes) // 2], "_core.measure_copy_bandwidth"
    src = np.ones(int(nbytes) // 4, np.float32)
    dst = np.empty_like(src)
    cell = time_calls(lambda: np.copyto(dst, src), Settings(repeats=5, quick=quick))
    return 2 * src.nbytes / cell["median"] / 1e9, "numpy.copyto (no _core probe)"


def _failure(error: Exception) -> dict:
    return {"pending": f"{type(error).__name__}: {error}"}


def run(wanted: set, settings: Settings) -> dict:
    import convlite
    from convlite import _core

    cells = {}
    for row_ids, measure in _kernel_groups(_core, settings):
        todo = wanted & row_ids
        if not todo:
            continue
        try:
            measured = {k: v for k, v in measure(todo).items() if k in wanted}
        except Pending as missing:
            measured = {r: {"pending": str(missing)} for r in todo}
        except (TypeError, ValueError, RuntimeError) as error:  # a binding whose signature changed: say so
            measured = {r: _failure(error) for r in todo}
        # Copy bandwidth on the same size as each memory-bound row, right after it (issue 4 asks for both side by
        # side; on a shared machine the load drifts, so the two are measured as close together as possible).
        for row_id, cell in measured.items():
            row = rows.ROWS_BY_ID[row_id]
            if row.bytes and "median" in cell:
                cell["copy_gbs"], cell["copy_probe"] = _copy_bandwidth(_core, row.copy_bytes or row.bytes / 2,
                                                                       settings.quick)
        cells.update(measured)
    api_ready = all(hasattr(convlite, n) for n in ("Sequential", "Input", "layers"))
    callbacks = getattr(getattr(convlite, "callbacks", None), "Callback", None)
    for name in ("ecg", "mnist_convnet", "lenet5"):
        row_id = f"train/{name}"
        if row_id not in wanted:
            continue
        if not api_ready:
            cells[row_id] = {"pending": "needs convlite.Sequential / convlite.layers"}
            continue
        try:
            cells[row_id] = keras_models.time_fit_epochs(convlite, callbacks, name, settings)
        except Exception as error:  # noqa: BLE001 - an unfinished layer must not sink the other rows
            cells[row_id] = _failure(error)
    infer = {r for r in wanted if r.startswith("infer/")}
    if infer:
        if not api_ready:
            cells.update({r: {"pending": "needs convlite.Sequential / convlite.layers"} for r in infer})
        else:
            for row_id in sorted(infer):  # one row at a time, so one missing method does not hide the others
                try:
                    cells.update(keras_models.inference_cells(convlite, settings, {row_id}))
                except Exception as error:  # noqa: BLE001
                    cells[row_id] = _failure(error)
    return cells


def machine_probes(threads: int, quick: bool) -> dict:
    """FMA peak (GFLOP/s with `threads` threads) and large-copy bandwidth from the core's probes, or 'n/a'."""
    from convlite import _core

    facts = {}
    if hasattr(_core, "measure_fma_peak"):
        facts["fma_peak_gflops"] = float(_core.measure_fma_peak(0.2 if quick else 1.0, threads))
        facts["fma_peak_gflops_1thread"] = float(_core.measure_fma_peak(0.2 if quick else 0.5, 1))
    else:
        facts["fma_peak_gflops"] = None
        facts["fma_peak_note"] = "n/a: _core.measure_fma_peak not available in this build"
    gbs, probe = _copy_bandwidth(_core, 64 << 20, quick)
    facts["copy_bandwidth_gbs"] = gbs
    facts["copy_probe"] = probe + " (64 MB)"
    return facts


def peak_rss_workload() -> dict:
    import convlite

    return keras_models.peak_rss_fit(convlite, None)

