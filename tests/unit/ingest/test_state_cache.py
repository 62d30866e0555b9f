"""StateStore's saved-state cache: a load gets back exactly what the file holds, decoded or
not (the file stays the truth: another store's save, an edit or a corrupt file all count)."""

from __future__ import annotations

from pathlib import Path

from ingest.state import FeedState, StateStore

URL = "http://feeds.example/rss"


def busy(n: int = 300) -> FeedState:
    seen = {f"{i:032x}": 1_700_000_000 + i for i in range(n)}
    return FeedState(url=URL, etag='"tag-one"', seen=seen,
                     new_items=[(1_700_000_000.25, 2), (1_700_000_060.5, 1)], next_poll_at=17.5,
                     interval_s=60.0, items_seen=n, last_status=200)


def decoded(store: StateStore, feed_id: str) -> FeedState:
    return FeedState.model_validate_json(store.path(feed_id).read_bytes())


def test_a_load_after_a_save_equals_the_file_and_is_a_private_copy(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = busy()
    store.save("f", state)
    state.seen["late"] = 1  # the caller's object changes after the save: not the cache's
    first = store.load("f", URL)
    assert first.model_dump() == decoded(store, "f").model_dump()
    assert "late" not in first.seen
    first.seen["mine"] = 2
    first.new_items.append((1.0, 1))
    first.etag = "changed"
    second = store.load("f", URL)
    assert second.model_dump() == decoded(store, "f").model_dump()
    assert second is not first and "mine" not in second.seen


def test_another_writer_wins(tmp_path: Path) -> None:
    mine, other = StateStore(tmp_path), StateStore(tmp_path)
    mine.save("f", busy())
    theirs = busy(10)
    theirs.etag = '"theirs"'
    other.save("f", theirs)  # e.g. the poller that took the feed over
    loaded = mine.load("f", URL)
    assert loaded.etag == '"theirs"' and len(loaded.seen) == 10
    assert loaded.model_dump() == decoded(mine, "f").model_dump()


def test_an_edited_file_is_decoded(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("f", busy())
    path = store.path("f")
    path.write_bytes(path.read_bytes().replace(b'tag-one', b'tag-two'))
    assert store.load("f", URL).etag == '"tag-two"'


def test_a_corrupt_file_is_still_moved_aside(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("f", busy())
    store.path("f").write_bytes(b"{not json")
    assert store.load("f", URL).seen == {}
    assert list((tmp_path / "feeds").glob("f.corrupt-*"))


def test_a_deleted_file_gives_a_fresh_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("f", busy())
    store.path("f").unlink()
    assert store.load("f", URL).seen == {}


def test_the_cache_is_bounded_and_loads_stay_exact(tmp_path: Path) -> None:
    size = len(busy().model_dump_json())
    store = StateStore(tmp_path, cache_bytes=int(size * 2.5))
    for n in range(5):
        state = busy()
        state.etag = f'"{n}"'
        store.save(f"f{n}", state)
    assert store._saved_bytes <= int(size * 2.5)
    assert list(store._saved) == ["f3", "f4"]  # the most recently saved
    for n in range(5):
        assert store.load(f"f{n}", URL).etag == f'"{n}"'


def test_a_url_change_is_applied_to_the_copy_only(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save("f", busy())
    assert store.load("f", "http://moved.example/rss").url == "http://moved.example/rss"
    assert store.load("f", URL).url == URL
