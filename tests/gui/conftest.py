"""Fixtures shared by the widget tests."""

import pytest

from gui.document import GraphDocument
from tests.conftest import ROOT


@pytest.fixture
def lenet(qapp) -> GraphDocument:
    """graphs/lenet5.yaml as a fresh document."""
    return GraphDocument.open(ROOT / "graphs" / "lenet5.yaml")
