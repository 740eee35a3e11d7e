#include <filesystem>
#include <iostream>
#include <memory>

#include "base/file.h"
#include "cli/commands.h"
#include "crypto/minisign.h"

namespace dg::cli {
namespace {

Status keys_new(const std::filesystem::path& dir, bool force) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::io_error, "cannot create " + dir.string() + ": " + ec.message());
  auto overwrite = force ? Overwrite::yes : Overwrite::no;
  auto secret_path = dir / secret_key_file;
  if (!force && std::filesystem::exists(secret_path)) {
    return Status(Code::conflict, secret_path.string() +
                                      " already exists; use --force to replace it (the old key "
                                      "will be lost)");
  }
  auto key = crypto::SecretKey::generate();
  DG_RETURN_IF_ERROR(write_file_atomic(secret_path, key.to_paserk() + "\n", 0600, overwrite));
  auto public_key = key.public_key();
  DG_RETURN_IF_ERROR(write_file_atomic(dir / public_key_file, public_key.to_paserk() + "\n", 0644,
                                       Overwrite::yes));
  std::cout << public_key.key_id() << "\n";
  std::cerr << "wrote " << secret_path.string() << " (mode 0600, keep it secret) and "
            << (dir / public_key_file).string() << "\n";
  return Status();
}

Status keys_minisign_pub(const std::filesystem::path& dir) {
  // Only the public half is needed, so this works on a verifier-only machine too.
  auto keyring = crypto::Keyring::load(dir / public_key_file);
  if (!keyring) return keyring.error();
  std::cout << crypto::minisign_public_key_text(keyring->current()->key);
  return Status();
}

}  // namespace

void add_keys_commands(CLI::App& app, int& exit_code) {
  auto* keys = app.add_subcommand("keys", "Create and show signing keys");
  keys->require_subcommand(1);

  struct NewOptions {
    std::string dir;
    bool force = false;
  };
  auto new_options = std::make_shared<NewOptions>();  // kept alive by the callback
  auto* create = keys->add_subcommand("new", "Create an Ed25519 signing key pair");
  create
      ->add_option("--dir", new_options->dir,
                   "Folder to write secret.paserk (mode 0600) and public.paserk")
      ->required();
  create->add_flag("--force", new_options->force, "Replace an existing key (the old one is lost)");
  create->callback([&exit_code, new_options] {
    exit_code = report(keys_new(new_options->dir, new_options->force));
  });

  auto pub_dir = std::make_shared<std::string>();
  auto* pub = keys->add_subcommand("minisign-pub",
                                   "Print the public key as a minisign .pub file, for "
                                   "`minisign -V -p drop.pub -m manifest.json`");
  pub->add_option("--dir", *pub_dir, "Key folder made by `dropgate keys new`")->required();
  pub->callback([&exit_code, pub_dir] { exit_code = report(keys_minisign_pub(*pub_dir)); });
}

}  // namespace dg::cli
