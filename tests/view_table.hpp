// The tests' driver of a built-in view: one view created, fed events and asked through the
// C table evring-reader uses, so the C++ adapter (exceptions to statuses, sinks) is tested
// along with the queries; and a built-in domain driven as the writer drives it, so the
// views are tested against what the writer really publishes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "builtin_domains.hpp"
#include "builtin_views.hpp"
#include "table_testing.hpp"

namespace evring::view_testing {

using namespace table_testing;
using json = nlohmann::json;
using ::testing::HasSubstr;

inline std::uint64_t announce_seed() {
  return table_testing::announce_seed("EVRING_VIEW_SEED");
}

struct PublishedEvent {
  std::uint32_t type = 0;
  Bytes payload;
};

// What one call through the table gave back: a status, the JSON reply (queries) and the
// message (refusals).
struct Outcome {
  int status = EVRING_OK;
  std::string reply;
  std::string message;
};

// The outcome of create(): the view, or why there is none.
struct Created {
  void* view = nullptr;
  std::string message;
};

inline Created create_view(std::string_view name, const char* config) {
  const evring_view_v1* table = find_builtin_view(name);
  if (table == nullptr) throw std::runtime_error("no built-in view " + std::string(name));
  Created created;
  evring_sink error{&created.message, append_text};
  created.view = table->create(config, &error);
  return created;
}

// One view, created and destroyed through its C table, fed events with increasing seqs.
class View {
 public:
  explicit View(std::string_view name, const char* config = nullptr)
      : table_(find_builtin_view(name)) {
    Created created = create_view(name, config);
    if (created.view == nullptr) throw std::runtime_error("create failed: " + created.message);
    view_ = created.view;
  }
  ~View() { table_->destroy(view_); }
  View(const View&) = delete;
  View& operator=(const View&) = delete;

  Outcome on_event(std::uint32_t type, std::span<const std::byte> payload,
                   std::int64_t publish_ns = 0) {
    return on_event(next_seq_, type, payload, publish_ns);
  }

  Outcome on_event(std::uint64_t seq, std::uint32_t type, std::span<const std::byte> payload,
                   std::int64_t publish_ns) {
    next_seq_ = seq + 1;
    const evring_event event{seq, type, 0, publish_ns, payload.data(), payload.size()};
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->on_event(view_, &event, &error);
    return outcome;
  }

  // on_event, expecting success.
  void apply(std::uint32_t type, std::span<const std::byte> payload, std::int64_t publish_ns = 0) {
    const Outcome outcome = on_event(type, payload, publish_ns);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
  }
  void apply(const PublishedEvent& event) { apply(event.type, event.payload); }
  void apply(const std::vector<PublishedEvent>& events) {
    for (const PublishedEvent& event : events) apply(event);
  }

  Outcome query(const Words& words) const {
    std::vector<const char*> pointers;
    for (const std::string& word : words) pointers.push_back(word.c_str());
    Outcome outcome;
    evring_sink reply{&outcome.reply, append_text};
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->query(view_, pointers.data(), pointers.size(), &reply, &error);
    return outcome;
  }

  // query, expecting one JSON value back.
  json ask(const Words& words) const {
    const Outcome outcome = query(words);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    EXPECT_TRUE(json::accept(outcome.reply)) << outcome.reply;
    return json::parse(outcome.reply, nullptr, false);
  }

  Bytes snapshot() const {
    Bytes bytes;
    evring_sink out{&bytes, append_bytes};
    EXPECT_EQ(table_->snapshot(view_, &out), EVRING_OK);
    return bytes;
  }

  Outcome restore(std::span<const std::byte> bytes) {
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->restore(view_, bytes.data(), bytes.size(), &error);
    return outcome;
  }

 private:
  const evring_view_v1* table_;
  void* view_ = nullptr;
  std::uint64_t next_seq_ = 1;
};

// A built-in domain, driven as the writer drives it: parse, handle, apply each event.
class Writer {
 public:
  explicit Writer(std::string_view name) : table_(find_builtin_domain(name)) {
    std::string error;
    evring_sink sink{&error, append_text};
    model_ = table_->create(nullptr, &sink);
    if (model_ == nullptr) throw std::runtime_error("create failed: " + error);
  }
  ~Writer() { table_->destroy(model_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // The events of the command, or none if the domain refused it.
  std::vector<PublishedEvent> submit(const Words& words) {
    std::vector<const char*> pointers;
    for (const std::string& word : words) pointers.push_back(word.c_str());
    Bytes command;
    std::string error;
    evring_sink out{&command, append_bytes};
    evring_sink reason{&error, append_text};
    if (table_->parse(pointers.data(), pointers.size(), &out, &reason) != EVRING_OK) return {};
    std::vector<PublishedEvent> events;
    evring_event_sink sink{
        &events, [](void* context, std::uint32_t type, const void* payload, std::size_t size) {
          const auto* first = static_cast<const std::byte*>(payload);
          static_cast<std::vector<PublishedEvent>*>(context)->push_back(
              PublishedEvent{type, Bytes(first, first + size)});
          return 0;
        }};
    if (table_->handle(model_, command.data(), command.size(), &sink, &reason) != EVRING_OK) {
      return {};
    }
    for (const PublishedEvent& event : events) {
      EXPECT_EQ(
          table_->apply(model_, event.type, event.payload.data(), event.payload.size(), &reason),
          EVRING_OK)
          << error;
    }
    return events;
  }

  std::vector<PublishedEvent> accept(const Words& words) {
    std::vector<PublishedEvent> events = submit(words);
    EXPECT_FALSE(events.empty()) << "the domain refused " << testing::PrintToString(words);
    return events;
  }

 private:
  const evring_domain_v1* table_;
  void* model_ = nullptr;
};

inline Bytes garbage(std::size_t size) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(0xa5 ^ i);
  return bytes;
}

inline void expect_malformed(const View& view, const Words& words, std::string_view reason) {
  SCOPED_TRACE(testing::PrintToString(words));
  const Outcome outcome = view.query(words);
  EXPECT_EQ(outcome.status, EVRING_MALFORMED) << outcome.reply;
  EXPECT_THAT(outcome.message, HasSubstr(std::string(reason)));
  EXPECT_TRUE(outcome.reply.empty()) << outcome.reply;
}

}  // namespace evring::view_testing
