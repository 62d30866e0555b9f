"""A real poller (real fetcher, parser, Kafka publisher, state store) that freezes at a
chosen point of its Nth publish, so that a test can SIGKILL it exactly there.

    python -m tests.integration.ingest_crashing_poller before|after N FEEDS MARKER

``before``: freezes after fetching and parsing the Nth feed with new articles, before
producing them. ``after``: produces them, Kafka acknowledges, then freezes before the
feed state is saved. Settings come from the environment, as for `newsflow poll`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from ingest.feeds import load_feed_list
from ingest.fetch import Fetcher
from ingest.parsepool import ParserPool
from ingest.poller import Poller
from ingest.publish import Publisher, PublishResult
from ingest.state import StateStore
from newsflow.article import Article
from newsflow.settings import load_settings


class Freezing:
    def __init__(self, inner: Publisher, mode: str, nth: int, marker: Path) -> None:
        self.inner, self.mode, self.nth, self.marker = inner, mode, nth, marker
        self.calls = 0

    async def publish(self, articles: Sequence[Article]) -> PublishResult:
        if articles:
            self.calls += 1
        if self.calls == self.nth and articles:
            if self.mode == "after":
                result = await self.inner.publish(articles)
                self.marker.write_text(f"acked {len(result.acked)}")
            else:
                self.marker.write_text(f"fetched {len(articles)}")
            await asyncio.sleep(3600)  # frozen until killed
        return await self.inner.publish(articles)


async def main(mode: str, nth: int, feeds: Path, marker: Path) -> None:
    settings = load_settings()
    ps = settings.poller
    with Publisher(settings.kafka) as publisher:
        async with ParserPool(0) as parser, Fetcher(ps) as fetcher:
            poller = Poller(ps, load_feed_list(feeds), fetcher=fetcher, parser=parser,
                            sink=Freezing(publisher, mode, nth, marker),
                            store=StateStore(ps.state_dir), recovery=publisher.produced_since)
            await poller.run_once()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
