"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and can refuse
chosen recipients with a permanent (5xx) or, for a while, a temporary (4xx) reply."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class SmtpSink:
    accepted: list[Message] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." reply
    defer: dict[str, int] = field(default_factory=dict)  # address -> how many 451s first
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            if address in self.refuse:
                return self.refuse[address]
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.accepted.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.accepted if m["To"] == address]


def start_sink() -> tuple[SmtpSink, Controller]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller
