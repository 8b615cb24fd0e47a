"""A real SMTP server for the mail tests (aiosmtpd), writing each message it accepts to a
JSON file the tests read: envelope, decoded headers, plain-text and HTML parts.

    python3 smtp_sink.py --port N --dir DIR [--auth USER:PASSWORD] [--reject WORD]

Prints "READY <port>" once it listens; runs until killed. With --auth, AUTH (PLAIN/LOGIN,
allowed without TLS) is required and only USER:PASSWORD passes. With --reject, recipients
containing WORD are refused with 550 (a permanent failure).
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, reject):
        self.directory = directory
        self.reject = reject
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {"text/plain": None, "text/html": None}
        for part in message.walk():
            kind = part.get_content_type()
            if kind in parts and parts[kind] is None:
                parts[kind] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {name.lower(): str(value) for name, value in message.items()},
            "subject": str(message.get("subject", "")),
            "message_id": str(message.get("message-id", "")),
            "text": parts["text/plain"],
            "html": parts["text/html"],
        }
        name = "%020d-%06d" % (time.time_ns(), next(self.counter))
        temporary = os.path.join(self.directory, name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        # Whole files only: the test never reads half a message.
        os.rename(temporary, os.path.join(self.directory, name + ".json"))
        return "250 OK: queued"


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: the server answers 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=False)

    return authenticate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--reject")
    args = parser.parse_args()
    options = {}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options = {
            "authenticator": authenticator_for(user, password),
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(
        Sink(args.dir, args.reject), hostname="127.0.0.1", port=args.port, **options
    )
    controller.start()
    print("READY %d" % args.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
