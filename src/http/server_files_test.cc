// Bodies that live in files: file responses (Range, HEAD, 304) from a path,
// an open descriptor or memory; segmented bodies; uploads spooled to a
// file. Each says whether the exchange counted as complete. See
// server_test_support.h.
#include <gtest/gtest.h>

#include "http/server_test_support.h"

namespace dg::http {
namespace {

using namespace server_test;

// Where a file response's bytes come from: a path the server opens, a
// descriptor its giver opened, or memory.
enum class FileSource { path, open_file, memory };

class FileTest : public ServerTest, public ::testing::WithParamInterface<FileSource> {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    content_ = pattern_bytes(100 * 1024);
    fs::path path = write_file("blob", content_);
    std::string sha = sha256_hex(content_);
    etag_ = "\"" + sha + "\"";
    auto open = std::make_shared<const OpenFile>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_GE(open->fd(), 0);
    auto bytes = std::make_shared<const std::string>(content_);
    router_.add(Verb::get, "/file",
                [this, path, sha, open, bytes](Request& request) {
                  Response response =
                      GetParam() == FileSource::path
                          ? file_response(request, path, content_.size(), sha, "audio/flac")
                      : GetParam() == FileSource::open_file
                          ? file_response(request, open, content_.size(), sha, "audio/flac")
                          : file_response(request, bytes, sha, "audio/flac");
                  done_.watch(response);
                  return response;
                },
                {.blocking = false});
    start_server();
  }
  std::string content_;
  std::string etag_;
  Completions done_;
};

TEST_P(FileTest, WholeFileIsSentExactlyAndCountsAsComplete) {
  Client client(port());
  auto response = client.exchange(get("/file"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->header("content-length"), std::to_string(content_.size()));
  EXPECT_EQ(response->header("etag"), etag_);
  EXPECT_EQ(response->header("accept-ranges"), "bytes");
  EXPECT_EQ(response->header("content-type"), "audio/flac");
  EXPECT_TRUE(response->body == content_);
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].complete);
  EXPECT_EQ(done[0].bytes, content_.size());
}

TEST_P(FileTest, RangesAreSentExactly) {
  Client client(port());
  ASSERT_TRUE(client.send(get("/file", "Range: bytes=10-19\r\n") +
                          get("/file", "Range: bytes=-5\r\n") +
                          get("/file", "Range: bytes=102000-\r\n")));
  auto middle = client.read_response();
  auto suffix = client.read_response();
  auto tail = client.read_response();
  ASSERT_TRUE(middle && suffix && tail);
  EXPECT_EQ(middle->status, 206u);
  EXPECT_EQ(middle->header("content-range"), "bytes 10-19/102400");
  EXPECT_EQ(middle->body, content_.substr(10, 10));
  EXPECT_EQ(suffix->status, 206u);
  EXPECT_EQ(suffix->body, content_.substr(content_.size() - 5));
  EXPECT_EQ(tail->body, content_.substr(102000));
}

TEST_P(FileTest, UnsatisfiableRangeIs416) {
  Client client(port());
  auto response = client.exchange(get("/file", "Range: bytes=200000-\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 416u);
  EXPECT_EQ(response->header("content-range"), "bytes */102400");
}

TEST_P(FileTest, HeadSendsTheLengthButNoBodyAndDoesNotCount) {
  Client client(port());
  ASSERT_TRUE(client.send(head("/file") + get("/echo/next")));
  auto head = client.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->header("content-length"), "102400");
  // Had any body bytes followed the HEAD headers, this would not parse as "next".
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "next");
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].complete);
  EXPECT_EQ(done[0].bytes, 0u);
}

TEST_P(FileTest, IfNoneMatchIs304WithoutBody) {
  Client client(port());
  auto response =
      client.exchange(get("/file", "If-None-Match: W/" + etag_ + "\r\n") + get("/echo/x"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 304u);
  EXPECT_EQ(response->header("etag"), etag_);
  EXPECT_EQ(response->header("content-length"), "");
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "x");
}

INSTANTIATE_TEST_SUITE_P(Sources, FileTest,
                         ::testing::Values(FileSource::path, FileSource::open_file,
                                           FileSource::memory),
                         [](const ::testing::TestParamInfo<FileSource>& info) {
                           return info.param == FileSource::path        ? "Path"
                                  : info.param == FileSource::open_file ? "OpenFile"
                                                                        : "Memory";
                         });

TEST_F(ServerTest, MissingFileBecomes500AndDoesNotCount) {
  Completions done;
  router_.add(Verb::get, "/gone", [&](Request& request) {
    Response response = file_response(request, dir_ / "absent", 10, std::string(64, '0'), "x/y");
    done.watch(response);
    return response;
  });
  start_server();
  Client client(port());
  auto response = client.exchange(get("/gone"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500u);
  auto calls = done.wait_for(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].complete);
}

TEST_F(ServerTest, DisconnectMidDownloadReportsIncomplete) {
  constexpr uint64_t size_bytes = 64ull * 1024 * 1024;
  fs::path path = dir_ / "sparse";
  ASSERT_NO_FATAL_FAILURE(make_sparse_file(path, size_bytes));
  Completions done;
  router_.add(Verb::get, "/big",
              [&](Request& request) {
                Response response =
                    file_response(request, path, size_bytes, std::string(64, '0'), "x/y");
                done.watch(response);
                return response;
              },
              {.blocking = false});
  start_server();
  {
    Client client(port());
    ASSERT_TRUE(client.send(get("/big")));
    std::string first = client.read_some(4096);
    EXPECT_EQ(first.substr(0, 12), "HTTP/1.1 200");
  }  // closes with most of the body unread
  auto calls = done.wait_for(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].complete);
  EXPECT_LT(calls[0].bytes, size_bytes);
}

class SegmentedTest : public ServerTest {
 protected:
  // Serves `body` at `target`; on_done calls land in done_.
  void serve(std::string target, SegmentedBody body) {
    router_.add(Verb::get, std::move(target),
                [this, body = std::move(body)](Request&) {
                  Response response;
                  response.headers.set(Field::content_type, "application/zip");
                  response.body = body;
                  done_.watch(response);
                  return response;
                },
                {.blocking = false});
  }
  Completions done_;
};

TEST_F(SegmentedTest, SegmentsAreSentInOrderExactlyAndCountAsComplete) {
  // Larger than limits::sendfile_bytes_per_turn_max, so a file segment spans several turns.
  std::string big = pattern_bytes(9 * 1024 * 1024 + 17);
  std::string small = pattern_bytes(1000);
  fs::path big_path = write_file("big", big);
  fs::path small_path = write_file("small", small);
  fs::path empty_path = write_file("empty", "");
  std::string inline_big = pattern_bytes(300 * 1024);
  auto held = std::make_shared<const std::string>("a file held in memory");
  serve("/seg", {{std::string("head"), FileBody{big_path, 100, big.size() - 200}, std::string(),
                  FileBody{empty_path, 0, 0}, FileBody{small_path, 10, 20},
                  FileBody{small_path, 0, 1000}, inline_big, FileBody{small_path, 999, 1},
                  FileBody{{}, 5, 10, nullptr, held}, std::string("tail")}});
  std::string expected = "head" + big.substr(100, big.size() - 200) + small.substr(10, 20) + small +
                         inline_big + small.substr(999, 1) + held->substr(5, 10) + "tail";
  start_server();
  Client client(port());
  auto response = client.exchange(get("/seg") + get("/echo/after"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->header("content-type"), "application/zip");
  EXPECT_EQ(response->header("content-length"), std::to_string(expected.size()));
  EXPECT_TRUE(response->body == expected);  // EXPECT_EQ would print megabytes on failure
  auto next = client.read_response();       // the connection lives on after the body
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "after");
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].complete);
  EXPECT_EQ(done[0].bytes, expected.size());
}

TEST_F(SegmentedTest, EmptySegmentedBodyIsAnEmpty200) {
  serve("/nothing", {});
  start_server();
  Client client(port());
  auto response = client.exchange(get("/nothing") + get("/echo/after"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->header("content-length"), "0");
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "after");
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].complete);
  EXPECT_EQ(done[0].bytes, 0u);
}

TEST_F(SegmentedTest, HeadSendsTheSumOfTheLengthsButNoBodyAndDoesNotCount) {
  fs::path path = write_file("blob", pattern_bytes(5000));
  serve("/seg", {{std::string("12345"), FileBody{path, 0, 5000}, std::string("678")}});
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(head("/seg") + get("/echo/next")));
  auto head = client.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->header("content-length"), "5008");
  // Had any body bytes followed the HEAD headers, this would not parse as "next".
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "next");
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].complete);
  EXPECT_EQ(done[0].bytes, 0u);
}

TEST_F(SegmentedTest, MissingOrShortFileInAnySegmentBecomes500AndDoesNotCount) {
  fs::path path = write_file("blob", pattern_bytes(100));
  serve("/missing",
        {{std::string("head"), FileBody{path, 0, 100}, FileBody{dir_ / "absent", 0, 1}}});
  serve("/short", {{std::string("head"), FileBody{path, 50, 51}}});
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(get("/missing") + get("/short")));
  for (int i = 0; i < 2; ++i) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 500u);
    EXPECT_EQ(response->header("content-type"), "application/problem+json");
  }
  auto done = done_.wait_for(2);
  ASSERT_EQ(done.size(), 2u);
  for (const auto& [complete, bytes] : done) {
    EXPECT_FALSE(complete);
    EXPECT_EQ(bytes, 0u);
  }
}

TEST_F(SegmentedTest, DisconnectMidBodyReportsIncomplete) {
  constexpr uint64_t size_bytes = 64ull * 1024 * 1024;
  fs::path path = dir_ / "sparse";
  make_sparse_file(path, size_bytes);
  serve("/big", {{std::string("head"), FileBody{path, 0, size_bytes}, std::string("tail")}});
  start_server();
  {
    Client client(port());
    ASSERT_TRUE(client.send(get("/big")));
    std::string first = client.read_some(4096);
    EXPECT_EQ(first.substr(0, 12), "HTTP/1.1 200");
  }  // closes with most of the body unread
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].complete);
  EXPECT_LT(done[0].bytes, size_bytes + 8);  // "head", the file, "tail"
}

// The files are checked before the status line; one removed afterwards
// (before its turn) can only cut the body short.
TEST_F(SegmentedTest, FileRemovedBeforeItsTurnCutsTheBodyShort) {
  constexpr uint64_t first_bytes = 64ull * 1024 * 1024;  // far more than socket buffers hold
  fs::path first = dir_ / "first";
  make_sparse_file(first, first_bytes);
  fs::path second = write_file("second", pattern_bytes(1000));
  serve("/seg", {{FileBody{first, 0, first_bytes}, FileBody{second, 0, 1000}}});
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(get("/seg")));
  std::string start = client.read_some(4096);  // the header went out: both files were checked
  ASSERT_EQ(start.substr(0, 12), "HTTP/1.1 200");
  EXPECT_NE(start.find("Content-Length: " + std::to_string(first_bytes + 1000)), std::string::npos);
  size_t header_bytes = start.find("\r\n\r\n") + 4;
  ASSERT_LE(header_bytes, start.size());
  fs::remove(second);
  // The connection ends after the first file, without the second's 1000 bytes.
  uint64_t body_bytes = start.size() - header_bytes + client.read_until_closed();
  EXPECT_EQ(body_bytes, first_bytes);
  auto done = done_.wait_for(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].complete);
  EXPECT_EQ(done[0].bytes, first_bytes);
}

class StreamingTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    router_.add(Verb::post, "/spool",
                [this](Request& request) {
                  Seen seen;
                  if (request.spooled) {
                    seen.path = request.spooled->path;
                    seen.size_bytes = request.spooled->size_bytes;
                    seen.sha256 = request.spooled->sha256;
                    std::ifstream in(seen.path, std::ios::binary);
                    seen.on_disk.assign(std::istreambuf_iterator<char>(in), {});
                  }
                  seen_.push(seen);
                  return text_response(200, "stored", "text/plain");
                },
                {.body_bytes_max = 1024 * 1024, .streaming = true});
    router_.add(Verb::post, "/keep",
                [this](Request& request) {
                  fs::rename(request.spooled->path, dir_ / "kept");
                  return text_response(200, "kept", "text/plain");
                },
                {.body_bytes_max = 1024 * 1024, .streaming = true});
    start_server();
  }
  struct Seen {
    fs::path path;
    uint64_t size_bytes = 0;
    std::string sha256;
    std::string on_disk;
  };
  Inbox<Seen> seen_;
  const std::string payload_ = pattern_bytes(700 * 1024 + 123);
};

TEST_F(StreamingTest, BodyArrivesInASpoolFileWithSizeAndHashThenIsDeleted) {
  Client client(port());
  ASSERT_TRUE(client.send(post("/spool", payload_, auth) + chunked_post("/spool", payload_, auth)));
  for (int i = 0; i < 2; ++i) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200u);
  }
  auto seen = seen_.wait_for(2);
  ASSERT_EQ(seen.size(), 2u);
  for (const Seen& one : seen) {
    EXPECT_EQ(one.path.parent_path(), spool_dir_);
    EXPECT_EQ(one.size_bytes, payload_.size());
    EXPECT_EQ(one.sha256, sha256_hex(payload_));
    EXPECT_TRUE(one.on_disk == payload_);
    EXPECT_FALSE(fs::exists(one.path));
  }
  EXPECT_EQ(spool_entries(), 0u);
}

TEST_F(StreamingTest, HandlerMayKeepTheFileByMovingIt) {
  Client client(port());
  auto response = client.exchange(post("/keep", payload_, auth));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "kept");
  EXPECT_EQ(fs::file_size(dir_ / "kept"), payload_.size());
}

TEST_F(StreamingTest, BodyPastTheRouteLimitIs413AndLeavesNothing) {
  std::string too_big = pattern_bytes(1024 * 1024 + 1);
  Client fixed(port());
  auto refused = fixed.exchange(post("/spool", too_big, auth));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413u);

  Client chunked(port());
  std::thread sender([&] { chunked.send(chunked_post("/spool", too_big, auth)); });
  auto cut = chunked.read_response();
  sender.join();
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->status, 413u);
  EXPECT_EQ(spool_entries(), 0u);
}

TEST_F(StreamingTest, AnonymousUploadIsHeldToTheAnonymousLimit) {
  Client client(port());
  auto response = client.exchange(post("/spool", payload_));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413u);
}

}  // namespace
}  // namespace dg::http
