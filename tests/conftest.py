from __future__ import annotations

from pathlib import Path

import pytest

from surveys.model import Survey
from surveys.validation import load_survey

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "surveys" / "examples"


@pytest.fixture(scope="session")
def water() -> Survey:
    return load_survey(HERE / "data" / "water.yaml")
