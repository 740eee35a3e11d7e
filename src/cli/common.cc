#include <sys/stat.h>

#include <cstdio>

#include "base/file.h"
#include "cli/commands.h"

namespace dg::cli {

int report(const Status& status) {
  if (status.ok()) return exit_ok;
  std::fprintf(stderr, "dropgate: %s\n", status.message().c_str());
  return exit_failed;
}

Result<crypto::SecretKey> load_secret_key(const std::filesystem::path& dir) {
  auto path = dir / secret_key_file;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return error(Code::not_found, "no secret key at " + path.string() +
                                      " (create one with: dropgate keys new --dir " +
                                      dir.string() + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return error(Code::forbidden, path.string() +
                                      " can be read by other users; run: chmod 600 " +
                                      path.string());
  }
  auto text = read_file(path, 256);
  if (!text) return error(text.error());
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  auto key = crypto::SecretKey::from_paserk(*text);
  if (!key) return error(key.error().with_context(path.string()));
  return key;
}

Result<crypto::Keyring> load_keyring(const std::filesystem::path& path) {
  return crypto::Keyring::load(path);
}

}  // namespace dg::cli
