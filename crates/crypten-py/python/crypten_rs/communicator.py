"""CrypTen's ``crypten.communicator``: ``get()`` answers who this party is and what it sent."""

from . import _session

__all__ = ["get"]


class _Communicator:
    def get_rank(self):
        return _session.get_rank()

    def get_world_size(self):
        return _session.get_world_size()

    def get_communication_stats(self):
        return _session.get_communication_stats()

    def reset_communication_stats(self):
        _session.reset_stats()

    def print_communication_stats(self):
        _session.print_stats()


_COMM = _Communicator()


def get():
    return _COMM
