// A reader's checkpoints: its view's state as of a seq, in snapshot files (kind "view") in
// the reader's checkpoint folder, each tagged with the view's name and the instance's
// history, so a checkpoint of another view or of another history is never restored.
#pragma once

#include <cstdint>
#include <filesystem>

#include <sys/types.h>

#include "plugin/view_plugin.hpp"
#include "sys/log.hpp"

namespace evring::reader {

// Restores the newest checkpoint of `history` into `view` and returns its seq; 0 when
// there is none that can be used (the view is then reset). Each one passed over is logged
// with why; one of another history is removed, as it would outrank this history's.
std::uint64_t restore_checkpoint(const std::filesystem::path& checkpoint_dir, ViewPlugin& view,
                                 std::uint64_t history, const LogSink& log);

// The view's state as of `seq`, written atomically (older ones pruned).
void write_checkpoint(const std::filesystem::path& checkpoint_dir, const ViewPlugin& view,
                      std::uint64_t seq, std::uint64_t history, mode_t mode);

// The newest checkpoint's seq by its file's name (0: none), unread.
std::uint64_t newest_checkpoint_seq(const std::filesystem::path& checkpoint_dir);
// The oldest one kept (0: none): a restart falls back to it when the newer cannot be read,
// so it is what the reader's hold on the journal covers.
std::uint64_t oldest_checkpoint_seq(const std::filesystem::path& checkpoint_dir);

// All of them: the instance's history started again.
void remove_checkpoints(const std::filesystem::path& checkpoint_dir);

}  // namespace evring::reader
