"""Fuzzing convlite.nn's convolutions (conv1d, conv2d, depthwise_conv2d, separable_conv2d, bias_add).

Every drawn case is classified by the rules the op documents (TF semantics plus convlite's stated limits); a
valid case must match the float64 reference in tests/ref_conv.py, an invalid one must raise ValueError/TypeError
whose message contains "Received". Shapes include 0, 1 and primes; strides and dilations go up to 2**20 and 1000;
arrays come as float16/32/64 in C, Fortran, strided, negative-stride, read-only and nested-list form.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import convlite.nn as nn
import ref_conv
import strategies as S
from helpers import address_space_cap


@pytest.fixture(autouse=True, scope="module")
def _fuzz_report(request):
    S.install_report(request.config)


def _pads(padding, sizes, kernels, strides, dilations):
    """Per-axis (before, after) pads for a drawn padding spelling, or None if it is explicit and given as such."""
    if isinstance(padding, str):
        return [ref_conv.pads_for(n, k, s, d, padding.lower()) for n, k, s, d in zip(sizes, kernels, strides, dilations)]
    pairs = [tuple(p) for p in padding]
    return pairs[1:-1] if len(pairs) == len(sizes) + 2 else pairs


def _out(n, k, s, d, pads):
    return (n + pads[0] + pads[1] - d * (k - 1) - 1) // s + 1


@st.composite
def _padding(draw, rank: int, modes=("SAME", "VALID", "same", "valid", "causal", "full")):
    if draw(st.integers(0, 3)) == 0:
        pairs = [list(draw(st.tuples(st.integers(0, 3), st.integers(0, 3)))) for _ in range(rank)]
        return [[0, 0], *pairs, [0, 0]] if draw(st.booleans()) or rank == 1 else pairs
    return draw(st.sampled_from(modes))


def _close(y, ref, mag):
    """float32 accumulation against float64: error bounded by a few ulps of the sum of |terms|."""
    np.testing.assert_array_less(np.abs(y.astype(np.float64) - ref), 3e-6 * mag + 1e-6 + 1e-12)


def _expect(call, ok: bool, ref_fn, shape):
    """Run the op: valid cases must match the reference (shape first), invalid ones raise a clear error."""
    if not ok:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert "Received" in str(info.value), str(info.value)
        return
    y = call()
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert y.shape == shape
    if y.size:
        ref, mag = ref_fn()
        _close(y, ref, mag)


def _geometry(draw, rank):
    ks = [draw(S.kernel_sizes) for _ in range(rank)]
    st_ = [draw(S.strides) for _ in range(rank)]
    dl = [draw(S.dilations) for _ in range(rank)]
    return ks, st_, dl


def _affordable(sizes, pads, outs, batch, channels):
    """Keep the reference cheap: padded input and output both small."""
    padded = int(np.prod([n + a + b for n, (a, b) in zip(sizes, pads)])) * max(batch, 1) * max(channels, 1)
    return padded <= 60_000 and int(np.prod([max(o, 0) for o in outs])) * max(batch, 1) * 8 <= 60_000


@S.fuzz(1200)
@given(st.data())
def test_conv2d(data):
    draw = data.draw
    n, h, w = draw(S.batch_sizes), draw(S.spatial_sizes), draw(S.spatial_sizes)
    groups, cg, fg = draw(st.sampled_from([1, 1, 1, 2, 3])), draw(S.channel_counts), draw(st.integers(0, 3))
    c, f = groups * cg, groups * fg
    if draw(st.integers(0, 9)) == 0:  # a channel count that does not divide
        c += 1
    (kh, kw), strides, dils = _geometry(draw, 2)
    padding = draw(_padding(2))
    pads = _pads(padding, (h, w), (kh, kw), strides, dils)
    outs = [_out(h, kh, strides[0], dils[0], pads[0]), _out(w, kw, strides[1], dils[1], pads[1])]
    assume(_affordable((h, w), pads, outs, n, c))
    S.record("nn.conv2d")
    x, x64 = draw(S.float_arrays((n, h, w, c)))
    k, k64 = draw(S.float_arrays((kh, kw, cg, f)))
    ok = c % cg == 0 and f % (c // cg) == 0 and min(outs) >= 1
    flat = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])

    def ref():
        args = dict(strides=strides, dilations=dils, padding=flat, groups=c // cg)
        return ref_conv.conv2d(x64, k64, **args), ref_conv.conv2d(np.abs(x64), np.abs(k64), **args)

    _expect(lambda: nn.conv2d(x, k, draw(S.spelled(strides, 2)), padding, dilations=draw(S.spelled(dils, 2))),
            ok, ref, (n, *outs, f))


@S.fuzz(700)
@given(st.data())
def test_conv1d(data):
    draw = data.draw
    n, width, groups = draw(S.batch_sizes), draw(S.spatial_sizes), draw(st.sampled_from([1, 1, 2, 3]))
    cg, f = draw(S.channel_counts), groups * draw(st.integers(0, 3))
    c = groups * cg
    (k,), (stride,), (dil,) = _geometry(draw, 1)
    padding = draw(_padding(1))
    (pad,) = _pads(padding, (width,), (k,), (stride,), (dil,))
    out = _out(width, k, stride, dil, pad)
    assume(_affordable((width,), [pad], [out], n, c))
    S.record("nn.conv1d")
    x, x64 = draw(S.float_arrays((n, width, c)))
    w, w64 = draw(S.float_arrays((k, cg, f)))

    def ref():
        args = dict(strides=(1, stride), dilations=(1, dil), padding=(0, 0, *pad), groups=groups)
        return (ref_conv.conv2d(x64[:, None], w64[None], **args)[:, 0],
                ref_conv.conv2d(np.abs(x64[:, None]), np.abs(w64[None]), **args)[:, 0])

    _expect(lambda: nn.conv1d(x, w, draw(S.spelled([stride], 1)), padding, dilations=draw(S.spelled([dil], 1))),
            out >= 1, ref, (n, out, f))


@S.fuzz(700)
@given(st.data())
def test_depthwise_conv2d(data):
    draw = data.draw
    n, h, w = draw(S.batch_sizes), draw(S.spatial_sizes), draw(S.spatial_sizes)
    c, dm = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 9])), draw(st.sampled_from([0, 1, 1, 2, 3]))
    (kh, kw), strides, dils = _geometry(draw, 2)
    padding = draw(_padding(2))
    pads = _pads(padding, (h, w), (kh, kw), strides, dils)
    outs = [_out(h, kh, strides[0], dils[0], pads[0]), _out(w, kw, strides[1], dils[1], pads[1])]
    assume(_affordable((h, w), pads, outs, n, c))
    S.record("nn.depthwise_conv2d")
    x, x64 = draw(S.float_arrays((n, h, w, c)))
    k, k64 = draw(S.float_arrays((kh, kw, c, dm)))
    flat = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])

    def ref():
        args = dict(strides=strides, dilations=dils, padding=flat)
        return ref_conv.depthwise2d(x64, k64, **args), ref_conv.depthwise2d(np.abs(x64), np.abs(k64), **args)

    _expect(lambda: nn.depthwise_conv2d(x, k, draw(S.spelled(strides, 2)), padding,
                                        dilations=draw(S.spelled(dils, 2))),
            dm >= 1 and min(outs) >= 1, ref, (n, *outs, c * dm))


@S.fuzz(500)
@given(st.data())
def test_separable_conv2d(data):
    draw = data.draw
    n, h, w = draw(S.batch_sizes), draw(S.spatial_sizes), draw(S.spatial_sizes)
    c, dm, f = draw(st.sampled_from([0, 1, 2, 3, 5])), draw(st.sampled_from([1, 1, 2, 3])), draw(st.integers(0, 4))
    (kh, kw), strides, dils = _geometry(draw, 2)
    padding = draw(_padding(2, ("SAME", "VALID")))
    pads = _pads(padding, (h, w), (kh, kw), strides, dils)
    outs = [_out(h, kh, strides[0], dils[0], pads[0]), _out(w, kw, strides[1], dils[1], pads[1])]
    assume(_affordable((h, w), pads, outs, n, c * dm))
    S.record("nn.separable_conv2d")
    x, x64 = draw(S.float_arrays((n, h, w, c)))
    dk, dk64 = draw(S.float_arrays((kh, kw, c, dm)))
    pk, pk64 = draw(S.float_arrays((1, 1, c * dm, f)))
    flat = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])

    def ref():
        if c == 0:  # no input channels: every output is an empty sum
            return np.zeros((n, *outs, f)), np.zeros((n, *outs, f))
        args = dict(strides=strides, dilations=dils, padding=flat)
        mid, mid_mag = ref_conv.depthwise2d(x64, dk64, **args), ref_conv.depthwise2d(np.abs(x64), np.abs(dk64), **args)
        return ref_conv.conv2d(mid, pk64), ref_conv.conv2d(mid_mag, np.abs(pk64))

    _expect(lambda: nn.separable_conv2d(x, dk, pk, draw(S.spelled(strides, 2)), padding,
                                        dilations=draw(S.spelled(dils, 2))),
            min(outs) >= 1, ref, (n, *outs, f))


@S.fuzz(400)
@given(st.data())
def test_bias_add(data):
    S.record("nn.bias_add")
    draw = data.draw
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 7]), min_size=1, max_size=5)))
    blen = shape[-1] if draw(st.integers(0, 7)) else shape[-1] + 1
    v, v64 = draw(S.float_arrays(shape))
    b, b64 = draw(S.float_arrays((blen,)))
    ok = len(shape) >= 2 and blen == shape[-1]
    _expect(lambda: nn.bias_add(v, b), ok, lambda: (v64 + b64, np.abs(v64) + np.abs(b64)), shape)


_OPS = {
    "conv2d": lambda x, k, s, p, fmt, d: nn.conv2d(x, k, s, p, data_format=fmt, dilations=d),
    "conv1d": lambda x, k, s, p, fmt, d: nn.conv1d(x, k, s, p, data_format=fmt, dilations=d),
    "depthwise_conv2d": lambda x, k, s, p, fmt, d: nn.depthwise_conv2d(x, k, s, p, data_format=fmt, dilations=d),
    "separable_conv2d": lambda x, k, s, p, fmt, d: nn.separable_conv2d(x, k, np.ones((1, 1, 6, 2), np.float32), s,
                                                                       p, data_format=fmt, dilations=d),
    "bias_add": lambda x, k, s, p, fmt, d: nn.bias_add(x, k, data_format=fmt),
}


@S.fuzz(1100)
@given(st.data())
def test_hostile_arguments_are_rejected_cleanly(data):
    """Any mix of valid and hostile arguments: a float32 result or ValueError/TypeError with "Received"."""
    S.record("nn.conv hostile")
    draw = data.draw
    name = draw(st.sampled_from(sorted(_OPS)))
    rank = 1 if name == "conv1d" else 2
    x = np.random.default_rng(0).standard_normal((2,) + (5,) * rank + (3,)).astype(np.float32)
    k = np.ones((3,) * rank + (3, 2), np.float32)
    if name == "bias_add":
        k = np.ones(3, np.float32)
    if draw(st.booleans()):
        x = draw(S.hostile_arrays(rank + 2))
    if draw(st.booleans()):
        k = draw(S.hostile_arrays(k.ndim))
    strides = draw(S.hostile_ints) if draw(st.booleans()) else 1
    dils = draw(S.hostile_ints) if draw(st.booleans()) else None
    padding = draw(S.hostile_paddings) if draw(st.booleans()) else "SAME"
    fmt = draw(S.hostile_formats) if draw(st.integers(0, 3)) == 0 else None
    try:
        with address_space_cap():  # a 2**31 padding is legal: an 11 GB output, refused here rather than computed
            y = _OPS[name](x, k, strides, padding, fmt, dils)
    except (ValueError, TypeError) as err:
        assert "Received" in str(err), f"{name}: {err}"
    except MemoryError:  # a gigantic padding: the output cannot be allocated, and says so
        pass
    else:
        assert isinstance(y, np.ndarray) and y.dtype == np.float32
