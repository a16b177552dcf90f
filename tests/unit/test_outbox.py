"""The outbox on its own, over the embedded store: the work runs once per message, repeats get its
outputs back (the same bodies), a duplicate during the work is refused to be retried (and its retry gets
the outputs, or takes over the claim of a worker that died), a failure leaves no claim. And the claim's
in-progress TTL against the buses' redelivery timings."""

from __future__ import annotations

import pytest

from coinswarm.adapters.lambda_invoke_bus import ASYNC_RETRIES, ASYNC_RETRY_DELAYS_S
from coinswarm.adapters.memory_store import MemoryStore
from coinswarm.adapters.pubsub_bus import ACK_DEADLINE_S, MAX_DELIVERY_ATTEMPTS, RETRY_BACKOFF_S
from coinswarm.adapters.sqs_bus import QUEUES
from coinswarm.config.deploy import DeployConfig
from coinswarm.domain.models import Action
from coinswarm.errors import ClaimInProgressError, TransientStoreError
from coinswarm.ports.clock import SimulatedClock
from coinswarm.stages.messages import (
    DECISIONS,
    PLACEMENTS,
    DecidedStep,
    DecisionReady,
    Message,
    PlacementDone,
    ScoresReady,
    decode,
    encode,
)
from coinswarm.stages.outbox import (
    AWS_FUNCTION_TIMEOUT_S,
    CLAIM_MARGIN_S,
    GCP_FUNCTION_TIMEOUT_S,
    IN_PROGRESS_TTL_S,
    NO_OUTBOX,
    Outbox,
    digest,
    in_progress_ttl_s,
)
from servers.terraform import TERRAFORM_DIR, load_module

NOW = 1_700_000_000


def scores(cycle: str = "c1") -> ScoresReady:
    return ScoresReady(cycle_id=cycle, symbol="BTC-USD", scored=())


def decided(cycle: str = "c1") -> list[tuple[str, Message]]:
    step = DecidedStep(NOW, Action.HOLD, 0.25, 100.0, NOW, 101.0)
    return [
        (DECISIONS, DecisionReady(cycle_id=cycle, symbol="BTC-USD", steps=(step,))),
        (PLACEMENTS, PlacementDone(cycle_id=cycle, symbol="BTC-USD", mark_price=101.0)),
    ]


class Work:
    def __init__(self, outputs: list[tuple[str, Message]], fail: int = 0) -> None:
        self.outputs, self.fail, self.runs = outputs, fail, 0

    def __call__(self) -> list[tuple[str, Message]]:
        self.runs += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the store went away")
        return self.outputs


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def outbox(clock: SimulatedClock) -> Outbox:
    return Outbox(MemoryStore(), clock)


def bodies(outputs: list[tuple[str, Message]]) -> list[tuple[str, str]]:
    return [(topic, encode(m)) for topic, m in outputs]


def test_a_redelivery_gets_the_kept_outputs_and_the_work_runs_once(outbox: Outbox) -> None:
    work = Work(decided())
    first = outbox.once("voted", scores(), "BTC-USD", work)
    again = outbox.once("voted", decode(ScoresReady, encode(scores())), "BTC-USD", work)
    assert work.runs == 1
    assert bodies(again) == bodies(first) == bodies(decided())
    assert [type(m) for _, m in again] == [DecisionReady, PlacementDone]


def test_another_message_another_stage_or_another_symbol_runs_again(outbox: Outbox) -> None:
    work = Work(decided())
    outbox.once("voted", scores(), "BTC-USD", work)
    outbox.once("voted", scores("c2"), "BTC-USD", work)
    outbox.once("scored", scores(), "BTC-USD", work)
    outbox.once("voted", scores(), "ETH-USD", work)
    assert work.runs == 4
    assert digest(scores()) != digest(scores("c2"))


def test_nothing_handed_on_is_kept_as_nothing(outbox: Outbox) -> None:
    work = Work([])
    assert outbox.once("ingested", scores(), "BTC-USD", work) == []
    assert outbox.once("ingested", scores(), "BTC-USD", work) == []
    assert work.runs == 1


def test_a_failure_drops_the_claim_so_the_retry_runs_the_work(outbox: Outbox) -> None:
    work = Work(decided(), fail=1)
    with pytest.raises(RuntimeError):
        outbox.once("voted", scores(), "BTC-USD", work)
    assert bodies(outbox.once("voted", scores(), "BTC-USD", work)) == bodies(decided())
    assert work.runs == 2


def test_a_duplicate_during_the_work_is_refused_to_be_retried_and_its_retry_gets_the_outputs(
    outbox: Outbox, clock: SimulatedClock
) -> None:
    refused: list[ClaimInProgressError] = []

    def work() -> list[tuple[str, Message]]:
        clock.set(NOW + 3)
        with pytest.raises(ClaimInProgressError) as duplicate:  # arrives mid-run
            outbox.once("voted", scores(), "BTC-USD", Work(decided()))
        refused.append(duplicate.value)
        return decided()

    assert bodies(outbox.once("voted", scores(), "BTC-USD", work)) == bodies(decided())
    [error] = refused
    assert isinstance(error, TransientStoreError)  # every trigger's "deliver it again later"
    assert error.retry_after_s == IN_PROGRESS_TTL_S - 3  # until the holder's claim expires
    assert error.key.startswith("voted:c1:BTC-USD:") and "again later" in str(error)
    # the bus's retry, once the holder completed: the same outputs, the work not run again
    retry = Work(decided("other"))
    assert bodies(outbox.once("voted", scores(), "BTC-USD", retry)) == bodies(decided())
    assert retry.runs == 0


def test_a_claim_left_by_a_killed_worker_is_refused_until_it_expires_then_taken_over(
    outbox: Outbox, clock: SimulatedClock
) -> None:
    def killed() -> list[tuple[str, Message]]:
        outbox.coordination.abandon = lambda *a, **k: None  # type: ignore[method-assign]  # no `finally` runs
        raise SystemExit("the container was killed mid-run")

    with pytest.raises(SystemExit):
        outbox.once("voted", scores(), "BTC-USD", killed)
    del outbox.coordination.abandon  # type: ignore[attr-defined]
    retry = Work(decided())
    for after in (1, 10, IN_PROGRESS_TTL_S - 1):  # a push's retries, a Pub/Sub backoff: the claim still holds
        clock.set(NOW + after)
        with pytest.raises(ClaimInProgressError) as refused:
            outbox.once("voted", scores(), "BTC-USD", retry)
        assert refused.value.retry_after_s == IN_PROGRESS_TTL_S - after
    assert retry.runs == 0
    clock.set(NOW + IN_PROGRESS_TTL_S)  # expired: the redelivery takes the dead worker's claim over
    assert bodies(outbox.once("voted", scores(), "BTC-USD", retry)) == bodies(decided())
    assert retry.runs == 1
    clock.set(clock.now() + 1)
    assert bodies(outbox.once("voted", scores(), "BTC-USD", retry)) == bodies(decided())  # kept from now on
    assert retry.runs == 1


# -- the in-progress TTL against the deployment and the buses ---------------------------------------------


def test_the_claim_outlives_the_functions_timeout_by_the_margin() -> None:
    terraform_timeout = load_module(TERRAFORM_DIR / "modules" / "aws").variables["timeout_s"]
    assert AWS_FUNCTION_TIMEOUT_S == DeployConfig().timeout_s == terraform_timeout["default"]
    assert "var.timeout_s <= 30" in terraform_timeout["validation"][0]["condition"]
    assert DeployConfig.model_fields["timeout_s"].metadata[-1].le == 30  # the same bound on both sides
    assert GCP_FUNCTION_TIMEOUT_S == ACK_DEADLINE_S
    assert IN_PROGRESS_TTL_S == in_progress_ttl_s(DeployConfig().timeout_s) == 40
    longest = DeployConfig.model_fields["timeout_s"].metadata[-1].le
    for timeout in range(1, longest + 1):  # every timeout the configuration accepts: the default claim outlives it
        assert DeployConfig(timeout_s=timeout).timeout_s + CLAIM_MARGIN_S <= IN_PROGRESS_TTL_S
    with pytest.raises(ValueError, match="less than or equal to 30"):
        DeployConfig(timeout_s=longest + 1)
    for timeout in (1, 30, 60):
        assert in_progress_ttl_s(timeout) == timeout + CLAIM_MARGIN_S > timeout
    with pytest.raises(ValueError, match="at least 1 s"):
        in_progress_ttl_s(0)


@pytest.mark.parametrize("timeout", [1, 15, 30])
def test_on_aws_a_killed_invocations_first_redelivery_comes_after_its_claim_expired(timeout: int) -> None:
    """The claim is taken during the invocation, at most `timeout` after it started (or after the record
    was received), and the holder is dead (killed, timed out) at the latest `timeout` after the start."""
    ttl = in_progress_ttl_s(timeout)
    # chain "invoke": killed at once after claiming, Lambda's first retry comes a minute after the failure
    assert ASYNC_RETRIES >= 1 and ASYNC_RETRY_DELAYS_S[0] > ttl
    assert len(ASYNC_RETRY_DELAYS_S) == ASYNC_RETRIES
    # chain "queues": the record comes back a visibility timeout after its receive; the claim was taken
    # at most `timeout` after the receive, so it expired at most `timeout + ttl` after it
    for queue in QUEUES:
        assert queue.visibility_timeout_s > timeout + ttl, queue.topic
        assert queue.visibility_timeout_s >= 6 * DeployConfig.model_fields["timeout_s"].metadata[-1].le
        assert queue.max_receive_count >= 2  # the redelivery happens before the dead-letter queue


def test_on_gcp_a_later_redelivery_of_the_same_push_comes_after_its_claim_expired() -> None:
    """Pub/Sub redelivers a failed push after `RETRY_BACKOFF_S[0]`, about doubling each time: the early
    ones meet the claim and are refused; one before the dead-letter topic comes after it expired."""
    ttl = in_progress_ttl_s(GCP_FUNCTION_TIMEOUT_S)
    first, longest = RETRY_BACKOFF_S
    waits = [min(first * 2**k, longest) for k in range(MAX_DELIVERY_ATTEMPTS - 1)]
    arrivals = [sum(waits[: k + 1]) for k in range(len(waits))]  # after the killed delivery
    assert arrivals[0] < ttl  # the first redelivery finds the claim: refused, retried
    assert arrivals[-1] > ttl, arrivals  # the last one takes the claim over
    assert arrivals[-1] / 2 > ttl  # even were Pub/Sub's waits half what doubling gives


def test_no_outbox_runs_the_work_every_time_and_keeps_nothing() -> None:
    work = Work(decided())
    NO_OUTBOX.once("voted", scores(), "BTC-USD", work)
    NO_OUTBOX.once("voted", scores(), "BTC-USD", work)
    assert work.runs == 2
