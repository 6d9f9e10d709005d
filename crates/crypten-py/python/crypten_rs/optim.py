"""Optimizers over a model's parameters."""

from . import _native

__all__ = ["SGD", "Adam"]


def _natives(params):
    out = [p._p for p in params]
    if not out:
        raise ValueError("the optimizer got an empty parameter list")
    return out


class Optimizer:
    def __init__(self, native):
        self._o = native

    def step(self):
        self._o.step()

    def zero_grad(self):
        self._o.zero_grad()


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's meaning and defaults)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(_native.Optimizer.sgd(
            _natives(params), float(lr), float(momentum), float(dampening),
            float(weight_decay), bool(nesterov)))


class Adam(Optimizer):
    """Adam (PyTorch's meaning and defaults). On encrypted parameters ``eps`` is at least
    ``2**-8``, the resolution of ``sqrt(v)`` in fixed point."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(_native.Optimizer.adam(
            _natives(params), float(lr), float(betas[0]), float(betas[1]), float(eps),
            float(weight_decay)))
