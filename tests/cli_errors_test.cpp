// What a user who mistypes meets: every bad invocation exits 2 with a message that starts
// with the program's name, and every flag a message names exists in the --help of the
// program it is named for (a remedy that names a missing flag leads nowhere). Numbers are
// refused, never wrapped; a start that fails leaves nothing behind. Real processes.
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "evring/builtin/bank_events.hpp"
#include "evring/client.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::InstanceCleanup;
using test::run_tool;
using test::ToolResult;
using test::unique_instance;
using test::WriterProcess;

class CliErrorsTest : public test::ProcessTest {
 protected:
  CliErrorsTest() : ProcessTest("cli-errors") {}

  // The --help text of "evring-writer", "evring-reader", "evring" or "evring <sub>".
  const std::string& help_of(const std::string& program) {
    auto found = helps_.find(program);
    if (found != helps_.end()) return found->second;
    std::vector<std::string> args;
    std::string binary = program;
    if (program.starts_with("evring ")) {
      binary = "evring";
      args.push_back(program.substr(7));
    }
    args.push_back("--help");
    const ToolResult result = run_tool(binary, args, dir());
    EXPECT_EQ(result.exit_code, 0) << program << " --help: " << result.err;
    return helps_[program] = result.out;
  }

  // Runs it, expects exit 2, a message naming the program, and every flag it names known.
  ToolResult expect_refused(const std::string& program, std::vector<std::string> args) {
    std::vector<std::string> run_args = args;
    std::string binary = program;
    if (program.starts_with("evring ")) {
      binary = "evring";
      run_args.insert(run_args.begin(), program.substr(7));
    }
    const ToolResult result = run_tool(binary, run_args, dir(), std::chrono::seconds(20));
    std::string shown = program;
    for (const std::string& arg : args) shown += " " + arg;
    EXPECT_EQ(result.exit_code, 2) << shown << ":\n" << result.err;
    EXPECT_TRUE(result.err.starts_with(program + ":") || result.err.starts_with(binary + ":"))
        << shown << " does not name itself:\n"
        << result.err;
    check_flags_exist(program, result.err, shown, args);
    return result;
  }

  void check_flags_exist(const std::string& program, const std::string& message,
                         const std::string& shown, const std::vector<std::string>& given) {
    static const std::regex kFlag(R"((^|[\s("'`])(--[a-z][a-z-]*))");
    static const std::regex kProgram(
        R"(evring-writer|evring-reader|evring (cmd|query|stat|tail|demo|ls|rm))");
    std::size_t line_start = 0;
    while (line_start < message.size()) {
      std::size_t line_end = message.find('\n', line_start);
      if (line_end == std::string::npos) line_end = message.size();
      const std::string line = message.substr(line_start, line_end - line_start);
      for (auto it = std::sregex_iterator(line.begin(), line.end(), kFlag);
           it != std::sregex_iterator(); ++it) {
        const std::string flag = (*it)[2].str();
        // The user's own words, quoted back (an unknown flag): not a remedy.
        if (std::find(given.begin(), given.end(), flag) != given.end()) continue;
        // The program the flag is named for: the last one named before it on the line,
        // else the one that printed the message.
        std::string owner = program;
        const std::string before = line.substr(0, static_cast<std::size_t>(it->position(2)));
        for (auto p = std::sregex_iterator(before.begin(), before.end(), kProgram);
             p != std::sregex_iterator(); ++p) {
          owner = p->str();
        }
        if (owner == "evring") continue;  // "evring --help" lists commands, not flags
        EXPECT_TRUE(contains(help_of(owner), flag))
            << shown << " names " << flag << " for " << owner << ", whose --help lacks it:\n"
            << message;
      }
      line_start = line_end + 1;
    }
  }

 private:
  std::map<std::string, std::string> helps_;
};

TEST_F(CliErrorsTest, NumbersAreRefusedNotWrappedAndSizesTakeEveryUnit) {
  const std::string instance = unique_instance("cli-numbers");
  InstanceCleanup cleanup(instance);
  const std::string journal = (dir() / "j").string();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--ring-bytes", "-1"},
           {"--ring-bytes", "1.5M"},
           {"--ring-bytes", "64Q"},
           {"--ring-bytes", "100K"},
           {"--ring-bytes", "4K"},
           {"--max-payload", "0"},
           {"--max-payload", "1G"},
           {"--snapshot-every", "-5"},
           {"--duplicate-window", "x"},
           {"--journal-segment-bytes", "1K"},
       }) {
    std::vector<std::string> full{"--name", instance, "--journal", journal};
    full.insert(full.end(), args.begin(), args.end());
    const ToolResult result = expect_refused("evring-writer", full);
    EXPECT_TRUE(contains(result.err, args[0])) << result.err;
  }
  EXPECT_TRUE(contains(expect_refused("evring-writer", {"--ring-bytes", "1.5M"}).err,
                       "fractions are not accepted"));
  EXPECT_TRUE(contains(expect_refused("evring-writer", {"--ring-bytes", "100K"}).err, "524288"));
  EXPECT_FALSE(fs::exists(journal)) << "a refused start made its journal";

  // Every unit, in either case, makes a working ring.
  for (const char* size : {"1m", "1M", "1MiB", "1mib", "1024k", "1024KiB"}) {
    WriterProcess writer(instance, dir(), {"--domain", "kv", "--ring-bytes", size});
    EXPECT_EQ(writer.stop(), 0) << size << ": " << writer.log();
  }

  expect_refused("evring-reader", {"--name", instance, "--checkpoint-seconds", "-1"});
  expect_refused("evring-reader", {"--name", instance, "--checkpoint-every", "-5"});
  const ToolResult hours = expect_refused(
      "evring query", {"--name", instance, "--reader", "r", "--timeout", "5x", "count"});
  EXPECT_TRUE(contains(hours.err, "unknown unit \"x\"")) << hours.err;
  expect_refused("evring query", {"--name", instance, "--reader", "r", "--after", "-1", "count"});
  expect_refused("evring tail", {"--name", instance, "--from", "0"});
  expect_refused("evring tail", {"--name", instance, "--count", "0"});
  expect_refused("evring cmd", {"--name", instance, "--timeout", "-1s", "put", "a", "1"});
}

TEST_F(CliErrorsTest, EveryRemedyNamesAFlagThatExists) {
  const std::string instance = unique_instance("cli-remedies");
  InstanceCleanup cleanup(instance);
  expect_refused("evring", {});
  expect_refused("evring cmd", {"--name", instance});
  expect_refused("evring cmd", {"--name", instance, "put", "a", "1"});  // no writer
  expect_refused("evring query", {"--name", instance, "count"});        // no --reader
  expect_refused("evring query", {"--name", instance, "--reader", "nobody", "count"});
  expect_refused("evring-writer", {"--name", instance, "--bogus"});
  expect_refused("evring-writer", {"--name", instance, "--domain", "inventory"});
  expect_refused("evring-writer", {"--name", instance, "--no-journal", "--durability", "sync"});
  expect_refused("evring-reader", {"--name", instance, "--from", "yesterday"});
  expect_refused("evring-reader", {"--name", instance, "--wait", "fast"});
  expect_refused("evring-reader", {"--name", instance, "--view", "histogram"});
  expect_refused("evring-reader", {"--name", instance, "--on-error", "retry"});
  expect_refused("evring-reader", {"--name", instance, "--journal", "/no/such/folder"});

  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  // The instance exists; the reader does not: said so, not "no such instance".
  const ToolResult no_reader =
      expect_refused("evring query", {"--name", instance, "--reader", "nobody", "count"});
  EXPECT_TRUE(contains(no_reader.err, "no such reader")) << no_reader.err;
  EXPECT_FALSE(contains(no_reader.err, "no such instance")) << no_reader.err;
  // A plugin named as a file of the current folder is that file (dlopen alone would look
  // in the library path): this one is found, and refused for its ABI.
  const ToolResult here =
      run_tool("/bin/sh",
               {"-c", std::string("cd ") + EVRING_PLUGIN_DIR + " && exec " +
                          test::binary_path("evring-reader").string() + " --name " + instance +
                          " --view libwrong_abi_view.so"},
               dir(), std::chrono::seconds(20));
  EXPECT_EQ(here.exit_code, 2) << here.err;
  EXPECT_TRUE(contains(here.err, "view ABI version 77")) << here.err;
  // A second writer of the instance: refused before it makes anything.
  const fs::path other_journal = dir() / "second";
  const ToolResult second = expect_refused("evring-writer", {"--name", instance, "--domain", "bank",
                                                             "--journal", other_journal.string()});
  EXPECT_TRUE(contains(second.err, "already has a writer")) << second.err;
  EXPECT_FALSE(fs::exists(other_journal));
  // Another instance on this one's journal: the lock names the holder.
  const std::string other = unique_instance("cli-remedies-other");
  InstanceCleanup other_cleanup(other);
  const ToolResult locked =
      expect_refused("evring-writer",
                     {"--name", other, "--domain", "bank", "--journal", writer.journal().string()});
  EXPECT_TRUE(contains(locked.err, "in use by another evring-writer")) << locked.err;
  // Another domain than the journal holds.
  writer.stop();
  const ToolResult domain = expect_refused(
      "evring-writer",
      {"--name", instance, "--domain", "kv", "--journal", writer.journal().string()});
  EXPECT_TRUE(contains(domain.err, "--domain bank")) << domain.err;
}

TEST_F(CliErrorsTest, AStartThatFailsLeavesNothingBehind) {
  const std::string instance = unique_instance("cli-leftovers");
  InstanceCleanup cleanup(instance);
  // A socket path too long for a Unix socket fails the start after the journal was made.
  const std::string long_socket = (dir() / std::string(150, 's')).string() + ".sock";
  const fs::path journal = dir() / "fresh" / "journal";
  expect_refused("evring-writer", {"--name", instance, "--domain", "kv", "--journal",
                                   journal.string(), "--socket-path", long_socket});
  EXPECT_FALSE(fs::exists(dir() / "fresh")) << "the failed start left its journal folder";

  // The default folder (XDG_STATE_HOME is the test's state folder).
  expect_refused("evring-writer",
                 {"--name", instance, "--domain", "kv", "--socket-path", long_socket});
  EXPECT_FALSE(fs::exists(dir() / "state" / "evring" / instance))
      << "the failed start left the instance's state folder";

  // A journal that exists keeps what it had, and only that.
  {
    WriterProcess writer(instance, dir(), {"--domain", "kv"});
    writer.stop();
  }
  std::vector<std::string> before;
  for (const auto& entry : fs::directory_iterator(dir() / "journal")) {
    before.push_back(entry.path().filename().string());
  }
  expect_refused("evring-writer", {"--name", instance, "--domain", "kv", "--journal",
                                   (dir() / "journal").string(), "--socket-path", long_socket});
  std::vector<std::string> after;
  for (const auto& entry : fs::directory_iterator(dir() / "journal")) {
    after.push_back(entry.path().filename().string());
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(before, after);
}

TEST_F(CliErrorsTest, AQueryPastTheHeadSaysSoAndCtrlCEndsItsWait) {
  const std::string instance = unique_instance("cli-after");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "kv"});
  test::ReaderProcess reader(instance, "kv-a", dir(), {"--view", "kv"});
  const ToolResult ahead = run_tool("evring",
                                    {"query", "--name", instance, "--reader", "kv-a", "--after",
                                     "99", "--timeout", "100ms", "count"},
                                    dir());
  EXPECT_EQ(ahead.exit_code, 4) << ahead.err;
  EXPECT_TRUE(contains(ahead.err, "seq 99 has not been written yet (the head of instance"))
      << ahead.err;

  // Ctrl-C during the wait ends it as SIGINT ends a command, not as a timeout.
  test::ServiceProcess waiting("evring", dir(), "query",
                               {"query", "--name", instance, "--reader", "kv-a", "--after", "99",
                                "--timeout", "60s", "count"},
                               [](pid_t) { return true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // into its wait
  waiting.signal(SIGINT);
  std::optional<int> status;
  ASSERT_TRUE(test::wait_until([&] { return (status = waiting.poll_exit()).has_value(); },
                               std::chrono::seconds(10)));
  EXPECT_TRUE((WIFSIGNALED(*status) && WTERMSIG(*status) == SIGINT) ||
              (WIFEXITED(*status) && WEXITSTATUS(*status) == 130))
      << "status " << *status;
  EXPECT_FALSE(contains(test::read_file(dir() / "query.out"), "stale"));
}

// A key that is not UTF-8 could be neither queried back (JSON turns it into U+FFFD) nor
// told apart from another in top and tail: refused where it comes in, by text or bytes.
TEST_F(CliErrorsTest, WordsThatAreNotUtf8AreRefusedWhereTheyComeIn) {
  const std::string instance = unique_instance("cli-utf8");
  InstanceCleanup cleanup(instance);
  WriterProcess writer(instance, dir(), {"--domain", "bank"});
  test::ReaderProcess reader(instance, "bank-u", dir(), {"--view", "bank"});
  const ToolResult opened = expect_refused("evring cmd", {"--name", instance, "open", "\xff\xfe"});
  EXPECT_TRUE(contains(opened.err, "not UTF-8 text (byte 0xff at offset 0)")) << opened.err;
  const ToolResult queried =
      expect_refused("evring query", {"--name", instance, "--reader", "bank-u", "balance", "\xff"});
  EXPECT_TRUE(contains(queried.err, "not UTF-8")) << queried.err;
  // Bytes that are UTF-8 go through and come back as they were.
  const ToolResult good =
      run_tool("evring", {"cmd", "--name", instance, "open", "caf\xc3\xa9"}, dir());
  EXPECT_EQ(good.exit_code, 0) << good.err;
  const ToolResult back = run_tool(
      "evring",
      {"query", "--name", instance, "--reader", "bank-u", "--after", "1", "balance", "caf\xc3\xa9"},
      dir());
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_TRUE(contains(back.out, "\"account\":\"caf\xc3\xa9\"")) << back.out;
  // The binary form is checked by the domain too: a client that encodes its own command.
  Client client = Client::connect(instance);
  const std::vector<std::byte> raw = bank::encode(bank::OpenCommand{"\xc0\xaf"});
  const CommandReply reply = client.submit(raw);
  EXPECT_FALSE(reply.accepted());
  EXPECT_TRUE(contains(reply.reason, "not UTF-8")) << reply.reason;
}

}  // namespace
}  // namespace evring
