"""moto's server (KMS, Secrets Manager, SQS) for the local stack, with KMS keys that survive restarts.

moto keeps its state in memory and makes key material from os.urandom, so a restarted server
could no longer unwrap the data keys of Aadhaar numbers already in DynamoDB Local (which
persists), nor verify the access tokens it signed before. With ``--state-file``, this launcher
saves every KMS key (id, material, the private key of an asymmetric one, aliases) as it appears
and recreates it, same id, same material, before serving again. Local only: the file holds key
material, lives under the git-ignored .local/, and ``make reset`` deletes it. It also makes
moto's ``Sign`` honour ``MessageType=DIGEST`` as KMS does (local.moto_kms).

    python -m local.moto_server --port 4566 [--state-file .local/state/kms.json]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from moto.kms.models import kms_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local.moto_kms import honour_digest_signing
from local.template import ACCOUNT_ID

_PERSIST_INTERVAL_SECONDS = 0.25


def _private_key_pem(key: Any) -> str | None:
    """The private half of an asymmetric key (PKCS#8 PEM); None for a symmetric or HMAC key."""
    if key.key_usage != "SIGN_VERIFY":
        return None
    private_key = key.private_key.private_key
    pem: bytes = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


def _snapshot(backend: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": key.id,
            "material": base64.b64encode(key.key_material).decode(),
            "private_key": _private_key_pem(key),
            "description": key.description,
            "key_usage": key.key_usage,
            "key_spec": key.key_spec,
            "rotation": key.key_rotation_status,
            "aliases": sorted(key.aliases),
        }
        for key in backend.keys.values()
    ]


def restore_keys(backend: Any, saved: list[dict[str, Any]]) -> None:
    """Recreate saved keys with their original ids and material (moto internals, pinned version)."""
    for entry in saved:
        key = backend.create_key(
            policy=None,
            key_usage=entry["key_usage"],
            key_spec=entry["key_spec"],
            description=entry["description"],
            tags=None,
        )
        del backend.keys[key.id]
        key.id = entry["id"]
        key.arn = f"arn:aws:kms:{key.region}:{key.account_id}:key/{key.id}"
        key.key_material = base64.b64decode(entry["material"])
        if entry.get("private_key"):
            key.private_key.private_key = serialization.load_pem_private_key(entry["private_key"].encode(), password=None)
        key.key_rotation_status = entry.get("rotation", False)
        backend.keys[key.id] = key
        for alias in entry["aliases"]:
            backend.create_alias(key.id, alias)


def _write_atomically(path: Path, data: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.chmod(temporary, 0o600)
    temporary.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "ap-south-1"))
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    honour_digest_signing()
    backend = kms_backends[ACCOUNT_ID][args.region]
    if args.state_file and args.state_file.exists():
        restore_keys(backend, json.loads(args.state_file.read_text(encoding="utf-8")))

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"moto listening on 127.0.0.1:{args.port}", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    last_saved: list[dict[str, Any]] | None = None
    while not stopped.wait(_PERSIST_INTERVAL_SECONDS):
        if args.state_file is None:
            continue
        current = _snapshot(backend)
        if current != last_saved:
            args.state_file.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(args.state_file, current)
            last_saved = current
    server.stop()


if __name__ == "__main__":
    main()
