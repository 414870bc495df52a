"""float64 references of Keras 3's Adagrad, Adadelta, Adamax, Nadam and Lion updates (keras/src/optimizers/*.py).
Each takes the parameter, gradient and state as float64 arrays and returns the new (param, *state)."""
from __future__ import annotations

import numpy as np


def adagrad(p, g, accumulator, lr, epsilon):
    accumulator = accumulator + g * g
    return p - lr * g / np.sqrt(accumulator + epsilon), accumulator


def adadelta(p, g, accumulated_grad, accumulated_delta, lr, rho, epsilon):
    accumulated_grad = rho * accumulated_grad + (1 - rho) * g * g
    delta = -np.sqrt(accumulated_delta + epsilon) * g / np.sqrt(accumulated_grad + epsilon)
    accumulated_delta = rho * accumulated_delta + (1 - rho) * delta * delta
    return p + lr * delta, accumulated_grad, accumulated_delta


def adamax(p, g, m, u, lr, beta_1, beta_2, epsilon, step):
    m = m + (g - m) * (1 - beta_1)
    u = np.maximum(beta_2 * u, np.abs(g))
    return p - lr * m / ((1 - beta_1 ** step) * (u + epsilon)), m, u


def nadam_next_u_product(u_product, beta_1, step):
    return u_product * beta_1 * (1 - 0.5 * 0.96 ** step)


def nadam(p, g, m, v, lr, beta_1, beta_2, epsilon, step, u_product):
    """`u_product` already advanced for `step` (nadam_next_u_product), as Keras does before the updates."""
    u_now = beta_1 * (1 - 0.5 * 0.96 ** step)
    u_next = beta_1 * (1 - 0.5 * 0.96 ** (step + 1))
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_now) * g / (1 - u_product)
    v_hat = v / (1 - beta_2 ** step)
    return p - m_hat * lr / (np.sqrt(v_hat) + epsilon), m, v


def lion(p, g, m, lr, beta_1, beta_2):
    p = p - lr * np.sign(m * beta_1 + g * (1 - beta_1))
    return p, m * beta_2 + g * (1 - beta_2)
