// iceoryx publish/subscribe (Debian's iceoryx 2.0 packages): zero-copy, the writer loans a
// chunk from RouDi's shared memory pools, fills it and publishes it; the reader takes the
// chunk in place and releases it. Nothing is lost: the subscriber blocks the publisher when
// its queue is full (BLOCK_PRODUCER / WAIT_FOR_CONSUMER), as the other peers' writers block.
// Spinning: take() again while empty. Blocking: a WaitSet wakes the reader when data comes.
#include <unistd.h>

#include <csignal>
#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/internal/runtime/posh_runtime_impl.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/popo/wait_set.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "evring/clock.hpp"
#include "evring/error.hpp"
#include "harness/exec_process.hpp"
#include "peer_trial.hpp"
#include "ring_processes.hpp"

namespace evring::bench {
namespace {

constexpr std::uint64_t kQueueCapacity = 16;  // in flight at most: well within RouDi's pools
constexpr std::int64_t kSubscribeTimeoutNs = 10'000'000'000;
constexpr std::int64_t kRoudiStartTimeoutNs = 20'000'000'000;
constexpr std::int64_t kRoudiStopTimeoutNs = 10'000'000'000;
constexpr const char* kRoudiBinary = "/usr/bin/iox-roudi";

// Fixed-capacity strings, assigned rather than built with TruncateToCapacity: GCC 12 sees
// that constructor's (dead) truncating branch as reading past our short strings.
template <class FixedString>
FixedString fixed_string(const std::string& text) {
  FixedString fixed;
  if (!fixed.unsafe_assign(text.c_str())) {
    throw Error(ErrorCode::invalid_argument, "iceoryx: name too long: " + text);
  }
  return fixed;
}

iox::capro::IdString_t id_string(const std::string& text) {
  return fixed_string<iox::capro::IdString_t>(text);
}

// iceoryx keeps a process's runtime in a static that only exit() destroys, and our children
// end with _exit: left so, RouDi would keep each dead child registered and signal its pid at
// shutdown. So the runtime is an object of the sender or receiver that uses it, and its
// destructor unregisters from RouDi before the child exits.
class ChildRuntime : public iox::runtime::PoshRuntimeImpl {
 public:
  explicit ChildRuntime(const iox::RuntimeName_t& name)
      : PoshRuntimeImpl(iox::cxx::make_optional<const iox::RuntimeName_t*>(&name)) {
    current = this;
    setRuntimeFactory(&factory);
  }
  ~ChildRuntime() override { current = nullptr; }
  ChildRuntime(const ChildRuntime&) = delete;
  ChildRuntime& operator=(const ChildRuntime&) = delete;

 private:
  static iox::runtime::PoshRuntime& factory(iox::cxx::optional<const iox::RuntimeName_t*>) {
    return *current;
  }
  static inline ChildRuntime* current = nullptr;  // one runtime per process, one thread
};

std::unique_ptr<ChildRuntime> make_runtime(const char* side) {
  // iceoryx's clients log each registration at debug level; only its warnings matter here.
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
  const std::string name = "evring-bench-" + std::string(side) + "-" + std::to_string(::getpid());
  return std::make_unique<ChildRuntime>(fixed_string<iox::RuntimeName_t>(name));
}

struct Service {
  std::string instance;  // unique per trial, so trials never meet
  iox::capro::ServiceDescription description() const {
    return {id_string("evring-bench"), id_string(instance), id_string("latency")};
  }
};

class IceoryxSender : public PeerSender {
 public:
  explicit IceoryxSender(const Service& service)
      : runtime_(make_runtime("writer")), publisher_(service.description(), options()) {}
  std::span<std::byte> prepare(std::size_t bytes) override {
    auto loaned = publisher_.loan(static_cast<std::uint32_t>(bytes), alignof(PeerHeader));
    if (loaned.has_error()) {
      throw Error(ErrorCode::resource, "iceoryx: loan of " + std::to_string(bytes) +
                                           " bytes failed (RouDi's pools are exhausted?)");
    }
    chunk_ = loaned.value();
    return {static_cast<std::byte*>(chunk_), bytes};
  }
  void send() override { publisher_.publish(chunk_); }

 private:
  static iox::popo::PublisherOptions options() {
    iox::popo::PublisherOptions options;
    options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
    return options;
  }
  std::unique_ptr<ChildRuntime> runtime_;  // first: it outlives the publisher
  iox::popo::UntypedPublisher publisher_;
  void* chunk_ = nullptr;
};

class IceoryxReceiver : public PeerReceiver {
 public:
  IceoryxReceiver(const Service& service, bool spin)
      : runtime_(make_runtime("reader")), subscriber_(service.description(), options()) {
    if (!spin) {
      waitset_.emplace();
      if (waitset_->attachState(subscriber_, iox::popo::SubscriberState::HAS_DATA).has_error()) {
        throw Error(ErrorCode::resource, "iceoryx: cannot attach the subscriber to a WaitSet");
      }
    }
    const std::int64_t deadline = monotonic_ns() + kSubscribeTimeoutNs;
    while (subscriber_.getSubscriptionState() != iox::SubscribeState::SUBSCRIBED) {
      if (monotonic_ns() > deadline) {
        throw Error(ErrorCode::io, "iceoryx: the subscriber never got subscribed; is RouDi up?");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~IceoryxReceiver() override {
    if (waitset_) waitset_->detachState(subscriber_, iox::popo::SubscriberState::HAS_DATA);
  }
  std::span<const std::byte> receive(std::int64_t deadline_ns) override {
    for (std::uint64_t tries = 1;; ++tries) {
      auto taken = subscriber_.take();
      if (!taken.has_error()) {
        chunk_ = taken.value();
        const auto* header = iox::mepoo::ChunkHeader::fromUserPayload(chunk_);
        return {static_cast<const std::byte*>(chunk_), header->userPayloadSize()};
      }
      if (waitset_) {
        waitset_->timedWait(iox::units::Duration::fromMilliseconds(50));
        if (monotonic_ns() > deadline_ns) throw_past_deadline();
      } else {
        if ((tries & 0xFFFF) == 0 && monotonic_ns() > deadline_ns) throw_past_deadline();
        cpu_relax();
      }
    }
  }
  void release() override { subscriber_.release(chunk_); }

 private:
  [[noreturn]] static void throw_past_deadline() {
    throw Error(ErrorCode::io, "iceoryx: no sample before the deadline; is the writer stuck?");
  }
  static iox::popo::SubscriberOptions options() {
    iox::popo::SubscriberOptions options;
    options.queueCapacity = kQueueCapacity;
    options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
    return options;
  }
  std::unique_ptr<ChildRuntime> runtime_;  // first: it outlives the subscriber and waitset
  iox::popo::UntypedSubscriber subscriber_;
  std::optional<iox::popo::WaitSet<>> waitset_;
  const void* chunk_ = nullptr;
};

class IceoryxLink : public PeerLink {
 public:
  explicit IceoryxLink(bool spin) : service_{unique_instance_name("iceoryx")}, spin_(spin) {}
  std::unique_ptr<PeerSender> open_sender() override {
    return std::make_unique<IceoryxSender>(service_);
  }
  std::unique_ptr<PeerReceiver> open_receiver() override {
    return std::make_unique<IceoryxReceiver>(service_, spin_);
  }

 private:
  Service service_;
  bool spin_;
};

// RouDi for one run: its output in a file of a private temporary folder; stopped with
// SIGTERM (it then removes its shared memory) when this goes.
class RoudiProcess : public IceoryxDaemon {
 public:
  explicit RoudiProcess(std::filesystem::path folder)
      : folder_(std::move(folder)), log_(folder_ / "roudi.log"), roudi_(launch(log_)) {}
  ~RoudiProcess() override {
    try {
      roudi_.stop(monotonic_ns() + kRoudiStopTimeoutNs);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "evring-bench: stopping iox-roudi: %s\n", e.what());
    }
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
  RoudiProcess(const RoudiProcess&) = delete;
  RoudiProcess& operator=(const RoudiProcess&) = delete;

  // Waits for "RouDi is ready for clients"; throws with RouDi's last words if it exits.
  void wait_until_ready() {
    harness::wait_until([&] { return log_contains("RouDi is ready for clients"); },
                        {&roudi_.process()}, monotonic_ns() + kRoudiStartTimeoutNs,
                        "iox-roudi to take clients");
  }
  std::string log_text() const {
    std::ifstream file(log_);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }

 private:
  static harness::ExecLaunch launch(const std::filesystem::path& log) {
    harness::ExecLaunch launch;
    launch.binary = kRoudiBinary;
    // Monitoring off: our children unregister themselves, and a pinned spinning child
    // must not be declared dead for missing a keep-alive while it measures.
    launch.args = {"--monitoring-mode", "off", "--log-level", "warning", "--kill-delay", "1"};
    launch.log_file = log;
    // If the bench is killed outright, SIGTERM still lets RouDi remove its shared memory.
    launch.parent_death_signal = SIGTERM;
    return launch;
  }
  bool log_contains(const char* text) const { return log_text().find(text) != std::string::npos; }

  std::filesystem::path folder_;
  std::filesystem::path log_;
  harness::ExecProcess roudi_;
};

std::filesystem::path make_private_folder() {
  std::string pattern = (std::filesystem::temp_directory_path() / "evring-bench-roudi-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw Error(ErrorCode::io, "mkdtemp " + pattern + ": " + errno_text(errno));
  }
  return pattern;
}

}  // namespace

std::vector<PeerVariant> iceoryx_variants() {
  const auto children = PeerPlacement::two_children;
  return {
      {"iceoryx", WaitKind::block, "WaitSet wait, then take()", children,
       [](std::size_t) { return std::make_unique<IceoryxLink>(false); }},
      {"iceoryx", WaitKind::spin, "take() again while empty", children,
       [](std::size_t) { return std::make_unique<IceoryxLink>(true); }},
  };
}

std::string iceoryx_missing_note() {
  return {};
}

std::unique_ptr<IceoryxDaemon> start_iceoryx_daemon() {
  if (::access(kRoudiBinary, X_OK) != 0) {
    throw Error(ErrorCode::io,
                std::string(kRoudiBinary) + " is missing; add it with: apt install iceoryx");
  }
  auto roudi = std::make_unique<RoudiProcess>(make_private_folder());
  try {
    roudi->wait_until_ready();
  } catch (const Error& e) {
    const std::string log = roudi->log_text();
    if (log.find("Could not acquire lock") != std::string::npos) {
      throw Error(ErrorCode::io,
                  "another iox-roudi already runs on this machine (it holds /tmp/roudi.lock); "
                  "stop it to measure iceoryx");
    }
    throw Error(ErrorCode::io, std::string(e.what()) + "; iox-roudi said:\n" + log);
  }
  return roudi;
}

}  // namespace evring::bench
