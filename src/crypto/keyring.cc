#include "crypto/keyring.h"

#include <algorithm>

#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"

namespace dg::crypto {

std::string_view key_status_name(KeyStatus status) {
  switch (status) {
    case KeyStatus::current:
      return "current";
    case KeyStatus::retired:
      return "retired";
    case KeyStatus::revoked:
      return "revoked";
  }
  return "revoked";
}

KeyringEntry* Keyring::find(std::string_view key_id) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const KeyringEntry& e) { return e.key_id == key_id; });
  return it == entries_.end() ? nullptr : &*it;
}

Status Keyring::add(const PublicKey& key, KeyStatus status) {
  std::string key_id = key.key_id();
  if (find(key_id)) return Status(Code::conflict, "key " + key_id + " is already in the keyring");
  if (entries_.size() >= limits::keyring_keys_max) {
    return Status(Code::limit_exceeded,
                  "keyring holds at most " + std::to_string(limits::keyring_keys_max) + " keys");
  }
  if (status == KeyStatus::current) {
    for (auto& e : entries_) {
      if (e.status == KeyStatus::current) e.status = KeyStatus::retired;
    }
  }
  entries_.push_back({key, std::move(key_id), status});
  return Status();
}

Status Keyring::retire(std::string_view key_id) {
  KeyringEntry* entry = find(key_id);
  if (!entry) return Status(Code::not_found, "no key " + std::string(key_id) + " in the keyring");
  if (entry->status == KeyStatus::revoked) {
    return Status(Code::conflict, "key " + std::string(key_id) + " is revoked; it stays revoked");
  }
  entry->status = KeyStatus::retired;
  return Status();
}

Status Keyring::revoke(std::string_view key_id) {
  KeyringEntry* entry = find(key_id);
  if (!entry) return Status(Code::not_found, "no key " + std::string(key_id) + " in the keyring");
  entry->status = KeyStatus::revoked;
  return Status();
}

Result<const PublicKey*> Keyring::verification_key(std::string_view key_id) const {
  for (const auto& e : entries_) {
    if (e.key_id != key_id) continue;
    if (e.status == KeyStatus::revoked) {
      return error(Code::forbidden, "key " + e.key_id + " has been revoked");
    }
    return &e.key;
  }
  return error(Code::unauthorized, "signed by an unknown key");
}

Result<MinisignPublicKey> Keyring::minisign_verification_key(
    const MinisignKeyNumber& number) const {
  for (const auto& e : entries_) {
    if (e.key.minisign_key_number() != number) continue;
    if (e.status == KeyStatus::revoked) {
      return error(Code::forbidden, "key " + e.key_id + " has been revoked");
    }
    return MinisignPublicKey{number, e.key};
  }
  return error(Code::unauthorized,
               "signed by an unknown key (minisign key " + minisign_key_number_text(number) + ")");
}

const KeyringEntry* Keyring::current() const {
  for (const auto& e : entries_) {
    if (e.status == KeyStatus::current) return &e;
  }
  return nullptr;
}

std::string Keyring::to_json() const {
  boost::json::array keys;
  for (const auto& e : entries_) {
    keys.push_back(boost::json::object{
        {"kid", e.key_id}, {"public", e.key.to_paserk()}, {"status", key_status_name(e.status)}});
  }
  return boost::json::serialize(boost::json::object{{"keys", std::move(keys)}});
}

Result<Keyring> Keyring::parse_json(std::string_view json_untrusted) {
  constexpr std::string_view what = "keyring";
  auto root = json::parse_object(json_untrusted, limits::keyring_file_bytes_max);
  if (!root) return error(root.error());
  auto keys = json::get_array(*root, "keys", what, limits::keyring_keys_max);
  if (!keys) return error(keys.error());
  Keyring keyring;
  for (const auto& item : **keys) {
    if (!item.is_object()) return error(Code::invalid_argument, "keyring: a key is not an object");
    const auto& object = item.as_object();
    auto paserk = json::get_string(object, "public", what, limits::paserk_bytes_max);
    auto kid = json::get_string(object, "kid", what, limits::identifier_bytes_max);
    auto status = json::get_string(object, "status", what, 16);
    if (!paserk) return error(paserk.error());
    if (!kid) return error(kid.error());
    if (!status) return error(status.error());
    auto key = PublicKey::from_paserk(*paserk);
    if (!key) return error(key.error().with_context("keyring"));
    if (key->key_id() != *kid) {
      return error(Code::invalid_argument, "keyring: kid " + *kid + " does not match its key");
    }
    KeyStatus parsed_status;
    if (*status == "current") {
      parsed_status = KeyStatus::current;
    } else if (*status == "retired") {
      parsed_status = KeyStatus::retired;
    } else if (*status == "revoked") {
      parsed_status = KeyStatus::revoked;
    } else {
      return error(Code::invalid_argument, "keyring: unknown key status \"" + *status + "\"");
    }
    if (parsed_status == KeyStatus::current && keyring.current()) {
      return error(Code::invalid_argument, "keyring: more than one current key");
    }
    DG_RETURN_IF_ERROR_RESULT(keyring.add(*key, parsed_status));
  }
  return keyring;
}

Result<Keyring> Keyring::load(const std::filesystem::path& path) {
  auto text = read_file(path, limits::keyring_file_bytes_max);
  if (!text) return error(text.error());
  std::string_view trimmed = *text;
  while (!trimmed.empty() &&
         (trimmed.back() == '\n' || trimmed.back() == '\r' || trimmed.back() == ' ')) {
    trimmed.remove_suffix(1);
  }
  if (trimmed.starts_with("k4.")) {
    auto key = PublicKey::from_paserk(trimmed);
    if (!key) return error(key.error().with_context(path.string()));
    Keyring keyring;
    DG_RETURN_IF_ERROR_RESULT(keyring.add(*key, KeyStatus::current));
    return keyring;
  }
  auto keyring = parse_json(trimmed);
  if (!keyring) return error(keyring.error().with_context(path.string()));
  return keyring;
}

}  // namespace dg::crypto
