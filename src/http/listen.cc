#include <charconv>

#include "http/http.h"

namespace dg::http {

Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return error(Code::invalid_argument, "listen address must be HOST:PORT, e.g. 127.0.0.1:8080");
  }
  std::string host(listen.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto digits = listen.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port > 65535) {
    return error(Code::invalid_argument, "listen port must be 0-65535");
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace dg::http
