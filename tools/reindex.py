"""Re-index: rebuild the Aadhaar uniqueness guards from the vault, with the KMS index key.

For every vault entry: decrypt the number (KMS Decrypt of its data key, AES-GCM), compute its
MAC with the index key (KMS GenerateMac), and write the guard ``AADHAAR#<mac>`` / ``AADHAAR``
holding nothing but its type, on condition that it is not there yet. Then delete every guard of
the old format: those holding a user id, and those no vault entry accounts for (made with the
old Secrets Manager key, or any earlier key). Safe to re-run, and to run while people register:
the guards are listed before the vault is, and a registration writes its guard and its vault
entry in one transaction, so no guard it makes can look unaccounted for.

    python -m tools.reindex                 # the running local stack (make reindex)
    python -m tools.reindex --stack vaultpay-prod [--region ap-south-1]   # a deployed stack

On AWS only the vault function may decrypt and only the identity function may compute the
index, by the keys' own policies. Run it as the break-glass role (assumed with MFA) during a
maintenance window: deploy with ``BreakGlassDataAccess=true``, re-index, deploy again with
``false``. Prints counts and, for numbers registered twice, the user ids; never a number or a MAC.
Exits 1 when some entry could not be indexed or a number is in the vault twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from local.stack import ServiceEndpoints
from local.template import ROOT
from vaultpay.core import table as keys
from vaultpay.core.dynamo import error_code, marshal, unmarshal
from vaultpay.core.errors import VaultIntegrityError
from vaultpay.vault.kms import KmsDataKeys, KmsIndexMac
from vaultpay.vault.logic import aadhaar_index, open_aadhaar
from vaultpay.vault.models import SealedAadhaar
from vaultpay.vault.ports import DataKeyProvider, IndexMac

GUARD_PREFIX = keys.aadhaar_pk("")


@dataclass
class Report:
    entries: int = 0
    written: int = 0
    already_there: int = 0
    old_guards_deleted: int = 0
    unreadable: list[str] = field(default_factory=list)  # user ids whose entry could not be opened
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # user ids sharing one number

    @property
    def clean(self) -> bool:
        return not self.unreadable and not self.duplicates

    def render(self) -> str:
        lines = [
            "VaultPay Aadhaar re-index",
            f"  vault entries        {self.entries}",
            f"  guards written       {self.written}",
            f"  guards already there {self.already_there}",
            f"  old guards deleted   {self.old_guards_deleted}",
        ]
        lines.extend(f"  - vault entry of user {user_id} could not be opened (integrity)" for user_id in self.unreadable)
        lines.extend(f"  - users {first} and {second} hold the same Aadhaar number" for first, second in self.duplicates)
        lines.append("OK: every vault entry has its guard, and no guard holds anything else" if self.clean else "FAILED")
        return "\n".join(lines)


def _scan(client: Any, table: str, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True, **kwargs):
        found.extend(unmarshal(item) for item in page["Items"])
    return found


def _aadhaar_guards(client: Any, main_table: str) -> list[dict[str, Any]]:
    return _scan(
        client,
        main_table,
        FilterExpression="begins_with(#pk, :prefix) AND #sk = :sk",
        ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
        ExpressionAttributeValues=marshal({":prefix": GUARD_PREFIX, ":sk": keys.AADHAAR_SK}),
    )


def _put_guard(client: Any, main_table: str, index: str) -> bool:
    """Write the guard; False when it was there already. An old-format item at the same key
    (a user id beside it) is replaced by the bare guard."""
    guard = marshal(keys.aadhaar_guard(index))
    try:
        client.put_item(TableName=main_table, Item=guard, ConditionExpression="attribute_not_exists(PK)")
        return True
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
    try:
        client.put_item(TableName=main_table, Item=guard, ConditionExpression="attribute_exists(user_id)")
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
    return False


def reindex(client: Any, main_table: str, vault_table: str, data_keys: DataKeyProvider, index_mac: IndexMac) -> Report:
    report = Report()
    # The guards first, then the vault: a guard written by a registration in between comes with its
    # vault entry (one transaction), which the vault scan then sees.
    guards_before = _aadhaar_guards(client, main_table)
    owners: dict[str, str] = {}
    for entry in _scan(client, vault_table):
        report.entries += 1
        user_id = keys.user_id_of(entry["pk"])
        sealed = SealedAadhaar(
            key_id=entry["key_id"],
            wrapped_key=entry["wrapped_key"],
            nonce=entry["nonce"],
            ciphertext=entry["ciphertext"],
            algorithm=entry["algorithm"],
        )
        try:
            index = aadhaar_index(open_aadhaar(sealed, user_id, data_keys), index_mac)
        except VaultIntegrityError:
            report.unreadable.append(user_id)
            continue
        if index in owners:
            report.duplicates.append((owners[index], user_id))
            continue
        owners[index] = user_id
        if _put_guard(client, main_table, index):
            report.written += 1
        else:
            report.already_there += 1
    for guard in guards_before:
        index = str(guard[keys.PK]).removeprefix(GUARD_PREFIX)
        if index in owners:
            continue  # the current format, written or kept above
        try:
            client.delete_item(
                TableName=main_table,
                Key=marshal(keys.key(guard[keys.PK], guard[keys.SK])),
                ConditionExpression="attribute_exists(PK)",
            )
            report.old_guards_deleted += 1
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
    return report


@dataclass(frozen=True)
class Target:
    dynamodb: Any
    kms: Any
    main_table: str
    vault_table: str
    vault_key_arn: str
    index_key_arn: str


def _local_target(state_dir: Path) -> Target:
    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        sys.exit("the local stack is not running: start it with `make run`")
    info = json.loads(stack_file.read_text())
    endpoints = ServiceEndpoints(**info["endpoints"])
    resources = info["resources"]
    return Target(
        dynamodb=endpoints.client("dynamodb"),
        kms=endpoints.client("kms"),
        main_table=resources["MainTable"],
        vault_table=resources["VaultTable"],
        vault_key_arn=resources["VaultKey.Arn"],
        index_key_arn=resources["AadhaarIndexKey.Arn"],
    )


def _deployed_target(stack_name: str, region: str | None) -> Target:
    stack = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    return Target(
        dynamodb=boto3.client("dynamodb", region_name=region),
        kms=boto3.client("kms", region_name=region),
        main_table=outputs["MainTableName"],
        vault_table=outputs["VaultTableName"],
        vault_key_arn=outputs["VaultKeyArn"],
        index_key_arn=outputs["AadhaarIndexKeyArn"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="a deployed stack's name (default: the running local stack)")
    parser.add_argument("--region")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local")
    args = parser.parse_args()
    target = _deployed_target(args.stack, args.region) if args.stack else _local_target(args.state_dir)
    report = reindex(
        target.dynamodb,
        target.main_table,
        target.vault_table,
        KmsDataKeys(target.kms, target.vault_key_arn),
        KmsIndexMac(target.kms, target.index_key_arn),
    )
    print(report.render())
    sys.exit(0 if report.clean else 1)


if __name__ == "__main__":
    main()
