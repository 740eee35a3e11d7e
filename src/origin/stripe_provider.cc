// The Stripe adapter: POST /v1/checkout/sessions and POST /v1/refunds,
// form-encoded as Stripe's API expects, through libcurl.
#include <curl/curl.h>

#include <boost/json.hpp>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "origin/payment_provider.h"

namespace dg::origin {
namespace {

using Form = std::vector<std::pair<std::string, std::string>>;

std::string form_encode(const Form& form) {
  std::string out;
  for (const auto& [key, value] : form) {
    if (!out.empty()) out += '&';
    char* k = curl_easy_escape(nullptr, key.data(), static_cast<int>(key.size()));
    char* v = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
    out += k ? k : "";
    out += '=';
    out += v ? v : "";
    curl_free(k);
    curl_free(v);
  }
  return out;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

size_t collect(char* data, size_t size, size_t count, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * count > limits::payment_api_answer_bytes_max) return 0;  // aborts
  body->append(data, size * count);
  return size * count;
}

Status provider_failed(std::string message) {
  return Status(problem::payment_provider, std::move(message));
}

class StripeProvider final : public PaymentProvider {
 public:
  explicit StripeProvider(StripeOptions options) : options_(std::move(options)) {
    while (options_.api_base.ends_with('/')) options_.api_base.pop_back();
  }

  Result<CheckoutSession> create_checkout_session(const CheckoutSessionRequest& r) override {
    Form form = {
        {"mode", "payment"},
        {"line_items[0][quantity]", "1"},
        {"line_items[0][price_data][currency]", lower(r.currency)},
        {"line_items[0][price_data][unit_amount]", std::to_string(r.amount_minor)},
        {"line_items[0][price_data][product_data][name]", r.product_name},
        {"client_reference_id", r.order_id},
        {"metadata[order_id]", r.order_id},
        {"metadata[hold_id]", std::to_string(r.hold_id)},
        {"metadata[drop]", r.drop_slug},
        // Charges and refunds carry the order too, so their events find it.
        {"payment_intent_data[metadata][order_id]", r.order_id},
        {"success_url", r.success_url},
        {"cancel_url", r.cancel_url},
        {"expires_at", std::to_string(r.expires_at_s)},
    };
    if (r.account.find('@') != std::string::npos) form.emplace_back("customer_email", r.account);
    auto answer = post("/v1/checkout/sessions", form, "dropgate-checkout-" + r.order_id);
    if (!answer) return std::unexpected(answer.error());
    auto id = json::get_string(*answer, "id", "checkout session", limits::identifier_bytes_max);
    auto url = json::get_string(*answer, "url", "checkout session", limits::payment_url_bytes_max);
    if (!id || !url) return error(provider_failed("the checkout session answer lacks id or url"));
    return CheckoutSession{*id, *url};
  }

  Result<RefundAnswer> request_refund(const RefundRequest& r) override {
    Form form = {
        {"payment_intent", r.payment_intent},    {"amount", std::to_string(r.amount_minor)},
        {"reason", "requested_by_customer"},     {"metadata[order_id]", r.order_id},
        {"metadata[dropgate_reason]", r.reason},
    };
    auto answer = post("/v1/refunds", form, r.idempotency_key);
    if (!answer) return std::unexpected(answer.error());
    auto id = json::get_string(*answer, "id", "refund", limits::identifier_bytes_max);
    auto status = json::get_string(*answer, "status", "refund", limits::identifier_bytes_max);
    if (!id || !status) return error(provider_failed("the refund answer lacks id or status"));
    return RefundAnswer{*id, *status};
  }

 private:
  // One POST; the answer's JSON object on 2xx, else payment-provider with
  // Stripe's error message (never the secret key).
  Result<boost::json::object> post(std::string_view path, const Form& form,
                                   const std::string& idempotency_key) {
    CURL* curl = curl_easy_init();
    if (!curl) return error(provider_failed("cannot start the HTTP client"));
    std::string url = options_.api_base + std::string(path);
    std::string body = form_encode(form);
    std::string answer;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, ("Authorization: Bearer " + options_.secret_key).c_str());
    headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
    if (!idempotency_key.empty())
      headers = curl_slist_append(headers, ("Idempotency-Key: " + idempotency_key).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(limits::client_connect_timeout.count()));
    curl_easy_setopt(
        curl, CURLOPT_TIMEOUT_MS,
        static_cast<long>(std::chrono::milliseconds(limits::payment_api_call_max).count()));
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
      return error(provider_failed("cannot reach the payment provider at " + options_.api_base +
                                   ": " + curl_easy_strerror(rc)));
    }
    auto object = json::parse_object(answer, limits::payment_api_answer_bytes_max);
    if (status / 100 != 2) {
      std::string message = "the payment provider answered HTTP " + std::to_string(status);
      if (object) {
        if (const auto* e = object->if_contains("error"); e && e->is_object()) {
          if (const auto* m = e->as_object().if_contains("message"); m && m->is_string())
            message += ": " + std::string(m->as_string()).substr(0, 200);
        }
      }
      return error(provider_failed(std::move(message)));
    }
    if (!object) return error(provider_failed("the payment provider's answer is not JSON"));
    return std::move(*object);
  }

  StripeOptions options_;
};

}  // namespace

std::unique_ptr<PaymentProvider> make_stripe_provider(StripeOptions options) {
  return std::make_unique<StripeProvider>(std::move(options));
}

}  // namespace dg::origin
