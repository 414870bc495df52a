"""PyTorch side of the benchmark (its own process; only when `import torch` works).

Same data as the others, in PyTorch's layouts (NCHW logical order with channels_last memory for 2D convolution, so
the bytes are the NHWC arrays the other frameworks see). Gradients call ATen's backward ops directly, without
re-running the forward pass; training is the usual loop (shuffle, zero_grad, forward, loss, backward, Adam step).
"""
from __future__ import annotations

from . import conv_shapes, data, layer_kernels, rows, separable_shapes
from .timing import EpochClock, Settings, epochs_per_sample, fold_epochs, summarize, time_calls


def framework_info(import_log: str) -> dict:
    import torch

    return {
        "name": "torch",
        "version": torch.__version__,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "threads": {"intra_op": torch.get_num_threads()},
    }


def setup(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _t(torch, a):
    return torch.from_numpy(a)


def _kernels(torch, wanted: set, settings: Settings) -> dict:
    F = torch.nn.functional
    aten = torch.ops.aten
    cells = {}

    def run(row_id, fn):
        if row_id in wanted:
            with torch.inference_mode():
                cells[row_id] = time_calls(fn, settings)

    def nhwc(a):  # NHWC numpy -> NCHW view with channels_last memory
        return _t(torch, a).permute(0, 3, 1, 2)

    def oihw(w):  # HWIO -> OIHW
        return _t(torch, w).permute(3, 2, 0, 1).contiguous()

    if any(r.startswith("kernel/conv3x3") for r in wanted):
        t = data.conv_tensors()
        x, w, dy = nhwc(t["x"]), oihw(t["w"]), nhwc(t["dy"])
        w = w.contiguous(memory_format=torch.channels_last)

        def backward(mask):
            return aten.convolution_backward(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

        run("kernel/conv3x3_fwd", lambda: F.conv2d(x, w, padding=1))
        run("kernel/conv3x3_dgrad", lambda: backward([True, False, False]))
        run("kernel/conv3x3_wgrad", lambda: backward([False, True, False]))
        run("kernel/conv3x3_bwd", lambda: backward([True, True, False]))
        run("kernel/conv3x3_train", lambda: (F.conv2d(x, w, padding=1), backward([True, True, False])))

    if wanted & {"kernel/depthwise3x3_fwd", "kernel/depthwise3x3_bwd"}:
        t = data.depthwise_tensors()
        x, dy = nhwc(t["x"]), nhwc(t["dy"])
        w = oihw(t["w"]).reshape(rows.DEPTHWISE["channels"], 1, 3, 3).contiguous(memory_format=torch.channels_last)
        groups = rows.DEPTHWISE["channels"]
        run("kernel/depthwise3x3_fwd", lambda: F.conv2d(x, w, padding=1, groups=groups))
        run("kernel/depthwise3x3_bwd", lambda: aten.convolution_backward(
            dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], groups, [True, True, False]))

    for layer, spec, offset in (("ecg_conv1", rows.ECG_CONV1, 100), ("ecg_conv2", rows.ECG_CONV2, 110)):
        if not wanted & {f"kernel/{layer}_fwd", f"kernel/{layer}_bwd"}:
            continue
        t = data.conv1d_tensors(spec, offset)
        x = _t(torch, t["x"]).permute(0, 2, 1).contiguous()
        w = _t(torch, t["w"]).permute(2, 1, 0).contiguous()
        b = _t(torch, t["b"])
        dy = _t(torch, t["dy"]).permute(0, 2, 1).contiguous()
        y = F.relu(F.conv1d(x, w, b))
        mask = [layer == "ecg_conv2", True, True]

        def backward(x=x, w=w, y=y, dy=dy, mask=mask):
            g = aten.threshold_backward(dy, y, 0)
            return aten.convolution_backward(g, x, w, [w.shape[0]], [1], [0], [1], False, [0], 1, mask)

        run(f"kernel/{layer}_fwd", lambda x=x, w=w, b=b: F.relu(F.conv1d(x, w, b)))
        run(f"kernel/{layer}_bwd", backward)

    if wanted & {"kernel/maxpool_fwd", "kernel/maxpool_bwd"}:
        t = data.pool_tensors()
        x, dy = nhwc(t["x"]), nhwc(t["dy"])
        _, indices = F.max_pool2d(x, 2, return_indices=True)
        run("kernel/maxpool_fwd", lambda: F.max_pool2d(x, 2))
        run("kernel/maxpool_bwd", lambda: aten.max_pool2d_with_indices_backward(
            dy, x, [2, 2], [2, 2], [0, 0], [1, 1], False, indices))

    if wanted & {"kernel/dense_fwd", "kernel/dense_bwd"}:
        t = data.dense_tensors()
        x, b, dy = _t(torch, t["x"]), _t(torch, t["b"]), _t(torch, t["dy"])
        w = _t(torch, t["w"]).t().contiguous()  # (units, in)
        y = F.relu(F.linear(x, w, b))

        def dense_backward():
            g = aten.threshold_backward(dy, y, 0)
            return g @ w, g.t() @ x, g.sum(0)

        run("kernel/dense_fwd", lambda: F.relu(F.linear(x, w, b)))
        run("kernel/dense_bwd", dense_backward)

    if "kernel/sgemm1024" in wanted:
        t = data.sgemm_tensors()
        a, b = _t(torch, t["a"]), _t(torch, t["b"])
        run("kernel/sgemm1024", lambda: torch.mm(a, b))

    if wanted & {"kernel/relu_fwd", "kernel/relu_bwd", "kernel/softmax"}:
        t = {k: _t(torch, v) for k, v in data.elementwise_tensors().items()}
        run("kernel/relu_fwd", lambda: torch.relu(t["x"]))
        run("kernel/relu_bwd", lambda: aten.threshold_backward(t["dy"], t["x"], 0))
        run("kernel/softmax", lambda: torch.softmax(t["logits"], -1))

    if "kernel/adam_1m" in wanted:
        t = data.adam_tensors()
        p = torch.nn.Parameter(_t(torch, t["param"]))
        p.grad = _t(torch, t["grad"])
        try:
            opt = torch.optim.Adam([p], lr=1e-3, eps=1e-7, fused=True)
            opt.step()
            how = "fused"
        except (RuntimeError, TypeError):
            opt = torch.optim.Adam([p], lr=1e-3, eps=1e-7)
            how = "default"
        cells["kernel/adam_1m"] = time_calls(opt.step, settings, implementation=how)
    return cells


def _models(torch, name: str):
    nn = torch.nn
    if name == "ecg":
        return nn.Sequential(nn.Conv1d(1, 16, 3), nn.ReLU(), nn.Conv1d(16, 8, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(8 * 96, 1), nn.Sigmoid())
    if name == "mnist_convnet":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                         nn.Linear(84, 10))


def _training_arrays(torch, name: str, quick: bool):
    from .keras_models import training_data

    x, y = training_data(name, quick)
    if name == "ecg":
        return torch.from_numpy(x).permute(0, 2, 1).contiguous(), torch.from_numpy(y).reshape(-1, 1)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)


def _train_epoch(torch, model, opt, loss_fn, x, y, batch: int, clock: EpochClock):
    clock.begin()
    model.train()
    order = torch.randperm(len(x))
    for start in range(0, len(x), batch):
        idx = order[start:start + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    clock.end()


def time_training(torch, name: str, settings: Settings) -> dict:
    torch.manual_seed(0)
    x, y = _training_arrays(torch, name, settings.quick)
    model = _models(torch, name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCELoss() if name == "ecg" else torch.nn.CrossEntropyLoss()
    batch = rows.TRAIN_BATCH[name]
    clock = EpochClock()
    for _ in range(2):
        _train_epoch(torch, model, opt, loss_fn, x, y, batch, clock)
    k = epochs_per_sample(clock.durations[-1], settings)
    clock.durations.clear()
    for _ in range(settings.repeats * k):
        _train_epoch(torch, model, opt, loss_fn, x, y, batch, clock)
    return summarize(fold_epochs(clock.durations, k), k, samples_per_epoch=len(x), method="training loop")


def _inference(torch, wanted: set, settings: Settings) -> dict:
    from .keras_models import per_sample

    cells = {}
    n = rows.BATCH_PREDICT_SAMPLES_QUICK if settings.quick else rows.BATCH_PREDICT_SAMPLES

    def batched(model, x):
        with torch.inference_mode():
            return [model(x[i:i + 256]) for i in range(0, len(x), 256)]

    ecg = _models(torch, "ecg").eval()
    if "infer/ecg_1_call" in wanted:
        one = torch.from_numpy(data.ecg_data(1)[0]).permute(0, 2, 1).contiguous()
        with torch.inference_mode():
            cells["infer/ecg_1_call"] = time_calls(lambda: ecg(one), settings)
    if "infer/ecg_batch" in wanted:
        x = torch.from_numpy(data.ecg_data(n)[0]).permute(0, 2, 1).contiguous()
        cells["infer/ecg_batch"] = per_sample(time_calls(lambda: batched(ecg, x), settings), n)
    if "infer/mnist_batch" in wanted:
        model = _models(torch, "mnist_convnet").eval()
        x = torch.from_numpy(data.image_data(n)[0]).permute(0, 3, 1, 2).contiguous()
        cells["infer/mnist_batch"] = per_sample(time_calls(lambda: batched(model, x), settings), n)
    return cells


def run(wanted: set, settings: Settings) -> dict:
    import torch

    cells = _kernels(torch, wanted, settings)
    cells.update(layer_kernels.torch_cells(torch, wanted, settings))
    cells.update(conv_shapes.torch_cells(torch, wanted, settings))
    cells.update(separable_shapes.torch_cells(torch, wanted, settings))
    for name in ("ecg", "mnist_convnet", "lenet5"):
        if f"train/{name}" in wanted:
            cells[f"train/{name}"] = time_training(torch, name, settings)
    cells.update(_inference(torch, wanted, settings))
    return cells


def peak_rss_workload() -> dict:
    import torch

    x, y = _training_arrays(torch, "ecg", False)
    model = _models(torch, "ecg")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    clock = EpochClock()
    for _ in range(5):
        _train_epoch(torch, model, opt, torch.nn.BCELoss(), x, y, 32, clock)
    return {"fit_seconds": sum(clock.durations)}

