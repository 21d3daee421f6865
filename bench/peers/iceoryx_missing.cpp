// Built instead of iceoryx_peer.cpp when CMake found no iceoryx_posh: no iceoryx rows, and
// the line that says how to add them.
#include "evring/error.hpp"
#include "peer_trial.hpp"

namespace evring::bench {

std::vector<PeerVariant> iceoryx_variants() {
  return {};
}

std::string iceoryx_missing_note() {
  return "iceoryx: skipped, this evring-bench was built without it; add it with `apt install "
         "iceoryx libiceoryx-posh-dev libiceoryx-hoofs-dev` (or `make bench`, which installs "
         "them), then rebuild";
}

std::unique_ptr<IceoryxDaemon> start_iceoryx_daemon() {
  throw Error(ErrorCode::invalid_argument, iceoryx_missing_note());
}

}  // namespace evring::bench
