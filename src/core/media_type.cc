#include "core/media_type.h"

#include <algorithm>
#include <array>
#include <utility>

namespace dg::core {
namespace {

// Sorted by extension for binary search.
constexpr std::array<std::pair<std::string_view, std::string_view>, 40> kTypes = {{
    {"aac", "audio/aac"},        {"aif", "audio/aiff"},      {"aiff", "audio/aiff"},
    {"avif", "image/avif"},      {"csv", "text/csv"},        {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},      {"gif", "image/gif"},       {"glb", "model/gltf-binary"},
    {"gltf", "model/gltf+json"}, {"htm", "text/html"},       {"html", "text/html"},
    {"jpeg", "image/jpeg"},      {"jpg", "image/jpeg"},      {"json", "application/json"},
    {"m4a", "audio/mp4"},        {"md", "text/markdown"},    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},  {"mp3", "audio/mpeg"},      {"mp4", "video/mp4"},
    {"obj", "model/obj"},        {"ogg", "audio/ogg"},       {"opus", "audio/opus"},
    {"otf", "font/otf"},         {"pdf", "application/pdf"}, {"png", "image/png"},
    {"stl", "model/stl"},        {"svg", "image/svg+xml"},   {"tif", "image/tiff"},
    {"tiff", "image/tiff"},      {"ttf", "font/ttf"},        {"txt", "text/plain"},
    {"wav", "audio/wav"},        {"webm", "video/webm"},     {"webp", "image/webp"},
    {"woff", "font/woff"},       {"woff2", "font/woff2"},    {"xml", "application/xml"},
    {"zip", "application/zip"},
}};

static_assert(std::is_sorted(kTypes.begin(), kTypes.end()));

}  // namespace

std::string guess_media_type(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == path.npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == name.npos || dot == 0) return "application/octet-stream";
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it =
      std::lower_bound(kTypes.begin(), kTypes.end(), ext,
                       [](const auto& entry, const std::string& e) { return entry.first < e; });
  if (it == kTypes.end() || it->first != ext) return "application/octet-stream";
  return std::string(it->second);
}

}  // namespace dg::core
