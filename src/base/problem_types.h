// Every problem type dropgate sends, defined once: its name (the last segment
// of https://dropgate.dev/problems/<name>), the Code it stands for, the HTTP
// status and the title it is always sent with. docs/api/problems.md documents
// each one; a test checks that the two lists agree.
//
// A service refuses with `error(problem::sold_out, "all 200 serials are taken")`;
// the HTTP surface turns the Status into problem+json in one place
// (http::problem_from_status). A failure with no type (a store error) is sent
// as the generic type of its code, below.
//
// Types the HTTP layer makes itself from a reason phrase (bad-request,
// method-not-allowed, uri-too-long, ...) are not listed: no service sends them.
#pragma once

#include "base/status.h"

namespace dg::problem {

// --- Generic: the type of a Status that names none, by code.
inline constexpr ProblemType invalid_request{"invalid-request", Code::invalid_argument, 400,
                                             "Invalid request"};
inline constexpr ProblemType unauthorized{"unauthorized", Code::unauthorized, 401,
                                          "Not authorised"};
inline constexpr ProblemType forbidden{"forbidden", Code::forbidden, 403, "Forbidden"};
inline constexpr ProblemType not_found{"not-found", Code::not_found, 404, "Not found"};
inline constexpr ProblemType conflict{"conflict", Code::conflict, 409, "Conflict"};
inline constexpr ProblemType too_large{"too-large", Code::too_large, 413, "Too large"};
inline constexpr ProblemType limit_exceeded{"limit-exceeded", Code::limit_exceeded, 429,
                                            "Limit exceeded"};
// A failure of ours: the client gets this title and the request id; the
// message goes to the log only.
inline constexpr ProblemType internal{"internal", Code::io_error, 500, "Internal error"};
inline constexpr ProblemType unavailable{"unavailable", Code::unavailable, 503,
                                         "Temporarily unavailable"};

// --- Download tokens (origin and edge).
inline constexpr ProblemType token_required{"token-required", Code::unauthorized, 401,
                                            "Download token required"};
inline constexpr ProblemType token_refused{"token-refused", Code::unauthorized, 401,
                                           "Download token refused"};
inline constexpr ProblemType token_stale{"token-stale", Code::unauthorized, 401,
                                         "Download link out of date"};
inline constexpr ProblemType token_wrong_drop{"token-wrong-drop", Code::forbidden, 403,
                                              "Token is for another drop"};
inline constexpr ProblemType token_wrong_asset{"token-wrong-asset", Code::forbidden, 403,
                                               "Token does not cover this file"};
inline constexpr ProblemType certificate_revoked{"certificate-revoked", Code::forbidden, 403,
                                                 "Certificate revoked"};
inline constexpr ProblemType version_not_synced{"version-not-synced", Code::unavailable, 503,
                                                "Version not here yet"};

// --- Edge only.
inline constexpr ProblemType edge_no_grant{"edge-no-grant", Code::unavailable, 503,
                                           "Edge not authorised"};
inline constexpr ProblemType drop_not_carried{"drop-not-carried", Code::not_found, 404,
                                              "Not carried here"};
inline constexpr ProblemType manifest_expired{"manifest-expired", Code::unavailable, 503,
                                              "Manifest expired"};
inline constexpr ProblemType blob_unavailable{"blob-unavailable", Code::unavailable, 503,
                                              "File being fetched again"};

// --- Origin only.
inline constexpr ProblemType territory_required{"territory-required", Code::invalid_argument, 400,
                                                "Territory required"};
inline constexpr ProblemType grant_required{"grant-required", Code::unauthorized, 401,
                                            "Edge grant required"};
inline constexpr ProblemType grant_refused{"grant-refused", Code::unauthorized, 401,
                                           "Edge grant refused"};
// A revoked edge's grant is refused (403); its key cannot enrol again (409).
inline constexpr ProblemType edge_revoked{"edge-revoked", Code::forbidden, 403, "Edge revoked"};
inline constexpr ProblemType edge_revoked_enrolment{"edge-revoked", Code::conflict, 409,
                                                    "Edge revoked"};
inline constexpr ProblemType window_not_open{"window-not-open", Code::forbidden, 403,
                                             "Not on sale yet"};
inline constexpr ProblemType window_closed{"window-closed", Code::forbidden, 403,
                                           "Sales are closed"};
inline constexpr ProblemType not_published{"not-published", Code::not_found, 404,
                                           "Not published yet"};
inline constexpr ProblemType drop_closed{"drop-closed", Code::conflict, 409, "Drop is closed"};
inline constexpr ProblemType no_assets{"no-assets", Code::conflict, 409, "Nothing to publish"};
inline constexpr ProblemType invalid_transition{"invalid-transition", Code::conflict, 409,
                                                "State change not allowed"};
inline constexpr ProblemType sold_out{"sold-out", Code::conflict, 409, "Sold out"};
inline constexpr ProblemType serial_taken{"serial-taken", Code::conflict, 409, "Serial taken"};
inline constexpr ProblemType hold_gone{"hold-gone", Code::conflict, 409, "Hold expired"};
inline constexpr ProblemType edge_pending{"edge-pending", Code::conflict, 409,
                                          "Waiting for approval"};
inline constexpr ProblemType idempotency_in_flight{"idempotency-in-flight", Code::conflict, 409,
                                                   "Request in progress"};
inline constexpr ProblemType idempotency_key_reused{"idempotency-key-reused", Code::conflict, 422,
                                                    "Idempotency-Key reused"};
inline constexpr ProblemType per_buyer_limit{"per-buyer-limit", Code::limit_exceeded, 429,
                                             "Per-buyer limit reached"};
inline constexpr ProblemType too_many_holds{"too-many-holds", Code::limit_exceeded, 429,
                                            "Too many holds"};
inline constexpr ProblemType too_many_enrolments{"too-many-enrolments", Code::limit_exceeded, 429,
                                                 "Too many enrolments"};
// Claim codes: a code that is not one (mistyped), one that is not valid
// for this drop (unknown, another drop's, or revoked: one answer, so a
// guesser learns nothing), one used already, and too many attempts.
inline constexpr ProblemType code_malformed{"code-malformed", Code::invalid_argument, 400,
                                            "Not a claim code"};
inline constexpr ProblemType code_invalid{"code-invalid", Code::not_found, 404, "Code not valid"};
inline constexpr ProblemType code_used{"code-used", Code::conflict, 409, "Code already used"};
inline constexpr ProblemType too_many_redeems{"too-many-redeems", Code::limit_exceeded, 429,
                                              "Too many code attempts"};
inline constexpr ProblemType territory_denied{"territory-denied", Code::forbidden, 451,
                                              "Not available in this territory"};
inline constexpr ProblemType drop_paused{"drop-paused", Code::unavailable, 503, "Sales are paused"};
inline constexpr ProblemType busy{"busy", Code::unavailable, 503, "Busy"};
inline constexpr ProblemType not_ready{"not-ready", Code::unavailable, 503, "Not ready"};

// --- Online checkout (origin).
inline constexpr ProblemType webhook_signature{"webhook-signature", Code::invalid_argument, 400,
                                               "Webhook signature refused"};
inline constexpr ProblemType payment_provider{"payment-provider", Code::unavailable, 502,
                                              "Payment provider failed"};
inline constexpr ProblemType checkout_unavailable{"checkout-unavailable", Code::unavailable, 503,
                                                  "Checkout not configured"};

// --- Stall sales: reader receipts, declines and cash (docs/formats/receipt.md).
inline constexpr ProblemType receipt_refused{"receipt-refused", Code::unauthorized, 401,
                                             "Receipt refused"};
inline constexpr ProblemType reader_revoked{"reader-revoked", Code::forbidden, 403,
                                            "Reader revoked"};
inline constexpr ProblemType receipt_wrong_drop{"receipt-wrong-drop", Code::invalid_argument, 422,
                                                "Receipt is for another drop"};
inline constexpr ProblemType price_mismatch{"price-mismatch", Code::invalid_argument, 422,
                                            "Amount does not match the price"};
inline constexpr ProblemType sale_declined{"sale-declined", Code::conflict, 409,
                                           "Payment declined"};
inline constexpr ProblemType reader_key_taken{"reader-key-taken", Code::conflict, 409,
                                              "Key already registered"};

// --- Offline sales (edge leases; docs/formats/sync.md).
inline constexpr ProblemType offline_sell_until_passed{"offline-sell-until-passed", Code::forbidden,
                                                       403, "Offline sales are over"};
inline constexpr ProblemType offline_cap_reached{"offline-cap-reached", Code::limit_exceeded, 429,
                                                 "Offline sales cap reached"};
inline constexpr ProblemType offline_no_lease{"offline-no-lease", Code::conflict, 409,
                                              "No leased serial left"};
inline constexpr ProblemType edge_lost{"edge-lost", Code::forbidden, 403, "Edge declared lost"};

// --- Both servers.
inline constexpr ProblemType metrics_local_only{"metrics-local-only", Code::forbidden, 403,
                                                "Forbidden"};
inline constexpr ProblemType metrics_token_required{"metrics-token-required", Code::unauthorized,
                                                    401, "Unauthorized"};
// Its title is the reason phrase, as the HTTP layer sends it for a file's Range.
inline constexpr ProblemType range_not_satisfiable{"range-not-satisfiable", Code::invalid_argument,
                                                   416, "Range Not Satisfiable"};

// Every type above, for the check against docs/api/problems.md.
inline constexpr const ProblemType* kAll[] = {
    &invalid_request,
    &unauthorized,
    &forbidden,
    &not_found,
    &conflict,
    &too_large,
    &limit_exceeded,
    &internal,
    &unavailable,
    &token_required,
    &token_refused,
    &token_stale,
    &token_wrong_drop,
    &token_wrong_asset,
    &certificate_revoked,
    &version_not_synced,
    &edge_no_grant,
    &drop_not_carried,
    &manifest_expired,
    &blob_unavailable,
    &territory_required,
    &grant_required,
    &grant_refused,
    &edge_revoked,
    &edge_revoked_enrolment,
    &window_not_open,
    &window_closed,
    &not_published,
    &drop_closed,
    &no_assets,
    &invalid_transition,
    &sold_out,
    &serial_taken,
    &hold_gone,
    &edge_pending,
    &idempotency_in_flight,
    &idempotency_key_reused,
    &per_buyer_limit,
    &too_many_holds,
    &too_many_enrolments,
    &code_malformed,
    &code_invalid,
    &code_used,
    &too_many_redeems,
    &territory_denied,
    &drop_paused,
    &busy,
    &not_ready,
    &webhook_signature,
    &payment_provider,
    &checkout_unavailable,
    &receipt_refused,
    &reader_revoked,
    &receipt_wrong_drop,
    &price_mismatch,
    &sale_declined,
    &reader_key_taken,
    &offline_sell_until_passed,
    &offline_cap_reached,
    &offline_no_lease,
    &edge_lost,
    &metrics_local_only,
    &metrics_token_required,
    &range_not_satisfiable,
};

// The type sent for a Status that names none: one per code, so this is the
// one table from a Code to an HTTP status. ok has none (internal).
const ProblemType& generic_for(Code code);

// The type a failed Status is sent as: the one it names, else its code's generic one.
inline const ProblemType& type_of(const Status& status) {
  return status.type() != nullptr ? *status.type() : generic_for(status.code());
}

}  // namespace dg::problem
