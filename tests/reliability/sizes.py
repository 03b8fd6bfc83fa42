"""How big the reliability suite runs: reduced in `make test`, full in `make stress`.

``VAULTPAY_RELIABILITY_SIZE=full`` (set by `make stress`, i.e. ``python -m tests.reliability.stress``)
scales every part of the suite at once: the bank workload, the state machine, the fuzzer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SIZE_ENV = "VAULTPAY_RELIABILITY_SIZE"


class _SizeSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    size: Literal["reduced", "full"] = Field(default="reduced", validation_alias=SIZE_ENV)


@dataclass(frozen=True)
class Sizes:
    name: str
    bank_clients: int
    bank_accounts: int
    bank_transfers: int
    bank_fault_transfers: int
    fault_scale: int  # each fault rule fires this many times its planned count
    stateful_examples: int
    stateful_steps: int
    fuzz_examples: int  # per operation and generation mode
    test_timeout_seconds: int


REDUCED = Sizes(
    name="reduced",
    bank_clients=8,
    bank_accounts=5,
    bank_transfers=150,
    bank_fault_transfers=120,
    fault_scale=1,
    stateful_examples=12,
    stateful_steps=20,
    fuzz_examples=15,
    test_timeout_seconds=300,
)
FULL = Sizes(
    name="full",
    bank_clients=16,
    bank_accounts=10,
    bank_transfers=1500,
    bank_fault_transfers=1000,
    fault_scale=6,
    stateful_examples=100,
    stateful_steps=40,
    fuzz_examples=200,
    test_timeout_seconds=1800,
)


def current_sizes() -> Sizes:
    return FULL if _SizeSettings().size == "full" else REDUCED


SIZES = current_sizes()
