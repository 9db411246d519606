"""A real mosquitto broker on free loopback ports, with optional password file and TLS listener."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"mosquitto did not open port {port} within {timeout} s")


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.pem" for name in ("ca", "ca_key", "server", "server_key", "client",
                                                        "client_key")}
    csr, ext = folder / "server.csr", folder / "server.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", str(files["ca_key"]), "-out", str(files["ca"]), "-days", "2",
        "-subj", "/CN=moodbox test CA")
    run("req", *ec, "-keyout", str(files["server_key"]), "-out", str(csr), "-subj", "/CN=localhost")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey", str(files["ca_key"]),
        "-CAcreateserial", "-out", str(files["server"]), "-days", "2", "-extfile", str(ext))
    # a client certificate, for brokers that ask for one (require_certificate)
    run("req", *ec, "-keyout", str(files["client_key"]), "-out", str(csr), "-subj", "/CN=moodbox")
    run("x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey", str(files["ca_key"]),
        "-CAcreateserial", "-out", str(files["client"]), "-days", "2")
    return files


@dataclass
class Mosquitto:
    """One mosquitto process; start()/stop() may be called repeatedly (same ports)."""

    folder: Path
    users: dict[str, str] = field(default_factory=dict)  # empty: anonymous access
    tls: bool = False
    require_certificate: bool = False  # the TLS listener asks clients for a certificate from the CA
    extra: list[str] = field(default_factory=list)  # more mosquitto.conf lines
    port: int = field(default_factory=free_port)
    tls_port: int | None = None
    tls_files: dict[str, Path] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr",
                 "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")  # keep access to the test's private temp folder
        if self.users:
            password_file = self.folder / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(password_file), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            self.tls_files = make_tls_files(self.folder / "tls")
            self.tls_port = free_port()
            lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {self.tls_files['ca']}",
                      f"certfile {self.tls_files['server']}", f"keyfile {self.tls_files['server_key']}"]
            if self.require_certificate:
                lines.append("require_certificate true")
        self.config_file = self.folder / "mosquitto.conf"
        self.config_file.write_text("\n".join(lines + self.extra) + "\n")
        self.log_file = self.folder / "mosquitto.log"

    def start(self) -> None:
        log = self.log_file.open("ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config_file)], stdout=log, stderr=log)
        log.close()
        wait_for_port(self.port)
        if self.tls_port is not None:
            wait_for_port(self.tls_port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
