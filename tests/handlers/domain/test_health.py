"""Health verdicts from alarm states."""

from handlers.domain.health import already_firing, judge


def test_all_ok_or_without_data_is_healthy():
    verdict = judge(["a", "b"], {"a": "OK", "b": "INSUFFICIENT_DATA"})
    assert verdict.healthy and verdict.reason == "all watched alarms OK"


def test_an_alarm_in_alarm_is_unhealthy_and_named():
    verdict = judge(["a", "b"], {"a": "OK", "b": "ALARM"})
    assert not verdict.healthy and verdict.firing == ("b",) and "b in ALARM" in verdict.reason


def test_a_vanished_alarm_is_unhealthy_because_its_signal_is_gone():
    verdict = judge(["a", "b"], {"a": "OK"})
    assert not verdict.healthy and verdict.missing == ("b",)


def test_ignored_alarms_do_not_count_but_the_others_still_do():
    assert judge(["a", "b"], {"a": "ALARM", "b": "OK"}, ignored=["a"]).healthy
    assert not judge(["a", "b"], {"a": "ALARM", "b": "ALARM"}, ignored=["a"]).healthy


def test_already_firing_lists_alarms_in_alarm():
    assert already_firing({"x": "ALARM", "y": "OK", "w": "ALARM"}) == ("w", "x")
