// Resource limits and bad environments, met by the real evring-writer and evring-reader:
// a ring size that cannot work, /dev/shm too small for the ring, a registry full of
// readers, folders that cannot be written, and the journal's disk filling up while the
// writer runs. Each must be a clear error that says what to do, and lose or invent nothing.
//
// The full disk and the read-only folders are real file systems: small tmpfs mounts in a
// mount namespace of this test process's own (root only; the test skips, saying so,
// otherwise). They vanish with the process, whatever happens to it.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "evring/error.hpp"
#include "journal/journal.hpp"
#include "ring/broadcast_ring.hpp"
#include "shm/registry.hpp"
#include "shm/shared_segment.hpp"
#include "writer_process_support.hpp"

namespace evring::test {
namespace {

namespace fs = std::filesystem;

constexpr auto kToolTimeout = std::chrono::seconds(30);

class BadEnvironment : public ProcessTest {
 protected:
  BadEnvironment() : ProcessTest("bad-env") {}

  // A tmpfs of `size` (mount's size= syntax) at `path`, in a mount namespace this process
  // enters now, so nobody else sees it; unmounted at the end of the test. False (and the
  // reason in `why`) when that needs privileges this process has not.
  bool mount_private_tmpfs(const fs::path& path, const std::string& options, std::string& why) {
    if (::geteuid() != 0) {
      why = "needs root: mounts a small tmpfs in a private mount namespace";
      return false;
    }
    if (!in_private_namespace_) {
      if (::unshare(CLONE_NEWNS) != 0) {
        why = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
        return false;
      }
      // Mount events must not reach the namespace we came from.
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        why = std::string("making / private: ") + std::strerror(errno);
        return false;
      }
      in_private_namespace_ = true;
    }
    fs::create_directories(path);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      why = "mount tmpfs " + options + " on " + path.string() + ": " + std::strerror(errno);
      return false;
    }
    mounts_.push_back(path);
    return true;
  }

  void TearDown() override {
    // Before the fixture removes its folder: a mount point cannot be removed.
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  }

  // The instance left no segment behind (a refused start cleans up after itself).
  static bool no_segments(const std::string& instance) {
    for (const char* part : {"ring", "registry", "intake"}) {
      if (SharedSegment::open(segment_name(instance, part), Access::read_only)) return false;
    }
    return true;
  }

 private:
  bool in_private_namespace_ = false;
  std::vector<fs::path> mounts_;
};

TEST_F(BadEnvironment, RingSizeNotAPowerOfTwoOrTooSmallIsRefusedWithWhatToDo) {
  const std::string instance = unique_instance("ring-size");
  InstanceCleanup cleanup(instance);
  const ToolResult odd =
      run_tool("evring-writer",
               {"--name", instance, "--journal", (dir() / "j").string(), "--ring-bytes", "10000"},
               dir(), kToolTimeout);
  EXPECT_EQ(odd.exit_code, 2) << odd.err;
  EXPECT_TRUE(contains(odd.err, "not a power of two")) << odd.err;
  EXPECT_TRUE(contains(odd.err, "--ring-bytes")) << odd.err;

  // 4 KiB is a power of two, but the largest record (64 KiB of payload) must fit 4 times.
  const ToolResult small =
      run_tool("evring-writer",
               {"--name", instance, "--journal", (dir() / "j").string(), "--ring-bytes", "4K"},
               dir(), kToolTimeout);
  EXPECT_EQ(small.exit_code, 2) << small.err;
  EXPECT_TRUE(contains(small.err, "largest payload")) << small.err;
  // The real minimum with the default payload limit, and both ways out.
  EXPECT_TRUE(contains(small.err, "at least 524288")) << small.err;
  EXPECT_TRUE(contains(small.err, "try --ring-bytes 512K")) << small.err;
  EXPECT_TRUE(contains(small.err, "--max-payload")) << small.err;
  EXPECT_TRUE(no_segments(instance));
}

TEST_F(BadEnvironment, DevShmTooSmallForTheRingIsAnErrorAtStartNotASigbusLater) {
  struct statvfs shm {};
  ASSERT_EQ(::statvfs("/dev/shm", &shm), 0) << std::strerror(errno);
  const std::uint64_t shm_bytes = std::uint64_t{shm.f_blocks} * shm.f_frsize;
  // A power of two larger than all of /dev/shm: the writer's posix_fallocate must refuse
  // it whole, at once (tmpfs checks the size against its limit before allocating).
  std::uint64_t ring_bytes = 1;
  while (ring_bytes <= shm_bytes) ring_bytes <<= 1;
  const std::string instance = unique_instance("shm-small");
  InstanceCleanup cleanup(instance);
  const ToolResult result = run_tool("evring-writer",
                                     {"--name", instance, "--journal", (dir() / "j").string(),
                                      "--ring-bytes", std::to_string(ring_bytes)},
                                     dir(), kToolTimeout);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "/dev/shm/evring." + instance + ".ring")) << result.err;
  EXPECT_TRUE(contains(result.err, "No space left on device")) << result.err;
  EXPECT_TRUE(contains(result.err, "try a smaller --ring-bytes or remount /dev/shm bigger"))
      << result.err;
  EXPECT_TRUE(no_segments(instance));

  // Nothing was lost or left in the way: the same journal starts with a ring that fits.
  WriterProcess writer(instance, dir(), {"--ring-bytes", "1M"});
  Client client = connect_with_retry(instance, std::chrono::seconds(10));
  EXPECT_EQ(client.submit_text({"put", "k", "v"}).seq, 1u);
}

TEST_F(BadEnvironment, ARegistryFullOfReadersRefusesTheNextOneSayingHowToSeeThem) {
  const std::string instance = unique_instance("registry-full");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--ring-bytes", "1M"});
  // This process holds every slot: live readers, as far as the registry can tell.
  std::vector<RingReader> readers;
  for (std::size_t i = 0; i < kMaxReaders; ++i) {
    RingReaderOptions options;
    options.instance = instance;
    options.identity.id = "holder-" + std::to_string(i);
    readers.push_back(RingReader::attach(options));
  }
  const ToolResult late = run_tool("evring-reader",
                                   {"--name", instance, "--view", "kv", "--id", "late",
                                    "--checkpoint-dir", (dir() / "late").string()},
                                   dir(), kToolTimeout);
  EXPECT_EQ(late.exit_code, 2) << late.err;
  EXPECT_TRUE(contains(late.err, "all " + std::to_string(kMaxReaders) + " reader slots"))
      << late.err;
  EXPECT_TRUE(contains(late.err, "stop one (evring stat lists them)")) << late.err;

  // The writer did not notice: it still takes commands.
  Client client = connect_with_retry(instance, std::chrono::seconds(10));
  EXPECT_TRUE(client.submit_text({"put", "k", "v"}).accepted());
}

TEST_F(BadEnvironment, FoldersThatCannotBeWrittenAreNamedWithWhatToDo) {
  const fs::path read_only = dir() / "read-only";
  std::string why;
  if (!mount_private_tmpfs(read_only, "ro,size=1m", why)) GTEST_SKIP() << why;
  const std::string instance = unique_instance("ro-folder");
  InstanceCleanup cleanup(instance);

  const ToolResult journal =
      run_tool("evring-writer", {"--name", instance, "--journal", (read_only / "journal").string()},
               dir(), kToolTimeout);
  EXPECT_EQ(journal.exit_code, 2) << journal.err;
  EXPECT_TRUE(contains(journal.err, (read_only / "journal").string())) << journal.err;
  EXPECT_TRUE(contains(journal.err, "Read-only file system")) << journal.err;
  EXPECT_TRUE(contains(journal.err, "choose a writable --journal folder")) << journal.err;
  EXPECT_TRUE(no_segments(instance));

  const ToolResult socket = run_tool("evring-writer",
                                     {"--name", instance, "--journal", (dir() / "journal").string(),
                                      "--socket-path", (read_only / "w.sock").string()},
                                     dir(), kToolTimeout);
  EXPECT_EQ(socket.exit_code, 2) << socket.err;
  EXPECT_TRUE(contains(socket.err, (read_only / "w.sock").string())) << socket.err;
  EXPECT_TRUE(contains(socket.err, "Read-only file system (choose another --socket-path)"))
      << socket.err;
  EXPECT_TRUE(no_segments(instance));
}

// The journal's disk fills up while the writer runs: commands are refused with the reason
// (not lost, not half-applied), and accepted again, without a gap, once there is room;
// a restart rebuilds exactly the accepted events.
TEST_F(BadEnvironment, AFullJournalDiskRefusesCommandsUntilThereIsRoomAndLosesNothing) {
  const fs::path journal = dir() / "small" / "journal";
  std::string why;
  if (!mount_private_tmpfs(journal, "size=4m", why)) GTEST_SKIP() << why;
  const std::string instance = unique_instance("disk-full");
  InstanceCleanup cleanup(instance);
  // Small segments, so the writer grows and starts new ones (the only times it asks the
  // disk for room: a segment's blocks are reserved as it grows) every few hundred commands.
  WriterProcess writer(instance, dir() / "small",
                       {"--ring-bytes", "1M", "--journal-segment-bytes", "320K"});
  ASSERT_EQ(writer.journal(), journal);
  Client client = connect_with_retry(instance, std::chrono::seconds(10));

  // Fill the disk but for less than a segment.
  struct statvfs fs_info {};
  ASSERT_EQ(::statvfs(journal.c_str(), &fs_info), 0);
  const std::uint64_t free_bytes = std::uint64_t{fs_info.f_bavail} * fs_info.f_frsize;
  const fs::path filler = journal / "filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(64 << 10, 'f');
    for (std::uint64_t written = 0; written + block.size() + (100 << 10) < free_bytes;
         written += block.size()) {
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    ASSERT_TRUE(out.good());
  }

  const std::string value(900, 'v');
  std::uint64_t accepted = 0;
  CommandReply refused;
  for (int i = 0; i < 2000; ++i) {
    const CommandReply reply = client.submit_text({"put", "k" + std::to_string(i), value});
    if (!reply.accepted()) {
      refused = reply;
      break;
    }
    ASSERT_EQ(reply.seq, accepted + 1) << "accepted commands get consecutive seqs";
    accepted = reply.seq;
  }
  ASSERT_EQ(refused.status, ReplyStatus::rejected) << "the disk never filled";
  ASSERT_GT(accepted, 0u);
  EXPECT_EQ(refused.code, RejectCode::unavailable);
  EXPECT_TRUE(contains(refused.reason, "journal write failed, the command was not applied"))
      << refused.reason;
  EXPECT_TRUE(contains(refused.reason, "No space left on device")) << refused.reason;
  EXPECT_EQ(refused.seq, accepted) << "a refusal reports the head, which did not move";
  EXPECT_TRUE(contains(writer.log(), "cannot reserve space for " + journal.string()))
      << writer.log();
  EXPECT_TRUE(contains(writer.log(), "(free disk space, or choose another --journal folder)"))
      << writer.log();

  // Still full: a command that needs the new segment is still refused, and the refused
  // ones were not applied to the model.
  const CommandReply again = client.submit_text({"put", "lost", value});
  EXPECT_EQ(again.status, ReplyStatus::rejected);
  EXPECT_TRUE(contains(again.reason, "No space left on device")) << again.reason;

  // Room again: the sequence continues where it stopped.
  fs::remove(filler);
  const CommandReply after = client.submit_text({"cas", "lost", "0", "x"});
  ASSERT_TRUE(after.accepted()) << after.reason;
  EXPECT_EQ(after.seq, accepted + 1);
  const std::uint64_t head = after.seq;

  // The ring holds exactly the accepted events, in order.
  {
    RingReaderOptions options;
    options.instance = instance;
    options.start = RingStart::earliest;
    options.register_slot = false;
    RingReader reader = RingReader::attach(options);
    RecordBuffer buffer(reader.max_payload());
    std::uint64_t seen = 0;
    while (seen < head) {
      const PollResult result = reader.wait_next(buffer, WaitKind::yield, 2'000'000'000);
      ASSERT_EQ(result.status, PollStatus::record);
      ASSERT_EQ(buffer.seq(), seen + 1);
      seen = buffer.seq();
    }
    EXPECT_EQ(reader.poll(buffer).status, PollStatus::empty) << "nothing after the head";
  }

  // A restart rebuilds exactly the accepted events from the journal: no torn record, no gap.
  writer.kill9();
  {
    JournalReader reader = JournalReader::open(journal, 1);
    JournalRecord record;
    std::uint64_t last = 0;
    while (reader.next(record)) {
      ASSERT_EQ(record.seq, last + 1);
      last = record.seq;
    }
    EXPECT_EQ(last, head);
  }
  writer.restart();
  Client again_client = connect_with_retry(instance, std::chrono::seconds(10));
  const CommandReply cas_lost = again_client.submit_text({"cas", "lost", "1", "y"});
  EXPECT_TRUE(cas_lost.accepted()) << cas_lost.reason;
  EXPECT_EQ(cas_lost.seq, head + 1);
  EXPECT_TRUE(again_client.submit_text({"cas", "k0", "1", "z"}).accepted())
      << "the first accepted put survived";
}

}  // namespace
}  // namespace evring::test
