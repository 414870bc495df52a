"""Separable convolution rows (issue 3: "fused per tile where that saves a pass over memory").

Each shape is a SeparableConv layer (depthwise k x k, then pointwise 1x1 with bias and a fused relu) at its model's
batch size, 'same' padding, timed as:
- `_fwd`: the forward pass (convlite: the fused op; TF: tf.nn.separable_conv2d + bias_add + relu in a tf.function);
- `_fwd_unfused` (convlite only): the same work as two ops, depthwise2d writing the whole intermediate, then the
  1x1 conv2d reading it back: what the fusion saves;
- `_fwd_mid` (convlite only): the fused forward that also writes the intermediate (what training runs, so that the
  backward pass does not redo the depthwise pass);
- `_train`: forward + every gradient (input, depthwise, pointwise, bias) (convlite: the fused forward keeping the
  intermediate, then separable_conv2d_backward; TF: the same under a GradientTape in a tf.function).
"""
from __future__ import annotations

from dataclasses import dataclass

from .timing import Settings, time_calls


@dataclass(frozen=True)
class SeparableShape:
    name: str
    what: str
    batch: int
    height: int  # 1 for SeparableConv1D
    width: int
    channels: int
    filters: int
    kernel: int
    depth_multiplier: int = 1

    @property
    def kernel_h(self) -> int:
        return 1 if self.height == 1 else self.kernel

    def padding(self) -> tuple[int, int, int, int]:
        ph, pw = self.kernel_h - 1, self.kernel - 1
        return (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)

    def flops(self) -> float:
        mid = self.channels * self.depth_multiplier
        pixels = self.batch * self.height * self.width
        return 2.0 * pixels * mid * (self.kernel_h * self.kernel + self.filters)

    def label(self) -> str:
        dims = f"len {self.width}" if self.height == 1 else f"{self.height}x{self.width}"
        kind = "SeparableConv1D" if self.height == 1 else "SeparableConv2D"
        return (f"{kind} {self.channels}->{self.filters} k{self.kernel} dm{self.depth_multiplier} {dims} "
                f"b{self.batch} same ({self.what})")

    def tensors(self, offset: int) -> dict:
        from . import data  # data imports rows, which imports this module

        mid = self.channels * self.depth_multiplier
        return {
            "x": data.normal((self.batch, self.height, self.width, self.channels), offset),
            "dw": data.normal((self.kernel_h, self.kernel, self.channels, self.depth_multiplier), offset + 1,
                              scale=(1.0 / (self.kernel_h * self.kernel)) ** 0.5),
            "pw": data.normal((1, 1, mid, self.filters), offset + 2, scale=(2.0 / mid) ** 0.5),
            "b": data.normal((self.filters,), offset + 3, scale=0.1),
            "dy": data.normal((self.batch, self.height, self.width, self.filters), offset + 4),
        }


SHAPES = [
    SeparableShape("mobilenet_56", "MobileNet-like block", 8, 56, 56, 64, 128, 3),
    SeparableShape("mobilenet_14", "MobileNet-like block, deep", 16, 14, 14, 256, 256, 3),
    SeparableShape("sep1d_500", "1D CNN block", 16, 1, 500, 32, 64, 5),
    SeparableShape("sep_dm2_28", "depth multiplier 2", 8, 28, 28, 32, 64, 3, 2),
]
KINDS = ("fwd", "fwd_unfused", "fwd_mid", "train")
CONVLITE_ONLY = ("fwd_unfused", "fwd_mid")


def row_id(shape: SeparableShape, kind: str) -> str:
    return f"sep/{shape.name}_{kind}"


def row_label(shape: SeparableShape, kind: str) -> str:
    what = {"fwd": "forward +bias+relu (fused)", "fwd_unfused": "forward as depthwise2d then 1x1 conv2d (unfused)",
            "fwd_mid": "fused forward that also writes the intermediate (training)",
            "train": "forward + input/depthwise/pointwise/bias gradients"}[kind]
    return f"{shape.label()}: {what}"


def row_flops(shape: SeparableShape, kind: str) -> float:
    return shape.flops() * (3 if kind == "train" else 1)


def _offset(index: int) -> int:
    return 500 + 10 * index


def _wanted(wanted: set, kinds=KINDS):
    """(shape, {kind: row id}, its numpy tensors) for each shape with a wanted row of one of `kinds`."""
    for index, shape in enumerate(SHAPES):
        ids = {kind: row_id(shape, kind) for kind in kinds}
        if wanted & set(ids.values()):
            yield shape, ids, shape.tensors(_offset(index))


def convlite_cells(core, wanted: set, settings: Settings) -> dict:
    cells = {}
    for shape, ids, t in _wanted(wanted):
        x, dw, pw, b, dy, pad = t["x"], t["dw"], t["pw"], t["b"], t["dy"], shape.padding()
        calls = {
            "fwd": lambda: core.separable_conv2d(x, dw, pw, b, padding=pad, activation="relu"),
            "fwd_unfused": lambda: core.conv2d(core.depthwise2d(x, dw, None, padding=pad), pw, b,
                                               activation="relu"),
            "fwd_mid": lambda: core.separable_conv2d(x, dw, pw, b, padding=pad, activation="relu", return_mid=True),
        }

        def train():
            y, mid = core.separable_conv2d(x, dw, pw, b, padding=pad, activation="relu", return_mid=True)
            return core.separable_conv2d_backward(x, dw, pw, y, dy, mid, padding=pad, activation="relu")

        calls["train"] = train
        for kind, row in ids.items():
            if row in wanted:
                cells[row] = time_calls(calls[kind], settings)
    return cells


def tensorflow_cells(tf, wanted: set, settings: Settings) -> dict:
    cells = {}
    for shape, ids, arrays in _wanted(wanted, ("fwd", "train")):
        fwd_id, train_id = ids["fwd"], ids["train"]
        t = {k: tf.constant(v) for k, v in arrays.items()}

        def layer(x, dw, pw, b):
            return tf.nn.relu(tf.nn.bias_add(tf.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME"), b))

        forward = tf.function(layer)

        @tf.function
        def train(x, dw, pw, b, dy):
            with tf.GradientTape() as tape:
                tape.watch([x, dw, pw, b])
                y = layer(x, dw, pw, b)
            return tape.gradient(y, [x, dw, pw, b], output_gradients=dy)

        if fwd_id in wanted:
            cells[fwd_id] = time_calls(lambda t=t, f=forward: f(t["x"], t["dw"], t["pw"], t["b"]), settings)
        if train_id in wanted:
            cells[train_id] = time_calls(lambda t=t, f=train: f(t["x"], t["dw"], t["pw"], t["b"], t["dy"]), settings)
    return cells


def torch_cells(torch, wanted: set, settings: Settings) -> dict:
    """A depthwise F.conv2d (groups = channels) then a 1x1 F.conv2d with bias and relu, channels_last; training
    is that forward plus autograd's gradients for the input, both kernels and the bias."""
    F = torch.nn.functional
    cells = {}
    for shape, ids, t in _wanted(wanted, ("fwd", "train")):
        fwd_id, train_id = ids["fwd"], ids["train"]
        mid = shape.channels * shape.depth_multiplier
        x = torch.from_numpy(t["x"]).permute(0, 3, 1, 2)
        dy = torch.from_numpy(t["dy"]).permute(0, 3, 1, 2)
        # (kh, kw, C, dm) -> (C * dm, 1, kh, kw): output channel c * dm + m, as Keras orders the intermediate
        dw = torch.from_numpy(t["dw"]).reshape(shape.kernel_h, shape.kernel, mid).permute(2, 0, 1)[:, None]
        dw = dw.contiguous(memory_format=torch.channels_last)
        pw = torch.from_numpy(t["pw"]).reshape(mid, shape.filters).t()[:, :, None, None]
        pw = pw.contiguous(memory_format=torch.channels_last)
        b = torch.from_numpy(t["b"])
        top, _, left, _ = shape.padding()  # odd kernels: symmetric
        pad, groups = [top, left], shape.channels

        def layer(x, dw, pw, b, pad=pad, groups=groups):
            return F.relu(F.conv2d(F.conv2d(x, dw, padding=pad, groups=groups), pw, b))

        if fwd_id in wanted:
            with torch.inference_mode():
                cells[fwd_id] = time_calls(lambda x=x, dw=dw, pw=pw, b=b, f=layer: f(x, dw, pw, b), settings)
        if train_id in wanted:
            leaves = [a.detach().clone(memory_format=torch.preserve_format).requires_grad_() for a in (x, dw, pw, b)]

            def train(leaves=leaves, dy=dy, f=layer):
                y = f(*leaves)
                return torch.autograd.grad(y, leaves, grad_outputs=dy)

            cells[train_id] = time_calls(train, settings)
    return cells
