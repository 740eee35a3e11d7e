// Operator commands that call an origin's API: create a drop, upload a folder,
// publish, pause/resume/close, claim on behalf of an account, status.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "http/client.h"
#include "cli/commands.h"
#include "core/media_type.h"
#include "core/validate.h"
#include "crypto/keys.h"

namespace dg::cli {
namespace {

using http::ApiClient;
using http::ApiResponse;
using http::encode_path;

namespace fs = std::filesystem;

struct Target {
  std::string origin;
  std::string api_key;
};

void add_target_flags(CLI::App* cmd, Target& t) {
  cmd->add_option("--origin", t.origin, "Origin URL (env DROPGATE_ORIGIN, default http://127.0.0.1:8080)");
  cmd->add_option("--api-key", t.api_key, "Operator API key (env DROPGATE_API_KEY)");
}

Result<ApiClient*> client_for(Target& t, std::unique_ptr<ApiClient>& holder) {
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
                 "no operator API key: pass --api-key or set DROPGATE_API_KEY (dropgate init prints one)");
  }
  holder = std::make_unique<ApiClient>(t.origin, t.api_key);
  return holder.get();
}

// Prints a 2xx body, or returns the failure.
Status print_or_fail(const Result<ApiResponse>& response) {
  if (!response) return response.error();
  if (response->status / 100 != 2) return Status(Code::unavailable, ApiClient::describe_failure(*response));
  std::cout << response->body << "\n";
  return Status();
}

struct CreateOptions {
  Target target;
  std::string slug, title, opens_at, closes_at, license = "all-rights-reserved", currency = "EUR";
  uint32_t edition = 0, per_buyer_limit = 1;
  int64_t price_minor = 0;
};

Status create(CreateOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  boost::json::object body{{"slug", o.slug}, {"title", o.title.empty() ? o.slug : o.title},
                           {"edition", o.edition}, {"per_buyer_limit", o.per_buyer_limit},
                           {"price", boost::json::object{{"amount", o.price_minor}, {"currency", o.currency}}},
                           {"rights", boost::json::object{{"license", o.license},
                                                          {"territories", boost::json::object{}}}}};
  if (!o.opens_at.empty()) body["opens_at"] = o.opens_at;
  if (!o.closes_at.empty()) body["closes_at"] = o.closes_at;
  return print_or_fail((*client)->call("POST", "/v1/drops", boost::json::serialize(body), crypto::random_id()));
}

struct UploadOptions {
  Target target;
  std::string slug;
  std::string folder;
};

Status upload(UploadOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  std::error_code ec;
  if (!fs::is_directory(o.folder, ec)) return Status(Code::not_found, o.folder + " is not a folder");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(o.folder, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_symlink()) return Status(Code::invalid_argument, it->path().string() + " is a symlink");
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  bool tty = ::isatty(STDERR_FILENO) == 1;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string rel = files[i].lexically_relative(o.folder).generic_string();
    DG_RETURN_IF_ERROR(core::validate_asset_path(rel).with_context(files[i].string()));
    auto response = (*client)->upload(
        "/v1/drops/" + o.slug + "/assets/" + encode_path(rel), files[i], core::guess_media_type(rel),
        [&](uint64_t sent, uint64_t total) {
          if (tty && total > (8u << 20)) {
            std::fprintf(stderr, "\r[%zu/%zu] %s %3.0f%%", i + 1, files.size(), rel.c_str(),
                         total ? 100.0 * static_cast<double>(sent) / static_cast<double>(total) : 100.0);
          }
        });
    if (tty) std::fprintf(stderr, "\r\033[K");
    if (!response) return response.error();
    if (response->status / 100 != 2) {
      return Status(Code::unavailable, rel + ": " + ApiClient::describe_failure(*response));
    }
    std::cerr << "[" << i + 1 << "/" << files.size() << "] " << rel << "\n";
  }
  std::cout << "uploaded " << files.size() << " files to " << o.slug << "; publish with: dropgate drop publish "
            << o.slug << "\n";
  return Status();
}

struct SimpleOptions {
  Target target;
  std::string slug;
  std::string account;
  std::string territory;
};

Status post_action(SimpleOptions& o, const std::string& action) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  return print_or_fail((*client)->call("POST", "/v1/drops/" + o.slug + "/" + action, "", crypto::random_id()));
}

Status status(SimpleOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  return print_or_fail((*client)->call("GET", "/v1/drops/" + o.slug + "/status"));
}

Status claim(SimpleOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  boost::json::object body{{"account", o.account}};
  if (!o.territory.empty()) body["territory"] = o.territory;
  return print_or_fail((*client)->call("POST", "/v1/drops/" + o.slug + "/claims", boost::json::serialize(body),
                                       crypto::random_id()));
}

}  // namespace

void add_operator_commands(CLI::App& drop, int& exit_code) {
  auto co = std::make_shared<CreateOptions>();
  auto* create_cmd = drop.add_subcommand("create", "Create a drop on an origin");
  add_target_flags(create_cmd, co->target);
  create_cmd->add_option("SLUG", co->slug, "Drop slug, e.g. summer-tape")->required();
  create_cmd->add_option("--edition", co->edition, "Edition size N")->required();
  create_cmd->add_option("--title", co->title, "Title shown to buyers (default: the slug)");
  create_cmd->add_option("--opens-at", co->opens_at, "Sale window start, RFC 3339 (default: now)");
  create_cmd->add_option("--closes-at", co->closes_at, "Sale window end, RFC 3339");
  create_cmd->add_option("--per-buyer-limit", co->per_buyer_limit, "Serials one account may own")
      ->capture_default_str();
  create_cmd->add_option("--price", co->price_minor, "Price in minor units (cents); 0 is free")
      ->capture_default_str();
  create_cmd->add_option("--currency", co->currency, "ISO 4217 currency")->capture_default_str();
  create_cmd->add_option("--license", co->license, "Licence identifier")->capture_default_str();
  create_cmd->callback([&exit_code, co] { exit_code = report(create(*co)); });

  auto uo = std::make_shared<UploadOptions>();
  auto* upload_cmd = drop.add_subcommand("upload", "Upload every file of a folder to a drop");
  add_target_flags(upload_cmd, uo->target);
  upload_cmd->add_option("SLUG", uo->slug, "Drop slug")->required();
  upload_cmd->add_option("FOLDER", uo->folder, "Folder of files")->required();
  upload_cmd->callback([&exit_code, uo] { exit_code = report(upload(*uo)); });

  for (const char* action : {"publish", "pause", "resume", "close"}) {
    auto ao = std::make_shared<SimpleOptions>();
    std::string help = std::string(action) == "publish" ? "Sign and publish the next manifest version"
                                                         : std::string("Set a drop's state: ") + action;
    auto* cmd = drop.add_subcommand(action, help);
    add_target_flags(cmd, ao->target);
    cmd->add_option("SLUG", ao->slug, "Drop slug")->required();
    std::string name = action;
    cmd->callback([&exit_code, ao, name] { exit_code = report(post_action(*ao, name)); });
  }

  auto so = std::make_shared<SimpleOptions>();
  auto* status_cmd = drop.add_subcommand("status", "Show a drop's state, claims and files");
  add_target_flags(status_cmd, so->target);
  status_cmd->add_option("SLUG", so->slug, "Drop slug")->required();
  status_cmd->callback([&exit_code, so] { exit_code = report(status(*so)); });

  auto clo = std::make_shared<SimpleOptions>();
  auto* claim_cmd = drop.add_subcommand("claim", "Claim a serial on behalf of an account");
  add_target_flags(claim_cmd, clo->target);
  claim_cmd->add_option("SLUG", clo->slug, "Drop slug")->required();
  claim_cmd->add_option("--account", clo->account, "Account id of the buyer")->required();
  claim_cmd->add_option("--territory", clo->territory, "Buyer's ISO 3166-1 alpha-2 territory");
  claim_cmd->callback([&exit_code, clo] { exit_code = report(claim(*clo)); });
}

}  // namespace dg::cli
