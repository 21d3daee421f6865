// Who may use an instance: its writer's user only, by default; a group when the writer
// grants one. A second user, created for the test (and removed after), can neither attach
// a reader nor submit a command to an instance that grants it nothing, and is told why
// (exit 2); with --group its reader attaches and reads, but its commands are still refused;
// with --group-submit they are taken. Needs root (useradd, setpriv): skipped otherwise.
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"
#include "shm/shared_segment.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::InstanceCleanup;
using test::ToolResult;
using test::unique_instance;
using test::WriterProcess;

constexpr const char* kSetpriv = "/usr/bin/setpriv";

int run_quietly(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

// A user with a group of its own and membership in a second group (the one a writer may
// grant), both with names no other test uses; deleted with its groups at scope exit.
class SecondUser {
 public:
  SecondUser() {
    static std::atomic<int> counter{0};
    const std::string suffix = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    name_ = "evrt-u" + suffix;
    group_ = "evrt-g" + suffix;
    created_group_ = run_quietly("groupadd " + group_) == 0;
    created_user_ = created_group_ && run_quietly("useradd -M -U -s /usr/sbin/nologin -G " +
                                                  group_ + " " + name_) == 0;
  }
  ~SecondUser() {
    if (created_user_) run_quietly("userdel " + name_);  // and its own group
    if (created_group_) run_quietly("groupdel " + group_);
  }
  SecondUser(const SecondUser&) = delete;
  SecondUser& operator=(const SecondUser&) = delete;

  bool created() const { return created_user_; }
  const std::string& name() const { return name_; }
  const std::string& group() const { return group_; }  // the one to grant
  uid_t uid() const { return ::getpwnam(name_.c_str())->pw_uid; }
  gid_t gid() const { return ::getgrnam(group_.c_str())->gr_gid; }
  // setpriv's arguments that run the rest as this user, with its groups.
  std::vector<std::string> as_user(const std::string& binary) const {
    return {"--reuid", name_, "--regid", name_, "--init-groups", test::binary_path(binary)};
  }

 private:
  std::string name_;
  std::string group_;
  bool created_group_ = false;
  bool created_user_ = false;
};

mode_t mode_of(const fs::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_mode & 07777 : 0;
}

gid_t group_of(const fs::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? info.st_gid : static_cast<gid_t>(-1);
}

fs::path segment_path(const std::string& instance, const std::string& part) {
  return fs::path("/dev/shm") / segment_name(instance, part);
}

class AccessTest : public test::ProcessTest {
 protected:
  AccessTest() : ProcessTest("access") {}

  void SetUp() override {
    ProcessTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a second user and run as it";
    if (!fs::exists(kSetpriv)) GTEST_SKIP() << kSetpriv << " (util-linux) is missing";
    ASSERT_TRUE(user_.created()) << "groupadd/useradd failed";
    // The other user traverses the test's folder to the journal; its reader's sockets and
    // checkpoints go in folders of its own.
    fs::permissions(dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    for (const fs::path& own : {dir() / "evring", dir() / "other"}) {
      fs::create_directories(own);
      ASSERT_EQ(::chown(own.c_str(), user_.uid(), static_cast<gid_t>(-1)), 0);
    }
    const ToolResult help =
        test::run_tool(kSetpriv, args_as_user("evring-reader", {"--help"}), dir());
    if (help.exit_code != 0) {
      GTEST_SKIP() << "the build folder is not reachable by another user: " << help.err;
    }
  }

  std::vector<std::string> args_as_user(const std::string& binary,
                                        const std::vector<std::string>& args) const {
    std::vector<std::string> all = user_.as_user(binary);
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }

  ToolResult reader_as_user(const std::string& instance) {
    // --from start ends at the head only when stopped: a timeout is its run, an early
    // exit 2 its refusal.
    return test::run_tool(
        kSetpriv,
        args_as_user("evring-reader", {"--name", instance, "--view", "bank", "--id", "other",
                                       "--checkpoint-dir", (dir() / "other").string()}),
        dir(), std::chrono::seconds(3));
  }

  ToolResult cmd_as_user(const std::string& instance) {
    return test::run_tool(
        kSetpriv, args_as_user("evring", {"cmd", "--name", instance, "deposit", "alice", "5"}),
        dir());
  }

  SecondUser user_;
};

TEST_F(AccessTest, OwnerOnlyByDefaultAndTheOtherUserIsToldWhy) {
  const std::string instance = unique_instance("access-owner");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank", "--quiet"});
  for (const char* part : {"ring", "registry", "intake"}) {
    EXPECT_EQ(mode_of(segment_path(instance, part)), 0600u) << part;
  }
  EXPECT_EQ(mode_of(writer.journal()), 0700u);
  for (const auto& entry : fs::directory_iterator(writer.journal())) {
    if (entry.is_regular_file()) {
      EXPECT_EQ(mode_of(entry.path()), 0600u) << entry.path();
    }
  }

  const ToolResult reader = reader_as_user(instance);
  EXPECT_EQ(reader.exit_code, 2) << reader.err;
  EXPECT_TRUE(contains(reader.err, "cannot open instance \"" + instance +
                                       "\": permission denied (its writer runs as user root "
                                       "with owner-only access; ask it to start with --group"))
      << reader.err;
  const ToolResult cmd = cmd_as_user(instance);
  EXPECT_EQ(cmd.exit_code, 2) << cmd.err;
  EXPECT_TRUE(contains(cmd.err, "cannot submit commands to instance \"" + instance +
                                    "\": permission denied (its writer runs as user root with "
                                    "owner-only access"))
      << cmd.err;
}

TEST_F(AccessTest, AGrantedGroupReadsButSubmitsNothing) {
  const std::string instance = unique_instance("access-group");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank", "--quiet", "--group", user_.group()});
  EXPECT_EQ(mode_of(segment_path(instance, "ring")), 0640u);
  EXPECT_EQ(group_of(segment_path(instance, "ring")), user_.gid());
  EXPECT_EQ(mode_of(segment_path(instance, "registry")), 0660u) << "readers claim slots";
  EXPECT_EQ(mode_of(segment_path(instance, "intake")), 0600u);
  EXPECT_EQ(mode_of(writer.journal()), 0750u);
  EXPECT_EQ(group_of(writer.journal()), user_.gid());
  Client owner = Client::connect(instance);
  ASSERT_TRUE(owner.submit_text({"open", "alice"}).accepted());
  const CommandReply deposit = owner.submit_text({"deposit", "alice", "7"});
  ASSERT_TRUE(deposit.accepted());

  // The other user's reader attaches, catches up from the journal and answers.
  test::ServiceProcess reader(
      kSetpriv, dir(), "reader-other",
      args_as_user("evring-reader", {"--name", instance, "--view", "bank", "--id", "other",
                                     "--checkpoint-dir", (dir() / "other").string()}),
      [&](pid_t) {
        try {
          QueryClient::connect(instance, "other").query({"total"});
          return true;
        } catch (const Error&) {
          return false;
        }
      });
  const QueryReply balance =
      QueryClient::connect(instance, "other").query({"balance", "alice"}, deposit.seq);
  ASSERT_TRUE(balance.result) << balance.raw;
  EXPECT_TRUE(contains(*balance.result, "\"balance\":7")) << balance.raw;

  const ToolResult cmd = cmd_as_user(instance);
  EXPECT_EQ(cmd.exit_code, 2) << cmd.err;
  EXPECT_TRUE(contains(cmd.err, "lets group " + user_.group() +
                                    " read but not submit commands; ask it to start with --group " +
                                    user_.group() + " --group-submit"))
      << cmd.err;
  EXPECT_EQ(reader.stop(), 0) << reader.log();
}

TEST_F(AccessTest, AGroupGrantedSubmissionSubmits) {
  const std::string instance = unique_instance("access-submit");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(),
                       {"--domain", "bank", "--quiet", "--group", user_.group(), "--group-submit"});
  EXPECT_EQ(mode_of(segment_path(instance, "intake")), 0660u);
  EXPECT_EQ(group_of(segment_path(instance, "intake")), user_.gid());
  ASSERT_TRUE(Client::connect(instance).submit_text({"open", "alice"}).accepted());
  const ToolResult cmd = cmd_as_user(instance);
  EXPECT_EQ(cmd.exit_code, 0) << cmd.err;
  EXPECT_EQ(cmd.out, "seq=2\n");
}

TEST(WriterGroupOption, AnUnknownGroupIsRefusedWithItsName) {
  const test::TempDir dir("access-unknown");
  const ToolResult writer = test::run_tool("evring-writer",
                                           {"--name", unique_instance("access-unknown"),
                                            "--no-journal", "--group", "no-such-group-evring"},
                                           dir.path());
  EXPECT_EQ(writer.exit_code, 2);
  EXPECT_TRUE(contains(writer.err, "--group no-such-group-evring: there is no such group"))
      << writer.err;
}

}  // namespace
}  // namespace evring
