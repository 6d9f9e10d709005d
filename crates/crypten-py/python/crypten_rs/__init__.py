"""crypten_rs: CrypTen's Python API over crypten-rs.

A CrypTen script runs on crypten-rs by changing its import::

    import crypten_rs as crypten

    crypten.init()
    x = crypten.cryptensor([1.0, 2.0, 3.0])
    print((x * x).sum().get_plain_text())
"""

import os

from . import _native
from ._native import CryptenError
from ._session import (
    get_communication_stats,
    get_rank,
    get_stats,
    get_world_size,
    init,
    is_initialized,
    print_stats,
    reset_stats,
    uninit,
)
from .tensor import CrypTensor, cat, cryptensor, public, stack, where
from . import communicator, mpc, nn, optim  # noqa: E402
from ._convert import output as _output, to_numpy as _to_numpy, torch_wanted as _torch_wanted

__all__ = [
    "CryptenError", "CrypTensor", "cryptensor", "public", "cat", "stack", "where",
    "init", "uninit", "is_initialized", "get_rank", "get_world_size",
    "get_stats", "reset_stats", "print_stats", "get_communication_stats",
    "reset_communication_stats", "print_communication_stats",
    "save", "load", "save_from_party", "load_from_party", "no_grad",
    "is_encrypted_tensor", "communicator", "mpc", "nn", "optim", "print",
]

reset_communication_stats = reset_stats
print_communication_stats = print_stats


def no_grad():
    """``with crypten_rs.no_grad():`` records no autograd graph."""
    return _native.NoGrad()


_builtin_print = print


def print(*args, in_order=False, dst=0, **kwargs):  # noqa: A001 - CrypTen's name
    """Prints at party ``dst`` only, or at every party in rank order with ``in_order``."""
    rank = get_rank()
    if not in_order:
        if dst is None or rank == dst:
            _builtin_print(*args, **kwargs)
        return
    import sys

    for r in range(get_world_size()):
        if r == rank:
            _builtin_print(*args, **kwargs)
            sys.stdout.flush()
        # Party r's turn ends when the others hear from it.
        _native.broadcast_shape([0] if r == rank else None, r)


def is_encrypted_tensor(x):
    return isinstance(x, CrypTensor)


def save(obj, f):
    """Saves ``obj``: an encrypted tensor as this party's share (each party writes its own
    file), a public array as ``.npy``."""
    path = os.fspath(f)
    if isinstance(obj, CrypTensor):
        obj._t.save_share(path)
        return
    import numpy as np

    with open(path, "wb") as out:
        np.save(out, _to_numpy(obj), allow_pickle=False)


def load(f):
    """Loads what ``save`` wrote: this party's share as an encrypted tensor, or an array; a
    file written by ``torch.save`` is read with torch (tensors only, ``weights_only``)."""
    path = os.fspath(f)
    with open(path, "rb") as fh:
        head = fh.read(9)
    if head[:6] == b"\x93NUMPY":
        import numpy as np

        return np.load(path, allow_pickle=False)
    # A share file is safetensors: an 8-byte header length, then the JSON header.
    if len(head) == 9 and head[8:9] == b"{":
        return CrypTensor(_native.Tensor.load_share(path))
    if head[:2] == b"PK" or head[:1] == b"\x80":
        import torch

        return torch.load(path, weights_only=True)
    raise _native.CryptenError(f"{path}: not a share, .npy or torch.save file")


def save_from_party(obj, f, src=0):
    """Party ``src`` saves its plaintext ``obj`` (as ``.npy``); the others do nothing."""
    if get_rank() == src:
        save(_to_numpy(obj), f)


def load_from_party(f=None, preloaded=None, encrypted=False, src=0, **_ignored):
    """Party ``src`` loads ``f`` (or takes ``preloaded``); the others learn its shape and get
    zeros of it. With ``encrypted`` the result is shared from ``src``."""
    import numpy as np

    rank = get_rank()
    value = None
    if rank == src:
        value = preloaded if preloaded is not None else load(f)
        if isinstance(value, CrypTensor):
            raise ValueError("load_from_party loads plaintext; use load() for shares")
        as_torch = _torch_wanted(value)
        value = _to_numpy(value)
    else:
        as_torch = "torch" in __import__("sys").modules
    shape = _native.broadcast_shape(list(value.shape) if rank == src else None, src)
    if encrypted:
        return cryptensor(value if rank == src else None, src=src, shape=shape)
    if rank != src:
        value = np.zeros(shape)
    return _output(value, as_torch)
