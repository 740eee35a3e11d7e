// docs/api/openapi.yaml and the origin's route table describe the same API:
// every route is documented, and every documented operation is a route.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "base/env.h"
#include "base/file.h"
#include "http/http.h"
#include "origin/edges.h"
#include "origin/routes.h"
#include "support/test_origin.h"

namespace dg::origin {
namespace {

// "GET /v1/drops/{slug}" for every operation in the document. The document is
// ours and keeps one shape: paths at two spaces, methods at four.
std::set<std::string> documented_operations(const std::string& yaml) {
  std::set<std::string> out;
  std::regex path_line(R"(^  (/[^:\s]*):\s*$)");
  std::regex method_line(R"(^    (get|put|post|patch|delete|head):)");
  std::string current;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, path_line)) {
      current = m[1];
    } else if (!current.empty() && std::regex_search(line, m, method_line)) {
      std::string method = m[1];
      for (auto& c : method) c = static_cast<char>(std::toupper(c));
      out.insert(method + " " + current);
    } else if (!line.empty() && line[0] != ' ') {
      current.clear();  // left the paths section
    }
  }
  return out;
}

// The route table, with {name*} written as OpenAPI's {name}.
std::set<std::string> routed_operations(const http::Router& router) {
  std::set<std::string> out;
  for (const auto& route : router.routes()) {
    std::string pattern = std::regex_replace(route.pattern, std::regex(R"(\{(\w+)\*\})"), "{$1}");
    out.insert(std::string(boost::beast::http::to_string(route.method)) + " " + pattern);
  }
  return out;
}

TEST(OpenApi, DocumentMatchesTheRouteTable) {
  dg::testing::TestOrigin origin;
  Status started = origin.start(system_clock());
  ASSERT_TRUE(started.ok()) << started.to_string();
  OriginService& service = origin.service();
  EdgeHub edges({origin.store(), origin.blobs, origin.signer, origin.keyring, service.catalog,
                 service.certificates, system_clock(), origin.config});
  http::Router router;
  OperatorKeys keys(origin.store());
  add_routes(router, service, origin.store(), origin.metrics, keys);
  add_edge_routes(router, edges);

  auto yaml = read_file(std::string(DG_SOURCE_DIR) + "/docs/api/openapi.yaml", 1 << 20);
  ASSERT_TRUE(yaml.has_value());
  auto documented = documented_operations(*yaml);
  auto routed = routed_operations(router);
  ASSERT_GT(routed.size(), 20u);
  for (const auto& op : routed)
    EXPECT_TRUE(documented.contains(op)) << op << " is not in openapi.yaml";
  for (const auto& op : documented)
    EXPECT_TRUE(routed.contains(op)) << op << " is documented but not routed";
}

}  // namespace
}  // namespace dg::origin
