"""The local AWS emulator: moto server with pilotctl's extension, run as its own process on 127.0.0.1.

A state file (``emulator.json`` in the state directory, ``.sandbox`` under the current
directory by default) records the running server, so a second ``start`` reuses it and ``stop``
can end it from another process. The server's output goes to ``emulator.log`` next to it.

>>> with running(state_dir=tmp_path) as emulator:          # doctest: +SKIP
...     boto3.client("s3", endpoint_url=emulator.endpoint, ...)

The library never changes ``os.environ``: pass ``client_env(endpoint)`` to boto3 sessions or
merge ``subprocess_env(endpoint)`` into the environment of a child process.

NOTE: the server accepts any credentials and every request; it binds only to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from infra.errors import SandboxError

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_STATE_DIR = Path(".sandbox")
STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"
# moto's configuration endpoint: a few bytes. /moto-api/data.json dumps every resource
# (4.5 MB and about 8 s once AWS managed policies are loaded), too slow for a health check.
HEALTH_PATH = "/moto-api/config"
DEFAULT_REGION = "us-east-1"
# moto maps any unknown access key to its default account, 123456789012.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class Emulator:
    """A running emulator process, as recorded in the state file."""

    pid: int
    port: int
    endpoint: str
    started_at: str  # ISO 8601, UTC

    def env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Return the environment variables that point AWS SDKs at this emulator."""
        return client_env(self.endpoint, region)

    def reset(self) -> None:
        """Delete every resource in the emulator (moto's ``/moto-api/reset``)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except OSError as error:
            raise SandboxError(f"resetting the emulator at {self.endpoint} failed: {error}") from error


def client_env(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Return AWS SDK environment variables for the emulator at ``endpoint``: endpoint, fake credentials, region.

    ``AWS_EC2_METADATA_DISABLED`` keeps SDKs from asking the instance metadata service for
    credentials. Service-specific variables such as ``AWS_ENDPOINT_URL_S3`` in the caller's
    environment would still win over ``AWS_ENDPOINT_URL``; ``subprocess_env`` removes them.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint,
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def subprocess_env(endpoint: str, base: Mapping[str, str] | None = None, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Return a copy of ``base`` (default ``os.environ``) without its ``AWS_*`` variables, plus ``client_env``.

    Dropping every ``AWS_*`` variable (profiles, config files, per-service endpoints) keeps a
    child process from reaching a real account.
    """
    source = os.environ if base is None else base
    env = {key: value for key, value in source.items() if not key.startswith("AWS_")}
    env.update(client_env(endpoint, region))
    return env


def start(
    state_dir: Path | str = DEFAULT_STATE_DIR, port: int | None = None, timeout: float = 15.0
) -> Emulator:
    """Start the emulator, or return the one the state file records if it is still healthy.

    ``port`` None picks a free port. Raises SandboxError when the port is in use, the server
    exits early or it is not healthy within ``timeout`` seconds. A reused emulator keeps its
    port even when ``port`` differs.
    """
    state_path = Path(state_dir)
    state_path.mkdir(parents=True, exist_ok=True)
    with _locked(state_path):
        current = _read_live_state(state_path)
        if current is not None:
            if port is not None and port != current.port:
                logger.warning("emulator already runs on port %d; port %d ignored", current.port, port)
            logger.info("reusing emulator pid %d at %s", current.pid, current.endpoint)
            return current
        return _launch(state_path, port if port is not None else _free_port(), timeout)


def status(state_dir: Path | str = DEFAULT_STATE_DIR) -> Emulator | None:
    """Return the running emulator, or None; a state file of a dead or unhealthy server is removed."""
    state_path = Path(state_dir)
    if not (state_path / STATE_FILE).exists():
        return None
    with _locked(state_path):
        return _read_live_state(state_path)


def stop(state_dir: Path | str = DEFAULT_STATE_DIR, timeout: float = 10.0) -> bool:
    """Stop the recorded emulator and remove the state file; return whether a server was stopped."""
    state_path = Path(state_dir)
    if not (state_path / STATE_FILE).exists():
        return False
    with _locked(state_path):
        emulator = _read_state(state_path)
        stopped = False
        if emulator is not None and _is_emulator_process(emulator.pid):
            _terminate(emulator.pid, timeout)
            stopped = True
            logger.info("stopped emulator pid %d at %s", emulator.pid, emulator.endpoint)
        (state_path / STATE_FILE).unlink(missing_ok=True)
        return stopped


@contextlib.contextmanager
def running(state_dir: Path | str, port: int | None = None, timeout: float = 15.0) -> Iterator[Emulator]:
    """Run a private emulator for the duration of the block, then stop it.

    Give each caller its own ``state_dir`` (a temporary directory in tests): an emulator already
    recorded there is reused and is stopped on exit as well.
    """
    emulator = start(state_dir, port=port, timeout=timeout)
    try:
        yield emulator
    finally:
        stop(state_dir)


def is_healthy(endpoint: str, timeout: float = 1.0) -> bool:
    """Return whether a moto server at ``endpoint`` responds to ``GET /moto-api/config``.

    moto returns status 201 for that endpoint, so any 2xx counts.
    """
    try:
        with urllib.request.urlopen(endpoint + HEALTH_PATH, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


def _launch(state_path: Path, port: int, timeout: float) -> Emulator:
    _check_port_free(port)
    endpoint = f"http://{HOST}:{port}"
    env = dict(os.environ)
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    command = [sys.executable, "-m", "infra.sandbox.server", "--host", HOST, "--port", str(port)]
    log_path = state_path / LOG_FILE

    with open(log_path, "ab") as log:
        # A new session keeps the server alive when the starting terminal or process group gets
        # SIGINT, so a later command can reuse it.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=_project_root(),
            start_new_session=True,
        )
    logger.debug("started %s as pid %d, log %s", " ".join(command), process.pid, log_path)

    deadline = time.monotonic() + timeout
    while not is_healthy(endpoint):
        exit_code = process.poll()
        if exit_code is not None:
            raise SandboxError(
                f"emulator on port {port} exited with code {exit_code} before it was ready; "
                f"see the end of {log_path}: {_log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            _terminate(process.pid, 5.0)
            raise SandboxError(
                f"emulator at {endpoint} did not respond to {HEALTH_PATH} within {timeout:g} s (timed out); see {log_path}"
            )
        time.sleep(0.05)
    if process.poll() is not None:
        # Another server responded on the port after our process failed to bind it.
        raise SandboxError(f"emulator on port {port} exited with code {process.returncode}; see {log_path}")

    emulator = Emulator(
        pid=process.pid,
        port=port,
        endpoint=endpoint,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    _write_state(state_path, emulator)
    logger.info("emulator pid %d ready at %s", emulator.pid, endpoint)
    return emulator


def _read_state(state_path: Path) -> Emulator | None:
    try:
        data = json.loads((state_path / STATE_FILE).read_text())
        return Emulator(pid=int(data["pid"]), port=int(data["port"]), endpoint=data["endpoint"], started_at=data["started_at"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        logger.warning("ignoring invalid emulator state file %s: %s", state_path / STATE_FILE, error)
        return None


def _read_live_state(state_path: Path) -> Emulator | None:
    """Return the recorded emulator if its process runs and responds, and remove the state file of a dead one.

    A live server that does not respond to the health check in time (a loaded machine) keeps
    its state file: dropping it would orphan the process and its tenants.
    """
    emulator = _read_state(state_path)
    if emulator is not None and _is_emulator_process(emulator.pid):
        for timeout in (2.0, 5.0, 10.0):
            if is_healthy(emulator.endpoint, timeout=timeout):
                return emulator
        raise SandboxError(f"the emulator (pid {emulator.pid}) at {emulator.endpoint} runs but does not respond; "
                           f"stop it with: pilotctl sandbox down --state-dir {state_path}")
    if (state_path / STATE_FILE).exists():
        logger.info("removing stale emulator state file %s", state_path / STATE_FILE)
        (state_path / STATE_FILE).unlink(missing_ok=True)
    return None


def _write_state(state_path: Path, emulator: Emulator) -> None:
    temporary = state_path / (STATE_FILE + ".tmp")
    temporary.write_text(json.dumps(asdict(emulator), indent=2) + "\n")
    temporary.replace(state_path / STATE_FILE)


@contextlib.contextmanager
def _locked(state_path: Path) -> Iterator[None]:
    """Serialise start, status and stop on one state directory across processes."""
    state_path.mkdir(parents=True, exist_ok=True)
    with open(state_path / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _is_emulator_process(pid: int) -> bool:
    """Return whether ``pid`` is a live emulator server, so a reused pid is never signalled."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"infra.sandbox.server" in cmdline.read_bytes()
        except OSError:
            return False
    # NOTE: without /proc (macOS) a live pid is trusted; the health check still has to pass.
    return True


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is an exited child of this process, so it stops counting as alive."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _terminate(pid: int, timeout: float) -> None:
    """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        if sig == signal.SIGTERM:
            logger.warning("emulator pid %d ignored SIGTERM for %g s; sending SIGKILL", pid, timeout)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The server sets SO_REUSEADDR too, so a port in TIME_WAIT counts as free here as well.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SandboxError(
                    f"port {port} on {HOST} is already in use; stop what listens there or start the emulator on another port"
                ) from error
            raise SandboxError(f"cannot bind {HOST}:{port} for the emulator: {error}") from error


def _log_tail(log_path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(log unreadable)"


def _project_root() -> Path:
    """Return the directory that contains the ``infra`` package, so ``-m infra.sandbox.server`` resolves."""
    return Path(__file__).resolve().parents[2]
