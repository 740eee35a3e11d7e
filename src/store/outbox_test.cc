#include "store/outbox.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace dg::store {
namespace {

TEST(Outbox, SurvivesReopenIsBoundedAndDeduplicates) {
  auto path = std::filesystem::temp_directory_path() / ("dg-outbox-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    auto outbox = open_outbox(path.string(), 3);
    ASSERT_TRUE(outbox.has_value()) << outbox.error().to_string();
    ASSERT_TRUE((*outbox)->append("a", R"({"n":1})").ok());
    ASSERT_TRUE((*outbox)->append("b", R"({"n":2})").ok());
    ASSERT_TRUE((*outbox)->append("a", R"({"n":1})").ok());  // same id: stored once
    EXPECT_EQ(*(*outbox)->depth(), 2u);
    ASSERT_TRUE((*outbox)->append("c", R"({"n":3})").ok());
    EXPECT_EQ((*outbox)->append("d", "{}").code(), Code::limit_exceeded);
  }
  auto outbox = open_outbox(path.string(), 3);
  ASSERT_TRUE(outbox.has_value());
  auto events = (*outbox)->peek(2);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].id, "a");
  EXPECT_EQ((*events)[1].body_json, R"({"n":2})");
  ASSERT_TRUE((*outbox)->acknowledge((*events)[1].seq).ok());
  auto rest = (*outbox)->peek(10);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].id, "c");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace dg::store
