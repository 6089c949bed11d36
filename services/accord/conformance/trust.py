"""A trust store from a bundle and pinned root fingerprints (SPEC.md section 4.1).

A CA certificate in the bundle is a root only if its SHA-256 fingerprint is pinned;
CRLs not signed by a pinned root are ignored. Used by the conformance suite's
reference verifier. (The node's own configuration pins roots in the trust package;
the two meet when the branches merge.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509

from accord.errors import PkiError
from accord.trust import TrustStore
from accord.trust.certs import is_ca, kid_of

__all__ = ["pinned_store"]

_PEM_BLOCK = re.compile(
    rb"-----BEGIN (CERTIFICATE|X509 CRL)-----\r?\n.+?-----END \1-----", re.DOTALL
)


def pinned_store(bundle: bytes | Path, roots: Iterable[str]) -> TrustStore:
    """A TrustStore trusting exactly the pinned roots found in ``bundle``.

    Raises PkiError when a pinned fingerprint names no CA certificate of the bundle
    (a configuration error, not a verdict).
    """
    data = bundle.read_bytes() if isinstance(bundle, Path) else bundle
    pinned = {r.lower() for r in roots}
    certs: list[x509.Certificate] = []
    crls: list[x509.CertificateRevocationList] = []
    try:
        for match in _PEM_BLOCK.finditer(data):
            if match.group(1) == b"CERTIFICATE":
                certs.append(x509.load_pem_x509_certificate(match.group(0)))
            else:
                crls.append(x509.load_pem_x509_crl(match.group(0)))
    except ValueError as exc:
        raise PkiError(f"bundle has an unreadable PEM block: {exc}") from None
    store = TrustStore()
    found: set[str] = set()
    for cert in certs:
        if is_ca(cert) and kid_of(cert) in pinned:
            found.add(store.add_root(cert))
    missing = pinned - found
    if missing:
        raise PkiError(f"pinned roots not in the bundle: {sorted(missing)}",
                       hint="pin the SHA-256 of each root certificate's DER, lower-case hex")
    for crl in crls:
        try:
            store.add_crl(crl)
        except PkiError:
            continue  # not signed by a pinned root: ignored (SPEC 4.1)
    for cert in certs:
        if not is_ca(cert):
            store.add_certificate(cert)
    return store
