// Operator commands that call an origin's API: create a drop, upload a folder,
// publish, pause/resume/close, claim on behalf of an account, status, list.
// Each prints a short summary for people, or with --json the origin's answer.
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "base/limits.h"
#include "cli/commands.h"
#include "core/media_type.h"
#include "core/validate.h"
#include "crypto/keys.h"
#include "http/client.h"

namespace dg::cli {
namespace {

using http::ApiClient;
using http::ApiResponse;
using http::encode_path;

namespace fs = std::filesystem;

struct Target {
  std::string origin;
  std::string api_key;
  bool json = false;
};

void add_target_flags(CLI::App* cmd, Target& t) {
  cmd->add_option("--origin", t.origin,
                  "Origin URL (env DROPGATE_ORIGIN, default http://127.0.0.1:8080)");
  cmd->add_option("--api-key", t.api_key, "Operator API key (env DROPGATE_API_KEY)");
  cmd->add_flag("--json", t.json, "Print the origin's JSON answer (one line) instead of a summary");
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
    return error(
        Code::invalid_argument,
        "no operator API key: pass --api-key or set DROPGATE_API_KEY (dropgate init prints one)");
  }
  holder = std::make_unique<ApiClient>(t.origin, t.api_key);
  return holder.get();
}

// "2026-06-01T00:00:00Z to 2026-06-02T00:00:00Z", or "from …, open-ended" without an end.
std::string describe_window(const boost::json::object& drop) {
  const boost::json::value* closes = drop.if_contains("closes_at");
  if (!closes || !closes->is_string())
    return "from " + json_text(drop, "opens_at") + ", open-ended";
  return json_text(drop, "opens_at") + " to " + std::string(closes->get_string());
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
  boost::json::object body{
      {"slug", o.slug},
      {"title", o.title.empty() ? o.slug : o.title},
      {"edition", o.edition},
      {"per_buyer_limit", o.per_buyer_limit},
      {"price", boost::json::object{{"amount", o.price_minor}, {"currency", o.currency}}},
      {"rights",
       boost::json::object{{"license", o.license}, {"territories", boost::json::object{}}}}};
  if (!o.opens_at.empty()) body["opens_at"] = o.opens_at;
  if (!o.closes_at.empty()) body["closes_at"] = o.closes_at;
  auto response =
      (*client)->call("POST", "/v1/drops", boost::json::serialize(body), crypto::random_id());
  return print_answer(response, o.target.json,
                      [&](const boost::json::object& drop, std::ostream& out) {
                        out << "Created " << json_text(drop, "slug") << " ("
                            << json_text(drop, "state") << "), an edition of " << o.edition << "\n"
                            << "Next: dropgate drop upload " << o.slug
                            << " FOLDER, then dropgate drop publish " << o.slug << "\n";
                      });
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
  if (!fs::is_directory(o.folder, ec))
    return Status(Code::not_found, o.folder + " is not a folder");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(o.folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink())
      return Status(Code::invalid_argument, it->path().string() + " is a symlink");
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  bool tty = ::isatty(STDERR_FILENO) == 1;
  boost::json::array answers;  // for --json: the origin's answer for each file
  for (size_t i = 0; i < files.size(); ++i) {
    std::string rel = files[i].lexically_relative(o.folder).generic_string();
    DG_RETURN_IF_ERROR(core::validate_asset_path(rel).with_context(files[i].string()));
    auto response = (*client)->upload(
        "/v1/drops/" + o.slug + "/assets/" + encode_path(rel), files[i],
        core::guess_media_type(rel), [&](uint64_t sent, uint64_t total) {
          if (tty && total > (8u << 20)) {
            std::fprintf(
                stderr, "\r[%zu/%zu] %s %3.0f%%", i + 1, files.size(), rel.c_str(),
                total ? 100.0 * static_cast<double>(sent) / static_cast<double>(total) : 100.0);
          }
        });
    if (tty) std::fprintf(stderr, "\r\033[K");
    if (!response) return response.error();
    if (response->status / 100 != 2) {
      return Status(Code::unavailable, rel + ": " + ApiClient::describe_failure(*response));
    }
    std::cerr << "[" << i + 1 << "/" << files.size() << "] " << rel << "\n";
    if (o.target.json) {
      boost::system::error_code ec_json;
      answers.push_back(boost::json::parse(response->body, ec_json));
      if (ec_json) return Status(Code::unavailable, rel + ": the origin's answer is not JSON");
    }
  }
  if (o.target.json) {
    std::cout << boost::json::serialize(boost::json::object{{"assets", std::move(answers)}})
              << "\n";
    return Status();
  }
  std::cout << "uploaded " << files.size() << " files to " << o.slug
            << "; publish with: dropgate drop publish " << o.slug << "\n";
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
  auto response =
      (*client)->call("POST", "/v1/drops/" + o.slug + "/" + action, "", crypto::random_id());
  return print_answer(
      response, o.target.json, [&](const boost::json::object& answer, std::ostream& out) {
        if (action == "publish") {
          out << "Published " << o.slug << " version " << json_int(answer, "version")
              << " (manifest sha256 " << json_text(answer, "sha256") << ")\n";
        } else {
          out << json_text(answer, "slug") << " is now " << json_text(answer, "state") << "\n";
        }
      });
}

// The operator's view of one drop, a line per fact.
void summarize_status(const boost::json::object& drop, std::ostream& out) {
  out << json_text(drop, "slug") << ": " << json_text(drop, "title") << "\n";
  const boost::json::value* sold_out = drop.if_contains("sold_out");
  out << "  state      " << json_text(drop, "state")
      << (sold_out && sold_out->is_bool() && sold_out->as_bool() ? " (sold out)" : "") << "\n";
  out << "  sold       " << json_int(drop, "claimed") << " of " << json_int(drop, "edition");
  if (drop.contains("held")) out << ", " << json_int(drop, "held") << " held";
  out << ", " << json_int(drop, "remaining") << " remaining\n";
  int64_t version = json_int(drop, "manifest_version");
  out << "  version    " << (version > 0 ? std::to_string(version) : "none published yet") << "\n";
  out << "  window     " << describe_window(drop) << "\n";
  out << "  downloads  " << json_int(drop, "downloads_completed") << " completed\n";
  const boost::json::value* files = drop.if_contains("draft_assets");
  if (files && files->is_array()) {
    out << "  files      " << files->get_array().size() << " staged for the next publish\n";
  }
}

Status status(SimpleOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  return print_answer((*client)->call("GET", "/v1/drops/" + o.slug + "/status"), o.target.json,
                      summarize_status);
}

// Each serial, certificate and link once: the download token is in every link.
void summarize_claim(const boost::json::object& claim, std::ostream& out) {
  out << "Claimed " << json_text(claim, "drop") << " #" << json_int(claim, "serial") << " of "
      << json_int(claim, "edition") << " for " << json_text(claim, "account") << "\n";
  out << "certificate  " << json_text(claim, "certificate") << "\n";
  out << "verify at    " << json_text(claim, "certificate_url") << "\n";
  const boost::json::value* files = claim.if_contains("files");
  if (!files || !files->is_array()) return;
  out << "downloads (the links expire in minutes):\n";
  for (const auto& file : files->get_array()) {
    if (!file.is_object()) continue;
    const auto& f = file.get_object();
    out << "  " << json_text(f, "path") << "  "
        << format_size(static_cast<uint64_t>(json_int(f, "size"))) << "  " << json_text(f, "url")
        << "\n";
  }
}

Status claim(SimpleOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  boost::json::object body{{"account", o.account}};
  if (!o.territory.empty()) body["territory"] = o.territory;
  return print_answer((*client)->call("POST", "/v1/drops/" + o.slug + "/claims",
                                      boost::json::serialize(body), crypto::random_id()),
                      o.target.json, summarize_claim);
}

struct ListOptions {
  Target target;
};

// Fetches every page of GET /v1/drops. A cursor that does not move forward
// is the origin's fault, and ends the listing rather than looping.
Result<boost::json::array> fetch_drops(ApiClient& client) {
  boost::json::array drops;
  std::string after;
  while (true) {
    std::string path = "/v1/drops?limit=" + std::to_string(limits::drops_page_count_max);
    if (!after.empty()) path += "&after=" + encode_path(after);
    auto response = client.call("GET", path);
    if (!response) return error(response.error());
    if (response->status / 100 != 2)
      return error(Code::unavailable, ApiClient::describe_failure(*response));
    boost::system::error_code ec;
    boost::json::value page = boost::json::parse(response->body, ec);
    const boost::json::value* items =
        ec || !page.is_object() ? nullptr : page.get_object().if_contains("drops");
    if (!items || !items->is_array())
      return error(Code::unavailable, "the origin's list of drops is not JSON");
    for (const auto& d : items->get_array()) drops.push_back(d);
    const boost::json::value* next = page.get_object().if_contains("next_after");
    if (!next || !next->is_string()) return drops;
    std::string next_after(next->get_string());
    if (next_after <= after)
      return error(Code::unavailable, "the origin's list of drops does not advance");
    after = std::move(next_after);
  }
}

Status list(ListOptions& o) {
  std::unique_ptr<ApiClient> holder;
  auto client = client_for(o.target, holder);
  if (!client) return client.error();
  auto drops = fetch_drops(**client);
  if (!drops) return drops.error();
  if (o.target.json) {
    std::cout << boost::json::serialize(boost::json::object{{"drops", *drops}}) << "\n";
    return Status();
  }
  if (drops->empty()) {
    std::cout << "No drops yet; create one with: dropgate drop create SLUG --edition N\n";
    return Status();
  }
  size_t slug_width = 4;
  for (const auto& d : *drops) {
    if (d.is_object()) slug_width = std::max(slug_width, json_text(d.get_object(), "slug").size());
  }
  auto pad = [](std::string text, size_t width) {
    return text + std::string(width - std::min(width, text.size()), ' ');
  };
  std::cout << pad("SLUG", slug_width) << "  " << pad("STATE", 9) << "  " << pad("SOLD", 17)
            << "  VERSION\n";
  for (const auto& d : *drops) {
    if (!d.is_object()) continue;
    const auto& drop = d.get_object();
    std::string sold =
        std::to_string(json_int(drop, "claimed")) + "/" + std::to_string(json_int(drop, "edition"));
    int64_t version = json_int(drop, "manifest_version");
    std::cout << pad(json_text(drop, "slug"), slug_width) << "  "
              << pad(json_text(drop, "state"), 9) << "  " << pad(sold, 17) << "  "
              << (version > 0 ? std::to_string(version) : "-") << "\n";
  }
  return Status();
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
    std::string help = std::string(action) == "publish"
                           ? "Sign and publish the next manifest version"
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

  auto lo = std::make_shared<ListOptions>();
  auto* list_cmd = drop.add_subcommand(
      "list", "List the origin's drops: slug, state, sold of the edition, version");
  add_target_flags(list_cmd, lo->target);
  list_cmd->callback([&exit_code, lo] { exit_code = report(list(*lo)); });
}

}  // namespace dg::cli
