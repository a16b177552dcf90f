"""The composition root picks an adapter per port, and the embedded default serves all three."""

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.config.settings import Settings
from coinswarm.wiring.bootstrap import open_stores


def test_by_default_one_embedded_store_serves_every_port(tmp_path) -> None:
    s = Settings.model_validate({"store": {"path": str(tmp_path / "x.db")}})
    stores = open_stores(s)
    assert stores.state is stores.history is stores.coordination
    assert type(stores.state).__name__ == "SqliteStore"
    assert (tmp_path / "x.db").exists()


def test_an_embedded_store_given_by_the_caller_is_used() -> None:
    mine = MemoryStore()
    stores = open_stores(Settings(), embedded=mine)
    assert stores.state is mine and stores.history is mine and stores.coordination is mine
