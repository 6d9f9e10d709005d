"""Conversions between the values users hold (numpy arrays, torch tensors, lists, numbers,
anything with ``__array__`` or DLPack) and what the native module takes: float64 numpy arrays
and floats. torch is never imported here unless the user's program already did."""

import numbers
import sys

import numpy as np


def is_torch(x):
    """Whether ``x`` is a torch tensor (without importing torch)."""
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def torch_wanted(x):
    """Whether a result computed from ``x`` goes back as a torch tensor: ``x`` is one, or it
    is a list or a number in a program that uses torch (as CrypTen always answers)."""
    if is_torch(x):
        return True
    if isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        return False
    return "torch" in sys.modules


def to_numpy(x):
    """``x`` as a float64 numpy array."""
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x, dtype=np.float64)
    if is_torch(x):
        return np.ascontiguousarray(x.detach().cpu().double().numpy())
    if hasattr(x, "__array__"):
        return np.ascontiguousarray(np.asarray(x), dtype=np.float64)
    if hasattr(x, "__dlpack__"):
        return np.ascontiguousarray(np.from_dlpack(x), dtype=np.float64)
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64))


def operand(x):
    """``x`` as an operand of a native operation: a float for a number, a float64 array
    otherwise (a zero-dimensional array becomes a float)."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, numbers.Real):
        return float(x)
    a = to_numpy(x)
    if a.ndim == 0:
        return float(a)
    return a


def output(array, as_torch):
    """A revealed array, as a torch tensor (floats in torch's default dtype, as CrypTen
    returns; integers as int64) when ``as_torch`` and torch is installed, as numpy
    otherwise."""
    if array is None:
        return None
    if as_torch:
        try:
            import torch
        except ImportError:
            return array
        if array.dtype.kind in "iu":
            return torch.from_numpy(array)
        return torch.from_numpy(array).to(torch.get_default_dtype())
    return array
