#include "ring/ring_transmitter.hpp"

#include <string>

#include "evring/error.hpp"

namespace evring {

void RingTransmitter::throw_payload_too_large(std::size_t bytes) const {
  throw Error(ErrorCode::invalid_argument,
              "payload of " + std::to_string(bytes) + " bytes exceeds the ring's maximum of " +
                  std::to_string(max_payload_) + " (raise --max-payload)");
}

void RingTransmitter::write_padding(std::uint64_t offset, std::uint64_t bytes) noexcept {
  if (bytes < sizeof(RecordHeader)) return;  // receivers skip a rest this short unannounced
  const RecordHeader padding{static_cast<std::uint32_t>(bytes), kPaddingType, 0, 0};
  detail::copy_to_shared(data_ + offset, &padding, sizeof padding);
}

}  // namespace evring
