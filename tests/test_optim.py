"""Optimizer kernels: float64 reference, every ISA bit-identical to scalar, threads, sum_of_squares, errors."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads
import ref_train as ref

SIZES = [1, 7, 8, 9, 17, 1000, 2 * 16384 + 5]

VARIANTS = [
    ("sgd", dict(momentum=0.0, nesterov=False)),
    ("sgd", dict(momentum=0.9, nesterov=False)),
    ("sgd", dict(momentum=0.9, nesterov=True)),
    ("adam", dict(amsgrad=False)),
    ("adam", dict(amsgrad=True)),
    ("rmsprop", dict(momentum=0.0, centered=False)),
    ("rmsprop", dict(momentum=0.5, centered=False)),
    ("rmsprop", dict(momentum=0.0, centered=True)),
    ("rmsprop", dict(momentum=0.5, centered=True)),
]


class Run:
    """One optimizer variant's float32 state, stepped by _core, and its float64 reference twin."""

    def __init__(self, kind, opts, param):
        self.kind, self.opts = kind, opts
        self.p = param.copy()
        self.p64 = param.astype(np.float64)
        z = lambda: np.zeros_like(param)  # noqa: E731
        if kind == "sgd":
            self.s = [z() if opts["momentum"] else None]
        elif kind == "adam":
            self.s = [z(), z(), z() if opts["amsgrad"] else None]
        else:
            self.s = [z(), z() if opts["momentum"] else None, z() if opts["centered"] else None]
        self.s64 = [None if a is None else a.astype(np.float64) for a in self.s]
        self.step = 0

    def core_step(self, g, lr=0.01):
        self.step += 1
        o = self.opts
        if self.kind == "sgd":
            _core.sgd_update(self.p, g, self.s[0], lr, o["momentum"], o["nesterov"])
        elif self.kind == "adam":
            _core.adam_update(self.p, g, self.s[0], self.s[1], self.s[2], lr, 0.9, 0.999, 1e-7, self.step)
        else:
            _core.rmsprop_update(self.p, g, self.s[0], self.s[1], self.s[2], lr, 0.9, o["momentum"], 1e-7)

    def ref_step(self, g, lr=0.01):
        g = g.astype(np.float64)
        o = self.opts
        if self.kind == "sgd":
            self.p64, self.s64[0] = ref.sgd(self.p64, g, self.s64[0], lr, o["momentum"], o["nesterov"])
        elif self.kind == "adam":
            self.p64, *self.s64 = ref.adam(self.p64, g, *self.s64, lr, 0.9, 0.999, 1e-7, self.step)
        else:
            self.p64, *self.s64 = ref.rmsprop(self.p64, g, *self.s64, lr, 0.9, o["momentum"], 1e-7)

    def state(self):
        return [self.p] + [a for a in self.s if a is not None]


@pytest.mark.parametrize("kind, opts", VARIANTS, ids=str)
@pytest.mark.parametrize("n", SIZES)
def test_updates_match_float64_reference(each_isa, rng, kind, opts, n):
    run = Run(kind, opts, rng.standard_normal(n).astype(np.float32))
    for _ in range(5):
        g = rng.standard_normal(n).astype(np.float32)
        run.core_step(g)
        run.ref_step(g)
    np.testing.assert_allclose(run.p, run.p64, rtol=2e-6, atol=1e-6)
    for got, want in zip(run.s, run.s64):
        if got is not None:
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def all_kernels(rng, n):
    """Every kernel on fresh copies of the same inputs; returns every output array."""
    base = rng.standard_normal(n).astype(np.float32)
    outputs = []
    for kind, opts in VARIANTS:
        r = np.random.default_rng(5)
        run = Run(kind, opts, base)
        for _ in range(3):
            run.core_step(r.standard_normal(n).astype(np.float32))
        outputs += run.state()
    x = base.copy()
    _core.apply_weight_decay(x, 0.01, 0.004)
    y = base.copy()
    _core.scale_in_place(y, 0.37)
    c = base.copy()
    c[:3] = [np.nan, np.inf, -np.inf]
    _core.clip_in_place(c, -0.5, 0.25)
    return outputs + [x, y, c, np.float64(_core.sum_of_squares(base[: n - 3]))]


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("n", [5, 16, 3 * 16384 + 13])
def test_simd_is_bit_identical_to_scalar(rng, isa, n):
    with using_isa("scalar"):
        expected = all_kernels(np.random.default_rng(1), n)
    with using_isa(isa):
        got = all_kernels(np.random.default_rng(1), n)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(np.atleast_1d(g).view(np.uint8), np.atleast_1d(e).view(np.uint8))


def test_threads_give_identical_results():
    n = (1 << 20) + 3
    with using_threads(1):
        one = all_kernels(np.random.default_rng(2), n)
    with using_threads(2):
        two = all_kernels(np.random.default_rng(2), n)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 16384, 16385, 100003])
def test_sum_of_squares_matches_float64(each_isa, rng, n):
    x = rng.standard_normal(n).astype(np.float32) * 3
    assert _core.sum_of_squares(x) == pytest.approx(float(np.sum(x.astype(np.float64) ** 2)), rel=1e-13, abs=0)


def test_weight_decay_scale_and_clip_values(rng):
    x = rng.standard_normal(37).astype(np.float32)
    p = x.copy()
    _core.apply_weight_decay(p, 0.1, 0.5)
    np.testing.assert_array_equal(p, x - (x * np.float32(0.5)) * np.float32(0.1))
    c = np.array([np.nan, -3.0, 0.1, 3.0], np.float32)
    _core.clip_in_place(c, -1.0, 1.0)
    assert np.isnan(c[0]) and list(c[1:]) == [-1.0, np.float32(0.1), 1.0]


def test_updates_accept_multidimensional_arrays(rng):
    p = rng.standard_normal((3, 4, 5)).astype(np.float32)
    m, v = np.zeros_like(p), np.zeros_like(p)
    before = p.copy()
    _core.adam_update(p, np.ones_like(p), m, v, None, lr=0.1, step=1)
    np.testing.assert_allclose(p, before - 0.1, rtol=1e-5, atol=1e-6)


def f32(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("call, error, text", [
    (lambda: _core.sgd_update(f32(3), f32(4), None, 0.1), ValueError, r"grad.shape=\(4,\)"),
    (lambda: _core.sgd_update(f32(3), f32(3), None, 0.1, momentum=0.9), ValueError, "velocity=None"),
    (lambda: _core.sgd_update(np.zeros(3), f32(3), None, 0.1), TypeError, "param.dtype=float64"),
    (lambda: _core.sgd_update(f32(6)[::2], f32(3), None, 0.1), ValueError, "non-contiguous"),
    (lambda: _core.adam_update(f32(3), f32(3), f32(3), f32(2), None, lr=0.1, step=1), ValueError,
     r"v.shape=\(2,\)"),
    (lambda: _core.adam_update(f32(3), f32(3), f32(3), f32(3), None, lr=0.1, step=0), ValueError, "step=0"),
    (lambda: _core.rmsprop_update(f32(3), f32(3), f32(3), None, None, lr=0.1, momentum=0.5), ValueError,
     "momentum_buf=None"),
    (lambda: _core.clip_in_place(f32(3), 1.0, -1.0), ValueError, "low=1.0"),
])
def test_bad_arguments_raise_named_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()


def test_read_only_parameters_are_rejected():
    p = f32(3)
    p.setflags(write=False)
    with pytest.raises(ValueError, match="writable"):
        _core.sgd_update(p, f32(3), None, 0.1)
