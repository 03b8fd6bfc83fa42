"""The vault's KMS adapters: AES-256 data keys bound to an encryption context, and the index MAC."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vaultpay.core.dynamo import error_code
from vaultpay.core.errors import VaultIntegrityError
from vaultpay.vault.models import DataKey


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


class KmsIndexMac:
    """HMAC-SHA256 by KMS (GenerateMac) under an HMAC_256 key: the key material never leaves KMS,
    so a MAC can be computed only by a principal the key policy allows, and never offline."""

    ALGORITHM = "HMAC_SHA_256"

    def __init__(self, client: Any, key_arn: str) -> None:
        self._client = client
        self._key_arn = key_arn

    def mac(self, message: bytes) -> bytes:
        response = self._client.generate_mac(KeyId=self._key_arn, Message=message, MacAlgorithm=self.ALGORITHM)
        return bytes(response["Mac"])
