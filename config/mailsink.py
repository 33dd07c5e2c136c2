"""The demo's mailbox: a local SMTP server that keeps every e-mail Clarion sends.

`make run` starts it when `EMAIL_URL` is unset and points Clarion at it (web, worker and
beat inherit `EMAIL_URL=smtp://127.0.0.1:<port>`), so someone trying the demo sees exactly
what subscribers would receive, sent through the real SMTP path, without a mail account.
Each accepted message is written as an `.eml` file (any mail client or text editor opens
it) to `.clarion/mail/`, and one line per message is printed:

    mail  ada@example.com  [P1] Payments failing  -> .clarion/mail/20261126-140501-00001.eml

    python -m config.mailsink [DIR]   # the same mailbox on its own, for `manage.py` commands
"""

from __future__ import annotations

import itertools
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, TextIO

from aiosmtpd.controller import Controller


class Mailbox:
    """aiosmtpd handler: accept everything, keep it as a file, say so."""

    def __init__(self, directory: Path, out: TextIO | None = None) -> None:
        self.directory = directory
        self.out = out
        self.count = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content
        message = message_from_bytes(raw, policy=policy.default)
        with self.lock:
            path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self.count):05d}.eml"
        path.write_bytes(raw)
        to = ", ".join(envelope.rcpt_tos)
        print(f"mail  {to}  {message['Subject'] or '(no subject)'}  -> {path}", file=self.out)
        if self.out is not None:
            self.out.flush()
        return "250 Message accepted"


@dataclass
class Sink:
    url: str
    directory: Path
    controller: Controller

    def stop(self) -> None:
        self.controller.stop()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start(directory: Path, *, host: str = "127.0.0.1", out: TextIO | None = None) -> Sink:
    """Serve SMTP on a free loopback port (in a thread of this process); return its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    # aiosmtpd logs every SMTP command at INFO; the one line per message above is enough.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = _free_port(host)
    controller = Controller(Mailbox(directory, out or sys.stdout), hostname=host, port=port)
    controller.start()
    return Sink(url=f"smtp://{host}:{port}", directory=directory, controller=controller)


def main(argv: list[str]) -> int:
    from config import embedded

    directory = Path(argv[0]).resolve() if argv else embedded.embedded_dir() / "mail"
    sink = start(directory)
    print(f"EMAIL_URL={sink.url}\nKeeping mail in {directory}; Ctrl-C stops.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
