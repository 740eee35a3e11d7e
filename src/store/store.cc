#include "store/store.h"

#include <array>
#include <utility>

namespace dg::store {
namespace {

// Frozen: these names are stored in the database (drop states: core/drop.cc).
constexpr std::array<std::pair<SellerKind, std::string_view>, 2> kSellerKinds = {{
    {SellerKind::origin, "origin"},
    {SellerKind::edge, "edge"},
}};
constexpr std::array<std::pair<ClaimSource, std::string_view>, 7> kClaimSources = {{
    {ClaimSource::free, "free"},
    {ClaimSource::payment, "payment"},
    {ClaimSource::receipt, "receipt"},
    {ClaimSource::code, "code"},
    {ClaimSource::entitlement, "entitlement"},
    {ClaimSource::operator_grant, "operator_grant"},
    {ClaimSource::cash, "cash"},
}};

template <typename E, size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> parse_name(const std::array<std::pair<E, std::string_view>, N>& names,
                            std::string_view name) {
  for (const auto& [value, candidate] : names) {
    if (candidate == name) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view seller_kind_name(SellerKind kind) {
  return name_of(kSellerKinds, kind);
}
std::optional<SellerKind> parse_seller_kind(std::string_view name) {
  return parse_name(kSellerKinds, name);
}

std::string_view claim_source_name(ClaimSource source) {
  return name_of(kClaimSources, source);
}
std::optional<ClaimSource> parse_claim_source(std::string_view name) {
  return parse_name(kClaimSources, name);
}

Result<std::unique_ptr<Store>> open_store(const std::string& location, uint32_t connections) {
  std::string_view view = location;
  if (view.starts_with("postgresql://") || view.starts_with("postgres://")) {
    return open_postgres(location, connections);
  }
  return open_sqlite(location, connections);
}

}  // namespace dg::store
