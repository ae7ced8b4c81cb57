"""The page's words for what the engine and Glance name in codes: the roster's fields, the
validation rules (``UserRole.known``) and Glance's error codes (``NO_ROLE: ...``). The code
itself stays one click away for IT (the templates put it in a disclosure)."""

from __future__ import annotations

import re

FIELDS = {  # Glance field -> what an HR admin calls it
    "PartnerUserID": "Employee ID",
    "UserFirst": "First name",
    "UserLast": "Last name",
    "UserEmail": "Email",
    "UserAddress": "Glance user name",
    "UserRole": "Role",
    "AudioProvider": "Audio provider",
    "UserPW": "Password",
    "Action": "Action (create, update, suspend...)",
}

RULES = {  # the end of a rule id -> what is wrong with the cell
    "required": "is empty",
    "zeros": "lost its leading zeros",
    "length": "is too long",
    "ends": "starts or ends with . or -",
    "characters": "has characters Glance does not allow",
    "format": "is not an email address",
    "value": "is not one of the allowed values",
    "known": "is not one of the roles set up for this tool",
    "glance": "is not a role in your Glance group",
    "unique": "is used by more than one row",
    "control": "has invisible control characters",
    "password": "looks like a password column",
    "lookup": "is not in the recipe's list",
}

GLANCE = {  # a Glance error code -> what it means for the person
    "NO_ROLE": "The role is not set up in your Glance group: check its spelling in the roster, "
               "or ask your Glance administrator to add it",
    "DUPLICATE_ADDRESS": "Someone else in Glance already has this Glance user name: give this "
                         "person another one",
    "DUPLICATE_ID": "Glance already has someone with this Employee ID",
    "NOT_FOUND": "Glance has no one with this Employee ID",
    "MISSING": "A value Glance needs is empty in the roster",
    "INVALID": "Glance refused a value in this row",
    "AUTH": "Glance refused the sign-in: ask IT to check the credentials",
}
_CODED = re.compile(r"([A-Z][A-Z_]{2,}): ?(.*)", re.DOTALL)


def field_words(field: str) -> str:
    return FIELDS.get(field, field)


def rule_words(rule: str) -> str:
    """``UserRole.known`` -> "Role is not a role your Glance group has"; a rule this table
    does not know (or a message standing for one) is returned as it is."""
    column, _, check = rule.rpartition(".")
    if not column or check not in RULES:
        return rule
    return f"{field_words(column)} {RULES[check]}"


def glance_words(message: str) -> tuple[str, str]:
    """(what it means, the technical detail or "") of a row's message from the engine: a
    Glance error code is put in words, and the code with Glance's text is the detail."""
    coded = _CODED.fullmatch(message.strip())
    if coded is None or coded.group(1) not in GLANCE:
        return message, ""
    words = GLANCE[coded.group(1)]
    if coded.group(1) == "INVALID" and coded.group(2):
        words = f"{words}: {coded.group(2)}"
    return words, message
