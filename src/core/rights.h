// What a buyer may do with a drop: the licence, how long access lasts and
// where. Carried in manifests and in ownership certificates.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dg::core {

struct Rights {
  std::string license;                           // SPDX-style identifier, e.g. "CC-BY-NC-4.0"
  std::optional<int64_t> access_s;               // unset: access does not end
  std::vector<std::string> territories_allowed;  // empty: everywhere not denied
  std::vector<std::string> territories_denied;

  // True when a buyer in `territory` (ISO 3166-1 alpha-2) may get the drop.
  bool allows_territory(std::string_view territory) const;
  bool operator==(const Rights&) const = default;
};

// {"license":…, "access_s":…, "territories":{"allow":[…],"deny":[…]}}
boost::json::object rights_to_json(const Rights& rights);
Result<Rights> parse_rights(const boost::json::object& object_untrusted);
// Checks a Rights built in code (from CLI flags or an API request).
Status validate_rights(const Rights& rights);

}  // namespace dg::core
