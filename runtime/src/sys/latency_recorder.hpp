// Records latency samples without allocating on the measured path, then reports
// percentiles. Used by the benchmarks, the demo and the reader tooling.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace evring {

struct LatencySummary {
  std::uint64_t samples = 0;
  std::int64_t min_ns = 0;
  std::int64_t p50_ns = 0;
  std::int64_t p90_ns = 0;
  std::int64_t p99_ns = 0;
  std::int64_t p999_ns = 0;
  std::int64_t p9999_ns = 0;
  std::int64_t max_ns = 0;
  double mean_ns = 0;
};

// One thread. Keeps up to `capacity` samples (reserved up front, pre-faulted); samples
// beyond it are counted in dropped() rather than silently folded in.
class LatencyRecorder {
 public:
  explicit LatencyRecorder(std::size_t capacity) : samples_(capacity) {}

  void record(std::int64_t ns) noexcept {
    if (count_ < samples_.size()) {
      samples_[count_++] = ns;
    } else {
      ++dropped_;
    }
  }
  std::size_t count() const noexcept { return count_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  void clear() noexcept { count_ = 0, dropped_ = 0; }
  const std::int64_t* data() const noexcept { return samples_.data(); }

  // Sorts the kept samples (so call it once, at the end).
  LatencySummary summarize() { return summarize_samples(samples_.data(), count_); }

  // Percentiles by the nearest-rank method over samples[0, n); sorts them in place.
  static LatencySummary summarize_samples(std::int64_t* samples, std::size_t n) {
    LatencySummary s;
    s.samples = n;
    if (n == 0) return s;
    std::sort(samples, samples + n);
    auto rank = [&](double q) {
      const auto index = static_cast<std::size_t>(q * static_cast<double>(n - 1) + 0.5);
      return samples[std::min(index, n - 1)];
    };
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(samples[i]);
    s.min_ns = samples[0];
    s.p50_ns = rank(0.50);
    s.p90_ns = rank(0.90);
    s.p99_ns = rank(0.99);
    s.p999_ns = rank(0.999);
    s.p9999_ns = rank(0.9999);
    s.max_ns = samples[n - 1];
    s.mean_ns = sum / static_cast<double>(n);
    return s;
  }

 private:
  std::vector<std::int64_t> samples_;
  std::size_t count_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace evring
