"""A real SMTP server for flowc's tests and benchmarks (aiosmtpd).

Stores each accepted message in a Maildir (`--maildir`) or drops it
(`--sink`). Optional: STARTTLS or implicit TLS with a given certificate,
AUTH with one user, and a kill switch for crash tests: when the file given
by `--kill-file` holds "PID N", the N-th DATA this server receives makes it
SIGKILL that client process *before* answering, and the message is
discarded, as a real MTA drops a DATA it never acknowledged. N counts the
DATA received since that PID first appeared in the file.

Prints "ready" on stdout once it accepts connections.
"""

import argparse
import asyncio
import mailbox
import os
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, maildir, kill_file):
        self.box = mailbox.Maildir(maildir, create=True) if maildir else None
        self.kill_file = kill_file
        self.plan_pid = None
        self.received = 0

    def _kill_plan(self):
        try:
            with open(self.kill_file) as f:
                pid, n = f.read().split()
                return int(pid), int(n)
        except (OSError, ValueError):
            return None

    async def handle_DATA(self, server, session, envelope):
        plan = self._kill_plan() if self.kill_file else None
        if plan and plan[0] != self.plan_pid:
            self.plan_pid, self.received = plan[0], 0
        self.received += 1
        if plan:
            if plan[1] == self.received:
                try:
                    os.kill(plan[0], signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return "451 4.3.0 client killed before the answer: message discarded"
        if self.box is not None:
            self.box.add(envelope.original_content)
        return "250 2.0.0 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir")
    parser.add_argument("--sink", action="store_true")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth", help="USER:PASSWORD")
    parser.add_argument("--kill-file")
    args = parser.parse_args()

    handler = Handler(None if args.sink else args.maildir, args.kill_file)
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        user, password = args.auth.split(":", 1)
        ok = (
            auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    options = dict(data_size_limit=None)
    if args.auth:
        options.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=bool(args.cert),
        )
    if context and not args.implicit_tls:
        options.update(tls_context=context, require_starttls=True)
    if context and args.implicit_tls:
        options.update(ssl_context=context, server_hostname="localhost")

    controller = Controller(handler, hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
