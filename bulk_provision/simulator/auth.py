"""Partner authentication: PartnerLogin with PartnerPW, or a LoginKey in PartnerAuth.

glance-api.md section 2 leaves open what PartnerID is for; the simulator follows the inference
there: PartnerAuth is a LoginKey over (PartnerID, the admin's own PartnerUserID) under the
group's API key, and PartnerID must name this group.
"""

from __future__ import annotations

import hmac
import time

from bulk_provision.glance.loginkey import verify_login_key
from bulk_provision.simulator.config import SimulatorConfig
from bulk_provision.simulator.models import ApiError
from bulk_provision.simulator.rules import Params, given

MAX_KEY_TTL = 86400  # Glance refuses LoginKeys expiring more than one day ahead
CLOCK_SKEW = 300


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def check_partner(params: Params, config: SimulatorConfig) -> None:
    """Raise ApiError("AUTH") unless the request carries valid partner credentials."""
    login = (given(params, "PartnerLogin") or "").strip()
    if not login or login.lower() != config.partner_login.lower():
        raise ApiError("AUTH", "PartnerLogin is not an active administrator of this group")
    partner_id = given(params, "PartnerID")
    if partner_id is not None and partner_id.strip() and partner_id.strip() != config.partner_id:
        raise ApiError("AUTH", "PartnerID does not match this group")
    password = given(params, "PartnerPW") or ""
    key = given(params, "PartnerAuth") or ""
    if password:
        if not _same(password, config.partner_pw):
            raise ApiError("AUTH", "PartnerPW is wrong")
        return
    if not key:
        raise ApiError("AUTH", "PartnerPW or PartnerAuth is required")
    if not (partner_id or "").strip():
        raise ApiError("AUTH", "PartnerID is required with PartnerAuth")
    valid = verify_login_key(
        key.strip(),
        config.partner_id,
        config.admin_partner_user_id,
        config.api_key,
        now=time.time(),
        max_ttl=MAX_KEY_TTL,
        skew=CLOCK_SKEW,
    )
    if not valid:
        raise ApiError("AUTH", "PartnerAuth is not a valid, unexpired LoginKey")
