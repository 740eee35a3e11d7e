// The PostgreSQL backend: libpq connections for SqlStore and open_postgres().
//
// Each connection prepares a statement the first time it runs it (parameters
// are always bound, never spliced into the text) and keeps it for its life.
// Sessions are pinned to what the store's correctness rests on, whatever the
// server's defaults: synchronous_commit on (an acknowledged claim is on disk,
// and on the standby when the operator configured one), READ COMMITTED with
// explicit row locks, and a lock_timeout so no call waits forever.
#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "base/assert.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/time.h"
#include "store/schema.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

const Dialect& postgres_dialect() {
  static const Dialect dialect{
      .name = "postgres",
      .begin_write = "BEGIN ISOLATION LEVEL READ COMMITTED",
      // Read-only REPEATABLE READ: one snapshot for all statements of a read,
      // and never a serialization failure.
      .begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
      .for_update = " FOR UPDATE",
      .for_share = " FOR SHARE",
      .for_update_of_leases = " FOR UPDATE OF l",
      .next_generation = "SELECT nextval('seller_generation')",
      // A transaction-scoped advisory lock ("dropgate" in ASCII): concurrent
      // `dropgate serve` processes migrate one after the other, and the lock
      // goes away with the transaction even if the process dies.
      .migration_lock = "SELECT pg_advisory_xact_lock(7237970079699268709)",
      .create_migrations_table =
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
      .migrations_table_exists =
          "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END",
      .migrations = postgres_migrations(),
  };
  return dialect;
}

Code classify(std::string_view sqlstate, bool connection_ok) {
  if (sqlstate == "23505") return Code::conflict;   // unique_violation
  if (sqlstate == "23503") return Code::not_found;  // foreign_key_violation
  if (sqlstate.starts_with("23") || sqlstate.starts_with("22")) return Code::invalid_argument;
  if (sqlstate == "40001" || sqlstate == "40P01" ||  // serialization failure, deadlock
      sqlstate == "55P03" || sqlstate == "57014" ||  // lock_timeout, query cancelled
      sqlstate == "53300" || sqlstate.starts_with("08") || sqlstate.starts_with("57P")) {
    return Code::unavailable;
  }
  if (sqlstate == "XX001" || sqlstate == "XX002") return Code::corruption;
  if (sqlstate.empty() && !connection_ok) return Code::unavailable;  // lost connection
  return Code::io_error;
}

std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Notices ("relation already exists, skipping") would go to stderr by
// default; they carry nothing an operator needs.
void ignore_notice(void*, const char*) {}

class PgConnection final : public sql::Connection {
 public:
  explicit PgConnection(PGconn* connection) : connection_(connection) {}
  ~PgConnection() override { PQfinish(connection_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Result<sql::Rows> run(std::string_view sql, std::span<const sql::Value> params) override;
  std::vector<Result<sql::Rows>> run_all(std::span<const sql::Statement> statements) override;
  Status exec(std::string_view script) override;
  bool reusable() override {
    return !broken_ && PQstatus(connection_) == CONNECTION_OK &&
           PQtransactionStatus(connection_) == PQTRANS_IDLE &&
           PQpipelineStatus(connection_) == PQ_PIPELINE_OFF;
  }

 private:
  Status failure(const PGresult* result, std::string_view what) const;
  Result<sql::Rows> collect(ResultPtr result, std::string_view sql) const;
  // The name of `sql` prepared on this connection; empty: run it unprepared.
  Result<std::string> prepared(std::string_view sql);
  // Puts `params` into param_bytes_ / param_values_ as libpq takes them.
  Status bind(std::span<const sql::Value> params);
  // Sends one statement of a pipeline (its answer is read later).
  bool send(const sql::Statement& statement, const std::string& name);
  // Reads the answers of the `sent` statements of a pipeline and its sync
  // point, then leaves pipeline mode.
  void read_pipeline(std::span<const sql::Statement> sent, std::vector<Result<sql::Rows>>& results);

  PGconn* connection_;
  // SQL text → statement name
  std::unordered_map<std::string, std::string, sql::TextHash, std::equal_to<>> prepared_;
  // The parameters of the statement being run, as libpq takes them: each
  // NUL-terminated in one buffer, kept between calls so that a statement of
  // many rows (a batch of claims) costs no allocation once the buffer is big
  // enough.
  std::string param_bytes_;
  std::vector<const char*> param_values_;
  // A pipeline ended out of step with libpq: the connection must not be reused.
  bool broken_ = false;
};

Status PgConnection::failure(const PGresult* result, std::string_view what) const {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = result == nullptr ? trimmed(PQerrorMessage(connection_))
                                          : trimmed(PQresultErrorMessage(result));
  if (message.empty()) message = trimmed(PQerrorMessage(connection_));
  Code code = classify(state == nullptr ? "" : state, PQstatus(connection_) == CONNECTION_OK);
  return Status(code, std::string(what) + ": " + message);
}

Result<std::string> PgConnection::prepared(std::string_view sql) {
  auto found = prepared_.find(sql);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= limits::prepared_statements_max) return std::string();
  std::string text(sql);
  std::string name = "dg" + std::to_string(prepared_.size() + 1);
  ResultPtr result(PQprepare(connection_, name.c_str(), text.c_str(), 0, nullptr));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return error(failure(result.get(), "preparing \"" + text.substr(0, 60) + "\""));
  }
  prepared_.emplace(std::move(text), name);
  return name;
}

Result<sql::Rows> PgConnection::collect(ResultPtr result, std::string_view sql) const {
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    return error(failure(result.get(), "running \"" + std::string(sql.substr(0, 60)) + "\""));
  }
  const int row_count = PQntuples(result.get());
  const int column_count = PQnfields(result.get());
  sql::Rows rows(static_cast<uint32_t>(column_count));
  rows.reserve(static_cast<size_t>(row_count));
  for (int row = 0; row < row_count; ++row) {
    for (int column = 0; column < column_count; ++column) {
      if (PQgetisnull(result.get(), row, column)) {
        rows.add_cell(std::nullopt);
      } else {
        rows.add_cell(std::string(PQgetvalue(result.get(), row, column),
                                  static_cast<size_t>(PQgetlength(result.get(), row, column))));
      }
    }
  }
  // PQcmdTuples counts the rows an INSERT/UPDATE/DELETE changed (also with
  // RETURNING); for a SELECT it counts rows read, which is not a change.
  std::string_view command = PQcmdStatus(result.get());
  if (!command.starts_with("SELECT")) {
    rows.set_affected_rows(std::strtoull(PQcmdTuples(result.get()), nullptr, 10));
  }
  return rows;
}

Status PgConnection::bind(std::span<const sql::Value> params) {
  // Sized first, then filled: the pointers into param_bytes_ stay valid.
  constexpr size_t kInt64TextMax = 20;  // "-9223372036854775808"
  size_t bytes = 0;
  for (const sql::Value& param : params) {
    if (std::holds_alternative<int64_t>(param)) bytes += kInt64TextMax + 1;
    if (std::holds_alternative<std::string_view>(param)) {
      std::string_view text = std::get<std::string_view>(param);
      // Text parameters end at NUL: reject rather than store a truncated value.
      if (text.find('\0') != std::string_view::npos) {
        return Status(Code::invalid_argument, "text with a NUL byte cannot be stored");
      }
      bytes += text.size() + 1;
    }
  }
  param_bytes_.resize(bytes);
  param_values_.assign(params.size(), nullptr);  // NULL stays nullptr
  char* out = param_bytes_.data();
  for (size_t i = 0; i < params.size(); ++i) {
    if (std::holds_alternative<int64_t>(params[i])) {
      param_values_[i] = out;
      out = std::to_chars(out, out + kInt64TextMax, std::get<int64_t>(params[i])).ptr;
      *out++ = '\0';
    } else if (std::holds_alternative<std::string_view>(params[i])) {
      std::string_view text = std::get<std::string_view>(params[i]);
      param_values_[i] = out;
      out = std::copy(text.begin(), text.end(), out);
      *out++ = '\0';
    }
  }
  return Status();
}

Result<sql::Rows> PgConnection::run(std::string_view sql, std::span<const sql::Value> params) {
  DG_RETURN_IF_ERROR_RESULT(bind(params));
  Result<std::string> name = prepared(sql);
  if (!name) return error(name.error());
  const int count = static_cast<int>(params.size());
  ResultPtr result(name->empty() ? PQexecParams(connection_, std::string(sql).c_str(), count,
                                                nullptr, param_values_.data(), nullptr, nullptr, 0)
                                 : PQexecPrepared(connection_, name->c_str(), count,
                                                  param_values_.data(), nullptr, nullptr, 0));
  return collect(std::move(result), sql);
}

// Pipeline mode: every statement is sent, then one sync point, then the
// answers are read in order. After a failure the server skips the rest up to
// the sync point (each answers PGRES_PIPELINE_ABORTED). A transaction begun
// before stays open, failed or not: the caller commits or rolls it back.
std::vector<Result<sql::Rows>> PgConnection::run_all(std::span<const sql::Statement> statements) {
  std::vector<Result<sql::Rows>> results;
  results.reserve(statements.size());
  // Prepared first: PQprepare waits for its answer, which pipeline mode forbids.
  std::vector<std::string> names;
  names.reserve(statements.size());
  for (const sql::Statement& statement : statements) {
    Result<std::string> name = prepared(statement.sql);
    if (!name) {
      results.push_back(error(name.error()));
      return results;
    }
    names.push_back(std::move(*name));
  }
  if (PQenterPipelineMode(connection_) != 1) {
    results.push_back(error(failure(nullptr, "entering pipeline mode")));
    return results;
  }
  size_t sent = 0;
  Status unsent;  // why statement `sent` could not be sent
  for (; sent < statements.size(); ++sent) {
    unsent = bind(statements[sent].params);
    if (!unsent.ok()) break;
    if (!send(statements[sent], names[sent])) {
      unsent =
          failure(nullptr, "sending \"" + std::string(statements[sent].sql.substr(0, 60)) + "\"");
      break;
    }
  }
  if (PQpipelineSync(connection_) != 1) broken_ = true;
  read_pipeline(statements.first(sent), results);
  if (!unsent.ok() && results.size() == sent && (sent == 0 || results.back())) {
    results.push_back(error(unsent));
  }
  return results;
}

bool PgConnection::send(const sql::Statement& statement, const std::string& name) {
  const int count = static_cast<int>(statement.params.size());
  if (name.empty()) {
    return PQsendQueryParams(connection_, std::string(statement.sql).c_str(), count, nullptr,
                             param_values_.data(), nullptr, nullptr, 0) == 1;
  }
  return PQsendQueryPrepared(connection_, name.c_str(), count, param_values_.data(), nullptr,
                             nullptr, 0) == 1;
}

void PgConnection::read_pipeline(std::span<const sql::Statement> sent,
                                 std::vector<Result<sql::Rows>>& results) {
  bool failed = false;
  for (const sql::Statement& statement : sent) {
    ResultPtr result(PQgetResult(connection_));
    if (result == nullptr) {  // the connection is gone
      if (!failed) results.push_back(error(failure(nullptr, "reading a pipeline's answers")));
      broken_ = true;
      break;
    }
    if (!failed) {
      if (PQresultStatus(result.get()) == PGRES_PIPELINE_ABORTED) {
        results.push_back(error(Code::io_error, "a pipeline was aborted"));
      } else {
        results.push_back(collect(std::move(result), statement.sql));
      }
      failed = !results.back();
    }
    // Each statement's answer ends with a null result; anything else means
    // this side no longer knows which answer is whose.
    if (ResultPtr extra(PQgetResult(connection_)); extra != nullptr) {
      if (!failed) results.push_back(error(Code::io_error, "a pipeline answered out of step"));
      broken_ = true;
      break;
    }
  }
  if (!broken_) {
    ResultPtr sync(PQgetResult(connection_));
    if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) broken_ = true;
  }
  if (PQexitPipelineMode(connection_) != 1) broken_ = true;
}

Status PgConnection::exec(std::string_view script) {
  std::string text(script);
  ResultPtr result(PQexec(connection_, text.c_str()));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return failure(result.get(), "running \"" + text.substr(0, 60) + "\"");
  }
  // COMMIT of a transaction that hit an error "succeeds" with the tag
  // ROLLBACK: nothing was written, and the caller must not believe otherwise.
  if (text == "COMMIT" && std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return Status(Code::io_error, std::string("COMMIT ended as ") + PQcmdStatus(result.get()));
  }
  return Status();
}

Result<std::unique_ptr<sql::Connection>> open_connection(const std::string& conninfo) {
  // Our defaults come first; the caller's connection string, expanded from
  // "dbname", overrides them.
  std::string timeout = std::to_string(to_s(limits::postgres_connect_timeout));
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "dropgate", conninfo.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) return error(Code::unavailable, "connecting to PostgreSQL: out of memory");
  auto connection = std::make_unique<PgConnection>(raw);
  if (PQstatus(raw) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    return error(Code::unavailable, "connecting to PostgreSQL: " + trimmed(PQerrorMessage(raw)));
  }
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);
  std::string session =
      "SET synchronous_commit = on; SET default_transaction_isolation = 'read committed'; "
      "SET client_encoding = 'UTF8'; SET lock_timeout = " +
      std::to_string(to_ms(limits::lock_wait_max)) + ";";
  DG_RETURN_IF_ERROR_RESULT(connection->exec(session));
  return std::unique_ptr<sql::Connection>(std::move(connection));
}

}  // namespace

Result<std::unique_ptr<Store>> open_postgres(const std::string& conninfo, uint32_t connections) {
  if (connections < 1 || connections > limits::store_connections_max) {
    return error(Code::invalid_argument,
                 "connections must be 1.." + std::to_string(limits::store_connections_max));
  }
  auto pool = std::make_unique<sql::ConnectionPool>(
      "postgres", connections, [conninfo] { return open_connection(conninfo); },
      to_ms(limits::connection_wait_max));
  // Connect once now, so a wrong address or password fails at start.
  {
    Result<sql::ConnectionPool::Handle> first = pool->checkout();
    if (!first) return error(first.error());
  }
  return std::unique_ptr<Store>(
      std::make_unique<SqlStore>(postgres_dialect(), std::move(pool), nullptr));
}

}  // namespace dg::store
