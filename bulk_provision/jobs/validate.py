"""The validate job: read a roster and check every row, optionally writing the problems workbook.

``bulk-provision validate`` and the page's validation (and its "Download report") both call
:func:`validate_job`; ``run`` and ``plan`` validate through the same ``load_and_validate``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bulk_provision.errors import UsageError
from bulk_provision.glance.api import GlanceApi
from bulk_provision.plan.planner import load_and_validate
from bulk_provision.report.validation_report import write_validation_report
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import ValidationResult
from bulk_provision.settings.spec import JobSpec


def validate_job(
    spec: JobSpec, api: GlanceApi | None = None, *, report: Path | None = None,
    stop: threading.Event | None = None,
) -> tuple[Roster, ValidationResult]:
    """Read ``spec``'s roster and validate it (against the roles ShowRoles lists too when
    ``spec.check_roles`` and ``api`` is given); with ``report``, also write the workbook of the
    problems there."""
    roster, result = load_and_validate(spec, api, stop)
    if report is not None:
        try:
            write_validation_report(report, roster, result)
        except OSError as exc:
            raise UsageError(f"cannot write {report}: {exc.strerror or exc}") from exc
    return roster, result
