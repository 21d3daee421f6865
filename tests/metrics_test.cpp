// evring stat --serve as Prometheus scrapes it: /metrics of a real writer and two readers
// through a strict checker of the text exposition format written here (and promtool check
// metrics when it is installed), the values after known commands and queries, the server's
// error paths and ends, and the Grafana dashboard's expressions against a scrape.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evring/client.hpp"
#include "evring/clock.hpp"
#include "evring/query_client.hpp"
#include "net/fd.hpp"
#include "writer_process_support.hpp"

namespace evring {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// ---- a strict reader of the text exposition format (version 0.0.4) ----------------------

struct Sample {
  std::string name;  // as written: a histogram's with its _bucket, _sum or _count
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Family {
  std::string type;
  bool helped = false;
};

struct Exposition {
  std::map<std::string, Family> families;
  std::vector<Sample> samples;
  std::vector<std::string> problems;  // empty: the text is valid

  // The value of the one sample `name` whose labels include `having`; nullopt if none.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& having) const {
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [key, wanted] : having) {
        const auto it = s.labels.find(key);
        match = match && it != s.labels.end() && it->second == wanted;
      }
      if (match) return s.value;
    }
    return std::nullopt;
  }
};

const std::regex kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");

// The family a sample belongs to: a histogram's suffixes name their family.
std::string family_of(const std::string& sample, const std::map<std::string, Family>& families) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.ends_with(s)) {
      const std::string base = sample.substr(0, sample.size() - s.size());
      const auto it = families.find(base);
      if (it != families.end() && it->second.type == "histogram") return base;
    }
  }
  return sample;
}

bool parse_value(const std::string& text, double& out) {
  if (text == "+Inf" || text == "-Inf" || text == "NaN") {
    out = text == "NaN" ? NAN : (text[0] == '-' ? -INFINITY : INFINITY);
    return true;
  }
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// {a="x",b="y\"z"} at text[at]; advances `at` past it. False on a syntax error.
bool parse_labels(const std::string& text, std::size_t& at,
                  std::map<std::string, std::string>& labels, std::string& why) {
  ++at;  // '{'
  while (at < text.size() && text[at] != '}') {
    const std::size_t eq = text.find('=', at);
    if (eq == std::string::npos) return why = "label without =", false;
    const std::string name = text.substr(at, eq - at);
    if (!std::regex_match(name, kLabelName) || name.starts_with("__")) {
      return why = "bad label name '" + name + "'", false;
    }
    if (eq + 1 >= text.size() || text[eq + 1] != '"') return why = "label value not quoted", false;
    std::string value;
    std::size_t i = eq + 2;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\') {
        if (++i >= text.size()) break;
        if (text[i] == 'n') {
          value += '\n';
        } else if (text[i] == '\\' || text[i] == '"') {
          value += text[i];
        } else {
          return why = "bad escape in a label value", false;
        }
      } else {
        value += text[i];
      }
    }
    if (i >= text.size()) return why = "unterminated label value", false;
    if (!labels.emplace(name, value).second) return why = "label " + name + " twice", false;
    at = i + 1;
    if (at < text.size() && text[at] == ',') ++at;
  }
  if (at >= text.size()) return why = "unterminated label set", false;
  ++at;  // '}'
  return true;
}

std::string series_key(const Sample& s) {
  std::string key = s.name + "{";
  for (const auto& [k, v] : s.labels) key += k + "=" + v + ",";
  return key + "}";
}

// Counters end in _total; a histogram's buckets have le, ascend, are cumulative, end at +Inf
// equal to _count, and come with _sum.
void check_families(Exposition& e) {
  for (const auto& [name, family] : e.families) {
    if (family.type == "counter" && !name.ends_with("_total")) {
      e.problems.push_back("counter " + name + " does not end in _total");
    }
    if (!name.starts_with("evring_")) e.problems.push_back(name + " lacks the evring_ prefix");
  }
  // Per histogram series (labels without le): buckets in order of appearance.
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;
  std::map<std::string, double> counts;
  std::set<std::string> sums;
  for (const Sample& s : e.samples) {
    const std::string family = family_of(s.name, e.families);
    if (e.families[family].type != "histogram") continue;
    std::map<std::string, std::string> base = s.labels;
    base.erase("le");
    const std::string key = series_key(Sample{family, base, 0});
    if (s.name == family + "_bucket") {
      const auto le = s.labels.find("le");
      double bound = 0;
      if (le == s.labels.end() || !parse_value(le->second, bound)) {
        e.problems.push_back("bucket without a numeric le: " + key);
        continue;
      }
      buckets[key].emplace_back(bound, s.value);
    } else if (s.name == family + "_count") {
      counts[key] = s.value;
    } else if (s.name == family + "_sum") {
      sums.insert(key);
    } else {
      e.problems.push_back("histogram " + family + " has a plain sample " + s.name);
    }
  }
  for (const auto& [key, list] : buckets) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      if (!(list[i].first > list[i - 1].first)) e.problems.push_back("le not ascending: " + key);
      if (list[i].second < list[i - 1].second) e.problems.push_back("not cumulative: " + key);
    }
    if (list.empty() || !std::isinf(list.back().first)) {
      e.problems.push_back("no +Inf bucket: " + key);
    } else if (!counts.count(key) || counts[key] != list.back().second) {
      e.problems.push_back("+Inf bucket is not _count: " + key);
    }
    if (!sums.count(key)) e.problems.push_back("no _sum: " + key);
  }
}

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  std::set<std::string> sampled_families;  // whose samples have begun
  std::string current;                     // the family whose samples are being read
  std::set<std::string> series;
  std::istringstream in(text);
  int number = 0;
  if (!text.empty() && text.back() != '\n') e.problems.push_back("does not end in a newline");
  for (std::string line; std::getline(in, line);) {
    ++number;
    const std::string where = "line " + std::to_string(number) + " (" + line + "): ";
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      const std::size_t space = line.find(' ', 7);
      const std::string name = line.substr(7, space == std::string::npos ? space : space - 7);
      if (!std::regex_match(name, kMetricName)) e.problems.push_back(where + "bad name");
      if (sampled_families.count(name)) {
        e.problems.push_back(where + "HELP or TYPE after the family's samples");
      }
      Family& family = e.families[name];
      if (help) {
        if (family.helped) e.problems.push_back(where + "HELP twice");
        if (space == std::string::npos) e.problems.push_back(where + "HELP without text");
        family.helped = true;
      } else {
        if (!family.type.empty()) e.problems.push_back(where + "TYPE twice");
        family.type = space == std::string::npos ? "" : line.substr(space + 1);
        static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary",
                                                  "untyped"};
        if (!kTypes.count(family.type)) e.problems.push_back(where + "unknown type");
      }
      continue;
    }
    if (line.starts_with("#")) continue;  // a comment
    Sample s;
    std::size_t at = 0;
    while (at < line.size() && line[at] != '{' && line[at] != ' ') ++at;
    s.name = line.substr(0, at);
    if (!std::regex_match(s.name, kMetricName)) e.problems.push_back(where + "bad metric name");
    std::string why;
    if (at < line.size() && line[at] == '{' && !parse_labels(line, at, s.labels, why)) {
      e.problems.push_back(where + why);
      continue;
    }
    if (at >= line.size() || line[at] != ' ') {
      e.problems.push_back(where + "no value");
      continue;
    }
    const std::string rest = line.substr(at + 1);
    const std::string value_text = rest.substr(0, rest.find(' '));  // a timestamp may follow
    if (!parse_value(value_text, s.value)) e.problems.push_back(where + "value does not parse");
    const std::string family = family_of(s.name, e.families);
    const auto it = e.families.find(family);
    if (it == e.families.end() || it->second.type.empty() || !it->second.helped) {
      e.problems.push_back(where + "sample before its family's HELP and TYPE");
    }
    if (family != current && sampled_families.count(family)) {
      e.problems.push_back(where + "the family's samples are not together");
    }
    current = family;
    sampled_families.insert(family);
    if (!series.insert(series_key(s)).second) e.problems.push_back(where + "duplicate series");
    e.samples.push_back(std::move(s));
  }
  check_families(e);
  return e;
}

// The checker itself: each kind of mistake is found (else a scrape passing it proves nothing).
TEST(ExpositionChecker, FindsEachKindOfMistake) {
  const std::string good =
      "# HELP evring_a_total A.\n# TYPE evring_a_total counter\nevring_a_total{x=\"1\"} 3\n"
      "# HELP evring_h H.\n# TYPE evring_h histogram\n"
      "evring_h_bucket{le=\"0.1\"} 1\nevring_h_bucket{le=\"+Inf\"} 2\n"
      "evring_h_sum 0.5\nevring_h_count 2\n";
  EXPECT_TRUE(parse_exposition(good).problems.empty());
  const std::vector<std::pair<std::string, std::string>> bad{
      {"no TYPE", "# HELP evring_a A.\nevring_a 1\n"},
      {"counter without _total", "# HELP evring_a A.\n# TYPE evring_a counter\nevring_a 1\n"},
      {"TYPE twice",
       "# HELP evring_a A.\n# TYPE evring_a gauge\n# TYPE evring_a gauge\nevring_a 1\n"},
      {"duplicate series",
       "# HELP evring_a A.\n# TYPE evring_a gauge\nevring_a{x=\"1\"} 1\nevring_a{x=\"1\"} 2\n"},
      {"value", "# HELP evring_a A.\n# TYPE evring_a gauge\nevring_a 1,5\n"},
      {"label name", "# HELP evring_a A.\n# TYPE evring_a gauge\nevring_a{1x=\"1\"} 1\n"},
      {"unquoted", "# HELP evring_a A.\n# TYPE evring_a gauge\nevring_a{x=1} 1\n"},
      {"apart",
       "# HELP evring_a A.\n# TYPE evring_a gauge\n# HELP evring_b B.\n# TYPE evring_b gauge\n"
       "evring_a{x=\"1\"} 1\nevring_b 1\nevring_a{x=\"2\"} 1\n"},
      {"not cumulative",
       "# HELP evring_h H.\n# TYPE evring_h histogram\nevring_h_bucket{le=\"0.1\"} 3\n"
       "evring_h_bucket{le=\"+Inf\"} 2\nevring_h_sum 1\nevring_h_count 2\n"},
      {"+Inf not count",
       "# HELP evring_h H.\n# TYPE evring_h histogram\nevring_h_bucket{le=\"+Inf\"} 2\n"
       "evring_h_sum 1\nevring_h_count 3\n"},
      {"no +Inf",
       "# HELP evring_h H.\n# TYPE evring_h histogram\nevring_h_bucket{le=\"1\"} 2\n"
       "evring_h_sum 1\nevring_h_count 2\n"},
      {"descending le",
       "# HELP evring_h H.\n# TYPE evring_h histogram\nevring_h_bucket{le=\"1\"} 1\n"
       "evring_h_bucket{le=\"0.1\"} 1\nevring_h_bucket{le=\"+Inf\"} 1\nevring_h_sum 1\n"
       "evring_h_count 1\n"},
      {"no prefix", "# HELP a A.\n# TYPE a gauge\na 1\n"},
  };
  for (const auto& [what, text] : bad) {
    EXPECT_FALSE(parse_exposition(text).problems.empty()) << what << " not found in:\n" << text;
  }
}

// ---- a raw HTTP client ----------------------------------------------------------------------

struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

net::Fd connect_to(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return net::Fd();
  return fd;
}

// Sends `request` as is and reads the reply to its end (the server closes), within 10 s.
HttpReply http_exchange(const std::string& address, const std::string& request) {
  HttpReply reply;
  net::Fd fd = connect_to(address);
  if (!fd.valid()) return reply;
  ::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
  std::string all;
  const std::int64_t deadline = monotonic_ns() + 10'000'000'000;
  char buffer[4096];
  while (monotonic_ns() < deadline) {
    pollfd one{fd.get(), POLLIN, 0};
    if (::poll(&one, 1, 100) <= 0) continue;
    const ssize_t got = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (got <= 0) break;
    all.append(buffer, static_cast<std::size_t>(got));
  }
  const std::size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12) return reply;
  reply.head = all.substr(0, end);
  reply.body = all.substr(end + 4);
  reply.status = std::atoi(all.c_str() + 9);  // "HTTP/1.1 200"
  return reply;
}

HttpReply get(const std::string& address, const std::string& path = "/metrics") {
  return http_exchange(address, "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
}

// ---- the processes ----------------------------------------------------------------------------

// Where `evring stat --serve` said it listens, in its stdout `out`; empty until it did.
std::string served_address(const std::filesystem::path& out) {
  const std::string text = test::read_file(out);
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(R"(http://([0-9.]+:[0-9]+)/metrics)"))) return {};
  return match[1].str();
}

// evring stat --name N --serve 127.0.0.1:0, ready once it printed where it listens.
class MetricsServer : public test::ServiceProcess {
 public:
  MetricsServer(const std::string& instance, const std::filesystem::path& dir)
      : ServiceProcess(
            "evring", dir, "stat-serve-" + instance,
            {"stat", "--name", instance, "--serve", "127.0.0.1:0"},
            [out = out_path(dir, instance)](pid_t) { return !served_address(out).empty(); }),
        address_(served_address(out_path(dir, instance))) {}
  const std::string& address() const { return address_; }

 private:
  static std::filesystem::path out_path(const std::filesystem::path& dir,
                                        const std::string& instance) {
    return dir / ("stat-serve-" + instance + ".out");
  }
  std::string address_;
};

class MetricsTest : public test::ProcessTest {
 protected:
  MetricsTest() : ProcessTest("metrics") {}

  test::ToolResult evring(std::vector<std::string> args) const {
    return test::run_tool("evring", args, dir(), 30s);
  }

  // A scrape that must succeed and pass the checker.
  Exposition scrape(const MetricsServer& server) const {
    const HttpReply reply = get(server.address());
    EXPECT_EQ(reply.status, 200) << reply.head << reply.body;
    EXPECT_THAT(reply.head, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    Exposition e = parse_exposition(reply.body);
    for (const std::string& problem : e.problems) ADD_FAILURE() << problem;
    if (!e.problems.empty()) ADD_FAILURE() << reply.body;
    return e;
  }

  // Scrapes until `done` holds for a scrape (the counters move at heartbeats, ~100 ms).
  Exposition scrape_until(const MetricsServer& server,
                          const std::function<bool(const Exposition&)>& done) const {
    Exposition last;
    test::wait_until(
        [&] {
          last = scrape(server);
          return done(last) || !last.problems.empty();
        },
        10s);
    return last;
  }

  // promtool check metrics, when installed: what it says, empty if it is content.
  std::string promtool_problems(const std::string& text) const {
    if (std::system("command -v promtool > /dev/null 2>&1") != 0) return {};
    const std::filesystem::path file = dir() / "scrape.prom";
    std::ofstream(file) << text;
    const test::ToolResult result =
        test::run_tool("/bin/sh", {"-c", "promtool check metrics < " + file.string()}, dir());
    return result.exit_code == 0 ? std::string() : result.out + result.err;
  }
};

std::uint64_t submit(Client& client, const std::vector<std::string>& words, bool accepted = true) {
  const std::vector<std::string_view> views(words.begin(), words.end());
  const CommandReply reply = client.submit_text(views);
  EXPECT_EQ(reply.accepted(), accepted) << reply.reason;
  return reply.seq;
}

TEST_F(MetricsTest, ServedMetricsAreValidAndCountCommandsQueriesAndLag) {
  const std::string instance = test::unique_instance("metrics-values");
  test::InstanceCleanup cleanup(instance);
  test::WriterProcess writer(instance, dir(), {"--domain", "kv", "--durability", "sync"});
  const std::vector<std::string> view{"--view", "kv", "--wait", "block"};
  test::ReaderProcess asked(instance, "asked", dir(), view);
  test::ReaderProcess idle(instance, "idle", dir(), view);
  MetricsServer server(instance, dir());

  Client client = Client::connect(instance);
  for (int i = 0; i < 5; ++i) submit(client, {"put", "k" + std::to_string(i), "v"});
  submit(client, {"cas", "k0", "7", "x"}, false);  // version mismatch: rejected by the rule
  submit(client, {"cas", "k1", "9", "x"}, false);
  submit(client, {"frobnicate"}, false);  // malformed: rejected too
  const CommandReply first = client.submit_text({"put", "once", "1"}, "c1");
  const CommandReply again = client.submit_text({"put", "once", "1"}, "c1");
  ASSERT_TRUE(first.accepted()) << first.reason;
  ASSERT_EQ(again.status, ReplyStatus::duplicate);
  const std::uint64_t head = first.seq;
  ASSERT_EQ(head, 6u);

  const std::map<std::string, std::string> inst{{"instance", instance}};
  const auto reader = [&](const std::string& id, std::map<std::string, std::string> more = {}) {
    more["instance"] = instance;
    more["reader"] = id;
    more["view"] = "kv";
    return more;
  };
  const auto queries = [&](const Exposition& x, const std::string& id, const char* via) {
    return x.value("evring_reader_queries_total", reader(id, {{"via", via}})).value_or(-1);
  };
  // The ready checks asked each reader one query already, by whichever path was up first.
  const Exposition before = scrape_until(server, [&](const Exposition& x) {
    return queries(x, "asked", "segment") + queries(x, "asked", "socket") == 1 &&
           queries(x, "idle", "segment") + queries(x, "idle", "socket") == 1;
  });
  QueryClient by_segment = QueryClient::connect(instance, "asked");
  ASSERT_TRUE(by_segment.shared_memory());
  for (int i = 0; i < 6; ++i) ASSERT_FALSE(by_segment.query({"get", "k1"}, head, 10s).stale);
  QueryClient by_socket = QueryClient::connect(instance, "asked", QueryPath::socket);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(by_socket.query({"count"}, head, 10s).stale);
  ASSERT_FALSE(QueryClient::connect(instance, "idle").query({"count"}, head, 10s).stale);

  const double asked_segment = queries(before, "asked", "segment") + 6;
  const double asked_socket = queries(before, "asked", "socket") + 3;
  const double idle_segment = queries(before, "idle", "segment") + 1;
  const Exposition e = scrape_until(server, [&](const Exposition& x) {
    return x.value("evring_writer_commands_total", {{"outcome", "duplicate"}}) == 1.0 &&
           queries(x, "asked", "segment") == asked_segment &&
           queries(x, "asked", "socket") == asked_socket &&
           queries(x, "idle", "segment") == idle_segment;
  });
  EXPECT_EQ(e.value("evring_writer_up", inst), 1.0);
  EXPECT_EQ(e.value("evring_writer_head_seq", inst), 6.0);
  EXPECT_EQ(e.value("evring_writer_events_total", inst), 6.0);
  EXPECT_EQ(e.value("evring_writer_commands_total", {{"outcome", "accepted"}}), 6.0);
  EXPECT_EQ(e.value("evring_writer_commands_total", {{"outcome", "rejected"}}), 3.0);
  EXPECT_EQ(e.value("evring_writer_commands_total", {{"outcome", "duplicate"}}), 1.0);
  EXPECT_EQ(e.value("evring_writer_commands_total", {{"outcome", "error"}}), 0.0);
  // sync durability: at least one fdatasync per accepted command's group.
  EXPECT_GE(e.value("evring_journal_syncs_total", inst).value_or(0), 1.0);
  EXPECT_GT(e.value("evring_journal_sync_seconds_total", inst).value_or(0), 0.0);
  EXPECT_GE(e.value("evring_journal_written_bytes_total", inst).value_or(0), 6 * 32.0);
  for (const char* id : {"asked", "idle"}) {
    EXPECT_EQ(e.value("evring_reader_up", reader(id)), 1.0) << id;
    EXPECT_EQ(e.value("evring_reader_position_seq", reader(id)), 6.0) << id;
    EXPECT_EQ(e.value("evring_reader_lag_events", reader(id)), 0.0) << id;
    EXPECT_EQ(e.value("evring_reader_lapped_total", reader(id)), 0.0) << id;
  }
  // The ready check, 6 through the segment, 3 on the socket; the histogram counts them all.
  EXPECT_EQ(queries(e, "asked", "segment"), asked_segment);
  EXPECT_EQ(queries(e, "asked", "socket"), asked_socket);
  EXPECT_EQ(e.value("evring_reader_query_duration_seconds_count", reader("asked")), 10.0);
  EXPECT_EQ(
      e.value("evring_reader_query_duration_seconds_bucket", reader("asked", {{"le", "+Inf"}})),
      10.0);
  EXPECT_GT(e.value("evring_reader_query_duration_seconds_sum", reader("asked")).value_or(0), 0.0);
  EXPECT_EQ(e.value("evring_reader_query_duration_seconds_count", reader("idle")), 2.0);

  // A stopped reader lags by what was published since, in events and in time.
  idle.signal(SIGSTOP);
  for (int i = 0; i < 4; ++i) submit(client, {"put", "late" + std::to_string(i), "v"});
  const Exposition lagging = scrape_until(server, [&](const Exposition& x) {
    return x.value("evring_reader_lag_events", reader("idle")) == 4.0 &&
           x.value("evring_reader_lag_events", reader("asked")) == 0.0;
  });
  EXPECT_EQ(lagging.value("evring_reader_lag_events", reader("idle")), 4.0);
  EXPECT_GT(lagging.value("evring_reader_lag_seconds", reader("idle")).value_or(0), 0.0);
  EXPECT_EQ(lagging.value("evring_reader_lag_seconds", reader("asked")), 0.0);
  idle.signal(SIGCONT);

  const HttpReply raw = get(server.address());
  EXPECT_EQ(promtool_problems(raw.body), "");
  EXPECT_EQ(server.stop(), 0) << "SIGTERM ends the server cleanly";
}

TEST_F(MetricsTest, TheServerAnswersBadRequestsAndEndsCleanly) {
  const std::string instance = test::unique_instance("metrics-http");
  test::InstanceCleanup cleanup(instance);
  // Not running: a scrape says the writer is down, it does not fail.
  MetricsServer server(instance, dir());
  const Exposition down = scrape(server);
  EXPECT_EQ(down.value("evring_writer_up", {{"instance", instance}}), 0.0);

  EXPECT_EQ(get(server.address(), "/").status, 404);
  EXPECT_EQ(get(server.address(), "/metrics/x").status, 404);
  EXPECT_EQ(get(server.address(), "/metrics?name[]=up").status, 200) << "a query string is fine";
  const HttpReply post = http_exchange(server.address(), "POST /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.head, HasSubstr("Allow: GET, HEAD"));
  EXPECT_EQ(http_exchange(server.address(), "hello\r\n\r\n").status, 400);
  EXPECT_EQ(http_exchange(server.address(), "GET metrics HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(http_exchange(server.address(),
                          "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n")
                .status,
            431);
  const HttpReply head = http_exchange(server.address(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_THAT(head.head, HasSubstr("Content-Length: "));
  EXPECT_EQ(head.body, "") << "HEAD: no body";

  // A client that connects and sends nothing holds its own connection only.
  std::vector<net::Fd> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(connect_to(server.address()));
  const std::int64_t start = monotonic_ns();
  EXPECT_EQ(get(server.address()).status, 200);
  EXPECT_LT(monotonic_ns() - start, 2'000'000'000) << "a scrape waited for silent clients";
  // Concurrent scrapes all get whole replies.
  std::vector<std::future<HttpReply>> scrapes;
  for (int i = 0; i < 8; ++i) {
    scrapes.push_back(std::async(std::launch::async, [&] { return get(server.address()); }));
  }
  for (auto& scrape : scrapes) {
    const HttpReply reply = scrape.get();
    EXPECT_EQ(reply.status, 200);
    EXPECT_TRUE(parse_exposition(reply.body).problems.empty()) << reply.body;
  }

  // The same port again: a clear error, exit 2.
  const test::ToolResult taken = evring({"stat", "--name", instance, "--serve", server.address()});
  EXPECT_EQ(taken.exit_code, 2);
  EXPECT_THAT(taken.err, HasSubstr("already in use"));
  for (const std::string bad :
       {"127.0.0.1", "127.0.0.1:99999", "nonsense.invalid:80", "[::1:80", "1.2.3:x"}) {
    const test::ToolResult refused = evring({"stat", "--name", instance, "--serve", bad});
    EXPECT_EQ(refused.exit_code, 2) << bad;
    EXPECT_THAT(refused.err, HasSubstr("HOST:PORT")) << bad << ": " << refused.err;
  }
  const test::ToolResult both =
      evring({"stat", "--name", instance, "--serve", "127.0.0.1:0", "--watch"});
  EXPECT_EQ(both.exit_code, 2) << both.err;

  silent.clear();
  server.signal(SIGINT);
  const std::optional<int> status = [&] {
    std::optional<int> s;
    test::wait_until([&] { return (s = server.poll_exit()).has_value(); }, 10s);
    return s;
  }();
  ASSERT_TRUE(status.has_value()) << "SIGINT did not end the server";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// Past 16 connections at once, one more is told 503 at once; a client that never sends its
// request is told 408 after 5 s and closed.
TEST_F(MetricsTest, TheServerCapsConnectionsAndDropsSilentClients) {
  const std::string instance = test::unique_instance("metrics-cap");
  test::InstanceCleanup cleanup(instance);
  MetricsServer server(instance, dir());
  std::vector<net::Fd> silent;
  for (int i = 0; i < 16; ++i) silent.push_back(connect_to(server.address()));
  // Accepted in the order they connected: this one comes after the 16.
  EXPECT_EQ(get(server.address()).status, 503);
  silent.pop_back();  // a thread frees up once its client has gone
  EXPECT_TRUE(test::wait_until([&] { return get(server.address()).status == 200; }, 10s));

  const std::int64_t start = monotonic_ns();
  std::string said;
  char buffer[512];
  for (;;) {
    pollfd one{silent.front().get(), POLLIN, 0};
    if (::poll(&one, 1, 10'000) <= 0) break;
    const ssize_t got = ::recv(silent.front().get(), buffer, sizeof buffer, 0);
    if (got <= 0) break;
    said.append(buffer, static_cast<std::size_t>(got));
  }
  const std::int64_t waited = monotonic_ns() - start;
  EXPECT_THAT(said, HasSubstr("HTTP/1.1 408"));
  EXPECT_GT(waited, 3'000'000'000) << "408 before the 5 s deadline";
  EXPECT_LT(waited, 9'000'000'000) << "408 long after the 5 s deadline";
  silent.clear();
  EXPECT_EQ(server.stop(), 0);
}

// Started before the writer, the server follows it: down, up, killed, restarted, stopped.
TEST_F(MetricsTest, TheServerFollowsTheWriterThroughItsStartsAndEnds) {
  const std::string instance = test::unique_instance("metrics-writer");
  test::InstanceCleanup cleanup(instance);
  MetricsServer server(instance, dir());
  const std::map<std::string, std::string> inst{{"instance", instance}};
  EXPECT_EQ(scrape(server).value("evring_writer_up", inst), 0.0);

  test::WriterProcess writer(instance, dir(), {"--domain", "kv"});
  const auto up_is = [&](double up, double incarnation) {
    return [&, up, incarnation](const Exposition& e) {
      return e.value("evring_writer_up", inst) == up &&
             (incarnation == 0 || e.value("evring_writer_incarnation", inst) == incarnation);
    };
  };
  EXPECT_EQ(scrape_until(server, up_is(1, 0)).value("evring_writer_up", inst), 1.0);
  const double first = scrape(server).value("evring_writer_incarnation", inst).value_or(0);
  writer.kill9();  // its segments stay: a dead writer
  EXPECT_EQ(scrape_until(server, up_is(0, 0)).value("evring_writer_up", inst), 0.0);
  writer.restart();
  const Exposition again = scrape_until(server, up_is(1, first + 1));
  EXPECT_EQ(again.value("evring_writer_up", inst), 1.0);
  EXPECT_EQ(again.value("evring_writer_incarnation", inst), first + 1);
  EXPECT_EQ(writer.stop(), 0);  // a clean stop removes the segments: no instance
  EXPECT_EQ(scrape_until(server, up_is(0, 0)).value("evring_writer_up", inst), 0.0);
  EXPECT_EQ(server.stop(), 0);
}

// Every metric a panel of the Grafana dashboard asks for is one the server exports.
TEST_F(MetricsTest, TheDashboardAsksOnlyForExportedMetrics) {
  std::ifstream file(std::filesystem::path(EVRING_SOURCE_DIR) /
                     "contrib/grafana/evring-dashboard.json");
  ASSERT_TRUE(file) << "contrib/grafana/evring-dashboard.json";
  const nlohmann::json dashboard = nlohmann::json::parse(file);  // throws on invalid JSON

  const std::string instance = test::unique_instance("metrics-dash");
  test::InstanceCleanup cleanup(instance);
  test::WriterProcess writer(instance, dir(), {"--domain", "kv"});
  test::ReaderProcess reader(instance, "dash", dir(), {"--view", "kv", "--wait", "block"});
  MetricsServer server(instance, dir());
  const Exposition e = scrape(server);
  std::set<std::string> exported;
  for (const Sample& s : e.samples) exported.insert(s.name);

  std::set<std::string> variables;
  for (const nlohmann::json& variable : dashboard["templating"]["list"]) {
    variables.insert(variable["name"].get<std::string>());
    if (variable.contains("query") && variable["query"].is_string()) {
      const std::string query = variable["query"].get<std::string>();
      std::smatch name;
      if (std::regex_search(query, name, std::regex("evring_[a-z_]+"))) {
        EXPECT_TRUE(exported.count(name.str())) << "variable " << variable["name"] << ": " << query;
      }
    }
  }
  for (const char* wanted : {"datasource", "instance", "reader"}) {
    EXPECT_TRUE(variables.count(wanted)) << "no $" << wanted << " variable";
  }
  int expressions = 0;
  for (const nlohmann::json& panel : dashboard["panels"]) {
    if (!panel.contains("targets")) continue;
    for (const nlohmann::json& target : panel["targets"]) {
      const std::string expr = target["expr"].get<std::string>();
      ++expressions;
      const std::regex metric("evring_[a-z_]+");
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
           it != std::sregex_iterator(); ++it) {
        EXPECT_TRUE(exported.count(it->str()))
            << "panel \"" << panel["title"] << "\" asks for " << it->str() << ", not exported";
      }
    }
  }
  EXPECT_GE(expressions, 8);
}

}  // namespace
}  // namespace evring
