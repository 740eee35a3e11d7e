#include "origin/operator_keys.h"

#include <mutex>

#include "base/encoding.h"
#include "base/limits.h"
#include "crypto/sha256.h"

namespace dg::origin {

Status OperatorKeys::refresh() {
  auto hashes = store_.list_api_keys(limits::operator_keys_max);
  if (!hashes) return hashes.error().with_context("reading operator API keys");
  std::unordered_set<std::string> fresh(hashes->begin(), hashes->end());
  std::unique_lock lock(mutex_);
  hashes_.swap(fresh);
  return Status();
}

bool OperatorKeys::accepts(std::string_view key_untrusted) const {
  if (key_untrusted.empty() || key_untrusted.size() > limits::identifier_bytes_max) return false;
  std::string hash = hex_encode(crypto::sha256(as_bytes(key_untrusted)));
  std::shared_lock lock(mutex_);
  return hashes_.contains(hash);
}

size_t OperatorKeys::size() const {
  std::shared_lock lock(mutex_);
  return hashes_.size();
}

}  // namespace dg::origin
