// dropgate: sell and deliver scarce drops of files. This is the composition
// root: the only place where the concrete parts meet.
#include <cstdio>

#include "cli/commands.h"
#include "crypto/keys.h"

int main(int argc, char** argv) {
  dg::crypto::init();
  CLI::App app{"dropgate: scarce, signed drops of files, delivered at the stall and online"};
  app.name("dropgate");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("dropgate ") + DROPGATE_VERSION);
  app.footer("Run `dropgate COMMAND --help` for the options of a command.");

  int exit_code = dg::cli::exit_ok;
  dg::cli::add_keys_commands(app, exit_code);
  dg::cli::add_drop_commands(app, exit_code);
  dg::cli::add_verify_commands(app, exit_code);
  dg::cli::add_token_commands(app, exit_code);
  dg::cli::add_origin_commands(app, exit_code);
  dg::cli::add_edge_commands(app, exit_code);
  dg::cli::add_refunds_commands(app, exit_code);
  dg::cli::add_codes_commands(app, exit_code);
  dg::cli::add_operator_commands(*app.get_subcommand("drop"), exit_code);
  dg::cli::add_reader_commands(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? dg::cli::exit_ok : dg::cli::exit_usage;
  }
  return exit_code;
}
