"""Every log line is one JSON object: Python warnings included, Lightning's chatter left out."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

from inescape.infra.telemetry import configure_logging


@pytest.fixture
def json_logging(capsys):
    """JSON logging to the captured stderr (set up in the test itself: pytest records the
    warnings around each test's call), the previous logging put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield capsys
    logging.captureWarnings(False)
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_python_warning_becomes_one_json_line(json_logging):
    with warnings.catch_warnings():
        configure_logging("INFO", "json")
        warnings.simplefilter("always")
        warnings.warn("the column 'x' is deprecated", DeprecationWarning, stacklevel=1)

    lines = json_logging.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]  # every line parses
    [entry] = [e for e in entries if e["logger"] == "py.warnings"]
    assert entry["level"] == "warning"
    assert "DeprecationWarning: the column 'x' is deprecated" in entry["message"]


def test_a_second_set_up_in_the_same_process_still_captures_warnings(json_logging):
    configure_logging("INFO", "json")  # as a command run in-process leaves it
    # something else takes the warnings over, then logging is set up again
    with warnings.catch_warnings(record=True), warnings.catch_warnings():
        configure_logging("INFO", "json")
        warnings.simplefilter("always")
        warnings.warn("set up twice", UserWarning, stacklevel=1)

    entries = [json.loads(line) for line in json_logging.readouterr().err.splitlines()]
    [captured] = [e for e in entries if e["logger"] == "py.warnings"]
    assert "UserWarning: set up twice" in captured["message"]


def test_lightning_info_banners_are_not_logged_but_its_warnings_are(json_logging):
    configure_logging("INFO", "json")
    import pytorch_lightning  # noqa: F401  # its import sets its loggers to INFO again

    logging.getLogger("pytorch_lightning.utilities.rank_zero").info("GPU available: False, used: False")
    logging.getLogger("pytorch_lightning.trainer").info("💡 Tip: For seamless cloud logging ...")
    logging.getLogger("lightning_fabric.utilities.rank_zero").info("Seed set to 7")
    logging.getLogger("pytorch_lightning.trainer").warning("the dataloader has few workers")

    messages = [json.loads(line)["message"] for line in json_logging.readouterr().err.splitlines()]
    assert messages == ["the dataloader has few workers"]
