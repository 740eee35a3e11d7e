// `dropgate edge …`: run an edge at a venue, and (operator side) approve it.
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "base/log.h"
#include "cli/commands.h"
#include "crypto/keys.h"
#include "edge/app.h"
#include "edge/config.h"
#include "http/client.h"

namespace dg::cli {
namespace {

struct EdgeOptions {
  std::string data_dir;
  std::string config_file;
  std::string listen;
  std::string origin;
  std::string name = "edge";
  std::string api_key;
  std::string drops;
  uint32_t ttl_days = 30;
  // Offline sales (approve): expected sales per drop, and the risk caps.
  std::optional<uint32_t> offline_sales;
  std::optional<uint32_t> cap_count;
  std::optional<int64_t> cap_value;
  std::optional<int64_t> cap_per_sale;
  uint32_t sync_interval_s = 0;
  std::string reason;  // lost
  std::string log_level;
  int64_t edge_id = 0;
  bool force = false;
  bool json = false;  // operator commands: the origin's answer instead of a summary
};

Result<edge::EdgeConfig> build_config(const EdgeOptions& o) {
  edge::EdgeConfig config;
  edge::apply_edge_environment(config);
  if (!o.data_dir.empty()) config.data_dir = o.data_dir;
  std::filesystem::path file = o.config_file;
  if (file.empty() && std::filesystem::exists(config.data_dir / "edge.toml"))
    file = config.data_dir / "edge.toml";
  if (!file.empty()) {
    DG_RETURN_IF_ERROR_RESULT(edge::load_edge_config_file(file, config));
    edge::apply_edge_environment(config);
  }
  if (!o.data_dir.empty()) config.data_dir = o.data_dir;
  if (!o.listen.empty()) config.listen = o.listen;
  if (o.sync_interval_s > 0) config.sync_interval = std::chrono::seconds(o.sync_interval_s);
  if (!o.log_level.empty()) config.log_level = o.log_level;
  DG_RETURN_IF_ERROR_RESULT(edge::check_edge_config(config));
  if (auto level = log::parse_level(config.log_level)) log::set_level(*level);
  return config;
}

void add_edge_flags(CLI::App* cmd, EdgeOptions& o) {
  cmd->add_option("--data", o.data_dir,
                  "Edge data folder (default ./dropgate-edge; env DROPGATE_EDGE_DATA)");
  cmd->add_option("--config", o.config_file,
                  "TOML config file (default DATA/edge.toml if present)");
}

Status enroll(const EdgeOptions& o) {
  auto config = build_config(o);
  if (!config) return config.error();
  auto outcome = edge::enroll(*config, o.origin, o.name, o.force);
  if (!outcome) return outcome.error();
  std::cout << "edge id:        " << outcome->edge_id << "\n"
            << "edge key:       " << outcome->key_id << "\n"
            << "origin keys:    " << outcome->origin_key_ids << " (pinned)\n\n"
            << "Check the origin key id with the operator, then ask them to run:\n"
            << "  dropgate edge approve " << outcome->edge_id << " --drops SLUG[,SLUG…]\n"
            << "and preload before the event with:\n"
            << "  dropgate edge preload --data " << config->data_dir.string() << "\n";
  return Status();
}

Status preload(const EdgeOptions& o) {
  auto config = build_config(o);
  if (!config) return config.error();
  return edge::preload(*config);
}

Status serve(const EdgeOptions& o) {
  auto config = build_config(o);
  if (!config) return config.error();
  return edge::serve(*config, [&](uint16_t port) {
    log::print("dropgate edge listening on port " + std::to_string(port) + "\n");
  });
}

Result<std::unique_ptr<http::ApiClient>> operator_client(EdgeOptions& o) {
  if (o.origin.empty()) {
    const char* env = std::getenv("DROPGATE_ORIGIN");
    o.origin = env && *env ? env : "http://127.0.0.1:8080";
  }
  if (o.api_key.empty()) {
    const char* env = std::getenv("DROPGATE_API_KEY");
    if (env) o.api_key = env;
  }
  if (o.api_key.empty()) {
    return error(Code::invalid_argument,
                 "no operator API key: pass --api-key or set DROPGATE_API_KEY");
  }
  return std::make_unique<http::ApiClient>(o.origin, o.api_key);
}

// "summer-tape, winter-tape", or "no drops".
std::string describe_drops(const boost::json::object& edge) {
  const boost::json::value* drops = edge.if_contains("drops");
  std::string out;
  if (drops && drops->is_array()) {
    for (const auto& d : drops->get_array()) {
      if (d.is_string()) out += (out.empty() ? "" : ", ") + std::string(d.get_string());
    }
  }
  return out.empty() ? "no drops" : out;
}

Status approve(EdgeOptions& o) {
  auto client = operator_client(o);
  if (!client) return client.error();
  boost::json::array drops;
  size_t start = 0;
  while (start <= o.drops.size()) {
    size_t comma = o.drops.find(',', start);
    std::string slug =
        o.drops.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!slug.empty()) drops.push_back(boost::json::value(slug));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  boost::json::object body{{"drops", drops}, {"ttl_days", o.ttl_days}};
  if (o.offline_sales) {
    boost::json::object targets;
    for (const auto& slug : drops) targets[slug.as_string()] = *o.offline_sales;
    body["offline_sales"] = std::move(targets);
  }
  if (o.cap_count || o.cap_value || o.cap_per_sale) {
    if (!o.cap_count || !o.cap_value || !o.cap_per_sale) {
      return Status(Code::invalid_argument,
                    "risk caps come together: --cap-count, --cap-value and --cap-per-sale");
    }
    body["caps"] = boost::json::object{{"sales_max", *o.cap_count},
                                       {"value_minor_max", *o.cap_value},
                                       {"sale_value_minor_max", *o.cap_per_sale}};
  }
  auto response = (*client)->call("POST", "/v1/edges/" + std::to_string(o.edge_id) + "/approve",
                                  boost::json::serialize(body), crypto::random_id());
  return print_answer(response, o.json, [](const boost::json::object& edge, std::ostream& out) {
    out << "Approved edge " << json_int(edge, "edge_id") << " (" << json_text(edge, "name")
        << ") for " << describe_drops(edge) << " until " << json_text(edge, "grant_expires_at")
        << "\n"
        << "It can now preload: dropgate edge preload --data EDGE_DATA\n";
  });
}

Status list(EdgeOptions& o) {
  auto client = operator_client(o);
  if (!client) return client.error();
  return print_answer(
      (*client)->call("GET", "/v1/edges"), o.json,
      [](const boost::json::object& answer, std::ostream& out) {
        const boost::json::value* edges = answer.if_contains("edges");
        if (!edges || !edges->is_array() || edges->get_array().empty()) {
          out << "No edges yet; enrol one with: dropgate edge enroll --origin URL\n";
          return;
        }
        for (const auto& e : edges->get_array()) {
          if (!e.is_object()) continue;
          const auto& edge = e.get_object();
          out << json_int(edge, "edge_id") << "  " << json_text(edge, "name") << "  "
              << json_text(edge, "state") << "  " << describe_drops(edge) << "  "
              << json_text(edge, "key_id") << "\n";
        }
      });
}

Status leases(EdgeOptions& o) {
  auto client = operator_client(o);
  if (!client) return client.error();
  return print_answer(
      (*client)->call("GET", "/v1/edges/" + std::to_string(o.edge_id) + "/leases"), o.json,
      [](const boost::json::object& answer, std::ostream& out) {
        const boost::json::value* leases = answer.if_contains("leases");
        if (!leases || !leases->is_array() || leases->get_array().empty()) {
          out << "No serials leased to this edge (approve it with --offline-sales N)\n";
          return;
        }
        for (const auto& l : leases->get_array()) {
          if (!l.is_object()) continue;
          const auto& lease = l.get_object();
          out << json_text(lease, "drop") << "  #" << json_int(lease, "first") << "-#"
              << json_int(lease, "last") << "  unsold " << json_int(lease, "unsold") << "\n";
        }
      });
}

Status revoke(EdgeOptions& o) {
  auto client = operator_client(o);
  if (!client) return client.error();
  auto response = (*client)->call("POST", "/v1/edges/" + std::to_string(o.edge_id) + "/revoke",
                                  "{}", crypto::random_id());
  return print_answer(response, o.json, [](const boost::json::object& edge, std::ostream& out) {
    out << "Revoked edge " << json_int(edge, "edge_id") << " (" << json_text(edge, "name")
        << "): its grant is withdrawn\n";
  });
}

// Operator: the edge is gone (stolen, broken): its unsold serials go back.
Status lost(EdgeOptions& o) {
  if (o.reason.empty()) return Status(Code::invalid_argument, "say why: --reason TEXT");
  auto client = operator_client(o);
  if (!client) return client.error();
  auto response = (*client)->call("POST", "/v1/edges/" + std::to_string(o.edge_id) + "/lost",
                                  boost::json::serialize(boost::json::object{{"reason", o.reason}}),
                                  crypto::random_id());
  return print_answer(response, o.json, [](const boost::json::object& a, std::ostream& out) {
    out << "Edge " << json_int(a, "edge_id") << " declared lost: revoked, "
        << json_int(a, "returned")
        << " unsold serials back in the pool; its later sales are refused and listed "
           "(dropgate edge lost-sales)\n";
  });
}

// Operator: the buyers a lost edge sold to that the origin refused.
Status lost_sales(EdgeOptions& o) {
  auto client = operator_client(o);
  if (!client) return client.error();
  return print_answer(
      (*client)->call("GET", "/v1/edges/" + std::to_string(o.edge_id) + "/lost-sales"), o.json,
      [](const boost::json::object& answer, std::ostream& out) {
        const boost::json::value* sales = answer.if_contains("sales");
        if (!sales || !sales->is_array() || sales->get_array().empty()) {
          out << "No refused sales from this edge\n";
          return;
        }
        for (const auto& s : sales->get_array()) {
          if (!s.is_object()) continue;
          const auto& sale = s.get_object();
          out << json_text(sale, "drop") << "  #" << json_int(sale, "serial") << "  "
              << json_text(sale, "account") << "  " << json_int(sale, "amount") << " "
              << json_text(sale, "currency") << "  " << json_text(sale, "channel") << "  sale "
              << json_text(sale, "sale_id") << "\n";
        }
      });
}

// Operator: approve (with offline sales and risk caps) and the leases it made.
void add_approve_commands(CLI::App* edge, int& exit_code) {
  auto ao = std::make_shared<EdgeOptions>();
  auto* approve_cmd =
      edge->add_subcommand("approve", "Operator: approve an enrolled edge for some drops");
  approve_cmd->add_option("EDGE_ID", ao->edge_id, "Edge id printed by `dropgate edge enroll`")
      ->required();
  approve_cmd->add_option("--drops", ao->drops, "Drop slugs the edge may carry, comma separated")
      ->required();
  approve_cmd->add_option("--ttl-days", ao->ttl_days, "How long the grant lasts")
      ->capture_default_str();
  approve_cmd->add_option("--offline-sales", ao->offline_sales,
                          "Offline sales expected per drop: sizes the serials leased to the edge");
  approve_cmd->add_option("--cap-count", ao->cap_count, "Risk cap: offline sales in all");
  approve_cmd->add_option("--cap-value", ao->cap_value,
                          "Risk cap: total value of offline sales (minor units)");
  approve_cmd->add_option("--cap-per-sale", ao->cap_per_sale,
                          "Risk cap: value of one offline sale (minor units)");
  approve_cmd->add_option("--origin", ao->origin, "Origin URL (env DROPGATE_ORIGIN)");
  approve_cmd->add_option("--api-key", ao->api_key, "Operator API key (env DROPGATE_API_KEY)");
  approve_cmd->add_flag("--json", ao->json,
                        "Print the origin's JSON answer (one line) instead of a summary");
  approve_cmd->callback([&exit_code, ao] { exit_code = report(approve(*ao)); });

  auto leo = std::make_shared<EdgeOptions>();
  auto* leases_cmd =
      edge->add_subcommand("leases", "Operator: serials leased to an edge for offline sales");
  leases_cmd->add_option("EDGE_ID", leo->edge_id, "Edge id")->required();
  leases_cmd->add_option("--origin", leo->origin, "Origin URL (env DROPGATE_ORIGIN)");
  leases_cmd->add_option("--api-key", leo->api_key, "Operator API key (env DROPGATE_API_KEY)");
  leases_cmd->add_flag("--json", leo->json,
                       "Print the origin's JSON answer (one line) instead of a summary");
  leases_cmd->callback([&exit_code, leo] { exit_code = report(leases(*leo)); });
}

// `edge lost` and `edge lost-sales`: an operator gives up on an edge.
void add_lost_commands(CLI::App* edge, int& exit_code) {
  auto xo = std::make_shared<EdgeOptions>();
  auto* lost_cmd = edge->add_subcommand(
      "lost", "Operator: declare an edge lost (revoked; its unsold serials return to the pool)");
  lost_cmd->add_option("EDGE_ID", xo->edge_id, "Edge id")->required();
  lost_cmd->add_option("--reason", xo->reason, "Why (recorded with who and when)")->required();
  lost_cmd->add_option("--origin", xo->origin, "Origin URL (env DROPGATE_ORIGIN)");
  lost_cmd->add_option("--api-key", xo->api_key, "Operator API key (env DROPGATE_API_KEY)");
  lost_cmd->add_flag("--json", xo->json,
                     "Print the origin's JSON answer (one line) instead of a summary");
  lost_cmd->callback([&exit_code, xo] { exit_code = report(lost(*xo)); });

  auto lso = std::make_shared<EdgeOptions>();
  auto* lost_sales_cmd = edge->add_subcommand(
      "lost-sales", "Operator: sales a lost edge reported that were refused (buyers to follow up)");
  lost_sales_cmd->add_option("EDGE_ID", lso->edge_id, "Edge id")->required();
  lost_sales_cmd->add_option("--origin", lso->origin, "Origin URL (env DROPGATE_ORIGIN)");
  lost_sales_cmd->add_option("--api-key", lso->api_key, "Operator API key (env DROPGATE_API_KEY)");
  lost_sales_cmd->add_flag("--json", lso->json,
                           "Print the origin's JSON answer (one line) instead of a summary");
  lost_sales_cmd->callback([&exit_code, lso] { exit_code = report(lost_sales(*lso)); });
}

}  // namespace

void add_edge_commands(CLI::App& app, int& exit_code) {
  auto* edge =
      app.add_subcommand("edge", "Run an edge node at a venue, and approve edges (operator)");
  edge->require_subcommand(1);

  auto eo = std::make_shared<EdgeOptions>();
  auto* enroll_cmd =
      edge->add_subcommand("enroll", "Create this edge's key and ask an origin to register it");
  add_edge_flags(enroll_cmd, *eo);
  enroll_cmd->add_option("--origin", eo->origin, "Origin URL, e.g. https://drops.example.org")
      ->required();
  enroll_cmd->add_option("--name", eo->name, "A name the operator will recognise")
      ->capture_default_str();
  enroll_cmd->add_flag("--force", eo->force, "Enroll again (keeps this edge's key)");
  enroll_cmd->callback([&exit_code, eo] { exit_code = report(enroll(*eo)); });

  auto po = std::make_shared<EdgeOptions>();
  auto* preload_cmd =
      edge->add_subcommand("preload", "Sync now and print a readiness report per drop");
  add_edge_flags(preload_cmd, *po);
  preload_cmd->callback([&exit_code, po] { exit_code = report(preload(*po)); });

  auto so = std::make_shared<EdgeOptions>();
  auto* serve_cmd = edge->add_subcommand(
      "serve", "Serve downloads until SIGTERM or Ctrl-C, syncing in the background");
  add_edge_flags(serve_cmd, *so);
  serve_cmd->add_option("--listen", so->listen,
                        "HOST:PORT (default 0.0.0.0:8090; env DROPGATE_EDGE_LISTEN)");
  serve_cmd->add_option("--sync-interval-s", so->sync_interval_s,
                        "Seconds between syncs (default 10)");
  serve_cmd->add_option("--log-level", so->log_level,
                        "debug, info, warn or error (default info; env DROPGATE_LOG_LEVEL)");
  serve_cmd->callback([&exit_code, so] { exit_code = report(serve(*so)); });

  add_approve_commands(edge, exit_code);

  auto lo = std::make_shared<EdgeOptions>();
  auto* list_cmd = edge->add_subcommand("list", "Operator: list enrolled edges");
  list_cmd->add_option("--origin", lo->origin, "Origin URL (env DROPGATE_ORIGIN)");
  list_cmd->add_option("--api-key", lo->api_key, "Operator API key (env DROPGATE_API_KEY)");
  list_cmd->add_flag("--json", lo->json,
                     "Print the origin's JSON answer (one line) instead of a summary");
  list_cmd->callback([&exit_code, lo] { exit_code = report(list(*lo)); });

  auto ro = std::make_shared<EdgeOptions>();
  auto* revoke_cmd = edge->add_subcommand("revoke", "Operator: revoke an edge's grant");
  revoke_cmd->add_option("EDGE_ID", ro->edge_id, "Edge id")->required();
  revoke_cmd->add_option("--origin", ro->origin, "Origin URL (env DROPGATE_ORIGIN)");
  revoke_cmd->add_option("--api-key", ro->api_key, "Operator API key (env DROPGATE_API_KEY)");
  revoke_cmd->add_flag("--json", ro->json,
                       "Print the origin's JSON answer (one line) instead of a summary");
  revoke_cmd->callback([&exit_code, ro] { exit_code = report(revoke(*ro)); });

  add_lost_commands(edge, exit_code);
}

}  // namespace dg::cli
