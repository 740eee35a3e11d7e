#include "base/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/captured_stderr.h"

namespace dg::log {
namespace {

using test_support::CapturedStderr;

TEST(Log, LinesAreJsonObjectsWrittenInOrderAndAWarningFlushesWhatWaited) {
  CapturedStderr captured;
  info("first", {{"n", 1}, {"path", "/a \"quoted\"\nline"}});
  debug("dropped at the default level");
  info("second", {{"msg", "a field cannot replace the message"}});
  warn("third", {{"ok", true}});
  auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 3u);
  std::vector<std::string> messages;
  for (const auto& line : lines) {
    auto value = boost::json::parse(line);
    ASSERT_TRUE(value.is_object()) << line;
    const auto& object = value.as_object();
    ASSERT_TRUE(object.contains("ts") && object.contains("level")) << line;
    messages.push_back(std::string(object.at("msg").as_string()));
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"first", "second", "third"}));
  auto first = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(first.at("level").as_string(), "info");
  EXPECT_EQ(first.at("n").as_int64(), 1);
  EXPECT_EQ(first.at("path").as_string(), "/a \"quoted\"\nline");
  EXPECT_EQ(boost::json::parse(lines[2]).as_object().at("level").as_string(), "warn");
}

TEST(Log, LineWritesTypedFieldsAsJson) {
  CapturedStderr captured;
  Line(Level::info, "request")
      .add("path", "/a \"b\"\\\n")
      .add("status", 404u)
      .add("delta", int64_t{-12})
      .add("bytes", uint64_t{18446744073709551615u})
      .add("complete", false)
      .add("msg", "a field cannot replace the message")
      .write();
  Line dropped(Level::debug, "below the level");
  EXPECT_FALSE(dropped.enabled());
  dropped.add("x", 1).write();
  warn("flush");
  auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 2u);
  auto line = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(line.at("msg").as_string(), "request");
  EXPECT_EQ(line.at("level").as_string(), "info");
  EXPECT_EQ(line.at("path").as_string(), "/a \"b\"\\\n");
  EXPECT_EQ(line.at("status").as_int64(), 404);
  EXPECT_EQ(line.at("delta").as_int64(), -12);
  EXPECT_EQ(line.at("bytes").as_uint64(), 18446744073709551615u);
  EXPECT_EQ(line.at("complete").as_bool(), false);
  EXPECT_EQ(line.size(), 8u);  // ts, level, msg and the five fields
}

TEST(Log, InfoLinesReachStderrWithoutAWarning) {
  CapturedStderr captured;
  info("alone");
  // The flusher writes within its interval; wait up to 5 s for it.
  for (int i = 0; i < 500 && captured.lines().empty(); ++i) ::usleep(10'000);
  auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"msg\":\"alone\""), std::string::npos);
}

// "listening on port N" is read by scripts: a log batch flushed from another
// thread must never land inside it.
TEST(Log, PrintedLinesAreNeverSplitByLogLines) {
  CapturedStderr captured;
  std::atomic<bool> done{false};
  std::thread logger([&] {
    for (int i = 0; !done.load(); ++i) {
      info("busy", {{"i", i}});
      if (i % 50 == 0) warn("flush");
    }
  });
  for (int i = 0; i < 300; ++i) print("dropgate listening on port " + std::to_string(i) + "\n");
  done.store(true);
  logger.join();
  warn("end");
  int printed = 0;
  for (const auto& line : captured.lines()) {
    if (line.starts_with("dropgate listening on port ")) {
      EXPECT_EQ(line, "dropgate listening on port " + std::to_string(printed))
          << "split or out of order";
      ++printed;
    } else {
      EXPECT_TRUE(boost::json::parse(line).is_object()) << line;
    }
  }
  EXPECT_EQ(printed, 300);
}

}  // namespace
}  // namespace dg::log
