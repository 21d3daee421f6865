// A writer's model snapshot: the domain's state and the duplicate window at one seq, so a
// restart replays only the journal after it. Stored with snapshot_file.hpp (atomic write,
// CRC), kind "model", in <journal>/snapshots.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "duplicate_window.hpp"

namespace evring::writer {

struct ModelSnapshot {
  std::string domain;            // the domain's name: a snapshot of another is refused
  std::uint64_t history_id = 0;  // the journal's (journal.hpp): one of another is refused
  std::vector<std::byte> model;  // DomainPlugin::snapshot()
  std::vector<std::pair<std::string, std::uint64_t>> window;  // oldest first
};

std::vector<std::byte> encode_model_snapshot(std::string_view domain, std::uint64_t history_id,
                                             std::span<const std::byte> model,
                                             const DuplicateWindow& window);
// Throws MalformedInput when the bytes are not a model snapshot.
ModelSnapshot decode_model_snapshot(std::span<const std::byte> bytes);

}  // namespace evring::writer
