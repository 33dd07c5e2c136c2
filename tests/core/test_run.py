"""`make run`'s launcher: serves the demo tenant, and Ctrl-C leaves nothing running."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil

from config import embedded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except OSError:
        return 0


def test_run_serves_the_demo_and_ctrl_c_stops_everything(tmp_path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        CLARION_EMBEDDED_DIR=str(tmp_path),
        CLARION_PORT=str(port),
        DJANGO_SETTINGS_MODULE="config.settings.dev",
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "config.run"],
        cwd=embedded.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = 0
        while status != 200 and time.monotonic() < deadline and launcher.poll() is None:
            time.sleep(0.3)
            status = _get(f"http://127.0.0.1:{port}/admin/login/", f"acme.localhost:{port}")
        assert status == 200
        processes = psutil.Process(launcher.pid).children(recursive=True)
        servers = [embedded._postmaster_pid(tmp_path / "pg"), embedded._redis_pid(tmp_path)]
        assert all(servers)
    finally:
        launcher.send_signal(signal.SIGINT)
        output = launcher.communicate(timeout=60)[0]
    assert "admin@acme.example / clarion-demo" in output
    assert "Stopped." in output
    time.sleep(0.5)
    alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert not embedded.postgres_running(tmp_path) and not embedded.redis_running(tmp_path)


def test_a_second_launcher_leaves_the_servers_it_did_not_start_running(tmp_path) -> None:
    """A second `make run` on the same checkout whose web server cannot start (its port is
    taken) exits, and must not stop the embedded servers the first one still uses."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(CLARION_EMBEDDED_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.dev")
    subprocess.run(
        [sys.executable, "-m", "config.embedded", "start", str(tmp_path)],
        cwd=embedded.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            env["CLARION_PORT"] = str(taken.getsockname()[1])
            second = subprocess.run(
                [sys.executable, "-m", "config.run"],
                cwd=embedded.BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
        assert second.returncode != 0, second.stdout
        assert "web exited" in second.stderr
        assert embedded.postgres_running(tmp_path) and embedded.redis_running(tmp_path)
    finally:
        subprocess.run(
            [sys.executable, "-m", "config.embedded", "stop", str(tmp_path)],
            cwd=embedded.BASE_DIR,
            env=env,
            capture_output=True,
            timeout=120,
        )
