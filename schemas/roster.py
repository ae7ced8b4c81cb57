"""The roster schema: every Glance rule on a roster, in one place (glance-api.md section 3).

``build_schema(roles)`` returns a pandera ``DataFrameSchema`` over the all-text frame that
``bulk_provision.roster.read.read_roster`` produces. Columns marked ``required=True`` must exist
in the file; every column refuses control characters (``<Column>.control``; tab is allowed in
names); each column's ``title`` is its name in plain words and its ``description`` explains it for
the template's Notes sheet. Unknown columns are allowed (they are carried through to the results).

A schema of your own (``validate --schema FILE``) is a Python file defining
``build_schema(roles: Sequence[str] | None) -> pandera.pandas.DataFrameSchema``; it may reuse the
rules of :mod:`schemas.checks`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandera.pandas as pa

from . import checks

ACTIONS = ("create", "update", "suspend", "reinstate", "delete")
AUDIO_PROVIDERS = ("1", "666")


FREE_TEXT = ("UserFirst", "UserLast")  # tab allowed (DESIGN.md section 11)
# no bidirectional controls either: they reorder what Excel shows; names may need them
IDENTIFYING = ("PartnerUserID", "UserAddress", "UserEmail", "UserRole", "AudioProvider", "Action")


def _column(
    rules: Sequence[checks.Rule], *, required: bool, title: str, description: str
) -> pa.Column:
    name = rules[0].column
    allow = "\t" if name in FREE_TEXT else ""
    control = checks.control_characters(name, allow=allow, secret=name == "UserPW",
                                        bidi=name in IDENTIFYING)
    return pa.Column(
        checks=[rule.check() for rule in [*rules, control]],
        required=required,
        nullable=False,
        title=title,
        description=description,
    )


def build_schema(roles: Sequence[str] | None = None) -> pa.DataFrameSchema:
    """The roster rules; ``roles`` (when given) is the list UserRole must come from."""
    role_rules = [checks.max_length("UserRole", 70)]
    if roles:
        role_rules.append(checks.known_role("UserRole", list(roles)))
    columns = {
        "PartnerUserID": _column(
            [checks.required("PartnerUserID"), checks.max_length("PartnerUserID", 255),
             checks.unique("PartnerUserID", longest=255)],
            required=True, title="Employee ID",
            description="Your own unique ID for the person (employee number, badge...). "
            "Required, at most 255 characters, once per file. Leading zeros are kept.",
        ),
        "UserAddress": _column(
            [checks.required("UserAddress"), checks.address_characters("UserAddress"),
             checks.address_ends("UserAddress"), checks.max_length("UserAddress", 127),
             checks.unique("UserAddress", ignore_case=True, longest=127)],
            required=True, title="Glance Address",
            description="The person's Glance address, e.g. jane.doe.example.glance.net. "
            "Required, at most 127 characters: letters, digits, '.' and '-' only, not starting "
            "or ending with '.' or '-'. Once per file (upper/lower case count as the same).",
        ),
        "UserPW": _column(
            [checks.length_between("UserPW", 8, 49)], required=False, title="Password",
            description="Optional. If given, 8 to 49 characters. Leave empty for people who "
            "only sign in through single sign-on. Never shown in any report.",
        ),
        "UserFirst": _column(
            [checks.max_length("UserFirst", 49)], required=False, title="First Name",
            description="Optional given name, at most 49 characters.",
        ),
        "UserLast": _column(
            [checks.max_length("UserLast", 49)], required=False, title="Last Name",
            description="Optional surname, at most 49 characters.",
        ),
        "UserEmail": _column(
            [checks.max_length("UserEmail", 127), checks.email_syntax("UserEmail")],
            required=False, title="Email",
            description="Optional email address, at most 127 characters, like name@example.com.",
        ),
        "UserRole": _column(
            role_rules, required=False, title="Role",
            description="Optional role, at most 70 characters. It must already exist in your "
            "Glance group. Empty or -none- means no role.",
        ),
        "AudioProvider": _column(
            [checks.one_of("AudioProvider", AUDIO_PROVIDERS)], required=False,
            title="Audio Provider",
            description="Optional. 1 = Glance Free Conferencing, 666 = test account. "
            "Leave empty for no audio-conferencing account.",
        ),
        "Action": _column(
            [checks.one_of("Action", ACTIONS)], required=False, title="Action",
            description="Optional: create, update, suspend, reinstate or delete. Empty means "
            "the run's mode decides. delete cannot be undone.",
        ),
    }
    return pa.DataFrameSchema(columns, strict=False, name="roster")
