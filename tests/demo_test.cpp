// `evring demo` as a user runs it: the whole tour ends well and leaves nothing behind, and
// a Ctrl-C in the middle of it stops everything promptly and leaves nothing behind either.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "evring/clock.hpp"
#include "harness/exec_process.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::InstanceCleanup;
using test::read_file;
using test::run_tool;
using test::unique_instance;

// What the demo may leave behind: the instance's segments and anything in its --dir.
std::vector<std::string> leftovers(const std::string& instance, const fs::path& demo_dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/dev/shm")) {
    if (entry.path().filename().string().rfind("evring." + instance + ".", 0) == 0) {
      found.push_back(entry.path().string());
    }
  }
  for (const auto& entry : fs::directory_iterator(demo_dir)) found.push_back(entry.path().string());
  return found;
}

// The pids the demo printed for its writer and readers ("pid 1234").
std::vector<pid_t> printed_pids(const std::string& output) {
  std::vector<pid_t> pids;
  const std::regex pid_word(R"(pid (\d+))");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), pid_word);
       it != std::sregex_iterator(); ++it) {
    pids.push_back(static_cast<pid_t>(std::stol((*it)[1].str())));
  }
  return pids;
}

// ProcessTest's folders, and one for the demo's --dir.
class DemoTest : public test::ProcessTest {
 protected:
  DemoTest() : ProcessTest("demo") {}
  void SetUp() override {
    ProcessTest::SetUp();
    fs::create_directories(demo_dir());
  }
  fs::path demo_dir() const { return dir() / "demo"; }
};

TEST_F(DemoTest, RunsTheTourAndLeavesNothingBehind) {
  const std::string instance = unique_instance("demo");
  InstanceCleanup cleanup(instance);
  const test::ToolResult run = run_tool("evring",
                                        {"demo", "--name", instance, "--commands", "20000",
                                         "--latency-samples", "500", "--dir", demo_dir().string()},
                                        dir(), std::chrono::seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(contains(run.out, ": the invariant holds")) << run.out;

  // The stat table: one row per reader, between its heading and the latency table.
  const std::size_t stat = run.out.find("evring stat --name " + instance);
  const std::size_t latency = run.out.find("latency in microseconds");
  ASSERT_NE(stat, std::string::npos) << run.out;
  ASSERT_NE(latency, std::string::npos) << run.out;
  const std::string table = run.out.substr(stat, latency - stat);
  EXPECT_TRUE(contains(table, "writer   pid")) << table;
  const std::regex reader_row(R"(\n[ *]\s+(bank|stats|tail)-1\s+\w+\s+\d+\s+alive\s)");
  EXPECT_EQ(std::distance(std::sregex_iterator(table.begin(), table.end(), reader_row),
                          std::sregex_iterator()),
            3)
      << table;

  for (const char* row : {"command round trip", "command to visible in the view",
                          "writer to reader (publish->seen)"}) {
    EXPECT_TRUE(contains(run.out.substr(latency), row)) << row << "\n" << run.out;
  }
  EXPECT_EQ(leftovers(instance, demo_dir()), std::vector<std::string>{});
  for (const pid_t pid : printed_pids(run.out)) {
    EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " still runs";
  }
}

// The words of a suggested command line, without its trailing "# comment".
std::vector<std::string> command_words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line.substr(0, line.find('#')));
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The command lines --keep suggests: the lines between "Try:" and "To stop it:".
std::vector<std::vector<std::string>> suggested_commands(const std::string& output) {
  const std::size_t from = output.find("Try:\n");
  const std::size_t to = output.find("To stop it:");
  std::vector<std::vector<std::string>> commands;
  if (from == std::string::npos || to == std::string::npos) return commands;
  std::istringstream in(output.substr(from + 5, to - from - 5));
  for (std::string line; std::getline(in, line);) commands.push_back(command_words(line));
  return commands;
}

// Runs a command that goes on until Ctrl-C for `run_for`, then stops it; what it printed.
std::string run_for_a_while(std::vector<std::string> words, const fs::path& scratch,
                            std::chrono::milliseconds run_for) {
  if (words.front() == "tail") words.front() = "/usr/bin/tail";
  const std::string binary = words.front();
  words.erase(words.begin());
  const test::ToolResult run = run_tool(binary, words, scratch, run_for);
  EXPECT_EQ(run.exit_code, -1) << binary << " ended by itself: " << run.err;
  return run.out;
}

TEST_F(DemoTest, KeepSuggestsCommandsThatWorkAsPrinted) {
  const std::string instance = unique_instance("demo-keep");
  InstanceCleanup cleanup(instance);
  const test::ToolResult run =
      run_tool("evring",
               {"demo", "--name", instance, "--commands", "2000", "--latency-samples", "50",
                "--accounts", "10", "--dir", demo_dir().string(), "--keep"},
               dir(), std::chrono::seconds(120));
  // Stops the kept writer and readers (SIGTERM: a clean stop) on every way out of the test,
  // also when the line naming them is not what the test expects.
  struct StopKept {
    std::vector<pid_t> pids;
    ~StopKept() {
      for (auto it = pids.rbegin(); it != pids.rend(); ++it) ::kill(*it, SIGTERM);
      // Not our children (the demo started them), so they may linger as zombies until
      // their new parent reaps them: those have stopped too.
      const auto stopped = [](pid_t pid) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const std::size_t paren = text.rfind(')');
        return text.empty() ||
               (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z');
      };
      test::wait_until([&] { return std::all_of(pids.begin(), pids.end(), stopped); },
                       std::chrono::seconds(20));
    }
  } stop_kept;
  // "To stop it: kill PID PID PID PID"
  if (const std::size_t at = run.out.find("To stop it: kill"); at != std::string::npos) {
    std::istringstream stop_line(run.out.substr(at + 16));
    for (pid_t pid = 0; stop_kept.pids.size() < 4 && stop_line >> pid;) {
      stop_kept.pids.push_back(pid);
    }
  }
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::vector<pid_t>& kept = stop_kept.pids;
  ASSERT_EQ(kept.size(), 4u) << run.out;

  const std::vector<std::vector<std::string>> commands = suggested_commands(run.out);
  ASSERT_EQ(commands.size(), 6u) << run.out;
  std::string deposit_seq;
  for (const std::vector<std::string>& words : commands) {
    ASSERT_GE(words.size(), 2u) << run.out;
    const std::string what = words.front() == "tail" ? "tail -f" : words[1];
    SCOPED_TRACE(what);
    if (what == "cmd" || what == "query") {
      const test::ToolResult result =
          run_tool(words.front(), std::vector<std::string>(words.begin() + 1, words.end()), dir());
      EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
      if (what == "cmd") {
        ASSERT_TRUE(result.out.starts_with("seq=")) << result.out;
        deposit_seq = result.out.substr(4, result.out.find('\n') - 4);
      } else {
        EXPECT_TRUE(contains(result.out, "\"result\"")) << result.out;
      }
    } else if (what == "stat") {
      const std::string out = run_for_a_while(words, dir(), std::chrono::milliseconds(1500));
      EXPECT_TRUE(contains(out, "bank-1")) << out;
    } else if (what == "tail") {  // evring tail: the deposit above among the last events
      const std::string out = run_for_a_while(words, dir(), std::chrono::milliseconds(1500));
      EXPECT_TRUE(contains(out, "seq=" + deposit_seq + " ")) << out;
    } else {  // tail -f of the tail view's file: the deposit's line is there already
      ASSERT_FALSE(deposit_seq.empty());
      const std::string out = run_for_a_while(words, dir(), std::chrono::milliseconds(1500));
      EXPECT_TRUE(contains(out, "\"seq\":" + deposit_seq + ",")) << out;
    }
  }
}

TEST_F(DemoTest, CtrlCMidRunStopsEverythingPromptlyAndLeavesNothingBehind) {
  const std::string instance = unique_instance("demo-int");
  InstanceCleanup cleanup(instance);
  const fs::path log = dir() / "demo.log";
  harness::ExecLaunch launch;
  launch.binary = test::binary_path("evring");
  launch.args = {"demo",     "--name", instance,           "--commands",
                 "50000000", "--dir",  demo_dir().string()};
  launch.log_file = log;
  harness::ExecProcess demo(launch);

  // Not a terminal: a progress line a second, the first as the workload starts.
  const std::int64_t deadline = monotonic_ns() + 60'000'000'000;
  for (;;) {
    ASSERT_FALSE(demo.process().poll_exit().has_value()) << read_file(log);
    const std::string text = read_file(log);
    const std::regex progress("commands/s");
    if (std::distance(std::sregex_iterator(text.begin(), text.end(), progress),
                      std::sregex_iterator()) >= 2) {
      break;
    }
    ASSERT_LT(monotonic_ns(), deadline) << "no progress in 60 s:\n" << text;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const std::int64_t interrupted_at = monotonic_ns();
  demo.process().signal(SIGINT);
  const int status = demo.process().wait_for_exit(std::chrono::seconds(30));
  const double seconds = static_cast<double>(monotonic_ns() - interrupted_at) / 1e9;
  const std::string text = read_file(log);
  ASSERT_NE(status, harness::ChildProcess::kStillRunning) << text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status << "\n" << text;
  EXPECT_LT(seconds, 10.0) << text;
  EXPECT_TRUE(contains(text, "interrupted")) << text;
  EXPECT_EQ(leftovers(instance, demo_dir()), std::vector<std::string>{});
  const std::vector<pid_t> pids = printed_pids(text);
  EXPECT_EQ(pids.size(), 4u) << text;
  for (const pid_t pid : pids) EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " still runs";
}

}  // namespace
}  // namespace evring
