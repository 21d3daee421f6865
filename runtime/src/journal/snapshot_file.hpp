// Snapshot files: a state as of a sequence number, so a restart replays the journal from
// there instead of from the start. The writer keeps its command model's snapshots in them,
// readers their views' checkpoints.
//
// FORMAT (version 1)
//
// One file per snapshot, named <kind>-<seq, 20 digits>.snap: a SnapshotFileHeader (64
// bytes), then `body_bytes` of body, which is the caller's. The header names the kind and
// seq again, so a renamed or copied file is caught, and carries CRC32Cs of itself and of the
// body.
//
// A snapshot is written under a temporary name (".<kind>-<seq>.snap.tmp" in the same
// folder), made durable, then renamed over its final name and the folder made durable, so
// a crash leaves either the whole new snapshot or none, never a partial one under a
// snapshot's name; the previous snapshots are still there. Temporary files left by a crash
// are not snapshots: listing ignores them and the next write of that kind removes them.
//
// One process writes snapshots of a kind in a folder at a time; any number read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace evring {

inline constexpr std::uint64_t kSnapshotMagic = 0x3150'414E'5356'4545ull;  // "EEVSNAP1"
inline constexpr std::uint32_t kSnapshotFormatVersion = 1;
// A kind is 1 to 16 of a-z, A-Z, 0-9, '_' and '-': it is part of the file name.
inline constexpr std::size_t kSnapshotKindBytes = 16;

struct SnapshotFileHeader {
  std::uint64_t magic;
  std::uint32_t format_version;
  std::uint32_t header_bytes;
  char kind[kSnapshotKindBytes];  // zero padded
  std::uint64_t seq;
  std::uint64_t body_bytes;
  std::uint32_t body_crc;  // CRC32C of the body
  std::uint8_t reserved[8];
  std::uint32_t header_crc;  // CRC32C of the bytes before it
};
static_assert(offsetof(SnapshotFileHeader, kind) == 16);
static_assert(offsetof(SnapshotFileHeader, body_crc) == 48);
static_assert(offsetof(SnapshotFileHeader, header_crc) == 60);
static_assert(sizeof(SnapshotFileHeader) == 64);

struct SnapshotInfo {
  std::filesystem::path path;
  std::uint64_t seq = 0;
};

// Writes the snapshot of `kind` as of `seq` into `directory` (created with mode plus x if
// missing), then removes the snapshots of that kind beyond the `keep` newest by seq (so
// the new one too, if `keep` newer ones exist) and the kind's temporary files left by a
// crash. Returns once the snapshot is durable. Any thread; one writer per kind and folder.
// Throws Error(invalid_argument) for a bad kind or keep 0,
// Error(permission_denied/resource/io) with what to do for the file system's refusals; a
// snapshot that was not completely written is not left under a snapshot's name.
void write_snapshot_file(const std::filesystem::path& directory, std::string_view kind,
                         std::uint64_t seq, std::span<const std::byte> body, mode_t mode = 0600,
                         std::size_t keep = 2);

// The snapshots of `kind` in `directory`, newest (highest seq) first, judged by their
// names only: read_snapshot_file validates the contents. A missing folder has none. Any
// thread. Throws Error(invalid_argument) for a bad kind, Error(permission_denied/io) if
// the folder cannot be listed.
std::vector<SnapshotInfo> list_snapshot_files(const std::filesystem::path& directory,
                                              std::string_view kind);

// The body of one snapshot, validated: magic, version, kind and seq against the name and
// `kind`, size and both checksums. Any thread. Throws Error(corrupt) naming the file and
// what is wrong with it (fall back to an older snapshot, or replay from the start),
// Error(incompatible) for another format version, Error(invalid_argument) if `info` does
// not name a snapshot of `kind` at info.seq, Error(permission_denied/io) if it cannot be
// read.
std::vector<std::byte> read_snapshot_file(const SnapshotInfo& info, std::string_view kind);

}  // namespace evring
