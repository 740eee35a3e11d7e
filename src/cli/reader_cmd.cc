// `dropgate reader`: a reference payment reader for demos and tests. It makes
// its own Ed25519 key, registers it with an origin, signs receipts for
// transactions and reports declines (docs/formats/receipt.md) — what a real
// point-of-sale integration does. Also the operator's stall commands:
// readers listed and revoked, `drop cash` and `drop sales`.
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "base/env.h"
#include "base/file.h"
#include "base/limits.h"
#include "base/time.h"
#include "cli/commands.h"
#include "core/token.h"
#include "http/client.h"

namespace dg::cli {
namespace {

namespace fs = std::filesystem;
using http::ApiClient;

inline constexpr std::string_view reader_id_file = "reader-id";

struct Target {
  std::string origin;
  std::string api_key;
  bool json = false;
};

void add_target_flags(CLI::App* cmd, Target& t, bool operator_call = true) {
  cmd->add_option("--origin", t.origin,
                  "Origin URL (env DROPGATE_ORIGIN, default http://127.0.0.1:8080)");
  if (operator_call)
    cmd->add_option("--api-key", t.api_key, "Operator API key (env DROPGATE_API_KEY)");
  cmd->add_flag("--json", t.json, "Print the origin's JSON answer (one line) instead of a summary");
}

Result<std::unique_ptr<ApiClient>> client_for(Target& t, bool operator_call = true) {
  if (t.origin.empty()) {
    const char* env = std::getenv("DROPGATE_ORIGIN");
    t.origin = env && *env ? env : "http://127.0.0.1:8080";
  }
  if (operator_call && t.api_key.empty()) {
    const char* env = std::getenv("DROPGATE_API_KEY");
    if (env) t.api_key = env;
    if (t.api_key.empty()) {
      return error(Code::invalid_argument,
                   "no operator API key: pass --api-key or set DROPGATE_API_KEY (dropgate init "
                   "prints one)");
    }
  }
  return std::make_unique<ApiClient>(t.origin, t.api_key);
}

Status keygen(const fs::path& dir, bool force) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::io_error, "cannot create " + dir.string() + ": " + ec.message());
  auto secret_path = dir / secret_key_file;
  if (!force && fs::exists(secret_path)) {
    return Status(Code::conflict, secret_path.string() +
                                      " already exists; use --force to replace it (receipts "
                                      "signed with the old key stop verifying once you register "
                                      "the new one)");
  }
  auto key = crypto::SecretKey::generate();
  DG_RETURN_IF_ERROR(write_file_atomic(secret_path, key.to_paserk() + "\n", 0600,
                                       force ? Overwrite::yes : Overwrite::no));
  DG_RETURN_IF_ERROR(write_file_atomic(dir / public_key_file, key.public_key().to_paserk() + "\n",
                                       0644, Overwrite::yes));
  std::cout << key.public_key().key_id() << "\n";
  std::cerr << "wrote " << secret_path.string() << " (mode 0600, keep it on the reader) and "
            << (dir / public_key_file).string()
            << "\nNext: dropgate reader register --name NAME --key " << dir.string() << "\n";
  return Status();
}

struct RegisterOptions {
  Target target;
  std::string name;
  std::string key_dir;
};

Status register_reader(RegisterOptions& o) {
  auto public_text = read_file(fs::path(o.key_dir) / public_key_file, 1024);
  if (!public_text) {
    return Status(Code::not_found,
                  "cannot read " + (fs::path(o.key_dir) / public_key_file).string() +
                      ": make a key with `dropgate reader keygen --out " + o.key_dir + "`");
  }
  std::string public_key = *public_text;
  while (!public_key.empty() && (public_key.back() == '\n' || public_key.back() == '\r'))
    public_key.pop_back();
  auto client = client_for(o.target);
  if (!client) return client.error();
  auto response = (*client)->call(
      "POST", "/v1/readers",
      boost::json::serialize(boost::json::object{{"name", o.name}, {"public_key", public_key}}),
      crypto::random_id());
  std::string reader_id;
  Status printed = print_answer(response, o.target.json,
                                [&](const boost::json::object& reader, std::ostream& out) {
                                  reader_id = json_text(reader, "id");
                                  out << reader_id << "\n";
                                });
  DG_RETURN_IF_ERROR(printed);
  if (o.target.json) {
    boost::system::error_code ec;
    auto answer = boost::json::parse(response->body, ec);
    if (!ec && answer.is_object()) reader_id = json_text(answer.get_object(), "id");
  }
  // Kept beside the key, so `reader sign --key DIR` need not be told the id.
  DG_RETURN_IF_ERROR(write_file_atomic(fs::path(o.key_dir) / reader_id_file, reader_id + "\n", 0644,
                                       Overwrite::yes));
  std::cerr << "registered as " << reader_id << " (saved in "
            << (fs::path(o.key_dir) / reader_id_file).string() << ")\n";
  return Status();
}

// The reader id: --reader, else the one `reader register` saved beside the key.
Result<std::string> reader_id_of(const std::string& given, const std::string& key_dir) {
  if (!given.empty()) return given;
  auto saved = read_file(fs::path(key_dir) / reader_id_file, limits::identifier_bytes_max + 2);
  if (!saved) {
    return error(Code::invalid_argument, "no --reader given and no " +
                                             (fs::path(key_dir) / reader_id_file).string() +
                                             ": pass the id `dropgate reader register` printed");
  }
  std::string id = *saved;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  return id;
}

struct SignOptions {
  std::string key_dir, reader, drop, currency = "EUR", txn, reason, issuer = "dropgate-reader";
  int64_t amount = -1;
  uint32_t ttl_s = static_cast<uint32_t>(to_s(limits::reader_token_ttl_default));
};

Status sign(const SignOptions& o, bool decline) {
  auto key = load_secret_key(o.key_dir);
  if (!key) return key.error();
  auto reader = reader_id_of(o.reader, o.key_dir);
  if (!reader) return reader.error();
  core::TokenSigner signer(std::move(*key), o.issuer);
  int64_t now_ms = system_clock().now_ms();
  std::string txn = o.txn.empty() ? "txn_" + crypto::random_id() : o.txn;
  auto token = decline
                   ? core::issue_decline(signer, {*reader, txn, o.drop, o.reason}, now_ms, o.ttl_s)
                   : core::issue_receipt(signer, {*reader, txn, o.amount, o.currency, o.drop},
                                         now_ms, o.ttl_s);
  if (!token) return token.error();
  std::cout << *token << "\n";
  if (o.txn.empty()) std::cerr << "transaction " << txn << "\n";
  return Status();
}

void add_sign_flags(CLI::App* cmd, SignOptions& o) {
  cmd->add_option("--key", o.key_dir, "The reader's key folder (`dropgate reader keygen`)")
      ->required();
  cmd->add_option("--reader", o.reader,
                  "The reader id the origin gave (default: the one saved by `reader register`)");
  cmd->add_option("--drop", o.drop, "Drop slug")->required();
  cmd->add_option("--ttl-s", o.ttl_s, "Token lifetime in seconds (default one day)")
      ->check(CLI::Range(1u, static_cast<uint32_t>(to_s(limits::edge_grant_ttl_max))));
}

}  // namespace

namespace {

struct CallOptions {
  Target target;
  std::string reader, txn, drop, reason, slug, state, currency = "EUR", account, reference,
                                                      decline_token;
  int64_t amount = -1;
};

Status list_readers(CallOptions& o) {
  auto client = client_for(o.target);
  if (!client) return client.error();
  return print_answer((*client)->call("GET", "/v1/readers"), o.target.json,
                      [](const boost::json::object& answer, std::ostream& out) {
                        const auto* readers = answer.if_contains("readers");
                        if (!readers || !readers->is_array()) return;
                        for (const auto& r : readers->get_array()) {
                          if (!r.is_object()) continue;
                          const auto& reader = r.get_object();
                          const auto* revoked = reader.if_contains("revoked_at");
                          out << json_text(reader, "id") << "  " << json_text(reader, "name")
                              << "  " << json_text(reader, "key_id")
                              << (revoked && revoked->is_string() ? "  revoked" : "") << "\n";
                        }
                      });
}

Status revoke_reader(CallOptions& o) {
  auto client = client_for(o.target);
  if (!client) return client.error();
  return print_answer(
      (*client)->call("POST", "/v1/readers/" + http::encode_path(o.reader) + "/revoke", "{}"),
      o.target.json, [](const boost::json::object& reader, std::ostream& out) {
        out << "Revoked " << json_text(reader, "id") << " at " << json_text(reader, "revoked_at")
            << "; its receipts are refused from now on\n";
      });
}

void print_sale(const boost::json::object& sale, std::ostream& out) {
  const auto* serial = sale.if_contains("serial");
  out << json_text(sale, "channel") << " " << json_text(sale, "transaction") << "  serial "
      << (serial && serial->is_int64() ? std::to_string(serial->get_int64()) : "-") << "  "
      << json_text(sale, "account") << "  " << json_text(sale, "state");
  if (sale.contains("decline_reason")) out << " (" << json_text(sale, "decline_reason") << ")";
  out << "\n";
}

// By the operator (--reader and --txn), or a signed decline token sent as is.
Status send_decline(CallOptions& o) {
  bool signed_decline = !o.decline_token.empty();
  auto client = client_for(o.target, !signed_decline);
  if (!client) return client.error();
  Result<http::ApiResponse> response =
      signed_decline
          ? (*client)->call(
                "POST", "/v1/declines",
                boost::json::serialize(boost::json::object{{"decline", o.decline_token}}))
          : [&] {
              boost::json::object body{{"transaction", o.txn}};
              if (!o.drop.empty()) body["drop"] = o.drop;
              if (!o.reason.empty()) body["reason"] = o.reason;
              return (*client)->call("POST",
                                     "/v1/readers/" + http::encode_path(o.reader) + "/declines",
                                     boost::json::serialize(body));
            }();
  return print_answer(
      response, o.target.json,
      [](const boost::json::object& sale, std::ostream& out) { print_sale(sale, out); });
}

Status list_sales(CallOptions& o) {
  auto client = client_for(o.target);
  if (!client) return client.error();
  std::string path = "/v1/drops/" + http::encode_path(o.slug) + "/sales";
  if (!o.state.empty()) path += "?state=" + o.state;
  return print_answer((*client)->call("GET", path), o.target.json,
                      [](const boost::json::object& answer, std::ostream& out) {
                        const auto* sales = answer.if_contains("sales");
                        if (!sales || !sales->is_array()) return;
                        for (const auto& s : sales->get_array()) {
                          if (s.is_object()) print_sale(s.get_object(), out);
                        }
                      });
}

Status sell_for_cash(CallOptions& o) {
  auto client = client_for(o.target);
  if (!client) return client.error();
  boost::json::object body{{"amount", o.amount}, {"currency", o.currency}};
  if (!o.account.empty()) body["account"] = o.account;
  if (!o.reference.empty()) body["reference"] = o.reference;
  // One key per sale, kept across this command's own retries only: run the
  // command again and it is another sale.
  std::string key = o.txn.empty() ? "cash_" + crypto::random_id() : o.txn;
  auto response = (*client)->call("POST", "/v1/drops/" + http::encode_path(o.slug) + "/cash",
                                  boost::json::serialize(body), key);
  return print_answer(
      response, o.target.json, [](const boost::json::object& claim, std::ostream& out) {
        out << "Sold #" << json_int(claim, "serial") << " of " << json_int(claim, "edition")
            << " to " << json_text(claim, "account") << " for cash\n"
            << "Certificate: " << json_text(claim, "certificate_url") << "\n";
      });
}

// keygen, register, sign, decline: what a reader does.
void add_reader_device_commands(CLI::App* reader, int& exit_code) {
  auto keygen_options = std::make_shared<std::pair<std::string, bool>>();
  auto* kg = reader->add_subcommand("keygen", "Make the reader's Ed25519 key pair");
  kg->add_option("--out", keygen_options->first,
                 "Folder to write secret.paserk (mode 0600) and public.paserk")
      ->required();
  kg->add_flag("--force", keygen_options->second, "Replace an existing key");
  kg->callback([&exit_code, keygen_options] {
    exit_code = report(keygen(keygen_options->first, keygen_options->second));
  });

  auto reg = std::make_shared<RegisterOptions>();
  auto* rg = reader->add_subcommand("register",
                                    "Register the reader's public key with an origin "
                                    "(operator); saves the reader id beside the key");
  add_target_flags(rg, reg->target);
  rg->add_option("--name", reg->name, "A label for the reader, e.g. \"stall till 1\"")->required();
  rg->add_option("--key", reg->key_dir, "The reader's key folder (`dropgate reader keygen`)")
      ->required();
  rg->callback([&exit_code, reg] { exit_code = report(register_reader(*reg)); });

  auto sig = std::make_shared<SignOptions>();
  auto* sg = reader->add_subcommand("sign", "Sign a receipt for one transaction; prints the token");
  add_sign_flags(sg, *sig);
  sg->add_option("--amount", sig->amount, "Amount in minor units (cents); must be the drop's price")
      ->required()
      ->check(CLI::Range(int64_t{0}, limits::price_amount_max));
  sg->add_option("--currency", sig->currency, "ISO 4217 code (default EUR)");
  sg->add_option("--txn", sig->txn,
                 "Transaction id (default: a new random one, printed on stderr)");
  sg->callback([&exit_code, sig] { exit_code = report(sign(*sig, false)); });

  auto dec = std::make_shared<SignOptions>();
  auto* dc = reader->add_subcommand(
      "decline",
      "Sign a decline of a transaction; prints the token (send it with `reader send-decline`)");
  add_sign_flags(dc, *dec);
  dc->add_option("--txn", dec->txn, "The declined transaction's id")->required();
  dc->add_option("--reason", dec->reason, "Why, e.g. \"card declined\"");
  dc->callback([&exit_code, dec] { exit_code = report(sign(*dec, true)); });
}

// send-decline, list, revoke: what the origin is told about readers.
void add_reader_origin_commands(CLI::App* reader, int& exit_code) {
  auto call = std::make_shared<CallOptions>();
  auto* sd = reader->add_subcommand(
      "send-decline",
      "Report a transaction declined: a reader's signed decline (--token, public), "
      "or the operator's (--reader, --txn)");
  add_target_flags(sd, call->target);
  sd->add_option("--token", call->decline_token, "A decline token from `reader decline`");
  sd->add_option("--reader", call->reader, "Operator: the reader id");
  sd->add_option("--txn", call->txn, "Operator: the declined transaction");
  sd->add_option("--drop", call->drop,
                 "Operator: the drop (optional once the receipt was exchanged)");
  sd->add_option("--reason", call->reason, "Operator: why");
  sd->callback([&exit_code, call] {
    if (call->decline_token.empty() && (call->reader.empty() || call->txn.empty())) {
      exit_code = report(Status(Code::invalid_argument,
                                "give --token (a reader's signed decline) or --reader and --txn "
                                "(the operator's)"));
      return;
    }
    exit_code = report(send_decline(*call));
  });

  auto* ls = reader->add_subcommand("list", "The readers registered with an origin (operator)");
  add_target_flags(ls, call->target);
  ls->callback([&exit_code, call] { exit_code = report(list_readers(*call)); });

  auto* rv =
      reader->add_subcommand("revoke", "Revoke a reader: its receipts are refused (operator)");
  add_target_flags(rv, call->target);
  rv->add_option("id", call->reader, "Reader id")->required();
  rv->callback([&exit_code, call] { exit_code = report(revoke_reader(*call)); });
}

// `drop sales` and `drop cash`: the operator's side of the stall.
void add_stall_drop_commands(CLI::App* drop, int& exit_code) {
  auto call = std::make_shared<CallOptions>();
  auto* sales = drop->add_subcommand(
      "sales", "A drop's stall sales (receipts and cash) with their buyers (operator)");
  add_target_flags(sales, call->target);
  sales->add_option("slug", call->slug, "Drop slug")->required();
  sales->add_option("--state", call->state, "Only accepted or declined sales")
      ->check(CLI::IsMember({"accepted", "declined"}));
  sales->callback([&exit_code, call] { exit_code = report(list_sales(*call)); });

  auto* cash =
      drop->add_subcommand("cash", "Record a sale paid in cash: prints the serial (operator)");
  add_target_flags(cash, call->target);
  cash->add_option("slug", call->slug, "Drop slug")->required();
  cash->add_option("--amount", call->amount, "Amount in minor units; must be the drop's price")
      ->required()
      ->check(CLI::Range(int64_t{0}, limits::price_amount_max));
  cash->add_option("--currency", call->currency, "ISO 4217 code (default EUR)");
  cash->add_option("--account", call->account, "The buyer's id or email (optional)");
  cash->add_option("--reference", call->reference, "A note, e.g. the till slip number");
  cash->add_option("--key", call->txn,
                   "Idempotency-Key of the sale (default: a new one); repeat it to retry a sale "
                   "safely");
  cash->callback([&exit_code, call] { exit_code = report(sell_for_cash(*call)); });
}

}  // namespace

void add_reader_commands(CLI::App& app, int& exit_code) {
  auto* reader = app.add_subcommand(
      "reader",
      "A reference payment reader (keys, registration, receipts, declines) and the "
      "operator's reader list");
  reader->require_subcommand(1);
  add_reader_device_commands(reader, exit_code);
  add_reader_origin_commands(reader, exit_code);
  add_stall_drop_commands(app.get_subcommand("drop"), exit_code);
}

}  // namespace dg::cli
