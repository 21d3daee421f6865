// Snapshot files: round trip, pruning, crashes mid-write, damage, kinds and versions.
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "evring/error.hpp"
#include "journal/snapshot_file.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> body_for(std::uint64_t seq, std::size_t bytes) {
  std::vector<std::byte> body(bytes);
  for (std::size_t i = 0; i < bytes; ++i) body[i] = static_cast<std::byte>((seq * 31 + i) % 251);
  return body;
}

// Each test in its own folder under /tmp, removed at the end whatever the test did.
class SnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = "/tmp/evring-snapshot-test-XXXXXX";
    ASSERT_NE(::mkdtemp(name.data()), nullptr) << "cannot create a folder under /tmp";
    root_ = name;
    directory_ = root_ / "snapshots";  // not there yet: writing creates it
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes bytes into a file at `offset`, creating the file if it does not exist.
  static void overwrite(const fs::path& file, std::uint64_t offset, const std::string& bytes) {
    if (!fs::exists(file)) std::ofstream(file, std::ios::binary).flush();
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << "cannot write to " << file;
  }

  // The error read_snapshot_file throws; fails the test if it returns.
  static Error read_error(const SnapshotInfo& info, std::string_view kind) {
    try {
      read_snapshot_file(info, kind);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "read " << info.path << " without an error";
    return Error(ErrorCode::io, "no error");
  }

  static std::vector<std::uint64_t> seqs(const std::vector<SnapshotInfo>& snapshots) {
    std::vector<std::uint64_t> out;
    for (const SnapshotInfo& info : snapshots) out.push_back(info.seq);
    return out;
  }

  fs::path root_;
  fs::path directory_;
};

TEST_F(SnapshotFileTest, RoundTripsIntoAFolderItCreates) {
  const std::vector<std::byte> body = body_for(42, 100'000);
  write_snapshot_file(directory_, "model", 42, body);

  const std::vector<SnapshotInfo> found = list_snapshot_files(directory_, "model");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].seq, 42u);
  EXPECT_EQ(found[0].path, directory_ / "model-00000000000000000042.snap");
  EXPECT_EQ(fs::file_size(found[0].path), sizeof(SnapshotFileHeader) + body.size());
  EXPECT_EQ(fs::status(found[0].path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(directory_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(read_snapshot_file(found[0], "model"), body);
  EXPECT_TRUE(list_snapshot_files(root_ / "missing", "model").empty());
}

TEST_F(SnapshotFileTest, EmptyBodyRoundTrips) {
  write_snapshot_file(directory_, "view_kv", 7, {});
  const std::vector<SnapshotInfo> found = list_snapshot_files(directory_, "view_kv");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(fs::file_size(found[0].path), sizeof(SnapshotFileHeader));
  EXPECT_TRUE(read_snapshot_file(found[0], "view_kv").empty());
}

TEST_F(SnapshotFileTest, KeepsTheNewestAndPrunesOlderOnesOfTheSameKindOnly) {
  write_snapshot_file(directory_, "other", 1, body_for(1, 10));
  for (std::uint64_t seq : {10, 20, 30, 40}) write_snapshot_file(directory_, "model", seq, {});
  EXPECT_EQ(seqs(list_snapshot_files(directory_, "model")), (std::vector<std::uint64_t>{40, 30}));
  EXPECT_FALSE(fs::exists(directory_ / "model-00000000000000000020.snap"));

  write_snapshot_file(directory_, "model", 50, {}, 0600, 3);
  EXPECT_EQ(seqs(list_snapshot_files(directory_, "model")),
            (std::vector<std::uint64_t>{50, 40, 30}));
  write_snapshot_file(directory_, "model", 60, {}, 0600, 1);
  EXPECT_EQ(seqs(list_snapshot_files(directory_, "model")), (std::vector<std::uint64_t>{60}));
  EXPECT_EQ(seqs(list_snapshot_files(directory_, "other")), (std::vector<std::uint64_t>{1}))
      << "another kind in the same folder is left alone";
  EXPECT_THROW(write_snapshot_file(directory_, "model", 70, {}, 0600, 0), Error);
}

TEST_F(SnapshotFileTest, TempFileLeftByACrashHidesNothingAndTheNextWriteRemovesIt) {
  const std::vector<std::byte> body = body_for(5, 4096);
  write_snapshot_file(directory_, "model", 5, body);
  // A crash while writing seq 9: half a header under the temporary name.
  const fs::path temp = directory_ / ".model-00000000000000000009.snap.tmp";
  overwrite(temp, 0, std::string(32, '\x11'));
  const fs::path unrelated = directory_ / ".notes.tmp";
  overwrite(unrelated, 0, "not ours");

  const std::vector<SnapshotInfo> found = list_snapshot_files(directory_, "model");
  ASSERT_EQ(seqs(found), (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(read_snapshot_file(found[0], "model"), body);

  write_snapshot_file(directory_, "model", 12, body_for(12, 10));
  EXPECT_FALSE(fs::exists(temp)) << "the next write of the kind removes the leftover";
  EXPECT_TRUE(fs::exists(unrelated)) << "a file that is not ours is left alone";
  EXPECT_EQ(seqs(list_snapshot_files(directory_, "model")), (std::vector<std::uint64_t>{12, 5}));

  // A crash at the very seq written next: the leftover is replaced, not an error.
  overwrite(directory_ / ".model-00000000000000000013.snap.tmp", 0, "partial");
  write_snapshot_file(directory_, "model", 13, body_for(13, 10));
  EXPECT_EQ(read_snapshot_file(list_snapshot_files(directory_, "model")[0], "model"),
            body_for(13, 10));
}

TEST_F(SnapshotFileTest, FlippedByteInTheNewestIsCorruptWhileTheOlderStillReads) {
  const std::vector<std::byte> older = body_for(1, 1000);
  write_snapshot_file(directory_, "model", 1, older);
  write_snapshot_file(directory_, "model", 2, body_for(2, 1000));
  const std::vector<SnapshotInfo> found = list_snapshot_files(directory_, "model");
  ASSERT_EQ(seqs(found), (std::vector<std::uint64_t>{2, 1}));

  overwrite(found[0].path, sizeof(SnapshotFileHeader) + 500, "\xff");
  Error body_error = read_error(found[0], "model");
  EXPECT_EQ(body_error.code(), ErrorCode::corrupt);
  EXPECT_NE(std::string(body_error.what()).find(found[0].path.string()), std::string::npos)
      << body_error.what();
  EXPECT_NE(std::string(body_error.what()).find("body"), std::string::npos) << body_error.what();
  EXPECT_EQ(read_snapshot_file(found[1], "model"), older);

  overwrite(found[1].path, offsetof(SnapshotFileHeader, body_bytes), "\x01");
  Error header_error = read_error(found[1], "model");
  EXPECT_EQ(header_error.code(), ErrorCode::corrupt);
  EXPECT_NE(std::string(header_error.what()).find("header"), std::string::npos)
      << header_error.what();
}

TEST_F(SnapshotFileTest, CutShortOrGrownFilesAreCorrupt) {
  write_snapshot_file(directory_, "model", 3, body_for(3, 1000));
  const SnapshotInfo info = list_snapshot_files(directory_, "model").at(0);
  for (const std::uintmax_t size : {std::uintmax_t{1064 + 1}, std::uintmax_t{1000},
                                    std::uintmax_t{sizeof(SnapshotFileHeader) - 1}}) {
    fs::resize_file(info.path, size);
    const Error error = read_error(info, "model");
    EXPECT_EQ(error.code(), ErrorCode::corrupt) << size;
    EXPECT_NE(std::string(error.what()).find(std::to_string(size) + " bytes"), std::string::npos)
        << error.what();
  }
}

TEST_F(SnapshotFileTest, WrongKindIsRefused) {
  write_snapshot_file(directory_, "model", 8, body_for(8, 64));
  EXPECT_TRUE(list_snapshot_files(directory_, "view").empty());
  EXPECT_TRUE(list_snapshot_files(directory_, "mode").empty()) << "a prefix is another kind";
  const SnapshotInfo model = list_snapshot_files(directory_, "model").at(0);

  // Asked for with another kind: the caller's mistake.
  const Error asked = read_error(model, "view");
  EXPECT_EQ(asked.code(), ErrorCode::invalid_argument);
  EXPECT_NE(std::string(asked.what()).find("\"view\""), std::string::npos) << asked.what();
  EXPECT_EQ(read_error({model.path, 9}, "model").code(), ErrorCode::invalid_argument);

  // Renamed to another seq, or to another kind's name: the contents give it away.
  const fs::path moved = directory_ / "model-00000000000000000010.snap";
  fs::rename(model.path, moved);
  const Error seq = read_error({moved, 10}, "model");
  EXPECT_EQ(seq.code(), ErrorCode::corrupt);
  EXPECT_NE(std::string(seq.what()).find("seq 8"), std::string::npos) << seq.what();
  const fs::path renamed = directory_ / "view-00000000000000000008.snap";
  fs::rename(moved, renamed);
  const Error held = read_error({renamed, 8}, "view");
  EXPECT_EQ(held.code(), ErrorCode::corrupt);
  EXPECT_NE(std::string(held.what()).find("\"model\""), std::string::npos) << held.what();

  for (const std::string_view bad : {"", "../model", "a.b", "seventeen-chars-x"}) {
    EXPECT_THROW(write_snapshot_file(directory_, bad, 1, {}), Error) << bad;
    EXPECT_THROW(list_snapshot_files(directory_, bad), Error) << bad;
  }
  write_snapshot_file(directory_, "sixteen-chars-xx", 1, {});
  EXPECT_EQ(list_snapshot_files(directory_, "sixteen-chars-xx").size(), 1u);
}

TEST_F(SnapshotFileTest, AnotherFormatVersionIsIncompatibleNamingBoth) {
  write_snapshot_file(directory_, "model", 4, body_for(4, 16));
  const SnapshotInfo info = list_snapshot_files(directory_, "model").at(0);
  overwrite(info.path, offsetof(SnapshotFileHeader, format_version), std::string("\x07\0\0\0", 4));
  const Error error = read_error(info, "model");
  EXPECT_EQ(error.code(), ErrorCode::incompatible);
  EXPECT_NE(std::string(error.what()).find("version 7"), std::string::npos) << error.what();
  EXPECT_NE(std::string(error.what()).find("version " + std::to_string(kSnapshotFormatVersion)),
            std::string::npos)
      << error.what();

  overwrite(info.path, 0, "NOTASNAP");
  EXPECT_EQ(read_error(info, "model").code(), ErrorCode::corrupt);
}

TEST_F(SnapshotFileTest, FolderThatCannotBeCreatedIsAnErrorSayingWhy) {
  const fs::path file = root_ / "a-file";
  overwrite(file, 0, "x");
  try {
    write_snapshot_file(file / "snapshots", "model", 1, {});
    FAIL() << "wrote a snapshot under a regular file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io);
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace evring
