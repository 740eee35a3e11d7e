// The database schema of each backend, as numbered migrations.
//
// Frozen: a migration that shipped is never edited, only followed by a new
// one with the next number, on both backends at once (schema_test checks
// that the two lists have the same numbers and names). The two texts differ
// only where the SQL dialects do: identity columns, STRICT tables, collations.
#pragma once

#include <span>
#include <string_view>

namespace dg::store {

struct Migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;  // a script of statements, run in one transaction
};

std::span<const Migration> sqlite_migrations();
std::span<const Migration> postgres_migrations();

// The version a fully migrated database has.
int latest_schema_version();

}  // namespace dg::store
