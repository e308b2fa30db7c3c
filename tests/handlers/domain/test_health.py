"""Health verdicts from alarm states."""

from handlers.domain.health import already_firing, judge


def test_all_ok_is_healthy_and_conclusive():
    verdict = judge(["a", "b"], {"a": "OK", "b": "OK"})
    assert verdict.healthy and not verdict.inconclusive and verdict.reason == "all watched alarms OK"


def test_an_alarm_without_data_is_inconclusive_by_default_not_a_stop():
    verdict = judge(["a", "b"], {"a": "OK", "b": "INSUFFICIENT_DATA"})
    assert verdict.healthy and verdict.inconclusive
    assert verdict.without_data == ("b",) and verdict.reason == "alarm b has insufficient data"


def test_an_alarm_without_data_may_count_as_unhealthy():
    verdict = judge(["a", "b"], {"a": "OK", "b": "INSUFFICIENT_DATA"}, insufficient_data="unhealthy")
    assert not verdict.healthy and not verdict.inconclusive and "b has insufficient data" in verdict.reason


def test_an_alarm_without_data_may_count_as_healthy_as_it_did_before():
    verdict = judge(["a", "b"], {"a": "OK", "b": "INSUFFICIENT_DATA"}, insufficient_data="healthy")
    assert verdict.healthy and not verdict.inconclusive and verdict.reason == "all watched alarms OK"


def test_a_firing_alarm_stops_whatever_the_other_alarms_lack():
    verdict = judge(["a", "b"], {"a": "ALARM", "b": "INSUFFICIENT_DATA"}, insufficient_data="healthy")
    assert not verdict.healthy and not verdict.inconclusive and verdict.firing == ("a",)


def test_an_ignored_alarm_without_data_is_not_counted():
    assert not judge(["a", "b"], {"a": "INSUFFICIENT_DATA", "b": "OK"}, ignored=["a"]).inconclusive


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
