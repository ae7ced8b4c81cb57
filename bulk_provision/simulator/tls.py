"""A throwaway certificate authority and server certificate, minted at start-up with trustme."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")


class Certificates:
    """A fresh CA whose PEM is written to a private temporary directory, and a server context.

    ``close()`` removes the directory; the CA exists only for this simulator's lifetime.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="glance-sim-")
        ca = trustme.CA(organization_name="bulk-provision simulator (test only)")
        self.ca_bundle = Path(self._dir.name) / "simulator-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        ca.issue_cert(*SERVER_NAMES).configure_cert(self.context)

    def close(self) -> None:
        self._dir.cleanup()
