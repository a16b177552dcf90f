"""The cloud composition root: one App per container, built from the configuration on first use."""

from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.config.settings import Settings
from coinswarm.wiring.cloud import container_app, reset_container_app


def test_one_app_per_container_built_on_first_use() -> None:
    reset_container_app()
    try:
        settings = Settings.model_validate({"market": {"source": "synthetic"}, "symbols": ["BTC-USD"]})
        first = container_app(settings, store=MemoryStore())
        assert container_app() is first  # warm: reused
        assert first.market.label.startswith("SYNTHETIC")
        assert first.settings.symbols == ("BTC-USD",)
    finally:
        reset_container_app()


def test_importing_the_cloud_root_builds_nothing() -> None:
    import subprocess
    import sys

    # (functions-framework's .pth pre-creates empty `google` / `google.cloud` namespace stubs at start-up;
    # what must not load are the SDKs themselves)
    sdks = (
        "boto3",
        "botocore",
        "azure.cosmos",
        "google.cloud.firestore",
        "google.cloud.pubsub",
        "google.api_core",
        "httpx",
    )
    code = (
        "import sys, coinswarm.wiring.cloud as c; "
        "assert c._app is None; "
        f"loaded = [m for m in {sdks!r} if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_where_a_message_may_come_again_every_committing_stage_keeps_an_outbox() -> None:
    """Mesh wiring and every cloud container: ingest, scoring, vote and placement share one outbox whose
    claims outlast the functions' timeout; fused wiring (and so a backtest) keeps none but placement's own."""
    from coinswarm.marketdata.replay import ReplayMarketData
    from coinswarm.marketdata.synthetic import synthetic_candles
    from coinswarm.stages.outbox import GCP_FUNCTION_TIMEOUT_S, NO_OUTBOX, Outbox, in_progress_ttl_s
    from coinswarm.wiring.bootstrap import build_app

    market = ReplayMarketData({"BTC-USD": synthetic_candles("BTC-USD", 10, seed=1, start_ts=1_700_000_040)}, label="t")

    def outboxes(app):  # type: ignore[no-untyped-def]
        s = app.stages
        return [s.ingest.outbox, s.scoring.outbox, s.vote.outbox, s.placement.outbox]

    mesh = build_app(Settings(symbols=["BTC-USD"]), market=market, store=MemoryStore())
    shared = outboxes(mesh)
    assert type(shared[0]) is Outbox and all(o is shared[0] for o in shared)
    assert shared[0].in_progress_ttl_s == in_progress_ttl_s(Settings().deploy.timeout_s) == 40

    fused = build_app(Settings(symbols=["BTC-USD"], wiring="fused"), market=market, store=MemoryStore())
    *first_three, placement = outboxes(fused)
    assert all(o is NO_OUTBOX for o in first_three) and type(placement) is Outbox

    reset_container_app()
    try:
        cloud = container_app(
            Settings(symbols=["BTC-USD"], wiring="fused"),
            market=market,
            store=MemoryStore(),
            function_timeout_s=GCP_FUNCTION_TIMEOUT_S,
        )
        ingest = cloud.stages.ingest.outbox
        assert type(ingest) is Outbox and ingest.in_progress_ttl_s == 70  # Cloud Functions: 60 s + the margin
    finally:
        reset_container_app()
