"""On tensors of 4096+ elements the SIMD optimizer kernels start their full vectors where most of the stored arrays
are aligned (a masked peel of up to 7 / 15 elements first), and AVX2 Adam loads one vector ahead of its stores:
results must be bit-identical to scalar wherever each array starts."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa

# Floats past a 64-byte boundary where each array starts: all equal (every peel 0..15 gets chosen), then mixed so
# the stored arrays disagree (the vote picks a peel some of them do not like; the odd ones out stay unaligned).
ALL_SAME = [(k,) * 5 for k in (0, 1, 3, 4, 7, 8, 12, 15)]
MIXED = [(4, 0, 12, 4, 9), (1, 2, 3, 5, 6), (0, 4, 4, 8, 8), (5, 5, 1, 1, 0)]
SIZES = [1, 7, 9, 16, 17, 1003, 4095, 4096, 4097, 4103, 8195]  # the kernels peel from 4096 elements up


def placed(values, offset):
    """A copy of `values` whose data starts `offset` floats past a 64-byte boundary."""
    buffer = np.empty(values.size + 32, np.float32)
    start = (-(buffer.ctypes.data // 4) % 16) + offset
    view = buffer[start:start + values.size]
    view[...] = values
    assert view.ctypes.data % 64 == 4 * offset
    return view


def run_every_kernel(n, offsets):
    """Every elementwise optimizer kernel, three steps each, on arrays placed at `offsets` (param, grad, three state
    arrays); returns every array the kernels wrote."""
    rng = np.random.default_rng(n)
    param = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    start = np.abs(rng.standard_normal(n)).astype(np.float32) * 1e-3  # non-zero moments: a real sqrt, not sqrt(0)
    outputs = []

    def arrays():
        return [placed(param, offsets[0])] + [placed(start, o) for o in offsets[2:]]

    for amsgrad in (False, True):
        p, m, v, vh = arrays()
        for step, g in enumerate(grads, 1):
            _core.adam_update(p, placed(g, offsets[1]), m, v, vh if amsgrad else None, lr=1e-2, step=step)
        outputs += [p, m, v, vh]
    for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True)):
        p, vel, _, _ = arrays()
        for g in grads:
            _core.sgd_update(p, placed(g, offsets[1]), vel if momentum else None, 1e-2, momentum, nesterov)
        outputs += [p, vel]
    for momentum, centered in ((0.0, False), (0.5, True)):
        p, vel, mom, avg = arrays()
        for g in grads:
            _core.rmsprop_update(p, placed(g, offsets[1]), vel, mom if momentum else None,
                                 avg if centered else None, lr=1e-2, momentum=momentum)
        outputs += [p, vel, mom, avg]
    p, x, c, _ = arrays()
    _core.apply_weight_decay(p, 0.01, 0.004)
    _core.scale_in_place(x, 0.37)
    c[: min(n, 3)] = [np.nan, np.inf, -np.inf][: min(n, 3)]
    _core.clip_in_place(c, -0.5, 0.25)
    return outputs + [p, x, c]


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("offsets", ALL_SAME + MIXED, ids=str)
@pytest.mark.parametrize("n", SIZES)
def test_kernels_are_bit_identical_to_scalar_wherever_arrays_start(isa, offsets, n):
    with using_isa("scalar"):
        expected = run_every_kernel(n, offsets)
    with using_isa(isa):
        got = run_every_kernel(n, offsets)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g.view(np.uint32), e.view(np.uint32))


@pytest.mark.parametrize("isa", simd_isas())
def test_large_misaligned_tensor_is_bit_identical_to_scalar(isa):
    offsets = (4, 0, 12, 4, 9)  # the 1M-parameter benchmark's layout: param, m, v at 16 mod 32, grad aligned
    with using_isa("scalar"):
        expected = run_every_kernel(1_000_003, offsets)
    with using_isa(isa):
        got = run_every_kernel(1_000_003, offsets)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g.view(np.uint32), e.view(np.uint32))
