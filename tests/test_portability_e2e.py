"""Issue 21, acceptance: a nurse registered and recognised in Lima moves to Quito. Two real
deployments on loopback (`ruta serve`, each its own databases: SQLite files, or PostgreSQL
databases when RUTA_TEST_DATABASE=postgresql), a Peruvian and an Ecuadorian one, each listing
the other in RUTA_PEER_DEPLOYMENTS."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.identity.devtokens import mint_dev_token
from shared.identity import Identity, Role
from shared.settings import Settings
from tests.support.databases import IS_POSTGRES, TempDatabases
from tests.support.live import ROOT, RUTA, free_port, server_env, serving
from tests.support.payloads import profile_payload

pytestmark = pytest.mark.slow


def _peer(id_: str, country: str, port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {"id": id_, "country": country, "issuer": base,
            "jwks_url": f"{base}/v1/transfers/jwks.json",
            "inbound_url": f"{base}/v1/inbound/{'ruta-ec' if country == 'PE' else 'ruta-pe'}"}


@contextmanager
def _deployment(data_dir: Path, port: int, me: str, country: str, peers: list[dict[str, str]],
                secrets: dict[str, str] | None = None) -> Iterator[tuple[str, Settings]]:
    """The deployment's base URL, and its settings as this process needs them (to mint
    tokens against its gateway database)."""
    data_dir.mkdir()
    stack = ExitStack()
    urls = _databases(stack, data_dir, country)
    env = {**server_env(data_dir, port), **urls,
           "RUTA_DEPLOYMENT_ID": me,
           "RUTA_PEER_CALLBACK_SECRETS": json.dumps(secrets or {}),
           "RUTA_DEPLOYMENT_COUNTRY": country,
           "RUTA_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "RUTA_PEER_DEPLOYMENTS": json.dumps(peers)}
    with stack:
        subprocess.run([RUTA, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        with serving(env, data_dir / "serve.log", port) as base:
            yield base, Settings(data_dir=data_dir, **{
                k.removeprefix("RUTA_").lower(): v for k, v in urls.items()})


def _databases(stack: ExitStack, data_dir: Path, country: str) -> dict[str, str]:
    """On PostgreSQL, each deployment its own throw-away databases (dropped on exit); on
    SQLite, none: the deployment keeps its files in its data directory."""
    if not IS_POSTGRES:
        return {}
    dbs = TempDatabases(data_dir, f"border{country.lower()}")
    urls = asyncio.run(dbs.create())
    stack.callback(lambda: asyncio.run(dbs.drop()))
    return {f"RUTA_{name.upper()}_DATABASE_URL": url for name, url in urls.items()}


def _token(settings: Settings, role: Role, org: str | None, region: str | None
           ) -> dict[str, str]:
    identity = Identity(subject=f"{org}-{role.value}", role=role, organisation_id=org,
                        regions=frozenset({region} if region else ()), kind="user")
    token = asyncio.run(mint_dev_token(settings, identity))
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def two_countries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("border")
    pe_port, ec_port = free_port(), free_port()
    pe_peer, ec_peer = _peer("ruta-pe", "PE", pe_port), _peer("ruta-ec", "EC", ec_port)
    with ExitStack() as stack:
        pe, pe_conf = stack.enter_context(_deployment(root / "pe", pe_port, "ruta-pe", "PE",
                                                     [ec_peer]))
        # Lima's admin lets Quito call back: an inbound source named after the peer
        admin = _token(pe_conf, Role.ADMIN, None, None)
        org = httpx.post(pe + "/v1/organisations", headers=admin, json={
            "id": "ruta-ec", "name": "Ruta de Empleabilidad — Ecuador", "kind": "ministry",
            "country": "PE", "regions": ["PE-LMA"]})
        assert org.status_code == 201, org.text
        source = httpx.post(pe + "/v1/inbound-sources", headers=admin, json={
            "id": "ruta-ec", "name": "Ruta — despliegue de Ecuador", "organisation_id": "ruta-ec"})
        assert source.status_code == 201, source.text
        ec, ec_conf = stack.enter_context(_deployment(
            root / "ec", ec_port, "ruta-ec", "EC", [pe_peer],
            {"ruta-pe": source.json()["secret"]}))
        yield {"pe": pe, "ec": ec, "logs": (pe_conf.data_dir / "serve.log",
                                                       ec_conf.data_dir / "serve.log"),
               "lima": _token(pe_conf, Role.CASEWORKER, "ong-lima", "PE-LMA"),
               "quito": _token(ec_conf, Role.CASEWORKER, "ong-quito", "EC-P")}


def _nurse(c: httpx.Client, cw: dict[str, str], number: str, *, transfer: bool = True
           ) -> tuple[str, str]:
    consents = [{"purpose": "credential_sharing", "evidence": "written",
                 "evidence_reference": "F-21"},
                {"purpose": "referral", "recipient_organisation_id": "mtpe-empleo",
                 "evidence": "written", "evidence_reference": "F-21-R"}]
    if transfer:
        consents.append({"purpose": "transfer", "recipient_deployment_id": "ruta-ec",
                         "evidence": "written", "evidence_reference": "F-21-T"})
    person = profile_payload(
        given_names="Yusmary", first_surname="Carrillo", education_level=6,
        education_field="0913", occupation_training="2221", languages=["es"],
        documents=[{"type": "ve_cedula", "number": number, "verification": "seen"},
                   {"type": "pe_cpp", "number": "CPP" + number[1:], "expiry_date": "2029-12-31",
                    "verification": "seen", "authorises_work": True}],
        consents=consents)
    created = c.post("/v1/profiles", json=person, headers=cw)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    degree = c.post("/v1/credentials", headers=cw, json={
        "profile_id": pid, "kind": "academic_degree", "title": "Licenciada en Enfermería",
        "field_isced": "0913", "occupation_isco": "2221",
        "issuer": {"name": "Universidad Central de Venezuela", "country": "VE"}})
    assert degree.status_code == 201, degree.text
    cid, etag = degree.json()["id"], degree.headers["etag"]
    for action in ("see_document", "verify_with_issuer"):
        moved = c.post(f"/v1/credentials/{cid}/transitions", json={"action": action,
                                                                    "reason": "SUNEDU"},
                       headers={**cw, "If-Match": etag})
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]
    return pid, cid


def test_a_nurse_moves_from_lima_to_quito(two_countries: dict[str, Any]) -> None:
    d = two_countries
    with httpx.Client(base_url=d["pe"], timeout=30) as pe, \
            httpx.Client(base_url=d["ec"], timeout=30) as ec:
        pid, cid = _nurse(pe, d["lima"], "V18765432")
        referral = pe.post("/v1/referrals", headers=d["lima"], json={
            "profile_id": pid, "programme_id": "pe-empleo", "provider_id": "mtpe-empleo"})
        assert referral.status_code == 201, referral.text
        prepared = pe.post(f"/v1/profiles/{pid}/portable-record", headers=d["lima"],
                           json={"destination": "ruta-ec"})
        assert prepared.status_code == 200, prepared.text
        record = prepared.json()
        assert record["credentials"] == 1 and record["destination"] == "ruta-ec"
        assert record["legal_basis"]["basis"] == "consent"
        # the person can carry it as a file
        as_file = pe.post(f"/v1/profiles/{pid}/portable-record", headers={
            **d["lima"], "accept": "application/jose"}, json={"destination": "ruta-ec"})
        assert as_file.headers["content-type"].startswith("application/jose")
        assert "attachment" in as_file.headers["content-disposition"]

        # tampered: one character of the ciphertext changed → 422, nothing written
        parts = record["bundle"].split(".")
        parts[3] = parts[3][:-5] + ("A" if parts[3][-5] != "A" else "B") + parts[3][-4:]
        tampered = ec.post("/v1/transfers/import", headers=d["quito"],
                           json={"bundle": ".".join(parts), "region": "EC-P"})
        assert tampered.status_code == 422, tampered.text
        assert tampered.json()["reason"] == "undecryptable"
        assert ec.get("/v1/profiles", headers=d["quito"]).json()["items"] == []

        imported = ec.post("/v1/transfers/import", headers=d["quito"],
                           json={"bundle": record["bundle"], "region": "EC-P"})
        assert imported.status_code == 201, (imported.text, *(
            p.read_text()[-3000:] for p in d["logs"]))
        got = imported.json()
        assert got["imported_from"] == {"deployment": "ruta-pe", "profile_id": pid}
        in_quito = ec.get(f"/v1/profiles/{got['profile_id']}", headers=d["quito"])
        assert in_quito.json()["imported_from"] == got["imported_from"]
        assert got["flagged"] == 0
        [vc] = got["credentials"]
        assert vc["origin_verification"]["status"] == "valid"
        assert vc["local_recognition"]["recommended_body"] == "SENESCYT"
        quito_id = got["profile_id"]
        # Lima heard it through the signed callback: her open referral there is closed
        assert got["origin_notified"] == "notified"
        closed = pe.get(f"/v1/referrals/{referral.json()['id']}", headers=d["lima"]).json()
        assert closed["status"] == "cancelled"
        profile = ec.get(f"/v1/profiles/{quito_id}", headers=d["quito"]).json()
        assert profile["region"] == "EC-P"
        cpp = next(x for x in profile["documents"] if x["type"] == "pe_cpp")
        assert cpp["authorises_work"] is False  # a Peruvian CPP does not let her work here
        # she appears in Quito's worklist, as a transfer to pick up
        worklist = ec.get("/v1/worklist", headers=d["quito"],
                          params={"kind": "transfer_received"})
        assert worklist.status_code == 200, worklist.text
        [item] = worklist.json()["items"]
        assert item["profile_id"] == quito_id and item["kind"] == "transfer_received"
        # replayed: imported once
        again = ec.post("/v1/transfers/import", headers=d["quito"],
                        json={"bundle": record["bundle"], "region": "EC-P"})
        assert again.status_code == 200 and again.json()["replayed"] is True
        assert again.json()["profile_id"] == quito_id
        assert len(ec.get("/v1/profiles", headers=d["quito"]).json()["items"]) == 1

        # a revocation at the origin after the import shows as revoked at the destination
        etag = pe.get(f"/v1/credentials/{cid}", headers=d["lima"]).headers["etag"]
        revoked = pe.post(f"/v1/credentials/{cid}/transitions", headers={
            **d["lima"], "If-Match": etag}, json={"action": "revoke", "reason": "Error"})
        assert revoked.status_code == 200, revoked.text
        verdict = ec.post("/v1/credentials/verify", json={"credential": vc["credential"]})
        assert verdict.json()["status"] == "revoked", verdict.text


def test_withdrawn_consent_is_409_and_an_unknown_peer_is_refused(
        two_countries: dict[str, Any]) -> None:
    d = two_countries
    with httpx.Client(base_url=d["pe"], timeout=30) as pe, \
            httpx.Client(base_url=d["ec"], timeout=30) as ec:
        pid, _ = _nurse(pe, d["lima"], "V17654321")
        consents = pe.get(f"/v1/profiles/{pid}/consents", headers=d["lima"]).json()["items"]
        transfer = next(c for c in consents if c["purpose"] == "transfer")
        withdrawn = pe.post(f"/v1/profiles/{pid}/consents/{transfer['id']}/withdraw",
                            headers={**d["lima"], "If-Match": f'"v{transfer["version"]}"'})
        assert withdrawn.status_code == 200, withdrawn.text
        refused = pe.post(f"/v1/profiles/{pid}/portable-record", headers=d["lima"],
                          json={"destination": "ruta-ec"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("transfer-consent-required")
        assert "ruta-ec" in refused.json()["detail"]
        # a deployment nobody configured
        unknown = pe.post(f"/v1/profiles/{pid}/portable-record", headers=d["lima"],
                          json={"destination": "ruta-co"})
        assert unknown.status_code == 422, unknown.text
        # a bundle that is not ours to open
        junk = ec.post("/v1/transfers/import", headers=d["quito"],
                       json={"bundle": "a" * 30 + ".b.c.d.e", "region": "EC-P"})
        assert junk.status_code == 422, junk.text
