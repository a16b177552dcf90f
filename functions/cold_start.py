"""What makes a function's cold start cheaper, and changes nothing else it does. Run by the `functions`
package's `__init__`, before an entry point's first import.

* pydantic's plugins are off (`PYDANTIC_DISABLE_PLUGINS=__all__`) unless the environment already says
  otherwise: Coinswarm uses none, and looking for them reads the metadata of every installed
  distribution when the first model is built. Set `PYDANTIC_DISABLE_PLUGINS=` (empty) to have pydantic
  load its plugins (logfire's, say).
* In a cloud runtime (Lambda sets `AWS_LAMBDA_FUNCTION_NAME`; Cloud Functions `K_SERVICE` and
  `FUNCTION_TARGET`), the garbage collector is paused while the function's modules load, and
  `loaded()` resumes it once the entry point has them all (`AwsFunction` calls it when it is made, at
  the end of an AWS entry point's imports; `functions.gcp_common` at the end of its own). Resuming first
  freezes everything loaded so far (`gc.freeze`): the modules, classes and functions of an import live
  as long as the container, so a collection that scans them frees nothing. Without the pause, the
  collector runs its full collection over the whole heap (boto3's, botocore's, pydantic's objects) again
  and again while the models and dataclasses of an import are made: some 50 ms, an eighth of an AWS
  function's whole import (`make bench`). The import leaves a few hundred cyclic objects behind, which
  the freeze keeps.

Outside a cloud runtime (tests, the local mesh, a backtest) the collector is left alone."""

from __future__ import annotations

import gc
import os

CLOUD_RUNTIME_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "K_SERVICE", "FUNCTION_TARGET")
"""Set by the cloud runtimes: their presence says this process is a deployed function."""

_paused = False


def prepare() -> None:
    """Before the first import of an entry point: plugins off (unless configured), and in a cloud
    runtime the collector paused until `loaded()`."""
    global _paused
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if gc.isenabled() and any(os.environ.get(name) for name in CLOUD_RUNTIME_ENV):
        gc.disable()
        _paused = True


def loaded() -> None:
    """The entry point's modules are loaded: freeze them and resume the collector paused by `prepare()`
    (nothing when it paused nothing)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
