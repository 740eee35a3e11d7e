// `dropgate codes generate|list|revoke`: claim codes on an origin
// (docs/formats/claim-codes.md). generate writes the printable CSV to a new
// file only its owner can read; the codes are shown once and nowhere else.
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

#include "base/file.h"
#include "cli/commands.h"
#include "crypto/keys.h"
#include "http/client.h"

namespace dg::cli {
namespace {

using http::ApiClient;

struct CodesTarget {
  std::string origin;
  std::string api_key;
  std::string slug;
  bool json = false;
};

void add_codes_flags(CLI::App* cmd, CodesTarget& t) {
  cmd->add_option("--drop", t.slug, "Drop slug")->required();
  cmd->add_option("--origin", t.origin,
                  "Origin URL (env DROPGATE_ORIGIN, default http://127.0.0.1:8080)");
  cmd->add_option("--api-key", t.api_key, "Operator API key (env DROPGATE_API_KEY)");
  cmd->add_flag("--json", t.json, "Print the origin's JSON answer (one line) instead of a summary");
}

// The same defaults as the `dropgate drop` operator commands.
Result<std::unique_ptr<ApiClient>> client_for(CodesTarget& t) {
  if (t.origin.empty()) {
    const char* env = std::getenv("DROPGATE_ORIGIN");
    t.origin = env && *env ? env : "http://127.0.0.1:8080";
  }
  if (t.api_key.empty()) {
    const char* env = std::getenv("DROPGATE_API_KEY");
    if (env) t.api_key = env;
  }
  if (t.api_key.empty()) {
    return error(Code::invalid_argument,
                 "no operator API key: pass --api-key or set DROPGATE_API_KEY");
  }
  return std::make_unique<ApiClient>(t.origin, t.api_key);
}

struct GenerateOptions {
  CodesTarget target;
  uint32_t count = 0;
  std::string label;
  std::string out;
};

// Creates `path` for the codes: new (never overwrites), owner-only (0600).
Result<int> create_private_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return error(errno == EEXIST ? Code::conflict : Code::io_error,
                 path + ": " + std::strerror(errno) +
                     (errno == EEXIST ? " (codes are never written over a file)" : ""));
  }
  return fd;
}

Status generate(GenerateOptions& o) {
  auto client = client_for(o.target);
  if (!client) return client.error();
  // The file before the batch: a batch whose codes could not be written
  // would hold its serials until revoked.
  auto fd = create_private_file(o.out);
  if (!fd) return fd.error();
  boost::json::object body{{"count", o.count}, {"label", o.label}};
  auto response = (*client)->call_with("POST", "/v1/drops/" + o.target.slug + "/codes",
                                       boost::json::serialize(body), {"Accept: text/csv"}, "");
  Status written;
  if (response && response->status == 201) {
    written = write_all(*fd, response->body, o.out);
    if (written.ok() && ::fsync(*fd) != 0)
      written = Status(Code::io_error, o.out + ": fsync failed");
  }
  ::close(*fd);
  if (!response || response->status != 201 || !written.ok()) {
    ::unlink(o.out.c_str());
    if (!response) return response.error();
    if (response->status != 201) {
      return Status(Code::unavailable, ApiClient::describe_failure(*response));
    }
    return Status(
        written.code(),
        written.message() + " (the batch was made: revoke it with dropgate codes revoke)");
  }
  std::cout << "Wrote " << o.count << " codes for " << o.target.slug << " to " << o.out
            << " (readable by you only); they are shown nowhere else.\n";
  return Status();
}

Status list(CodesTarget& t) {
  auto client = client_for(t);
  if (!client) return client.error();
  auto response = (*client)->call("GET", "/v1/drops/" + t.slug + "/codes");
  return print_answer(response, t.json, [](const boost::json::object& answer, std::ostream& out) {
    const boost::json::value* batches = answer.if_contains("batches");
    if (!batches || !batches->is_array() || batches->get_array().empty()) {
      out << "No code batches.\n";
      return;
    }
    for (const auto& item : batches->get_array()) {
      if (!item.is_object()) continue;
      const auto& b = item.get_object();
      out << "batch " << json_int(b, "batch") << " \"" << json_text(b, "label")
          << "\": " << json_int(b, "generated") << " generated, " << json_int(b, "used")
          << " used, " << json_int(b, "revoked") << " revoked, " << json_int(b, "unused")
          << " unused\n";
    }
  });
}

struct RevokeOptions {
  CodesTarget target;
  int64_t batch = 0;
  std::string code;
};

Status revoke(RevokeOptions& o) {
  if ((o.batch == 0) == o.code.empty()) {
    return Status(Code::invalid_argument, "name a batch (--batch) or a code (--code), not both");
  }
  auto client = client_for(o.target);
  if (!client) return client.error();
  boost::json::object body;
  if (o.batch != 0) body["batch"] = o.batch;
  if (!o.code.empty()) body["code"] = o.code;
  auto response = (*client)->call("POST", "/v1/drops/" + o.target.slug + "/codes/revoke",
                                  boost::json::serialize(body));
  return print_answer(response, o.target.json,
                      [](const boost::json::object& answer, std::ostream& out) {
                        out << "Revoked " << json_int(answer, "revoked")
                            << " unused codes; their serials are back on sale. "
                            << json_int(answer, "already_used") << " were used already.\n";
                      });
}

}  // namespace

void add_codes_commands(CLI::App& app, int& exit_code) {
  auto* codes = app.add_subcommand("codes", "Single-use claim codes for a drop");
  codes->require_subcommand(1);

  auto go = std::make_shared<GenerateOptions>();
  auto* generate_cmd = codes->add_subcommand(
      "generate", "Make N codes, each reserving one unsold serial, and write them as CSV");
  add_codes_flags(generate_cmd, go->target);
  generate_cmd->add_option("--count", go->count, "How many codes (1-10000)")->required();
  generate_cmd->add_option("--label", go->label, "A label for the batch, e.g. flyers");
  generate_cmd->add_option("--out", go->out, "New CSV file to write (never overwritten)")
      ->required();
  generate_cmd->callback([&exit_code, go] { exit_code = report(generate(*go)); });

  auto lo = std::make_shared<CodesTarget>();
  auto* list_cmd = codes->add_subcommand("list", "Show a drop's code batches and their counts");
  add_codes_flags(list_cmd, *lo);
  list_cmd->callback([&exit_code, lo] { exit_code = report(list(*lo)); });

  auto ro = std::make_shared<RevokeOptions>();
  auto* revoke_cmd = codes->add_subcommand(
      "revoke", "Revoke unused codes of a batch, or one code; their serials go back on sale");
  add_codes_flags(revoke_cmd, ro->target);
  revoke_cmd->add_option("--batch", ro->batch, "Batch id (dropgate codes list shows them)");
  revoke_cmd->add_option("--code", ro->code, "One code");
  revoke_cmd->callback([&exit_code, ro] { exit_code = report(revoke(*ro)); });
}

}  // namespace dg::cli
