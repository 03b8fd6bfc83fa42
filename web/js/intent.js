// The Idempotency-Key discipline of every money-moving action (a payment, a loan request, a
// commitment, a repayment): one key per intended operation, kept until its outcome is known.
import { ApiError } from "./api.js";

// Answers that say nothing about whether it happened: the same operation may be retried under the
// same key. Every other 4xx is a definitive refusal that ends the intended operation.
const UNCERTAIN_STATUSES = new Set([409, 429]);

export function isUncertain(error) {
  return !(error instanceof ApiError) || error.status >= 500 || UNCERTAIN_STATUSES.has(error.status);
}

// Keeps one intended operation's key. `run(attempt)` calls `attempt(key)`: a success or a
// definitive refusal ends the intent (the next run is a new operation with a new key); a network
// failure, 409, 429 or 5xx keeps it (after api.js has retried it already), so running it again
// is a retry of the same operation, which the server performs at most once. If the details are
// edited meanwhile they go under the old key: had the earlier attempt gone through, the server
// refuses them (422 idempotency-key-reused) instead of acting twice.
export function intentKeeper() {
  let key = null;
  return {
    async run(attempt) {
      if (!key) key = crypto.randomUUID();
      try {
        const result = await attempt(key);
        key = null;
        return result;
      } catch (error) {
        if (!isUncertain(error)) key = null;
        throw error;
      }
    },
    get unconfirmed() {
      return key !== null;
    },
  };
}
