"""Running a function as several parties on this machine: ``run_multiprocess``."""

import functools
import gc
import multiprocessing
import os
import pickle
import queue as queue_mod
import shutil
import sys
import tempfile
import time
import traceback

from . import _native, _session
from .tensor import CrypTensor, cryptensor  # noqa: F401  (CrypTen's crypten.mpc names)



class MPCTensor(CrypTensor):
    """CrypTen's ``crypten.mpc.MPCTensor(tensor, src=0)``: the same as ``cryptensor``."""

    def __new__(cls, tensor=None, src=0, **kwargs):
        return cryptensor(tensor, src=src, **kwargs)


#: The sharing types of ``cryptensor(ptype=...)``: values are shared arithmetically.
arithmetic = "arithmetic"
binary = "binary"

#: The most parties `run_multiprocess` starts on one machine (as `crypten launch`).
MAX_PARTIES = 64

#: How long rank 0 may take to bind the master port, in seconds.
START_TIMEOUT = 60.0


def _party(fn, rank, world_size, port, announce, provider, threads, results, args, kwargs):
    env = {
        "RANK": str(rank),
        "WORLD_SIZE": str(world_size),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "CRYPTEN_PROVIDER": provider,
        "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS", str(threads)),
    }
    os.environ.update(env)
    os.environ.pop("CRYPTEN_LAUNCHER_PIPE", None)
    os.environ.pop("CRYPTEN_CLUSTER", None)
    if announce is not None:
        os.environ["CRYPTEN_MASTER_PORT_FILE"] = announce
    else:
        os.environ.pop("CRYPTEN_MASTER_PORT_FILE", None)
    code = 0
    try:
        # A session inherited from the parent belongs to the parent.
        _native.forget_inherited()
        if fn is None:
            _native.serve_dealer()
            results.put((rank, True, None))
        else:
            _session.init()
            value = fn(*args, **kwargs)
            # The links close (their last frames flushed) when the last tensor of the session
            # is gone: collect those caught in reference cycles before leaving.
            gc.collect()
            _session.uninit()
            # Pickled here, by value: multiprocessing's own pickler would pass a torch tensor
            # as a handle to this process's memory, gone once it exits.
            results.put((rank, True, pickle.dumps(value if rank == 0 else None)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, then exit 1
        traceback.print_exc()
        results.put((rank, False, f"{type(e).__name__}: {e}"))
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    results.close()
    results.join_thread()
    os._exit(code)


def _label(rank, world_size):
    return "the dealer" if rank == world_size else f"party {rank}"


def launch(fn, world_size, args=(), kwargs=None, provider="ttp", timeout=None):
    """Runs ``fn(*args, **kwargs)`` as ``world_size`` parties in processes on loopback (and
    the dealer, with the ``ttp`` provider); returns rank 0's result. A party that fails makes
    it raise ``CryptenError`` naming the party and its error."""
    kwargs = kwargs or {}
    world_size = int(world_size)
    if not 1 <= world_size <= MAX_PARTIES:
        raise ValueError(f"world_size must be between 1 and {MAX_PARTIES} (one process each)")
    if provider not in ("ttp", "tfp"):
        raise ValueError("provider is 'ttp' or 'tfp'")
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    processes = world_size + (1 if provider == "ttp" else 0)
    threads = max(1, (os.cpu_count() or 1) // processes)
    private = tempfile.mkdtemp(prefix="crypten_rs-")
    announce = os.path.join(private, "port")
    children = {}
    sys.stdout.flush()
    sys.stderr.flush()

    def start(rank, port, announce_to=None):
        target = None if rank == world_size else fn
        p = ctx.Process(
            target=_party,
            args=(target, rank, world_size, port, announce_to, provider, threads, results,
                  args, kwargs),
            daemon=True,
        )
        p.start()
        children[rank] = p

    try:
        start(0, 0, announce)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(announce):
            if not children[0].is_alive():
                break
            if time.monotonic() > deadline:
                raise _native.CryptenError("party 0 did not bind the master port in time")
            time.sleep(0.005)
        if os.path.exists(announce):
            with open(announce) as f:
                port = int(f.read().strip())
            for rank in range(1, processes):
                start(rank, port)
        return _collect(children, results, world_size, timeout)
    finally:
        for p in children.values():
            if p.is_alive():
                p.terminate()
            p.join(5)
        shutil.rmtree(private, ignore_errors=True)


def _collect(children, results, world_size, timeout):
    """Rank 0's value, once every child has reported; the failures, named, otherwise."""
    reported = set()
    failures = []
    value = None
    dead_since = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    while len(reported) < len(children):
        try:
            rank, ok, payload = results.get(timeout=0.05)
        except queue_mod.Empty:
            now = time.monotonic()
            for rank, p in children.items():
                if rank in reported or p.is_alive():
                    continue
                # A dead child's report may still be in the pipe: give it a second.
                if now - dead_since.setdefault(rank, now) > 1.0:
                    reported.add(rank)
                    failures.append(f"{_label(rank, world_size)} exited with code "
                                    f"{p.exitcode} without a result")
            if deadline is not None and now > deadline:
                failures.append(f"timed out after {timeout} s")
                break
            continue
        reported.add(rank)
        if not ok:
            failures.append(f"{_label(rank, world_size)} failed: {payload}")
        elif rank == 0:
            value = pickle.loads(payload)
    for p in children.values():
        p.join(10)
    if failures:
        raise _native.CryptenError("; ".join(failures))
    return value


def run_multiprocess(world_size, maxsize=None, with_ttp=True, config=None, provider=None,
                     timeout=None):
    """A decorator: the function runs as ``world_size`` parties, each its own process, with
    a trusted third party dealing the randomness (``provider="tfp"``, insecure, for tests, does
    without). ``crypten_rs.init()`` is called in each process before the function. The call
    returns rank 0's result; a failed party raises ``CryptenError`` naming it.
    (``maxsize`` and ``config`` are accepted for CrypTen's signature and ignored.)"""
    del maxsize, config
    chosen = provider or ("ttp" if with_ttp else "tfp")

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return launch(fn, world_size, args, kwargs, provider=chosen, timeout=timeout)

        return wrapper

    return decorator
