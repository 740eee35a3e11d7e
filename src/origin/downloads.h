// Downloads: a download token checked against the drop's current manifest
// and the revocation list, the file found by its manifest path, and what was
// sent recorded as events and metrics.
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "core/manifest.h"
#include "crypto/keyring.h"
#include "origin/blob_store.h"
#include "origin/certificates.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "store/store.h"

namespace dg::origin {

// A file ready to send.
struct Delivery {
  std::filesystem::path blob_path;
  core::Asset asset;
  std::string account;
  std::string token_id;
  int64_t drop_id = 0;
};

class Downloads {
 public:
  struct Parts {
    store::Store& store;  // events
    BlobStore& blobs;
    const crypto::Keyring& keyring;  // verifies download tokens
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
    DropCatalog& catalog;
    Certificates& certificates;  // a revoked claim downloads nothing
  };
  explicit Downloads(Parts parts);

  // Checks the download token and finds the file by manifest path.
  Result<Delivery> resolve_download(std::string_view slug, std::string_view path,
                                    std::string_view token_untrusted);
  void record_download_started(const Delivery& delivery, uint64_t offset_bytes);
  // complete: every body byte was sent; reaches_end: the body ran to the file's last byte.
  void record_download(const Delivery& delivery, bool complete, bool reaches_end,
                       uint64_t bytes_sent);

 private:
  Parts parts_;
  struct Metrics {
    metrics::Counter& downloads_completed;
    metrics::Counter& downloads_failed;
    metrics::Counter& download_bytes;
  } metrics_;
};

}  // namespace dg::origin
