"""The Aadhaar vault: sealed entries (read side; entries are written in the registration transaction)
and the KMS data keys that wrap them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vaultpay.dal import items as keys
from vaultpay.dal.dynamo import error_code, read_item
from vaultpay.errors import VaultIntegrityError
from vaultpay.models.records import DataKey, SealedAadhaar


class DynamoVaultStore:
    def __init__(self, client: Any, vault_table: str) -> None:
        self._client = client
        self._vault = vault_table

    def get(self, user_id: str) -> SealedAadhaar | None:
        data = read_item(self._client, self._vault, {"pk": keys.user_pk(user_id)})
        if data is None:
            return None
        return SealedAadhaar(
            key_id=data["key_id"],
            wrapped_key=data["wrapped_key"],
            nonce=data["nonce"],
            ciphertext=data["ciphertext"],
            algorithm=data["algorithm"],
        )


class KmsDataKeys:
    """Data keys from KMS (AES-256), bound to an encryption context."""

    def __init__(self, client: Any, key_arn: str) -> None:
        self._client = client
        self._key_arn = key_arn

    def generate(self, context: dict[str, str]) -> DataKey:
        response = self._client.generate_data_key(KeyId=self._key_arn, KeySpec="AES_256", EncryptionContext=context)
        return DataKey(key_id=response["KeyId"], plaintext=response["Plaintext"], wrapped=response["CiphertextBlob"])

    def unwrap(self, key_id: str, wrapped: bytes, context: dict[str, str]) -> bytes:
        try:
            response = self._client.decrypt(KeyId=key_id, CiphertextBlob=wrapped, EncryptionContext=context)
        except ClientError as error:
            if error_code(error) in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise VaultIntegrityError() from None
            raise
        return bytes(response["Plaintext"])
