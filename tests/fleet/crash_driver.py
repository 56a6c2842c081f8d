"""Run ``pilotctl scan --all`` and stop inside the transaction of one history record, for a crash test.

Usage: ``python crash_driver.py PAUSE_AT ARG...`` where ARG... are the ``pilotctl`` arguments.
The history connection is wrapped to pause in the PAUSE_AT-th record, counting from 1.
There the process prints ``PAUSED`` once the scan row and its findings are inserted,
before the access cells and the commit, and then sleeps until it is killed. PAUSE_AT 0
never pauses.
"""

from __future__ import annotations

import sys
import time

from pilotctl.cli import main
from policies import history


class PausingConnection:
    """A sqlite3 connection that sleeps inside the PAUSE_AT-th record's transaction."""

    def __init__(self, db, pause_at: int):
        self._db = db
        self.pause_at = pause_at
        self.records = 0

    def execute(self, sql, *args):
        return self._db.execute(sql, *args)

    def executemany(self, sql, rows):
        result = self._db.executemany(sql, rows)
        if sql.startswith("INSERT INTO findings"):
            self.records += 1
            if self.records == self.pause_at:
                print("PAUSED", flush=True)
                time.sleep(600)
        return result

    def close(self):
        self._db.close()


def run(pause_at: int, argv: list[str]) -> int:
    original = history.History.__init__

    def init(self, path=history.DEFAULT_PATH):
        original(self, path)
        self._db = PausingConnection(self._db, pause_at)

    history.History.__init__ = init
    return main(argv)


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1]), sys.argv[2:]))
