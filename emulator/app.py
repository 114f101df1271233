"""The Emulator: the emulated API (core.py) served over HTTP (server.py), with a scenario applied.

The Python API used by tests, benchmarks and the CLI: `Emulator(seed=1, speed=0.0).start()`.
"""

from __future__ import annotations

import threading
from datetime import datetime

from .core import EmulatorCore
from .scenarios import apply_scenario
from .server import EmulatorServer, make_server


class Emulator(EmulatorCore):
    def __init__(
        self,
        seed: int = 1,
        speed: float = 0.0,
        *,
        scenario: str | None = None,
        live_counts: bool = False,
        start_time: datetime | None = None,
        verbose: bool = False,
        id_salt: str = "",
    ) -> None:
        super().__init__(seed, speed, live_counts=live_counts, start_time=start_time, verbose=verbose, id_salt=id_salt)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        if scenario:
            apply_scenario(self, scenario)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(self, host, port)
        # A short poll interval so stop() returns quickly (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_all()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() it first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
