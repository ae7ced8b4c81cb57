"""Does an unrecognised header name a password column? (DESIGN.md section 11)

A roster may carry passwords under a header the tool does not know ("Temporary Password - expires
in 7 days", "Hasło", "Пароль"); such a column must be a validation problem and masked
everywhere, never carried in clear to the results. The rule, in this order:

1. Fold the header: accents dropped (NFKD), letters that do not decompose mapped ("ł" -> "l",
   "ø" -> "o", "ß" -> "ss"), split into words at spaces, punctuation, digits and camelCase
   ("TempPW" is "Temp PW"), compared without case.
2. It names a password when a word is a password word in one of many languages (password, pw,
   pwd, passcode, kennwort, contraseña, senha, mot de passe, wachtwoord, lösenord, salasana,
   parola, heslo, hasło, jelszó, passord, lozinka, şifre, ...), when the squashed header contains
   an unmistakable one ("InitialPassword", "пароль", "密码", "パスワード", "비밀번호", ...), or when
   "pass" stands alone or with a word such as temp, initial, new, default, user, first or login
   ("Temp Pass"; "Parking Pass", "Passport Number", "Compass" and "Bypass" are not passwords).
3. It is exempt only when the whole header describes something about the password that cannot
   hold one: "Password Hint", "Password Last Changed", "Password Expiry Date", "Must Change
   Password", "Password Reset Required", "Last Password Change", "Password Never Expires"...
   (:data:`_EXEMPT`). A helper word somewhere in the header is not enough: "Initial Password
   (change at first login)" and "Temporary Password - expires in 7 days" hold passwords.

When in doubt it flags: the admin maps the column with ``--columns`` (to UserPW, or any column)
or renames it. A header mapped by ``--columns`` is never checked.
"""

from __future__ import annotations

import re
import unicodedata

# letters NFKD does not split into a base letter and an accent
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss",
                       "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i", "þ": "th"})

_PASSWORD_WORDS = frozenset({
    "password", "passwords", "passwort", "passwd", "pwd", "pw", "passcode", "passphrase",
    "kennwort", "wachtwoord", "senha", "contrasena", "contrasenya", "salasana", "haslo",
    "losenord", "losen", "motdepasse", "mdp", "heslo", "jelszo", "parola", "parool", "passord",
    "adgangskode", "kodeord", "lozinka", "geslo", "slaptazodis", "sifre",
})
# unmistakable inside a longer word or a script written without spaces
_PASSWORD_PARTS = (
    "password", "passwort", "passwd", "kennwort", "wachtwoord", "contrasena", "losenord",
    "salasana", "motdepasse", "adgangskode", "slaptazodis", "haslo", "jelszo",
    "пароль", "парола", "лозинка", "密码", "密碼", "口令", "パスワード", "暗証番号", "비밀번호",
    "암호", "סיסמה", "סיסמא", "كلمةالمرور", "كلمةالسر", "رمزعبور", "รหัสผ่าน", "κωδικοςπροσβασης",
)
# "pass" is a password with one of these (or alone): "Temp Pass", "User Pass", "Pass"
_PASS_WITH = frozenset({
    "temp", "temporary", "tmp", "initial", "init", "new", "default", "user", "first", "login",
    "logon", "account", "onetime", "one", "time", "start", "starter", "welcome", "my", "your",
})

# Whole headers about the password that cannot hold one; "pw" stands for any password word.
_EXEMPT = re.compile(r"""
    (?:pw\ (?:hint|reminder|question|policy|length|strength|status|age|type|flag|count|score
           |complexity|requirements?|rules?))
  | (?:pw\ (?:last\ )?(?:changed|updated|modified|set|reset)(?:\ (?:date|on|at|time|when))?)
  | (?:pw\ (?:expiry|expiration|expires|expired|expire)(?:\ (?:date|on|at|time|in\ days|days))?)
  | (?:pw\ (?:never\ expires|does\ not\ expire|expires\ never))
  | (?:(?:date\ )?(?:of\ )?(?:last\ )?pw\ (?:change|reset|expiry|expiration|update)
       (?:\ (?:date|time|required|needed|due))?)
  | (?:(?:user\ )?must\ change\ pw(?:\ at\ (?:next|first)\ (?:logon|login|sign\ in))?)
  | (?:pw\ (?:change|reset)\ (?:required|needed|due))
  | (?:change\ pw\ at\ (?:next\ )?(?:logon|login))
  | (?:(?:requires?|required)\ pw\ (?:change|reset))
  | (?:pw\ (?:not\ )?required)
  | (?:pw\ must\ change)
""", re.VERBOSE)

_CHUNK = re.compile(r"[^\W\d_]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def header_words(header: str) -> list[str]:
    """The folded words of ``header`` (rule 1 of the module docstring)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", header.translate(_FOLD))
                    if not unicodedata.combining(c))
    words: list[str] = []
    for chunk in _CHUNK.findall(plain):
        parts = _CAMEL.findall(chunk) if chunk.isascii() else [chunk]
        words.extend(part.casefold() for part in parts)
    return words


def looks_like_password(header: str) -> bool:
    """True when ``header`` reads like a password column (see the module docstring)."""
    words = header_words(header)
    squashed = "".join(words)
    if "motdepasse" in squashed:
        words = ["pw" if w in ("mot", "de", "passe") else w for w in words]
    named = (any(w in _PASSWORD_WORDS for w in words)
             or any(part in squashed for part in _FOLDED_PARTS)
             or ("pass" in words and (len(words) == 1 or not _PASS_WITH.isdisjoint(words))))
    if not named:
        return False
    shape = " ".join("pw" if w in _PASSWORD_WORDS or w == "pass" else w for w in words)
    return _EXEMPT.fullmatch(_collapse(shape)) is None


_FOLDED_PARTS = tuple("".join(header_words(part)) for part in _PASSWORD_PARTS)


def _collapse(shape: str) -> str:
    """One "pw" for "mot de passe" folded to "pw pw pw"."""
    return re.sub(r"\bpw(?: pw)+\b", "pw", shape)
