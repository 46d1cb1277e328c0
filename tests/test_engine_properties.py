"""Whatever a person sends, the engine answers and its state stays JSON."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.engine import start, step

KEYWORDS = st.sampled_from(["STOP", "HELP", "SKIP", "BACK", "LANG", "lang 9", "1", "2 3", "yes",
                            "৫", "start", ""])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(st.lists(st.one_of(st.text(), KEYWORDS), max_size=12), st.sampled_from(["en", "sw", "bn"]),
       st.booleans())
def test_engine_never_raises_and_state_is_json(water, texts, lang, consent):
    result = start(water, lang, ask_consent=consent)
    for text in texts:
        state = json.loads(json.dumps(result.state))
        result = step(water, state, text)
        assert json.loads(json.dumps(result.state)) == result.state
        assert result.replies or result.state["status"] in ("stopped",)
        for answer in result.answers:
            json.dumps(answer.value)
