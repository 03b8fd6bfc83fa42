// What to tell a person for each problem type the API can answer.

const MESSAGES = {
  "insufficient-funds": "Your balance is too low for this payment.",
  "receiver-not-found": "There is no VaultPay account with that e-mail address.",
  "self-transfer": "You cannot send money to yourself.",
  "amount-above-limit": "That is above the limit for a single payment (₹1,00,000.00).",
  "invalid-credentials": "The e-mail address or password is incorrect.",
  "too-many-attempts": "Too many failed attempts. Please wait and try again.",
  "password-incorrect": "That password is incorrect.",
  "too-many-requests": "Too many requests from this connection. Please wait and try again.",
  "email-reserved": "This e-mail address is reserved. Please use your own address.",
  "email-taken": "An account with this e-mail address already exists.",
  "aadhaar-taken": "An account with this Aadhaar number already exists.",
  "weak-password": "Choose a longer, less common password (at least 8 characters).",
  "concurrent-update": "The payment could not be completed right now. Please try again.",
  "request-in-flight": "This payment is still being processed.",
  "idempotency-key-reused":
    "An earlier attempt of this payment, with different details, may have gone through. Check your history before sending again.",
  "temporarily-unavailable": "VaultPay is temporarily unavailable. Please try again.",
  "step-up-required": "This needs you to confirm it is you.",
  "code-incorrect": "That code is incorrect, expired or already used.",
  "totp-already-enabled": "An authenticator app is already set up for your account.",
  "totp-not-pending": "Start the authenticator setup again.",
  "loan-not-open": "This request is no longer open to lenders: it was funded, withdrawn or has expired.",
  "already-committed": "You have already lent to this request.",
  "own-loan": "You cannot lend to your own request.",
  "loan-not-cancellable": "This request can no longer be withdrawn: it is fully funded or closed.",
  "loan-not-active": "This loan has nothing left to repay.",
  "loan-not-found": "There is no such loan.",
  "loan-lenders-full": "This request has as many lenders as a loan may have.",
  "statement-not-available": "That month has not begun yet.",
  "statement-too-large": "That month has more movements than one statement holds; see the history instead.",
};

const CAPS = {
  lender_total: "what you may lend on the platform in all",
  borrower_total: "what one person may borrow on the platform",
  lender_to_borrower: "what you may lend to one borrower",
};

export function messageFor(error) {
  if ((error?.code === "too-many-attempts" || error?.code === "too-many-requests") && error.retryAfter) {
    // Delays start at a second and grow: say seconds while they are short.
    const lead = error.code === "too-many-attempts" ? "Too many failed attempts." : "Too many requests.";
    if (error.retryAfter < 60) {
      const seconds = Math.ceil(error.retryAfter);
      return `${lead} Try again in ${seconds} second${seconds === 1 ? "" : "s"}.`;
    }
    const minutes = Math.ceil(error.retryAfter / 60);
    return `${lead} Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
  }
  if (error?.code === "daily-limit-exceeded" && error.problem?.remaining) {
    return `That is above your daily sending limit. You can send ₹${error.problem.remaining} more today.`;
  }
  const problem = error?.problem || {};
  if (error?.code === "lending-cap-exceeded" && problem.remaining) {
    return `That is more than ${CAPS[problem.cap] || "a lending cap"} allows: ₹${problem.remaining} is left.`;
  }
  if (error?.code === "commitment-exceeds-remaining" && problem.remaining) {
    return `This request needs only ₹${problem.remaining} more.`;
  }
  if (error?.code === "commitment-below-minimum" && problem.minimum) {
    return `The smallest commitment is ₹${problem.minimum}.`;
  }
  if (error?.code === "commitment-leaves-too-little" && problem.minimum) {
    return `Commit all that remains (₹${problem.remaining}), or leave at least ₹${problem.minimum} for another lender.`;
  }
  if (error?.code && MESSAGES[error.code]) return MESSAGES[error.code];
  if (error?.name === "NetworkError" || error?.constructor?.name === "NetworkError") {
    return "Could not reach VaultPay. Check your connection and try again.";
  }
  return error?.message || "Something went wrong. Please try again.";
}

// Field-level messages from a validation problem: {fieldName: message}.
export function fieldErrors(error) {
  const result = {};
  for (const issue of error?.problem?.errors || []) {
    const [where, name] = issue.location || [];
    if (where === "body" && name && !result[name]) result[name] = issue.message.replace(/^Value error, /, "");
  }
  return result;
}
