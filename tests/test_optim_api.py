"""convlite.optimizers: 20 steps against keras.optimizers on the same weights and gradients (every variant,
clipping, weight decay, schedules), Keras's variable order and configs, get(), the model contract."""
import numpy as np
import pytest

from convlite import optimizers
from convlite.optimizers import schedules

from helpers import tensorflow_or_skip

SHAPES = [(3, 5), (7,), (2, 2, 3)]

VARIANTS = [
    ("SGD", dict(learning_rate=0.05)),
    ("SGD", dict(momentum=0.9)),
    ("SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(momentum=0.5, clipnorm=0.5)),
    ("Adam", dict()),
    ("Adam", dict(learning_rate=0.01, amsgrad=True)),
    ("Adam", dict(learning_rate=0.01, clipnorm=0.5)),
    ("Adam", dict(learning_rate=0.01, global_clipnorm=0.7)),
    ("Adam", dict(learning_rate=0.01, clipvalue=0.05)),
    ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3, weight_decay=0.1)),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.05)),
    ("AdamW", dict(learning_rate=0.01, amsgrad=True, global_clipnorm=1.0)),
    ("RMSprop", dict()),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5)),
    ("RMSprop", dict(learning_rate=0.01, centered=True)),
    ("RMSprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, clipvalue=0.1, weight_decay=0.02)),
]

SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.05, decay_steps=5, decay_rate=0.5)),
    ("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=15, alpha=0.1, warmup_target=0.05, warmup_steps=4)),
    ("PiecewiseConstantDecay", dict(boundaries=[5, 12], values=[0.05, 0.01, 0.002])),
]


def make_problem(seed=0, steps=20):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) * rng.uniform(0.1, 2.0) for s in SHAPES]
             for _ in range(steps)]
    return weights, grads


def run_keras(keras, opt, weights, grads):
    variables = [keras.Variable(w.copy()) for w in weights]
    for step_grads in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step_grads], variables))
    return [v.numpy() for v in variables], [np.asarray(v.numpy()) for v in opt.variables]


def run_ours(opt, weights, grads):
    variables = [w.copy() for w in weights]
    for step_grads in grads:
        opt.apply_gradients(zip(step_grads, variables))
    return variables, [np.asarray(v) for v in opt.variables]


def assert_same_run(ours, theirs):
    (our_vars, our_state), (their_vars, their_state) = ours, theirs
    for a, b in zip(our_vars, their_vars):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert [s.shape for s in our_state] == [s.shape for s in their_state]
    for a, b in zip(our_state, their_state):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kwargs", VARIANTS, ids=str)
def test_twenty_steps_match_keras(name, kwargs):
    tensorflow_or_skip()
    import keras

    weights, grads = make_problem()
    theirs = run_keras(keras, getattr(keras.optimizers, name)(**kwargs), weights, grads)
    ours = run_ours(getattr(optimizers, name)(**kwargs), weights, grads)
    assert_same_run(ours, theirs)


@pytest.mark.tensorflow
@pytest.mark.parametrize("schedule_name, schedule_kwargs", SCHEDULES, ids=str)
def test_schedules_drive_the_optimizer_like_keras(schedule_name, schedule_kwargs):
    tensorflow_or_skip()
    import keras

    weights, grads = make_problem(1)
    k_schedule = getattr(keras.optimizers.schedules, schedule_name)(**schedule_kwargs)
    o_schedule = getattr(schedules, schedule_name)(**schedule_kwargs)
    theirs = run_keras(keras, keras.optimizers.SGD(learning_rate=k_schedule, momentum=0.9, weight_decay=0.1),
                       weights, grads)
    ours = run_ours(optimizers.SGD(learning_rate=o_schedule, momentum=0.9, weight_decay=0.1), weights, grads)
    assert_same_run(ours, theirs)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kwargs", VARIANTS[:1] + VARIANTS[4:6] + VARIANTS[10:11] + VARIANTS[-1:], ids=str)
def test_configs_match_keras_and_round_trip(name, kwargs):
    tensorflow_or_skip()
    import keras

    theirs = getattr(keras.optimizers, name)(**kwargs).get_config()
    ours = getattr(optimizers, name)(**kwargs).get_config()
    assert theirs.pop("name").startswith(ours.pop("name"))  # Keras numbers repeated names: adam, adam_1, ...
    assert ours == theirs
    restored = getattr(optimizers, name).from_config(getattr(optimizers, name)(**kwargs).get_config())
    assert restored.get_config() == getattr(optimizers, name)(**kwargs).get_config()


@pytest.mark.tensorflow
def test_schedule_config_matches_keras_and_round_trips():
    tensorflow_or_skip()
    import keras

    kwargs = dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9)
    theirs = keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.ExponentialDecay(**kwargs)).get_config()
    ours = optimizers.Adam(learning_rate=schedules.ExponentialDecay(**kwargs)).get_config()
    assert ours["learning_rate"] == theirs["learning_rate"]
    restored = optimizers.Adam.from_config(ours)
    assert isinstance(restored._learning_rate, schedules.ExponentialDecay)
    assert keras.optimizers.Adam.from_config(ours).get_config()["learning_rate"] == theirs["learning_rate"]


def test_model_contract_slots_variables_and_spec():
    weights, grads = make_problem(steps=3)
    opt = optimizers.Adam(amsgrad=True, clipnorm=1.0)
    opt.build(weights)
    slots = opt.slot_arrays()
    assert len(slots) == 3 and all(len(s) == 3 for s in slots)
    assert all(a.shape == w.shape and a.dtype == np.float32 and not a.any() for s, w in zip(slots, weights)
               for a in s)
    variables = opt.variables
    # iterations, learning_rate, then m_0, v_0, m_1, v_1, m_2, v_2, then v_hat_0..2: the live arrays
    assert len(variables) == 2 + 9
    assert variables[2] is slots[0][0] and variables[3] is slots[0][1] and variables[4] is slots[1][0]
    assert variables[8] is slots[0][2]
    spec = opt._core_spec()
    assert spec["kind"] == "adam" and spec["amsgrad"] is True and spec["clipnorm"] == 1.0
    assert spec["decay_mask"] == [False, False, False]
    for step_grads in grads:
        opt.apply_gradients(zip(step_grads, weights))
    assert opt.iterations == 3 and int(opt.variables[0]) == 3


def test_set_weights_restores_state():
    weights, grads = make_problem(steps=4)
    a = optimizers.RMSprop(momentum=0.5, centered=True)
    wa = [w.copy() for w in weights]
    for g in grads[:2]:
        a.apply_gradients(zip(g, wa))
    b = optimizers.RMSprop(momentum=0.5, centered=True)
    wb = [w.copy() for w in wa]
    b.build(wb)
    b.set_weights([np.array(v, copy=True) for v in a.variables])
    for g in grads[2:]:
        a.apply_gradients(zip(g, wa))
        b.apply_gradients(zip(g, wb))
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    assert b.iterations == 4


def test_excluded_variables_skip_weight_decay():
    w = [np.ones(3, np.float32), np.ones(2, np.float32)]
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[w[1]])
    opt.apply_gradients(zip([np.zeros(3, np.float32), np.zeros(2, np.float32)], w))
    np.testing.assert_allclose(w[0], 0.95)
    np.testing.assert_array_equal(w[1], 1.0)
    assert opt._core_spec()["decay_mask"] == [True, False]


def test_learning_rate_property_and_schedule():
    opt = optimizers.SGD(learning_rate=0.1)
    assert opt.learning_rate == pytest.approx(0.1) and opt.current_learning_rate() == float(np.float32(0.1))
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    scheduled = optimizers.SGD(learning_rate=schedules.ExponentialDecay(1.0, 1, 0.5))
    scheduled.iterations = 3
    assert scheduled.current_learning_rate() == 0.125
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        scheduled.learning_rate = 0.1


@pytest.mark.parametrize("identifier, cls", [("sgd", optimizers.SGD), ("Adam", optimizers.Adam),
                                             ("adamw", optimizers.AdamW), ("RMSprop", optimizers.RMSprop),
                                             (optimizers.Adam, optimizers.Adam)])
def test_get(identifier, cls):
    assert type(optimizers.get(identifier)) is cls


def test_get_rejects_unknown_and_returns_instances():
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    assert type(optimizers.get(optimizers.serialize(optimizers.SGD(momentum=0.3)))) is optimizers.SGD
    with pytest.raises(ValueError, match=r"Allowed names: \['adadelta', 'adagrad', 'adam', 'adamax', 'adamw', 'lion', "
                                         r"'nadam', 'rmsprop', 'sgd'\]. Received: 'ftrl'"):
        optimizers.get("ftrl")


@pytest.mark.parametrize("cls, kwargs, error, text", [
    (optimizers.SGD, dict(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
    (optimizers.SGD, dict(learning_rate="fast"), ValueError, "learning_rate='fast'"),
    (optimizers.SGD, dict(momentum=-0.5), ValueError, "momentum=-0.5"),
    (optimizers.AdamW, dict(weight_decay=None), ValueError, "weight_decay=None"),
    (optimizers.Adam, dict(use_ema=True), ValueError, "use_ema"),
    (optimizers.Adam, dict(decay=0.1), ValueError, "not recognized"),
])
def test_bad_constructor_arguments(cls, kwargs, error, text):
    with pytest.raises(error, match=text):
        cls(**kwargs)


def test_apply_gradients_rejects_unknown_variables_and_shapes():
    w = [np.ones(3, np.float32)]
    opt = optimizers.Adam()
    opt.build(w)
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(np.ones(3, np.float32), np.ones(3, np.float32))])
    with pytest.raises(ValueError, match=r"grad.shape=\(4,\)"):
        opt.apply_gradients([(np.ones(4, np.float32), w[0])])
