"""_core.loss: float64 reference values, finite-difference gradients, threads, errors, and Keras parity."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_train as ref

KINDS = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mae",
         "huber"]
CROSSENTROPY = KINDS[:3]


def make_case(rng, kind, batch, features, from_logits):
    """Predictions away from clip bounds and kinks (so finite differences are meaningful) and matching targets."""
    if kind == "sparse_categorical_crossentropy":
        y_true = rng.integers(0, features, batch).astype(np.float32)
    elif kind == "categorical_crossentropy":
        y_true = np.eye(features, dtype=np.float32)[rng.integers(0, features, batch)]
        if features > 2:  # one soft row that still sums to one
            y_true[0] = rng.dirichlet(np.ones(features)).astype(np.float32)
    elif kind == "binary_crossentropy":
        y_true = rng.integers(0, 2, (batch, features)).astype(np.float32)
    else:
        y_true = rng.standard_normal((batch, features)).astype(np.float32)
    if from_logits:
        y_pred = rng.normal(0, 2, (batch, features))
    elif kind == "binary_crossentropy":
        y_pred = rng.uniform(0.05, 0.95, (batch, features))
    elif kind in CROSSENTROPY:
        y_pred = rng.uniform(0.1, 1.0, (batch, features))
        if kind == "sparse_categorical_crossentropy":
            y_pred /= y_pred.sum(-1, keepdims=True)
    else:
        y_pred = y_true + rng.choice([-1, 1], (batch, features)) * rng.uniform(0.05, 2.0, (batch, features))
    return y_pred.astype(np.float32), y_true


CASES = [(k, logits, ls) for k in CROSSENTROPY for logits in (False, True)
         for ls in ((0.0, 0.2) if k != "sparse_categorical_crossentropy" else (0.0,))]
CASES += [(k, False, 0.0) for k in ("mse", "mae", "huber")]


SIZED_CASES = [case + size for case in CASES for size in [(1, 1), (3, 2), (17, 10)]
               if not (size[1] == 1 and case[0] in ("categorical_crossentropy", "sparse_categorical_crossentropy"))]


@pytest.mark.parametrize("kind, from_logits, smoothing, batch, features", SIZED_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_and_gradient_match_float64_reference(rng, kind, from_logits, smoothing, batch, features, weighted):
    y_pred, y_true = make_case(rng, kind, batch, features, from_logits)
    w = rng.uniform(0, 2, batch).astype(np.float32) if weighted else None
    kwargs = dict(from_logits=from_logits, label_smoothing=smoothing, delta=0.7)
    value, grad = _core.loss(kind, y_pred, y_true, sample_weight=w, **kwargs)
    expected = ref.loss(kind, y_pred, y_true, w, **kwargs)
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-9)
    numeric = ref.loss_numeric_grad(kind, y_pred, y_true, w, **kwargs)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_fused_logits_paths_are_stable_for_huge_logits():
    y_pred = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 3.0]], np.float32)
    onehot = np.eye(3, dtype=np.float32)[[1, 0]]
    for kind, target in [("categorical_crossentropy", onehot), ("sparse_categorical_crossentropy",
                                                                  np.array([1, 0], np.float32)),
                         ("binary_crossentropy", onehot)]:
        value, grad = _core.loss(kind, y_pred, target, from_logits=True)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    value, _ = _core.loss("categorical_crossentropy", y_pred, onehot, from_logits=True)
    assert value == pytest.approx((2000.0 + 1000.0) / 2, rel=1e-6)


def test_probabilities_are_clipped_and_gradient_stops_outside(rng):
    y_pred = np.array([[0.0, 1.0, 0.5, 1e-9]], np.float32)
    y_true = np.array([[1.0, 0.0, 1.0, 1.0]], np.float32)
    value, grad = _core.loss("binary_crossentropy", y_pred, y_true)
    assert value == pytest.approx(ref.loss("binary_crossentropy", y_pred, y_true), rel=1e-6)
    assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[0, 3] == 0 and grad[0, 2] != 0


def test_empty_batch_gives_zero():
    value, grad = _core.loss("mse", np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert value == 0.0 and grad.shape == (0, 3)


def test_need_grad_false_returns_none(rng):
    y_pred, y_true = make_case(rng, "mse", 4, 3, False)
    value, grad = _core.loss("mse", y_pred, y_true, need_grad=False)
    assert grad is None and value == pytest.approx(ref.loss("mse", y_pred, y_true), rel=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_threads_give_identical_results(rng, kind):
    y_pred, y_true = make_case(rng, kind, 3001, 10, kind in CROSSENTROPY)
    with using_threads(1):
        one = _core.loss(kind, y_pred, y_true, from_logits=kind in CROSSENTROPY)
    with using_threads(2):
        two = _core.loss(kind, y_pred, y_true, from_logits=kind in CROSSENTROPY)
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("args, kwargs, error, text", [
    (("hinge", np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)), {}, ValueError, "kind='hinge'"),
    (("mse", np.zeros((2, 2), np.float32), np.zeros((2, 3), np.float32)), {}, ValueError, r"y_true.shape=\(2, 3\)"),
    (("mse", np.zeros(4, np.float32), np.zeros(4, np.float32)), {}, ValueError, r"y_pred.shape=\(4,\)"),
    (("mse", np.zeros((2, 2)), np.zeros((2, 2), np.float32)), {}, TypeError, "y_pred.dtype=float64"),
    (("sparse_categorical_crossentropy", np.zeros((2, 3), np.float32), np.array([0, 3], np.float32)), {},
     ValueError, r"y_true\[1\]=3.0"),
    (("sparse_categorical_crossentropy", np.zeros((2, 3), np.float32), np.array([0, 1.5], np.float32)), {},
     ValueError, r"y_true\[1\]=1.5"),
    (("sparse_categorical_crossentropy", np.zeros((2, 3), np.float32), np.array([0, np.nan], np.float32)), {},
     ValueError, r"y_true\[1\]=nan"),
    (("binary_crossentropy", np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)),
     dict(label_smoothing=1.5), ValueError, "label_smoothing=1.5"),
    (("mse", np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)),
     dict(label_smoothing=0.1), ValueError, "label_smoothing=0.1"),
    (("mse", np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)),
     dict(sample_weight=np.ones(3, np.float32)), ValueError, r"sample_weight.shape=\(3,\)"),
    (("huber", np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)), dict(delta=-1.0), ValueError,
     "delta=-1.0"),
])
def test_bad_arguments_raise_named_errors(args, kwargs, error, text):
    with pytest.raises(error, match=text):
        _core.loss(*args, **kwargs)


# ------------------------------------------------------------------------------------------- Keras parity
def keras_loss_and_grad(tf, loss_obj, y_true, y_pred, w):
    yp = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = loss_obj(y_true, yp, sample_weight=w)
    return float(value), tape.gradient(value, yp).numpy()


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind, from_logits, smoothing", CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_keras_losses(rng, kind, from_logits, smoothing, weighted):
    tensorflow_or_skip()
    import tensorflow as tf
    import keras

    y_pred, y_true = make_case(rng, kind, 13, 5, from_logits)
    if not from_logits and kind in CROSSENTROPY:  # probabilities on and beyond the clip bounds
        y_pred[0, :2] = [0.0, 1.0]
        y_pred[1, :1] = [2e-8]
    w = rng.uniform(0, 2, 13).astype(np.float32) if weighted else None
    keras_cls = {"binary_crossentropy": keras.losses.BinaryCrossentropy,
                 "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
                 "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
                 "mse": keras.losses.MeanSquaredError, "mae": keras.losses.MeanAbsoluteError,
                 "huber": keras.losses.Huber}[kind]
    if kind in ("binary_crossentropy", "categorical_crossentropy"):
        loss_obj = keras_cls(from_logits=from_logits, label_smoothing=smoothing)
    elif kind == "sparse_categorical_crossentropy":
        loss_obj = keras_cls(from_logits=from_logits)
    elif kind == "huber":
        loss_obj = keras_cls(delta=0.7)
    else:
        loss_obj = keras_cls()
    expected, expected_grad = keras_loss_and_grad(tf, loss_obj, y_true, y_pred, w)
    value, grad = _core.loss(kind, y_pred, y_true, sample_weight=w, from_logits=from_logits,
                             label_smoothing=smoothing, delta=0.7)
    assert value == pytest.approx(expected, rel=2e-6, abs=1e-7)
    np.testing.assert_allclose(grad, expected_grad, rtol=2e-5, atol=1e-8)


def test_sparse_targets_may_carry_a_trailing_axis(rng):
    y_pred, y_true = make_case(rng, "sparse_categorical_crossentropy", 6, 4, True)
    flat = _core.loss("sparse_categorical_crossentropy", y_pred, y_true, from_logits=True)
    column = _core.loss("sparse_categorical_crossentropy", y_pred, y_true.reshape(6, 1), from_logits=True)
    assert flat[0] == column[0]
    np.testing.assert_array_equal(flat[1], column[1])


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("kind, smoothing", [("sparse_categorical_crossentropy", 0.0),
                                             ("categorical_crossentropy", 0.0), ("categorical_crossentropy", 0.1)])
@pytest.mark.parametrize("features", [8, 9, 13, 37, 256])
def test_simd_logits_rows_match_scalar_and_reference(rng, isa, kind, smoothing, features):
    """The AVX2 table's softmax cross-entropy (polynomial exp, 8-lane sums) against the scalar one that defines the
    loss: gradients equal to float32 rounding, losses to 1e-12; rows with NaN, +inf and -inf logits behave alike."""
    batch = 9
    y_pred, y_true = make_case(rng, kind, batch, features, True)
    y_pred[1] *= 40  # exponentials spanning e^-700 .. 1
    y_pred[2, features // 2] = np.nan
    y_pred[3, -1] = np.inf
    y_pred[4, 0] = -np.inf
    kwargs = dict(from_logits=True, label_smoothing=smoothing)
    with using_isa("scalar"):
        want_value, want_grad = _core.loss(kind, y_pred, y_true, **kwargs)
    with using_isa(isa):
        value, grad = _core.loss(kind, y_pred, y_true, **kwargs)
    assert np.isnan(value) and np.isnan(want_value)  # a NaN or +inf logit poisons the batch loss, as in Keras
    np.testing.assert_allclose(grad, want_grad, rtol=2e-7, atol=1e-30)  # NaN where the scalar has NaN
    # A -inf logit is finite for the sparse loss; categorical targets meet it as 0 * inf = NaN (as in TensorFlow).
    finite = [0, 1, 4, 5, 6, 7, 8] if kind == "sparse_categorical_crossentropy" else [0, 1, 5, 6, 7, 8]
    rows = (slice(None),) if kind == "categorical_crossentropy" else ()
    with using_isa("scalar"):
        want = _core.loss(kind, y_pred[finite], y_true[finite][rows], **kwargs)
    with using_isa(isa):
        got = _core.loss(kind, y_pred[finite], y_true[finite][rows], **kwargs)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    assert got[0] == pytest.approx(ref.loss(kind, y_pred[finite], y_true[finite], None, **kwargs), rel=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=2e-7, atol=1e-30)
