"""Joining and leaving a computation, and its cost statistics."""

import os

from . import _native


def init(config_file=None, *, cluster=None, party=None, cert=None, key=None):
    """Joins the computation.

    With ``cluster`` (a cluster file) this process is the party ``party`` (TLS with ``cert``
    and ``key`` when the file names a CA). Otherwise the environment decides: ``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` (as ``crypten launch`` and
    ``run_multiprocess`` set them) or ``CRYPTEN_CLUSTER``, ``CRYPTEN_PARTY``, ... (as
    ``crypten run --cluster`` sets them). Without any, the process is a computation of one
    party, for trying the API. Calling it again does nothing (``config_file`` is accepted for
    CrypTen's signature and ignored)."""
    del config_file
    if _native.is_initialized():
        return
    if cluster is not None:
        if party is None:
            raise ValueError("init(cluster=...) needs party=")
        _native.init_cluster(os.fspath(cluster), party,
                             None if cert is None else os.fspath(cert),
                             None if key is None else os.fspath(key))
    elif "CRYPTEN_CLUSTER" in os.environ or ("RANK" in os.environ and "WORLD_SIZE" in os.environ):
        _native.init_env()
    else:
        _native.init_local()


def uninit():
    """Leaves the computation (tells the dealer, closes the links)."""
    _native.uninit()


def is_initialized():
    return _native.is_initialized()


def get_rank():
    init()
    return _native.rank()


def get_world_size():
    init()
    return _native.world_size()


def get_stats():
    """This party's traffic since ``init`` or ``reset_stats``: ``rounds``, ``bytes_sent``,
    ``bytes_received``, ``messages_sent``, and the same per operation (``per_op``)."""
    return _native.stats()


def reset_stats():
    _native.reset_stats()


def print_stats():
    s = get_stats()
    print(f"rounds: {s['rounds']}  bytes sent: {s['bytes_sent']}  "
          f"bytes received: {s['bytes_received']}")


def get_communication_stats():
    """CrypTen's name: ``rounds`` and ``bytes`` (sent by this party)."""
    s = get_stats()
    return {"rounds": s["rounds"], "bytes": s["bytes_sent"]}
