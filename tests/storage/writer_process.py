"""A log writer to kill: appends records forever, printing how many are committed.

python writer_process.py LOCATION
"""

from __future__ import annotations

import asyncio
import sys

from hotline.server.record_log import RecordLog
from hotline.server.storage import open_backend
from hotline.testing.audit_logs import record, trail


async def main(location: str) -> None:
    backend = open_backend(location)
    log = RecordLog(backend, lambda batch: None, lambda error: None, trail(every_records=1000))
    start = sum(1 for _ in log.recover())
    log.start()
    index = start
    while True:
        for _ in range(20):
            log.append(record(index))
            index += 1
        await log.flush()
        print(index, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
