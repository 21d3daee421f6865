// Queries to a reader's view over a Unix socket, and read-your-writes.
//
// Each evring-reader listens on <runtime folder>/<instance>.<reader id>.sock
// (query_socket_path) and answers each query between events, so the view needs no locks
// and the writer never waits.
//
// Wire format: one JSON object per line each way.
//   request  {"words": ["get", "alice"], "after": 42, "timeout_ms": 1000}
//            after and timeout_ms are optional (after 0: answer now)
//   reply    {"as_of_seq": N, "result": <the view's JSON>}
//            {"as_of_seq": N, "error": "..."}           the view refused the words
//            {"stale": true, "as_of_seq": N}            after was not reached in time
// Replies come in the order of the requests on a connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "evring/client.hpp"
#include "evring/command.hpp"

namespace evring {

// <runtime folder>/<instance>.<reader id>.sock
std::filesystem::path query_socket_path(const std::string& instance, const std::string& reader_id);

struct QueryReply {
  bool stale = false;
  std::uint64_t as_of_seq = 0;
  std::optional<std::string> result;  // the view's JSON, as text
  std::optional<std::string> error;
  std::string raw;  // the whole reply line
};

class QueryClient {
 public:
  // Throws Error(no_instance) "instance N has no reader with id R" (listing the live
  // readers of the instance from its registry when there is one) when nothing listens.
  static QueryClient connect(const std::string& instance, const std::string& reader_id);
  QueryClient(QueryClient&&) noexcept;
  QueryClient& operator=(QueryClient&&) noexcept;
  ~QueryClient();

  // Waits for the reply; with after_seq, the reader answers once its view has applied
  // that seq, or {"stale": true} after `timeout`. Throws Error(io) if the reader goes away.
  QueryReply query(std::span<const std::string_view> words, std::uint64_t after_seq = 0,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  QueryReply query(std::initializer_list<std::string_view> words, std::uint64_t after_seq = 0,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  struct State;
  explicit QueryClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Read-your-writes for a program that writes then reads: remembers the seq of its last
// accepted (or duplicate) command and asks queries with after = that seq.
class Session {
 public:
  Session(Client commands, QueryClient queries) noexcept;
  CommandReply submit_text(std::span<const std::string_view> words,
                           std::string_view command_id = {});
  CommandReply submit_text(std::initializer_list<std::string_view> words,
                           std::string_view command_id = {});
  QueryReply query(std::span<const std::string_view> words,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  QueryReply query(std::initializer_list<std::string_view> words,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::uint64_t last_seq() const noexcept { return last_seq_; }

 private:
  Client commands_;
  QueryClient queries_;
  std::uint64_t last_seq_ = 0;
};

}  // namespace evring
