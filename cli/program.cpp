#include "cli/program.hpp"

#include <csignal>
#include <cstdio>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "evring/error.hpp"

namespace evring::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  // relaxed: a lone flag; the program's loop polls it, and the signal cuts its wait short.
  g_stop.store(true, std::memory_order_relaxed);
}

// The first example line of a footer that starts its examples with "Examples:".
std::string first_example(const CLI::App& app) {
  const std::string footer = app.get_footer();
  const std::size_t examples = footer.find("Examples:");
  if (examples == std::string::npos) return {};
  std::size_t line = footer.find('\n', examples);
  while (line != std::string::npos) {
    const std::size_t start = line + 1;
    const std::size_t end = footer.find('\n', start);
    std::string_view text(footer.data() + start,
                          (end == std::string::npos ? footer.size() : end) - start);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (const std::size_t comment = text.find("  #"); comment != std::string_view::npos) {
      text = text.substr(0, comment);
    }
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (!text.empty()) return std::string(text);
    line = end;
  }
  return {};
}

// The subcommand the user was giving when parsing stopped: the deepest one named.
const CLI::App* chosen(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return chosen(*sub);
  return &app;
}

}  // namespace

void add_version_flag(CLI::App& app, const std::string& program) {
  app.set_version_flag("--version", program + " (evring) " EVRING_VERSION,
                       "print the version and exit");
}

std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc,
                                      char** argv) {
  add_version_flag(app, program);
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: CLI11 prints it
    const CLI::App* where = chosen(app);
    const std::string who =
        where == &app ? program : program + " " + std::string(where->get_name());
    std::string message = e.what();
    const std::vector<const CLI::App*> choices = where->get_subcommands({});
    if (where->get_subcommands().empty() && !choices.empty() &&
        dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      message = "choose a command:";
      for (const CLI::App* sub : choices) message += " " + sub->get_name();
    }
    std::string text = fmt::format("{}: {}\n", who, message);
    if (const std::string example = first_example(*where); !example.empty()) {
      text += fmt::format("  e.g. {}\n", example);
    }
    text += fmt::format("  {} --help lists every flag\n", who);
    std::fputs(text.c_str(), stderr);
    return 2;
  }
}

const std::atomic<bool>& stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return g_stop;
}

int run_program(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
  } catch (const CLI::ValidationError& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: unexpected error: {}\n", program, e.what());
  }
  return 2;
}

}  // namespace evring::cli
