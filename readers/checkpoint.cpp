#include "checkpoint.hpp"

#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "evring/codec.hpp"
#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "journal/snapshot_file.hpp"

namespace fs = std::filesystem;

namespace evring::reader {
namespace {

constexpr std::string_view kCheckpointKind = "view";
// 2: the history id (journal.hpp) after the view's name. A version 1 checkpoint cannot say
// which history it is of, so it is not used: the journal rebuilds the view.
constexpr std::uint32_t kCheckpointVersion = 2;

std::vector<std::byte> encode_checkpoint(std::string_view view, std::uint64_t history_id,
                                         std::span<const std::byte> state) {
  ByteWriter out;
  out.put(kCheckpointVersion).put_text(view).put(history_id);
  out.put_text({reinterpret_cast<const char*>(state.data()), state.size()});
  return out.take();
}

struct Checkpoint {
  std::uint64_t history_id = 0;
  std::span<const std::byte> state;  // the view's
};

// A checkpoint of view `view`; throws MalformedInput for anything else.
Checkpoint decode_checkpoint(std::span<const std::byte> bytes, std::string_view view) {
  ByteReader in(bytes, "checkpoint");
  if (const auto version = in.get<std::uint32_t>(); version != kCheckpointVersion) {
    throw MalformedInput("checkpoint has version " + std::to_string(version) +
                         "; this reader reads version " + std::to_string(kCheckpointVersion));
  }
  const std::string_view name = in.get_text();
  if (name != view) throw MalformedInput("it is of view \"" + std::string(name) + "\"");
  Checkpoint checkpoint;
  checkpoint.history_id = in.get<std::uint64_t>();
  const std::string_view state = in.get_text();
  in.expect_end();
  checkpoint.state = {reinterpret_cast<const std::byte*>(state.data()), state.size()};
  return checkpoint;
}

}  // namespace

std::uint64_t restore_checkpoint(const fs::path& checkpoint_dir, ViewPlugin& view,
                                 std::uint64_t history, const LogSink& log) {
  std::size_t passed_over = 0;
  for (const SnapshotInfo& info : list_snapshot_files(checkpoint_dir, kCheckpointKind)) {
    try {
      const std::vector<std::byte> bytes = read_snapshot_file(info, kCheckpointKind);
      const Checkpoint checkpoint = decode_checkpoint(bytes, view.name());
      if (history == 0) {
        throw MalformedInput(
            "the instance's history cannot be told yet (no writer running and no journal), so "
            "no checkpoint can be trusted");
      }
      if (checkpoint.history_id != history) {
        // Its seqs name other events: it can never be used again, and left in place it
        // would outrank (and prune) the checkpoints of this history.
        std::error_code ignored;
        fs::remove(info.path, ignored);
        throw MalformedInput("it is of history " + history_text(checkpoint.history_id) +
                             ", but the instance now holds history " + history_text(history) +
                             " (its journal was started again), so its seqs are other events; "
                             "removed it");
      }
      view.restore(checkpoint.state);
      log(LogLevel::info,
          fmt::format("restored the view at seq {} from {}", info.seq, info.path.string()));
      return info.seq;
    } catch (const std::exception& e) {
      // An older checkpoint, or the journal, still has it all.
      log(LogLevel::warn, fmt::format("checkpoint {} not used: {}", info.path.string(), e.what()));
      view.reset();
      ++passed_over;
    }
  }
  if (passed_over == 0) {
    log(LogLevel::info,
        "first start of this reader (no checkpoint yet): building the view from "
        "seq 1");
  } else {
    log(LogLevel::warn, fmt::format("none of the {} checkpoint(s) could be used: building the view "
                                    "from seq 1",
                                    passed_over));
  }
  return 0;
}

void write_checkpoint(const fs::path& checkpoint_dir, const ViewPlugin& view, std::uint64_t seq,
                      std::uint64_t history, mode_t mode) {
  write_snapshot_file(checkpoint_dir, kCheckpointKind, seq,
                      encode_checkpoint(view.name(), history, view.snapshot()), mode);
}

std::uint64_t newest_checkpoint_seq(const fs::path& checkpoint_dir) {
  const std::vector<SnapshotInfo> found = list_snapshot_files(checkpoint_dir, kCheckpointKind);
  return found.empty() ? 0 : found.front().seq;
}

std::uint64_t oldest_checkpoint_seq(const fs::path& checkpoint_dir) {
  const std::vector<SnapshotInfo> found = list_snapshot_files(checkpoint_dir, kCheckpointKind);
  return found.empty() ? 0 : found.back().seq;
}

void remove_checkpoints(const fs::path& checkpoint_dir) {
  for (const SnapshotInfo& info : list_snapshot_files(checkpoint_dir, kCheckpointKind)) {
    std::error_code ignored;
    fs::remove(info.path, ignored);
  }
}

}  // namespace evring::reader
