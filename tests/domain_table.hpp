// The tests' driver of a built-in domain: one model created, fed and asked through the C
// table the writer uses, so the C++ adapter (exceptions to statuses, sinks) is tested along
// with the rules; and the garbage every domain must survive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "builtin_domains.hpp"
#include "evring/builtin/bank_events.hpp"
#include "evring/builtin/kv_events.hpp"
#include "evring/codec.hpp"
#include "table_testing.hpp"

namespace evring::domain_testing {

using namespace table_testing;
using ::testing::HasSubstr;

inline constexpr std::int64_t kMaxI64 = std::numeric_limits<std::int64_t>::max();

struct Event {
  std::uint32_t type = 0;
  Bytes payload;
};

inline int collect_event(void* context, std::uint32_t type, const void* payload, std::size_t size) {
  const auto* first = static_cast<const std::byte*>(payload);
  static_cast<std::vector<Event>*>(context)->push_back(Event{type, Bytes(first, first + size)});
  return 0;
}

// What one call through the table gave back.
struct Outcome {
  int status = EVRING_OK;
  std::string message;
  std::vector<Event> events;
};

inline std::uint64_t announce_seed() {
  return table_testing::announce_seed("EVRING_DOMAIN_SEED");
}

class Domain {
 public:
  explicit Domain(std::string_view name) : table_(find_builtin_domain(name)) {
    if (table_ == nullptr) throw std::runtime_error("no built-in domain " + std::string(name));
    std::string error;
    evring_sink sink{&error, append_text};
    model_ = table_->create(nullptr, &sink);
    if (model_ == nullptr) throw std::runtime_error("create failed: " + error);
  }
  ~Domain() { table_->destroy(model_); }
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  Outcome parse(const Words& words, Bytes& command) const {
    std::vector<const char*> pointers;
    for (const std::string& word : words) pointers.push_back(word.c_str());
    Outcome outcome;
    evring_sink out{&command, append_bytes};
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->parse(pointers.data(), pointers.size(), &out, &error);
    return outcome;
  }

  Outcome handle(std::span<const std::byte> command) const {
    Outcome outcome;
    evring_event_sink events{&outcome.events, collect_event};
    evring_sink reason{&outcome.message, append_text};
    outcome.status = table_->handle(model_, command.data(), command.size(), &events, &reason);
    return outcome;
  }

  Outcome apply(std::uint32_t type, std::span<const std::byte> payload) {
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->apply(model_, type, payload.data(), payload.size(), &error);
    return outcome;
  }

  // handle, then apply each event, as the writer does.
  Outcome submit(std::span<const std::byte> command) {
    Outcome handled = handle(command);
    if (handled.status != EVRING_OK) {
      EXPECT_TRUE(handled.events.empty()) << "a refused command emitted events";
      EXPECT_FALSE(handled.message.empty()) << "a refusal without a reason";
      return handled;
    }
    for (const Event& event : handled.events) {
      const Outcome applied = apply(event.type, event.payload);
      EXPECT_EQ(applied.status, EVRING_OK) << applied.message;
    }
    return handled;
  }

  // parse, then submit: the path of `evring cmd --name N WORDS...`.
  Outcome submit(const Words& words) {
    Bytes command;
    Outcome parsed = parse(words, command);
    if (parsed.status != EVRING_OK) return parsed;
    return submit(std::span<const std::byte>(command));
  }

  // submit, expecting exactly one event back.
  Event accept(const Words& words) {
    Outcome outcome = submit(words);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    EXPECT_EQ(outcome.events.size(), 1u);
    return outcome.events.empty() ? Event{} : outcome.events.front();
  }

  Bytes snapshot() const {
    Bytes bytes;
    evring_sink out{&bytes, append_bytes};
    EXPECT_EQ(table_->snapshot(model_, &out), EVRING_OK);
    return bytes;
  }

  Outcome restore(std::span<const std::byte> bytes) {
    Outcome outcome;
    evring_sink error{&outcome.message, append_text};
    outcome.status = table_->restore(model_, bytes.data(), bytes.size(), &error);
    return outcome;
  }

  Outcome describe(std::uint32_t type, std::span<const std::byte> payload) const {
    Outcome outcome;
    evring_sink json{&outcome.message, append_text};
    outcome.status = table_->describe(type, payload.data(), payload.size(), &json);
    return outcome;
  }

  std::string describe(const Event& event) const {
    const Outcome outcome = describe(event.type, event.payload);
    EXPECT_EQ(outcome.status, EVRING_OK) << outcome.message;
    return outcome.message;
  }

 private:
  const evring_domain_v1* table_;
  void* model_ = nullptr;
};

// Bytes that outlive no statement: for decodes that must throw before looking at them.
inline std::span<const std::byte> briefly(const Bytes& bytes) {
  return bytes;
}

struct MalformedSnapshot {
  Bytes bytes;
  std::string reason;
};

inline void expect_refused(const Outcome& outcome, int status, std::string_view reason) {
  EXPECT_EQ(outcome.status, status) << outcome.message;
  EXPECT_THAT(outcome.message, HasSubstr(std::string(reason)));
  EXPECT_TRUE(outcome.events.empty());
}

// Each of `cases` is refused with its reason, and `target` (restored from `good`) keeps
// the state it had.
inline void expect_restores_refused(Domain& target, const Bytes& good,
                                    std::span<const MalformedSnapshot> cases) {
  ASSERT_EQ(target.restore(good).status, EVRING_OK);
  for (const MalformedSnapshot& c : cases) {
    SCOPED_TRACE(c.reason);
    expect_refused(target.restore(c.bytes), EVRING_FAILED, c.reason);
    EXPECT_EQ(target.snapshot(), good);
  }
}

// ---- garbage ----

// Random and mutated bytes into every entry point: statuses stay within what the ABI
// allows, a refusal always says why, and the model stays whole enough to snapshot.
inline void feed_garbage(std::string_view name, const std::vector<Bytes>& commands,
                         const std::vector<Event>& events, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto pick = [&](std::uint64_t below) { return rng() % below; };
  const auto garbage = [&](const Bytes& sample) {
    Bytes bytes;
    if (pick(4) == 0) {
      bytes.resize(pick(48));
      for (std::byte& b : bytes) b = static_cast<std::byte>(rng());
      return bytes;
    }
    bytes = sample;
    for (std::uint64_t flips = 1 + pick(3); flips > 0 && !bytes.empty(); --flips) {
      bytes[pick(bytes.size())] = static_cast<std::byte>(rng());
    }
    if (pick(4) == 0) bytes.resize(pick(bytes.size() + 4));
    return bytes;
  };

  Domain domain(name);
  for (int i = 0; i < 50'000 && !::testing::Test::HasFailure(); ++i) {
    const Outcome handled = domain.submit(garbage(commands[pick(commands.size())]));
    ASSERT_TRUE(handled.status == EVRING_OK || handled.status == EVRING_REJECTED ||
                handled.status == EVRING_MALFORMED)
        << handled.status << ", seed " << seed;

    const Event& sample = events[pick(events.size())];
    const std::uint32_t type = pick(8) == 0 ? static_cast<std::uint32_t>(rng()) : sample.type;
    const Bytes payload = garbage(sample.payload);
    const Outcome applied = domain.apply(type, payload);
    ASSERT_TRUE(applied.status == EVRING_OK || applied.status == EVRING_FAILED)
        << applied.status << ", seed " << seed;
    if (applied.status != EVRING_OK) {
      ASSERT_FALSE(applied.message.empty());
    }

    const Outcome described = domain.describe(type, payload);
    ASSERT_TRUE(described.status == EVRING_OK || described.status == EVRING_FAILED);
    if (described.status == EVRING_OK) {
      ASSERT_EQ(described.message.front(), '{');
      ASSERT_EQ(described.message.back(), '}');
    }
    // Both decode the same way; only apply() also checks the event against the state.
    if (applied.status == EVRING_OK) {
      ASSERT_EQ(described.status, EVRING_OK) << described.message;
    } else {
      ASSERT_EQ(described.status == EVRING_OK,
                applied.message.find("history does not belong") != std::string::npos)
          << applied.message << " / " << described.message;
    }

    if (i % 500 == 0) {
      const Bytes before = domain.snapshot();
      const Outcome restored = domain.restore(garbage(before));
      ASSERT_TRUE(restored.status == EVRING_OK || restored.status == EVRING_FAILED);
      if (restored.status == EVRING_FAILED) {
        ASSERT_EQ(domain.snapshot(), before);
      }
    }
  }
  Domain copy(name);
  const Bytes snapshot = domain.snapshot();
  ASSERT_EQ(copy.restore(snapshot).status, EVRING_OK);
  EXPECT_EQ(copy.snapshot(), snapshot);
}

}  // namespace evring::domain_testing
