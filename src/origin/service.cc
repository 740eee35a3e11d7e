#include "origin/service.h"

namespace dg::origin {

OriginService::OriginService(Parts p)
    : catalog({p.store, p.clock}),
      drops({p.store, p.blobs, p.signer, p.clock, p.config, catalog}),
      idempotency({p.store, p.signer, p.clock, p.config, p.owner_secret}),
      certificates({p.store, p.signer, p.keyring, p.clock, p.config, catalog}),
      claims({p.store, p.signer, p.seller, p.committer, p.metrics, p.clock, p.config,
              p.owner_secret, catalog, idempotency}),
      downloads({p.store, p.blobs, p.keyring, p.metrics, p.clock, p.config, catalog, certificates}),
      checkout({p.store, claims, certificates, catalog, idempotency, p.signer, p.owner_secret,
                p.payment_provider, p.metrics, p.clock, p.config}),
      stall_sales(
          {p.store, claims, certificates, catalog, idempotency, p.metrics, p.clock, p.config}),
      codes({p.store, claims, catalog, p.metrics, p.clock, p.config}),
      config_(p.config),
      clock_(p.clock) {}

}  // namespace dg::origin
