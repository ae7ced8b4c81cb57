"""``--notify TARGET``: tell someone how a run ended (DESIGN.md section 10).

Targets (``--notify``, repeatable, or ``notify = [...]`` in the config file):

* ``https://...``: POST the summary document (``summary_doc.py``) as JSON. TLS is verified with
  the same CA options as the Glance connection (``--ca-bundle`` / ``GLANCE_CA_BUNDLE``, else the
  usual trust store); redirects are not followed; a refused connection, a timeout, 429 or 5xx is
  tried once more while time is left. ``http://`` is refused.
* ``mailto:ADDRESS``: a short email (the ending, the counts, the failed rows) with the results
  workbook attached, through the config file's SMTP server: ``smtp_host``, ``smtp_port``,
  ``smtp_security`` (``starttls``, the default, or ``tls``), ``smtp_user``, ``smtp_from``. The
  password comes only from ``GLANCE_SMTP_PASSWORD``. Nothing is sent unencrypted: a server that
  does not offer STARTTLS is a failed notification.

Every target is tried in its own thread and the whole is bounded by ``notify_timeout`` seconds
(default 10) plus a moment: a receiver that hangs never holds the run. A notification that fails
becomes one line for the command to print; it never changes the run's exit code or its files.
A failure line names a webhook by its scheme and host only: a URL's path often holds a token.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bulk_provision import __version__
from bulk_provision.errors import ConfigError, UsageError
from bulk_provision.settings.config import Settings

DEFAULT_TIMEOUT = 10.0
SECURITY = ("starttls", "tls")
DEFAULT_PORTS = {"starttls": 587, "tls": 465}
MAX_ATTACHMENT = 20 * 1024 * 1024  # most mail servers refuse more
MAX_MAIL_ROWS = 50
WORKBOOK_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass(frozen=True)
class Target:
    """One ``--notify`` target: ``https`` with its URL, or ``mailto`` with its address."""

    kind: str
    value: str

    def __str__(self) -> str:
        if self.kind == "mailto":
            return f"mailto:{self.value}"
        parts = urlsplit(self.value)
        return f"https://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def parse_target(text: str) -> Target:
    """``https://...`` or ``mailto:ADDRESS``; anything else is a UsageError."""
    text = text.strip()
    lowered = text.lower()
    if lowered.startswith("mailto:"):
        address = text[len("mailto:"):]
        name, parsed = parseaddr(address)
        if not parsed or "@" not in parsed or parsed != address or any(c in address for c in
                                                                        "\r\n,;"):
            raise UsageError(f"--notify {text}: write mailto:ADDRESS with one email address")
        return Target("mailto", address)
    if lowered.startswith("https://"):
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        if not host:
            raise UsageError(f"--notify {Target('https', text)}: not a valid https:// URL")
        return Target("https", text)
    if lowered.startswith("http://"):
        raise UsageError("--notify http://...: notifications go over https:// only")
    raise UsageError("--notify: give https://... or mailto:ADDRESS")


@dataclass(frozen=True)
class Smtp:
    """The SMTP server of ``mailto:`` targets (config file, password from the environment)."""

    host: str
    port: int
    security: str
    sender: str
    user: str = ""
    password: str = field(default="", repr=False)


def smtp_from_settings(values: Mapping[str, Any], env: Mapping[str, str]) -> Smtp:
    """The ``smtp_*`` settings; ConfigError naming what is missing or wrong."""
    host = str(values.get("smtp_host") or "").strip()
    if not host:
        raise ConfigError("--notify mailto: needs smtp_host (and smtp_from) in the config file")
    security = str(values.get("smtp_security") or "starttls").lower()
    if security not in SECURITY:
        raise ConfigError(f"smtp_security must be starttls or tls, not {security!r}")
    port = int(values.get("smtp_port") or DEFAULT_PORTS[security])
    if not 0 < port < 65536:
        raise ConfigError(f"smtp_port {port} is out of range")
    user = str(values.get("smtp_user") or "")
    sender = str(values.get("smtp_from") or (user if "@" in user else ""))
    if "@" not in parseaddr(sender)[1] or any(c in sender for c in "\r\n"):
        raise ConfigError("set smtp_from in the config file to the address the email comes from")
    password = env.get("GLANCE_SMTP_PASSWORD", "")
    if user and not password:
        raise ConfigError("smtp_user is set: put its password in GLANCE_SMTP_PASSWORD")
    return Smtp(host, port, security, sender, user, password)


@dataclass
class Notifier:
    """The run's targets, checked before the run starts; :meth:`send` at its end."""

    targets: Sequence[Target]
    smtp: Smtp | None = None
    ca_bundle: str | Path | None = None
    timeout: float = DEFAULT_TIMEOUT

    def send(self, document: Mapping[str, Any], attachment: Path | None = None) -> list[str]:
        """Notify every target; returns one line per failed notification (empty: all sent)."""
        failures: dict[Target, str] = {}
        threads = []
        for target in self.targets:
            thread = threading.Thread(target=self._one, args=(target, document, attachment,
                                                              failures),
                                      name="notify", daemon=True)
            thread.start()
            threads.append((target, thread))
        deadline = time.monotonic() + self.timeout + 2
        for target, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                failures.setdefault(target, f"no answer within {self.timeout:g} s")
        return [f"notification to {t} failed: {failures[t]}; the run's results are unchanged"
                for t, _ in threads if t in failures]

    def _one(self, target: Target, document: Mapping[str, Any], attachment: Path | None,
             failures: dict[Target, str]) -> None:
        try:
            if target.kind == "https":
                post_json(target.value, document, ca_bundle=self.ca_bundle,
                          timeout=self.timeout)
            else:
                assert self.smtp is not None
                send_mail(self.smtp, target.value, document, attachment,
                          ca_bundle=self.ca_bundle, timeout=self.timeout)
        except NotifyError as exc:
            failures[target] = str(exc)
        except Exception as exc:  # noqa: BLE001 - a notification never ends the command
            failures[target] = f"{type(exc).__name__}: {_scrub(str(exc), self.smtp)}"


def notifier_from(
    settings: Settings, env: Mapping[str, str], *, targets: Sequence[str] | None = None,
    ca_bundle: str | None = None,
) -> Notifier | None:
    """The notifier of a run: ``targets`` (``--notify``) or else the config file's ``notify``;
    None without any. A bad target, missing SMTP settings or a bad ``notify_timeout`` is a
    UsageError/ConfigError, raised before the run does any work. ``env`` is the environment
    over the config file's connection keys (``Settings.environment``)."""
    texts: Any = targets or settings.get("notify") or []
    texts = [texts] if isinstance(texts, str) else texts
    if not texts:
        return None
    parsed = [parse_target(str(text)) for text in texts]
    smtp = None
    if any(target.kind == "mailto" for target in parsed):
        smtp = smtp_from_settings(settings.values, env)
    timeout = float(settings.get("notify_timeout", DEFAULT_TIMEOUT))
    if not 0 < timeout <= 120:
        raise ConfigError("notify_timeout must be more than 0 and at most 120 seconds")
    return Notifier(parsed, smtp, ca_bundle or env.get("GLANCE_CA_BUNDLE") or None, timeout)


class NotifyError(Exception):
    """A notification that could not be delivered (one line, no secret)."""


def post_json(
    url: str, document: Mapping[str, Any], *, ca_bundle: str | Path | None, timeout: float
) -> None:
    """POST ``document``; one more try after a refused connection, a timeout, 429 or 5xx."""
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": f"bulk-provision/{__version__}"}
    deadline = time.monotonic() + timeout
    problem, attempts = f"no answer within {timeout:g} s", 0
    while attempts < 2 and (left := deadline - time.monotonic()) > 0.05:
        attempts += 1
        try:
            answer = requests.post(url, data=body, headers=headers,
                                   verify=str(ca_bundle) if ca_bundle else True,
                                   timeout=(min(left, 5.0), left), allow_redirects=False,
                                   stream=True)  # the answer's body is never read whole
        except requests.exceptions.SSLError:
            raise NotifyError("its certificate is not trusted (see --ca-bundle)") from None
        except requests.exceptions.Timeout:
            problem = f"no answer within {timeout:g} s"
            continue
        except requests.exceptions.RequestException as exc:
            problem = f"cannot connect ({type(exc).__name__})"
            continue
        answer.close()  # only the status line and headers were read: no body in memory
        if 200 <= answer.status_code < 300:
            return
        problem = f"HTTP {answer.status_code}"
        if 300 <= answer.status_code < 400:
            raise NotifyError(f"{problem}: redirects are not followed, give the final URL")
        if answer.status_code != 429 and answer.status_code < 500:
            raise NotifyError(problem)
    raise NotifyError(f"{problem} (tried twice)" if attempts == 2 else problem)


def send_mail(
    smtp: Smtp,
    address: str,
    document: Mapping[str, Any],
    attachment: Path | None,
    *,
    ca_bundle: str | Path | None,
    timeout: float,
) -> None:
    """One email through ``smtp``, always encrypted (STARTTLS or TLS) and verified."""
    message = mail_message(smtp.sender, address, document, attachment)
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    try:
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout,
                                                    context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with client:
            if smtp.security == "starttls":
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise NotifyError("the SMTP server does not offer STARTTLS; nothing was sent")
                client.starttls(context=context)
                client.ehlo()
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        reason = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        raise NotifyError(f"the SMTP server said {exc.smtp_code} {_scrub(reason, smtp)}") from None
    except smtplib.SMTPRecipientsRefused:
        raise NotifyError("the SMTP server refused the recipient") from None
    except ssl.SSLError as exc:
        raise NotifyError(f"TLS with the SMTP server failed ({exc.reason})") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(f"cannot reach the SMTP server {smtp.host}:{smtp.port} "
                          f"({type(exc).__name__})") from None


def mail_message(
    sender: str, address: str, document: Mapping[str, Any], attachment: Path | None
) -> EmailMessage:
    """The email: the ending in the subject, counts and rows in the body, the workbook."""
    message = EmailMessage()
    roster = Path(str(document.get("roster") or "")).name or "bulk-provision"
    roster = "".join(c if c.isprintable() else "?" for c in roster)  # a header holds one line
    message["Subject"] = (f"bulk-provision {roster}: {document['ending']} "
                          f"(exit code {document['exit_code']})")
    message["From"] = sender
    message["To"] = address
    message.set_content(mail_text(document, attachment))
    if attachment is not None and attachment.is_file():
        data = attachment.read_bytes()
        if len(data) <= MAX_ATTACHMENT:
            message.add_attachment(data, maintype=WORKBOOK_TYPE[0], subtype=WORKBOOK_TYPE[1],
                                   filename=attachment.name)
    return message


def mail_text(document: Mapping[str, Any], attachment: Path | None) -> str:
    lines = [f"Roster: {document.get('roster')}", f"Mode: {document.get('mode')}",
             f"Endpoint: {document.get('endpoint')}",
             f"Ending: {document['ending']} (exit code {document['exit_code']}: "
             f"{document['exit_meaning']})"]
    if document.get("message"):
        lines.append(f"Message: {document['message']}")
    lines += ["", "Rows per outcome:"]
    lines += [f"  {name:<14} {count:>7}" for name, count in document["counts"].items() if count]
    rows = document.get("rows", [])
    if rows:
        lines += ["", "Rows to look at (row, key, outcome, message):"]
        lines += [f"  {r['row'] or '-'}  {r['key']}  {r['outcome']}  {r['message']}"
                  for r in rows[:MAX_MAIL_ROWS]]
        more = len(rows) - MAX_MAIL_ROWS + int(document.get("rows_left_out", 0))
        if more > 0:
            lines.append(f"  ... and {more} more: see the results workbook")
    files = {k: v for k, v in document.get("files", {}).items() if v}
    if files:
        lines += ["", "Files:"] + [f"  {name}: {path}" for name, path in files.items()]
    if attachment is not None and attachment.is_file():
        too_big = attachment.stat().st_size > MAX_ATTACHMENT
        lines += ["", f"The results workbook {'is too big to attach' if too_big else 'is attached'}"
                      f" ({attachment.name})."]
    return "\n".join(lines) + "\n"


def _scrub(text: str, smtp: Smtp | None) -> str:
    if smtp is not None and smtp.password:
        text = text.replace(smtp.password, "***")
    return text
