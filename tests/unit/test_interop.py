"""Interop with an independent JOSE library (jwcrypto), both directions."""

from __future__ import annotations

import json

from _accord_pki import header_for, pki, sealed
from jwcrypto import jwk, jws

from accord.envelope import Verified, cosign, payload_bytes, verify
from accord.envelope.samples import SAMPLES, sample_label
from accord.trust import x5t_s256


def public_jwk(agency: str) -> jwk.JWK:
    return jwk.JWK.from_pyca(pki().signer(agency).certificate.public_key())


def test_accord_envelope_verifies_with_jwcrypto() -> None:
    envelope, _ = sealed()
    both = cosign(envelope, pki().signer("AUS.DFAT"), pki().trust_store())
    for agency in ("JPN.MOFA", "AUS.DFAT"):
        token = jws.JWS()
        token.deserialize(both.decode())
        token.verify(public_jwk(agency), alg="EdDSA")  # raises if no signature verifies
        payload = token.payload
        assert json.loads(payload)["header"]["sender"] == "JPN.MOFA"


def test_jwcrypto_envelope_verifies_with_accord() -> None:
    sample = SAMPLES["accord.strategic-assessment.v1"]
    header = header_for(sample)
    payload = payload_bytes(
        header, sample_label(sample.sender, sample.scope, at=header.issued_at), sample.body
    )
    token = jws.JWS(payload)
    for agency in ("JPN.MOFA", "AUS.DFAT"):
        signer = pki().signer(agency)
        protected = {
            "alg": "EdDSA",
            "kid": signer.kid,
            "typ": "accord+jws",
            "cty": sample.body.TYPE,
            "x5t#S256": x5t_s256(signer.kid),
        }
        token.add_signature(
            jwk.JWK.from_pyca(signer._key), alg="EdDSA", protected=json.dumps(protected)
        )
    raw = token.serialize(compact=False).encode()  # two signatures: general JSON form
    verdict = verify(raw, pki().trust_store(), topic=header.topic)
    assert isinstance(verdict, Verified), verdict
    assert verdict.signers == ("JPN.MOFA", "AUS.DFAT")
    assert verdict.payload == payload
