// base/problem_types.h and docs/api/problems.md list the same problem types:
// every type a server sends is documented with its HTTP status, and every
// documented type and status is one the code defines. Clients branch on the
// name and the status, so the two must not drift apart.
#include "base/problem_types.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

namespace dg::problem {
namespace {

using NameAndStatus = std::pair<std::string, unsigned>;

// Every (type, status) in the document's tables: rows "| `name` | 403, 409 | …".
// The prose about the HTTP layer's own types is not a table and not read.
std::set<NameAndStatus> documented(const std::string& markdown) {
  std::set<NameAndStatus> out;
  const std::regex row(R"(^\| `([a-z0-9-]+)` \| ([0-9, ]+) \|)");
  const std::regex number(R"([0-9]+)");
  std::istringstream in(markdown);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    const std::string statuses = m[2];
    for (std::sregex_iterator it(statuses.begin(), statuses.end(), number), end; it != end; ++it) {
      out.emplace(m[1], static_cast<unsigned>(std::stoul(it->str())));
    }
  }
  return out;
}

std::set<NameAndStatus> defined() {
  std::set<NameAndStatus> out;
  for (const ProblemType* type : kAll) out.emplace(std::string(type->name), type->http_status);
  return out;
}

std::string read_document() {
  std::ifstream in(std::string(DG_SOURCE_DIR) + "/docs/api/problems.md");
  EXPECT_TRUE(in.good()) << "cannot read docs/api/problems.md";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Both ways: a type the code sends but the document omits (or gives another
// status) fails, and so does a documented type the code no longer has.
TEST(ProblemTypes, TheDocumentAndTheCodeListTheSameTypesAndStatuses) {
  const std::set<NameAndStatus> docs = documented(read_document());
  const std::set<NameAndStatus> code = defined();
  ASSERT_GT(docs.size(), 20u) << "the tables of docs/api/problems.md were not found";
  for (const auto& [name, status] : code) {
    EXPECT_TRUE(docs.contains({name, status}))
        << name << " (" << status << ") is sent but not in docs/api/problems.md";
  }
  for (const auto& [name, status] : docs) {
    EXPECT_TRUE(code.contains({name, status}))
        << name << " (" << status << ") is documented but not in base/problem_types.h";
  }
}

// RFC 9457 §3.1.3: a type's title does not change from one occurrence to the
// next, so one name has one title, whichever server or status sends it; and
// no (name, status) is defined twice.
TEST(ProblemTypes, OneNameHasOneTitleAndEachTypeIsDefinedOnce) {
  std::map<std::string_view, std::string_view> title_of;
  std::set<NameAndStatus> seen;
  for (const ProblemType* type : kAll) {
    auto it = title_of.emplace(type->name, type->title).first;
    EXPECT_EQ(it->second, type->title) << type->name;
    EXPECT_TRUE(seen.emplace(std::string(type->name), type->http_status).second) << type->name;
  }
}

// Every code but ok has a generic type, listed (so documented) like the others;
// only failures of ours are 500s.
TEST(ProblemTypes, EveryCodeHasAListedGenericType) {
  const std::set<NameAndStatus> code = defined();
  for (Code c : {Code::not_found, Code::invalid_argument, Code::unauthorized, Code::forbidden,
                 Code::conflict, Code::limit_exceeded, Code::corruption, Code::unavailable,
                 Code::io_error, Code::too_large}) {
    const ProblemType& type = generic_for(c);
    EXPECT_TRUE(code.contains({std::string(type.name), type.http_status})) << code_name(c);
    const bool ours = c == Code::corruption || c == Code::io_error;
    EXPECT_EQ(type.http_status == 500, ours) << code_name(c);
  }
}

}  // namespace
}  // namespace dg::problem
