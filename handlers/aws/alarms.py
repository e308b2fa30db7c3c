"""Reading CloudWatch alarm states (metric and composite alarms alike)."""

from __future__ import annotations

from handlers.aws.clients import client

ALL_ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]


def alarm_states(names: tuple[str, ...] | list[str], cloudwatch=None) -> dict[str, str]:
    """``{name: StateValue}`` for the alarms that exist; one call for up to 100 names."""
    if not names:
        return {}
    found = (cloudwatch or client("cloudwatch")).describe_alarms(AlarmNames=list(names), AlarmTypes=ALL_ALARM_TYPES,
                                                 MaxRecords=100)
    return {alarm["AlarmName"]: alarm["StateValue"] for kind in ("MetricAlarms", "CompositeAlarms")
            for alarm in found.get(kind, [])}
