// docs/api/openapi.yaml and the origin's route table describe the same API:
// every route is documented, and every documented operation is a route.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "base/env.h"
#include "base/file.h"
#include "base/metrics.h"
#include "crypto/keyring.h"
#include "http/http.h"
#include "origin/blob_store.h"
#include "origin/committer.h"
#include "origin/config.h"
#include "origin/edges.h"
#include "origin/routes.h"
#include "origin/seller.h"
#include "origin/service.h"
#include "store/store.h"
#include "support/temp_dir.h"

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
  crypto::init();
  dg::testing::TempDir temp;  // first: removed after what uses it
  ASSERT_FALSE(temp.path().empty()) << "no temporary folder";
  const std::filesystem::path& dir = temp.path();
  auto store = store::open_sqlite((dir / "db").string());
  ASSERT_TRUE(store.has_value()) << store.error().to_string();
  ASSERT_TRUE((*store)->migrate().ok());
  BlobStore blobs(dir / "blobs");
  ASSERT_TRUE(blobs.open().ok());
  auto key = crypto::SecretKey::generate();
  crypto::Keyring keyring;
  ASSERT_TRUE(keyring.add(key.public_key(), crypto::KeyStatus::current).ok());
  core::TokenSigner signer(std::move(key), "test");
  OriginConfig config;
  ASSERT_TRUE(finish_config(config).ok());
  metrics::Registry metrics;
  Seller seller(**store, system_clock(), SellerOptions{"test:0"});
  ClaimCommitter committer(**store, 16);
  auto owner_secret = core::OwnerSecret::generate();
  OriginService service({**store, blobs, signer, keyring, seller, committer, metrics,
                         system_clock(), config, owner_secret});
  EdgeHub edges({**store, blobs, signer, keyring, service, system_clock(), config});
  http::Router router;
  OperatorKeys keys(**store);
  add_routes(router, service, **store, metrics, keys);
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
