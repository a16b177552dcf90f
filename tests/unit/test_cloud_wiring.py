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
