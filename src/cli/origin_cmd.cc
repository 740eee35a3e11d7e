// `dropgate init` and `dropgate serve`: set up and run an origin.
#include <iostream>
#include <memory>

#include "base/log.h"
#include "cli/commands.h"
#include "origin/app.h"
#include "origin/config.h"

namespace dg::cli {
namespace {

struct ServeOptions {
  std::string config_file;
  std::string data_dir;
  std::string database;
  std::string listen;
  std::string public_url;
  std::string instance;
  std::string log_level;
};

// Layers: defaults < TOML file (--config, else DATA/dropgate.toml when present)
// < DROPGATE_* environment < flags.
Result<origin::OriginConfig> build_config(const ServeOptions& o) {
  origin::OriginConfig config;
  DG_RETURN_IF_ERROR_RESULT(origin::apply_environment(config));
  if (!o.data_dir.empty()) config.data_dir = o.data_dir;
  std::filesystem::path file = o.config_file;
  if (file.empty() && std::filesystem::exists(config.data_dir / "dropgate.toml")) {
    file = config.data_dir / "dropgate.toml";
  }
  if (!file.empty()) {
    DG_RETURN_IF_ERROR_RESULT(origin::load_config_file(file, config));
    DG_RETURN_IF_ERROR_RESULT(origin::apply_environment(config));  // environment beats the file
  }
  if (!o.data_dir.empty()) config.data_dir = o.data_dir;
  if (!o.database.empty()) config.database = o.database;
  if (!o.listen.empty()) config.listen = o.listen;
  if (!o.public_url.empty()) config.public_url = o.public_url;
  if (!o.instance.empty()) config.instance = o.instance;
  if (!o.log_level.empty()) config.log_level = o.log_level;
  DG_RETURN_IF_ERROR_RESULT(origin::finish_config(config));
  return config;
}

Status init(const ServeOptions& o) {
  auto config = build_config(o);
  if (!config) return config.error();
  auto outcome = origin::init_data_dir(*config);
  if (!outcome) return outcome.error();
  std::cout
      << "data folder:   " << config->data_dir.string() << "\n"
      << "signing key:   " << outcome->key_id << (outcome->created_key ? " (new)" : " (kept)")
      << "\n"
      << "database:      "
      << (config->database.empty() ? config->database_path().string() : "PostgreSQL") << "\n"
      << "operator key:  " << outcome->api_key << "\n\n"
      << "The operator key is shown only this once; store it (e.g. export DROPGATE_API_KEY=…).\n"
      << "Start the origin with: dropgate serve --data " << config->data_dir.string() << "\n";
  return Status();
}

Status serve(const ServeOptions& o) {
  auto config = build_config(o);
  if (!config) return config.error();
  if (auto level = log::parse_level(config->log_level))
    log::set_level(*level);  // checked by finish_config
  return origin::serve(*config, [&](uint16_t port) {
    log::print("dropgate origin listening on port " + std::to_string(port) + " (public URL " +
               config->public_url + ")\n");
  });
}

void add_config_flags(CLI::App* cmd, ServeOptions& o) {
  cmd->add_option("--data", o.data_dir, "Data folder (default ./dropgate-data; env DROPGATE_DATA)");
  cmd->add_option("--database", o.database,
                  "postgresql://… to use PostgreSQL (default: SQLite in the data folder; env "
                  "DROPGATE_DATABASE)");
  cmd->add_option("--config", o.config_file,
                  "TOML config file (default DATA/dropgate.toml if present)");
}

}  // namespace

void add_origin_commands(CLI::App& app, int& exit_code) {
  auto io = std::make_shared<ServeOptions>();
  auto* init_cmd = app.add_subcommand(
      "init",
      "Prepare a data folder: signing key, database, and an operator API key (printed once)");
  add_config_flags(init_cmd, *io);
  init_cmd->callback([&exit_code, io] { exit_code = report(init(*io)); });

  auto so = std::make_shared<ServeOptions>();
  auto* serve_cmd = app.add_subcommand("serve", "Run the origin server until SIGTERM or Ctrl-C");
  add_config_flags(serve_cmd, *so);
  serve_cmd->add_option("--listen", so->listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve_cmd->add_option("--public-url", so->public_url, "URL buyers use to reach this origin");
  serve_cmd->add_option(
      "--instance", so->instance,
      "Name of this process's slot, unique per running process (default HOST:PORT)");
  serve_cmd->add_option("--log-level", so->log_level, "debug, info, warn or error");
  serve_cmd->callback([&exit_code, so] { exit_code = report(serve(*so)); });
}

}  // namespace dg::cli
