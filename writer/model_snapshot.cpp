#include "model_snapshot.hpp"

#include "evring/codec.hpp"

namespace evring::writer {
namespace {

// 2: the history id after the domain. A version 1 snapshot cannot say which history it
// is of, so it is never used (the journal has every event).
constexpr std::uint32_t kModelSnapshotVersion = 2;

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::vector<std::byte> encode_model_snapshot(std::string_view domain, std::uint64_t history_id,
                                             std::span<const std::byte> model,
                                             const DuplicateWindow& window) {
  ByteWriter out;
  out.put(kModelSnapshotVersion).put_text(domain).put(history_id);
  out.put(static_cast<std::uint64_t>(window.size()));
  window.for_each([&](std::string_view id, std::uint64_t seq) { out.put_text(id).put(seq); });
  out.put(static_cast<std::uint64_t>(model.size()));
  out.put_text(as_text(model));
  return out.take();
}

ModelSnapshot decode_model_snapshot(std::span<const std::byte> bytes) {
  ByteReader in(bytes, "model snapshot");
  if (const auto version = in.get<std::uint32_t>(); version != kModelSnapshotVersion) {
    throw MalformedInput("model snapshot has version " + std::to_string(version) +
                         "; this writer reads version " + std::to_string(kModelSnapshotVersion));
  }
  ModelSnapshot snapshot;
  snapshot.domain = std::string(in.get_text());
  snapshot.history_id = in.get<std::uint64_t>();
  const auto entries = in.get<std::uint64_t>();
  if (entries > bytes.size()) throw MalformedInput("model snapshot claims too many ids");
  snapshot.window.reserve(entries);
  for (std::uint64_t i = 0; i < entries; ++i) {
    std::string id(in.get_text());
    snapshot.window.emplace_back(std::move(id), in.get<std::uint64_t>());
  }
  const auto model_bytes = in.get<std::uint64_t>();
  const std::string_view model = in.get_text();
  if (model.size() != model_bytes) throw MalformedInput("model snapshot's model size disagrees");
  const auto* raw = reinterpret_cast<const std::byte*>(model.data());
  snapshot.model.assign(raw, raw + model.size());
  in.expect_end();
  return snapshot;
}

}  // namespace evring::writer
