"""Step-up against the in-memory fakes: grants from the password, a TOTP code or a recovery code,
bound to the session; the authenticator's enrolment; the reveal spending a grant."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.unit.fakes import (
    FakeAttemptStore,
    FakeClock,
    FakeDataKeys,
    FakeRevealLog,
    FakeStepUpStore,
    FakeUserStore,
    FakeVaultStore,
    Tables,
)
from tests.unit.vault.test_vault_logic import ASHA, ASHA_AADHAAR, CLIENT, MAX_FAILURES, PASSWORD, REVEAL_TTL, register
from vaultpay.core.errors import (
    AccountLocked,
    SecondFactorIncorrect,
    StepUpFailed,
    StepUpRequired,
    TotpAlreadyEnabled,
    TotpNotPending,
)
from vaultpay.core.grants import hash_grant
from vaultpay.identity.lockout import LoginGuard, LoginLimits
from vaultpay.vault.logic import StepUpService, VaultService, seal_aadhaar, totp_code, totp_step
from vaultpay.vault.models import RevealAadhaarRequest, StepUpRequest, TotpEnrolment

SESSION = "session-1"
GRANT_TTL = 300


@pytest.fixture
def totp_keys() -> FakeDataKeys:
    return FakeDataKeys(key_id="arn:aws:kms:ap-south-1:111122223333:key/totp")


@pytest.fixture
def guard(failures: FakeAttemptStore, clock: FakeClock) -> LoginGuard:
    limits = LoginLimits(
        free_failures=MAX_FAILURES,
        base_delay_seconds=1,
        max_delay_seconds=300,
        pair_max_failures=MAX_FAILURES,
        address_max_failures=20,
        window_seconds=900,
    )
    return LoginGuard(store=failures, limits=limits, clock=clock)


@pytest.fixture
def service(tables: Tables, totp_keys: FakeDataKeys, guard: LoginGuard, clock: FakeClock, password_hash: str) -> StepUpService:
    register(tables, FakeDataKeys(), ASHA, ASHA_AADHAAR, password_hash, clock)
    return StepUpService(
        profiles=FakeUserStore(tables),
        store=FakeStepUpStore(tables),
        totp_keys=totp_keys,
        login_guard=guard,
        clock=clock,
        grant_ttl_seconds=GRANT_TTL,
    )


@pytest.fixture
def vault(service: StepUpService, tables: Tables, guard: LoginGuard, clock: FakeClock) -> VaultService:
    data_keys = FakeDataKeys()
    tables.vault[ASHA] = seal_aadhaar(ASHA_AADHAAR, ASHA, data_keys)
    return VaultService(
        profiles=FakeUserStore(tables),
        reveals=FakeRevealLog(tables),
        sealed=FakeVaultStore(tables),
        data_keys=data_keys,
        login_guard=guard,
        clock=clock,
        reveal_event_ttl_seconds=REVEAL_TTL,
        step_ups=FakeStepUpStore(tables),
    )


def password_grant(service: StepUpService, session_id: str = SESSION) -> str:
    return service.step_up(ASHA, session_id, CLIENT, StepUpRequest(password=PASSWORD)).grant


def secret_of(enrolment: TotpEnrolment) -> str:
    return parse_qs(urlparse(enrolment.secret_uri).query)["secret"][0]


def enrol(service: StepUpService, clock: FakeClock) -> tuple[str, list[str]]:
    """Given Asha with an authenticator enrolled and confirmed: its secret and recovery codes."""
    enrolment = service.begin_totp(ASHA, SESSION, password_grant(service))
    secret = secret_of(enrolment)
    service.confirm_totp(ASHA, CLIENT, totp_code(secret, totp_step(clock.now)))
    clock.advance(seconds=30)
    return secret, enrolment.recovery_codes


# ---------------------------------------------------------------- grants
def test_the_password_earns_a_grant_bound_to_the_session_stored_as_a_hash(service: StepUpService, tables: Tables) -> None:
    granted = service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(password=PASSWORD))
    assert granted.expires_in == GRANT_TTL
    ((owner, stored_hash), stored) = next(iter(tables.grants.items()))
    assert (owner, stored_hash, stored.session_id, stored.method) == (ASHA, hash_grant(granted.grant), SESSION, "password")
    assert granted.grant not in repr(tables.snapshot())


def test_a_wrong_password_earns_nothing_and_counts_toward_the_login_lockout(
    service: StepUpService, tables: Tables, failures: FakeAttemptStore
) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(StepUpFailed):
            service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(password="not her password"))
    assert tables.grants == {}
    with pytest.raises(AccountLocked):
        service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(password=PASSWORD))


def test_enrolment_needs_a_grant_and_is_pending_until_a_code_confirms_it(
    service: StepUpService, tables: Tables, totp_keys: FakeDataKeys, clock: FakeClock
) -> None:
    with pytest.raises(StepUpRequired):
        service.begin_totp(ASHA, SESSION, None)
    enrolment = service.begin_totp(ASHA, SESSION, password_grant(service))
    assert enrolment.secret_uri.startswith("otpauth://totp/")
    assert enrolment.qr_svg.lstrip().startswith("<svg")
    assert len(set(enrolment.recovery_codes)) == 10
    # The secret is sealed for Asha with purpose totp, never stored in the clear
    assert totp_keys.generated == [{"purpose": "totp", "user_id": ASHA}]
    assert secret_of(enrolment) not in repr(tables.totp)
    # While pending, the password still steps up and a TOTP code does not
    password_grant(service)
    with pytest.raises(StepUpRequired):
        service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(totp="123456"))
    # A wrong code does not confirm it; the right one does
    secret = secret_of(enrolment)
    right = totp_code(secret, totp_step(clock.now))
    with pytest.raises(SecondFactorIncorrect):
        service.confirm_totp(ASHA, CLIENT, "000000" if right != "000000" else "111111")
    status = service.confirm_totp(ASHA, CLIENT, right)
    assert (status.enabled, status.recovery_codes_left) == (True, 10)
    with pytest.raises(TotpNotPending):
        service.confirm_totp(ASHA, CLIENT, right)
    # Enrolling again while one is active is refused (it would replace the factor)
    next_code = totp_code(secret, totp_step(clock.now) + 1)
    with pytest.raises(TotpAlreadyEnabled):
        service.begin_totp(ASHA, SESSION, service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(totp=next_code)).grant)


def test_once_enrolled_the_password_alone_no_longer_steps_up(service: StepUpService, clock: FakeClock) -> None:
    enrol(service, clock)
    with pytest.raises(StepUpRequired) as required:
        service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(password=PASSWORD))
    assert required.value.methods == ("totp", "recovery_code")


def test_a_totp_code_steps_up_once_and_cannot_be_reused(
    service: StepUpService, clock: FakeClock, tables: Tables, failures: FakeAttemptStore
) -> None:
    secret, _ = enrol(service, clock)
    code = totp_code(secret, totp_step(clock.now))
    service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(totp=code))
    # The same code again (replayed by whoever saw it) is refused, and counts as a failure
    with pytest.raises(SecondFactorIncorrect):
        service.step_up(ASHA, "another-session", CLIENT, StepUpRequest(totp=code))
    assert failures.get_streak(f"{ASHA}@example.com") is not None
    # So is the previous step's code, still inside the drift window
    with pytest.raises(SecondFactorIncorrect):
        service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(totp=totp_code(secret, totp_step(clock.now) - 1)))
    # The next step's code is accepted
    clock.advance(seconds=30)
    service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(totp=totp_code(secret, totp_step(clock.now))))
    assert len(tables.grants) == 2


def test_a_recovery_code_works_once(service: StepUpService, clock: FakeClock, tables: Tables) -> None:
    _, codes = enrol(service, clock)
    service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(recovery_code=codes[0].upper().replace("-", " ")))
    with pytest.raises(SecondFactorIncorrect):
        service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(recovery_code=codes[0]))
    factor = service.store.get_totp(ASHA)
    assert factor is not None
    assert factor.recovery_codes_left == 9
    service.step_up(ASHA, SESSION, CLIENT, StepUpRequest(recovery_code=codes[1]))


def test_a_step_up_request_carries_exactly_one_proof() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        StepUpRequest(password=PASSWORD, totp="123456")
    with pytest.raises(ValueError, match="exactly one"):
        StepUpRequest()


# ---------------------------------------------------------------- the reveal
def test_the_reveal_spends_a_grant_of_the_session(vault: VaultService, service: StepUpService, tables: Tables) -> None:
    grant = password_grant(service)
    revealed = vault.reveal(ASHA, "request-1", CLIENT, RevealAadhaarRequest(), session_id=SESSION, step_up_grant=grant)
    assert revealed.aadhaar == ASHA_AADHAAR
    assert tables.grants == {}
    with pytest.raises(StepUpRequired):
        vault.reveal(ASHA, "request-2", CLIENT, RevealAadhaarRequest(), session_id=SESSION, step_up_grant=grant)


def test_the_reveal_refuses_a_grant_of_another_session_before_decrypting(
    vault: VaultService, service: StepUpService, tables: Tables
) -> None:
    grant = password_grant(service, session_id="the-owners-session")
    before = tables.snapshot()
    with pytest.raises(StepUpRequired):
        vault.reveal(ASHA, "request-1", CLIENT, RevealAadhaarRequest(), session_id="the-thiefs-session", step_up_grant=grant)
    assert tables.snapshot() == before
    assert vault.data_keys.unwrapped == []  # type: ignore[attr-defined]


def test_the_reveal_takes_the_password_only_while_no_authenticator_is_enrolled(
    vault: VaultService, service: StepUpService, clock: FakeClock
) -> None:
    assert vault.reveal(ASHA, "request-1", CLIENT, RevealAadhaarRequest(password=PASSWORD)).aadhaar == ASHA_AADHAAR
    with pytest.raises(StepUpRequired):
        vault.reveal(ASHA, "request-2", CLIENT, RevealAadhaarRequest())
    enrol(service, clock)
    with pytest.raises(StepUpRequired) as required:
        vault.reveal(ASHA, "request-3", CLIENT, RevealAadhaarRequest(password=PASSWORD))
    assert required.value.methods == ("totp", "recovery_code")


def test_an_expired_grant_reveals_nothing(vault: VaultService, service: StepUpService, clock: FakeClock) -> None:
    grant = password_grant(service)
    clock.advance(seconds=GRANT_TTL)
    with pytest.raises(StepUpRequired):
        vault.reveal(ASHA, "request-1", CLIENT, RevealAadhaarRequest(), session_id=SESSION, step_up_grant=grant)
