"""WebAdapter: serves the app with waitress on web.bind:web.port, in a thread that never takes the
daemon down: a crash of the server is logged and it starts again; the music plays on."""
from __future__ import annotations

import logging
import threading
from typing import Any

from moodbox.config import Config
from moodbox.core import CoreApi
from moodbox.web.cameraview import CameraView
from moodbox.web.live import LiveFeed
from moodbox.web.security import Guard, secret_key

log = logging.getLogger(__name__)

RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
THREADS = 4 + 4  # request threads: each live page (SSE) holds one, at most LiveFeed.MAX_CLIENTS (4)


class WebAdapter:
    def __init__(self, core: CoreApi, config: Config) -> None:
        self.core = core
        self.config = config
        self.guard = Guard(config.web_password())
        self.feed = LiveFeed(core)
        self.camera_view: CameraView | None = None
        self._server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.port: int | None = None  # the bound port (web.port, or the one picked for port 0)
        self._bound = threading.Event()

    def start(self) -> bool:
        from moodbox.web.app import create_app

        web = self.config.web
        if web.camera_view and self.guard.password_required:
            self.camera_view = CameraView()
            self.camera_view.attach(self.core)
            log.info("web: camera aim view on (web.camera_view) for logged-in pages; frames stay in memory")
        elif web.camera_view:
            log.warning("web.camera_view needs a web password (web.password or the credential web_password); "
                        "the camera view stays off")
        self.app = create_app(self.core, self.config, self.feed, self.guard, secret_key(self.config.state_path),
                              self.camera_view)
        if not self.guard.password_required:
            log.warning("web page on http://%s:%d with no password (web.password): anyone on the network can "
                        "control the box", web.bind, web.port)
        self._thread = threading.Thread(target=self._serve_forever, name="web", daemon=True)
        self._thread.start()
        self._bound.wait(5.0)
        return True

    def _serve_forever(self) -> None:
        from waitress import create_server

        web = self.config.web
        failures = 0
        while not self._stop.is_set():
            try:
                self._server = create_server(self.app, host=web.bind, port=web.port, threads=THREADS,
                                             ident="moodbox", channel_timeout=60, connection_limit=50,
                                             clear_untrusted_proxy_headers=True)
                self.port = int(self._server.effective_port)
                log.info("web page on http://%s:%d/ (API: /api/v1)", web.bind, self.port)
                self._bound.set()
                failures = 0
                self._server.run()
                if self._stop.is_set():
                    return
                log.error("web server stopped by itself; starting it again")
            except OSError as exc:
                log.error("web page not started on %s:%d: %s (web.bind / web.port); trying again",
                          web.bind, web.port, exc.strerror or exc)
            except Exception:  # noqa: BLE001 - the page must never take the box down
                log.exception("web server crashed; starting it again")
            self._bound.set()
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            failures += 1
            if self._stop.wait(delay):
                return

    def stop(self) -> None:
        self._stop.set()
        server = self._server
        if server is not None:
            try:
                server.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the web server", exc_info=True)
        if self._thread is not None:
            self._thread.join(2.0)
        if self.camera_view is not None:
            self.camera_view.close()
