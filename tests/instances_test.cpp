// evring ls and evring rm as a user runs them, with real writers and readers: ls tells
// live, stopped and on-disk instances apart; rm removes all of a stopped instance's state
// and refuses while its writer or a reader runs, or without --yes and a terminal.
#include <signal.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;

class InstancesTest : public test::ProcessTest {
 protected:
  InstancesTest() : ProcessTest("instances") {}

  test::ToolResult evring(const std::vector<std::string>& args) const {
    return test::run_tool("evring", args, dir());
  }
  // The instance's folder under the data folder (ProcessTest's XDG_STATE_HOME).
  fs::path data_folder(const std::string& instance) const {
    return dir() / "state" / "evring" / instance;
  }
  // evring-writer (kv) with its journal in the default place.
  std::unique_ptr<test::WriterProcess> writer(const std::string& instance,
                                              std::vector<std::string> extra = {}) const {
    extra.insert(extra.end(),
                 {"--domain", "kv", "--journal", (data_folder(instance) / "journal").string()});
    return std::make_unique<test::WriterProcess>(instance, dir(), extra);
  }
};

// The line of `instance` in evring ls's output, as its words.
std::vector<std::string> ls_row(const std::string& ls, const std::string& instance) {
  std::istringstream in(ls);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(instance + " ")) continue;
    // "on disk" is one state of two words.
    line = std::regex_replace(line, std::regex("on disk"), "on-disk");
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string word; words >> word;) row.push_back(word);
    return row;
  }
  return {};
}

void put(const std::string& instance, int count) {
  Client client = Client::connect(instance);
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(client.submit_text({"put", "k" + std::to_string(i), "v"}).accepted());
  }
}

std::vector<std::string> segments_of(const std::string& instance) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/dev/shm")) {
    if (entry.path().filename().string().starts_with("evring." + instance + ".")) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

TEST_F(InstancesTest, LsShowsLiveStoppedAndOnDiskInstances) {
  const std::string live = test::unique_instance("ls-live");
  const std::string stopped = test::unique_instance("ls-stopped");
  const std::string on_disk = test::unique_instance("ls-disk");
  test::InstanceCleanup cleanups[] = {test::InstanceCleanup(live), test::InstanceCleanup(stopped),
                                      test::InstanceCleanup(on_disk)};
  auto live_writer = writer(live);
  test::ReaderProcess reader(live, "kv-ls", dir(), {"--view", "kv", "--wait", "block"});
  put(live, 2);
  auto stopped_writer = writer(stopped);
  put(stopped, 2);
  stopped_writer->kill9();  // its segments stay
  auto on_disk_writer = writer(on_disk);
  put(on_disk, 2);
  ASSERT_EQ(on_disk_writer->stop(), 0);  // a clean stop removes its segments
  ASSERT_TRUE(segments_of(on_disk).empty());

  const test::ToolResult ls = evring({"ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(contains(ls.out, "NAME")) << ls.out;
  const std::vector<std::string> live_row = ls_row(ls.out, live);
  const std::vector<std::string> stopped_row = ls_row(ls.out, stopped);
  const std::vector<std::string> disk_row = ls_row(ls.out, on_disk);
  ASSERT_EQ(live_row.size(), 6u) << ls.out;  // name, state, domain, size and unit, readers
  ASSERT_EQ(stopped_row.size(), 6u) << ls.out;
  ASSERT_EQ(disk_row.size(), 6u) << ls.out;
  EXPECT_EQ(live_row[1], "live");
  EXPECT_EQ(stopped_row[1], "stopped");
  EXPECT_EQ(disk_row[1], "on-disk");
  for (const auto* row : {&live_row, &stopped_row, &disk_row}) {
    EXPECT_EQ((*row)[2], "kv") << ls.out;
    EXPECT_EQ((*row)[4], "KiB") << "a small journal: " << ls.out;
  }
  EXPECT_EQ(live_row[5], "1") << "its reader: " << ls.out;
  EXPECT_EQ(stopped_row[5], "0") << ls.out;
  EXPECT_EQ(disk_row[5], "0") << ls.out;
}

TEST_F(InstancesTest, RmRefusesWhileAWriterOrAReaderRunsThenRemovesEverything) {
  const std::string name = test::unique_instance("rm");
  test::InstanceCleanup cleanup(name);
  auto running = writer(name, {"--socket"});
  // Its checkpoints where a reader keeps them by default: <data folder>/<name>/readers/<id>.
  fs::create_directories(data_folder(name) / "readers");
  auto reader = std::make_unique<test::ReaderProcess>(
      name, "kv-rm", data_folder(name) / "readers",
      std::vector<std::string>{"--view", "kv", "--wait", "block"});
  put(name, 2);

  test::ToolResult rm = evring({"rm", "--name", name, "--yes"});
  EXPECT_EQ(rm.exit_code, 2) << rm.out << rm.err;
  EXPECT_TRUE(contains(rm.err, "running writer (pid " + std::to_string(running->pid()) + ")"))
      << rm.err;

  running->kill9();  // its segments stay, and the reader waits for the next writer
  ASSERT_FALSE(segments_of(name).empty());
  rm = evring({"rm", "--name", name, "--yes"});
  EXPECT_EQ(rm.exit_code, 2) << rm.out << rm.err;
  EXPECT_TRUE(contains(rm.err, "running readers (pid " + std::to_string(reader->pid()) + ")"))
      << rm.err;

  ASSERT_EQ(reader->stop(), 0);  // writes its checkpoint
  ASSERT_TRUE(fs::exists(data_folder(name) / "readers" / "kv-rm"));
  rm = evring({"rm", "--name", name});
  EXPECT_EQ(rm.exit_code, 2) << "no terminal to ask on: " << rm.out << rm.err;
  EXPECT_TRUE(contains(rm.err, "--yes")) << rm.err;
  EXPECT_TRUE(fs::exists(data_folder(name) / "journal")) << "nothing removed";

  rm = evring({"rm", "--name", name, "--yes"});
  ASSERT_EQ(rm.exit_code, 0) << rm.out << rm.err;
  EXPECT_TRUE(contains(rm.out, data_folder(name).string()))
      << "it says what it removes: " << rm.out;
  EXPECT_TRUE(contains(rm.out, "/dev/shm/evring." + name + ".ring")) << rm.out;
  EXPECT_TRUE(segments_of(name).empty());
  EXPECT_FALSE(fs::exists(data_folder(name)));
  EXPECT_FALSE(fs::exists(dir() / "evring" / (name + ".sock"))) << "the writer's socket";
  EXPECT_FALSE(fs::exists(dir() / "evring" / (name + ".kv-rm.sock"))) << "the reader's";
  const test::ToolResult ls = evring({"ls"});
  EXPECT_TRUE(ls_row(ls.out, name).empty()) << ls.out;

  rm = evring({"rm", "--name", name, "--yes"});
  EXPECT_EQ(rm.exit_code, 2) << "nothing left: " << rm.out;
  EXPECT_TRUE(contains(rm.err, "no instance \"" + name + "\"")) << rm.err;
}

}  // namespace
}  // namespace evring
