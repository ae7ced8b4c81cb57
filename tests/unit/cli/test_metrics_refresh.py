"""Issue 21: ``--metrics-file`` is refreshed at each progress interval while rows are sent, so
a monitor sees a long run in progress (and how far it is), not only its end."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulk_provision.cli import monitoring
from bulk_provision.cli.monitoring import Monitor, RefreshedMetrics
from bulk_provision.cli.progress import QuietProgress
from bulk_provision.model import ActionKind, Outcome, RowResult


def samples(path: Path) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            found[(sample.name, sample.labels.get("outcome", ""))] = sample.value
    return found


def test_the_metrics_file_is_rewritten_each_interval_with_the_rows_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(monitoring.time, "monotonic", lambda: now[0])
    path = tmp_path / "run.prom"
    monitor = Monitor(metrics_file=path)
    progress = RefreshedMetrics(QuietProgress(), monitor, interval=10)
    progress.start(5)
    created = RowResult("1", 2, ActionKind.CREATE, Outcome.CREATED)
    failed = RowResult("2", 3, ActionKind.CREATE, Outcome.FAILED, "INVALID: x")
    progress.result(created)
    assert not path.exists()  # within the first interval: nothing written yet
    now[0] += 10
    progress.result(failed)
    shown = samples(path)
    assert shown[("bulk_provision_running", "")] == 1
    assert shown[("bulk_provision_rows", "created")] == 1
    assert shown[("bulk_provision_rows", "failed")] == 1
    assert shown[("bulk_provision_rows_planned", "")] == 5
    assert ("bulk_provision_exit_code", "") not in shown  # still running
    now[0] += 3
    progress.result(created)
    assert samples(path)[("bulk_provision_rows", "created")] == 1  # not yet the next interval
    now[0] += 7
    progress.result(created)
    assert samples(path)[("bulk_provision_rows", "created")] == 3
    progress.close()  # passed through to the display
