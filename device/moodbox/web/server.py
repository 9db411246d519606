"""WebAdapter: serves the app with uvicorn (asyncio, h11) on web.bind:web.port in a thread of its own
that never takes the daemon down: a crash of the server is logged and it starts again; the music
plays on. One event loop holds every connection, so live pages and idle clients cost no threads."""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moodbox.config import Config
from moodbox.core import CoreApi
from moodbox.web.announce import Announcer
from moodbox.web.cameraview import CameraView
from moodbox.web.hosts import HostPolicy
from moodbox.web.protocol import ConnectionLimits, protocol_class
from moodbox.web.sessions import Sessions

log = logging.getLogger(__name__)

RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start/stop lines repeat ours
KEEP_ALIVE_S = 15  # an idle connection between two requests
WORKER_THREADS = 4


class WebAdapter:
    def __init__(self, core: CoreApi, config: Config) -> None:
        self.core = core
        self.config = config
        self.sessions = Sessions(config.state_path, config.web_password(), config.web.session_days * 86400)
        self.hosts = HostPolicy(config.web.allowed_hosts)
        self.limits = ConnectionLimits()
        self.camera_view: CameraView | None = None
        self.web: Any = None  # the WebApp (routes, live feed)
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.port: int | None = None  # the bound port (web.port, or the one picked for port 0)
        self._bound = threading.Event()
        self.announcer = Announcer(config)  # mDNS: web.announce

    @property
    def feed(self) -> Any:
        return self.web.feed

    def start(self) -> bool:
        from moodbox.web.app import WebApp

        web = self.config.web
        if web.camera_view and self.sessions.password_required:
            self.camera_view = CameraView()
            self.camera_view.attach(self.core)
            log.info("web: camera aim view on (web.camera_view) for logged-in pages; frames stay in memory")
        elif web.camera_view:
            log.warning("web.camera_view needs a web password (web.password or the credential web_password); "
                        "the camera view stays off")
        self.web = WebApp(self.core, self.config, self.sessions, self.hosts, self.camera_view)
        if not self.sessions.password_required:
            log.warning("web page on http://%s:%d with no password (web.password): anyone on the network can "
                        "control the box", web.bind, web.port)
        self._thread = threading.Thread(target=self._serve_forever, name="web", daemon=True)
        self._thread.start()
        self._bound.wait(5.0)
        return True

    def _listen(self) -> socket.socket:
        web = self.config.web
        family = socket.AF_INET6 if ":" in web.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio then sets TCP_NODELAY
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((web.bind, web.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def _serve_forever(self) -> None:
        web = self.config.web
        failures = 0
        while not self._stop.is_set():
            try:
                sock = self._listen()
                self.port = int(sock.getsockname()[1])
                scheme = "https" if web.tls_certificate else "http"
                log.info("web page on %s://%s:%d/ (API: /api/v1)", scheme, web.bind, self.port)
                self._bound.set()
                self.announcer.publish(self.port)
                failures = 0
                asyncio.run(self._serve(sock))
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

    async def _serve(self, sock: socket.socket) -> None:
        import anyio.to_thread
        import uvicorn

        web = self.config.web
        tls = {"ssl_certfile": str(self.config.resolve_path(web.tls_certificate)),
               "ssl_keyfile": str(self.config.resolve_path(web.tls_key))} if web.tls_certificate and web.tls_key else {}
        config = uvicorn.Config(self.web.app, http=protocol_class(self.limits), ws="none", lifespan="off",
                                access_log=False, log_config=None, server_header=False, date_header=True,
                                timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=1,
                                h11_max_incomplete_event_size=16 * 1024, **tls)
        server = uvicorn.Server(config)
        self._server = server
        self._loop = asyncio.get_running_loop()
        # Few worker threads for file and database reads: each thread costs memory (its own malloc arena).
        self._loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="web-worker"))
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        self.web.feed.attach(self._loop)
        try:
            if self._stop.is_set():
                return
            await server.serve(sockets=[sock])
        finally:
            self.web.feed.detach()
            self._loop = None
            sock.close()

    def stop(self) -> None:
        self._stop.set()
        server = self._server
        if server is not None:
            server.should_exit = True
        self.announcer.close()  # mDNS goodbyes (0.25 s) while the server winds down
        if self._thread is not None:
            self._thread.join(3.0)
        if self.web is not None:
            self.web.feed.close()
        if self.camera_view is not None:
            self.camera_view.close()
