"""Emulator lifecycle against real server processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import boto3
import pytest

from infra.errors import SandboxError
from infra.sandbox import emulator as sandbox

pytestmark = pytest.mark.moto_server


def _pid_alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def state_dir(tmp_path):
    path = tmp_path / ".sandbox"
    yield path
    sandbox.stop(path)


def test_start_status_stop(state_dir):
    started = sandbox.start(state_dir)

    assert started.endpoint == f"http://127.0.0.1:{started.port}"
    assert sandbox.is_healthy(started.endpoint)
    state = json.loads((state_dir / "emulator.json").read_text())
    assert state == {"pid": started.pid, "port": started.port, "endpoint": started.endpoint, "started_at": started.started_at}
    assert sandbox.status(state_dir) == started
    assert (state_dir / "emulator.log").exists()

    assert sandbox.stop(state_dir) is True
    assert not _pid_alive(started.pid)
    assert not (state_dir / "emulator.json").exists()
    assert sandbox.status(state_dir) is None


def test_start_reuses_running(state_dir):
    first = sandbox.start(state_dir)
    second = sandbox.start(state_dir)

    assert second == first


def test_start_reuse_from_other_process(state_dir):
    first = sandbox.start(state_dir)
    code = f"from infra.sandbox import emulator; print(emulator.start({str(state_dir)!r}).pid)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert int(output.stdout.strip()) == first.pid


def test_stop_without_emulator(state_dir):
    assert sandbox.stop(state_dir) is False


def test_stale_state_replaced(state_dir):
    first = sandbox.start(state_dir)
    os.kill(first.pid, signal.SIGKILL)
    os.waitpid(first.pid, 0)

    assert sandbox.status(state_dir) is None
    second = sandbox.start(state_dir)

    assert second.pid != first.pid
    assert sandbox.is_healthy(second.endpoint)
    assert json.loads((state_dir / "emulator.json").read_text())["pid"] == second.pid


def test_invalid_state_file_replaced(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "emulator.json").write_text("{not json")

    started = sandbox.start(state_dir)

    assert sandbox.is_healthy(started.endpoint)


def test_port_in_use(state_dir):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]

        with pytest.raises(SandboxError, match=f"port {port} on 127.0.0.1 is already in use"):
            sandbox.start(state_dir, port=port)

    assert not (state_dir / "emulator.json").exists()


def test_start_given_port(state_dir):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    started = sandbox.start(state_dir, port=port)

    assert started.port == port
    assert sandbox.is_healthy(f"http://127.0.0.1:{port}")


def test_running_context_stops(tmp_path):
    with sandbox.running(tmp_path) as emulator:
        pid = emulator.pid
        assert sandbox.is_healthy(emulator.endpoint)

    assert not _pid_alive(pid)
    assert sandbox.status(tmp_path) is None


def test_client_env_keys():
    env = sandbox.client_env("http://127.0.0.1:5000", region="eu-west-1")

    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_subprocess_env_drops_aws_variables():
    base = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_ENDPOINT_URL_S3": "https://s3.example"}

    env = sandbox.subprocess_env("http://127.0.0.1:5000", base=base)

    assert env["PATH"] == "/bin"
    assert "AWS_PROFILE" not in env
    assert "AWS_ENDPOINT_URL_S3" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"


def test_client_env_leaves_os_environ(emulator):
    before = dict(os.environ)
    emulator.env()

    assert dict(os.environ) == before


def test_managed_policy_present(aws_env):
    iam = boto3.client("iam")

    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")["Policy"]

    assert policy["PolicyName"] == "AmazonS3ReadOnlyAccess"
    assert policy["Arn"] == "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def test_aws_env_fixture(aws_env, emulator):
    assert aws_env == sandbox.client_env(emulator.endpoint)
    assert os.environ["AWS_ENDPOINT_URL"] == emulator.endpoint
    assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_server_rejects_public_host():
    result = subprocess.run(
        [sys.executable, "-m", "infra.sandbox.server", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
