#include "test_support.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <gtest/gtest.h>

namespace evring::test {

std::string unique_instance(const std::string& hint) {
  static std::atomic<int> counter{0};
  std::string name = "t-" + hint + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) c = '_';
  }
  return name.substr(0, 64);
}

InstanceCleanup::~InstanceCleanup() {
  SharedSegment::remove(segment_name(instance_, "ring"));
  SharedSegment::remove(segment_name(instance_, "registry"));
  SharedSegment::remove(segment_name(instance_, "intake"));
  // Those a reader killed -9 left: its query segment (query/query_segment.hpp) and a remote
  // reader's status (remote/remote_status.hpp), one per reader id.
  const std::string query_prefix = segment_name(instance_, "query.");
  const std::string remote_prefix = segment_name(instance_, "remote-");
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(query_prefix) || name.starts_with(remote_prefix)) {
      SharedSegment::remove(name);
    }
  }
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

char process_state(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return '?';
  char line[1024] = {};
  const std::size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  const char* paren = std::strrchr(line, ')');
  return (n > 0 && paren != nullptr && paren[1] == ' ') ? paren[2] : '?';
}

std::uint32_t payload_length_for(std::uint64_t seq, std::uint32_t max_payload) {
  // Mostly small records, sometimes large ones, now and then exactly the maximum.
  const std::uint64_t r = splitmix64(seq * 7919);
  if (r % 97 == 0) return max_payload;
  if (r % 13 == 0) return static_cast<std::uint32_t>((r >> 20) % (max_payload + 1));
  return static_cast<std::uint32_t>((r >> 20) % std::min<std::uint32_t>(256, max_payload + 1));
}

void fill_payload(std::uint64_t seq, std::span<std::byte> out) {
  for (std::size_t i = 0; i < out.size(); i += 8) {
    const std::uint64_t word = splitmix64(seq ^ (i << 40));
    std::memcpy(out.data() + i, &word, std::min<std::size_t>(8, out.size() - i));
  }
}

bool payload_matches(std::uint64_t seq, std::span<const std::byte> payload,
                     std::uint32_t max_payload) {
  if (payload.size() != payload_length_for(seq, max_payload)) return false;
  for (std::size_t i = 0; i < payload.size(); i += 8) {
    const std::uint64_t word = splitmix64(seq ^ (i << 40));
    if (std::memcmp(payload.data() + i, &word, std::min<std::size_t>(8, payload.size() - i)) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace evring::test
