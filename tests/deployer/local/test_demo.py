"""``lambda-deployer local demo``: the canary succeeds, the alarm's own event rolls the next deployment back."""

import io

from deployer.local import demo


def test_the_demo_deploys_then_rolls_back_and_prints_a_timeline():
    out = io.StringIO()
    assert demo.run(out) == 0
    text = out.getvalue()
    v2, v3 = text.split("deploy v3", 1)
    assert "20% → version 2, 80% → version 1" in v2 and "=> SUCCEEDED" in v2
    assert "now alias live: version 2 100%" in v2
    assert "orders-api-errors → ALARM" in v3 and "=> ABORTED RollbackRequested" in v3
    assert "requested by alarm orders-api-errors" in v3  # the alarm's own event, long before a check
    assert "RestoreVersion     alias live → version 2 (all traffic)" in v3 and "=> rollback SUCCEEDED" in v3
    after_v2, after_v3 = (next(line for line in part.splitlines() if line.strip().startswith("now "))
                          for part in (v2, v3))
    assert after_v3 == after_v2  # back exactly where v2 left it: alias, tag and $LATEST
