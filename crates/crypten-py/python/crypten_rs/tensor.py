"""``CrypTensor``: an encrypted tensor with CrypTen's operators and methods."""

import numbers

import numpy as np

from . import _native
from ._convert import is_torch, operand, output, to_numpy, torch_wanted

__all__ = ["CrypTensor", "cryptensor", "public", "cat", "stack", "where"]


def _dim(d, ndim):
    d = int(d)
    if d < 0:
        d += ndim
    if not 0 <= d < max(ndim, 1):
        raise IndexError(f"dimension {d} out of range for a tensor of {ndim} dimensions")
    return d


def _shape_of(operand):
    """The shape of a native operand: a handle, an array or a number."""
    if isinstance(operand, float):
        return ()
    return tuple(operand.shape)


def _as_column(operand):
    if isinstance(operand, np.ndarray):
        return operand.reshape(-1, 1)
    return operand.unsqueeze(1)


def _pair(v):
    if isinstance(v, numbers.Integral):
        return [int(v)]
    return [int(x) for x in v]


class CrypTensor:
    """An encrypted tensor. Every party holds a share; ``get_plain_text()`` reveals it.

    Operators mix encrypted tensors with public numbers, numpy arrays and torch tensors, which
    all parties must hold alike."""

    # numpy and torch hand mixed operations to our reflected operators.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, handle, as_torch=False):
        self._t = handle
        self._as_torch = as_torch
        # A comparison's 0/1 result reveals as integers, as CrypTen's does.
        self._integer = False

    # --- creation helpers -------------------------------------------------------------------

    def _wrap(self, handle, other=None):
        as_torch = self._as_torch
        if isinstance(other, CrypTensor):
            as_torch = as_torch or other._as_torch
        elif other is not None and is_torch(other):
            as_torch = True
        return CrypTensor(handle, as_torch)

    @staticmethod
    def _operand(x):
        if isinstance(x, CrypTensor):
            return x._t
        return operand(x)

    # --- properties -------------------------------------------------------------------------

    @property
    def shape(self):
        return tuple(self._t.shape)

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[_dim(dim, self.dim())]

    def dim(self):
        return len(self._t.shape)

    ndim = property(dim)

    def nelement(self):
        return int(np.prod(self.shape, dtype=np.int64))

    numel = nelement

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def encrypted(self):
        return self._t.is_encrypted

    @property
    def requires_grad(self):
        return self._t.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self._t = self._t.with_requires_grad(bool(flag))

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    @property
    def grad(self):
        g = self._t.grad()
        return None if g is None else self._wrap(g)

    def backward(self, grad_output=None):
        self._t.backward(None if grad_output is None else self._operand(grad_output))

    def detach(self):
        return self._wrap(self._t.detach())

    def clone(self):
        return self._wrap(self._t.detach())

    def cpu(self):
        return self

    def __repr__(self):
        return repr(self._t)

    # --- revealing --------------------------------------------------------------------------

    def get_plain_text(self, dst=None):
        """The value, revealed to every party, or to party ``dst`` only (``None`` at the
        others). A torch tensor when the input was one (and torch is installed)."""
        value = self._t.reveal(dst)
        if value is not None and self._integer:
            value = np.rint(value).astype(np.int64)
        return output(value, self._as_torch)

    def reveal(self, dst=None):
        return self.get_plain_text(dst)

    # --- arithmetic -------------------------------------------------------------------------

    def add(self, other):
        return self._wrap(self._t.add(self._operand(other)), other)

    def sub(self, other):
        return self._wrap(self._t.sub(self._operand(other)), other)

    def mul(self, other):
        return self._wrap(self._t.mul(self._operand(other)), other)

    def div(self, other):
        return self._wrap(self._t.div(self._operand(other)), other)

    def matmul(self, other):
        """``self @ other`` with numpy's rules for 1-d operands (a dot product, a
        matrix-vector product)."""
        o = self._operand(other)
        other_1d = len(_shape_of(o)) == 1
        if self.dim() == 1 and other_1d:
            return self.mul(other).sum()
        left = self._t.unsqueeze(0) if self.dim() == 1 else self._t
        right = _as_column(o) if other_1d else o
        out = left.matmul(right)
        if other_1d:
            out = out.squeeze(len(out.shape) - 1)
        if self.dim() == 1:
            out = out.squeeze(len(out.shape) - 2)
        return self._wrap(out, other)

    def neg(self):
        return self._wrap(self._t.neg())

    __add__ = __radd__ = add
    __sub__ = sub
    __mul__ = __rmul__ = mul
    __truediv__ = div
    __matmul__ = matmul
    __neg__ = neg

    def __rsub__(self, other):
        return self._wrap(self._t.rsub(self._operand(other)), other)

    def __rtruediv__(self, other):
        return self._wrap(self._t.rdiv(self._operand(other)), other)

    def __rmatmul__(self, other):
        o = self._operand(other)
        if len(_shape_of(o)) == 1:
            if self.dim() == 1:
                return self.mul(other).sum()
            row = _native.Tensor.public(o.reshape(1, -1))
            out = self._t.rmatmul(row)
            return self._wrap(out.squeeze(len(out.shape) - 2), other)
        right = self._t.unsqueeze(1) if self.dim() == 1 else self._t
        out = right.rmatmul(o)
        if self.dim() == 1:
            out = out.squeeze(len(out.shape) - 1)
        return self._wrap(out, other)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def pow(self, p):
        """``self ** p`` for a public exponent: integers by products (negative ones through the
        reciprocal), 0.5 and -0.5 by the square root."""
        p = float(p)
        if p == 0.5:
            return self.sqrt()
        if p == -0.5:
            return self._wrap(self._t.unary("rsqrt"))
        if p != int(p):
            raise ValueError(f"pow with exponent {p}: only integers, 0.5 and -0.5")
        n = int(p)
        if n < 0:
            return self.reciprocal().pow(-n)
        if n == 0:
            return self.mul(0.0).add(1.0)
        result, base = None, self
        while n:
            if n & 1:
                result = base if result is None else result.mul(base)
            n >>= 1
            if n:
                base = base.square()
        return result

    __pow__ = pow

    def square(self):
        return self._wrap(self._t.unary("square"))

    def dot(self, other):
        return self.mul(other).sum()

    # --- comparisons (encrypted 0/1) --------------------------------------------------------

    def _compare(self, op, other):
        out = self._wrap(self._t.compare(op, self._operand(other)), other)
        out._integer = True
        return out

    def lt(self, other):
        return self._compare("lt", other)

    def le(self, other):
        return self._compare("le", other)

    def gt(self, other):
        return self._compare("gt", other)

    def ge(self, other):
        return self._compare("ge", other)

    def eq(self, other):
        return self._compare("eq", other)

    def ne(self, other):
        return self._compare("ne", other)

    __lt__, __le__, __gt__, __ge__ = lt, le, gt, ge
    __eq__, __ne__ = eq, ne
    __hash__ = object.__hash__

    def where(self, condition, y):
        """``condition ? self : y`` for a 0/1 ``condition``."""
        return self._wrap(self._t.where_(self._operand(condition), self._operand(y)), y)

    # --- element-wise functions -------------------------------------------------------------

    def _unary(self, name):
        return self._wrap(self._t.unary(name))

    def relu(self):
        return self._unary("relu")

    def sigmoid(self):
        return self._unary("sigmoid")

    def tanh(self):
        return self._unary("tanh")

    def exp(self):
        return self._unary("exp")

    def log(self):
        return self._unary("log")

    def sqrt(self):
        return self._unary("sqrt")

    def reciprocal(self):
        return self._unary("reciprocal")

    def abs(self):
        return self._unary("abs")

    def sign(self):
        return self._unary("sign")

    def erf(self):
        return self._unary("erf")

    def gelu(self):
        return self._unary("gelu")

    def softmax(self, dim):
        return self._wrap(self._t.softmax(_dim(dim, self.dim())))

    def log_softmax(self, dim):
        return self._wrap(self._t.log_softmax(_dim(dim, self.dim())))

    # --- reductions -------------------------------------------------------------------------

    def _dims(self, dim):
        if dim is None:
            return list(range(self.dim()))
        if isinstance(dim, numbers.Integral):
            return [_dim(dim, self.dim())]
        return sorted(_dim(d, self.dim()) for d in dim)

    def sum(self, dim=None, keepdim=False):
        return self._wrap(self._t.sum(self._dims(dim), keepdim))

    def mean(self, dim=None, keepdim=False):
        return self._wrap(self._t.mean(self._dims(dim), keepdim))

    def _extreme(self, dim, keepdim, one_hot, smallest):
        source = self.neg() if smallest else self
        if dim is None:
            flat = source._t.reshape([self.nelement()])
            value = self._wrap(flat.max(0, False))
            return value.neg() if smallest else value
        dim = _dim(dim, self.dim())
        values, onehot = source._t.max_argmax(dim, keepdim)
        values = self._wrap(values)
        if smallest:
            values = values.neg()
        if one_hot:
            return values, self._wrap(onehot)
        return values, self._wrap(self._index_of(onehot, dim, self.shape, keepdim))

    def max(self, dim=None, keepdim=False, one_hot=True):
        """The maximum; along ``dim``, the pair (values, positions) as CrypTen returns it, the
        positions one-hot by default (indices with ``one_hot=False``)."""
        return self._extreme(dim, keepdim, one_hot, False)

    def min(self, dim=None, keepdim=False, one_hot=True):
        """The minimum; along ``dim``, the pair (values, positions), as ``max``."""
        return self._extreme(dim, keepdim, one_hot, True)

    @staticmethod
    def _index_of(onehot, along, shape, keepdim):
        """The index from a one-hot handle: the row times 0, 1, 2, ... along ``along``."""
        size = shape[along] if shape else onehot.shape[0]
        ramp_shape = [1] * max(len(shape), 1)
        ramp_shape[along] = size
        ramp = np.arange(size, dtype=np.float64).reshape(ramp_shape)
        return onehot.mul(ramp).sum([along], keepdim)

    def _arg(self, dim, keepdim, one_hot, smallest):
        if dim is None:
            flat = self._t.reshape([self.nelement()])
            onehot = flat.argmax(0, smallest)
            if one_hot:
                return self._wrap(onehot.reshape(list(self.shape)))
            return self._wrap(self._index_of(onehot, 0, [self.nelement()], keepdim))
        dim = _dim(dim, self.dim())
        onehot = self._t.argmax(dim, smallest)
        if one_hot:
            return self._wrap(onehot)
        return self._wrap(self._index_of(onehot, dim, self.shape, keepdim))

    def argmax(self, dim=None, keepdim=False, one_hot=True):
        """The position of the maximum: one-hot by default (CrypTen's default), or the
        index with ``one_hot=False``."""
        return self._arg(dim, keepdim, one_hot, False)

    def argmin(self, dim=None, keepdim=False, one_hot=True):
        return self._arg(dim, keepdim, one_hot, True)

    # --- shapes -----------------------------------------------------------------------------

    def reshape(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        shape = [int(s) for s in shape]
        if shape.count(-1) > 1:
            raise ValueError("only one dimension can be -1")
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
            if known == 0 or self.nelement() % known:
                raise ValueError(f"cannot reshape {self.shape} to {tuple(shape)}")
            shape[shape.index(-1)] = self.nelement() // known
        return self._wrap(self._t.reshape(shape))

    view = reshape

    def transpose(self, dim0, dim1):
        n = self.dim()
        return self._wrap(self._t.transpose(_dim(dim0, n), _dim(dim1, n)))

    def t(self):
        if self.dim() < 2:
            return self
        return self.transpose(0, 1)

    @property
    def T(self):
        return self.permute(*reversed(range(self.dim())))

    def permute(self, *dims):
        if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
            dims = tuple(dims[0])
        return self._wrap(self._t.permute([_dim(d, self.dim()) for d in dims]))

    def flatten(self, start_dim=0, end_dim=-1):
        if self.dim() == 0:
            return self.reshape(1)
        n = self.dim()
        return self._wrap(self._t.flatten(_dim(start_dim, n), _dim(end_dim, n)))

    def unsqueeze(self, dim):
        return self._wrap(self._t.unsqueeze(_dim(dim, self.dim() + 1)))

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape([s for s in self.shape if s != 1])
        dim = _dim(dim, self.dim())
        if self.shape[dim] != 1:
            return self
        return self._wrap(self._t.squeeze(dim))

    def narrow(self, dim, start, length):
        return self._wrap(self._t.narrow(_dim(dim, self.dim()), int(start), int(length)))

    def index_select(self, dim, index):
        idx = [int(i) for i in to_numpy(index).astype(np.int64).ravel()]
        return self._wrap(self._t.index_select(_dim(dim, self.dim()), idx))

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        if sum(k is Ellipsis for k in key) > 1:
            raise IndexError("an index can only have one ellipsis")
        explicit = sum(1 for k in key if k is not None and k is not Ellipsis)
        if explicit > self.dim():
            raise IndexError(f"too many indices for a tensor of {self.dim()} dimensions")
        out, dim = self._t, 0
        drop = []
        for k in key:
            if k is Ellipsis:
                dim += self.dim() - explicit
                continue
            if k is None:
                out = out.unsqueeze(dim)
                dim += 1
                continue
            size = out.shape[dim]
            if isinstance(k, numbers.Integral):
                i = int(k) + size if int(k) < 0 else int(k)
                if not 0 <= i < size:
                    raise IndexError(f"index {int(k)} out of range for size {size}")
                out = out.narrow(dim, i, 1)
                drop.append(dim)
            elif isinstance(k, slice):
                start, stop, step = k.indices(size)
                if step <= 0:
                    raise ValueError("slices need a positive step")
                if step == 1:
                    out = out.narrow(dim, start, max(stop - start, 0))
                else:
                    out = out.index_select(dim, list(range(start, stop, step)))
            else:
                idx = to_numpy(k).astype(np.int64).ravel()
                idx = [int(i) + size if i < 0 else int(i) for i in idx]
                if any(not 0 <= i < size for i in idx):
                    raise IndexError(f"an index out of range for size {size}")
                out = out.index_select(dim, idx)
            dim += 1
        for d in reversed(drop):
            out = out.squeeze(d)
        return self._wrap(out)

    # --- convolution and pooling ------------------------------------------------------------

    def conv2d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        b = None if bias is None else self._operand(bias)
        handle = self._t.conv2d(
            self._operand(weight), b, _pair(stride), _pair(padding), _pair(dilation), int(groups)
        )
        return self._wrap(handle, weight)

    def max_pool2d(self, kernel_size, stride=None, padding=0):
        stride = kernel_size if stride is None else stride
        return self._wrap(self._t.max_pool2d(_pair(kernel_size), _pair(stride), _pair(padding)))

    def avg_pool2d(self, kernel_size, stride=None, padding=0):
        stride = kernel_size if stride is None else stride
        return self._wrap(self._t.avg_pool2d(_pair(kernel_size), _pair(stride), _pair(padding)))

    def adaptive_avg_pool2d(self, output_size):
        return self._wrap(self._t.adaptive_avg_pool2d(_pair(output_size)))


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(isinstance(s, numbers.Integral) for s in x)


def cryptensor(tensor=None, src=0, shape=None, requires_grad=False, broadcast_size=False,
               ptype=None, precision=None, **_ignored):
    """Encrypts ``tensor``, held by party ``src``.

    Every party calls it. The source passes its tensor (a numpy array, a torch tensor, a list,
    a number, or anything with ``__array__`` or DLPack); the others pass a tensor of the same
    shape (its values are ignored) or ``None`` with ``shape=``, or ``None`` with
    ``broadcast_size=True`` to learn the shape from the source. ``ptype`` may be
    ``crypten_rs.mpc.arithmetic`` (the only sharing the API exposes); ``precision`` must be
    the session's 16 fractional bits."""
    from . import _session

    if ptype is not None and ptype != "arithmetic":
        raise NotImplementedError("only arithmetic sharing is exposed (ptype=mpc.arithmetic)")
    if precision is not None and int(precision) != 16:
        raise NotImplementedError("the fixed-point precision is 16 fractional bits")
    rank = _session.get_rank()
    as_torch = torch_wanted(tensor) if tensor is not None else False
    array = None
    if tensor is not None and (rank == src or shape is None):
        array = to_numpy(tensor)
    if broadcast_size:
        shape = _native.broadcast_shape(list(array.shape) if rank == src else None, src)
    elif shape is None:
        if array is None:
            raise ValueError("party %d passed no tensor: give shape= or broadcast_size=True" % rank)
        shape = list(array.shape)
    elif not _is_shape(shape):
        shape = list(to_numpy(shape).astype(np.int64))
    shape = [int(s) for s in shape]
    if rank == src:
        if array is None:
            raise ValueError(f"party {src} is the source and passed no tensor")
        if list(array.shape) != shape:
            raise ValueError(f"the tensor's shape {array.shape} is not shape={tuple(shape)}")
    handle = _native.Tensor.encrypt(array if rank == src else None, shape, int(src), requires_grad)
    return CrypTensor(handle, as_torch)


def public(tensor, requires_grad=False):
    """A public tensor in the same API: no communication, and operations with it stay public
    until they meet an encrypted value (a model trained at home, in plaintext, say)."""
    handle = _native.Tensor.public(to_numpy(tensor))
    if requires_grad:
        handle = handle.with_requires_grad(True)
    return CrypTensor(handle, torch_wanted(tensor))


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat of no tensors")
    handles = [t._t if isinstance(t, CrypTensor) else _native.Tensor.public(to_numpy(t)) for t in tensors]
    as_torch = any(getattr(t, "_as_torch", False) or is_torch(t) for t in tensors)
    ndim = len(handles[0].shape)
    return CrypTensor(_native.Tensor.cat(handles, _dim(dim, ndim)), as_torch)


def stack(tensors, dim=0):
    tensors = [t if isinstance(t, CrypTensor) else CrypTensor(_native.Tensor.public(to_numpy(t))) for t in tensors]
    if not tensors:
        raise ValueError("stack of no tensors")
    d = _dim(dim, tensors[0].dim() + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def where(condition, x, y):
    """``condition ? x : y`` for a 0/1 ``condition`` (encrypted or public)."""
    if isinstance(x, CrypTensor):
        return x.where(condition, y)
    if isinstance(y, CrypTensor):
        # 1 - condition selects y.
        return y.where(1 - (condition if isinstance(condition, CrypTensor) else to_numpy(condition)), x)
    raise TypeError("where needs an encrypted x or y")
