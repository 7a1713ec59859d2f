"""``python -m simulators.crm_saas --port P --data DIR``: serve the CRM until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from simulators.crm_saas.server import CrmServer
from simulators.crm_saas.service import Crm
from simulators.crm_saas.store import Store

log = logging.getLogger("crm_saas")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, open the data directory and serve until stopped."""
    parser = argparse.ArgumentParser(prog="crm_saas", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, required=True, help="TCP port to bind")
    parser.add_argument("--data", type=Path, required=True, help="directory of the SQLite file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args.data.mkdir(parents=True, exist_ok=True)
    store = Store(args.data / "crm.sqlite3")
    server = CrmServer((args.host, args.port), Crm(store))
    signal.signal(signal.SIGTERM, _stop)
    log.info("crm-saas listening on http://%s:%d (data in %s)", args.host, args.port, args.data)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
        log.info("crm-saas stopped")


def _stop(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM ends ``serve_forever`` like Ctrl-C does."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    main(sys.argv[1:])
