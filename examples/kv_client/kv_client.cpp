// kv_client NAME READER_ID KEY VALUE: puts KEY=VALUE through the writer of instance NAME
// (the kv domain), then asks the kv view of reader READER_ID for KEY as of that command's
// seq, so the answer includes the write (read-your-writes). Prints the reply's JSON.
#include <cstdio>
#include <string>

#include "evring/client.hpp"
#include "evring/error.hpp"
#include "evring/query_client.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s NAME READER_ID KEY VALUE\n", argv[0]);
    return 2;
  }
  const std::string instance = argv[1], reader_id = argv[2], key = argv[3], value = argv[4];
  try {
    evring::Client client = evring::Client::connect(instance);
    const evring::CommandReply reply = client.submit_text({"put", key, value});
    if (reply.rejected()) {
      std::fprintf(stderr, "rejected (%s): %s\n", std::string(to_string(reply.code)).c_str(),
                   reply.reason.c_str());
      return 1;
    }
    evring::QueryClient view = evring::QueryClient::connect(instance, reader_id);
    const evring::QueryReply answer = view.query({"get", key}, reply.seq);
    if (answer.stale || !answer.result) {
      std::fprintf(stderr, "no answer as of seq %llu: %s\n",
                   static_cast<unsigned long long>(reply.seq), answer.raw.c_str());
      return 1;
    }
    std::printf("seq %llu: %s\n", static_cast<unsigned long long>(reply.seq),
                answer.result->c_str());
    return 0;
  } catch (const evring::Error& e) {
    std::fprintf(stderr, "kv_client: %s\n", e.what());
    return 1;
  }
}
