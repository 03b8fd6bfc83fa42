"""Domain exceptions.

Raised by the logic and data-access layers, which know nothing of HTTP. Each one names a
problem ``code`` (the last segment of the problem+json ``type``) and carries a message that
is safe to show to the caller: never a secret, a token, a password or an Aadhaar number.
The HTTP status of each lives in exactly one place: ``vaultpay.core.http.problems``.
"""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    code: str = "domain-error"
    default_detail: str = "The request could not be completed."
    retry_after_seconds: int | None = None  # when retrying (the same request) makes sense

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


# ---------------------------------------------------------------- request shape
class MalformedRequest(DomainError):
    code = "malformed-request"
    default_detail = "The request body is not valid JSON."


class PayloadTooLarge(DomainError):
    code = "payload-too-large"
    default_detail = "The request body is too large."


class MissingIdempotencyKey(DomainError):
    code = "idempotency-key-required"
    default_detail = "This request needs an Idempotency-Key header."


class MalformedIdempotencyKey(DomainError):
    code = "idempotency-key-malformed"
    default_detail = "The Idempotency-Key header must be 8-128 characters of letters, digits, '-', '_', '.' or ':'."


class IdempotencyKeyReused(DomainError):
    code = "idempotency-key-reused"
    default_detail = "This Idempotency-Key was already used with a different request body."


class RequestInFlight(DomainError):
    code = "request-in-flight"
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    retry_after_seconds = 1


class OutcomeUnknown(DomainError):
    """The idempotency store failed: whether the request took effect is not known to the caller."""

    code = "temporarily-unavailable"
    default_detail = "The request could not be completed; retry it with the same Idempotency-Key."
    retry_after_seconds = 1


class InvalidCursor(DomainError):
    code = "invalid-cursor"
    default_detail = "The pagination cursor is not valid for this listing."


# ---------------------------------------------------------------- identity
class WeakPassword(DomainError):
    code = "weak-password"
    default_detail = "The password is too common or too short."


class EmailAlreadyRegistered(DomainError):
    code = "email-taken"
    default_detail = "An account with this e-mail address already exists."


class ReservedEmail(DomainError):
    code = "email-reserved"
    default_detail = "This e-mail address is reserved and cannot be registered."


class AadhaarAlreadyRegistered(DomainError):
    code = "aadhaar-taken"
    default_detail = "An account with this Aadhaar number already exists."


class InvalidCredentials(DomainError):
    code = "invalid-credentials"
    default_detail = "The e-mail address or password is incorrect."


class AccountLocked(DomainError):
    """Too many password checks for this account or from this client address: a delay, not a lock."""

    code = "too-many-attempts"
    default_detail = "Too many failed attempts; try again later."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = max(1, retry_after_seconds)


class InvalidRefreshToken(DomainError):
    code = "invalid-refresh-token"
    default_detail = "The refresh token is invalid, expired or revoked."


class RefreshTokenReused(InvalidRefreshToken):
    """A refresh token was presented twice: its whole family is revoked (RFC 9700, 4.14.2)."""


class Unauthenticated(DomainError):
    code = "unauthenticated"
    default_detail = "A valid access token is required."


class StepUpFailed(DomainError):
    code = "password-incorrect"
    default_detail = "The password is incorrect."


class StepUpRequired(DomainError):
    """The operation needs a fresh proof (a step-up grant), or the proof offered is not one this
    person may use: ``methods`` says which proofs are accepted, ``threshold`` (paise) the transfer
    amount above which a grant is needed, when a transfer asked."""

    code = "step-up-required"
    default_detail = "This needs a fresh proof of who you are: step up first (POST /api/users/step-up/)."

    def __init__(self, detail: str | None = None, *, methods: tuple[str, ...] = (), threshold: int | None = None) -> None:
        super().__init__(detail)
        self.methods = methods
        self.threshold = threshold


class SecondFactorIncorrect(DomainError):
    code = "code-incorrect"
    default_detail = "The code is incorrect, expired or already used."


class TotpAlreadyEnabled(DomainError):
    code = "totp-already-enabled"
    default_detail = "An authenticator app is already enrolled for this account."


class TotpNotPending(DomainError):
    code = "totp-not-pending"
    default_detail = "There is no authenticator enrolment waiting for confirmation: start one first."


class UserNotFound(DomainError):
    code = "user-not-found"
    default_detail = "No such user."


class VaultEntryNotFound(DomainError):
    code = "vault-entry-not-found"
    default_detail = "No Aadhaar number is stored for this account."


# ---------------------------------------------------------------- wallet
class ReceiverNotFound(DomainError):
    code = "receiver-not-found"
    default_detail = "No account is registered with the receiver's e-mail address."


class SelfTransfer(DomainError):
    code = "self-transfer"
    default_detail = "You cannot send money to yourself."


class AmountAboveLimit(DomainError):
    code = "amount-above-limit"
    default_detail = "The amount is above the per-transfer limit."


class InsufficientFunds(DomainError):
    code = "insufficient-funds"
    default_detail = "Your balance is too low for this transfer."

    def __init__(self, reference_id: str | None = None, detail: str | None = None) -> None:
        super().__init__(detail)
        self.reference_id = reference_id


class DailyLimitExceeded(DomainError):
    """The transfer would take the sender past the daily sending limit (a calendar day in IST)."""

    code = "daily-limit-exceeded"

    def __init__(self, *, limit: int, remaining: int, resets_at: datetime) -> None:
        super().__init__(
            "This transfer would exceed your daily sending limit; see 'remaining' for what you can still send today."
        )
        self.limit = limit
        self.remaining = max(0, remaining)
        self.resets_at = resets_at


class ConcurrentUpdate(DomainError):
    code = "concurrent-update"
    default_detail = "The accounts involved were busy with other requests; retry (with the same Idempotency-Key)."


class BalanceChanged(ConcurrentUpdate):
    """The sender's balance was not the one the transfer was conditioned on (the debit names the
    balance it expects, so the receipt's balance is exact without reading it back): decide again
    with the balance the condition saw. Only if that keeps happening does the caller see it."""

    default_detail = "Your account was busy with other requests; retry (with the same Idempotency-Key)."

    def __init__(self, balance: int) -> None:
        super().__init__()
        self.balance = balance


class DuplicateTransaction(DomainError):
    """The transaction's reference already exists: this is a retry of a committed request."""

    code = "duplicate-transaction"
    default_detail = "This transaction was already recorded."


class TransactionNotFound(DomainError):
    code = "transaction-not-found"
    default_detail = "No such transaction."


class StatementNotAvailable(DomainError):
    """A statement of a month that has not begun (IST): there is nothing to state yet."""

    code = "statement-not-available"
    default_detail = "That month has not begun yet: there is no statement for it."


class StatementTooLarge(DomainError):
    """More movements in the month than one statement holds (a Lambda answer is at most 6 MB)."""

    code = "statement-too-large"
    default_detail = "This month has more movements than one statement holds; use the history instead."


# ---------------------------------------------------------------- lending
class LoanNotFound(DomainError):
    code = "loan-not-found"
    default_detail = "No such loan."


class LoanTermsInvalid(DomainError):
    """Terms outside what the platform allows (the rate band, the tenure, the amount, the deadline)."""

    code = "loan-terms-invalid"


class LendingCapExceeded(DomainError):
    """A cap of the NBFC-P2P rules would be passed: ``cap`` names which, ``remaining`` (paise) is the room left."""

    code = "lending-cap-exceeded"

    def __init__(self, detail: str, *, cap: str, limit: int, remaining: int) -> None:
        super().__init__(detail)
        self.cap = cap
        self.limit = limit
        self.remaining = max(0, remaining)


class LoanNotOpen(DomainError):
    code = "loan-not-open"
    default_detail = "This loan request is no longer open to lenders: it is funded, cancelled or past its deadline."


class CommitmentAboveRemaining(DomainError):
    code = "commitment-exceeds-remaining"

    def __init__(self, remaining: int) -> None:
        super().__init__("The amount is more than this request still needs; see 'remaining'.")
        self.remaining = remaining


class CommitmentBelowMinimum(DomainError):
    code = "commitment-below-minimum"

    def __init__(self, minimum: int) -> None:
        super().__init__("The amount is below the smallest commitment; see 'minimum'.")
        self.minimum = minimum


class CommitmentLeavesTooLittle(DomainError):
    """What a commitment would leave unfunded is below the smallest commitment: fund all of it or less."""

    code = "commitment-leaves-too-little"

    def __init__(self, remaining: int, minimum: int) -> None:
        super().__init__("Commit all that remains, or leave at least the smallest commitment for another lender.")
        self.remaining = remaining
        self.minimum = minimum


class OwnLoan(DomainError):
    code = "own-loan"
    default_detail = "You cannot lend to your own loan request."


class AlreadyCommitted(DomainError):
    code = "already-committed"
    default_detail = "You have already committed to this loan request."


class LoanLendersFull(DomainError):
    code = "loan-lenders-full"
    default_detail = "This loan request has as many lenders as a loan may have; the rest must come from them."


class LoanNotCancellable(DomainError):
    code = "loan-not-cancellable"
    default_detail = "Only an open request that is not fully funded can be cancelled, by its borrower."


class LoanChanged(ConcurrentUpdate):
    """The loan was not as the logic read it when its transaction ran: read it again and decide
    again. Only if that keeps happening does the caller see it (a 409 to retry)."""

    default_detail = "The loan was busy with other requests; retry (with the same Idempotency-Key)."


class LoanNotActive(DomainError):
    code = "loan-not-active"
    default_detail = "This loan is not active: there is nothing to repay."


# ---------------------------------------------------------------- integrity
class VaultIntegrityError(DomainError):
    """A vault entry failed to decrypt or authenticate: tampering, a swapped entry, or a key problem."""

    code = "vault-integrity"
    default_detail = "The stored Aadhaar number could not be read."
