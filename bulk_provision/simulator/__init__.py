"""A local HTTPS Glance PAPI server for tests, the demo and rehearsals (DESIGN.md section 7)."""

from bulk_provision.simulator.config import SimulatorConfig
from bulk_provision.simulator.core import Simulator
from bulk_provision.simulator.models import ApiError, RequestRecord, SimUser

__all__ = ["ApiError", "RequestRecord", "SimUser", "Simulator", "SimulatorConfig"]
