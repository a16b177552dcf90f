"""CloudWatch alarms as the owner's events: what SNS delivers to the telegram_webhook function when an
alarm changes state (Records[].Sns.Message, the alarm's JSON: AlarmName, NewStateValue, StateChangeTime,
Trigger.MetricName, Trigger.Dimensions). Only a change into ALARM is told:

* `Cycles` in Coinswarm's namespace (the heartbeat alarm: no cycle for three periods) -> a heartbeat;
* `ApproximateNumberOfMessagesVisible` of a dead-letter queue -> a dead letter, naming the queue.

Each event's key is the alarm and the time it changed state, so SNS's own redelivery is told once. Pure."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from coinswarm.notify.events import Event, dead_letter_event, heartbeat_event


def _ts(text: str) -> int:
    """`2015-06-03T17:43:27.123+0000` -> epoch seconds (0 when unreadable)."""
    try:
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp())
    except (TypeError, ValueError):
        return 0


def alarm_events(event: dict[str, Any], *, last_cycle_ts: int | None, periods: int) -> list[Event]:
    out: list[Event] = []
    for record in event.get("Records", []):
        try:
            alarm = json.loads(record["Sns"]["Message"])
        except (KeyError, TypeError, ValueError):
            continue
        if not isinstance(alarm, dict) or alarm.get("NewStateValue") != "ALARM":
            continue
        trigger = alarm.get("Trigger") or {}
        metric = trigger.get("MetricName")
        changed = _ts(str(alarm.get("StateChangeTime", "")))
        if metric == "Cycles":
            heartbeat = heartbeat_event(last_cycle_ts, periods=periods, ts=changed)
            out.append(
                Event(
                    heartbeat.kind,
                    f"heartbeat:{alarm.get('AlarmName')}:{changed}",
                    heartbeat.title,
                    heartbeat.lines,
                    changed,
                )
            )
        elif metric == "ApproximateNumberOfMessagesVisible":
            dims = {d.get("name"): d.get("value") for d in trigger.get("Dimensions") or [] if isinstance(d, dict)}
            queue = str(dims.get("QueueName") or alarm.get("AlarmName") or "a queue")
            out.append(
                dead_letter_event(
                    queue, f"{alarm.get('AlarmName')}@{changed}", error=str(alarm.get("NewStateReason", "")), ts=changed
                )
            )
    return out
