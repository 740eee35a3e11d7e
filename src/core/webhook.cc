#include "core/webhook.h"

#include <boost/json.hpp>
#include <charconv>
#include <vector>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "crypto/hmac.h"
#include "crypto/keys.h"

namespace dg::core {
namespace {

Status refused(std::string reason) {
  return Status(problem::webhook_signature, "Stripe-Signature: " + std::move(reason));
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

struct SignatureHeader {
  int64_t timestamp_s = 0;
  std::vector<crypto::HmacSha256> v1;
};

// "t=…,v1=…,v1=…,v0=…": exactly one t (decimal seconds), v1 values of 64 hex
// digits, at most limits::webhook_signature_items_max items of any scheme.
Result<SignatureHeader> parse_header(std::string_view header) {
  if (header.empty()) return std::unexpected(refused("missing"));
  if (header.size() > limits::webhook_signature_header_bytes_max)
    return std::unexpected(
        refused("longer than " + std::to_string(limits::webhook_signature_header_bytes_max)));
  SignatureHeader out;
  bool have_t = false;
  uint32_t items = 0;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (++items > limits::webhook_signature_items_max)
      return std::unexpected(
          refused("more than " + std::to_string(limits::webhook_signature_items_max) + " items"));
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return std::unexpected(refused("an item is not scheme=value"));
    std::string_view scheme = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (scheme == "t") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out.timestamp_s);
      if (have_t || value.empty() || ec != std::errc() || end != value.data() + value.size() ||
          out.timestamp_s < 0)
        return std::unexpected(refused("t must be one timestamp in whole seconds"));
      have_t = true;
    } else if (scheme == "v1") {
      auto mac = hex_decode(value);
      if (!mac || mac->size() != crypto::HmacSha256{}.size())
        return std::unexpected(refused("a v1 value is not 64 hex digits"));
      crypto::HmacSha256 bytes;
      std::copy(mac->begin(), mac->end(), bytes.begin());
      out.v1.push_back(bytes);
    }  // v0 and schemes to come: ignored, as the scheme says
  }
  if (!have_t) return std::unexpected(refused("no timestamp (t=)"));
  if (out.v1.empty()) return std::unexpected(refused("no v1 signature"));
  return out;
}

}  // namespace

Result<int64_t> verify_webhook_signature(std::string_view header_untrusted,
                                         std::string_view body_untrusted,
                                         std::span<const std::string> secrets, int64_t now_s,
                                         std::chrono::seconds tolerance) {
  if (secrets.empty()) return error(Code::invalid_argument, "no webhook secret is configured");
  auto header = parse_header(header_untrusted);
  if (!header) return std::unexpected(header.error());
  const int64_t tolerance_s = tolerance.count();
  if (header->timestamp_s < now_s - tolerance_s) {
    return std::unexpected(refused("signed " + std::to_string(now_s - header->timestamp_s) +
                                   " s ago, beyond the tolerance of " +
                                   std::to_string(tolerance_s) + " s (a replay?)"));
  }
  if (header->timestamp_s > now_s + tolerance_s) {
    return std::unexpected(refused("signed " + std::to_string(header->timestamp_s - now_s) +
                                   " s in the future, beyond the tolerance of " +
                                   std::to_string(tolerance_s) + " s (check the clocks)"));
  }
  std::string signed_payload = std::to_string(header->timestamp_s) + ".";
  signed_payload.append(body_untrusted);
  bool matched = false;
  for (const std::string& secret : secrets) {
    crypto::HmacSha256 expected = crypto::hmac_sha256(secret, signed_payload);
    // Every candidate is compared, so the time taken says nothing about which matched.
    for (const crypto::HmacSha256& given : header->v1)
      matched |= crypto::constant_time_equal(expected, given);
  }
  if (!matched) return std::unexpected(refused("no v1 signature matches a configured secret"));
  return header->timestamp_s;
}

namespace {

Status malformed(std::string what) {
  return Status(problem::invalid_request, "webhook event: " + std::move(what));
}

// A string member, "" when absent or null (Stripe sends null for unset
// fields); an expanded object stands for its "id". Anything else is refused.
Result<std::string> text_of(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (v->is_object()) {
    const boost::json::value* id = v->as_object().if_contains("id");
    if (id == nullptr || !id->is_string()) return std::unexpected(malformed(std::string(key)));
    v = id;
  }
  if (!v->is_string() || v->as_string().size() > limits::identifier_bytes_max)
    return std::unexpected(malformed(std::string(key) + " must be a string of at most " +
                                     std::to_string(limits::identifier_bytes_max) + " bytes"));
  return std::string(v->as_string());
}

Result<int64_t> amount_of(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64() || v->as_int64() < 0 ||
      v->as_int64() > limits::price_amount_max)
    return std::unexpected(malformed(std::string(key) + " must be a whole amount in minor units"));
  return v->as_int64();
}

PaymentEventKind kind_of(std::string_view type) {
  if (type == "checkout.session.completed") return PaymentEventKind::checkout_completed;
  if (type == "charge.refunded") return PaymentEventKind::charge_refunded;
  if (type == "charge.dispute.created") return PaymentEventKind::dispute_created;
  return PaymentEventKind::other;
}

// The object's fields each handled kind needs.
Status read_object(const boost::json::object& object, PaymentEvent& event) {
  auto field = [&](std::string_view key, std::string& out) -> Status {
    auto text = text_of(object, key);
    if (!text) return text.error();
    out = std::move(*text);
    return Status();
  };
  DG_RETURN_IF_ERROR(field("payment_intent", event.payment_intent));
  DG_RETURN_IF_ERROR(field("currency", event.currency));
  for (char& c : event.currency) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (const boost::json::value* metadata = object.if_contains("metadata");
      metadata != nullptr && metadata->is_object()) {
    auto order = text_of(metadata->as_object(), "order_id");
    if (!order) return order.error();
    event.order_id = std::move(*order);
  }
  const char* amount_key = "amount";
  if (event.kind == PaymentEventKind::checkout_completed) {
    amount_key = "amount_total";
    std::string reference;
    DG_RETURN_IF_ERROR(field("client_reference_id", reference));
    if (!reference.empty()) event.order_id = std::move(reference);
    DG_RETURN_IF_ERROR(field("id", event.session_id));
    DG_RETURN_IF_ERROR(field("payment_status", event.payment_status));
  } else if (event.kind == PaymentEventKind::charge_refunded) {
    amount_key = "amount_refunded";
  }
  auto amount = amount_of(object, amount_key);
  if (!amount) return amount.error();
  event.amount_minor = *amount;
  return Status();
}

}  // namespace

Result<PaymentEvent> parse_payment_event(std::string_view body_untrusted) {
  auto o = json::parse_object(body_untrusted, limits::webhook_body_bytes_max);
  if (!o) return std::unexpected(o.error().with_context("webhook event"));
  PaymentEvent event;
  auto id = json::get_string(*o, "id", "webhook event", limits::identifier_bytes_max);
  auto type = json::get_string(*o, "type", "webhook event", limits::identifier_bytes_max);
  if (!id) return std::unexpected(id.error());
  if (!type) return std::unexpected(type.error());
  if (id->empty()) return std::unexpected(malformed("id is empty"));
  event.id = std::move(*id);
  event.type = std::move(*type);
  event.kind = kind_of(event.type);
  if (event.kind == PaymentEventKind::other) return event;
  auto data = json::get_object(*o, "data", "webhook event");
  if (!data) return std::unexpected(data.error());
  auto object = json::get_object(**data, "object", "webhook event data");
  if (!object) return std::unexpected(object.error());
  DG_RETURN_IF_ERROR_RESULT(read_object(**object, event));
  return event;
}

}  // namespace dg::core
