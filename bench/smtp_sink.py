"""An SMTP server that accepts everything and counts it: the far end of the dispatch
benchmark, run in its own process so that it does not share a CPU core's event loop with the
sender. Usage: python bench/smtp_sink.py PORT"""

from __future__ import annotations

import sys
import time

from aiosmtpd.controller import Controller


class Count:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.received += 1
        return "250 OK"


def main() -> None:
    controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
