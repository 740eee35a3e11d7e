// Pushing the outbox (Syncer::push_outbox) to a real HTTP server standing in
// for the origin's events route: as many events per POST as the origin
// takes, and an origin that holds every push to the anonymous body limit
// (one from before a grant earned more) gets them 50 at a time, all of them,
// once each.
#include "edge/syncer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/metrics.h"
#include "crypto/keys.h"
#include "edge/catalog.h"
#include "edge/vault.h"
#include "http/http.h"
#include "store/outbox.h"
#include "support/temp_dir.h"

namespace dg::edge {
namespace {

namespace fs = std::filesystem;

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    ASSERT_FALSE(temp_.path().empty()) << "no temporary folder";
    config_.data_dir = temp_.path();
    fs::create_directories(config_.state_dir());
    fs::create_directories(config_.blobs_dir());
  }

  void TearDown() override {
    syncer_.reset();
    vault_.reset();
    catalog_.reset();
    outbox_.reset();
    if (server_) {
      server_->stop();
      server_thread_.join();
    }
  }

  // The stand-in origin: records how many events each push it took carried.
  void start_origin(bool grant_earns_large_body) {
    http::RouteOptions options{.body_bytes_max = limits::request_body_bytes_max_json,
                               .name = "edge.events"};
    if (grant_earns_large_body)
      options.admits_large_body = [](const http::Request&) { return true; };
    router_.add(
        http::Verb::post, "/v1/edge/events",
        [this](http::Request& request) {
          auto body = json::parse_object(request.body, limits::request_body_bytes_max_json);
          auto events =
              body ? json::get_array(*body, "events", "events", 10'000) : error(body.error());
          if (!events) return http::problem_from_status(events.error());
          size_t n = (*events)->size();
          {
            std::lock_guard lock(mutex_);
            pushes_.push_back(n);
          }
          return http::json_response(200, "{\"received\":" + std::to_string(n) +
                                              ",\"new\":" + std::to_string(n) + ",\"refused\":0}");
        },
        options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server_options.io_threads = 1;
    server_options.handler_threads = 2;
    server_ = std::make_unique<http::Server>(router_, server_options);
    ASSERT_TRUE(server_->start().ok());
    server_thread_ = std::thread([this] { server_->run(/*handle_signals=*/false); });
    std::string enrollment = "{\"origin\":\"http://127.0.0.1:" + std::to_string(server_->port()) +
                             "\",\"edge_id\":1,\"secret\":\"s\"}";
    ASSERT_TRUE(
        write_file_atomic(config_.enrollment_file(), enrollment, 0600, Overwrite::yes).ok());
  }

  // `count` events of about 200 bytes, like download events.
  void queue_events(store::Outbox& outbox, int count) {
    for (int i = 0; i < count; ++i) {
      std::string id = "edge-" + std::to_string(i);
      std::string body =
          "{\"id\":\"" + id +
          "\",\"kind\":\"download.completed\",\"drop\":\"summer-tape\",\"account\":\"buyer-" +
          std::to_string(i % 64) + "\",\"at\":\"2026-11-21T07:00:00Z\",\"detail\":{\"path\":" +
          "\"side-a/01-a-rather-long-track-name.flac\",\"bytes\":4194304}}";
      ASSERT_TRUE(outbox.append(id, body).ok());
    }
  }

  std::vector<size_t> pushes() {
    std::lock_guard lock(mutex_);
    return pushes_;
  }

  // The edge's side: its outbox and the Syncer that pushes it.
  void open_edge() {
    auto opened = store::open_outbox((config_.data_dir / "outbox.db").string(), 100'000);
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    outbox_ = std::move(*opened);
    catalog_ = std::make_unique<Catalog>(config_);
    vault_ = std::make_unique<Vault>(config_.blobs_dir());
    syncer_ =
        std::make_unique<Syncer>(config_, *catalog_, *vault_, *outbox_, metrics_, system_clock());
  }

  // Queues `events` and pushes; every event must be acknowledged.
  void queue_and_push(int events) {
    queue_events(*outbox_, events);
    auto pushed = syncer_->push_outbox();
    ASSERT_TRUE(pushed.has_value()) << pushed.error().to_string();
    EXPECT_EQ(*pushed, static_cast<uint32_t>(events));
    EXPECT_EQ(*outbox_->depth(), 0u);
  }

  dg::testing::TempDir temp_;  // first: removed after what uses it
  EdgeConfig config_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::thread server_thread_;
  std::mutex mutex_;
  std::vector<size_t> pushes_;
  metrics::Registry metrics_;
  std::unique_ptr<store::Outbox> outbox_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Vault> vault_;
  std::unique_ptr<Syncer> syncer_;
};

TEST_F(PushTest, AnOriginThatTakesLargePushesGetsTheBacklogInOne) {
  start_origin(/*grant_earns_large_body=*/true);
  open_edge();
  queue_and_push(120);  // ~25 KB: over the anonymous limit
  EXPECT_EQ(pushes(), std::vector<size_t>{120});
}

TEST_F(PushTest, AnOriginThatTakesOnlySmallBodiesGetsFiftyAtATime) {
  start_origin(/*grant_earns_large_body=*/false);
  open_edge();
  queue_and_push(120);
  // The first push (all 120) was refused with 413 before its body was read.
  EXPECT_EQ(pushes(), (std::vector<size_t>{50, 50, 20}));
  // And later pushes stay small.
  queue_and_push(60);
  EXPECT_EQ(pushes(), (std::vector<size_t>{50, 50, 20, 50, 10}));
}

}  // namespace
}  // namespace dg::edge
