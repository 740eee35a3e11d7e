// Store conformance for online checkout (orders, webhook events, the refund
// queue), against every backend as store_conformance_test.cc does: SQLite on
// a temp file, PostgreSQL on the throwaway cluster (DG_TEST_POSTGRES).
#include <gtest/gtest.h>

#include "store/store.h"
#include "store_test_support.h"

namespace dg::store {
namespace {

using testing::Backend;
using testing::TestDatabase;

constexpr int64_t kT0 = 1'800'000'000'000;
constexpr int64_t kSecond = 1000;

class CheckoutConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    database_ = GetParam().make();
    ASSERT_NE(database_, nullptr) << "no " << GetParam().name << " test database";
    store_ = open();
    ASSERT_NE(store_, nullptr);
    ASSERT_OK(store_->migrate());
    DropSpec spec;
    spec.slug = "tape";
    spec.title = "Summer Tape";
    spec.edition_size = 10;
    spec.opens_at_ms = kT0;
    spec.price_minor = 1500;
    spec.rights.license = "CC-BY-NC-4.0";
    ASSERT_OK_AND_ASSIGN(Drop drop, store_->create_drop(spec, kT0));
    drop_id_ = drop.id;
  }

  std::unique_ptr<Store> open() {
    Result<std::unique_ptr<Store>> store = database_->open(4);
    EXPECT_TRUE(store.has_value()) << store.error().to_string();
    return store ? std::move(*store) : nullptr;
  }

  Order order(std::string id) const {
    Order o;
    o.id = std::move(id);
    o.drop_id = drop_id_;
    o.account = "buyer@example.com";
    o.territory = "FR";
    o.hold_id = 7;
    o.amount_minor = 1500;
    o.currency = "EUR";
    o.expires_at_ms = kT0 + 1800 * kSecond;
    o.created_at_ms = kT0;
    o.updated_at_ms = kT0;
    return o;
  }

  Refund refund(std::string order_id) const {
    Refund f;
    f.order_id = std::move(order_id);
    f.payment_intent = "pi_1";
    f.amount_minor = 1500;
    f.currency = "EUR";
    f.reason = "sold_out";
    f.next_attempt_at_ms = kT0;
    return f;
  }

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Store> store_;
  int64_t drop_id_ = 0;
};

// An order reads back as written; its id is unique; unknown ids are not_found.
TEST_P(CheckoutConformance, AnOrderIsStoredOnceAndReadBackByIdAndPaymentIntent) {
  ASSERT_OK(store_->create_order(order("ord-a")));
  EXPECT_CODE(store_->create_order(order("ord-a")), Code::conflict);
  ASSERT_OK_AND_ASSIGN(Order got, store_->get_order("ord-a"));
  EXPECT_EQ(got.account, "buyer@example.com");
  EXPECT_EQ(got.territory, "FR");
  EXPECT_EQ(got.state, OrderState::pending);
  EXPECT_EQ(got.serial, std::nullopt);
  EXPECT_CODE(store_->get_order("ord-b"), Code::not_found);
  EXPECT_CODE(store_->get_order_by_payment_intent("pi_1"), Code::not_found);
  EXPECT_CODE(store_->get_order_by_payment_intent(""), Code::not_found);
  OrderChange paid{.from = {OrderState::pending},
                   .to = OrderState::paid,
                   .payment_intent = "pi_1",
                   .now_ms = kT0 + kSecond};
  ASSERT_OK(store_->change_order("ord-a", paid));
  ASSERT_OK_AND_ASSIGN(Order by_intent, store_->get_order_by_payment_intent("pi_1"));
  EXPECT_EQ(by_intent.id, "ord-a");
  EXPECT_EQ(by_intent.state, OrderState::paid);
  EXPECT_EQ(by_intent.updated_at_ms, kT0 + kSecond);
}

// change_order is a compare-and-set: from a state not listed it changes
// nothing (conflict), so two webhooks cannot both move one order.
TEST_P(CheckoutConformance, ChangingAnOrderFromAnotherStateIsRefused) {
  ASSERT_OK(store_->create_order(order("ord-a")));
  OrderChange claimed{.from = {OrderState::pending, OrderState::paid},
                      .to = OrderState::claimed,
                      .serial = 3u,
                      .now_ms = kT0};
  ASSERT_OK_AND_ASSIGN(Order got, store_->change_order("ord-a", claimed));
  EXPECT_EQ(got.serial, 3u);
  OrderChange review{.from = {OrderState::pending}, .to = OrderState::review, .now_ms = kT0};
  EXPECT_CODE(store_->change_order("ord-a", review), Code::conflict);
  EXPECT_CODE(store_->change_order("ord-x", review), Code::not_found);
  EXPECT_EQ(store_->get_order("ord-a")->state, OrderState::claimed);
  EXPECT_EQ(store_->get_order("ord-a")->serial, 3u);
}

// A webhook event id is recorded once: the second delivery is told so.
TEST_P(CheckoutConformance, AWebhookEventIsRecordedOnceAndFoundByPayment) {
  WebhookEventRecord e{"evt_1", "charge.refunded", "pi_1", "", "recorded", kT0};
  ASSERT_OK_AND_ASSIGN(bool first, store_->record_webhook_event(e));
  EXPECT_TRUE(first);
  e.outcome = "other";
  ASSERT_OK_AND_ASSIGN(bool second, store_->record_webhook_event(e));
  EXPECT_FALSE(second);
  ASSERT_OK_AND_ASSIGN(auto got, store_->get_webhook_event("evt_1"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->outcome, "recorded");
  EXPECT_FALSE(store_->get_webhook_event("evt_2")->has_value());
  ASSERT_OK_AND_ASSIGN(auto of_payment, store_->webhook_events_of_payment("pi_1"));
  ASSERT_EQ(of_payment.size(), 1u);
  EXPECT_EQ(of_payment[0].type, "charge.refunded");
  EXPECT_TRUE(store_->webhook_events_of_payment("pi_2")->empty());
}

// Queueing a refund moves its order to refund_pending; queueing again
// returns the first refund; an unknown order is refused.
TEST_P(CheckoutConformance, QueueingARefundIsOncePerOrderAndMarksTheOrder) {
  ASSERT_OK(store_->create_order(order("ord-a")));
  ASSERT_OK_AND_ASSIGN(Refund first, store_->queue_refund(refund("ord-a"), kT0));
  EXPECT_EQ(first.state, RefundState::requested);
  EXPECT_EQ(store_->get_order("ord-a")->state, OrderState::refund_pending);
  Refund again = refund("ord-a");
  again.amount_minor = 99;
  ASSERT_OK_AND_ASSIGN(Refund second, store_->queue_refund(again, kT0 + kSecond));
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.amount_minor, 1500);
  EXPECT_CODE(store_->queue_refund(refund("ord-none"), kT0), Code::not_found);
  EXPECT_EQ(store_->queued_refund_count().value_or(99), 1u);
}

// A failed attempt waits for its next time; success marks the order refunded
// in the same transaction and leaves the queue. It all survives a reopen.
TEST_P(CheckoutConformance, TheRefundQueueRetriesDueRefundsAndSurvivesARestart) {
  ASSERT_OK(store_->create_order(order("ord-a")));
  ASSERT_OK_AND_ASSIGN(Refund queued, store_->queue_refund(refund("ord-a"), kT0));
  EXPECT_EQ(store_->due_refunds(kT0, 10)->size(), 1u);
  ASSERT_OK(store_->update_refund(queued.id, RefundState::failed, 1, kT0 + 30 * kSecond, "",
                                  "HTTP 500", kT0));
  EXPECT_TRUE(store_->due_refunds(kT0 + 29 * kSecond, 10)->empty());
  store_ = open();  // another process: the queue is in the database
  ASSERT_OK_AND_ASSIGN(auto due, store_->due_refunds(kT0 + 30 * kSecond, 10));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 1u);
  EXPECT_EQ(due[0].last_error, "HTTP 500");
  EXPECT_EQ(store_->get_order("ord-a")->state, OrderState::refund_pending);
  ASSERT_OK(store_->update_refund(queued.id, RefundState::succeeded, 2, kT0 + 30 * kSecond, "re_1",
                                  "", kT0 + 31 * kSecond));
  EXPECT_EQ(store_->get_order("ord-a")->state, OrderState::refunded);
  EXPECT_TRUE(store_->due_refunds(kT0 + 3600 * kSecond, 10)->empty());
  EXPECT_EQ(store_->queued_refund_count().value_or(99), 0u);
  ASSERT_OK_AND_ASSIGN(auto all, store_->list_refunds(10));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].provider_ref, "re_1");
  EXPECT_EQ(all[0].state, RefundState::succeeded);
  EXPECT_CODE(store_->update_refund(queued.id + 100, RefundState::failed, 1, kT0, "", "", kT0),
              Code::not_found);
}

std::vector<Backend> backends() {
  return {Backend{"sqlite", testing::make_sqlite_database},
          Backend{"postgres", testing::make_postgres_database}};
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, CheckoutConformance, ::testing::ValuesIn(backends()),
                         backend_name);

}  // namespace
}  // namespace dg::store
