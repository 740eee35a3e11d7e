#include "crypto/paseto.h"

#include "base/encoding.h"
#include "base/limits.h"

namespace dg::crypto {
namespace {

constexpr std::string_view kHeader = "v4.public.";

void append_le64(std::string& out, uint64_t value) {
  value &= ~(uint64_t{1} << 63);  // PAE clears the most significant bit
  for (int i = 0; i < 8; ++i) {
    out += static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

void append_pae(std::string& out, std::initializer_list<std::string_view> pieces) {
  size_t total = 8;
  for (auto p : pieces) total += 8 + p.size();
  out.reserve(out.size() + total);
  append_le64(out, pieces.size());
  for (auto p : pieces) {
    append_le64(out, p.size());
    out.append(p);
  }
}

}  // namespace

std::string paseto_pae(std::initializer_list<std::string_view> pieces) {
  std::string out;
  append_pae(out, pieces);
  return out;
}

std::string paseto_v4_public_sign(const SecretKey& key, std::string_view payload,
                                  std::string_view footer, std::string_view implicit_assertion) {
  std::string m2 = paseto_pae({kHeader, payload, footer, implicit_assertion});
  Signature sig = key.sign(as_bytes(m2));
  std::string body(payload);
  body.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  std::string token = std::string(kHeader) + base64url_encode(as_bytes(body));
  if (!footer.empty()) token += "." + base64url_encode(as_bytes(footer));
  return token;
}

Result<PasetoParsed> paseto_v4_public_parse(std::string_view token_untrusted) {
  if (token_untrusted.size() > limits::token_bytes_max) {
    return error(Code::limit_exceeded,
                 "token is longer than " + std::to_string(limits::token_bytes_max) + " bytes");
  }
  if (!token_untrusted.starts_with(kHeader)) {
    return error(Code::invalid_argument, "not a v4.public PASETO token");
  }
  std::string_view rest = token_untrusted.substr(kHeader.size());
  std::string_view body_text = rest;
  std::string_view footer_text;
  bool has_footer = false;
  if (size_t dot = rest.find('.'); dot != std::string_view::npos) {
    body_text = rest.substr(0, dot);
    footer_text = rest.substr(dot + 1);
    has_footer = true;
  }
  // An empty footer is written as no footer at all; "x." is a second spelling.
  if (has_footer && (footer_text.empty() || footer_text.find('.') != std::string_view::npos)) {
    return error(Code::invalid_argument, "token footer is malformed");
  }
  auto body = base64url_decode(body_text);
  if (!body) return error(Code::invalid_argument, "token body is not canonical base64url");
  if (body->size() < signature_bytes) return error(Code::invalid_argument, "token is too short");
  PasetoParsed parsed;
  if (has_footer) {
    auto footer = base64url_decode(footer_text);
    if (!footer) return error(Code::invalid_argument, "token footer is not canonical base64url");
    if (footer->size() > limits::token_footer_bytes_max) {
      return error(Code::limit_exceeded, "token footer is too long");
    }
    parsed.footer_untrusted.assign(footer->begin(), footer->end());
  }
  size_t payload_bytes = body->size() - signature_bytes;
  parsed.payload_untrusted.assign(body->begin(), body->begin() + payload_bytes);
  std::copy(body->begin() + payload_bytes, body->end(), parsed.signature.begin());
  return parsed;
}

Status paseto_v4_public_check(const PublicKey& key, const PasetoParsed& parsed,
                              std::string_view implicit_assertion) {
  // The thread's buffer: every new token an edge serves passes here.
  thread_local std::string m2;
  m2.clear();
  append_pae(m2, {kHeader, parsed.payload_untrusted, parsed.footer_untrusted, implicit_assertion});
  const bool verified = key.verify(as_bytes(m2), parsed.signature);
  if (m2.capacity() > limits::token_bytes_max) std::string().swap(m2);  // not kept after a big one
  if (!verified) {
    return Status(Code::unauthorized, "token signature is invalid");
  }
  return Status();
}

}  // namespace dg::crypto
