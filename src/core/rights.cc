#include "core/rights.h"

#include <algorithm>

#include "base/json.h"
#include "base/limits.h"
#include "base/time.h"
#include "core/validate.h"

namespace dg::core {
namespace {

constexpr std::string_view kWhat = "rights";

Result<std::vector<std::string>> parse_territory_list(const boost::json::object& territories,
                                                      std::string_view key) {
  std::vector<std::string> out;
  if (!territories.contains(key)) return out;
  auto list = json::get_array(territories, key, "rights.territories", limits::territories_max);
  if (!list) return error(list.error());
  for (const auto& item : **list) {
    if (!item.is_string()) return error(Code::invalid_argument, "territory codes must be strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

}  // namespace

bool Rights::allows_territory(std::string_view territory) const {
  auto contains = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), territory) != list.end();
  };
  if (contains(territories_denied)) return false;
  return territories_allowed.empty() || contains(territories_allowed);
}

Status validate_rights(const Rights& rights) {
  if (rights.license.empty() || rights.license.size() > limits::license_bytes_max ||
      !std::all_of(rights.license.begin(), rights.license.end(),
                   [](char c) { return c > 0x20 && c < 0x7F; })) {
    return Status(Code::invalid_argument,
                  "license must be an identifier such as \"CC-BY-NC-4.0\" or \"proprietary\"");
  }
  if (rights.access_s && (*rights.access_s <= 0 || *rights.access_s > to_s(limits::access_max))) {
    return Status(Code::invalid_argument, "access duration must be positive and under 100 years");
  }
  if (!rights.territories_allowed.empty() && !rights.territories_denied.empty()) {
    return Status(Code::invalid_argument,
                  "give allowed territories or denied territories, not both");
  }
  for (const auto* list : {&rights.territories_allowed, &rights.territories_denied}) {
    if (list->size() > limits::territories_max) {
      return Status(Code::too_large, "too many territories");
    }
    for (const auto& code : *list) DG_RETURN_IF_ERROR(validate_territory(code));
    std::vector<std::string> sorted = *list;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return Status(Code::invalid_argument, "a territory is listed twice");
    }
  }
  return Status();
}

boost::json::object rights_to_json(const Rights& rights) {
  boost::json::object out{{"license", rights.license}};
  if (rights.access_s) out["access_s"] = *rights.access_s;
  boost::json::object territories;
  if (!rights.territories_allowed.empty()) {
    territories["allow"] =
        boost::json::array(rights.territories_allowed.begin(), rights.territories_allowed.end());
  }
  if (!rights.territories_denied.empty()) {
    territories["deny"] =
        boost::json::array(rights.territories_denied.begin(), rights.territories_denied.end());
  }
  out["territories"] = std::move(territories);
  return out;
}

Result<Rights> parse_rights(const boost::json::object& object) {
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(object, {"license", "access_s", "territories"}, kWhat));
  Rights rights;
  auto license = json::get_string(object, "license", kWhat, limits::license_bytes_max);
  if (!license) return error(license.error());
  rights.license = std::move(*license);
  if (object.contains("access_s")) {
    auto access = json::get_int(object, "access_s", kWhat, 1, to_s(limits::access_max));
    if (!access) return error(access.error());
    rights.access_s = *access;
  }
  auto territories = json::get_object(object, "territories", kWhat);
  if (!territories) return error(territories.error());
  DG_RETURN_IF_ERROR_RESULT(
      json::only_keys(**territories, {"allow", "deny"}, "rights.territories"));
  auto allowed = parse_territory_list(**territories, "allow");
  if (!allowed) return error(allowed.error());
  auto denied = parse_territory_list(**territories, "deny");
  if (!denied) return error(denied.error());
  rights.territories_allowed = std::move(*allowed);
  rights.territories_denied = std::move(*denied);
  DG_RETURN_IF_ERROR_RESULT(validate_rights(rights));
  return rights;
}

}  // namespace dg::core
