// SqlStore: online checkout — orders, webhook events and the refund queue
// (docs/formats/orders.md).
#include <array>
#include <utility>

#include "base/limits.h"
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

// Frozen: these names are stored in the database.
constexpr std::array<std::pair<OrderState, std::string_view>, 7> kOrderStates = {{
    {OrderState::pending, "pending"},
    {OrderState::paid, "paid"},
    {OrderState::claimed, "claimed"},
    {OrderState::review, "review"},
    {OrderState::refund_pending, "refund_pending"},
    {OrderState::refunded, "refunded"},
    {OrderState::disputed, "disputed"},
}};
constexpr std::array<std::pair<RefundState, std::string_view>, 3> kRefundStates = {{
    {RefundState::requested, "requested"},
    {RefundState::succeeded, "succeeded"},
    {RefundState::failed, "failed"},
}};

constexpr std::string_view kOrderColumns =
    "id, drop_id, account, territory, hold_id, amount_minor, currency, session_id, checkout_url, "
    "payment_intent, state, serial, note, expires_at_ms, created_at_ms, updated_at_ms";
constexpr std::string_view kWebhookEventColumns =
    "event_id, type, payment_intent, order_id, outcome, received_at_ms";
constexpr std::string_view kRefundColumns =
    "id, order_id, payment_intent, amount_minor, currency, reason, state, attempts, "
    "next_attempt_at_ms, provider_ref, last_error, created_at_ms, updated_at_ms";

Result<Order> read_order(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Order o;
  o.id = r.text();
  o.drop_id = r.int64();
  o.account = r.text();
  o.territory = r.text();
  o.hold_id = r.int64();
  o.amount_minor = r.int64();
  o.currency = r.text();
  o.session_id = r.text();
  o.checkout_url = r.text();
  o.payment_intent = r.text();
  std::string state = r.text();
  o.serial = r.optional_uint32();
  o.note = r.text();
  o.expires_at_ms = r.int64();
  o.created_at_ms = r.int64();
  o.updated_at_ms = r.int64();
  if (!r.status().ok()) return error(r.status().with_context("order"));
  auto parsed = parse_order_state(state);
  if (!parsed) return error(Code::corruption, "order row: unknown state \"" + state + "\"");
  o.state = *parsed;
  return o;
}

Result<WebhookEventRecord> read_webhook_event(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  WebhookEventRecord e;
  e.event_id = r.text();
  e.type = r.text();
  e.payment_intent = r.text();
  e.order_id = r.text();
  e.outcome = r.text();
  e.received_at_ms = r.int64();
  if (!r.status().ok()) return error(r.status().with_context("webhook event"));
  return e;
}

Result<Refund> read_refund(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Refund f;
  f.id = r.int64();
  f.order_id = r.text();
  f.payment_intent = r.text();
  f.amount_minor = r.int64();
  f.currency = r.text();
  f.reason = r.text();
  std::string state = r.text();
  f.attempts = r.uint32();
  f.next_attempt_at_ms = r.int64();
  f.provider_ref = r.text();
  f.last_error = r.text();
  f.created_at_ms = r.int64();
  f.updated_at_ms = r.int64();
  if (!r.status().ok()) return error(r.status().with_context("refund"));
  bool known = false;
  for (const auto& [value, name] : kRefundStates) {
    if (name == state) {
      f.state = value;
      known = true;
    }
  }
  if (!known) return error(Code::corruption, "refund row: unknown state \"" + state + "\"");
  return f;
}

}  // namespace

std::string_view order_state_name(OrderState state) {
  for (const auto& [value, name] : kOrderStates) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<OrderState> parse_order_state(std::string_view name) {
  for (const auto& [value, candidate] : kOrderStates) {
    if (candidate == name) return value;
  }
  return std::nullopt;
}

std::string_view refund_state_name(RefundState state) {
  for (const auto& [value, name] : kRefundStates) {
    if (value == state) return name;
  }
  return "unknown";
}

Status SqlStore::create_order(const Order& o) {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows = c.query(
        "INSERT INTO orders (id, drop_id, account, territory, hold_id, amount_minor, currency, "
        "session_id, checkout_url, payment_intent, state, serial, note, expires_at_ms, "
        "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15, $15)",
        {o.id, o.drop_id, o.account, o.territory, o.hold_id, o.amount_minor, o.currency,
         o.session_id, o.checkout_url, o.payment_intent, order_state_name(o.state),
         o.serial ? sql::Value(int64_t{*o.serial}) : sql::Value(nullptr), o.note, o.expires_at_ms,
         o.created_at_ms});
    if (!rows) return reword(rows.error(), Code::conflict, "an order with this id exists");
    return Status();
  });
}

Result<Order> SqlStore::get_order(std::string_view order_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<Order> {
    Result<sql::Rows> rows =
        c.query(select_from(kOrderColumns, "orders WHERE id = $1"), {order_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_order, "no such order");
  });
}

Result<Order> SqlStore::get_order_by_payment_intent(std::string_view payment_intent) {
  if (payment_intent.empty()) return error(Code::not_found, "no payment intent");
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<Order> {
    Result<sql::Rows> rows = c.query(
        select_from(kOrderColumns, "orders WHERE payment_intent = $1 ORDER BY created_at_ms"),
        {payment_intent});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_order, "no order for this payment");
  });
}

Result<Order> SqlStore::change_order(std::string_view order_id, const OrderChange& change) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Order> {
    Result<sql::Rows> rows =
        c.query(locked(select_from(kOrderColumns, "orders WHERE id = $1")), {order_id});
    if (!rows) return error(rows.error());
    auto order = read_one(*rows, read_order, "no such order");
    if (!order) return order;
    bool allowed = false;
    for (OrderState from : change.from) allowed |= order->state == from;
    if (!allowed) {
      return error(Code::conflict, "the order is " + std::string(order_state_name(order->state)));
    }
    order->state = change.to;
    if (change.session_id) order->session_id = *change.session_id;
    if (change.checkout_url) order->checkout_url = *change.checkout_url;
    if (change.payment_intent) order->payment_intent = *change.payment_intent;
    if (change.serial) order->serial = change.serial;
    if (change.note) order->note = *change.note;
    order->updated_at_ms = change.now_ms;
    Result<sql::Rows> updated = c.query(
        "UPDATE orders SET state = $2, session_id = $3, checkout_url = $4, payment_intent = $5, "
        "serial = $6, note = $7, updated_at_ms = $8 WHERE id = $1",
        {order_id, order_state_name(order->state), order->session_id, order->checkout_url,
         order->payment_intent,
         order->serial ? sql::Value(int64_t{*order->serial}) : sql::Value(nullptr), order->note,
         change.now_ms});
    if (!updated) return error(updated.error());
    return order;
  });
}

Result<bool> SqlStore::record_webhook_event(const WebhookEventRecord& e) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<bool> {
    Result<sql::Rows> rows = c.query(
        "INSERT INTO webhook_events (event_id, type, payment_intent, order_id, outcome, "
        "received_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        {e.event_id, e.type, e.payment_intent, e.order_id, e.outcome, e.received_at_ms});
    if (!rows) return error(rows.error());
    return rows->affected_rows() == 1;
  });
}

Result<std::optional<WebhookEventRecord>> SqlStore::get_webhook_event(std::string_view event_id) {
  return transact(
      Tx::read_one, [&](sql::Connection& c) -> Result<std::optional<WebhookEventRecord>> {
        Result<sql::Rows> rows = c.query(
            select_from(kWebhookEventColumns, "webhook_events WHERE event_id = $1"), {event_id});
        if (!rows) return error(rows.error());
        if (rows->empty()) return std::optional<WebhookEventRecord>();
        auto event = read_webhook_event(*rows, 0);
        if (!event) return error(event.error());
        return std::optional<WebhookEventRecord>(std::move(*event));
      });
}

Result<std::vector<WebhookEventRecord>> SqlStore::webhook_events_of_payment(
    std::string_view payment_intent) {
  if (payment_intent.empty()) return std::vector<WebhookEventRecord>();
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<WebhookEventRecord>> {
    Result<sql::Rows> rows = c.query(
        select_from(kWebhookEventColumns,
                    "webhook_events WHERE payment_intent = $1 ORDER BY received_at_ms, event_id"),
        {payment_intent});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_webhook_event);
  });
}

Result<Refund> SqlStore::queue_refund(const Refund& f, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Refund> {
    Result<sql::Rows> existing =
        c.query(locked(select_from(kRefundColumns, "refunds WHERE order_id = $1")), {f.order_id});
    if (!existing) return error(existing.error());
    if (!existing->empty()) return read_refund(*existing, 0);
    Result<sql::Rows> moved = c.query(
        "UPDATE orders SET state = 'refund_pending', note = $2, updated_at_ms = $3 WHERE id = $1",
        {f.order_id, f.reason, now_ms});
    if (!moved) return error(moved.error());
    if (moved->affected_rows() != 1) return error(Code::not_found, "no such order");
    Result<sql::Rows> rows = c.query(
        "INSERT INTO refunds (order_id, payment_intent, amount_minor, currency, reason, state, "
        "attempts, next_attempt_at_ms, provider_ref, last_error, created_at_ms, updated_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, 'requested', 0, $6, '', '', $7, $7) RETURNING " +
            std::string(kRefundColumns),
        {f.order_id, f.payment_intent, f.amount_minor, f.currency, f.reason, f.next_attempt_at_ms,
         now_ms});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_refund, "refund");
  });
}

Result<Refund> SqlStore::update_refund(int64_t refund_id, RefundState state, uint32_t attempts,
                                       int64_t next_attempt_at_ms, std::string_view provider_ref,
                                       std::string_view last_error, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Refund> {
    Result<sql::Rows> rows = c.query(
        "UPDATE refunds SET state = $2, attempts = $3, next_attempt_at_ms = $4, provider_ref = $5, "
        "last_error = $6, updated_at_ms = $7 WHERE id = $1 RETURNING " +
            std::string(kRefundColumns),
        {refund_id, refund_state_name(state), int64_t{attempts}, next_attempt_at_ms, provider_ref,
         last_error, now_ms});
    if (!rows) return error(rows.error());
    auto refund = read_one(*rows, read_refund, "no refund " + std::to_string(refund_id));
    if (!refund || state != RefundState::succeeded) return refund;
    // The order shows the refund done in the same transaction as the refund itself.
    Result<sql::Rows> order = c.query(
        "UPDATE orders SET state = 'refunded', updated_at_ms = $2 WHERE id = $1 AND state = "
        "'refund_pending'",
        {refund->order_id, now_ms});
    if (!order) return error(order.error());
    return refund;
  });
}

Result<Refund> SqlStore::get_refund(int64_t refund_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<Refund> {
    Result<sql::Rows> rows =
        c.query(select_from(kRefundColumns, "refunds WHERE id = $1"), {refund_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_refund, "no refund " + std::to_string(refund_id));
  });
}

Result<std::vector<Refund>> SqlStore::due_refunds(int64_t now_ms, uint32_t count_max) {
  int64_t limit = std::min(count_max, limits::refund_retry_batch_max);
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<Refund>> {
    Result<sql::Rows> rows =
        c.query(select_from(kRefundColumns,
                            "refunds WHERE state <> 'succeeded' AND next_attempt_at_ms <= $1 "
                            "ORDER BY next_attempt_at_ms, id LIMIT $2"),
                {now_ms, limit});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_refund);
  });
}

Result<std::vector<Refund>> SqlStore::list_refunds(uint32_t count_max) {
  int64_t limit = std::min(count_max, limits::refunds_list_count_max);
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<Refund>> {
    Result<sql::Rows> rows =
        c.query(select_from(kRefundColumns, "refunds ORDER BY id DESC LIMIT $1"), {limit});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_refund);
  });
}

Result<uint32_t> SqlStore::queued_refund_count() {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<uint32_t> {
    return first_count(c.query("SELECT COUNT(*) FROM refunds WHERE state <> 'succeeded'", {}));
  });
}

}  // namespace dg::store
