"""The small-CNN convolution table (issue 3): the layers people train on CPU, from 1 to 128 channels, 1D and 2D.

Each shape is one layer at its model's batch size, with bias and a fused relu, timed two ways: the forward pass,
and the backward pass a training step needs (weight and bias gradients, plus the input gradient unless the layer
reads the model's input, where Keras and convlite both skip it). 1D layers run as 2D with height 1, as both
convlite's Conv1D and tf.nn.conv1d do internally. The seed ECG model's two Conv1D layers are the `kernel/ecg_*`
rows; this table adds the shapes around them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .timing import Settings, time_calls


@dataclass(frozen=True)
class ConvShape:
    name: str
    what: str  # where the layer comes from
    batch: int
    height: int  # 1 for Conv1D
    width: int
    channels: int
    filters: int
    kernel: int
    same: bool  # 'same' padding (else 'valid')
    first: bool  # reads the model input: no input gradient

    @property
    def kernel_h(self) -> int:
        return 1 if self.height == 1 else self.kernel

    def out_hw(self) -> tuple[int, int]:
        if self.same:
            return self.height, self.width
        return self.height - self.kernel_h + 1, self.width - self.kernel + 1

    def padding(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) as TF's 'same' splits it (the extra cell at the end)."""
        if not self.same:
            return (0, 0, 0, 0)
        ph, pw = self.kernel_h - 1, self.kernel - 1
        return (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)

    def flops(self) -> float:
        oh, ow = self.out_hw()
        return 2.0 * self.batch * oh * ow * self.filters * self.kernel_h * self.kernel * self.channels

    def label(self) -> str:
        dims = f"len {self.width}" if self.height == 1 else f"{self.height}x{self.width}"
        kind = "Conv1D" if self.height == 1 else "Conv2D"
        pad = "same" if self.same else "valid"
        return f"{kind} {self.channels}->{self.filters} k{self.kernel} {dims} b{self.batch} {pad} ({self.what})"

    def tensors(self, offset: int) -> dict:
        from . import data  # data imports rows, which imports this module

        oh, ow = self.out_hw()
        fan_in = self.kernel_h * self.kernel * self.channels
        return {
            "x": data.normal((self.batch, self.height, self.width, self.channels), offset),
            "w": data.normal((self.kernel_h, self.kernel, self.channels, self.filters), offset + 1,
                             scale=(2.0 / fan_in) ** 0.5),
            "b": data.normal((self.filters,), offset + 2, scale=0.1),
            "dy": data.normal((self.batch, oh, ow, self.filters), offset + 3),
        }


SHAPES = [
    ConvShape("c1d_32_64", "1D CNN, second block", 16, 1, 500, 32, 64, 5, True, False),
    ConvShape("c1d_64_128", "1D CNN, third block", 16, 1, 250, 64, 128, 3, True, False),
    ConvShape("mnist_conv1", "Keras MNIST convnet", 64, 28, 28, 1, 32, 3, False, True),
    ConvShape("mnist_conv2", "Keras MNIST convnet", 64, 13, 13, 32, 64, 3, False, False),
    ConvShape("lenet_conv1", "LeNet-5", 64, 28, 28, 1, 6, 5, True, True),
    ConvShape("lenet_conv2", "LeNet-5", 64, 14, 14, 6, 16, 5, False, False),
    ConvShape("cifar_conv1", "small CIFAR net", 32, 32, 32, 3, 32, 3, True, True),
    ConvShape("cifar_conv2", "small CIFAR net", 32, 16, 16, 32, 64, 3, True, False),
    ConvShape("c2d_128", "deep block", 16, 8, 8, 128, 128, 3, True, False),
]


def row_ids(shape: ConvShape) -> tuple[str, str]:
    return f"conv/{shape.name}_fwd", f"conv/{shape.name}_bwd"


def _offset(index: int) -> int:
    return 300 + 10 * index


def _wanted(wanted: set):
    """(shape, forward row id, backward row id, its numpy tensors) for each shape with a wanted row."""
    for index, shape in enumerate(SHAPES):
        fwd_id, bwd_id = row_ids(shape)
        if wanted & {fwd_id, bwd_id}:
            yield shape, fwd_id, bwd_id, shape.tensors(_offset(index))


def convlite_cells(core, wanted: set, settings: Settings) -> dict:
    cells = {}
    for shape, fwd_id, bwd_id, t in _wanted(wanted):
        x, w, b, dy, pad = t["x"], t["w"], t["b"], t["dy"], shape.padding()
        y = core.conv2d(x, w, b, padding=pad, activation="relu")
        if fwd_id in wanted:
            cells[fwd_id] = time_calls(lambda: core.conv2d(x, w, b, padding=pad, activation="relu"), settings)
        if bwd_id in wanted:
            cells[bwd_id] = time_calls(lambda: core.conv2d_backward(
                x, w, y, dy, padding=pad, activation="relu", need_dx=not shape.first), settings)
    return cells


def tensorflow_cells(tf, wanted: set, settings: Settings) -> dict:
    cells = {}
    ones = [1, 1, 1, 1]
    for shape, fwd_id, bwd_id, arrays in _wanted(wanted):
        t = {k: tf.constant(v) for k, v in arrays.items()}
        padding = "SAME" if shape.same else "VALID"
        forward = tf.function(lambda x, w, b, padding=padding: tf.nn.relu(
            tf.nn.bias_add(tf.nn.conv2d(x, w, 1, padding), b)))
        y = forward(t["x"], t["w"], t["b"])

        @tf.function
        def backward(x, w, y, dy, padding=padding, need_dx=not shape.first):
            g = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            out = [tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(w), out_backprop=g, strides=ones,
                                                   padding=padding),
                   tf.reduce_sum(g, axis=[0, 1, 2])]
            if need_dx:
                out.append(tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=w, out_backprop=g,
                                                          strides=ones, padding=padding))
            return out

        if fwd_id in wanted:
            cells[fwd_id] = time_calls(lambda t=t, forward=forward: forward(t["x"], t["w"], t["b"]), settings)
        if bwd_id in wanted:
            cells[bwd_id] = time_calls(
                lambda t=t, y=y, backward=backward: backward(t["x"], t["w"], y, t["dy"]), settings)
    return cells


def torch_cells(torch, wanted: set, settings: Settings) -> dict:
    """F.conv2d + relu on channels_last tensors (1D layers as 2D with height 1, as the others), and the backward
    as ATen's `threshold_backward` then `convolution_backward` (weight, bias and, unless the layer reads the model
    input, input gradients): no forward recomputed."""
    F, aten = torch.nn.functional, torch.ops.aten
    cells = {}
    for shape, fwd_id, bwd_id, t in _wanted(wanted):
        x = torch.from_numpy(t["x"]).permute(0, 3, 1, 2)
        dy = torch.from_numpy(t["dy"]).permute(0, 3, 1, 2)
        w = torch.from_numpy(t["w"]).permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
        b = torch.from_numpy(t["b"])
        top, _, left, _ = shape.padding()  # odd kernels: symmetric
        pad = [top, left]
        mask = [not shape.first, True, True]
        with torch.inference_mode():
            y = F.relu(F.conv2d(x, w, b, padding=pad))
            if fwd_id in wanted:
                cells[fwd_id] = time_calls(lambda x=x, w=w, b=b, pad=pad: F.relu(F.conv2d(x, w, b, padding=pad)),
                                           settings)
            if bwd_id in wanted:
                def backward(x=x, w=w, y=y, dy=dy, pad=pad, mask=mask):
                    g = aten.threshold_backward(dy, y, 0)
                    return aten.convolution_backward(g, x, w, [w.shape[0]], [1, 1], pad, [1, 1], False, [0, 0], 1,
                                                     mask)

                cells[bwd_id] = time_calls(backward, settings)
    return cells
