"""Adagrad, Adadelta, Adamax, Nadam and Lion: the fused kernels against float64 references (every ISA bit-identical to
scalar, threads 1 vs 2 bitwise), the Python optimizers against keras.optimizers (20 apply_gradients steps, variables
in Keras's order, configs), whole fits of a small Conv1D/Dense model against Keras, .keras files both ways with
training continued on the other side, and Keras's errors for bad arguments."""
import numpy as np
import pytest

import convlite
from convlite import _core, optimizers, saving

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_optim_more as ref

SIZES = [1, 7, 9, 17, 1000, 2 * 16384 + 5]
KINDS = ["adagrad", "adadelta", "adamax", "nadam", "lion"]
STATE_COUNT = {"adagrad": 1, "adadelta": 2, "adamax": 2, "nadam": 2, "lion": 1}


class KernelRun:
    """One optimizer's float32 state stepped by _core, and its float64 reference twin (non-default constants)."""

    def __init__(self, kind, param):
        self.kind, self.step = kind, 0
        self.p, self.p64 = param.copy(), param.astype(np.float64)
        start = 0.25 if kind == "adagrad" else 0.0  # Adagrad's initial_accumulator_value
        self.s = [np.full_like(param, start) for _ in range(STATE_COUNT[kind])]
        self.s64 = [a.astype(np.float64) for a in self.s]
        self.u, self.u64 = np.float32(1.0), 1.0  # Nadam's u_product

    def core_step(self, g):
        self.step += 1
        k, p, s, t = self.kind, self.p, self.s, self.step
        if k == "adagrad":
            _core.adagrad_update(p, g, s[0], 0.05, 1e-3)
        elif k == "adadelta":
            _core.adadelta_update(p, g, s[0], s[1], 1.0, 0.8, 1e-4)
        elif k == "adamax":
            _core.adamax_update(p, g, s[0], s[1], 0.01, 0.8, 0.95, 1e-3, t)
        elif k == "nadam":
            self.u = _core.nadam_next_u_product(self.u, 0.8, t)
            _core.nadam_update(p, g, s[0], s[1], 0.01, 0.8, 0.99, 1e-3, t, self.u)
        else:
            _core.lion_update(p, g, s[0], 0.01, 0.7, 0.95)

    def ref_step(self, g):
        g, k, t = g.astype(np.float64), self.kind, self.step
        if k == "adagrad":
            self.p64, *self.s64 = ref.adagrad(self.p64, g, *self.s64, 0.05, 1e-3)
        elif k == "adadelta":
            self.p64, *self.s64 = ref.adadelta(self.p64, g, *self.s64, 1.0, 0.8, 1e-4)
        elif k == "adamax":
            self.p64, *self.s64 = ref.adamax(self.p64, g, *self.s64, 0.01, 0.8, 0.95, 1e-3, t)
        elif k == "nadam":
            self.u64 = ref.nadam_next_u_product(self.u64, 0.8, t)
            self.p64, *self.s64 = ref.nadam(self.p64, g, *self.s64, 0.01, 0.8, 0.99, 1e-3, t, self.u64)
        else:
            self.p64, *self.s64 = ref.lion(self.p64, g, *self.s64, 0.01, 0.7, 0.95)

    def state(self):
        return [self.p] + self.s


def gradients(rng, n, steps=8, special=False):
    out = []
    for _ in range(steps):
        g = (rng.standard_normal(n) * rng.uniform(0.1, 2.0)).astype(np.float32)
        if special:  # zeros (Lion's sign(0) = 0), infinities and NaN, at places the SIMD tails reach too
            g[::5] = 0.0
            g[1::11] = np.inf
            g[2::13] = -np.inf
            g[3::17] = np.nan
        out.append(g)
    return out


def assert_same_bits(a, b):
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    np.testing.assert_array_equal(a.view(np.uint32)[~nan], b.view(np.uint32)[~nan])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_updates_match_float64_reference(each_isa, rng, kind, n):
    run = KernelRun(kind, rng.standard_normal(n).astype(np.float32))
    for g in gradients(rng, n):
        run.core_step(g)
        run.ref_step(g)
    np.testing.assert_allclose(run.p, run.p64, rtol=2e-6, atol=1e-6)
    for got, want in zip(run.s, run.s64):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("special", [False, True], ids=["finite", "zeros_inf_nan"])
@pytest.mark.parametrize("n", [1, 7, 9, 31, 4099, 2 * 16384 + 5])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("isa", simd_isas())
def test_simd_is_bit_identical_to_scalar(rng, isa, kind, n, special):
    param = rng.standard_normal(n).astype(np.float32)
    grads = gradients(rng, n, steps=5, special=special)
    runs = {}
    for tier in ("scalar", isa):
        with using_isa(tier):
            runs[tier] = KernelRun(kind, param)
            for g in grads:
                runs[tier].core_step(g)
    for a, b in zip(runs["scalar"].state(), runs[isa].state()):
        assert_same_bits(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_threads_give_identical_results(rng, kind):
    n = 3 * 16384 + 11
    param = rng.standard_normal(n).astype(np.float32)
    grads = gradients(rng, n, steps=3)
    states = []
    for threads in (1, 2):
        with using_threads(threads):
            run = KernelRun(kind, param)
            for g in grads:
                run.core_step(g)
            states.append(run.state())
    for a, b in zip(*states):
        assert_same_bits(a, b)


@pytest.mark.parametrize("call, error, text", [
    (lambda: _core.adagrad_update(np.zeros(3, np.float32), np.zeros(4, np.float32), np.zeros(3, np.float32), 0.1),
     ValueError, "grad"),
    (lambda: _core.adamax_update(np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32),
                                 np.zeros(2, np.float32), 0.1, step=1), ValueError, "u"),
    (lambda: _core.nadam_update(*[np.zeros(3, np.float32)] * 4, 0.1, step=0, u_product=1.0), ValueError,
     "step=0"),
    (lambda: _core.lion_update(np.zeros(3, np.float64), np.zeros(3, np.float32), np.zeros(3, np.float32), 0.1),
     TypeError, "param"),
])
def test_core_updates_check_their_arrays(call, error, text):
    with pytest.raises(error, match=text):
        call()


# ---------------------------------------------------------------------------------------------- against Keras
SHAPES = [(3, 5), (7,), (2, 2, 3)]
VARIANTS = [
    ("Adagrad", dict()),
    ("Adagrad", dict(learning_rate=0.05, initial_accumulator_value=0.5, epsilon=1e-3, clipvalue=0.3)),
    ("Adadelta", dict()),
    ("Adadelta", dict(learning_rate=1.0, rho=0.8, epsilon=1e-4, weight_decay=0.05)),
    ("Adamax", dict()),
    ("Adamax", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=1e-3, global_clipnorm=0.7)),
    ("Nadam", dict()),
    ("Nadam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, clipnorm=0.5, weight_decay=0.1)),
    ("Lion", dict()),
    ("Lion", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, weight_decay=0.2)),
]


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


def _state(variables):
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in variables]


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kwargs", VARIANTS, ids=str)
def test_twenty_steps_match_keras(name, kwargs):
    keras = _keras()
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.uniform(0.1, 2.0)).astype(np.float32) for s in SHAPES]
             for _ in range(20)]
    theirs, ours = getattr(keras.optimizers, name)(**kwargs), getattr(optimizers, name)(**kwargs)
    k_vars, c_vars = [keras.Variable(w.copy()) for w in weights], [w.copy() for w in weights]
    for step_grads in grads:
        theirs.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step_grads], k_vars))
        ours.apply_gradients(zip(step_grads, c_vars))
    for a, b in zip(c_vars, k_vars):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-7)
    k_state, c_state = _state(theirs.variables), _state(ours.variables)
    assert [(s.shape, s.dtype) for s in c_state] == [(s.shape, s.dtype) for s in k_state]
    assert ours.iterations == int(theirs.iterations.numpy()) == 20
    for a, b in zip(c_state, k_state):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kwargs", VARIANTS, ids=str)
def test_configs_match_keras_and_round_trip(name, kwargs):
    keras = _keras()
    ours = getattr(optimizers, name)(**kwargs).get_config()
    theirs = getattr(keras.optimizers, name)(**kwargs).get_config()
    assert ours["name"] == name.lower() and theirs.pop("name").startswith(name.lower())  # Keras numbers repeats
    assert {k: v for k, v in ours.items() if k != "name"} == theirs
    assert getattr(optimizers, name).from_config(ours).get_config() == ours
    restored = optimizers.deserialize(optimizers.serialize(getattr(optimizers, name)(**kwargs)))
    assert type(restored).__name__ == name and restored.get_config() == ours


@pytest.mark.parametrize("name", ["Adagrad", "Adadelta", "Adamax", "Nadam", "Lion"])
def test_get_by_name(name):
    for identifier in (name.lower(), name.upper(), name):
        assert type(optimizers.get(identifier)).__name__ == name


@pytest.mark.tensorflow
@pytest.mark.parametrize("kwargs", [dict(beta_1=0.0), dict(beta_1=1.5), dict(beta_1=-0.1)], ids=str)
def test_lion_refuses_beta_1_as_keras(kwargs):
    keras = _keras()
    with pytest.raises(ValueError) as theirs:
        keras.optimizers.Lion(**kwargs)
    with pytest.raises(ValueError) as ours:
        optimizers.Lion(**kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("cls, kwargs, error, text", [
    (optimizers.Adagrad, dict(initial_accumulator_value="0.1"), TypeError, "initial_accumulator_value='0.1'"),
    (optimizers.Adagrad, dict(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value=-1.0"),
    (optimizers.Adadelta, dict(rho=1.5), ValueError, "rho=1.5"),
    (optimizers.Adamax, dict(beta_2=None), TypeError, "beta_2=None"),
    (optimizers.Nadam, dict(epsilon=-1e-7), ValueError, "epsilon=-1e-07"),
    (optimizers.Nadam, dict(amsgrad=True), ValueError, "amsgrad"),
    (optimizers.Lion, dict(beta_1="0.9"), TypeError, "beta_1='0.9'"),
    (optimizers.Lion, dict(epsilon=1e-7), ValueError, "epsilon"),
    (optimizers.Adamax, dict(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
    (optimizers.Adadelta, dict(learning_rate="fast"), ValueError, "learning_rate='fast'"),
])
def test_bad_arguments(cls, kwargs, error, text):
    with pytest.raises(error, match=text):
        cls(**kwargs)


# ------------------------------------------------------------------------------------ whole fits against Keras
FITS = {
    "adagrad": ("Adagrad", dict(learning_rate=0.05)),
    "adagrad_args": ("Adagrad", dict(learning_rate=0.02, initial_accumulator_value=0.5, epsilon=1e-4)),
    "adadelta": ("Adadelta", dict(learning_rate=1.0)),
    "adadelta_args": ("Adadelta", dict(learning_rate=0.5, rho=0.8, epsilon=1e-5)),
    "adamax": ("Adamax", dict(learning_rate=0.01)),
    "adamax_args": ("Adamax", dict(learning_rate=0.005, beta_1=0.8, beta_2=0.95, epsilon=1e-4)),
    "nadam": ("Nadam", dict(learning_rate=0.005)),
    "nadam_clipnorm_decay": ("Nadam", dict(learning_rate=0.005, beta_1=0.8, beta_2=0.99, clipnorm=0.5,
                                           weight_decay=0.05)),
    "lion": ("Lion", dict(learning_rate=1e-3)),
    "lion_args": ("Lion", dict(learning_rate=5e-4, beta_1=0.8, beta_2=0.95)),
}
EPOCHS, BATCH = 3, 16
LOSS_RTOL, WEIGHT_RTOL, WEIGHT_ATOL_SCALE = 1e-3, 1e-3, 1e-4  # tests/parity/test_training.py's bounds


def conv_model(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((40, 1)), L.Conv1D(6, 3, activation="relu"), L.Flatten(),
                           L.Dense(1, activation="sigmoid")])


def conv_data(n=64):
    x = np.random.default_rng(7).normal(size=(n, 40, 1)).astype(np.float32)
    y = (x[:, :20, 0].mean(axis=1) > 0).astype(np.float32)[:, None]
    return x, y


def paired_models(keras, case):
    convlite.utils.set_random_seed(11)
    ours, theirs = conv_model(convlite), conv_model(keras)
    theirs.set_weights(ours.get_weights())
    name, kwargs = FITS[case]
    ours.compile(getattr(optimizers, name)(**kwargs), "binary_crossentropy")
    theirs.compile(getattr(keras.optimizers, name)(**kwargs), "binary_crossentropy", jit_compile=False)
    return ours, theirs


def fit_both(ours, theirs, x, y, epochs):
    h_ours = ours.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0).history["loss"]
    h_theirs = theirs.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0).history["loss"]
    return h_ours, h_theirs


def assert_same_training(ours, theirs):
    for var_ours, var_theirs in zip(ours.weights, theirs.weights):
        want = var_theirs.numpy()
        np.testing.assert_allclose(var_ours.numpy(), want, rtol=WEIGHT_RTOL,
                                   atol=WEIGHT_ATOL_SCALE * np.max(np.abs(want)))
    k_state, c_state = _state(theirs.optimizer.variables), _state(ours.optimizer.variables)
    assert [(s.shape, s.dtype) for s in c_state] == [(s.shape, s.dtype) for s in k_state]
    assert int(c_state[0]) == int(k_state[0])  # iterations
    for a, b in zip(c_state[1:], k_state[1:]):
        np.testing.assert_allclose(a, b, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL_SCALE * np.max(np.abs(b)))


@pytest.mark.tensorflow
@pytest.mark.parametrize("case", list(FITS))
def test_fit_matches_keras(case):
    keras = _keras()
    ours, theirs = paired_models(keras, case)
    x, y = conv_data()
    losses_ours, losses_theirs = fit_both(ours, theirs, x, y, EPOCHS)
    np.testing.assert_allclose(losses_ours, losses_theirs, rtol=LOSS_RTOL, err_msg="per-epoch losses")
    assert losses_theirs[-1] < losses_theirs[0]  # the run trains
    assert ours.optimizer.iterations == EPOCHS * len(x) // BATCH
    assert_same_training(ours, theirs)


@pytest.mark.tensorflow
@pytest.mark.parametrize("case", ["adagrad_args", "adadelta_args", "adamax_args", "nadam_clipnorm_decay", "lion_args"])
def test_keras_files_both_ways_continue_training(tmp_path, case):
    """convlite saves -> Keras loads, and Keras saves -> convlite loads, mid-training: the optimizer state arrives
    exactly (Nadam's u_product included), and one more epoch on each side matches the side it came from."""
    keras = _keras()
    ours, theirs = paired_models(keras, case)
    x, y = conv_data()
    fit_both(ours, theirs, x, y, 1)
    saving.save_model(ours, tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    in_keras = keras.saving.load_model(tmp_path / "ours.keras")
    in_convlite = saving.load_model(tmp_path / "theirs.keras")
    assert type(in_keras.optimizer).__name__ == type(in_convlite.optimizer).__name__ == FITS[case][0]
    assert in_keras.optimizer.get_config() == {**ours.optimizer.get_config(), "name": in_keras.optimizer.name}
    for loaded, source in ((in_keras, ours), (in_convlite, theirs)):
        got, want = _state(loaded.optimizer.variables), _state(source.optimizer.variables)
        assert [(s.shape, s.dtype) for s in got] == [(s.shape, s.dtype) for s in want]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    fit_both(ours, in_keras, x, y, 1)
    assert_same_training(ours, in_keras)
    fit_both(in_convlite, theirs, x, y, 1)
    assert_same_training(in_convlite, theirs)
