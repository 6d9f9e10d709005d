"""Models imported from ONNX (or exported from PyTorch on the fly), and the losses."""

import io
import os

import numpy as np

from . import _native
from ._convert import is_torch, operand, output, to_numpy, torch_wanted
from .tensor import CrypTensor

__all__ = [
    "Model", "Parameter", "from_onnx", "from_pytorch",
    "CrossEntropyLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
]


class Parameter:
    """A model's parameter: a view of its current value and gradient."""

    def __init__(self, native, name, as_torch=False):
        self._p = native
        self.name = name
        self._as_torch = as_torch

    @property
    def shape(self):
        return tuple(self._p.shape)

    def size(self):
        return self.shape

    @property
    def data(self):
        return CrypTensor(self._p.value(), self._as_torch)

    @property
    def grad(self):
        g = self._p.grad()
        return None if g is None else CrypTensor(g, self._as_torch)

    @property
    def encrypted(self):
        return self._p.encrypted

    def get_plain_text(self, dst=None):
        return self.data.get_plain_text(dst)

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={self.shape}, encrypted={self.encrypted})"


class Model:
    """A model every party loaded from the same ONNX file. ``encrypt(src)`` shares the
    weights of party ``src``: the others' values are ignored, so they may load a file with
    random weights of the same architecture."""

    def __init__(self, native, as_torch=False):
        self._m = native
        self._as_torch = as_torch
        self.training = True

    @property
    def encrypted(self):
        return self._m.encrypted

    @property
    def input_shape(self):
        """The first input's declared shape; ``None`` for a dimension of any size."""
        return tuple(self._m.input_shape)

    def encrypt(self, src=0):
        self._m.encrypt(int(src))
        return self

    def decrypt(self):
        self._m.decrypt()
        return self

    def train(self, mode=True):
        self.training = bool(mode)
        self._m.set_training(self.training)
        return self

    def eval(self):
        return self.train(False)

    def forward(self, x):
        if isinstance(x, CrypTensor):
            out = self._m.forward(x._t)
            return CrypTensor(out, x._as_torch or self._as_torch)
        out = CrypTensor(self._m.forward(operand(x)), torch_wanted(x) or self._as_torch)
        if out.encrypted:
            return out
        # A public model on a public input answers in plaintext, as PyTorch would.
        return out.get_plain_text()

    __call__ = forward

    def named_parameters(self):
        return [(n, Parameter(p, n, self._as_torch)) for n, p in self._m.named_parameters()]

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        self._m.zero_grad()

    def update_parameters(self, learning_rate):
        """One plain gradient step, ``p -= learning_rate * p.grad`` (CrypTen's method)."""
        params = [p._p for p in self.parameters()]
        _native.Optimizer.sgd(params, float(learning_rate), 0.0, 0.0, 0.0, False).step()

    def state_dict(self):
        """The weights by name, revealed to every party if encrypted (all must call it)."""
        out = {}
        for name, p in self.named_parameters():
            out[name] = p.get_plain_text()
        return out

    def load_state_dict(self, state):
        """Replaces the weights of a model not encrypted yet."""
        for name, p in self.named_parameters():
            if name not in state:
                raise KeyError(f"no value for weight {name!r}")
            p._p.set_public(to_numpy(state[name]))

    def to_onnx(self, path=None):
        """The model as ONNX, with its current weights (decrypt first); written to ``path``
        when given."""
        data = self._m.to_onnx()
        if path is not None:
            with open(path, "wb") as f:
                f.write(data)
        return data

    def __repr__(self):
        return repr(self._m)


def from_onnx(path_or_bytes):
    """Imports an ONNX model (a path, bytes, or a binary file object)."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
    elif hasattr(path_or_bytes, "read"):
        data = path_or_bytes.read()
    else:
        with open(os.fspath(path_or_bytes), "rb") as f:
            data = f.read()
    return Model(_native.Model.from_onnx(data))


def from_pytorch(model, dummy_input):
    """Exports a PyTorch model to ONNX with torch (opset 17, the batch dimension dynamic) and
    imports it."""
    import torch

    buf = io.BytesIO()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        torch.onnx.export(
            model, (dummy_input,), buf, input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=17, do_constant_folding=True, dynamo=False,
        )
    model.train(was_training)
    m = from_onnx(buf.getvalue())
    m._as_torch = True
    return m


class _Loss:
    name = None

    def __call__(self, input, target):
        return self.forward(input, target)

    def forward(self, input, target):
        if not isinstance(input, CrypTensor):
            raise TypeError(f"{type(self).__name__} takes an encrypted prediction")
        t = target._t if isinstance(target, CrypTensor) else operand(target)
        return CrypTensor(_native.loss(self.name, input._t, t), input._as_torch)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits ``[N, C]`` against one-hot targets ``[N, C]`` (encrypted or
    public, as CrypTen takes them) or public class indices ``[N]`` (integers)."""

    name = "cross_entropy"

    def forward(self, input, target):
        if not isinstance(target, CrypTensor):
            a = to_numpy(target)
            if a.ndim == 1:
                if np.any(a != np.round(a)) or np.any(a < 0):
                    raise ValueError("class indices must be non-negative integers")
                return CrypTensor(
                    _native.loss(self.name, input._t, None, [int(i) for i in a]), input._as_torch
                )
        return super().forward(input, target)


class MSELoss(_Loss):
    name = "mse"


class BCELoss(_Loss):
    name = "bce"


class BCEWithLogitsLoss(_Loss):
    name = "bce_with_logits"
