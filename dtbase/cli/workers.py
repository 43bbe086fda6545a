"""The serving workers of `dtbase serve backend --workers N`: uvicorn's supervisor (it
starts them, starts a dead one again and stops them all), but each worker listens on a
socket of its own, on the same port (SO_REUSEPORT).

With the one socket uvicorn shares between its workers, the first worker to wake
accepts every connection waiting, so clients that connect together and keep their
connections (a dashboard's, a fleet of writers) end up on one worker while the others
idle: 16 of 20 and 20 of 21 kept connections on one of two workers, measured under
`bench/load.py`'s 32 clients, whose p99 was then 3.6x to 4.3x its p50. With a socket
per worker, the kernel spreads new connections over the workers by their addresses.
"""

from __future__ import annotations

import socket

from uvicorn import Config
from uvicorn.supervisors import Multiprocess


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` that other such sockets (of the same user) may
    bind too, each then listening for connections of its own; passed to a worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Workers(Multiprocess):
    """uvicorn's `Multiprocess`, giving each worker it starts a socket of its own: it
    asks for `self.sockets` once per worker started (at first, and for each one replacing
    a dead or restarted worker). The worker listens on it; the socket closes here when
    the worker is replaced, so no socket is left listening without a worker."""

    def __init__(self, config: Config) -> None:
        # Fails at once, with the reason, if the port is taken (by anything but workers
        # like these: a port shared by mistake is the price of SO_REUSEPORT).
        reuse_port_socket(config.host, config.port).close()
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        return [reuse_port_socket(self.config.host, self.config.port)]

    @sockets.setter
    def sockets(self, _: list[socket.socket]) -> None:
        pass
